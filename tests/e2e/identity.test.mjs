// Sign-In with Ethereum end to end: an ethers v6 wallet signs a message built by the `siwe`
// npm package, uses the token, updates its profile, logs out; and every rejection the issue
// lists answers a 4xx problem+json.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Wallet, Signature, getBytes, hexlify } from 'ethers';
import { SiweMessage } from 'siwe';
import { startCohortd, api } from './helpers.mjs';

let srv;
before(async () => { srv = await startCohortd({ COHORT_SESSION_TTL_S: '3', COHORT_SIGNIN_RATE_PER_MIN: '1000' }); });
after(async () => { await srv.stop(); });

async function siweMessage(wallet, overrides = {}) {
  const n = await api(srv.base, 'GET', '/v1/auth/nonce');
  assert.equal(n.status, 200);
  const url = new URL(srv.base);
  const msg = new SiweMessage({
    domain: url.host,
    address: wallet.address,
    statement: 'Sign in to Cohort.',
    uri: srv.base,
    version: '1',
    chainId: 31337,
    nonce: n.body.nonce,
    issuedAt: new Date().toISOString(),
    ...overrides,
  });
  return msg.prepareMessage();
}

async function signIn(wallet, message) {
  const signature = await wallet.signMessage(message);
  return api(srv.base, 'POST', '/v1/auth/siwe', { json: { message, signature } });
}

function assertProblem(r, status, type) {
  assert.equal(r.status, status, JSON.stringify(r.body));
  assert.equal(r.type, 'application/problem+json');
  assert.equal(r.body.status, status);
  if (type) assert.equal(r.body.type, `urn:cohort:problem:${type}`);
  assert.ok(r.body.detail.length > 0);
}

test('a wallet signs in, reads and updates its profile, logs out, and the token stops working', async () => {
  const wallet = Wallet.createRandom();
  const message = await siweMessage(wallet);
  const r = await signIn(wallet, message);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.match(r.body.token, /^coh_[0-9a-f]{64}$/);
  // docs/API.md: addresses in responses are lowercase; a did:pkh keeps CAIP-10's EIP-55 form.
  assert.equal(r.body.address, wallet.address.toLowerCase());
  assert.equal(r.body.did, `did:pkh:eip155:31337:${wallet.address}`);
  const token = r.body.token;

  let p = await api(srv.base, 'GET', '/v1/me/profile', { token });
  assert.equal(p.status, 200);
  assert.equal(p.body.address, wallet.address.toLowerCase());
  assert.deepEqual(p.body.roles, ['contributor']);

  const update = {
    roles: ['researcher', 'contributor'],
    display_name: 'Ada',
    consent_profile: {
      categories: ['fitness', 'sleep'],
      attributes: { age_band: '35-44', country: 'FR', sex: 'female' },
      purposes: ['academic-research'],
      min_reward: '1000000000000000000',
      lifetime_epsilon: '3.5',
    },
  };
  p = await api(srv.base, 'PUT', '/v1/me/profile', { token, json: update });
  assert.equal(p.status, 200, JSON.stringify(p.body));
  p = await api(srv.base, 'GET', '/v1/me/profile', { token });
  assert.deepEqual(p.body.roles, ['researcher', 'contributor']);
  assert.equal(p.body.display_name, 'Ada');
  assert.deepEqual(p.body.consent_profile.attributes, update.consent_profile.attributes);
  assert.equal(p.body.consent_profile.min_reward, '1000000000000000000');
  assert.equal(p.body.consent_profile.lifetime_epsilon, '3.5');

  const s = await api(srv.base, 'GET', '/v1/me/sessions', { token });
  assert.equal(s.status, 200);
  assert.ok(s.body.sessions.some((x) => x.current));

  const bad = await api(srv.base, 'PUT', '/v1/me/profile', { token, json: { ...update, colour: 'red' } });
  assertProblem(bad, 422, 'invalid');
  assert.match(bad.body.detail, /colour/);
  const badEps = await api(srv.base, 'PUT', '/v1/me/profile', {
    token, json: { consent_profile: { lifetime_epsilon: '-1' } } });
  assertProblem(badEps, 422);
  assert.match(badEps.body.detail, /lifetime_epsilon/);

  const out = await api(srv.base, 'POST', '/v1/auth/logout', { token });
  assert.equal(out.status, 204);
  assertProblem(await api(srv.base, 'GET', '/v1/me/profile', { token }), 401, 'invalid-token');
});

test('a user never sees another user\'s profile: the token decides whose profile it is', async () => {
  const a = Wallet.createRandom(), b = Wallet.createRandom();
  const ta = (await signIn(a, await siweMessage(a))).body.token;
  const tb = (await signIn(b, await siweMessage(b))).body.token;
  await api(srv.base, 'PUT', '/v1/me/profile', { token: ta, json: { display_name: 'alice' } });
  const pb = await api(srv.base, 'GET', '/v1/me/profile', { token: tb });
  assert.equal(pb.body.address, b.address.toLowerCase());
  assert.equal(pb.body.display_name, '');
  assertProblem(await api(srv.base, 'GET', '/v1/me/profile'), 401, 'unauthenticated');
});

test('a replayed nonce is refused', async () => {
  const w = Wallet.createRandom();
  const message = await siweMessage(w);
  assert.equal((await signIn(w, message)).status, 200);
  assertProblem(await signIn(w, message), 401, 'siwe-nonce-invalid');
});

test('a nonce the server never issued is refused', async () => {
  const w = Wallet.createRandom();
  const message = await siweMessage(w, { nonce: 'abcdefgh12345678' });
  assertProblem(await signIn(w, message), 401, 'siwe-nonce-invalid');
});

test('an expired message is refused', async () => {
  const w = Wallet.createRandom();
  const past = new Date(Date.now() - 3600e3);
  const message = await siweMessage(w, { issuedAt: past.toISOString(), expirationTime: new Date(Date.now() - 1800e3).toISOString() });
  assertProblem(await signIn(w, message), 401, 'siwe-expired');
});

test('a message for another domain is refused', async () => {
  const w = Wallet.createRandom();
  assertProblem(await signIn(w, await siweMessage(w, { domain: 'evil.example' })), 401, 'siwe-domain-mismatch');
});

test('a message for another URI is refused', async () => {
  const w = Wallet.createRandom();
  assertProblem(await signIn(w, await siweMessage(w, { uri: 'https://evil.example/' })), 401, 'siwe-uri-mismatch');
});

test('a message for another chain is refused', async () => {
  const w = Wallet.createRandom();
  assertProblem(await signIn(w, await siweMessage(w, { chainId: 1 })), 401, 'siwe-chain-mismatch');
});

test('a tampered statement is refused', async () => {
  const w = Wallet.createRandom();
  const message = await siweMessage(w);
  const signature = await w.signMessage(message);
  const tampered = message.replace('Sign in to Cohort.', 'Sign in to Cohort!');
  assertProblem(await api(srv.base, 'POST', '/v1/auth/siwe', { json: { message: tampered, signature } }), 401, 'siwe-signature-mismatch');
});

test('a signature by another key is refused', async () => {
  const w = Wallet.createRandom(), other = Wallet.createRandom();
  const message = await siweMessage(w);
  const signature = await other.signMessage(message);
  assertProblem(await api(srv.base, 'POST', '/v1/auth/siwe', { json: { message, signature } }), 401, 'siwe-signature-mismatch');
});

test('a signature of the wrong length is refused', async () => {
  const w = Wallet.createRandom();
  const message = await siweMessage(w);
  const signature = (await w.signMessage(message)).slice(0, -2);
  assertProblem(await api(srv.base, 'POST', '/v1/auth/siwe', { json: { message, signature } }), 422, 'malformed-signature');
});

test('a signature with s in the upper half is refused', async () => {
  const w = Wallet.createRandom();
  const message = await siweMessage(w);
  const sig = Signature.from(await w.signMessage(message));
  const n = BigInt('0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141');
  const highS = n - BigInt(sig.s);
  const v = sig.v === 27 ? 28 : 27;  // the malleable twin flips the parity
  const bytes = new Uint8Array(65);
  bytes.set(getBytes(sig.r), 0);
  bytes.set(getBytes('0x' + highS.toString(16).padStart(64, '0')), 32);
  bytes[64] = v;
  assertProblem(await api(srv.base, 'POST', '/v1/auth/siwe', { json: { message, signature: hexlify(bytes) } }), 422, 'malformed-signature');
});

test('an oversized message is refused', async () => {
  const w = Wallet.createRandom();
  const message = await siweMessage(w, { statement: 'x'.repeat(5000) });
  assertProblem(await signIn(w, message), 413, 'message-too-large');
});

test('an unknown token is refused', async () => {
  assertProblem(await api(srv.base, 'GET', '/v1/me/profile', { token: 'coh_' + '0'.repeat(64) }), 401, 'invalid-token');
  assertProblem(await api(srv.base, 'GET', '/v1/me/profile', { token: 'garbage' }), 401, 'invalid-token');
});

test('an expired token is refused', async () => {
  const w = Wallet.createRandom();
  const { token } = (await signIn(w, await siweMessage(w))).body;
  assert.equal((await api(srv.base, 'GET', '/v1/me/profile', { token })).status, 200);
  await new Promise((r) => setTimeout(r, 3500)); // the session TTL of this server is 3 s
  assertProblem(await api(srv.base, 'GET', '/v1/me/profile', { token }), 401, 'invalid-token');
});

test('sign-in attempts are rate limited per client', async () => {
  const limited = await startCohortd({ COHORT_SIGNIN_RATE_PER_MIN: '3' });
  try {
    const codes = [];
    for (let i = 0; i < 5; i++) codes.push((await api(limited.base, 'GET', '/v1/auth/nonce')).status);
    assert.deepEqual(codes.slice(0, 3), [200, 200, 200]);
    const r = await api(limited.base, 'GET', '/v1/auth/nonce');
    assertProblem(r, 429, 'rate-limited');
    assert.ok(Number(r.headers.get('retry-after')) >= 1);
  } finally { await limited.stop(); }
});
