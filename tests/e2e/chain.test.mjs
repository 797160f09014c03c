// The money path end to end on a local EVM node, with ethers v6 wallets as the only clients of
// the chain: a researcher deposits tokens into the rewards contract, the deposit watcher
// credits the ledger, a request is funded, contributed to and released (rewards posted), the
// anchorer anchors, each contributor fetches its proof from GET /v1/claims/{address} and calls
// claim() itself: its token balance rises by exactly its reward; a second claim pays nothing;
// after another release and a new anchor it claims only the difference. The researcher
// withdraws unused funds (POST /v1/me/withdrawals) and claims them the same way. Entries carry
// their inclusion proof, `cohort verify --entry N --rpc URL` checks one against the chain, and
// the anchorer's solvency check holds.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ethers, Wallet } from 'ethers';
import { api } from './helpers.mjs';
import { signIn, consent, contribute, waitForStatus } from './market-helpers.mjs';
import { startChainStack, waitFor } from './chain-anvil.mjs';

const UNIT = 10n ** 18n;
const DEPOSIT = 100n * UNIT;
const REWARD = 3n * UNIT + 7n; // not a round number: any rounding would show
const WITHDRAW = 5n * UNIT;

let s, researcher, rtoken;
const contributors = [];
const claimedOnChain = new Map(); // address -> total the contract paid it in this test
const tokens = new Map(); // address -> its session: balances and claims are served to it alone

before(async () => {
  s = await startChainStack('coh_chain_e2e');
  [, researcher] = s.anvil.wallets(2); // dev account 1: ETH and 1,000,000 tokens from deploy.mjs
  rtoken = await signIn(s.srv.base, researcher);
  tokens.set(researcher.address, rtoken);
  assert.equal((await api(s.srv.base, 'PUT', '/v1/me/profile', { token: rtoken, json: { roles: ['researcher'] } })).status, 200);
  const funder = s.anvil.wallets(3)[2];
  for (let i = 0; i < 3; i++) {
    const w = Wallet.createRandom().connect(s.anvil.provider);
    await (await funder.sendTransaction({ to: w.address, value: ethers.parseEther('1') })).wait();
    const token = await signIn(s.srv.base, w);
    await api(s.srv.base, 'PUT', '/v1/me/profile', { token, json: { roles: ['contributor'], consent_profile: { purposes: ['chain-e2e'] } } });
    contributors.push({ w, token, age: 30 + i });
    tokens.set(w.address, token);
  }
});
after(async () => { await s?.stop(); });

// The contract's custom error a failed call reverted with ("NothingToClaim" ...).
async function revertOf(promise) {
  try {
    await promise;
  } catch (e) {
    const data = e.data ?? e.info?.error?.data;
    return (data && s.rewards.interface.parseError(data)?.name) ?? String(e.shortMessage ?? e.message);
  }
  return 'no revert';
}

const balance = async (addr) => (await api(s.srv.base, 'GET', `/v1/accounts/${addr}/balance`, { token: tokens.get(addr) })).body;

// A request funded from the researcher's available balance, contributed to by everyone, closed
// and released; returns the release.
async function release(who) {
  const created = await api(s.srv.base, 'POST', '/v1/requests', { token: rtoken, json: {
    title: 'chain e2e', purpose: 'chain-e2e',
    schema: { fields: [{ name: 'age', type: 'integer', min: 0, max: 120, role: 'quasi-identifier' },
                       { name: 'steps', type: 'integer', min: 0, max: 100000, role: 'quasi-identifier' }] },
    privacy: { mode: 'k-anonymity', k: 2 }, reward: REWARD.toString(),
    min_contributors: 2, max_contributors: 5, closes_at: new Date(Date.now() + 3600e3).toISOString(),
  } });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const req = created.body;
  for (const c of who) {
    assert.equal((await consent(s.srv.base, c.w, c.token, req.id)).status, 201);
    assert.equal((await contribute(s.srv.base, c.token, req, { age: c.age, steps: 1000 })).status, 201);
  }
  assert.equal((await api(s.srv.base, 'POST', `/v1/requests/${req.id}/close`, { token: rtoken })).status, 202);
  const done = await waitForStatus(s.srv.base, rtoken, req.id, ['released', 'failed']);
  assert.equal(done.status, 'released');
  return (await api(s.srv.base, 'GET', `/v1/requests/${req.id}/release`, { token: rtoken })).body;
}

// Waits until the effective anchor (its challenge period over) gives addr a leaf of
// `cumulative` and the chain's latest block agrees it is effective; returns the claim.
async function anchoredClaim(addr, cumulative) {
  return waitFor(`an anchor giving ${addr} ${cumulative}`, async () => {
    const r = await api(s.srv.base, 'GET', `/v1/claims/${addr}`, { token: tokens.get(addr) });
    return r.status === 200 && r.body.cumulative_amount === cumulative.toString() &&
      r.body.claims_root === await s.rewards.claimsRoot() ? r.body : null;
  }, 30000, 200);
}

// The wallet claims with what the API gave it; returns how much its token balance rose. A
// wallet whose proof went stale (a newer anchor landed in between) fetches it again.
async function claim(wallet, c) {
  const before = await s.token.balanceOf(wallet.address);
  let tx;
  try {
    tx = await s.rewards.connect(wallet).claim(c.address, c.cumulative_amount, c.proof);
  } catch (e) {
    const data = e.data ?? e.info?.error?.data;
    if (!data || s.rewards.interface.parseError(data)?.name !== 'InvalidProof') throw e;
    c = await anchoredClaim(c.address, BigInt(c.cumulative_amount));
    tx = await s.rewards.connect(wallet).claim(c.address, c.cumulative_amount, c.proof);
  }
  const rcpt = await tx.wait();
  assert.equal(rcpt.status, 1);
  const gained = (await s.token.balanceOf(wallet.address)) - before;
  claimedOnChain.set(wallet.address, (claimedOnChain.get(wallet.address) ?? 0n) + gained);
  return gained;
}

test('a deposit on chain is credited to the researcher once it is confirmed', async () => {
  const dev = s.token.connect(researcher);
  await (await dev.approve(await s.rewards.getAddress(), DEPOSIT)).wait();
  const rcpt = await (await s.rewards.connect(researcher).deposit(DEPOSIT)).wait();
  const b = await waitFor('the deposit credit', async () => {
    const v = await balance(researcher.address);
    return v.available === DEPOSIT.toString() ? v : null;
  });
  assert.equal(b.available, DEPOSIT.toString());
  const deps = (await api(s.srv.base, 'GET', `/v1/ledger/entries?kind=deposit&account=${researcher.address}`)).body.entries;
  assert.equal(deps.length, 1, 'credited once');
  assert.equal(deps[0].refs.tx, rcpt.hash);
  assert.equal(deps[0].debit, 'chain');
});

test('rewards are anchored and each contributor claims exactly its reward, once', async () => {
  const rel = await release(contributors);
  assert.equal(rel.included, contributors.length);
  for (const c of contributors) {
    assert.equal((await balance(c.w.address)).earned, REWARD.toString());
    const cl = await anchoredClaim(c.w.address, REWARD);
    // The balance the user sees agrees with the anchor: all of it claimable, none pending.
    const shown = await waitFor('the anchored balance', async () => {
      const v = await balance(c.w.address);
      return v.anchored === REWARD.toString() ? v : null;
    });
    assert.equal(shown.claimable, REWARD.toString());
    assert.equal(shown.pending, '0');
    assert.equal(cl.address, c.w.address.toLowerCase());
    assert.equal(cl.contract, (await s.rewards.getAddress()).toLowerCase());
    assert.equal(cl.claims_root, await s.rewards.claimsRoot(), 'the proof is against the root on chain');
    assert.equal(await claim(c.w, cl), REWARD, 'the balance rose by exactly the reward');
    // A second claim with the same proof pays nothing: the contract refuses it.
    const before = await s.token.balanceOf(c.w.address);
    assert.equal(await revertOf(s.rewards.connect(c.w).claim(cl.address, cl.cumulative_amount, cl.proof)), 'NothingToClaim');
    assert.equal(await s.token.balanceOf(c.w.address), before);
  }
  // The Claimed events come back to the ledger as claim entries (payable -> chain), once each.
  for (const c of contributors) {
    const b = await waitFor('the claim credit', async () => {
      const v = await balance(c.w.address);
      return v.claimed === REWARD.toString() ? v : null;
    });
    assert.equal(b.earned, REWARD.toString());
    assert.equal(b.claimable, '0', 'nothing left to claim once claimed');
    // A claim comes out of the pooled payable and names its address (public on chain anyway).
    const claims = (await api(s.srv.base, 'GET', '/v1/ledger/entries?kind=claim&limit=1000')).body.entries
      .filter((e) => e.refs?.address === c.w.address.toLowerCase());
    assert.equal(claims.length, 1);
    assert.equal(claims[0].amount, REWARD.toString());
  }
});

test('after more rewards and a new anchor a contributor claims only the difference', async () => {
  const two = contributors.slice(0, 2);
  const rel = await release(two);
  assert.equal(rel.included, 2);
  for (const c of two) {
    const cl = await anchoredClaim(c.w.address, 2n * REWARD);
    assert.equal(await claim(c.w, cl), REWARD, 'only the new reward is paid');
  }
  // The third contributor earned nothing new: its leaf is unchanged and it has nothing to claim.
  const third = await anchoredClaim(contributors[2].w.address, REWARD);
  assert.equal(await revertOf(s.rewards.connect(contributors[2].w).claim(third.address, third.cumulative_amount, third.proof)), 'NothingToClaim');
});

test('a researcher withdraws unused funds and claims them on chain', async () => {
  const url = '/v1/me/withdrawals';
  assert.equal((await api(s.srv.base, 'POST', url, { json: { amount: '1' } })).status, 401);
  const bad = await api(s.srv.base, 'POST', url, { token: rtoken, json: { amount: '1.5' }, headers: { 'Idempotency-Key': 'w1' } });
  assert.equal(bad.status, 422);
  assert.equal(bad.body.parameter, 'amount');
  const nokey = await api(s.srv.base, 'POST', url, { token: rtoken, json: { amount: '1' } });
  assert.equal(nokey.status, 422);
  assert.equal(nokey.body.parameter, 'idempotency_key');
  const avail = BigInt((await balance(researcher.address)).available);
  const short = await api(s.srv.base, 'POST', url, { token: rtoken, json: { amount: (avail + 1n).toString() }, headers: { 'Idempotency-Key': 'too-much' } });
  assert.equal(short.status, 402);
  assert.equal(short.type, 'application/problem+json');
  assert.equal(short.body.type, 'urn:cohort:problem:insufficient-funds');
  assert.equal(short.body.available, avail.toString());

  const w = await api(s.srv.base, 'POST', url, { token: rtoken, json: { amount: WITHDRAW.toString() }, headers: { 'Idempotency-Key': 'w-1' } });
  assert.equal(w.status, 201, JSON.stringify(w.body));
  assert.equal(w.body.kind, 'withdrawal');
  assert.equal(w.body.debit, `available:${researcher.address.toLowerCase()}`);
  assert.equal(w.body.credit, 'payable'); // the pooled payable: the credit is private
  // A retry (header or body key) returns the same entry; another amount under the key is 409.
  const again = await api(s.srv.base, 'POST', url, { token: rtoken, json: { amount: WITHDRAW.toString(), idempotency_key: 'w-1' } });
  assert.equal(again.status, 200);
  assert.equal(again.body.seq, w.body.seq);
  assert.equal((await api(s.srv.base, 'POST', url, { token: rtoken, json: { amount: '1' }, headers: { 'Idempotency-Key': 'w-1' } })).status, 409);
  const b = await balance(researcher.address);
  assert.equal(BigInt(b.available), avail - WITHDRAW);
  assert.equal(b.earned, WITHDRAW.toString());

  const cl = await anchoredClaim(researcher.address, WITHDRAW);
  assert.equal(await claim(researcher, cl), WITHDRAW);
});

test('an entry carries its inclusion proof and cohort verify checks it against the chain', async () => {
  const deps = (await api(s.srv.base, 'GET', `/v1/ledger/entries?kind=deposit`)).body.entries;
  const seq = deps[0].seq;
  const e = (await api(s.srv.base, 'GET', `/v1/ledger/entries/${seq}`)).body;
  assert.equal(e.anchor.status, 'confirmed');
  assert.ok(e.anchor.first_seq <= seq && seq <= e.anchor.last_seq);
  // Fold the proof as OpenZeppelin's MerkleProof does: it must give the anchored root.
  let h = e.hash;
  for (const p of e.inclusion_proof) {
    h = ethers.keccak256(Buffer.compare(Buffer.from(ethers.getBytes(h)), Buffer.from(ethers.getBytes(p))) < 0 ? ethers.concat([h, p]) : ethers.concat([p, h]));
  }
  assert.equal(h, e.anchor.ledger_root);
  const rcpt = await s.anvil.provider.getTransactionReceipt(e.anchor.tx_hash);
  const ev = rcpt.logs.map((l) => { try { return s.rewards.interface.parseLog(l); } catch { return null; } }).find((x) => x?.name === 'Anchored');
  assert.equal(ev.args.ledgerRoot, e.anchor.ledger_root);
  assert.equal(ev.args.lastSeq, BigInt(e.anchor.last_seq));

  const ok = await s.srv.cli(['verify', '--entry', String(seq), '--url', s.srv.base, '--rpc', s.anvil.url]);
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  assert.match(ok.stdout, /entry \d+ is in anchor \d+/);
  // Not yet anchored or unknown entries are reported, not passed.
  const head = (await api(s.srv.base, 'GET', '/v1/chain')).body.head.seq;
  const missing = await s.srv.cli(['verify', '--entry', String(head + 1000), '--url', s.srv.base, '--rpc', s.anvil.url]);
  assert.equal(missing.code, 1);
});

test('the contract stays solvent: balance = deposits - claims >= what anchors let be claimed', async () => {
  const paid = [...claimedOnChain.values()].reduce((a, b) => a + b, 0n);
  const held = await s.token.balanceOf(await s.rewards.getAddress());
  assert.equal(held, DEPOSIT - paid);
  const last = await waitFor('a solvency check', async () => {
    const a = (await api(s.srv.base, 'GET', '/v1/anchors?limit=500')).body.anchors;
    const checked = a.filter((x) => x.solvency);
    return checked.length ? checked : null;
  });
  for (const a of last) assert.equal(a.solvency.ok, true, JSON.stringify(a.solvency));
  // The "ok" line is an info line, written within 100 ms of the check: wait for it.
  await waitFor('the solvency line in the log', async () => /solvency ok after anchor/.test(s.srv.log()), 5000);
  assert.doesNotMatch(s.srv.log(), /SOLVENCY BROKEN/);
});
