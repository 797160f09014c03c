// Enrollment modes (issue 17, docs/PRIVACY.md "Who may enrol"), tried as the attackers of the
// issue would: a reward farmer enrolling fresh wallets, a contributor trying a code that is
// not theirs, and a researcher trying to learn which wallet redeemed which code.
// - open requests (the default) say plainly that one person can enrol many wallets;
// - an invite request refuses a wallet without a code, takes a code once, refuses it from a
//   second wallet with the same answer as a code that never existed, refuses a revoked code,
//   and stops the contribution of a wallet whose code was revoked before it contributed;
// - the codes are in the creation's answer only; the researcher sees counts, and no answer the
//   researcher can get (request, list, revocations, release) names a redeeming wallet.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Wallet, keccak256, toUtf8Bytes } from 'ethers';
import { startCohortd, api, LOW_FLOORS } from './helpers.mjs';
import { signIn, newContributor, contribute, closeAndRelease, cliContributor } from './market-helpers.mjs';

const REWARD = 10n ** 18n;
const PURPOSE = `enrollment-${process.pid}`;
const schema = { fields: [{ name: 'age', type: 'integer', unit: 'years', min: 18, max: 100, role: 'quasi-identifier' }] };
const CODE = /^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){5}$/;

let srv, researcher, rtoken, rival, rivalToken;
before(async () => {
  srv = await startCohortd({ ...LOW_FLOORS, COHORT_SIGNIN_RATE_PER_MIN: '100000', COHORT_RELEASE_POLL_MS: '100' });
  researcher = Wallet.createRandom();
  rtoken = await signIn(srv.base, researcher);
  rival = Wallet.createRandom();
  rivalToken = await signIn(srv.base, rival);
  for (const [w, token] of [[researcher, rtoken], [rival, rivalToken]]) {
    const p = await api(srv.base, 'PUT', '/v1/me/profile', { token, json: { roles: ['researcher'] } });
    assert.equal(p.status, 200);
    const d = await srv.cli(['ledger', 'deposit', '--address', w.address, '--amount', (100n * REWARD).toString()]);
    assert.equal(d.code, 0, d.stderr);
  }
});
after(async () => { await srv?.stop(); });

const contributor = () => newContributor(srv.base, PURPOSE);

function body(extra = {}) {
  return {
    title: 'Invited cohort', purpose: PURPOSE, schema, privacy: { mode: 'k-anonymity', k: 2 },
    reward: REWARD.toString(), min_contributors: 2, max_contributors: 4,
    closes_at: new Date(Date.now() + 3600e3).toISOString(), retention_days: 1, ...extra,
  };
}

// The wallet signs the version-2 consent the API offers and sends it with the code (if any).
async function consentWith(p, id, code) {
  const t = await api(srv.base, 'GET', `/v1/requests/${id}/consents/me`, { token: p.token });
  assert.equal(t.status, 200, JSON.stringify(t.body));
  const { domain, types, message } = t.body.typed_data;
  const { EIP712Domain, ...rest } = types;
  const signature = await p.w.signTypedData(domain, rest, message);
  const json = code === undefined ? { signature } : { signature, code };
  return api(srv.base, 'POST', `/v1/requests/${id}/consents`, { token: p.token, json });
}

// docs/PRIVACY.md: a code's hash is SHA-256 of its text without spaces and hyphens, uppercased.
const codeHash = (c) => `0x${createHash('sha256').update(c.replace(/[\s-]/g, '').toUpperCase()).digest('hex')}`;

// RFC 8785 of the JSON a request holds, as a contributor's wallet computes the terms hash.
function canonical(v) {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(',')}}`;
  return JSON.stringify(v);
}

test('open is the default and states its risk; bad modes name the member', async () => {
  const open = await api(srv.base, 'POST', '/v1/requests/preview', { token: rtoken, json: body() });
  assert.equal(open.status, 200, JSON.stringify(open.body));
  assert.deepEqual(open.body.terms.enrollment, { mode: 'open' });
  assert.ok(open.body.warnings.some((w) => /one person can enrol several wallets/.test(w)), JSON.stringify(open.body.warnings));
  const inv = await api(srv.base, 'POST', '/v1/requests/preview', { token: rtoken, json: body({ enrollment: { mode: 'invite', codes: 3 } }) });
  assert.equal(inv.status, 200, JSON.stringify(inv.body));
  assert.deepEqual(inv.body.terms.enrollment, { mode: 'invite', codes: 3 });
  assert.match(inv.body.privacy_summary, /; by invitation only: 3 one-time codes$/);
  assert.ok(!inv.body.warnings.some((w) => /open enrollment/.test(w)));

  const bad = [
    // attested.test.mjs has the attested mode; here only a malformed one (no schema definition).
    [{ mode: 'attested', issuers: ['0x0000000000000000000000000000000000000001'], schema: `0x${'00'.repeat(32)}`, subject_field: 'recipient' }, /enrollment\.(schema|subject_field)/],
    [{ mode: 'invite', codes: 0 }, /enrollment\.codes/],
    [{ mode: 'invite', codes: 10001 }, /enrollment\.codes/],
    [{ mode: 'invite', codes: 1 }, /min_contributors/],
    [{ mode: 'invite', code_hashes: [codeHash('a'), codeHash('A')] }, /same hash twice/],
    [{ mode: 'everyone' }, /enrollment\.mode/],
  ];
  for (const [enrollment, re] of bad) {
    const r = await api(srv.base, 'POST', '/v1/requests', { token: rtoken, json: body({ enrollment }) });
    assert.equal(r.status, 422, JSON.stringify(r.body));
    assert.equal(r.body.type, 'urn:cohort:problem:invalid-request');
    assert.match(r.body.detail, re);
  }
  const created = await api(srv.base, 'POST', '/v1/requests', { token: rtoken, json: body() });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.deepEqual(created.body.enrollment, { mode: 'open' });
  assert.equal(created.body.codes, null);
  assert.equal(created.body.invite_codes, null);
  // An open request signs enrollment "open", as requests stored before enrollment modes did.
  const p = await contributor();
  const t = await api(srv.base, 'GET', `/v1/requests/${created.body.id}/consents/me`, { token: p.token });
  assert.equal(t.body.terms.enrollment, 'open');
  assert.equal((await consentWith(p, created.body.id)).status, 201, 'open requests need no code');
  // A request stored before enrollment modes (no enrollment at all) offers the same terms hash,
  // so the consents signed for it keep verifying.
  execFileSync('psql', [process.env.COH_TEST_DATABASE_URL, '-qXc',
    `UPDATE requests SET enrollment = NULL WHERE id = decode('${created.body.id.slice(2)}', 'hex')`]);
  const q = await contributor();
  const old = await api(srv.base, 'GET', `/v1/requests/${created.body.id}/consents/me`, { token: q.token });
  assert.equal(old.body.typed_data.message.termsHash, t.body.typed_data.message.termsHash);
  assert.equal(old.body.typed_data.message.privacy, t.body.typed_data.message.privacy);
  assert.deepEqual((await api(srv.base, 'GET', `/v1/requests/${created.body.id}`)).body.enrollment, { mode: 'open' });
});

test('invite codes: shown once, redeemed once, revocable; the researcher sees counts only', async () => {
  const created = await api(srv.base, 'POST', '/v1/requests', { token: rtoken, json: body({ enrollment: { mode: 'invite', codes: 4 } }) });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const req = created.body;
  const codes = req.codes;
  assert.equal(codes.length, 4);
  for (const c of codes) assert.match(c, CODE);
  assert.equal(new Set(codes).size, 4);
  assert.deepEqual(req.enrollment, { mode: 'invite', codes: 4 });
  assert.deepEqual(req.invite_codes, { issued: 4, redeemed: 0, revoked: 0 });
  // Never again: not in the owner's view, not in anyone else's.
  const again = await api(srv.base, 'GET', `/v1/requests/${req.id}`, { token: rtoken });
  assert.equal(again.body.codes, undefined);
  assert.deepEqual(again.body.invite_codes, { issued: 4, redeemed: 0, revoked: 0 });
  const anon = await api(srv.base, 'GET', `/v1/requests/${req.id}`);
  assert.equal(anon.body.invite_codes, null, 'counts are the owner\'s');
  assert.ok(!JSON.stringify(again.body).includes(codes[0]) && !JSON.stringify(anon.body).includes(codes[0]));

  const [a, b, c, d, e] = await Promise.all([1, 2, 3, 4, 5].map(() => contributor()));
  // The wallet signs the enrollment it is invited under: the terms hash, computed here.
  const offered = await api(srv.base, 'GET', `/v1/requests/${req.id}/consents/me`, { token: a.token });
  assert.deepEqual(offered.body.terms.enrollment, { mode: 'invite', codes: 4 });
  const terms = { schema: req.schema, privacy: { ...req.privacy, max_suppression: Number(req.privacy.max_suppression) },
    eligibility: req.eligibility, enrollment: req.enrollment, retention_days: req.retention_days, purpose: req.purpose };
  assert.equal(offered.body.typed_data.message.termsHash, keccak256(toUtf8Bytes(canonical(terms))));
  assert.match(offered.body.typed_data.message.privacy, /by invitation only: 4 one-time codes/);

  // The farmer's fresh wallet: no code, no consent, no contribution.
  const none = await consentWith(a, req.id);
  assert.equal(none.status, 403, JSON.stringify(none.body));
  assert.equal(none.body.type, 'urn:cohort:problem:invite-code-required');
  assert.equal((await contribute(srv.base, a.token, req, { age: 30 })).status, 403);
  const unknown = await consentWith(a, req.id, 'ZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZ');
  assert.equal(unknown.status, 403);
  assert.equal(unknown.body.type, 'urn:cohort:problem:invite-code-invalid');
  // As typed by a person: lowercase, spaces for hyphens.
  const ok = await consentWith(a, req.id, codes[0].toLowerCase().replace(/-/g, ' '));
  assert.equal(ok.status, 201, JSON.stringify(ok.body));
  assert.equal((await contribute(srv.base, a.token, req, { age: 30 })).status, 201);

  // The same code from a second wallet: refused exactly as a code that never existed.
  const used = await consentWith(b, req.id, codes[0]);
  assert.equal(used.status, 403);
  assert.deepEqual(used.body, unknown.body, 'a used code and an unknown code answer the same');

  // Revoking one's consent keeps one's own redemption: consenting again needs no code.
  assert.equal((await api(srv.base, 'DELETE', `/v1/requests/${req.id}/consents/me`, { token: a.token })).status, 204);
  assert.equal((await consentWith(a, req.id)).status, 201);
  assert.equal((await contribute(srv.base, a.token, req, { age: 31 })).status, 201);

  // Revocation: owner only; a revoked code is refused like any other.
  const views = [created.body];
  const revoke = (token, json) => api(srv.base, 'POST', `/v1/requests/${req.id}/codes/revoke`, { token, json });
  assert.equal((await revoke(undefined, { code_hashes: [codeHash(codes[1])] })).status, 401);
  const foreign = await revoke(rivalToken, { all_unredeemed: true });
  assert.equal(foreign.status, 403, 'another researcher cannot revoke these codes');
  assert.equal((await revoke(rtoken, {})).status, 422);
  assert.equal((await revoke(rtoken, { code_hashes: ['0x12'] })).status, 422);
  const r1 = await revoke(rtoken, { code_hashes: [codeHash(codes[1])] });
  assert.equal(r1.status, 200, JSON.stringify(r1.body));
  assert.deepEqual(r1.body, { revoked_now: 1, invite_codes: { issued: 4, redeemed: 1, revoked: 1 } });
  views.push(r1.body);
  const revoked = await consentWith(c, req.id, codes[1]);
  assert.equal(revoked.status, 403);
  assert.deepEqual(revoked.body, unknown.body, 'a revoked code answers as an unknown one');

  // A code revoked after its consent but before the contribution stops the contribution.
  assert.equal((await consentWith(d, req.id, codes[2])).status, 201);
  const r2 = await revoke(rtoken, { code_hashes: [codeHash(codes[2])] });
  assert.deepEqual(r2.body, { revoked_now: 1, invite_codes: { issued: 4, redeemed: 2, revoked: 2 } });
  views.push(r2.body);
  const stopped = await contribute(srv.base, d.token, req, { age: 50 });
  assert.equal(stopped.status, 403, JSON.stringify(stopped.body));
  assert.equal(stopped.body.type, 'urn:cohort:problem:invite-code-required');

  assert.equal((await consentWith(e, req.id, codes[3])).status, 201);
  assert.equal((await contribute(srv.base, e.token, req, { age: 60 })).status, 201);
  const r3 = await revoke(rtoken, { all_unredeemed: true });
  assert.deepEqual(r3.body, { revoked_now: 0, invite_codes: { issued: 4, redeemed: 3, revoked: 2 } });
  views.push(r3.body);

  // Everything the researcher can read: counts, never a redeeming wallet.
  const view = await api(srv.base, 'GET', `/v1/requests/${req.id}`, { token: rtoken });
  assert.equal(view.body.contributions, 2);
  assert.deepEqual(view.body.invite_codes, { issued: 4, redeemed: 3, revoked: 2 });
  views.push(view.body);
  views.push((await api(srv.base, 'GET', `/v1/requests?owner=${researcher.address}`, { token: rtoken })).body);
  const done = await closeAndRelease(srv.base, rtoken, req.id);
  views.push(done);
  const rel = await api(srv.base, 'GET', `/v1/requests/${req.id}/release`, { token: rtoken });
  assert.equal(rel.status, 200, JSON.stringify(rel.body));
  views.push(rel.body);
  const csv = await api(srv.base, 'GET', `/v1/requests/${req.id}/release?format=csv`, { token: rtoken });
  views.push(csv.body);
  const seen = JSON.stringify(views).toLowerCase();
  for (const p of [a, b, c, d, e]) assert.ok(!seen.includes(p.address.slice(2)), `the researcher's views name ${p.address}`);
  assert.ok(seen.includes('"redeemed":3'), 'the views were read');
});

// The third computation of the terms (src/cli: cohort contribute checks the consent it is
// asked to sign against the request it fetched) agrees on an invite request, and sends --code.
test('cohort contribute signs an invite request\'s terms and sends its code', async () => {
  const created = await api(srv.base, 'POST', '/v1/requests', { token: rtoken, json: body({ enrollment: { mode: 'invite', codes: 2 } }) });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const dir = mkdtempSync(join(tmpdir(), 'coh-invite-'));
  const rec = join(dir, 'record.json');
  try {
    const { key, token } = await cliContributor(srv, dir, PURPOSE);
    writeFileSync(rec, JSON.stringify({ age: 44 }));
    const args = ['contribute', '--request', created.body.id, '--record', rec, '--url', srv.base, '--token', token, '--key', key];
    const without = await srv.cli(args);
    assert.notEqual(without.code, 0);
    assert.match(without.stderr, /by invitation/);
    const ok = await srv.cli([...args, '--code', created.body.codes[1]]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /by invitation only: 2 one-time codes\)$/m);
    const view = await api(srv.base, 'GET', `/v1/requests/${created.body.id}`, { token: rtoken });
    assert.deepEqual(view.body.invite_codes, { issued: 2, redeemed: 1, revoked: 0 });
    assert.equal(view.body.contributions, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
