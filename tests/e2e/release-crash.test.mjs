// Crash consistency of a release: cohortd is killed with SIGKILL after each step of the
// release job (stored, rewarded, refunded) and at random moments, and restarted each time.
// The release must complete once, every contributor be paid exactly once, and the escrow
// balance to zero with the rest refunded.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Wallet } from 'ethers';
import { startCohortd, api } from './helpers.mjs';
import { signIn, consent, contribute, pool } from './market-helpers.mjs';

const REWARD = 7n;
const N = 60;
let srv;
after(async () => { await srv?.stop(); });

async function restart(env) {
  await srv?.kill();
  srv = await startCohortd({ COHORT_SIGNIN_RATE_PER_MIN: '100000', COHORT_RELEASE_POLL_MS: '50', COHORT_RELEASE_LEASE_S: '1', ...env });
}

test('a release killed at every step completes once and pays each contributor exactly once', async () => {
  await restart({});
  const researcher = Wallet.createRandom();
  const rtoken = await signIn(srv.base, researcher);
  await api(srv.base, 'PUT', '/v1/me/profile', { token: rtoken, json: { roles: ['researcher'] } });
  assert.equal((await srv.cli(['ledger', 'deposit', '--address', researcher.address, '--amount', '1000'])).code, 0);
  const created = await api(srv.base, 'POST', '/v1/requests', { token: rtoken, json: {
    title: 'crash test', purpose: 'crash-test',
    schema: { fields: [{ name: 'age', type: 'integer', min: 0, max: 120, role: 'quasi-identifier' },
                       { name: 'steps', type: 'integer', min: 0, max: 100000, role: 'quasi-identifier' }] },
    privacy: { mode: 'k-anonymity', k: 3 }, reward: REWARD.toString(),
    min_contributors: 3, max_contributors: 100, closes_at: new Date(Date.now() + 3600e3).toISOString(),
  } });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const req = created.body;
  const people = await pool(Array.from({ length: N }, (_, i) => i), 12, async (i) => {
    const w = Wallet.createRandom();
    const token = await signIn(srv.base, w);
    await api(srv.base, 'PUT', '/v1/me/profile', { token, json: { consent_profile: { purposes: ['crash-test'] } } });
    assert.equal((await consent(srv.base, w, token, req.id)).status, 201);
    assert.equal((await contribute(srv.base, token, req, { age: 20 + (i % 40), steps: 1000 * i })).status, 201);
    return { w, token };
  });

  // Each run of cohortd dies at the next crash point; the last one runs clean.
  await restart({ COHORT_TEST_CRASH_AT: 'stored' });
  assert.equal((await api(srv.base, 'POST', `/v1/requests/${req.id}/close`, { token: rtoken })).status, 202);
  let deaths = 0;
  for (const next of ['credited', 'rewarded', 'refunded', '']) {
    await srv.exited(15000);
    deaths++;
    await restart(next ? { COHORT_TEST_CRASH_AT: next } : {});
  }
  assert.equal(deaths, 4, 'cohortd died at each of the four crash points');
  let view;
  for (let i = 0; i < 200; i++) {
    view = (await api(srv.base, 'GET', `/v1/requests/${req.id}`, { token: rtoken })).body;
    if (view.status === 'released') break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(view.status, 'released');

  const rewards = [];
  for (let after = 0; ;) {
    const page = await api(srv.base, 'GET', `/v1/ledger/entries?request=${req.id}&kind=reward&limit=1000&after=${after}`);
    rewards.push(...page.body.entries);
    if (!page.body.next) break;
    after = page.body.next;
  }
  // One public reward entry for the release: the count and root of its private credits.
  assert.equal(rewards.length, 1, 'the release is paid by one reward entry');
  assert.equal(rewards[0].credit, 'payable');
  assert.equal(rewards[0].refs.credits.count, N);
  assert.match(rewards[0].refs.credits.root, /^0x[0-9a-f]{64}$/);
  assert.equal(BigInt(rewards[0].amount), REWARD * BigInt(N));
  const rel = await api(srv.base, 'GET', `/v1/requests/${req.id}/release`, { token: rtoken });
  assert.equal(rel.body.included, N);
  for (const { w, token } of people) {
    const b = (await api(srv.base, 'GET', `/v1/accounts/${w.address}/balance`, { token })).body;
    assert.equal(b.earned, REWARD.toString(), `${w.address} earned exactly one reward`);
  }
  const refunds = (await api(srv.base, 'GET', `/v1/ledger/entries?request=${req.id}&kind=refund`)).body.entries;
  assert.equal(refunds.length, 1);
  assert.equal(BigInt(refunds[0].amount), REWARD * BigInt(100 - N));
  const r = (await api(srv.base, 'GET', `/v1/accounts/${researcher.address}/balance`)).body;
  assert.equal(BigInt(r.available), 1000n - REWARD * BigInt(N));
  assert.equal(r.escrowed, '0');
  // The whole ledger still verifies: hash chain, signatures, balances.
  const v = await srv.cli(['verify', '--url', srv.base]);
  assert.equal(v.code, 0, v.stdout + v.stderr);
});

test('random SIGKILLs during releases never pay twice', async () => {
  await restart({});
  const researcher = Wallet.createRandom();
  const rtoken = await signIn(srv.base, researcher);
  await api(srv.base, 'PUT', '/v1/me/profile', { token: rtoken, json: { roles: ['researcher'] } });
  assert.equal((await srv.cli(['ledger', 'deposit', '--address', researcher.address, '--amount', '100000'])).code, 0);
  const people = await pool(Array.from({ length: 20 }, (_, i) => i), 10, async () => {
    const w = Wallet.createRandom();
    const token = await signIn(srv.base, w);
    await api(srv.base, 'PUT', '/v1/me/profile', { token, json: { consent_profile: { purposes: ['crash-test'] } } });
    return { w, token };
  });
  const ids = [];
  for (let round = 0; round < 5; round++) {
    const created = await api(srv.base, 'POST', '/v1/requests', { token: rtoken, json: {
      title: `random ${round}`, purpose: 'crash-test',
      schema: { fields: [{ name: 'age', type: 'integer', min: 0, max: 120, role: 'quasi-identifier' }] },
      privacy: { mode: 'k-anonymity', k: 2 }, reward: '3', min_contributors: 2, max_contributors: 50,
      closes_at: new Date(Date.now() + 3600e3).toISOString() } });
    const req = created.body;
    ids.push(req.id);
    await pool(people, 10, async (p, i) => {
      assert.equal((await consent(srv.base, p.w, p.token, req.id)).status, 201);
      assert.equal((await contribute(srv.base, p.token, req, { age: 30 + (i % 5) })).status, 201);
    });
    await api(srv.base, 'POST', `/v1/requests/${req.id}/close`, { token: rtoken });
    await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 60)));
    await restart({}); // SIGKILL wherever the job is, then start again
  }
  for (const id of ids) {
    let status;
    for (let i = 0; i < 200 && status !== 'released'; i++) {
      status = (await api(srv.base, 'GET', `/v1/requests/${id}`, { token: rtoken })).body.status;
      if (status !== 'released') await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(status, 'released');
    const rewards = (await api(srv.base, 'GET', `/v1/ledger/entries?request=${id}&kind=reward&limit=1000`)).body.entries;
    assert.equal(rewards.length, 1);
    assert.equal(rewards[0].refs.credits.count, 20);
    assert.equal(rewards[0].amount, '60');
  }
  for (const p of people) {
    assert.equal((await api(srv.base, 'GET', `/v1/accounts/${p.w.address}/balance`, { token: p.token })).body.earned, '15');
  }
  const b = (await api(srv.base, 'GET', `/v1/accounts/${researcher.address}/balance`)).body;
  assert.equal(b.available, String(100000 - 5 * 20 * 3));
  assert.equal(b.escrowed, '0');
});
