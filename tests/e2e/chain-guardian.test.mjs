// Issue 15 on anvil: a stolen ledger (anchorer) key cannot take the deposits. One stack
// (private database, anvil, contracts deployed by scripts/deploy.mjs with a dev guardian and a
// 3 s challenge period, cohortd anchoring) and `cohort watch` guarding it for the whole file.
// - the honest flow pays exactly: deposit, release, a proposal, the challenge period (nothing
//   claimable before), claim; more credits, claim the difference; watch finds every honest
//   proposal to be the ledger's; once a proposal is effective cohortd sends promote() (it has
//   nothing new to propose), so no claim pays the promotion;
// - an attacker holding only the anchorer key (anvil impersonation of its address: exactly
//   the power of the key, no more) proposes a claims root with one leaf (attacker, contract
//   balance): `cohort watch` vetoes it within the challenge period, nothing can be claimed
//   against it, and cohortd goes on anchoring; a forged proposal above the deposits reverts;
// - `cohort ledger rotate-key --guardian-key` while withdrawals are posted: the guardian's
//   setAnchorer is mined, cohortd restarted anchors with the new key, no anchor lost, none
//   reverted more than once, claims continue; without the guardian key, rotate-key prints the
//   guardian's transaction and cohortd sends nothing (not_anchorer, in GET /v1/chain and
//   /metrics) until the guardian sends it, then anchors with the new key;
// - an anchor whose transaction reverts on chain (the guardian replaced the key in the same
//   block) is not re-sent at once: one reverted transaction, an alert, nothing more until the
//   key is back, then the batch is proposed once;
// - an anchor that would revert (credits above the deposits, via the dev-only ledger deposit)
//   is never sent: retried with exponential backoff, then the anchorer stops, and /readyz,
//   /metrics, GET /v1/chain and the log say why.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ethers, Wallet } from 'ethers';
import { api } from './helpers.mjs';
import { signIn, consent, contribute, closeAndRelease } from './market-helpers.mjs';
import { startChainStack, startWatch, waitFor, merkleTree } from './chain-anvil.mjs';

const UNIT = 10n ** 18n;
const DEPOSIT = 100n * UNIT;
const REWARD = 2n * UNIT + 3n;
const CHALLENGE = 3;

let s, researcher, rtoken, watch, attacker;
const contributors = [];

before(async () => {
  s = await startChainStack('coh_chain_guardian', { challenge: CHALLENGE });
  [, researcher] = s.anvil.wallets(2);
  attacker = Wallet.createRandom().address;
  rtoken = await signIn(s.srv.base, researcher);
  tokens.set(researcher.address, rtoken);
  assert.equal((await api(s.srv.base, 'PUT', '/v1/me/profile', { token: rtoken, json: { roles: ['researcher'] } })).status, 200);
  const funder = s.anvil.wallets(3)[2];
  for (let i = 0; i < 2; i++) {
    const w = Wallet.createRandom().connect(s.anvil.provider);
    await (await funder.sendTransaction({ to: w.address, value: ethers.parseEther('1') })).wait();
    const token = await signIn(s.srv.base, w);
    await api(s.srv.base, 'PUT', '/v1/me/profile', { token, json: { roles: ['contributor'], consent_profile: { purposes: ['guardian-e2e'] } } });
    contributors.push({ w, token, age: 40 + i });
    tokens.set(w.address, token);
  }
  watch = startWatch(s);
  await waitFor('cohort watch to start', () => watch.stdout().includes('guarding'), 10000);
});
after(async () => {
  await watch?.stop();
  await s?.stop();
});

const anchors = async () => (await api(s.srv.base, 'GET', '/v1/anchors?limit=500')).body.anchors;
const chainInfo = async () => (await api(s.srv.base, 'GET', '/v1/chain')).body;

// Waits for an effective anchor giving addr `cumulative`; returns the claim from the API
// (served to that address alone, signed in).
const tokens = new Map();
async function effectiveClaim(addr, cumulative, ms = 40000) {
  return waitFor(`an effective anchor giving ${addr} ${cumulative}`, async () => {
    const r = await api(s.srv.base, 'GET', `/v1/claims/${addr}`, { token: tokens.get(addr) });
    // ... and the chain's latest block agrees it is effective (the claim lands in a later one)
    return r.status === 200 && r.body.cumulative_amount === cumulative.toString() &&
      r.body.claims_root === await s.rewards.claimsRoot() ? r.body : null;
  }, ms, 200);
}

async function claim(wallet, c) {
  const before = await s.token.balanceOf(wallet.address);
  const rcpt = await (await s.rewards.connect(wallet).claim(c.address, c.cumulative_amount, c.proof)).wait();
  assert.equal(rcpt.status, 1);
  return (await s.token.balanceOf(wallet.address)) - before;
}

let wseq = 0;
async function withdraw(amount) {
  const r = await api(s.srv.base, 'POST', '/v1/me/withdrawals', { token: rtoken, json: { amount: amount.toString() }, headers: { 'Idempotency-Key': `gw-${++wseq}` } });
  return r;
}

async function revertName(p) {
  try { await p; } catch (e) {
    const data = e.data ?? e.info?.error?.data;
    return (data && s.rewards.interface.parseError(data)?.name) ?? String(e.shortMessage ?? e.message);
  }
  return 'no revert';
}

// cohortd's anchorer promote()s a proposal once it is effective and nothing new is to be
// proposed. Then nothing is left to promote (and none is pending), so a claim verifies against
// the promoted root alone and cannot take the contract's fallback that pays the promotion.
async function promotedByCohortd() {
  await waitFor('cohortd to promote the effective proposal', async () =>
    (await revertName(s.rewards.promote.staticCall())) === 'NothingToPromote' &&
    (await s.rewards.pending())[2] === 0n, 20000, 100);
}

// promote() transactions mined from block `from` on: [{ from, status }].
async function promoteTxs(from) {
  const sel = s.rewards.interface.getFunction('promote').selector;
  const to = (await s.rewards.getAddress()).toLowerCase();
  const out = [];
  for (let n = from, head = await s.anvil.provider.getBlockNumber(); n <= head; n++) {
    for (const tx of (await s.anvil.provider.getBlock(n, true)).prefetchedTransactions) {
      if (tx.to?.toLowerCase() === to && tx.data === sel) {
        out.push({ from: tx.from.toLowerCase(), status: (await s.anvil.provider.getTransactionReceipt(tx.hash)).status });
      }
    }
  }
  return out;
}

test('honest flow: deposit, release, proposal, challenge period, claim, claim the difference', async () => {
  const startBlock = await s.anvil.provider.getBlockNumber();
  await (await s.token.connect(researcher).approve(await s.rewards.getAddress(), DEPOSIT)).wait();
  await (await s.rewards.connect(researcher).deposit(DEPOSIT)).wait();
  await waitFor('the deposit credit', async () => {
    const e = (await api(s.srv.base, 'GET', `/v1/ledger/entries?kind=deposit&account=${researcher.address}`)).body.entries;
    return e?.length === 1;
  });
  // A release paying both contributors.
  const created = await api(s.srv.base, 'POST', '/v1/requests', { token: rtoken, json: {
    title: 'Guardian e2e', description: 'steps', purpose: 'guardian-e2e',
    schema: { fields: [{ name: 'age', type: 'integer', min: 0, max: 120, role: 'quasi-identifier' },
                       { name: 'steps', type: 'integer', min: 0, max: 100000, role: 'quasi-identifier' }] },
    privacy: { mode: 'k-anonymity', k: 2 }, reward: REWARD.toString(),
    min_contributors: 2, max_contributors: 2, closes_at: new Date(Date.now() + 3600e3).toISOString(),
  } });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  for (const c of contributors) {
    assert.equal((await consent(s.srv.base, c.w, c.token, created.body.id)).status, 201);
    assert.equal((await contribute(s.srv.base, c.token, created.body, { age: c.age, steps: 1000 })).status, 201);
  }
  assert.equal((await closeAndRelease(s.srv.base, rtoken, created.body.id)).status, 'released');

  // The proposal is mined, then pending for the challenge period: no claim is served yet.
  const pending = await waitFor('a mined proposal in its challenge period', async () =>
    (await anchors()).find((a) => a.state === 'pending' && a.claimable_at && a.status === 'confirmed'), 30000, 100);
  assert.ok(Date.parse(pending.claimable_at) > Date.now() - 1000, 'claimable in the future');
  const [onchainRoot, , effectiveAt] = await s.rewards.pending();
  assert.equal(onchainRoot, pending.claims_root);
  assert.equal(new Date(Number(effectiveAt) * 1000).toISOString(), new Date(pending.claimable_at).toISOString());
  const c0 = contributors[0];
  assert.equal((await api(s.srv.base, 'GET', `/v1/claims/${c0.w.address}`, { token: c0.token })).status, 404, 'nothing effective yet');

  for (const c of contributors) {
    const cl = await effectiveClaim(c.w.address, REWARD);
    assert.equal(cl.claims_root, await s.rewards.claimsRoot(), 'the proof is against the effective root');
    await promotedByCohortd();
    assert.equal(await claim(c.w, cl), REWARD, 'exactly the reward');
  }
  const a = (await anchors()).find((x) => x.id === pending.id);
  assert.equal(a.state, 'effective');
  const anchorer = (await s.rewards.anchorer()).toLowerCase();
  const promotes = await promoteTxs(startBlock);
  assert.ok(promotes.length >= 1 && promotes.every((t) => t.from === anchorer && t.status === 1),
    `cohortd's anchorer sent promote(), never reverted: ${JSON.stringify(promotes)}`);

  // More credits (a withdrawal to the researcher's own leaf), a new proposal: the difference.
  assert.equal((await withdraw(5n * UNIT)).status, 201);
  const cl1 = await effectiveClaim(researcher.address, 5n * UNIT);
  await promotedByCohortd();
  assert.equal(await claim(researcher, cl1), 5n * UNIT);
  assert.equal((await withdraw(2n * UNIT)).status, 201);
  const cl2 = await effectiveClaim(researcher.address, 7n * UNIT);
  await promotedByCohortd();
  assert.equal(await claim(researcher, cl2), 2n * UNIT, 'only the difference');
  assert.equal(await revertName(s.rewards.connect(researcher).claim(cl2.address, cl2.cumulative_amount, cl2.proof)), 'NothingToClaim');
  assert.match(watch.stdout(), /ok: proposal of entries up to \d+/);
  assert.doesNotMatch(watch.stderr(), /ALERT/, 'no honest proposal is vetoed');
});

// The attacker's power: anything the anchorer key can sign, nothing else.
async function asAnchorer() {
  const who = await s.rewards.anchorer();
  await s.anvil.provider.send('anvil_impersonateAccount', [who]);
  return s.rewards.connect(await s.anvil.provider.getSigner(who));
}

test('a stolen anchorer key: the forged proposal is vetoed by cohort watch within the challenge period; nothing is claimable', async () => {
  await waitFor('no proposal in its challenge period', async () => (await s.rewards.pending())[2] === 0n, 30000, 100).catch(async (e) => {
    console.log(JSON.stringify(await anchors(), null, 1), s.srv.log());
    throw e;
  });
  const rewardsAddr = await s.rewards.getAddress();
  const held = await s.token.balanceOf(rewardsAddr);
  const forged = merkleTree([[attacker, held]]);
  const seq = (await s.rewards.lastSeq()) + 1n;
  const evil = await asAnchorer();
  const rc = await (await evil.propose(ethers.id('forged'), forged.root, seq, await s.rewards.totalDeposited())).wait();
  const proposed = rc.logs.map((l) => { try { return s.rewards.interface.parseLog(l); } catch { return null; } }).find((x) => x?.name === 'Anchored');
  const effectiveAt = Number(proposed.args.effectiveAt);

  const vetoed = await waitFor('the veto', async () => {
    const ev = await s.rewards.queryFilter(s.rewards.filters.Vetoed(seq), 0, 'latest');
    return ev.length ? ev[0] : null;
  }, CHALLENGE * 1000 + 5000, 100);
  const vblock = await s.anvil.provider.getBlock(vetoed.blockNumber);
  assert.ok(vblock.timestamp < effectiveAt, `vetoed at ${vblock.timestamp}, before ${effectiveAt}`);
  assert.equal(vetoed.args.claimsRoot, forged.root);
  assert.equal(vetoed.args.guardian, s.guardian.address);
  assert.equal(await s.rewards.vetoed(seq), true);
  await waitFor('the watch\'s alert', () => new RegExp(`ALERT: vetoed proposal ${seq} `).test(watch.stderr()), 10000);
  // ... then it pauses claims (docs/KEYS.md: veto, pause, rotate, unpause). The "thief" here is
  // cohortd's own key, so the guardian unpauses at once.
  await waitFor('watch to pause claims', () => s.rewards.paused(), 10000, 100);
  await waitFor('the pause alert', () => /ALERT: paused claims in transaction 0x[0-9a-f]{64}/.test(watch.stderr()), 10000);
  await (await s.rewards.connect(s.guardian).unpause()).wait();

  // After its challenge period: nothing can be claimed against it.
  await waitFor('the forged proposal\'s effective time', async () => (await s.anvil.provider.getBlock('latest')).timestamp > effectiveAt + 1, 15000, 250);
  await s.anvil.provider.send('evm_mine', []);
  const proof = forged.proof(attacker, held);
  assert.equal(await revertName(s.rewards.claim.staticCall(attacker, held, proof)), 'InvalidProof');
  assert.equal(await s.token.balanceOf(rewardsAddr), held, 'the deposits stay');
  assert.equal(await s.token.balanceOf(attacker), 0n);
  assert.notEqual(await s.rewards.claimsRoot(), forged.root);

  // A forged proposal above every deposit ever received reverts outright.
  const total = await s.rewards.totalDeposited();
  assert.equal(await revertName(evil.propose.staticCall(ethers.id('forged-2'), forged.root, seq + 1n, total + 1n)), 'CreditsExceedDeposits');
  await s.anvil.provider.send('anvil_stopImpersonatingAccount', [await s.rewards.anchorer()]);

  // cohortd goes on: a new withdrawal is proposed, effective and claimed.
  assert.equal((await withdraw(1n * UNIT)).status, 201);
  const cl = await effectiveClaim(researcher.address, 8n * UNIT);
  assert.equal(await claim(researcher, cl), 1n * UNIT);
  assert.equal((await anchors()).filter((a) => a.state === 'vetoed').length, 0, 'no honest anchor vetoed');
});

test('rotate-key while withdrawals are posted: the guardian installs the new key, no anchor lost or reverted twice, claims continue', async () => {
  const oldKey = await s.rewards.anchorer();
  let stop = false, posted = 0n;
  const bg = (async () => {
    while (!stop) {
      try { if ((await withdraw(UNIT / 10n)).status === 201) posted += UNIT / 10n; } catch { /* restarting */ }
      await new Promise((r) => setTimeout(r, 150));
    }
  })();
  await new Promise((r) => setTimeout(r, 1500));
  const r = await s.srv.cli(['ledger', 'rotate-key', '--guardian-key', s.guardianKey]);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  const m = r.stdout.match(/ledger key rotated: (0x[0-9a-fA-F]{40}) -> (0x[0-9a-fA-F]{40})/);
  assert.ok(m, r.stdout);
  assert.equal(m[1], oldKey);
  assert.match(r.stdout, /guardian: setAnchorer mined in block \d+/);
  assert.equal(await s.rewards.anchorer(), m[2], 'the chain has the new key');
  // Gas money for the new key, as docs/KEYS.md says.
  await (await s.anvil.wallets(4)[3].sendTransaction({ to: m[2], value: ethers.parseEther('10') })).wait();
  // The documented step: restart cohortd so it signs ledger entries with the new key.
  await s.restart();
  await new Promise((res) => setTimeout(res, 1500));
  stop = true;
  await bg;
  assert.ok(posted > 0n);

  // Every entry ends up in a confirmed anchor: contiguous, none vetoed, none reverted twice.
  const head = await waitFor('every entry anchored', async () => {
    const info = await chainInfo();
    const all = await anchors();
    const last = all.filter((a) => a.status === 'confirmed').at(-1);
    return last && last.last_seq === info.head.seq ? info : null;
  }, 60000, 250).catch(async (e) => {
    console.log(JSON.stringify(await chainInfo()), JSON.stringify((await anchors()).slice(-3), null, 1), s.srv.log());
    throw e;
  });
  const all = await anchors();
  for (let i = 1; i < all.length; i++) assert.equal(all[i].first_seq, all[i - 1].last_seq + 1, `anchor ${all[i].id} follows ${all[i - 1].id}`);
  for (const a of all) {
    assert.notEqual(a.state, 'vetoed');
    assert.ok(a.transactions.filter((t) => t.status === 'failed').length <= 1, `anchor ${a.id}: ${JSON.stringify(a.transactions)}`);
  }
  assert.equal(head.ledger_signer, m[2].toLowerCase());
  const an = (await chainInfo()).anchorer;
  assert.equal(an.state, 'ok');
  assert.equal(an.signer, m[2].toLowerCase());
  // Claims continue: the researcher gets exactly what was withdrawn meanwhile.
  const claimedBefore = await s.rewards.claimed(researcher.address);
  const cl = await effectiveClaim(researcher.address, 8n * UNIT + posted, 60000);
  assert.equal(await claim(researcher, cl), 8n * UNIT + posted - claimedBefore);
  // The watch vetoed the forged proposal alone: every proposal made with either key was the ledger's.
  assert.equal(watch.stderr().match(/ALERT: vetoed proposal/g).length, 1);
  assert.ok(watch.stdout().match(/ok: proposal/g).length >= 3);
});

test('rotate-key without the guardian key: cohortd sends nothing until the guardian\'s printed setAnchorer is mined', async () => {
  const r = await s.srv.cli(['ledger', 'rotate-key']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  const m = r.stdout.match(/ledger key rotated: (0x[0-9a-fA-F]{40}) -> (0x[0-9a-fA-F]{40})/);
  const tx = r.stdout.match(/to (0x[0-9a-fA-F]{40}), data (0x[0-9a-f]+)/);
  assert.ok(m && tx, r.stdout);
  assert.equal(await s.rewards.anchorer(), m[1], 'the chain still has the old key');
  await (await s.anvil.wallets(4)[3].sendTransaction({ to: m[2], value: ethers.parseEther('10') })).wait();
  await s.restart();
  const oldNonce = await s.anvil.provider.getTransactionCount(m[1]);
  const claimed = await s.rewards.claimed(researcher.address);
  const cum = BigInt((await effectiveClaim(researcher.address, claimed)).cumulative_amount);
  assert.equal((await withdraw(UNIT)).status, 201);
  const an = await waitFor('the anchorer to report the key is not the contract\'s', async () => {
    const a = (await chainInfo()).anchorer;
    return a?.state === 'not_anchorer' ? a : null;
  }, 20000, 100);
  assert.equal(an.signer, m[2].toLowerCase());
  assert.match(an.reason, /setAnchorer/);
  const metrics = await (await fetch(`${s.srv.metricsBase}/metrics`)).text();
  assert.match(metrics, /cohort_anchorer_state\{state="not_anchorer"\} 1/);
  assert.equal((await api(s.srv.base, 'GET', '/readyz')).status, 200, 'serving goes on');
  await new Promise((res) => setTimeout(res, 2000));
  assert.equal(await s.anvil.provider.getTransactionCount(m[2]), 0, 'nothing sent with the new key');
  assert.equal(await s.anvil.provider.getTransactionCount(m[1]), oldNonce, 'nor with the old one');
  // The guardian sends exactly what rotate-key printed.
  assert.equal(tx[1].toLowerCase(), (await s.rewards.getAddress()).toLowerCase());
  await (await s.guardian.sendTransaction({ to: tx[1], data: tx[2] })).wait();
  assert.equal(await s.rewards.anchorer(), m[2]);
  const cl = await effectiveClaim(researcher.address, cum + UNIT);
  assert.equal(await claim(researcher, cl), cum + UNIT - claimed);
  assert.equal((await chainInfo()).anchorer.state, 'ok');
  assert.ok(await s.anvil.provider.getTransactionCount(m[2]) >= 1);
});

test('an anchor that reverts on chain is not re-sent at once: one reverted transaction, an alert, then it waits', async () => {
  const key = await s.rewards.anchorer();
  // no proposal in its challenge period, and none left to promote: cohortd sends only the one below
  await promotedByCohortd();
  const nonce0 = await s.anvil.provider.getTransactionCount(key);
  const logFrom = s.srv.log().length;
  await s.anvil.provider.send('evm_setAutomine', [false]);
  let proposal;
  try {
    const w = await withdraw(UNIT);
    assert.equal(w.status, 201);
    // cohortd simulates (fine now) and sends its proposal; the guardian's setAnchorer, with a
    // higher tip, lands first in the same block, so the proposal reverts on chain.
    proposal = await waitFor('the proposal in the node', async () => {
      const a = (await anchors()).find((x) => x.first_seq <= w.body.seq && w.body.seq <= x.last_seq);
      const t = a?.transactions[0];
      return t && await s.anvil.provider.getTransaction(t.tx_hash) ? a : null;
    }, 20000, 100);
    const other = Wallet.createRandom().address;
    await s.guardian.sendTransaction({ to: await s.rewards.getAddress(), data: s.rewards.interface.encodeFunctionData('setAnchorer', [other]), maxPriorityFeePerGas: 10n ** 10n, maxFeePerGas: 10n ** 11n });
    await s.anvil.provider.send('evm_mine', []);
  } finally {
    await s.anvil.provider.send('evm_setAutomine', [true]);
  }
  const rcpt = await s.anvil.provider.getTransactionReceipt(proposal.transactions[0].tx_hash);
  assert.equal(rcpt.status, 0, 'the proposal reverted');
  // The same tick may see the key change before the receipt: the alert comes first, then the
  // anchorer waits for its key with the revert counted.
  await waitFor('the alert', () => /transaction 0x[0-9a-f]+ reverted/.test(s.srv.log().slice(logFrom)), 20000);
  const an = await waitFor('the anchorer waiting for its key, the revert counted', async () => {
    const a = (await chainInfo()).anchorer;
    return a?.state === 'not_anchorer' && a.failures >= 1 ? a : null;
  }, 20000, 100);
  assert.match(an.reason, /setAnchorer/);
  await new Promise((r) => setTimeout(r, 5000));
  assert.equal(await s.anvil.provider.getTransactionCount(key), nonce0 + 1, 'one transaction in those seconds: the reverted one');
  // The guardian puts the key back: the batch is proposed again, once.
  await (await s.guardian.sendTransaction({ to: await s.rewards.getAddress(), data: s.rewards.interface.encodeFunctionData('setAnchorer', [key]) })).wait();
  const done = await waitFor('the batch proposed again', async () => {
    const a = (await anchors()).find((x) => x.id === proposal.id);
    return a.status === 'confirmed' ? a : null;
  }, 30000, 200);
  assert.deepEqual(done.transactions.map((t) => t.status).sort(), ['failed', 'mined']);
  assert.equal((await chainInfo()).anchorer.state, 'ok');
});

test('an anchor that would revert is not sent: backoff, then the anchorer stops and says why', async () => {
  // Credits the chain never saw (the dev-only ledger deposit), withdrawn: the next proposal's
  // total exceeds every deposit ever received.
  await s.restart({ COHORT_ANCHOR_MAX_FAILURES: '4', COHORT_ANCHOR_BACKOFF_MS: '1000' });
  const signer = await s.rewards.anchorer();
  const dep = await s.srv.cli(['ledger', 'deposit', '--address', researcher.address, '--amount', (1000n * UNIT).toString()]);
  assert.equal(dep.code, 0, dep.stderr);
  const nonce0 = await s.anvil.provider.getTransactionCount(signer, 'latest');
  const t0 = Date.now();
  assert.equal((await withdraw(500n * UNIT)).status, 201);
  const first = await waitFor('the first failure', async () => {
    const an = (await chainInfo()).anchorer;
    return an?.state === 'backoff' ? an : null;
  }, 30000, 100);
  assert.match(first.reason, /CreditsExceedDeposits/);
  const stopped = await waitFor('the anchorer to stop', async () => {
    const an = (await chainInfo()).anchorer;
    return an?.state === 'stopped' ? an : null;
  }, 60000, 200);
  const took = Date.now() - t0;
  assert.equal(stopped.failures, 4);
  assert.ok(took >= 1000 + 2000 + 4000 - 500, `4 attempts backed off 1 + 2 + 4 s: stopped after ${took} ms`);
  assert.match(stopped.reason, /CreditsExceedDeposits/);
  // Nothing was sent: no transaction burned gas on a revert.
  assert.equal(await s.anvil.provider.getTransactionCount(signer, 'latest'), nonce0);
  const ready = await api(s.srv.base, 'GET', '/readyz');
  assert.equal(ready.status, 503);
  assert.equal(ready.body.check, 'anchorer');
  assert.match(ready.body.detail, /stopped after 4 failures/);
  const metrics = await (await fetch(`${s.srv.metricsBase}/metrics`)).text();
  assert.match(metrics, /cohort_anchorer_state\{state="stopped"\} 1/);
  assert.match(metrics, /cohort_anchorer_failures 4/);
  await waitFor('the alert in the log', () => /ALERT anchorer stopped after 4 failures/.test(s.srv.log()), 5000);
  // It stays stopped: no further attempt within the next seconds.
  await new Promise((r) => setTimeout(r, 3000));
  assert.equal((await chainInfo()).anchorer.failures, 4);
  assert.equal(await s.anvil.provider.getTransactionCount(signer, 'latest'), nonce0);
});

test('cohort watch exits with status 3 after a veto', async () => {
  const code = await watch.stop();
  assert.equal(code, 3);
  watch = null;
});
