// A request never takes more than max_contributors records: the count is kept in the
// request's row under its lock, a revocation frees a place, and a contributor who already
// has a place may replace their record even when the request is full. Once full, the
// release worker closes the request by itself.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Wallet } from 'ethers';
import { startCohortd, api } from './helpers.mjs';
import { signIn, consent, contribute, waitForStatus, pool } from './market-helpers.mjs';

let srv;
after(async () => { await srv?.stop(); });

test('max_contributors is enforced under concurrency, revocations free places, full requests close', async () => {
  // No release worker at first, so the full request stays open for the checks.
  srv = await startCohortd({ COHORT_SIGNIN_RATE_PER_MIN: '100000', COHORT_RELEASE_WORKERS: '0' });
  const researcher = Wallet.createRandom();
  const rtoken = await signIn(srv.base, researcher);
  await api(srv.base, 'PUT', '/v1/me/profile', { token: rtoken, json: { roles: ['researcher'] } });
  assert.equal((await srv.cli(['ledger', 'deposit', '--address', researcher.address, '--amount', '100'])).code, 0);
  const created = await api(srv.base, 'POST', '/v1/requests', { token: rtoken, json: {
    title: 'capacity', purpose: 'capacity-test',
    schema: { fields: [{ name: 'age', type: 'integer', min: 0, max: 120, role: 'quasi-identifier' }] },
    privacy: { mode: 'k-anonymity', k: 2 }, reward: '1', min_contributors: 2, max_contributors: 5,
    closes_at: new Date(Date.now() + 3600e3).toISOString() } });
  const req = created.body;
  const people = await pool(Array.from({ length: 12 }, (_, i) => i), 12, async (i) => {
    const w = Wallet.createRandom();
    const token = await signIn(srv.base, w);
    await api(srv.base, 'PUT', '/v1/me/profile', { token, json: { consent_profile: { purposes: ['capacity-test'] } } });
    assert.equal((await consent(srv.base, w, token, req.id)).status, 201);
    return { w, token, age: 20 + i };
  });
  // Twelve contributors race for five places.
  const codes = await pool(people, 12, async (p) => (await contribute(srv.base, p.token, req, { age: p.age })).status);
  assert.equal(codes.filter((c) => c === 201).length, 5);
  assert.equal(codes.filter((c) => c === 409).length, 7);
  const view = async () => (await api(srv.base, 'GET', `/v1/requests/${req.id}`, { token: rtoken })).body;
  assert.equal((await view()).contributions, 5);
  const inside = people.filter((_, i) => codes[i] === 201), outside = people.filter((_, i) => codes[i] === 409);
  // A contributor with a place may replace their record while the request is full.
  assert.equal((await contribute(srv.base, inside[0].token, req, { age: 99 })).status, 201);
  assert.equal((await view()).contributions, 5);
  // A revocation frees one place, and exactly one newcomer takes it.
  assert.equal((await api(srv.base, 'DELETE', `/v1/requests/${req.id}/consents/me`, { token: inside[1].token })).status, 204);
  assert.equal((await view()).contributions, 4);
  const second = await pool(outside.slice(0, 3), 3, async (p) => (await contribute(srv.base, p.token, req, { age: p.age })).status);
  assert.equal(second.filter((c) => c === 201).length, 1);
  assert.equal((await view()).contributions, 5);
  // With a release worker, the full request closes and releases by itself.
  await srv.stop();
  srv = await startCohortd({ COHORT_SIGNIN_RATE_PER_MIN: '100000', COHORT_RELEASE_POLL_MS: '100' });
  const done = await waitForStatus(srv.base, rtoken, req.id, ['released', 'failed']);
  assert.equal(done.status, 'released');
  const rel = await api(srv.base, 'GET', `/v1/requests/${req.id}/release`, { token: rtoken });
  assert.equal(rel.body.included, 5);
});
