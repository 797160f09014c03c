// Abuse: a table of hostile requests against a live cohortd. Each must be answered with its
// intended 4xx as application/problem+json (never 500 or 503), and none may change data: the
// balances, the ledger, the victims' profiles, the request, the consent and the contribution
// are compared before and after the whole table. Cases: malformed JSON, huge numbers,
// negative and fractional amounts, unicode tricks (NUL, overlong UTF-8, lone surrogates, RTL
// override, homoglyph addresses), SQL and header injection, path traversal, oversized bodies,
// replayed SIWE and consent signatures, and other users' or revoked tokens on every
// authenticated route. Raw-socket cases send what fetch refuses to (CR/LF, NUL, bad UTF-8).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { Wallet } from 'ethers';
import { SiweMessage } from 'siwe';
import { startCohortd, api } from './helpers.mjs';
import { signIn, consent, contribute, seal } from './market-helpers.mjs';

const REWARD = 1000000000000000000n;
const schema = {
  fields: [
    { name: 'age', type: 'integer', min: 18, max: 100, role: 'quasi-identifier' },
    { name: 'bmi', type: 'decimal', min: '10', max: '60', decimals: 1, role: 'quasi-identifier' },
    { name: 'sex', type: 'category', categories: ['f', 'm'], role: 'sensitive' },
  ],
};
const requestBody = (extra = {}) => ({
  title: 'Abuse target', purpose: 'academic-research', schema,
  privacy: { mode: 'k-anonymity', k: 2 }, reward: REWARD.toString(),
  min_contributors: 2, max_contributors: 10,
  closes_at: new Date(Date.now() + 3600e3).toISOString(), ...extra,
});

let srv, researcher, rtoken, victim, vtoken, attacker, atoken, req1, req2, deadToken;
let victimSiwe, victimConsentSig;

before(async () => {
  srv = await startCohortd({ COHORT_SIGNIN_RATE_PER_MIN: '100000', COHORT_RELEASE_POLL_MS: '100',
    COHORT_MAX_BODY_BYTES: '65536' });
  researcher = Wallet.createRandom();
  victim = Wallet.createRandom();
  attacker = Wallet.createRandom();
  rtoken = await signIn(srv.base, researcher);
  assert.equal((await api(srv.base, 'PUT', '/v1/me/profile', { token: rtoken, json: { roles: ['researcher'], display_name: 'Victim Lab' } })).status, 200);
  for (const w of [researcher, attacker]) {
    const d = await srv.cli(['ledger', 'deposit', '--address', w.address, '--amount', (100n * REWARD).toString()]);
    assert.equal(d.code, 0, d.stderr);
  }
  const c1 = await api(srv.base, 'POST', '/v1/requests', { token: rtoken, json: requestBody() });
  assert.equal(c1.status, 201, JSON.stringify(c1.body));
  req1 = c1.body;
  const c2 = await api(srv.base, 'POST', '/v1/requests', { token: rtoken, json: requestBody({ title: 'Second' }) });
  assert.equal(c2.status, 201);
  req2 = c2.body;

  // The victim contributor: profile, consent (signature kept for replays), contribution. The
  // SIWE message and signature of its sign-in are kept too.
  const n = await api(srv.base, 'GET', '/v1/auth/nonce');
  const message = new SiweMessage({
    domain: new URL(srv.base).host, address: victim.address, statement: 'Sign in to Cohort.',
    uri: srv.base, version: '1', chainId: n.body.chain_id, nonce: n.body.nonce,
    issuedAt: new Date().toISOString(),
  }).prepareMessage();
  victimSiwe = { message, signature: await victim.signMessage(message) };
  const s = await api(srv.base, 'POST', '/v1/auth/siwe', { json: victimSiwe });
  assert.equal(s.status, 200);
  vtoken = s.body.token;
  assert.equal((await api(srv.base, 'PUT', '/v1/me/profile', { token: vtoken, json: {
    roles: ['contributor'], display_name: 'Victim',
    consent_profile: { categories: ['health'], purposes: ['academic-research'], lifetime_epsilon: '5' },
  } })).status, 200);
  const cr = await consent(srv.base, victim, vtoken, req1.id);
  assert.equal(cr.status, 201, JSON.stringify(cr.body));
  victimConsentSig = cr.body.signature;
  assert.match(victimConsentSig, /^0x[0-9a-f]{130}$/i);
  assert.equal((await contribute(srv.base, vtoken, req1, { age: 40, bmi: 22.5, sex: 'f' })).status, 201);

  // The attacker: both roles, funds of its own, signed in.
  atoken = await signIn(srv.base, attacker);
  assert.equal((await api(srv.base, 'PUT', '/v1/me/profile', { token: atoken, json: {
    roles: ['researcher', 'contributor'], display_name: 'Mallory',
    consent_profile: { categories: ['health'], purposes: ['academic-research'], lifetime_epsilon: '5' },
  } })).status, 200);
  // A victim session that was logged out: its token must be dead everywhere.
  deadToken = await signIn(srv.base, victim);
  assert.equal((await api(srv.base, 'POST', '/v1/auth/logout', { token: deadToken })).status, 204);
});
after(async () => { await srv?.stop(); });

// ---- what "no data changed" compares ----------------------------------------------------
async function ledgerEntries() {
  const all = [];
  let after = null;
  for (;;) {
    const r = await api(srv.base, 'GET', `/v1/ledger/entries?limit=1000${after !== null ? `&after=${after}` : ''}`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    all.push(...r.body.entries.map((e) => `${e.seq}:${e.kind}:${e.debit}:${e.credit}:${e.amount}:${e.hash}`));
    if (r.body.next === null || r.body.next === undefined || r.body.entries.length === 0) break;
    after = r.body.next;
  }
  return all;
}
async function snapshot() {
  const bal = async (w) => (await api(srv.base, 'GET', `/v1/accounts/${w.address}/balance`)).body;
  const strip = (p) => { const { updated_at: _u, ...rest } = p; return rest; };
  return {
    balances: { r: await bal(researcher), v: await bal(victim), a: await bal(attacker) },
    ledger: await ledgerEntries(),
    victimProfile: strip((await api(srv.base, 'GET', '/v1/me/profile', { token: vtoken })).body),
    researcherProfile: strip((await api(srv.base, 'GET', '/v1/me/profile', { token: rtoken })).body),
    req1: (await api(srv.base, 'GET', `/v1/requests/${req1.id}`, { token: rtoken })).body,
    req2: (await api(srv.base, 'GET', `/v1/requests/${req2.id}`, { token: rtoken })).body,
    victimConsent: (await api(srv.base, 'GET', `/v1/requests/${req1.id}/consents/me`, { token: vtoken })).body?.status ?? null,
    attackerConsent: (await api(srv.base, 'GET', `/v1/requests/${req1.id}/consents/me`, { token: atoken })).status,
    victimSessions: (await api(srv.base, 'GET', '/v1/me/sessions', { token: vtoken })).body.sessions.length,
  };
}

// ---- raw HTTP, for bytes fetch will not send ---------------------------------------------
function raw(bytes, ms = 5000) {
  const { port } = new URL(srv.base);
  return new Promise((resolve, reject) => {
    const chunks = [];
    const s = connect(Number(port), '127.0.0.1', () => s.end(bytes));
    const t = setTimeout(() => { s.destroy(); reject(new Error('raw request timed out')); }, ms);
    s.on('data', (d) => chunks.push(d));
    s.on('error', (e) => { clearTimeout(t); reject(e); });
    s.on('close', () => {
      clearTimeout(t);
      const text = Buffer.concat(chunks).toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      const head = text.split('\r\n\r\n')[0];
      const type = /\r\ncontent-type: *([^\r\n]*)/i.exec(head)?.[1] ?? null;
      const bodyText = text.slice(head.length + 4);
      let body = bodyText;
      try { body = JSON.parse(bodyText); } catch { /* not JSON */ }
      resolve({ status: m ? Number(m[1]) : 0, type, head, body });
    });
  });
}
const rawReq = (method, path, { headers = {}, body = '' } = {}) => {
  const b = Buffer.isBuffer(body) ? body : Buffer.from(body, 'latin1');
  const h = Object.entries({ Host: '127.0.0.1', Connection: 'close', ...headers })
    .map(([k, v]) => `${k}: ${v}\r\n`).join('');
  const cl = b.length || method === 'POST' || method === 'PUT' ? `Content-Length: ${b.length}\r\n` : '';
  return Buffer.concat([Buffer.from(`${method} ${path} HTTP/1.1\r\n${h}${cl}\r\n`, 'latin1'), b]);
};

// ---- the table ----------------------------------------------------------------------------
// {name, method, path, token, json | body | raw, headers, status}: token is a role name
// ('victim', 'attacker', 'researcher', 'dead') or a literal Authorization value (auth:).
const cases = [];
const add = (c) => cases.push(c);
const ADDR = () => victim.address;
const lower = () => victim.address.toLowerCase();
const J = 'application/json';
const hex64 = 'ab'.repeat(32);

function buildTable() {
  const r1 = req1.id, r2 = req2.id;
  // 1. Malformed JSON on every route that takes a body.
  const bodyRoutes = [
    ['POST', '/v1/auth/siwe', null], ['PUT', '/v1/me/profile', 'attacker'], ['POST', '/v1/me/withdrawals', 'attacker'],
    ['POST', '/v1/requests', 'attacker'], ['POST', `/v1/requests/${r1}/consents`, 'attacker'],
    ['POST', `/v1/requests/${r1}/contributions`, 'victim'],
  ];
  const malformed = [
    ['empty', ''], ['truncated', '{"a":'], ['trailing comma', '{"a":1,}'], ['single quotes', "{'a':1}"],
    ['array', '[1,2]'], ['string', '"x"'], ['number', '42'], ['null', 'null'], ['duplicate keys', '{"a":1,"a":2}'],
    ['NaN', '{"a":NaN}'], ['comment', '{"a":1 /* x */}'], ['NUL escape', '{"a":"x\\u0000y"}'],
    ['lone surrogate', '{"a":"\\ud800"}'], ['deep nesting', '['.repeat(5000) + ']'.repeat(5000)],
  ];
  for (const [m, p, tok] of bodyRoutes) {
    for (const [what, body] of malformed) {
      // consent/contribution routes check the token, the request and the role first; these
      // callers pass them, so the body is what is judged.
      add({ name: `malformed JSON (${what}) ${m} ${p}`, method: m, path: p, token: tok, body, headers: { 'Content-Type': J }, status: 400 });
    }
  }
  for (const [m, p, tok] of bodyRoutes) {
    add({ name: `raw NUL byte in body ${p}`, method: m, path: p, token: tok, body: Buffer.from('{"a":"x\u0000y"}'), headers: { 'Content-Type': J }, status: 400 });
    add({ name: `overlong UTF-8 in body ${p}`, method: m, path: p, token: tok, body: Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc0, 0xaf, 0x22, 0x7d]), headers: { 'Content-Type': J }, status: 400 });
    add({ name: `wrong content type ${p}`, method: m, path: p, token: tok, body: '{"a":1}', headers: { 'Content-Type': 'text/plain' }, status: 415 });
    add({ name: `oversized body ${p}`, method: m, path: p, token: tok, body: `{"a":"${'x'.repeat(70000)}"}`, headers: { 'Content-Type': J }, status: 413 });
  }

  // 2. Amounts: withdrawals (negative, fractional, huge, non-decimal, more than available).
  const amounts = [
    ['negative', '-1'], ['fraction', '1.5'], ['zero', '0'], ['leading zero', '01'], ['plus', '+1'],
    ['hex', '0x10'], ['exponent', '1e18'], ['space', ' 1'], ['2^256', (2n ** 256n).toString()],
    ['80 digits', '9'.repeat(80)], ['JSON number', 1], ['JSON float', 1.5], ['null', null], ['bool', true],
    ['SQL', "1; DELETE FROM ledger_entries"], ['SQL quote', "1' OR '1'='1"], ['unicode digits', '\u0661\u0662'],
    ['fullwidth digits', '\uff11\uff12'],
  ];
  for (const [what, amount] of amounts) {
    add({ name: `withdrawal amount ${what}`, method: 'POST', path: '/v1/me/withdrawals', token: 'attacker', json: { amount, idempotency_key: `k-${what}` }, status: 422 });
  }
  add({ name: 'withdrawal of more than available', method: 'POST', path: '/v1/me/withdrawals', token: 'attacker', json: { amount: (101n * REWARD).toString(), idempotency_key: 'too-much' }, status: 402 });
  add({ name: 'withdrawal without idempotency key', method: 'POST', path: '/v1/me/withdrawals', token: 'attacker', json: { amount: '1' }, status: 422 });
  add({ name: 'withdrawal with a 65-byte key', method: 'POST', path: '/v1/me/withdrawals', token: 'attacker', json: { amount: '1', idempotency_key: 'k'.repeat(65) }, status: 422 });
  add({ name: 'withdrawal key with a space', method: 'POST', path: '/v1/me/withdrawals', token: 'attacker', json: { amount: '1', idempotency_key: 'a b' }, status: 422 });
  add({ name: 'withdrawal key with RTL override', method: 'POST', path: '/v1/me/withdrawals', token: 'attacker', json: { amount: '1', idempotency_key: 'k\u202e1' }, status: 422 });

  // 3. Request creation: huge numbers, negative and fractional values, injections.
  const specPatches = [
    ['reward negative', { reward: '-1' }], ['reward fraction', { reward: '0.5' }], ['reward number', { reward: 10 }],
    ['reward 2^256', { reward: (2n ** 256n).toString() }], ['reward 1e400', { reward: '1e400' }],
    ['reward x max overflows', { reward: (2n ** 255n).toString() }],
    ['reward beyond funds', { reward: (50n * REWARD).toString() }],
    ['max_contributors 2^64', { max_contributors: 2 ** 64 }], ['max_contributors negative', { max_contributors: -5 }],
    ['min_contributors fraction', { min_contributors: 2.5 }], ['min_contributors string', { min_contributors: '2' }],
    ['k fraction', { privacy: { mode: 'k-anonymity', k: 2.5 } }], ['k huge', { privacy: { mode: 'k-anonymity', k: 2 ** 62 } }],
    ['epsilon negative', { privacy: { mode: 'dp', epsilon: '-1', queries: ['count'] } }],
    ['epsilon huge', { privacy: { mode: 'dp', epsilon: '1e308', queries: ['count'] } }],
    ['retention negative', { retention_days: -1 }], ['retention huge', { retention_days: 1e15 }],
    ['closes_at far past', { closes_at: '1970-01-01T00:00:00Z' }], ['closes_at year 99999', { closes_at: '99999-01-01T00:00:00Z' }],
    ['closes_at SQL', { closes_at: "2030-01-01'); DROP TABLE requests;--" }],
    ['purpose SQL', { purpose: "x' OR '1'='1" }], ['purpose RTL', { purpose: 'academic\u202eresearch' }],
    ['title NUL', { title: 'a\u0000b' }], ['title empty', { title: '' }], ['title huge', { title: 'x'.repeat(20000) }],
    ['field name SQL', { schema: { fields: [{ name: "a'); DROP TABLE x;--", type: 'integer', min: 0, max: 9, role: 'quasi-identifier' }] } }],
    ['field min > max', { schema: { fields: [{ name: 'a', type: 'integer', min: 9, max: 0, role: 'quasi-identifier' }] } }],
    ['field bound 1e400', { schema: { fields: [{ name: 'a', type: 'integer', min: 0, max: 1e300, role: 'quasi-identifier' }] } }],
    ['field categories empty', { schema: { fields: [{ name: 'a', type: 'category', categories: [], role: 'quasi-identifier' }] } }],
    ['schema not object', { schema: 'fields' }], ['unknown member', { owner: ADDR() }], ['escrow forged', { escrow: '0' }],
  ];
  for (const [what, patch] of specPatches) {
    const status = what === 'reward beyond funds' ? 402 : 422;
    // title NUL: JSON.stringify writes \u0000, which the parser refuses; 2^64 is beyond the
    // parser's integers: both are malformed JSON (400) rather than invalid members (422).
    const malformedJson = what === 'title NUL' || what === 'max_contributors 2^64';
    add({ name: `request spec: ${what}`, method: 'POST', path: '/v1/requests', token: 'attacker', json: requestBody(patch), status: malformedJson ? 400 : status });
  }
  add({ name: 'contributor-only account posts a request', method: 'POST', path: '/v1/requests', token: 'victim', json: requestBody(), status: 403 });

  // 4. Profile: unicode tricks and injections in the attacker's own profile.
  const profilePatches = [
    ['display_name NUL', { display_name: 'a\u0000b' }, 400], ['display_name control', { display_name: 'a\u0007b' }, 422],
    ['display_name RTL override', { display_name: 'Lab\u202egnp.exe' }, 422],
    ['display_name bidi isolate', { display_name: 'Lab\u2066x\u2069' }, 422],
    ['display_name 81 bytes', { display_name: 'é'.repeat(41) }, 422],
    ['roles admin', { roles: ['admin'] }, 422], ['roles empty', { roles: [] }, 422], ['roles string', { roles: 'researcher' }, 422],
    ['unknown member', { is_admin: true }, 422], ['address override', { address: ADDR() }, 422],
    ['category SQL', { consent_profile: { categories: ["health'; DROP TABLE profiles;--"] } }, 422],
    ['category uppercase homoglyph', { consent_profile: { categories: ['h\u0435alth'] } }, 422],
    ['epsilon negative', { consent_profile: { lifetime_epsilon: '-1' } }, 422],
    ['epsilon huge', { consent_profile: { lifetime_epsilon: '1e999' } }, 422],
    ['epsilon spent forged', { consent_profile: { epsilon_spent: '0' } }, 422],
    ['min_reward negative', { consent_profile: { min_reward: '-1' } }, 422],
    ['min_reward fraction', { consent_profile: { min_reward: '0.5' } }, 422],
    ['country lowercase', { consent_profile: { attributes: { country: 'de' } } }, 422],
    ['age band injection', { consent_profile: { attributes: { age_band: "18-24' OR 1=1" } } }, 422],
    ['33 purposes', { consent_profile: { purposes: Array.from({ length: 33 }, (_, i) => `p${i}`) } }, 422],
  ];
  for (const [what, body, status] of profilePatches) {
    add({ name: `profile: ${what}`, method: 'PUT', path: '/v1/me/profile', token: 'attacker', json: body, status });
  }

  // 5. Addresses: homoglyphs, bad checksums, injections (balances and claims).
  const addrs = [
    ['cyrillic a', victim.address.replace(/[a-f]/, '\u0430')], ['fullwidth 0x', '\uff10x' + lower().slice(2)],
    // Flipping the case of exactly one letter of an EIP-55 address always breaks its checksum
    // (the earlier two-step mutation could cancel itself out and leave a valid address).
    ['bad checksum', '0x' + victim.address.slice(2).replace(/[a-fA-F]/, (c) => (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase()))],
    ['41 hex', lower() + 'a'], ['39 hex', lower().slice(0, -1)], ['no 0x', lower().slice(2)],
    ['SQL', "0x' OR '1'='1"], ['RTL', '%E2%80%AE' + lower()], ['did', `did:pkh:eip155:31337:${lower()}`],
  ];
  for (const [what, a] of addrs) {
    const p = encodeURI(a).replace(/%25/g, '%');
    add({ name: `balance of ${what} address`, method: 'GET', path: `/v1/accounts/${p}/balance`, status: 422 });
    add({ name: `claim of ${what} address`, method: 'GET', path: `/v1/claims/${p}`, status: 422 });
  }
  // civetweb decodes %00 and the path ends there: what is left is an ordinary path of the
  // same or a shorter route (never another user's resource). Intended: no 5xx, no change.
  add({ name: 'balance with %00 after the address', method: 'GET', path: `/v1/accounts/${lower()}%00/balance`, status: 404 });
  add({ name: 'claim with %00 after the address', method: 'GET', path: `/v1/claims/${lower()}%00`, status: [404, 200, 401], anyType: true });
  add({ name: 'close with %00 after the id (now GET-only path)', method: 'POST', path: `/v1/requests/${r1}%00/close`, token: 'attacker', status: 405 });
  // Encoded traversal leaves /v1/ after normalization: the web app's shell (never a file
  // outside web/) or a problem.
  for (const p of [`/v1/accounts/..%2F..%2Fetc%2Fpasswd/balance`, `/v1/claims/..%2F..%2Fetc%2Fpasswd`]) {
    add({ name: `traversal in an address: ${p}`, method: 'GET', path: p, status: [404, 422], shellOk: true });
  }

  // 6. Ids and query parameters: huge numbers, injections, traversal.
  const ids = [['SQL', "x'%20OR%20'1'='1"], ['short hex', '0x1234'], ['65 hex', '0x' + hex64 + 'a'],
    ['traversal', '..%2F..%2Fetc%2Fpasswd'], ['uppercase 0X', '0X' + r1.slice(2)], ['RTL', '%E2%80%AE' + r1]];
  for (const [what, id] of ids) {
    add({ name: `request id ${what}`, method: 'GET', path: `/v1/requests/${id}`, status: [404, 422], shellOk: what === 'traversal' });
    add({ name: `close with request id ${what}`, method: 'POST', path: `/v1/requests/${id}/close`, token: 'researcher', status: [404, 405, 422] });
  }
  add({ name: 'unknown request id', method: 'GET', path: `/v1/requests/0x${hex64}`, status: 404 });
  add({ name: 'consent to unknown request', method: 'POST', path: `/v1/requests/0x${hex64}/consents`, token: 'attacker', json: { signature: victimConsentSig }, status: 404 });
  const queries = [
    '/v1/ledger/entries?limit=-1', '/v1/ledger/entries?limit=1e9', '/v1/ledger/entries?limit=99999999999999999999999',
    '/v1/ledger/entries?after=-1', '/v1/ledger/entries?after=18446744073709551616', '/v1/ledger/entries?after=1.5',
    "/v1/ledger/entries?kind=deposit'%20OR%201=1--", '/v1/ledger/entries?kind=%00', "/v1/ledger/entries?account=x'%3B%20DROP%20TABLE%20ledger_entries",
    '/v1/ledger/entries?request=..%2F..', '/v1/ledger/entries/-1', '/v1/ledger/entries/18446744073709551616',
    '/v1/ledger/entries/1e3', "/v1/ledger/entries/1'%20OR%201=1", '/v1/ledger/entries/99999999',
    '/v1/requests?limit=-5', '/v1/requests?limit=1e99', "/v1/requests?status=open'%20OR%20'1'='1",
    "/v1/requests?owner=x'%20OR%201=1--", '/v1/requests?before=not-a-time', '/v1/requests?purpose=%E2%80%AE',
  ];
  for (const q of queries) {
    add({ name: `query ${q}`, method: 'GET', path: q, status: q === '/v1/ledger/entries/99999999' ? 404 : 422 });
  }

  // 7. Path traversal and unknown paths under the API.
  for (const p of ['/v1/../../etc/passwd', '/v1/requests/../../../etc/passwd', '/v1/%2e%2e/%2e%2e/etc/passwd',
    '/v1/requests/%2e%2e%2f%2e%2e%2fetc%2fpasswd/close', '/v1/me/../admin', '/v1/ledger/entries/..%2f..%2fsecrets',
    '/v1/accounts//balance', '/v1/requests//close', '/v1/admin', '/v1/me/profile/../../../var/master.key']) {
    add({ name: `traversal ${p}`, method: 'GET', path: p, status: [404, 405, 422], shellOk: true });
  }
  add({ name: 'wrong method on a route', method: 'DELETE', path: '/v1/requests', token: 'attacker', status: 405 });
  add({ name: 'PATCH the profile', method: 'PATCH', path: '/v1/me/profile', token: 'attacker', json: { display_name: 'x' }, status: 405 });

  // 8. Replayed signatures.
  add({ name: 'SIWE replay: the victim\'s used message and signature', method: 'POST', path: '/v1/auth/siwe', json: () => victimSiwe, status: 401 });
  add({ name: 'SIWE replay with another nonce text (signature no longer matches)', method: 'POST', path: '/v1/auth/siwe', json: () => ({ ...victimSiwe, message: victimSiwe.message.replace(/Nonce: \w+/, 'Nonce: abcdefgh12345678') }), status: 401 });
  add({ name: 'SIWE: the victim\'s message with the attacker\'s signature', method: 'POST', path: '/v1/auth/siwe', json: async () => ({ message: victimSiwe.message, signature: await attacker.signMessage(victimSiwe.message) }), status: 401 });
  add({ name: 'SIWE: homoglyph address in the message', method: 'POST', path: '/v1/auth/siwe', json: () => ({ ...victimSiwe, message: victimSiwe.message.replace(victim.address, victim.address.replace(/[a-f]/, '\u0430')) }), status: 422 });
  add({ name: 'SIWE: other domain', method: 'POST', path: '/v1/auth/siwe', json: async () => {
    const n = await api(srv.base, 'GET', '/v1/auth/nonce');
    const message = new SiweMessage({ domain: 'evil.example', address: attacker.address, uri: 'https://evil.example', version: '1', chainId: n.body.chain_id, nonce: n.body.nonce, issuedAt: new Date().toISOString() }).prepareMessage();
    return { message, signature: await attacker.signMessage(message) };
  }, status: 401 });
  add({ name: 'SIWE: message with RTL override in the statement', method: 'POST', path: '/v1/auth/siwe', json: () => ({ ...victimSiwe, message: victimSiwe.message.replace('Sign in to Cohort.', 'Sign in to \u202eCohort.') }), status: 422 });
  add({ name: 'SIWE: signature 64 bytes', method: 'POST', path: '/v1/auth/siwe', json: () => ({ ...victimSiwe, signature: victimSiwe.signature.slice(0, 130) }), status: 422 });
  add({ name: 'SIWE: signature not hex', method: 'POST', path: '/v1/auth/siwe', json: () => ({ ...victimSiwe, signature: 'zz'.repeat(65) }), status: 422 });
  add({ name: 'SIWE: message a number', method: 'POST', path: '/v1/auth/siwe', json: { message: 1, signature: '0x' }, status: 422 });
  add({ name: 'SIWE: message too large', method: 'POST', path: '/v1/auth/siwe', json: { message: 'x'.repeat(9000), signature: '0x' }, status: 413 });
  add({ name: 'consent replay: the victim\'s signature from the attacker', method: 'POST', path: `/v1/requests/${r1}/consents`, token: 'attacker', json: () => ({ signature: victimConsentSig }), status: 401 });
  add({ name: 'consent replay: the victim\'s req1 signature on req2', method: 'POST', path: `/v1/requests/${r2}/consents`, token: 'victim', json: () => ({ signature: victimConsentSig }), status: 401 });
  add({ name: 'consent replay: the victim\'s signature with v flipped', method: 'POST', path: `/v1/requests/${r2}/consents`, token: 'victim', json: () => ({ signature: victimConsentSig.slice(0, -2) + (victimConsentSig.endsWith('1b') ? '1c' : '1b') }), status: 401 });
  add({ name: 'consent: high-s malleated signature', method: 'POST', path: `/v1/requests/${r2}/consents`, token: 'victim', json: () => {
    const n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
    const s = BigInt('0x' + victimConsentSig.slice(66, 130));
    const v = victimConsentSig.slice(130) === '1b' ? '1c' : '1b';
    return { signature: victimConsentSig.slice(0, 66) + (n - s).toString(16).padStart(64, '0') + v };
  }, status: 422 });
  add({ name: 'consent: signature empty', method: 'POST', path: `/v1/requests/${r2}/consents`, token: 'victim', json: { signature: '' }, status: 422 });
  add({ name: 'consent: owner consents to own request', method: 'POST', path: `/v1/requests/${r1}/consents`, token: 'researcher', json: () => ({ signature: victimConsentSig }), status: 403 });

  // 9. Other users' resources with a valid token.
  add({ name: 'attacker closes the victim researcher\'s request', method: 'POST', path: `/v1/requests/${r1}/close`, token: 'attacker', status: 403 });
  add({ name: 'victim contributor closes the request', method: 'POST', path: `/v1/requests/${r1}/close`, token: 'victim', status: 403 });
  add({ name: 'attacker reads the release', method: 'GET', path: `/v1/requests/${r1}/release`, token: 'attacker', status: 403 });
  add({ name: 'attacker reads the release as CSV', method: 'GET', path: `/v1/requests/${r1}/release?format=csv`, token: 'attacker', status: 403 });
  add({ name: 'attacker revokes a consent it never gave (not the victim\'s)', method: 'DELETE', path: `/v1/requests/${r1}/consents/me`, token: 'attacker', status: 404 });
  add({ name: 'attacker contributes without consent', method: 'POST', path: `/v1/requests/${r1}/contributions`, token: 'attacker', json: async () => ({ sealed: await seal({ age: 40, bmi: 22.5, sex: 'f' }, req1.public_key) }), status: 403 });
  add({ name: 'victim contributes a record outside the schema', method: 'POST', path: `/v1/requests/${r1}/contributions`, token: 'victim', json: async () => ({ sealed: await seal({ age: 4000, bmi: 22.5, sex: 'm' }, req1.public_key) }), status: 422 });
  add({ name: 'victim contributes a record with an extra member', method: 'POST', path: `/v1/requests/${r1}/contributions`, token: 'victim', json: async () => ({ sealed: await seal({ age: 40, bmi: 22.5, sex: 'm', ssn: '078-05-1120' }, req1.public_key) }), status: 422 });
  add({ name: 'victim contributes a record sealed to another request', method: 'POST', path: `/v1/requests/${r1}/contributions`, token: 'victim', json: async () => ({ sealed: await seal({ age: 40, bmi: 22.5, sex: 'm' }, req2.public_key) }), status: 422 });
  add({ name: 'victim contributes garbage ciphertext', method: 'POST', path: `/v1/requests/${r2}/contributions`, token: 'victim', json: { sealed: 'AAAA' }, status: 422 });
  add({ name: 'researcher contributes to own request', method: 'POST', path: `/v1/requests/${r1}/contributions`, token: 'researcher', json: { sealed: 'AAAA' }, status: 403 });
  add({ name: 'researcher reads own request consent', method: 'GET', path: `/v1/requests/${r1}/consents/me`, token: 'researcher', status: 403 });

  // 10. Tokens: none, malformed, revoked, another scheme, in the query, on every
  // authenticated route.
  const authRoutes = [
    ['GET', '/v1/me/profile'], ['PUT', '/v1/me/profile', { display_name: 'pwned' }], ['GET', '/v1/me/inbox'],
    ['GET', '/v1/me/sessions'], ['POST', '/v1/auth/logout'], ['POST', '/v1/me/withdrawals', { amount: '1', idempotency_key: 'x' }],
    ['POST', '/v1/requests', requestBody()], ['POST', `/v1/requests/${r1}/close`], ['GET', `/v1/requests/${r1}/release`],
    ['POST', `/v1/requests/${r1}/consents`, { signature: victimConsentSig }], ['GET', `/v1/requests/${r1}/consents/me`],
    ['DELETE', `/v1/requests/${r1}/consents/me`], ['POST', `/v1/requests/${r1}/contributions`, { sealed: 'AAAA' }],
  ];
  const badAuth = [
    ['no token', null], ['revoked token', 'dead'], ['empty bearer', 'auth:Bearer '], ['Basic scheme', () => `auth:Basic ${Buffer.from('victim:pw').toString('base64')}`],
    ['token without scheme', () => `auth:${vtoken}`], ['token uppercased', () => `auth:Bearer ${vtoken.toUpperCase()}`],
    ['token plus a char', () => `auth:Bearer ${vtoken}0`], ['token minus a char', () => `auth:Bearer ${vtoken.slice(0, -1)}`],
    ['SQL in token', "auth:Bearer coh_' OR '1'='1"], ['forged token', `auth:Bearer coh_${'0'.repeat(64)}`],
  ];
  for (const [m, p, body] of authRoutes) {
    for (const [what, tok] of badAuth) {
      add({ name: `${what} on ${m} ${p}`, method: m, path: p, token: tok, json: body, status: 401 });
    }
    add({ name: `token in the query on ${m} ${p}`, method: m, path: `${p}${p.includes('?') ? '&' : '?'}access_token=${'x'}`, token: null, query_token: true, json: body, status: 401 });
  }

  // 11. Raw protocol abuse.
  const rawCases = [
    ['header injection in Idempotency-Key', () => rawReq('POST', '/v1/me/withdrawals', { headers: { Authorization: `Bearer ${atoken}`, 'Content-Type': J, 'Idempotency-Key': 'a\rX-Injected: 1' }, body: '{"amount":"1"}' }), [400, 422]],
    ['NUL in the path', () => rawReq('GET', '/v1/requests/\u0000'), [400, 404, 422]],
    ['overlong UTF-8 in the path', () => Buffer.concat([Buffer.from('GET /v1/accounts/'), Buffer.from([0xc0, 0xae, 0xc0, 0xae]), Buffer.from('/balance HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')]), [400, 404, 422]],
    ['Content-Length larger than the limit', () => rawReq('PUT', '/v1/me/profile', { headers: { Authorization: `Bearer ${atoken}`, 'Content-Type': J, 'Content-Length': '999999999' } }).toString('latin1').replace(/Content-Length: 0\r\n/, ''), 413],
    ['negative Content-Length', () => `PUT /v1/me/profile HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer ${atoken}\r\nContent-Type: ${J}\r\nContent-Length: -1\r\n\r\n{}`, [400, 411, 413]],
    ['chunked body beyond the limit', () => `PUT /v1/me/profile HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer ${atoken}\r\nContent-Type: ${J}\r\nTransfer-Encoding: chunked\r\n\r\n${(20000).toString(16)}\r\n${'x'.repeat(20000)}\r\n`.repeat(1) + `${(60000).toString(16)}\r\n${'x'.repeat(60000)}\r\n0\r\n\r\n`, 413],
    ['header with CRLF-split Authorization', () => `GET /v1/me/profile HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer\r\n ${vtoken}\r\n\r\n`, [400, 401]],
  ];
  // Protocol errors civetweb finds itself, before cohortd's handler runs, are answered as
  // problem+json too (server.c's http_error callback), so every raw case must be one.
  for (const [what, bytes, status] of rawCases) add({ name: `raw: ${what}`, raw: bytes, status });
}

async function run(c) {
  if (c.raw) {
    const b = typeof c.raw === 'function' ? c.raw() : c.raw;
    return raw(typeof b === 'string' ? Buffer.from(b, 'latin1') : b);
  }
  const headers = { ...(c.headers ?? {}) };
  let tok = typeof c.token === 'function' ? c.token() : c.token;
  if (tok === 'victim') tok = vtoken; else if (tok === 'attacker') tok = atoken;
  else if (tok === 'researcher') tok = rtoken; else if (tok === 'dead') tok = deadToken;
  if (typeof tok === 'string' && tok.startsWith('auth:')) headers.Authorization = tok.slice(5);
  else if (tok) headers.Authorization = `Bearer ${tok}`;
  let path = c.path;
  if (c.query_token) path = path.replace(/access_token=x/, `access_token=${vtoken}`);
  let body = c.body;
  const json = typeof c.json === 'function' ? await c.json() : c.json;
  if (json !== undefined) { headers['Content-Type'] = J; body = JSON.stringify(json); }
  const r = await fetch(srv.base + path, { method: c.method, headers, body });
  const text = await r.text();
  let parsed = text;
  try { parsed = JSON.parse(text); } catch { /* not JSON */ }
  return { status: r.status, type: r.headers.get('content-type'), body: parsed };
}

test('hostile requests get their intended 4xx problem and change nothing', async () => {
  buildTable();
  assert.ok(cases.length >= 200, `only ${cases.length} cases`);
  const beforeState = await snapshot();
  const failures = [];
  for (const c of cases) {
    let r;
    try { r = await run(c); } catch (e) { failures.push(`${c.name}: ${e.message}`); continue; }
    const want = Array.isArray(c.status) ? c.status : [c.status];
    const problem = /^application\/problem\+json/.test(r.type ?? '');
    const shell = c.shellOk && r.status === 200 && /^text\/html/.test(r.type ?? '') &&
      typeof r.body === 'string' && r.body.startsWith('<!doctype html>') && !r.body.includes('root:');
    if (shell) continue;
    if (!want.includes(r.status) || (!problem && !c.anyType) || r.status >= 500) {
      failures.push(`${c.name}: got ${r.status} ${r.type} ${JSON.stringify(r.body).slice(0, 200)}; want ${want.join('/')} problem+json`);
    }
  }
  const afterState = await snapshot();
  console.log(`abuse: ${cases.length} hostile requests, ${failures.length} unexpected answers`);
  assert.deepEqual(failures, []);
  assert.deepEqual(afterState, beforeState, 'a hostile request changed data');
  // cohortd is still healthy and the victims still work normally.
  assert.equal((await api(srv.base, 'GET', '/healthz')).status, 200);
  assert.equal((await api(srv.base, 'GET', '/v1/me/profile', { token: vtoken })).body.display_name, 'Victim');
});
