// Contributor floors and the version-2 consent, through the API as a contributor's wallet sees
// it (docs/PRIVACY.md, "Each contributor's own floors, and what a consent signs"):
// - a contributor's own floors (min_k, max_epsilon, statistics_only) hide requests below them
//   from the inbox and refuse a consent to them; PUT /v1/me/profile keeps what it omits;
// - the consent signs the request's terms: the test computes termsHash itself (RFC 8785 JSON of
//   the public request's terms, Keccak-256 by ethers), builds the EIP-712 Consent from the
//   design's type and signs it with an ethers wallet, and cohortd accepts exactly that;
// - a consent over other terms (tampered termsHash or privacy text) or of wave 1's type is
//   refused with problem+json; a stored wave-1 consent still verifies.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Wallet, keccak256, toUtf8Bytes, verifyTypedData } from 'ethers';
import { startCohortd, api } from './helpers.mjs';
import { signIn, contribute, cliContributor } from './market-helpers.mjs';

const REWARD = 10n ** 18n;
const PURPOSE = `consent-terms-${process.pid}`;
const schema = {
  fields: [
    { name: 'age', type: 'integer', unit: 'years', min: 18, max: 100, role: 'quasi-identifier' },
    { name: 'diagnosis', type: 'category', categories: ['a', 'b', 'c'], role: 'sensitive' },
  ],
};
const dpSchema = {
  fields: [
    { name: 'age', type: 'integer', min: 18, max: 100, role: 'quasi-identifier' },
    { name: 'steps', type: 'integer', min: 0, max: 100000, role: 'measure' },
  ],
};

// The design's types, written here rather than taken from the server.
const CONSENT_V2 = [
  { name: 'requestId', type: 'bytes32' }, { name: 'termsHash', type: 'bytes32' },
  { name: 'purpose', type: 'string' }, { name: 'privacy', type: 'string' },
  { name: 'reward', type: 'uint256' }, { name: 'expiry', type: 'uint64' },
  { name: 'contributor', type: 'address' },
];
const CONSENT_V1 = [
  { name: 'requestId', type: 'bytes32' }, { name: 'fieldsHash', type: 'bytes32' },
  { name: 'purpose', type: 'string' }, { name: 'reward', type: 'uint256' },
  { name: 'expiry', type: 'uint64' }, { name: 'contributor', type: 'address' },
];

// RFC 8785 for the JSON a request holds (strings, integers, finite numbers, objects, arrays):
// keys sorted by UTF-16 code units, numbers as ECMAScript prints them.
function canonical(v) {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}
// docs/API.md: the API writes privacy.delta and max_suppression as decimal strings; the
// hashed terms hold them as numbers (as wave 2 signed them).
const hashedPrivacy = (p) => Object.fromEntries(Object.entries(p).map(([k, v]) =>
  [k, (k === 'delta' || k === 'max_suppression') && typeof v === 'string' ? Number(v) : v]));
const termsOf = (r) => ({
  schema: r.schema, privacy: hashedPrivacy(r.privacy), eligibility: r.eligibility ?? {}, enrollment: 'open',
  retention_days: r.retention_days, purpose: r.purpose,
});
const termsHash = (r) => keccak256(toUtf8Bytes(canonical(termsOf(r))));

function assertProblem(r, status, type) {
  assert.equal(r.status, status, JSON.stringify(r.body));
  assert.equal(r.type, 'application/problem+json');
  assert.equal(r.body.status, status);
  if (type) assert.equal(r.body.type, `urn:cohort:problem:${type}`);
  assert.ok(r.body.detail.length > 0);
}

let srv, rtoken;
const req = {};
before(async () => {
  srv = await startCohortd({ COHORT_SIGNIN_RATE_PER_MIN: '100000' });
  const researcher = Wallet.createRandom();
  rtoken = await signIn(srv.base, researcher);
  assert.equal((await api(srv.base, 'PUT', '/v1/me/profile', { token: rtoken, json: { roles: ['researcher'] } })).status, 200);
  const d = await srv.cli(['ledger', 'deposit', '--address', researcher.address, '--amount', (100n * REWARD).toString()]);
  assert.equal(d.code, 0, d.stderr);
  const post = async (name, s, privacy, min = 10) => {
    const r = await api(srv.base, 'POST', '/v1/requests', { token: rtoken, json: {
      title: name, purpose: PURPOSE, schema: s, eligibility: {}, privacy, reward: REWARD.toString(),
      min_contributors: min, max_contributors: 10, closes_at: new Date(Date.now() + 3600e3).toISOString(),
      retention_days: 30,
    } });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    req[name] = r.body;
  };
  await post('k5', schema, { mode: 'k-anonymity', k: 5 });
  await post('k10', schema, { mode: 'k-anonymity', k: 10 });
  await post('dp1', dpSchema, { mode: 'dp', epsilon: '1', queries: ['count', 'mean(steps)'] }, 1);
  await post('dp05', dpSchema, { mode: 'dp', epsilon: '0.5', queries: ['count'] }, 1);
});
after(async () => { await srv?.stop(); });

async function contributor(floors = {}) {
  const w = Wallet.createRandom();
  const token = await signIn(srv.base, w);
  const p = await api(srv.base, 'PUT', '/v1/me/profile', { token, json: { consent_profile: { purposes: [PURPOSE], ...floors } } });
  assert.equal(p.status, 200, JSON.stringify(p.body));
  return { w, token };
}

async function inboxNames(token) {
  const r = await api(srv.base, 'GET', '/v1/me/inbox', { token });
  assert.equal(r.status, 200);
  const ids = new Set(r.body.requests.map((x) => x.request.id));
  return Object.keys(req).filter((n) => ids.has(req[n].id)).sort();
}

// The Consent a wallet builds itself from the public request and the server's domain.
async function ownConsent(c, r, patch = {}) {
  const pub = await api(srv.base, 'GET', `/v1/requests/${r.id}`);
  assert.equal(pub.status, 200);
  const me = await api(srv.base, 'GET', `/v1/requests/${r.id}/consents/me`, { token: c.token });
  assert.equal(me.status, 200, JSON.stringify(me.body));
  const domain = pub.body.consent_domain;
  const message = {
    requestId: r.id, termsHash: termsHash(pub.body), purpose: pub.body.purpose,
    privacy: me.body.typed_data.message.privacy, reward: pub.body.reward,
    expiry: String(pub.body.consent_expiry), contributor: c.w.address, ...patch,
  };
  return { domain, message, served: me.body };
}

test('a contributor\'s floors hide requests below them, and the profile keeps what a PUT omits', async () => {
  const plain = await contributor();
  assert.deepEqual(await inboxNames(plain.token), ['dp05', 'dp1', 'k10', 'k5']);

  const minK = await contributor({ min_k: 10 });
  assert.deepEqual(await inboxNames(minK.token), ['dp05', 'dp1', 'k10'], 'min_k 10 hides the k=5 request');
  const stats = await contributor({ statistics_only: true });
  assert.deepEqual(await inboxNames(stats.token), ['dp05', 'dp1'], 'statistics only hides k-anonymity');
  const eps = await contributor({ max_epsilon: '0.5' });
  assert.deepEqual(await inboxNames(eps.token), ['dp05', 'k10', 'k5'], 'max_epsilon 0.5 hides the epsilon=1 request');

  // A request hidden by a floor cannot be consented to either.
  const { domain, message } = await ownConsent(minK, req.k5);
  const signature = await minK.w.signTypedData(domain, { Consent: CONSENT_V2 }, message);
  assertProblem(await api(srv.base, 'POST', `/v1/requests/${req.k5.id}/consents`, { token: minK.token, json: { signature } }), 403, 'not-eligible');

  // PUT changes what it names: the purposes and min_k stay when only max_epsilon is sent.
  let p = await api(srv.base, 'PUT', '/v1/me/profile', { token: minK.token, json: { consent_profile: { max_epsilon: '0.5' } } });
  assert.equal(p.status, 200, JSON.stringify(p.body));
  assert.deepEqual(p.body.consent_profile.purposes, [PURPOSE]);
  assert.equal(p.body.consent_profile.min_k, 10);
  assert.equal(p.body.consent_profile.max_epsilon, '0.5');
  assert.equal(p.body.consent_profile.statistics_only, false);
  assert.deepEqual(p.body.roles, ['contributor']);
  assert.deepEqual(await inboxNames(minK.token), ['dp05', 'k10']);
  p = await api(srv.base, 'PUT', '/v1/me/profile', { token: minK.token, json: { display_name: 'C', consent_profile: { min_k: null, max_epsilon: null } } });
  assert.equal(p.status, 200);
  assert.equal(p.body.consent_profile.min_k, null);
  assert.equal(p.body.consent_profile.max_epsilon, null);
  assert.deepEqual(p.body.consent_profile.purposes, [PURPOSE]);
  assert.deepEqual(await inboxNames(minK.token), ['dp05', 'dp1', 'k10', 'k5']);

  // Strict validation, naming the member.
  for (const [cp, member] of [
    [{ min_k: 1 }, 'consent_profile.min_k'], [{ min_k: '10' }, 'consent_profile.min_k'],
    [{ min_k: 10.5 }, 'consent_profile.min_k'], [{ max_epsilon: '0' }, 'consent_profile.max_epsilon'],
    [{ max_epsilon: 0.5 }, 'consent_profile.max_epsilon'], [{ max_epsilon: '0.1234567' }, 'consent_profile.max_epsilon'],
    [{ max_epsilon: '1e-1' }, 'consent_profile.max_epsilon'], [{ statistics_only: 'yes' }, 'consent_profile.statistics_only'],
  ]) {
    const r = await api(srv.base, 'PUT', '/v1/me/profile', { token: minK.token, json: { consent_profile: cp } });
    assertProblem(r, 422, 'invalid');
    assert.ok(r.body.detail.includes(member), `${JSON.stringify(cp)}: ${r.body.detail}`);
  }
  const after = await api(srv.base, 'GET', '/v1/me/profile', { token: minK.token });
  assert.equal(after.body.consent_profile.min_k, null, 'a refused PUT changes nothing');
});

test('the consent signs the terms: a wallet\'s own v2 Consent is accepted, other terms are refused', async () => {
  const c = await contributor();
  const r = req.k10;
  const { domain, message, served } = await ownConsent(c, r);

  // What the server serves is what the wallet computed on its own.
  assert.equal(domain.version, '2');
  assert.equal(served.typed_data.domain.version, '2');
  assert.deepEqual(served.typed_data.types.Consent, CONSENT_V2);
  assert.equal(served.typed_data.message.termsHash, message.termsHash);
  assert.equal(keccak256(toUtf8Bytes(canonical(served.terms))), message.termsHash);
  assert.equal(message.privacy, 'k-anonymity k=10, l=2 on diagnosis; encrypted records destroyed 30 days after release');
  const dp = await ownConsent(c, req.dp1);
  assert.equal(dp.message.privacy, 'differential privacy ε=1 (laplace): count, mean(steps); encrypted records destroyed 30 days after release');

  // Signed over other terms: a termsHash of k=2, or a privacy text that says more than the terms.
  const k2 = termsHash({ ...r, privacy: { ...r.privacy, k: 2 } });
  for (const patch of [{ termsHash: k2 }, { privacy: 'k-anonymity k=100; encrypted records destroyed at release' }]) {
    const bad = await c.w.signTypedData(domain, { Consent: CONSENT_V2 }, { ...message, ...patch });
    assertProblem(await api(srv.base, 'POST', `/v1/requests/${r.id}/consents`, { token: c.token, json: { signature: bad } }), 401, 'consent-signature-mismatch');
  }
  // Wave 1's Consent (the schema's hash only) is not enough for a new consent.
  const v1 = await c.w.signTypedData({ ...domain, version: '1' }, { Consent: CONSENT_V1 }, {
    requestId: r.id, fieldsHash: r.fields_hash, purpose: r.purpose, reward: r.reward,
    expiry: String(r.consent_expiry), contributor: c.w.address });
  assertProblem(await api(srv.base, 'POST', `/v1/requests/${r.id}/consents`, { token: c.token, json: { signature: v1 } }), 422, 'outdated-consent');
  assert.equal((await api(srv.base, 'GET', `/v1/requests/${r.id}/consents/me`, { token: c.token })).body.signature, null);

  // The wallet's own v2 Consent, signed by ethers, verified by cohortd.
  const signature = await c.w.signTypedData(domain, { Consent: CONSENT_V2 }, message);
  const ok = await api(srv.base, 'POST', `/v1/requests/${r.id}/consents`, { token: c.token, json: { signature } });
  assert.equal(ok.status, 201, JSON.stringify(ok.body));
  assert.equal(ok.body.version, 2);
  assert.equal(ok.body.terms_hash, message.termsHash);
  assert.equal(ok.body.privacy, message.privacy);
  const { EIP712Domain, ...types } = ok.body.typed_data.types;
  assert.equal(verifyTypedData(ok.body.typed_data.domain, types, ok.body.typed_data.message, ok.body.signature), c.w.address);

  // The stored consent shows what was signed, even if the request's stored form were rewritten.
  execFileSync('psql', [process.env.COH_TEST_DATABASE_URL, '-qXc',
    `UPDATE requests SET retention_days = 31 WHERE id = decode('${r.id.slice(2)}', 'hex')`]);
  const later = await api(srv.base, 'GET', `/v1/requests/${r.id}/consents/me`, { token: c.token });
  assert.equal(later.body.typed_data.message.termsHash, message.termsHash);
  assert.equal(later.body.typed_data.message.privacy, message.privacy);
  assert.equal(verifyTypedData(later.body.typed_data.domain, types, later.body.typed_data.message, later.body.signature), c.w.address);
  assert.notEqual(keccak256(toUtf8Bytes(canonical(later.body.terms))), message.termsHash, 'the terms shown now are the rewritten ones');
});

test('a stored wave-1 consent keeps verifying as version 1, and stays live', async () => {
  const c = await contributor();
  const r = req.k5;
  const domain = { ...(await api(srv.base, 'GET', `/v1/requests/${r.id}`)).body.consent_domain, version: '1' };
  const message = { requestId: r.id, fieldsHash: r.fields_hash, purpose: r.purpose, reward: r.reward,
    expiry: String(r.consent_expiry), contributor: c.w.address };
  const signature = await c.w.signTypedData(domain, { Consent: CONSENT_V1 }, message);
  // As wave 1 stored it (the version column defaults to 1 for those rows).
  execFileSync('psql', [process.env.COH_TEST_DATABASE_URL, '-qXc',
    `INSERT INTO consents (request_id, contributor, signature, expiry) VALUES (decode('${r.id.slice(2)}', 'hex'), '${c.w.address.toLowerCase()}', decode('${signature.slice(2)}', 'hex'), ${r.consent_expiry})`]);
  const me = await api(srv.base, 'GET', `/v1/requests/${r.id}/consents/me`, { token: c.token });
  assert.equal(me.status, 200);
  assert.equal(me.body.version, 1);
  assert.equal(me.body.typed_data.domain.version, '1');
  assert.deepEqual(me.body.typed_data.types.Consent, CONSENT_V1);
  const { EIP712Domain, ...types } = me.body.typed_data.types;
  assert.equal(verifyTypedData(me.body.typed_data.domain, types, me.body.typed_data.message, me.body.signature), c.w.address);
  const sent = await contribute(srv.base, c.token, r, { age: 40, diagnosis: 'a' });
  assert.equal(sent.status, 201, JSON.stringify(sent.body));
});

test('cohort contribute computes the terms itself and refuses a consent over other terms', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'coh-consent-'));
  const rec = join(dir, 'record.json');
  try {
    const { key, token } = await cliContributor(srv, dir, PURPOSE);
    writeFileSync(rec, JSON.stringify({ age: 40, diagnosis: 'b' }));
    const r = req.k5;

    // A server (here a proxy in front of cohortd) offering the consent over other terms.
    const proxy = createServer(async (q, res) => {
      const chunks = [];
      for await (const c of q) chunks.push(c);
      const up = await fetch(srv.base + q.url, { method: q.method, headers: { authorization: q.headers.authorization ?? '', 'content-type': q.headers['content-type'] ?? 'application/json' }, body: chunks.length ? Buffer.concat(chunks) : undefined });
      let text = await up.text();
      if (q.method === 'GET' && q.url.endsWith('/consents/me')) {
        const body = JSON.parse(text);
        body.typed_data.message.termsHash = termsHash({ ...r, retention_days: 3650 });
        text = JSON.stringify(body);
      }
      res.writeHead(up.status, { 'content-type': up.headers.get('content-type') ?? 'application/json' });
      res.end(text);
    });
    await new Promise((ok) => proxy.listen(0, '127.0.0.1', ok));
    const via = `http://127.0.0.1:${proxy.address().port}`;
    const bad = await srv.cli(['contribute', '--request', r.id, '--record', rec, '--url', via, '--token', token, '--key', key]);
    proxy.close();
    assert.notEqual(bad.code, 0);
    assert.equal(bad.stdout, '');
    assert.match(bad.stderr, /names other terms than request .* shows .*refusing to sign/);
    assert.equal((await api(srv.base, 'GET', `/v1/requests/${r.id}/consents/me`, { token })).body.signature, null, 'nothing was signed');

    const good = await srv.cli(['contribute', '--request', r.id, '--record', rec, '--url', srv.base, '--token', token, '--key', key]);
    assert.equal(good.code, 0, good.stderr);
    assert.match(good.stdout, /consent given: k-anonymity k=5, l=2 on diagnosis; encrypted records destroyed 30 days after release\)$/m);
    assert.equal((await api(srv.base, 'GET', `/v1/requests/${r.id}/consents/me`, { token })).body.version, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('floors raised by the operator after posting: the inbox offers such requests no more, except to those who consented', async () => {
  const mine = await contributor();
  const { domain, message } = await ownConsent(mine, req.k5);
  const signature = await mine.w.signTypedData(domain, { Consent: CONSENT_V2 }, message);
  assert.equal((await api(srv.base, 'POST', `/v1/requests/${req.k5.id}/consents`, { token: mine.token, json: { signature } })).status, 201);

  // The same database, served with k >= 10 and epsilon <= 0.5.
  const raised = await startCohortd({ COHORT_SIGNIN_RATE_PER_MIN: '100000', COHORT_PRIVACY_MIN_K: '10', COHORT_PRIVACY_MAX_EPSILON: '0.5' });
  try {
    const fresh = await contributor();
    const seen = async (token) => {
      const r = await api(raised.base, 'GET', '/v1/me/inbox', { token });
      assert.equal(r.status, 200);
      const ids = new Set(r.body.requests.map((x) => x.request.id));
      return Object.keys(req).filter((n) => ids.has(req[n].id)).sort();
    };
    assert.deepEqual(await seen(fresh.token), ['dp05', 'k10'], 'k=5 and epsilon=1 are below the raised floors');
    assert.deepEqual(await seen(mine.token), ['dp05', 'k10', 'k5'], 'a consent already given stays visible, to be revoked');
    const c = await ownConsent(fresh, req.k5);
    const sig = await fresh.w.signTypedData(c.domain, { Consent: CONSENT_V2 }, c.message);
    const r = await api(raised.base, 'POST', `/v1/requests/${req.k5.id}/consents`, { token: fresh.token, json: { signature: sig } });
    assertProblem(r, 403, 'not-eligible');
    assert.match(r.body.detail, /operator's privacy floors/);
  } finally {
    await raised.stop();
  }
});
