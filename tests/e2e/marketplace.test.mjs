// The marketplace end to end: one researcher and 200 contributors whose records are the first
// 200 rows of the Pima diabetes data set. Sign-in, private matching, EIP-712 consent, records
// sealed in Node with libsodium-wrappers, releases in both privacy modes, rewards in balances,
// and the authorization rules between users.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Wallet } from 'ethers';
import { ROOT, startCohortd, api, assertReleaseDocumented } from './helpers.mjs';
import { signIn, consent, contribute, seal, waitForStatus, parseCsv, pool, assertGridRelease } from './market-helpers.mjs';

const REWARD = 1000000000000000000n; // 1 token in base units
const rows = parseCsv(readFileSync(join(ROOT, 'tests/e2e/data/diabetes-200.csv'), 'utf8'));
const header = rows[0];
const records = rows.slice(1).filter((r) => r.length === header.length).map((r) => {
  const o = Object.fromEntries(header.map((h, i) => [h, r[i]]));
  return { age: Number(o.age), preg: Number(o.preg), mass: Number(o.mass), class: o.class };
});

const schema = {
  fields: [
    { name: 'age', type: 'integer', unit: 'years', min: 18, max: 100, role: 'quasi-identifier' },
    { name: 'preg', type: 'integer', min: 0, max: 20, role: 'quasi-identifier' },
    { name: 'mass', type: 'decimal', unit: 'kg/m2', min: '0', max: '80', role: 'quasi-identifier' },
    { name: 'class', type: 'category', categories: ['tested_positive', 'tested_negative'], role: 'sensitive' },
  ],
};

let srv, researcher, rtoken;
const people = [];
before(async () => {
  srv = await startCohortd({ COHORT_SIGNIN_RATE_PER_MIN: '100000', COHORT_RELEASE_POLL_MS: '100' });
  researcher = Wallet.createRandom();
  rtoken = await signIn(srv.base, researcher);
  const p = await api(srv.base, 'PUT', '/v1/me/profile', { token: rtoken, json: { roles: ['researcher'], display_name: 'Lab' } });
  assert.equal(p.status, 200);
  const d = await srv.cli(['ledger', 'deposit', '--address', researcher.address, '--amount', (1000n * REWARD).toString()]);
  assert.equal(d.code, 0, d.stderr);
  // 200 contributors with consent profiles; five of them decline the purpose.
  await pool(records, 16, async (rec, i) => {
    const w = Wallet.createRandom();
    const token = await signIn(srv.base, w);
    const purposes = i % 40 === 39 ? ['marketing'] : ['academic-research'];
    const r = await api(srv.base, 'PUT', '/v1/me/profile', { token, json: {
      roles: ['contributor'],
      consent_profile: { categories: ['health'], purposes, attributes: { sex: 'female' }, lifetime_epsilon: '5' },
    } });
    assert.equal(r.status, 200);
    people[i] = { w, token, rec, declines: purposes[0] === 'marketing' };
  });
});
after(async () => { await srv?.stop(); });

function requestBody(privacy, extra = {}) {
  return {
    title: 'Glucose and BMI in adult women', description: 'Pima cohort replication',
    purpose: 'academic-research', schema,
    eligibility: { sex: ['female'], categories: ['health'] }, privacy,
    reward: REWARD.toString(), min_contributors: 20, max_contributors: 200,
    closes_at: new Date(Date.now() + 3600e3).toISOString(), retention_days: 30, ...extra,
  };
}

// A contributor's earnings are served to that contributor alone: pass their token.
async function balance(addr, token) {
  const b = await api(srv.base, 'GET', `/v1/accounts/${addr}/balance`, { token });
  assert.equal(b.status, 200);
  return b.body;
}

test('request creation validates every rule and locks the escrow', async () => {
  const bad = [
    [{ privacy: { mode: 'k-anonymity', k: 1 } }, /privacy\.k/],
    [{ privacy: { mode: 'dp', epsilon: '0', queries: ['count'] } }, /privacy\.epsilon/],
    [{ reward: '0' }, /^reward/],
    [{ min_contributors: 50, max_contributors: 10 }, /min_contributors/],
    [{ closes_at: '2020-01-01T00:00:00Z' }, /closes_at/],
    [{ schema: { fields: [{ name: 'x', type: 'blob', role: 'measure' }] } }, /schema\.fields\[0\]\.type/],
  ];
  for (const [patch, re] of bad) {
    const r = await api(srv.base, 'POST', '/v1/requests', { token: rtoken, json: { ...requestBody({ mode: 'k-anonymity', k: 5 }), ...patch } });
    assert.equal(r.status, 422, JSON.stringify(r.body));
    assert.equal(r.type, 'application/problem+json');
    assert.match(r.body.detail, re);
  }
  const poor = Wallet.createRandom();
  const ptoken = await signIn(srv.base, poor);
  await api(srv.base, 'PUT', '/v1/me/profile', { token: ptoken, json: { roles: ['researcher'] } });
  const r = await api(srv.base, 'POST', '/v1/requests', { token: ptoken, json: requestBody({ mode: 'k-anonymity', k: 5 }) });
  assert.equal(r.status, 402);
  assert.equal(r.body.type, 'urn:cohort:problem:insufficient-funds');
  const c = await api(srv.base, 'POST', '/v1/requests', { token: people[0].token, json: requestBody({ mode: 'k-anonymity', k: 5 }) });
  assert.equal(c.status, 403, 'a contributor-only account cannot post requests');
});

async function runRequest(privacy, opts = {}) {
  const before = await balance(researcher.address);
  const created = await api(srv.base, 'POST', '/v1/requests', { token: rtoken, json: requestBody(privacy) });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const req = created.body;
  assert.equal(req.escrow, (REWARD * 200n).toString());
  const after = await balance(researcher.address);
  assert.equal(BigInt(before.available) - BigInt(after.available), REWARD * 200n);

  // Matching is private and per contributor: decliners do not see it, the others do.
  const outcome = await pool(people, 16, async (p) => {
    const inbox = await api(srv.base, 'GET', '/v1/me/inbox', { token: p.token });
    assert.equal(inbox.status, 200);
    const seen = inbox.body.requests.some((x) => x.request.id === req.id);
    assert.equal(seen, !p.declines);
    const c = await consent(srv.base, p.w, p.token, req.id);
    if (p.declines) { assert.equal(c.status, 403); return 'declined'; }
    assert.equal(c.status, 201, JSON.stringify(c.body));
    const s = await contribute(srv.base, p.token, req, p.rec);
    assert.equal(s.status, 201, JSON.stringify(s.body));
    return 'contributed';
  });
  const contributed = people.filter((_, i) => outcome[i] === 'contributed');
  // One contributor revokes: the contribution is deleted and never released or paid.
  const revoker = contributed[0];
  assert.equal((await api(srv.base, 'DELETE', `/v1/requests/${req.id}/consents/me`, { token: revoker.token })).status, 204);
  const view = await api(srv.base, 'GET', `/v1/requests/${req.id}`, { token: rtoken });
  assert.equal(view.body.contributions, contributed.length - 1, 'the owner sees counts only');
  assert.equal((await api(srv.base, 'GET', `/v1/requests/${req.id}`, { token: revoker.token })).body.contributions, null);

  // Nobody but the owner closes or reads the release.
  assert.equal((await api(srv.base, 'POST', `/v1/requests/${req.id}/close`, { token: revoker.token })).status, 403);
  assert.equal((await api(srv.base, 'POST', `/v1/requests/${req.id}/close`, { token: rtoken })).status, 202);
  const done = await waitForStatus(srv.base, rtoken, req.id, ['released', 'failed']);
  assert.equal(done.status, 'released');
  assert.equal((await api(srv.base, 'GET', `/v1/requests/${req.id}/release`, { token: revoker.token })).status, 403);
  assert.equal((await api(srv.base, 'GET', `/v1/requests/${req.id}/release`)).status, 401);
  const rel = await api(srv.base, 'GET', `/v1/requests/${req.id}/release`, { token: rtoken });
  assert.equal(rel.status, 200);
  assertReleaseDocumented(rel.body); // the report's schema in openapi.yaml covers what it holds

  // Rewards: every contributor whose record was accepted earned exactly one reward (also if
  // their row was suppressed); the revoker nothing; the rest of the escrow went back to the
  // researcher. A DP release does not say how many it includes.
  const included = contributed.length - 1;
  if (rel.body.mode === 'dp') assert.equal(rel.body.included, null);
  else assert.ok(rel.body.included <= included);
  const earned = await pool(contributed, 16, async (p) => BigInt((await balance(p.w.address, p.token)).earned));
  const paid = earned.filter((e) => e > 0n).length;
  assert.equal(paid, included);
  assert.ok(earned.every((e) => e === 0n || e % REWARD === 0n));
  assert.equal(BigInt((await balance(revoker.w.address, revoker.token)).earned) % REWARD, BigInt(opts.revokerEarnedBefore ?? 0n) % REWARD);
  const final = await balance(researcher.address);
  assert.equal(BigInt(before.available) - BigInt(final.available), REWARD * BigInt(included));
  return { req, rel: rel.body, contributed: contributed.slice(1) };
}

test('a k-anonymous release: every class has k rows and 2 distinct classes, sensitive values untouched', async () => {
  const { rel, contributed } = await runRequest({ mode: 'k-anonymity', k: 5, l: 2, l_kind: 'distinct', max_suppression: '0' });
  assert.equal(rel.mode, 'k-anonymity');
  assert.equal(rel.included, contributed.length);
  const csv = await api(srv.base, 'GET', `/v1/requests/${rel.request_id}/release?format=csv`, { token: rtoken });
  assert.match(csv.type, /^text\/csv/);
  const table = parseCsv(csv.body);
  assert.deepEqual(table[0], ['age', 'preg', 'mass', 'class']);
  const data = table.slice(1);
  assert.equal(data.length, contributed.length);
  const classes = new Map();
  for (const r of data) {
    const key = `${r[0]}|${r[1]}`;
    if (!classes.has(key)) classes.set(key, []);
    classes.get(key).push(r);
  }
  for (const [key, members] of classes) {
    assert.ok(members.length >= 5, `class ${key} has ${members.length} rows`);
    assert.ok(new Set(members.map((m) => m[3])).size >= 2, `class ${key} is not 2-diverse`);
  }
  // Sensitive values are released as contributed (as multisets); every other field is
  // generalized: no column leaves unprotected.
  const sent = contributed.map((p) => p.rec.class).sort();
  assert.deepEqual(data.map((r) => r[3]).sort(), sent);
  // Every numeric interval end is a grid point of the schema, never a contributed value.
  assert.equal(assertGridRelease(csv.body, rel.report, schema), 3 * data.length);
  assert.ok(rel.report.ncp >= 0 || rel.report.metrics, 'the report carries loss metrics');
});

test('a differentially private release stays within its stated error bounds', async () => {
  const { rel, contributed } = await runRequest(
    { mode: 'dp', epsilon: '1', mechanism: 'laplace', queries: ['count', 'mean(age)', 'histogram(class)'] },
    { revokerEarnedBefore: REWARD });
  assert.equal(rel.mode, 'dp');
  const stats = JSON.parse(rel.content);
  const count = stats.results.find((r) => r.query === 'count');
  // 5x the 95% bound: a false failure has probability below 1e-6.
  assert.ok(Math.abs(count.value - contributed.length) <= 5 * count.error_bound_95, JSON.stringify(count));
  const mean = stats.results.find((r) => r.query === 'mean(age)');
  const trueMean = contributed.reduce((a, p) => a + p.rec.age, 0) / contributed.length;
  assert.ok(Math.abs(mean.value - trueMean) <= 5 * mean.error_bound_95, JSON.stringify(mean));
  // The contributors' lifetime epsilon was spent.
  const prof = await api(srv.base, 'GET', '/v1/me/profile', { token: contributed[0].token });
  assert.equal(prof.body.consent_profile.epsilon_spent, '1');
});

test('no contribution without consent, and no access to other users\' inbox or profile', async () => {
  const created = await api(srv.base, 'POST', '/v1/requests', { token: rtoken, json: requestBody({ mode: 'k-anonymity', k: 5 }) });
  assert.equal(created.status, 201);
  const p = people[3];
  const r = await contribute(srv.base, p.token, created.body, p.rec);
  assert.equal(r.status, 403);
  assert.equal(r.type, 'application/problem+json');
  // A consent signed by another wallet is refused.
  const t = await api(srv.base, 'GET', `/v1/requests/${created.body.id}/consents/me`, { token: p.token });
  const { EIP712Domain, ...types } = t.body.typed_data.types;
  const forged = await people[4].w.signTypedData(t.body.typed_data.domain, types, t.body.typed_data.message);
  const f = await api(srv.base, 'POST', `/v1/requests/${created.body.id}/consents`, { token: p.token, json: { signature: forged } });
  assert.equal(f.status, 401);
  // Inbox and profile are always the caller's own: there is no route to anyone else's.
  const inbox = await api(srv.base, 'GET', '/v1/me/inbox', { token: p.token });
  assert.ok(inbox.body.notices.every((n) => n.kind));
  assert.equal((await api(srv.base, 'GET', '/v1/me/inbox')).status, 401);
  // A record outside the schema is refused with the field named, never echoed.
  await consent(srv.base, p.w, p.token, created.body.id);
  const bad = await contribute(srv.base, p.token, created.body, { ...p.rec, age: 250 });
  assert.equal(bad.status, 422);
  assert.match(bad.body.detail, /age/);
  assert.ok(!bad.body.detail.includes('250'));
});

// docs/API.md: each refusal has its own problem type, consents/me has one shape whatever the
// consent's state, and sealed is 0x hex (wave 1's base64 still accepted).
test('distinct refusals, one consent shape, sealed as hex or (deprecated) base64', async () => {
  const created = await api(srv.base, 'POST', '/v1/requests', { token: rtoken, json: requestBody({ mode: 'k-anonymity', k: 2 }, { min_contributors: 2, max_contributors: 2 }) });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const req = created.body;
  const [a, b, c, d] = people.filter((p) => !p.declines);
  const type = (r) => r.body?.type?.replace('urn:cohort:problem:', '');
  const me = async (p) => (await api(srv.base, 'GET', `/v1/requests/${req.id}/consents/me`, { token: p.token })).body;
  const members = ['request_id', 'contributor', 'status', 'signature', 'expiry', 'version', 'terms_hash', 'privacy', 'created_at', 'revoked_at', 'typed_data', 'terms'];
  const none = await me(a);
  assert.deepEqual(Object.keys(none).sort(), [...members].sort());
  assert.equal(none.status, 'none');
  assert.equal(none.signature, null);
  assert.equal(none.contributor, a.w.address.toLowerCase());
  assert.equal(none.typed_data.domain.chainId, 31337);
  assert.equal(typeof none.typed_data.message.expiry, 'number');
  assert.match(none.typed_data.message.contributor, /^0x[0-9a-f]{40}$/);
  // No consent: consent-missing.
  const missing = await contribute(srv.base, a.token, req, a.rec);
  assert.equal(missing.status, 403);
  assert.equal(type(missing), 'consent-missing');
  assert.equal((await consent(srv.base, a.w, a.token, req.id)).status, 201);
  const given = await me(a);
  assert.deepEqual(Object.keys(given).sort(), [...members].sort());
  assert.equal(given.status, 'given');
  // Wave 1's base64 is still accepted; hex is what clients send now.
  const old = await api(srv.base, 'POST', `/v1/requests/${req.id}/contributions`, { token: a.token, json: { sealed: await seal(a.rec, req.public_key, { base64: true }) } });
  assert.equal(old.status, 201, JSON.stringify(old.body));
  // ... also a base64 record that happens to begin with "0x" (about one in 4,096): it is not
  // read as hex unless all of it is hex.
  let ox;
  // The search awaits only settled promises, which would starve the event loop: the pooled
  // connection's close by cohortd (idle > 5 s) would go unseen and the next fetch would write
  // to a dead socket ("fetch failed" in a CI run). Yield to it now and then.
  for (let i = 0; i < 200000 && !ox?.startsWith('0x'); i++) {
    if (i % 256 === 0) await new Promise((r) => setImmediate(r));
    ox = await seal(a.rec, req.public_key, { base64: true });
  }
  assert.ok(ox.startsWith('0x'), 'a base64 record beginning with 0x');
  const oxr = await api(srv.base, 'POST', `/v1/requests/${req.id}/contributions`, { token: a.token, json: { sealed: ox } });
  assert.equal(oxr.status, 201, JSON.stringify(oxr.body));
  // Revoked: consent-revoked.
  assert.equal((await api(srv.base, 'DELETE', `/v1/requests/${req.id}/consents/me`, { token: a.token })).status, 204);
  const revoked = await me(a);
  assert.equal(revoked.status, 'revoked');
  assert.deepEqual(Object.keys(revoked).sort(), [...members].sort());
  const after = await contribute(srv.base, a.token, req, a.rec);
  assert.equal(after.status, 403);
  assert.equal(type(after), 'consent-revoked');
  // Full: request-full. The release worker closes a full request at its next sweep (100 ms
  // here), so the last place is raced for: the winner's insert and the losers' wait on the
  // request's row together, before any sweep can take it.
  assert.equal((await consent(srv.base, a.w, a.token, req.id)).status, 201);
  assert.equal((await contribute(srv.base, a.token, req, a.rec)).status, 201);
  for (const p of [b, c, d]) assert.equal((await consent(srv.base, p.w, p.token, req.id)).status, 201);
  const race = await Promise.all([b, c, d].map((p) => contribute(srv.base, p.token, req, p.rec)));
  assert.equal(race.filter((r) => r.status === 201).length, 1, JSON.stringify(race.map((r) => r.body)));
  const losers = race.filter((r) => r.status !== 201);
  for (const r of losers) {
    assert.equal(r.status, 409);
    assert.ok(['request-full', 'request-closed'].includes(type(r)), type(r));
  }
  assert.ok(losers.some((r) => type(r) === 'request-full'), 'a full request answers request-full');
  // Closed (by its owner, or already by the worker since it is full): request-closed.
  const close = await api(srv.base, 'POST', `/v1/requests/${req.id}/close`, { token: rtoken });
  assert.ok(close.status === 202 || type(close) === 'request-closed', JSON.stringify(close.body));
  const loser = [b, c, d][race.findIndex((r) => r.status !== 201)];
  const closed = await contribute(srv.base, loser.token, req, loser.rec);
  assert.equal(closed.status, 409);
  assert.equal(type(closed), 'request-closed');
  const again = await api(srv.base, 'POST', `/v1/requests/${req.id}/close`, { token: rtoken });
  assert.equal(again.status, 409);
  assert.equal(type(again), 'request-closed');
});
