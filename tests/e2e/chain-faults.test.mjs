// Faults of the anchorer on a private anvil: a transaction stuck while mining is paused is
// replaced (same nonce, both fees up by at least 10%) and exactly one is mined; a reorg (anvil
// snapshot/revert) that drops a confirmed anchor makes the anchorer send it again; cohortd
// killed with SIGKILL after recording the signed transaction, or between sending and
// confirming, resumes without a second anchor for the batch and without a gap.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Wallet } from 'ethers';
import { api } from './helpers.mjs';
import { startChainStack, waitFor } from './chain-anvil.mjs';

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

// Every batch is contiguous with the previous one: no gap, no overlap.
async function assertContiguous() {
  const all = await anchors();
  for (let i = 1; i < all.length; i++) assert.equal(all[i].first_seq, all[i - 1].last_seq + 1);
}

test('a stuck anchoring transaction is replaced by a fee bump and mined once', async () => {
  await s.restart({ COHORT_ANCHOR_STUCK_S: '1' });
  await rpc('evm_setAutomine', [false]);
  const seq = await postEntry();
  const a = await waitFor('a replacement transaction', async () => {
    const x = await covering(seq);
    return x?.transactions.length >= 2 ? x : null;
  }, 20000);
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
  assert.equal(await s.rewards.ledgerRoot(), a1.ledger_root);
  assert.match(s.srv.log(), /reorg/);
  await assertContiguous();
});

test('cohortd killed after recording the signed anchor resumes with the same transaction', async () => {
  await s.restart({});
  await confirmed(await postEntry());
  const signer = s.signer;
  const nonce0 = await s.anvil.provider.getTransactionCount(signer);
  await s.restart({ COHORT_TEST_CRASH_AT: 'anchor-recorded' });
  const seq = await postEntry();
  await s.srv.exited(20000);
  assert.equal(await s.anvil.provider.getTransactionCount(signer), nonce0, 'nothing was broadcast');
  await s.restart({});
  const a = await confirmed(seq);
  assert.equal(a.transactions.length, 1, 'the recorded transaction was sent, not a new one');
  assert.equal(a.tx_hash, a.transactions[0].tx_hash);
  assert.equal(await s.anvil.provider.getTransactionCount(signer), nonce0 + 1);
  assert.equal((await anchoredEvents(a.last_seq)).length, 1);
  await assertContiguous();
});

test('cohortd killed between sending and confirming resumes without a second anchor', async () => {
  await s.restart({});
  await confirmed(await postEntry());
  const nonce0 = await s.anvil.provider.getTransactionCount(s.signer);
  await rpc('evm_setAutomine', [false]);
  const seq = await postEntry();
  const sent = await waitFor('the anchor sent', async () => {
    const x = await covering(seq);
    return x?.status === 'sent' && x.transactions.length === 1 &&
      await s.anvil.provider.getTransaction(x.transactions[0].tx_hash) ? x : null;
  });
  await s.srv.kill();
  await s.restart({});
  await new Promise((r) => setTimeout(r, 500)); // the new process polls the pending anchor
  await rpc('evm_setAutomine', [true]);
  await rpc('evm_mine');
  const a = await confirmed(seq);
  assert.equal(a.id, sent.id);
  assert.equal(a.transactions.length, 1, 'no second transaction for the batch');
  assert.equal(a.tx_hash, sent.transactions[0].tx_hash);
  assert.equal(await s.anvil.provider.getTransactionCount(s.signer), nonce0 + 1);
  assert.equal((await anchoredEvents(a.last_seq)).length, 1);
  // And the next batch follows without a gap.
  const next = await confirmed(await postEntry());
  assert.equal(next.first_seq, a.last_seq + 1);
  await assertContiguous();
});
