// Operations leak nothing about contributors (issue 14, "Operations"): /metrics is served only on
// its own listener (loopback, or behind a token), and the logs name route templates, never the
// wallet addresses or ids a path carries.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { networkInterfaces } from 'node:os';
import { randomBytes, randomUUID } from 'node:crypto';
import { Wallet } from 'ethers';
import { startCohortd, api, freePort } from './helpers.mjs';
import { signIn } from './market-helpers.mjs';

// An address of this host that is not loopback (null when the host has none).
function outsideAddress() {
  for (const list of Object.values(networkInterfaces()))
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  return null;
}

test('a crawler of the API cannot read /metrics; the metrics listener answers on loopback only', async (t) => {
  const srv = await startCohortd();
  try {
    const r = await api(srv.base, 'GET', '/metrics');
    assert.equal(r.status, 404, 'the API listener serves no metrics');
    assert.match(r.type, /application\/problem\+json/, 'a problem, not the web app shell');
    for (const path of ['/metrics', '/metrics/', '/metrics?x=1', '/v1/metrics', '/METRICS']) {
      const text = await (await fetch(srv.base + path)).text();
      assert.doesNotMatch(text, /cohort_http_requests_total|cohort_build_info/, `${path} on the API`);
    }

    const m = await fetch(`${srv.metricsBase}/metrics`);
    assert.equal(m.status, 200);
    assert.match(await m.text(), /cohort_http_requests_total\{route="unmatched",method="GET",status="404"\}/,
      'the API\'s /metrics 404s are counted as unmatched');
    const other = await api(srv.metricsBase, 'GET', '/healthz');
    assert.equal(other.status, 404, 'the metrics listener serves only /metrics');

    const ip = outsideAddress();
    if (!ip) {
      t.diagnostic('this host has no non-loopback IPv4 address: reachability from outside not tested');
    } else {
      const port = new URL(srv.metricsBase).port;
      await assert.rejects(fetch(`http://${ip}:${port}/metrics`), `metrics reachable at ${ip}:${port}`);
    }
  } finally { await srv.stop(); }
});

test('metrics_listen off loopback is refused without a token, and then asks for it', async () => {
  const port = await freePort();
  await assert.rejects(startCohortd({ COHORT_METRICS_LISTEN: `0.0.0.0:${port}` }),
    /metrics_listen is not a loopback address: set metrics_token/);
  await assert.rejects(startCohortd({ COHORT_METRICS_LISTEN: `0.0.0.0:${port}`, COHORT_METRICS_TOKEN: 'short' }),
    /metrics_token must have at least 16 characters/);

  const token = randomBytes(24).toString('hex');
  const srv = await startCohortd({ COHORT_METRICS_LISTEN: `0.0.0.0:${port}`, COHORT_METRICS_TOKEN: token });
  try {
    const url = `http://127.0.0.1:${port}/metrics`;
    const none = await fetch(url);
    assert.equal(none.status, 401);
    assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer/);
    assert.doesNotMatch(await none.text(), /cohort_/);
    const wrong = await fetch(url, { headers: { Authorization: `Bearer ${token.slice(0, -1)}x` } });
    assert.equal(wrong.status, 401);
    const longer = await fetch(url, { headers: { Authorization: `Bearer ${token}0` } });
    assert.equal(longer.status, 401);
    const ok = await fetch(url, { headers: { Authorization: `Bearer ${token}` } });
    assert.equal(ok.status, 200);
    assert.match(await ok.text(), /cohort_build_info/);
    assert.equal((await api(srv.base, 'GET', '/metrics', { token })).status, 404, 'the token opens nothing on the API');
    const ip = outsideAddress();
    if (ip) assert.equal((await fetch(`http://${ip}:${port}/metrics`)).status, 401, 'reachable from outside, with the token');
  } finally { await srv.stop(); }
});

test('the log and the metrics name route templates, never a contributor address or an id', async () => {
  const srv = await startCohortd();
  const wallet = Wallet.createRandom();
  const hex = wallet.address.slice(2).toLowerCase();
  const id = randomUUID();
  try {
    const token = await signIn(srv.base, wallet);
    for (const addr of [wallet.address, `0x${hex}`, `0x${hex.toUpperCase()}`]) {
      await api(srv.base, 'GET', `/v1/claims/${addr}`);
      await api(srv.base, 'GET', `/v1/claims/${addr}`, { token });
      await api(srv.base, 'GET', `/v1/accounts/${addr}/balance`);
      await api(srv.base, 'GET', `/v1/accounts/${addr}/balance`, { token });
      await api(srv.base, 'GET', `/v1/ledger/entries?account=${addr}&limit=5`);
      await api(srv.base, 'GET', `/v1/claim/${addr}`); // a typo: unmatched
      await api(srv.base, 'GET', `/claims/${addr}`); // a client-side route: the app shell
      await api(srv.base, 'POST', `/v1/claims/${addr}`, { json: {} }); // wrong method
    }
    await api(srv.base, 'GET', `/v1/requests/${id}`, { token });
    await api(srv.base, 'POST', `/v1/requests/${id}/consents`, { token, json: { signature: '0x00' } });

    const metrics = await (await fetch(`${srv.metricsBase}/metrics`)).text();
    assert.ok(!metrics.toLowerCase().includes(hex), 'metrics name no contributor address');
    assert.ok(!metrics.includes(id), 'metrics name no request id');
    assert.match(metrics, /route="\/v1\/claims\/\{address\}"/);
  } finally { await srv.stop(); }

  const log = srv.log();
  const lines = log.split('\n').filter((l) => l.includes('"msg":"request"'));
  assert.ok(lines.length >= 26, `access log has the requests (${lines.length} lines)`);
  assert.ok(!log.toLowerCase().includes(hex), 'the log holds no contributor address (any case)');
  assert.ok(!log.includes(id), 'the log holds no request id');
  assert.ok(!log.includes('limit=5'), 'the log holds no query string');
  assert.ok(log.includes('"route":"/v1/claims/{address}"'), 'the log names the claims template');
  assert.ok(log.includes('"route":"/v1/accounts/{address}/balance"'), 'the log names the balance template');
  assert.ok(log.includes('"route":"/v1/requests/{id}"'), 'the log names the request template');
  for (const l of lines) assert.ok(!('path' in JSON.parse(l)), `no raw path: ${l}`);
});
