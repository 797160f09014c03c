// Crypto-shredding: once a request's retention period is over, its secret key is destroyed
// and its ciphertexts deleted, so nothing contributed to it can ever be read again.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { Wallet } from 'ethers';
import { startCohortd, api } from './helpers.mjs';
import { signIn, consent, contribute, waitForStatus, pool } from './market-helpers.mjs';

let srv;
after(async () => { await srv?.stop(); });

test('after retention the request key is destroyed and the ciphertexts deleted', async () => {
  srv = await startCohortd({ COHORT_SIGNIN_RATE_PER_MIN: '100000', COHORT_RELEASE_POLL_MS: '100' });
  const researcher = Wallet.createRandom();
  const rtoken = await signIn(srv.base, researcher);
  await api(srv.base, 'PUT', '/v1/me/profile', { token: rtoken, json: { roles: ['researcher'] } });
  assert.equal((await srv.cli(['ledger', 'deposit', '--address', researcher.address, '--amount', '100'])).code, 0);
  const created = await api(srv.base, 'POST', '/v1/requests', { token: rtoken, json: {
    title: 'short retention', purpose: 'retention-test',
    schema: { fields: [{ name: 'age', type: 'integer', min: 0, max: 120, role: 'quasi-identifier' }] },
    privacy: { mode: 'k-anonymity', k: 2 }, reward: '1', min_contributors: 2, max_contributors: 10,
    closes_at: new Date(Date.now() + 3600e3).toISOString(), retention_days: 0 } });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const req = created.body;
  const people = await pool([30, 31, 32, 33], 4, async (age) => {
    const w = Wallet.createRandom();
    const token = await signIn(srv.base, w);
    await api(srv.base, 'PUT', '/v1/me/profile', { token, json: { consent_profile: { purposes: ['retention-test'] } } });
    assert.equal((await consent(srv.base, w, token, req.id)).status, 201);
    assert.equal((await contribute(srv.base, token, req, { age })).status, 201);
    return { w, token };
  });
  const id = req.id.slice(2);
  const db = process.env.COH_TEST_DATABASE_URL;
  const count = () => Number(execFileSync('psql', [db, '-tAc', `SELECT count(*) FROM contributions WHERE request_id = decode('${id}', 'hex')`]).toString());
  assert.equal(count(), 4, 'the ciphertexts are stored until the release');
  assert.equal((await api(srv.base, 'POST', `/v1/requests/${req.id}/close`, { token: rtoken })).status, 202);
  await waitForStatus(srv.base, rtoken, req.id, ['released']);
  let view;
  for (let i = 0; i < 100; i++) {
    view = (await api(srv.base, 'GET', `/v1/requests/${req.id}`, { token: rtoken })).body;
    if (view.shredded) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(view.shredded, true, 'the secret key is gone');
  assert.equal(count(), 0, 'the ciphertexts are deleted');
  const key = execFileSync('psql', [db, '-tAc', `SELECT secret_key_wrapped IS NULL FROM requests WHERE id = decode('${id}', 'hex')`]).toString().trim();
  assert.equal(key, 't');
  // The release itself stays available to its owner.
  assert.equal((await api(srv.base, 'GET', `/v1/requests/${req.id}/release`, { token: rtoken })).status, 200);
  // Nobody can contribute any more.
  const late = await contribute(srv.base, people[0].token, req, { age: 40 });
  assert.equal(late.status, 409);
});
