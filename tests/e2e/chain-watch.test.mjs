// `cohort watch` against what a security review reproduced (docs/KEYS.md). One stack (private
// database, anvil, contracts deployed by scripts/deploy.mjs with a dev guardian and a 3 s
// challenge period, cohortd anchoring) and one `cohort watch` guarding it:
// - a thief with the anchorer key (anvil impersonation of its address) proposes a forged root;
//   watch vetoes it and pauses claims; after the guardian unpauses, the thief re-proposes the
//   identical (lastSeq, claimsRoot): watch judges it again, vetoes it again, pauses again, and
//   nothing can be claimed against it;
// - a credit inserted into ledger_credits by the database superuser under a posted reward entry
//   (triggers bypassed with session_replication_role = replica) is counted by the claims query
//   cohortd anchors with, so the next honest-looking proposal pays it: watch checks the reward
//   entry's signed count and root against the credits and vetoes that proposal;
// - a forged root that became effective while watch was down is reported and claims are
//   paused as soon as watch runs again;
// - a proposal watch cannot check (a credit of 2^256 in the database) pauses claims once
//   within half the challenge period of becoming effective.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { ethers, Wallet } from 'ethers';
import { api } from './helpers.mjs';
import { signIn, consent, contribute, closeAndRelease } from './market-helpers.mjs';
import { startChainStack, startWatch, waitFor, merkleTree } from './chain-anvil.mjs';

const UNIT = 10n ** 18n;
const DEPOSIT = 100n * UNIT;
const REWARD = 2n * UNIT + 3n;
const CHALLENGE = 3;

let s, researcher, rtoken, watch, attacker;

before(async () => {
  s = await startChainStack('coh_chain_watch', { challenge: CHALLENGE });
  [, researcher] = s.anvil.wallets(2);
  attacker = Wallet.createRandom().address;
  rtoken = await signIn(s.srv.base, researcher);
  assert.equal((await api(s.srv.base, 'PUT', '/v1/me/profile', { token: rtoken, json: { roles: ['researcher'] } })).status, 200);
  await (await s.token.connect(researcher).approve(await s.rewards.getAddress(), DEPOSIT)).wait();
  await (await s.rewards.connect(researcher).deposit(DEPOSIT)).wait();
  await waitFor('the deposit credit', async () =>
    (await api(s.srv.base, 'GET', `/v1/ledger/entries?kind=deposit&account=${researcher.address}`)).body.entries?.length === 1);
  watch = startWatch(s, ['--contract', s.rewards.target]);
  await waitFor('cohort watch to start', () => watch.stdout().includes('guarding'), 10000);
});
after(async () => {
  await watch?.stop();
  await s?.stop();
});

const anchors = async () => (await api(s.srv.base, 'GET', '/v1/anchors?limit=500')).body.anchors;
const vetoes = async (seq) => s.rewards.queryFilter(s.rewards.filters.Vetoed(seq), 0, 'latest');

async function revertName(p) {
  try { await p; } catch (e) {
    const data = e.data ?? e.info?.error?.data;
    return (data && s.rewards.interface.parseError(data)?.name) ?? String(e.shortMessage ?? e.message);
  }
  return 'no revert';
}

async function asAnchorer() {
  const who = await s.rewards.anchorer();
  await s.anvil.provider.send('anvil_impersonateAccount', [who]);
  return s.rewards.connect(await s.anvil.provider.getSigner(who));
}

const noneInChallenge = () => waitFor('no proposal in its challenge period', async () => (await s.rewards.pending())[2] === 0n, 30000, 100);

async function unpause() {
  await waitFor('watch to pause claims', () => s.rewards.paused(), 10000, 100);
  await (await s.rewards.connect(s.guardian).unpause()).wait();
}

test('a vetoed root proposed again is vetoed again; watch pauses claims after each forged proposal; nothing is claimable', async () => {
  await noneInChallenge();
  const rewardsAddr = await s.rewards.getAddress();
  const held = await s.token.balanceOf(rewardsAddr);
  const forged = merkleTree([[attacker, held]]);
  const seq = (await s.rewards.lastSeq()) + 1n;
  const evil = await asAnchorer();
  const args = [ethers.id('forged'), forged.root, seq, await s.rewards.totalDeposited()];
  const alertsBefore = (watch.stderr().match(/ALERT: paused claims/g) ?? []).length;

  await (await evil.propose(...args)).wait();
  await waitFor('the first veto', async () => (await vetoes(seq)).length === 1, CHALLENGE * 1000 + 5000, 100);
  assert.equal(await s.rewards.lastSeq(), seq - 1n, 'lastSeq fell back');
  // watch pauses claims after vetoing a forged proposal; the operator unpauses (here without
  // rotating the key, so the thief can try again).
  await unpause();
  await waitFor('the pause alert', () => (watch.stderr().match(/ALERT: paused claims/g) ?? []).length === alertsBefore + 1, 10000);

  // The identical proposal again: the same lastSeq, roots and total.
  const rc = await (await evil.propose(...args)).wait();
  const effectiveAt = Number(rc.logs.map((l) => { try { return s.rewards.interface.parseLog(l); } catch { return null; } })
    .find((x) => x?.name === 'Anchored').args.effectiveAt);
  const second = await waitFor('the second veto', async () => {
    const ev = await vetoes(seq);
    return ev.length === 2 ? ev[1] : null;
  }, CHALLENGE * 1000 + 5000, 100).catch((e) => { console.log(watch.stdout(), watch.stderr()); throw e; });
  assert.ok((await s.anvil.provider.getBlock(second.blockNumber)).timestamp < effectiveAt, 'vetoed within the challenge period');
  assert.equal(second.args.claimsRoot, forged.root);
  assert.match(watch.stderr(), /claims root was vetoed before/);
  await unpause();
  await s.anvil.provider.send('anvil_stopImpersonatingAccount', [await s.rewards.anchorer()]);

  // After its challenge period nothing can be claimed against it.
  await waitFor('the re-proposal\'s effective time', async () => (await s.anvil.provider.getBlock('latest')).timestamp > effectiveAt + 1, 15000, 250);
  await s.anvil.provider.send('evm_mine', []);
  assert.equal(await revertName(s.rewards.claim.staticCall(attacker, held, forged.proof(attacker, held))), 'InvalidProof');
  assert.notEqual(await s.rewards.claimsRoot(), forged.root);
  assert.equal(await s.token.balanceOf(rewardsAddr), held, 'the deposits stay');
});

test('a credit inserted by the database superuser under a posted reward entry: watch vetoes the next proposal', async () => {
  // An honest release paying two contributors.
  const funder = s.anvil.wallets(3)[2];
  const contributors = [];
  for (let i = 0; i < 2; i++) {
    const w = Wallet.createRandom().connect(s.anvil.provider);
    await (await funder.sendTransaction({ to: w.address, value: ethers.parseEther('1') })).wait();
    const token = await signIn(s.srv.base, w);
    await api(s.srv.base, 'PUT', '/v1/me/profile', { token, json: { roles: ['contributor'], consent_profile: { purposes: ['watch-e2e'] } } });
    contributors.push({ w, token, age: 40 + i });
  }
  const created = await api(s.srv.base, 'POST', '/v1/requests', { token: rtoken, json: {
    title: 'Watch e2e', description: 'steps', purpose: 'watch-e2e',
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
  const reward = (await api(s.srv.base, 'GET', `/v1/ledger/entries?kind=reward`)).body.entries.find((e) => e.refs?.request === created.body.id || e.ref_request === created.body.id);
  assert.ok(reward, 'the reward entry is posted');
  // ... anchored and found to be the ledger's.
  await waitFor('the release anchored and checked', async () => {
    const a = (await anchors()).find((x) => x.first_seq <= reward.seq && reward.seq <= x.last_seq && x.status === 'confirmed');
    return a && watch.stdout().includes(`ok: proposal of entries up to ${a.last_seq},`);
  }, 40000, 200);
  await noneInChallenge();

  // The superuser adds a credit paying the attacker under the posted reward entry.
  const forgedAmount = 10n * UNIT;
  execFileSync('psql', [s.db.url, '-qXv', 'ON_ERROR_STOP=1', '-c',
    `SET session_replication_role = replica; INSERT INTO ledger_credits (address, amount, salt, entry_key, request_id) VALUES ('${attacker.toLowerCase()}', ${forgedAmount}, '\\x${randomBytes(32).toString('hex')}', 'reward:${created.body.id}', '${created.body.id}')`], { stdio: 'pipe' });

  // The next entry makes cohortd propose a batch whose claims tree counts the forged credit.
  const w = await api(s.srv.base, 'POST', '/v1/me/withdrawals', { token: rtoken, json: { amount: UNIT.toString() }, headers: { 'Idempotency-Key': 'cw-1' } });
  assert.equal(w.status, 201, JSON.stringify(w.body));
  const proposal = await waitFor('the proposal of the withdrawal', async () =>
    (await anchors()).find((x) => x.first_seq <= w.body.seq && w.body.seq <= x.last_seq && x.status !== 'pending' && x.status !== 'sent'), 30000, 100);
  const ev = await waitFor('the veto', async () => {
    const v = await vetoes(proposal.last_seq);
    return v.length ? v[0] : null;
  }, CHALLENGE * 1000 + 5000, 100).catch((e) => { console.log(watch.stdout(), watch.stderr()); throw e; });
  assert.equal(ev.args.claimsRoot, proposal.claims_root);
  assert.match(watch.stderr(), new RegExp(`reward entry ${reward.seq} publishes 2 credits and their root but the database holds 3`));
  assert.doesNotMatch(watch.stdout(), new RegExp(`ok: proposal of entries up to ${proposal.last_seq},`));
  await waitFor('watch to pause claims', () => s.rewards.paused(), 10000, 100);
  assert.notEqual(await s.rewards.claimsRoot(), proposal.claims_root);
});

test('cohort watch exits with status 3 after alerts', async () => {
  assert.equal(await watch.stop(), 3);
  watch = null;
});

test('a forged root that became effective while watch was down: watch alerts and pauses claims', async () => {
  if (await s.rewards.paused()) await (await s.rewards.connect(s.guardian).unpause()).wait();
  await noneInChallenge();
  const rewardsAddr = await s.rewards.getAddress();
  const held = await s.token.balanceOf(rewardsAddr);
  const forged = merkleTree([[attacker, held]]);
  const evil = await asAnchorer();
  const rc = await (await evil.propose(ethers.id('forged-3'), forged.root, (await s.rewards.lastSeq()) + 1n, await s.rewards.totalDeposited())).wait();
  await s.anvil.provider.send('anvil_stopImpersonatingAccount', [await s.rewards.anchorer()]);
  const effectiveAt = Number(rc.logs.map((l) => { try { return s.rewards.interface.parseLog(l); } catch { return null; } })
    .find((x) => x?.name === 'Anchored').args.effectiveAt);
  await waitFor('the forged proposal\'s effective time', async () => (await s.anvil.provider.getBlock('latest')).timestamp > effectiveAt + 1, 15000, 250);
  assert.equal(await s.rewards.claimsRoot(), forged.root, 'effective: nobody vetoed it');
  assert.ok(!(await s.rewards.paused()));
  watch = startWatch(s, ['--contract', s.rewards.target]);
  await waitFor('the alert', () => /ALERT: the effective claims root 0x[0-9a-f]{64} \(entries up to \d+\) was never checked and is not the ledger's/.test(watch.stderr()), 15000);
  await waitFor('watch to pause claims', () => s.rewards.paused(), 10000, 100);
  assert.equal(await revertName(s.rewards.claim.staticCall(attacker, held, forged.proof(attacker, held))), 'ClaimsArePaused');
  assert.equal(await s.token.balanceOf(rewardsAddr), held, 'the deposits stay');
  assert.equal(await watch.stop(), 3);
  watch = null;
});

test('fail closed: a proposal watch cannot check (a credit of 2^256) pauses claims within half the challenge period', async () => {
  await (await s.rewards.connect(s.guardian).unpause()).wait();
  await noneInChallenge();
  // The superuser drops the uint256 check and adds a credit no uint256 holds under the reward entry.
  const reward = (await api(s.srv.base, 'GET', '/v1/ledger/entries?kind=reward')).body.entries.at(-1);
  execFileSync('psql', [s.db.url, '-qXv', 'ON_ERROR_STOP=1', '-c',
    `ALTER TABLE ledger_credits DROP CONSTRAINT ledger_credits_amount_uint256; SET session_replication_role = replica; INSERT INTO ledger_credits (address, amount, salt, entry_key, request_id) VALUES ('0x${'11'.repeat(20)}', ${2n ** 256n}, '\\x${randomBytes(32).toString('hex')}', '${reward.idempotency_key}', '${reward.refs.request}')`], { stdio: 'pipe' });
  // An entry cohortd does not propose (stopped): the forged proposal's lastSeq is within the ledger.
  await s.srv.kill();
  const dep = await s.srv.cli(['ledger', 'deposit', '--address', researcher.address, '--amount', '1']);
  assert.equal(dep.code, 0, dep.stderr);
  watch = startWatch(s, ['--contract', s.rewards.target]);
  await waitFor('cohort watch to start', () => watch.stdout().includes('guarding'), 10000);
  const held = await s.token.balanceOf(await s.rewards.getAddress());
  const forged = merkleTree([[attacker, held - 1n]]); // a root never vetoed before
  const seq = (await s.rewards.lastSeq()) + 1n;
  const evil = await asAnchorer();
  const rc = await (await evil.propose(ethers.id('forged-4'), forged.root, seq, await s.rewards.totalDeposited())).wait();
  await s.anvil.provider.send('anvil_stopImpersonatingAccount', [await s.rewards.anchorer()]);
  const effectiveAt = Number(rc.logs.map((l) => { try { return s.rewards.interface.parseLog(l); } catch { return null; } })
    .find((x) => x?.name === 'Anchored').args.effectiveAt);
  const paused = await waitFor('the pause', async () => {
    const ev = await s.rewards.queryFilter(s.rewards.filters.ClaimsPaused(), rc.blockNumber, 'latest');
    return ev.length ? ev[0] : null;
  }, CHALLENGE * 1000 + 5000, 100).catch((e) => { console.log(watch.stdout(), watch.stderr()); throw e; });
  const at = (await s.anvil.provider.getBlock(paused.blockNumber)).timestamp;
  assert.ok(at < effectiveAt, `paused at ${at}, before ${effectiveAt}`);
  assert.match(watch.stderr(), new RegExp(`ALERT: proposal ${seq} could not be checked`));
  assert.equal((await vetoes(seq)).length, 0, 'not vetoed: it could not be judged');
  assert.equal(await watch.stop(), 3);
  watch = null;
  await s.restart();
});
