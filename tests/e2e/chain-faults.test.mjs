// Faults of the anchorer on a private anvil: a transaction stuck while mining is paused is
// replaced (same nonce, both fees up by at least 10%) and exactly one is mined; a reorg (anvil
// snapshot/revert) that drops a confirmed anchor makes the anchorer send it again; cohortd
// killed with SIGKILL after recording the signed transaction, or between sending and
// confirming, resumes without a second anchor for the batch and without a gap; a proof is served
// only once the proposal's challenge period is over.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Wallet } from 'ethers';
import { api } from './helpers.mjs';
import { signIn } from './market-helpers.mjs';
import { startChainStack, waitFor, proposalsSent } from './chain-anvil.mjs';

let s;
before(async () => { s = await startChainStack('coh_chain_faults'); });
after(async () => { await s?.stop(); });

const rpc = (m, p = []) => s.anvil.provider.send(m, p);
const anchors = async () => (await api(s.srv.base, 'GET', '/v1/anchors?limit=500')).body.anchors;

// Posts one ledger entry (an operator deposit on the local chain); returns its seq.
async function postEntry() {
  const r = await s.srv.cli(['ledger', 'deposit', '--address', Wallet.createRandom().address, '--amount', '5']);
  assert.equal(r.code, 0, r.stderr);
  return (await api(s.srv.base, 'GET', '/v1/chain')).body.head.seq;
}

const covering = async (seq) => (await anchors()).find((a) => a.first_seq <= seq && seq <= a.last_seq);

async function confirmed(seq, ms = 30000) {
  return waitFor(`a confirmed anchor of entry ${seq}`, async () => {
    const a = await covering(seq);
    return a?.status === 'confirmed' ? a : null;
  }, ms);
}

// The Anchored events on chain for a batch: exactly one when nothing was anchored twice.
async function anchoredEvents(lastSeq) {
  return s.rewards.queryFilter(s.rewards.filters.Anchored(lastSeq), 0, 'latest');
}

// No proposal in its challenge period (the anchorer proposes the next batch only then); blocks
// keep coming meanwhile (chain-anvil's clock) while automine is on.
const settled = () => waitFor('no proposal in its challenge period', async () => (await s.rewards.pending())[2] === 0n, 30000);

// Every batch is contiguous with the previous one: no gap, no overlap.
async function assertContiguous() {
  const all = await anchors();
  for (let i = 1; i < all.length; i++) assert.equal(all[i].first_seq, all[i - 1].last_seq + 1);
}

test('a stuck anchoring transaction is replaced by a fee bump and mined once', async () => {
  await s.restart({ COHORT_ANCHOR_STUCK_S: '1' });
  await settled();
  await rpc('evm_setAutomine', [false]);
  let seq, a;
  try { // mining comes back if the wait fails, so the tests after do not stall
    seq = await postEntry();
    a = await waitFor('a replacement transaction', async () => {
      const x = await covering(seq);
      return x?.transactions.length >= 2 ? x : null;
    }, 20000);
  } catch (e) {
    await rpc('evm_setAutomine', [true]);
    throw e;
  }
  const [first, second] = a.transactions;
  assert.equal(first.status, 'replaced');
  assert.equal(second.nonce, first.nonce, 'the replacement reuses the nonce');
  assert.ok(BigInt(second.max_fee_per_gas) * 10n >= BigInt(first.max_fee_per_gas) * 11n, 'max fee up >= 10%');
  assert.ok(BigInt(second.max_priority_fee_per_gas) * 10n >= BigInt(first.max_priority_fee_per_gas) * 11n, 'tip up >= 10%');
  assert.equal(await s.anvil.provider.getTransaction(first.tx_hash), null, 'the node dropped the replaced transaction');
  await rpc('evm_setAutomine', [true]);
  await rpc('evm_mine');
  const done = await confirmed(seq);
  const mined = done.transactions.filter((t) => t.status === 'mined');
  assert.equal(mined.length, 1);
  assert.equal(done.tx_hash, mined[0].tx_hash);
  assert.notEqual(done.tx_hash, first.tx_hash);
  assert.equal((await anchoredEvents(done.last_seq)).length, 1);
  assert.equal(await s.rewards.lastSeq(), BigInt(done.last_seq));
  assert.match(s.srv.log(), /replacing nonce/);
});

test('a reorg that drops a confirmed anchor makes the anchorer send it again', async () => {
  await s.restart({});
  // Let everything before settle, then fork the chain at this point.
  const before = await postEntry();
  await confirmed(before);
  const snap = await rpc('evm_snapshot');
  const seq = await postEntry();
  const a1 = await confirmed(seq);
  assert.equal(await s.rewards.lastSeq(), BigInt(a1.last_seq));
  assert.equal(await rpc('evm_revert', [snap]), true);
  assert.ok(await s.rewards.lastSeq() < BigInt(a1.last_seq), 'the reorg removed the anchor');
  const a2 = await waitFor('the anchor back on chain', async () => {
    const x = (await anchors()).find((y) => y.id === a1.id);
    return x.status === 'confirmed' && await s.rewards.lastSeq() >= BigInt(a1.last_seq) ? x : null;
  });
  assert.equal(a2.last_seq, a1.last_seq, 'the same batch');
  assert.equal((await anchors()).filter((x) => x.last_seq === a1.last_seq).length, 1, 'one anchor row for the batch');
  assert.equal((await anchoredEvents(a1.last_seq)).length, 1, 'anchored once on the surviving chain');
  assert.equal((await anchoredEvents(a1.last_seq))[0].args.ledgerRoot, a1.ledger_root);
  assert.match(s.srv.log(), /reorg/);
  await assertContiguous();
});

test('cohortd killed after recording the signed anchor resumes with the same transaction', async () => {
  await s.restart({});
  await confirmed(await postEntry());
  const signer = s.signer;
  const block0 = await s.anvil.provider.getBlockNumber() + 1;
  await s.restart({ COHORT_TEST_CRASH_AT: 'anchor-recorded' });
  const seq = await postEntry();
  await s.srv.exited(20000);
  assert.equal(await proposalsSent(s.anvil.provider, signer, block0), 0, 'nothing was broadcast');
  await s.restart({});
  const a = await confirmed(seq);
  assert.equal(a.transactions.length, 1, 'the recorded transaction was sent, not a new one');
  assert.equal(a.tx_hash, a.transactions[0].tx_hash);
  assert.equal(await proposalsSent(s.anvil.provider, signer, block0), 1, 'one proposal mined');
  assert.equal((await anchoredEvents(a.last_seq)).length, 1);
  await assertContiguous();
});

test('cohortd killed between sending and confirming resumes without a second anchor', async () => {
  await s.restart({});
  await confirmed(await postEntry());
  await settled();
  const block0 = await s.anvil.provider.getBlockNumber() + 1;
  await rpc('evm_setAutomine', [false]);
  let seq, sent;
  try { // mining comes back whatever happens, so a failure here does not stall the tests after
    seq = await postEntry();
    sent = await waitFor('the anchor sent', async () => {
      const x = await covering(seq);
      return x?.status === 'sent' && x.transactions.length === 1 &&
        await s.anvil.provider.getTransaction(x.transactions[0].tx_hash) ? x : null;
    });
    await s.srv.kill();
    await s.restart({});
    await new Promise((r) => setTimeout(r, 500)); // the new process polls the pending anchor
  } finally {
    await rpc('evm_setAutomine', [true]);
  }
  await rpc('evm_mine');
  const a = await confirmed(seq);
  assert.equal(a.id, sent.id);
  assert.equal(a.transactions.length, 1, 'no second transaction for the batch');
  assert.equal(a.tx_hash, sent.transactions[0].tx_hash);
  assert.equal(await proposalsSent(s.anvil.provider, s.signer, block0), 1, 'one proposal mined');
  assert.equal((await anchoredEvents(a.last_seq)).length, 1);
  // And the next batch follows without a gap.
  const next = await confirmed(await postEntry());
  assert.equal(next.first_seq, a.last_seq + 1);
  await assertContiguous();
});

// A reorg deeper than the confirmations under the deposit watcher: on the dropped branch
// researcher A deposits (mined again on the new branch, in another block at another log index)
// and researcher C deposits (never mined again); the new branch also has researcher B's deposit
// in a block below where the watcher had already scanned. The watcher must rewind to the fork:
// B credited (not missed), A credited once (not twice), C's credit reported as orphaned.
test('a reorg deeper than the confirmations: the deposit watcher rewinds, credits once, misses nothing', async () => {
  await s.restart({});
  const base = s.srv.base;
  const [, , , , , ra, rb, rc] = s.anvil.wallets(8);
  const UNIT = 10n ** 18n;
  const rewards = await s.rewards.getAddress();
  for (const w of [ra, rb, rc]) await (await s.token.connect(w).approve(rewards, 1000n * UNIT)).wait();
  const available = async (w) => BigInt((await api(base, 'GET', `/v1/accounts/${w.address}/balance`)).body.available);
  const events = async () => (await api(base, 'GET', '/v1/chain')).body.events;
  const [a0, b0, c0] = [await available(ra), await available(rb), await available(rc)];
  await waitFor('the watcher at the head', async () => (await events()).block >= await s.anvil.provider.getBlockNumber());
  const orphaned0 = (await events()).orphaned;
  const logFrom = s.srv.log().length;

  const snap = await rpc('evm_snapshot');
  // A's deposit is signed once; the same bytes are mined on both branches.
  const rawA = await ra.signTransaction(await ra.populateTransaction(await s.rewards.connect(ra).deposit.populateTransaction(7n * UNIT)));
  const txA = await s.anvil.provider.broadcastTransaction(rawA);
  const rcptA1 = await txA.wait();
  await (await s.rewards.connect(rc).deposit(5n * UNIT)).wait();
  for (let i = 0; i < 3; i++) await rpc('evm_mine');
  const oldHead = await s.anvil.provider.getBlockNumber();
  await waitFor('A and C credited on the first branch', async () =>
    await available(ra) === a0 + 7n * UNIT && await available(rc) === c0 + 5n * UNIT);
  await waitFor('the watcher past the branch', async () => (await events()).block >= oldHead);

  // The reorg: back to the fork, then a longer branch where B's deposit comes first and A's is
  // mined again behind it (B pays a higher tip, so it is ordered first).
  assert.equal(await rpc('evm_revert', [snap]), true);
  await rpc('evm_setAutomine', [false]);
  try {
    const fee = { maxPriorityFeePerGas: 10n ** 10n, maxFeePerGas: 10n ** 11n };
    const txB = await s.rewards.connect(rb).deposit(3n * UNIT, fee);
    await s.anvil.provider.broadcastTransaction(rawA);
    await rpc('evm_mine');
    const rcptB = await s.anvil.provider.getTransactionReceipt(txB.hash);
    const rcptA2 = await s.anvil.provider.getTransactionReceipt(txA.hash);
    assert.equal(rcptB.blockNumber, rcptA2.blockNumber, 'B and A in one block');
    assert.ok(rcptB.index < rcptA2.index, 'B before A');
    assert.ok(rcptB.blockNumber <= oldHead, 'B is below where the watcher had scanned');
    const depositLog = (r) => r.logs.find((l) => l.topics[0] === s.rewards.interface.getEvent('Deposited').topicHash);
    assert.notEqual(depositLog(rcptA2).index, depositLog(rcptA1).index, 'A\'s log index changed');
    while (await s.anvil.provider.getBlockNumber() <= oldHead + 1) await rpc('evm_mine');
  } finally {
    await rpc('evm_setAutomine', [true]);
  }
  await waitFor('B credited from the new branch', async () => await available(rb) === b0 + 3n * UNIT);
  const head = await s.anvil.provider.getBlockNumber();
  await waitFor('the watcher at the new head', async () => (await events()).block >= head);
  assert.equal(await available(ra), a0 + 7n * UNIT, 'A credited once');
  const depositsOfA = (await api(base, 'GET', `/v1/ledger/entries?kind=deposit&account=${ra.address}&limit=500`)).body.entries
    .filter((e) => e.refs.tx === txA.hash);
  assert.equal(depositsOfA.length, 1, 'one ledger entry for A\'s deposit');
  // C's deposit left the chain: its credit stays (the money model has no entry that takes a
  // deposit back), and the watcher reports it.
  assert.equal(await available(rc), c0 + 5n * UNIT);
  assert.equal((await events()).orphaned, orphaned0 + 1, 'C\'s event counted as orphaned');
  // The solvency check after the next anchor sees the contract hold exactly C's deposit less
  // than the ledger credited.
  const seqB = (await api(base, 'GET', '/v1/chain')).body.head.seq;
  const checked = await waitFor('a solvency check after the reorg', async () =>
    (await anchors()).find((a) => a.status === 'confirmed' && a.last_seq >= seqB && a.solvency));
  assert.equal(checked.solvency.ok, false);
  assert.equal(BigInt(checked.solvency.deposits_minus_claims) - BigInt(checked.solvency.contract_balance), 5n * UNIT);
  // cohortd writes info lines every 100 ms (warnings at once): wait for them, not assert.
  const logged = (re) => waitFor(`the log line ${re}`, async () => re.test(s.srv.log().slice(logFrom)), 5000);
  await logged(/reorg below the confirmations/);
  await logged(/mined again in block/);
});

// With several confirmations, a proposal is mined, confirmed, and effective only after the
// challenge period: GET /v1/claims serves no proof against it before (a claim would revert),
// then one that pays exactly.
test('a claim proof is served once the proposal is effective, not when it is mined', async () => {
  await s.restart({ COHORT_CHAIN_CONFIRMATIONS: '3' });
  const base = s.srv.base;
  const [, , , , , , , , r] = s.anvil.wallets(9);
  const UNIT = 10n ** 18n;
  const token = await signIn(base, r);
  assert.equal((await api(base, 'PUT', '/v1/me/profile', { token, json: { roles: ['researcher'] } })).status, 200);
  await (await s.token.connect(r).approve(await s.rewards.getAddress(), 50n * UNIT)).wait();
  await (await s.rewards.connect(r).deposit(50n * UNIT)).wait();
  for (let i = 0; i < 3; i++) await rpc('evm_mine'); // the deposit's confirmations
  const bal = async () => (await api(base, 'GET', `/v1/accounts/${r.address}/balance`, { token })).body;
  await waitFor('the deposit credited', async () => BigInt((await bal()).available) >= 50n * UNIT);
  const wd = await api(base, 'POST', '/v1/me/withdrawals', { token, json: { amount: (20n * UNIT).toString() }, headers: { 'Idempotency-Key': `mined-${Date.now()}` } });
  assert.equal(wd.status, 201, JSON.stringify(wd.body));
  const mined = await waitFor('the proposal mined', async () => {
    const a = await covering(wd.body.seq);
    return a?.transactions.some((t) => t.status === 'mined') ? a : null;
  });
  assert.equal(mined.state, 'pending');
  assert.equal((await api(base, 'GET', `/v1/claims/${r.address}`, { token })).status, 404, 'no proof before it is effective');
  const c = await waitFor('the proof once effective', async () => {
    const x = await api(base, 'GET', `/v1/claims/${r.address}`, { token });
    return x.status === 200 && x.body.claims_root === await s.rewards.claimsRoot() ? x.body : null;
  });
  assert.equal(c.anchor.id, mined.id);
  assert.equal(c.anchor.confirmed, true);
  assert.equal(BigInt(c.cumulative_amount), 20n * UNIT);
  assert.equal((await covering(wd.body.seq)).state, 'effective');
  const before = await s.token.balanceOf(r.address);
  assert.equal((await (await s.rewards.connect(r).claim(c.address, c.cumulative_amount, c.proof)).wait()).status, 1);
  assert.equal(await s.token.balanceOf(r.address) - before, 20n * UNIT, 'claimed exactly the withdrawal');
  for (let i = 0; i < 3; i++) await rpc('evm_mine');
  await waitFor('the Claimed event credited', async () => BigInt((await bal()).claimed) >= 20n * UNIT);
});

// A claim credited to the ledger, then dropped by a reorg deeper than the confirmations, and
// sent again by the wallet as a new transaction (other fees, other hash) on the new branch:
// the same claim on chain (same account, same cumulative amount), so payable is debited once,
// and the watcher goes on (a second debit would be refused and stop it).
test('a claim dropped by a deep reorg and sent again in a new transaction is debited once', async () => {
  await s.restart({});
  const base = s.srv.base;
  const r = s.anvil.wallets(10)[9];
  const UNIT = 10n ** 18n;
  const token = await signIn(base, r);
  assert.equal((await api(base, 'PUT', '/v1/me/profile', { token, json: { roles: ['researcher'] } })).status, 200);
  const bal = async () => (await api(base, 'GET', `/v1/accounts/${r.address}/balance`, { token })).body;
  const events = async () => (await api(base, 'GET', '/v1/chain')).body.events;
  await (await s.token.connect(r).approve(await s.rewards.getAddress(), 100n * UNIT)).wait();
  await (await s.rewards.connect(r).deposit(30n * UNIT)).wait();
  await waitFor('the deposit credited', async () => BigInt((await bal()).available) >= 30n * UNIT);
  const claimed0 = BigInt((await bal()).claimed);
  const wd = await api(base, 'POST', '/v1/me/withdrawals', { token, json: { amount: (10n * UNIT).toString() }, headers: { 'Idempotency-Key': `reclaim-${Date.now()}` } });
  assert.equal(wd.status, 201, JSON.stringify(wd.body));
  const earned = BigInt((await bal()).earned);
  const c = await waitFor('the proof on chain', async () => {
    const x = (await api(base, 'GET', `/v1/claims/${r.address}`, { token })).body;
    return x.cumulative_amount === earned.toString() && x.claims_root === await s.rewards.claimsRoot() ? x : null;
  });
  await waitFor('the watcher at the head', async () => (await events()).block >= await s.anvil.provider.getBlockNumber());
  const orphaned0 = (await events()).orphaned;
  const logFrom = s.srv.log().length;

  const snap = await rpc('evm_snapshot');
  const tx1 = await s.rewards.connect(r).claim(c.address, c.cumulative_amount, c.proof);
  await tx1.wait();
  for (let i = 0; i < 2; i++) await rpc('evm_mine');
  const oldHead = await s.anvil.provider.getBlockNumber();
  await waitFor('the claim credited', async () => BigInt((await bal()).claimed) === earned);
  await waitFor('the watcher past the claim', async () => (await events()).block >= oldHead);

  assert.equal(await rpc('evm_revert', [snap]), true);
  assert.equal(await s.rewards.claimed(r.address), claimed0, 'the reorg undid the claim on chain');
  const tx2 = await s.rewards.connect(r).claim(c.address, c.cumulative_amount, c.proof, { maxPriorityFeePerGas: 3n * 10n ** 9n, maxFeePerGas: 10n ** 11n });
  await tx2.wait();
  assert.notEqual(tx2.hash, tx1.hash, 'a new transaction');
  while (await s.anvil.provider.getBlockNumber() <= oldHead + 1) await rpc('evm_mine');
  // The watcher goes on past the claim: a deposit after it is credited.
  const avail = BigInt((await bal()).available);
  await (await s.rewards.connect(r).deposit(1n * UNIT)).wait();
  await waitFor('the later deposit credited', async () => BigInt((await bal()).available) === avail + UNIT);
  assert.equal(BigInt((await bal()).claimed), earned, 'payable debited once');
  const claims = (await api(base, 'GET', '/v1/ledger/entries?kind=claim&limit=1000')).body.entries
    .filter((e) => e.refs?.address === r.address.toLowerCase());
  assert.equal(claims.length, 1, 'one claim entry');
  assert.equal((await events()).orphaned, orphaned0, 'the claim is on chain again: nothing orphaned');
  // cohortd writes info lines every 100 ms: wait for the line rather than assert at once.
  await waitFor('the re-mined claim logged', async () => /claim 0x[0-9a-f]+\/0 mined again in block/.test(s.srv.log().slice(logFrom)), 5000);
});
