// Checks ledger entries in the browser, independently of the server's word: recomputes the
// canonical encoding documented in src/ledger/ledger.h, its Keccak-256, recovers the signer
// from the signature, and checks the hash chain and (once anchored) the inclusion proof.
import { keccak256, recoverAddress, getBytes, concat, toBeHex, zeroPadValue, getAddress } from 'ethers';

const KINDS = { deposit: 1, escrow: 2, reward: 3, refund: 4, withdrawal: 5, claim: 6, key_rotation: 7, pool: 8 };

function u64(n) { return zeroPadValue(toBeHex(BigInt(n)), 8); }
function str(s) {
  const b = new TextEncoder().encode(s ?? '');
  if (b.length > 128) throw new Error('a string field is longer than 128 bytes');
  return concat([zeroPadValue(toBeHex(b.length), 2), b]);
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
    str(e.debit), str(e.credit), str(refs.request), str(refs.contribution), str(refs.anchor), str(refs.tx),
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
