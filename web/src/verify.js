// Checks ledger entries in the browser, independently of the server's word: recomputes the
// canonical encoding documented in src/ledger/ledger.h, its Keccak-256, recovers the signer
// from the signature, and checks the hash chain and (once anchored) the inclusion proof.
import { keccak256, recoverAddress, getBytes, concat, toBeHex, zeroPadValue, getAddress, AbiCoder } from 'ethers';

const KINDS = { deposit: 1, escrow: 2, reward: 3, refund: 4, withdrawal: 5, claim: 6, key_rotation: 7, pool: 8 };

function u64(n) { return zeroPadValue(toBeHex(BigInt(n)), 8); }
function str(s) {
  const b = new TextEncoder().encode(s ?? '');
  if (b.length > 128) throw new Error('a string field is longer than 128 bytes');
  return concat([zeroPadValue(toBeHex(b.length), 2), b]);
}

// The signed reference string behind refs.address (a wallet: claims, wave-1 rewards) or
// refs.credits {count, root} (a pooled reward's private credits, signed as "<count>:<root>");
// refs.contribution is the verbatim form of anything else (docs/API.md).
export function contributionRef(refs) {
  if (refs?.address) return refs.address;
  if (refs?.credits) return `${BigInt(refs.credits.count)}:${refs.credits.root}`;
  return refs?.contribution ?? '';
}

export function encodeEntry(e) {
  const kind = KINDS[e.kind];
  if (!kind) throw new Error(`unknown kind ${e.kind}`);
  const refs = e.refs ?? {};
  return concat([
    new TextEncoder().encode('COHLEDG1'),
    u64(e.seq),
    new Uint8Array([kind]),
    u64(BigInt.asUintN(64, BigInt(e.created_us))),
    zeroPadValue(toBeHex(BigInt(e.amount)), 32),
    e.prev_hash,
    str(e.debit), str(e.credit), str(refs.request), str(contributionRef(refs)), str(refs.anchor), str(refs.tx),
    str(e.idempotency_key),
  ]);
}

function hashPair(a, b) {
  return keccak256(a.toLowerCase() <= b.toLowerCase() ? concat([a, b]) : concat([b, a]));
}

// -> {ok, problems: [words], signer}
export function verifyEntry(e, { publishedSigner, previous, root, proof } = {}) {
  const problems = [];
  let signer = null;
  try {
    const hash = keccak256(encodeEntry(e));
    if (hash !== e.hash.toLowerCase()) problems.push(`its contents hash to ${hash}, not to the stated ${e.hash}: the entry was altered`);
    const sig = getBytes(e.signature);
    signer = recoverAddress(e.hash, { r: e.signature.slice(0, 66), s: `0x${e.signature.slice(66, 130)}`, v: sig[64] });
    if (e.signer && signer !== getAddress(e.signer)) problems.push(`the signature recovers to ${signer}, not to the stated signer ${e.signer}`);
    if (publishedSigner && signer !== getAddress(publishedSigner) && e.kind !== 'key_rotation') {
      problems.push(`it was signed by ${signer}, which is not the ledger signer published at /v1/chain (${publishedSigner})`);
    }
    if (previous && previous.seq === e.seq - 1 && previous.hash !== e.prev_hash) problems.push(`its previous-hash does not match entry ${previous.seq}`);
    if (root && proof) {
      const got = proof.reduce((acc, p) => hashPair(acc, p), e.hash);
      if (got !== root.toLowerCase()) problems.push('its inclusion proof does not lead to the anchored ledger root');
    }
  } catch (err) {
    problems.push(`it could not be checked: ${err.message}`);
  }
  return { ok: problems.length === 0, problems, signer };
}

// ---- the public sums and one's own credits (docs/LEDGER.md) ----------------------------------
const coder = AbiCoder.defaultAbiCoder();

// A wave-2 reward entry's credits {count, root}, or null.
export function creditsRef(e) {
  const c = e.kind === 'reward' ? e.refs?.credits : null;
  return c ? { count: BigInt(c.count), root: c.root } : null;
}

// Over every entry from seq 1: each request's escrow = rewards + refund once refunded (rewards
// within it before), each pooled reward pays count x the request's reward (rewardOf(id) ->
// decimal string), and the balances add up to what the contract holds.
// -> {problems: [words], requests, pooled, contract, payable}
export async function checkSums(entries, rewardOf) {
  const problems = [];
  const req = new Map();
  const bal = new Map();
  const add = (acct, v) => bal.set(acct, (bal.get(acct) ?? 0n) + v);
  for (const e of entries) {
    const amt = BigInt(e.amount);
    add(e.credit, amt);
    add(e.debit, -amt);
    const id = e.refs?.request;
    if (id && ['escrow', 'reward', 'refund'].includes(e.kind)) {
      const r = req.get(id) ?? { escrow: 0n, reward: 0n, refund: null, pooled: [] };
      if (e.kind === 'escrow') r.escrow += amt;
      if (e.kind === 'reward') r.reward += amt;
      if (e.kind === 'refund') r.refund = (r.refund ?? 0n) + amt;
      const c = creditsRef(e);
      if (c) r.pooled.push({ seq: e.seq, count: c.count, amount: amt });
      req.set(id, r);
    }
  }
  let pooled = 0;
  for (const [id, r] of req) {
    const out = r.reward + (r.refund ?? 0n);
    if (r.refund !== null ? out !== r.escrow : out > r.escrow) problems.push(`request ${id} locked ${r.escrow} but paid out ${out}`);
    if (r.pooled.length) {
      const each = BigInt(await rewardOf(id));
      for (const p of r.pooled) {
        pooled++;
        if (p.amount !== p.count * each) problems.push(`reward entry ${p.seq} pays ${p.amount} for ${p.count} contributors of ${each} each`);
      }
    }
  }
  let held = 0n;
  for (const [acct, v] of bal) {
    if (acct === 'chain') continue;
    if (v < 0n) problems.push(`account ${acct} is below zero`);
    held += v;
  }
  const contract = -(bal.get('chain') ?? 0n);
  if (held !== contract) problems.push(`the accounts hold ${held} but the contract received ${contract}`);
  return { problems, requests: req.size, pooled, contract, payable: bal.get('payable') ?? 0n };
}

// One's own credit against its (separately verified) reward entry's root.
export function checkCredit(address, c, entry) {
  const ref = creditsRef(entry);
  if (!ref) return `entry ${c.seq} is not a pooled reward entry`;
  const leaf = keccak256(coder.encode(['address', 'uint256', 'bytes32'], [address, c.amount, c.salt]));
  const got = (c.proof ?? []).reduce((acc, p) => hashPair(acc, p), leaf);
  return got === ref.root ? null : `your credit of ${c.amount} at entry ${c.seq} does not prove against the root that entry publishes`;
}
