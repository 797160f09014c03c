// Privacy floors (issue 13), attacked as a researcher with bad intent would, through the API of
// a cohortd running the floors cohortd.conf.example ships. Each attack that worked in wave 1
// must now fail with the intended answer.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Wallet } from 'ethers';
import { startCohortd, api, FLOOR_DEFAULTS } from './helpers.mjs';
import { signIn, consent, contribute, waitForStatus, pool, assertGridRelease } from './market-helpers.mjs';

const REWARD = 1000n;
let srv, researcher, rtoken;

async function deposit(s, address, amount) {
  const d = await s.cli(['ledger', 'deposit', '--address', address, '--amount', amount.toString()]);
  assert.equal(d.code, 0, d.stderr);
}

async function newResearcher(s) {
  const w = Wallet.createRandom();
  const token = await signIn(s.base, w);
  assert.equal((await api(s.base, 'PUT', '/v1/me/profile', { token, json: { roles: ['researcher'] } })).status, 200);
  await deposit(s, w.address, 10n ** 9n);
  return { w, token };
}

async function newContributor(s, purpose, profile = {}) {
  const w = Wallet.createRandom();
  const token = await signIn(s.base, w);
  const r = await api(s.base, 'PUT', '/v1/me/profile', { token, json: {
    roles: ['contributor'],
    consent_profile: { categories: ['health'], purposes: [purpose], attributes: { sex: 'female' }, ...profile },
  } });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return { w, token };
}

const closes = () => new Date(Date.now() + 3600e3).toISOString();
const body = (extra) => ({
  title: 'Floors', purpose: 'floors-research',
  schema: { fields: [
    { name: 'age', type: 'integer', min: 18, max: 100, role: 'quasi-identifier' },
    { name: 'diagnosis', type: 'category', categories: ['hiv', 'flu', 'none'], role: 'sensitive' },
  ] },
  privacy: { mode: 'k-anonymity', k: 5 }, reward: REWARD.toString(),
  min_contributors: 5, max_contributors: 10, closes_at: closes(), ...extra,
});

before(async () => {
  srv = await startCohortd({ ...FLOOR_DEFAULTS, COHORT_SIGNIN_RATE_PER_MIN: '100000', COHORT_RELEASE_POLL_MS: '100' });
  ({ w: researcher, token: rtoken } = await newResearcher(srv));
});
after(async () => { await srv?.stop(); });

async function refused(extra, member, floor) {
  const r = await api(srv.base, 'POST', '/v1/requests', { token: rtoken, json: body(extra) });
  assert.equal(r.status, 422, JSON.stringify(r.body));
  assert.match(r.type, /problem\+json/);
  assert.ok(r.body.detail.includes(member), `${r.body.detail} names ${member}`);
  if (floor) assert.ok(r.body.detail.includes(floor), `${r.body.detail} names the floor ${floor}`);
  return r.body.detail;
}

test('a measure column in a k-anonymity request is refused, naming the field', async () => {
  const d = await refused({ schema: { fields: [
    { name: 'dummy', type: 'integer', min: 0, max: 1, role: 'quasi-identifier' },
    { name: 'zip', type: 'integer', min: 0, max: 99999, role: 'measure' },
    { name: 'birth_yyyymmdd', type: 'integer', min: 19000101, max: 20101231, role: 'measure' },
  ] } }, 'schema.fields[1].role');
  assert.match(d, /zip/);
  // The same raw columns renamed "sensitive" (released as given under l-diversity) are refused too.
  const d2 = await refused({ schema: { fields: [
    { name: 'dummy', type: 'integer', min: 0, max: 1, role: 'quasi-identifier' },
    { name: 'zip', type: 'integer', min: 0, max: 99999, role: 'sensitive' },
  ] } }, 'schema.fields[1].role');
  assert.match(d2, /zip is sensitive.*category field of at most 32 categories/);
  await refused({ schema: { fields: [
    { name: 'age', type: 'integer', min: 18, max: 100, role: 'quasi-identifier' },
    { name: 'zip', type: 'category', categories: Array.from({ length: 40 }, (_, i) => `z${i}`), role: 'sensitive' },
  ] } }, 'schema.fields[1].role');
});

test('k = 2 is refused with the operator floor; l below 2 on a sensitive field too', async () => {
  await refused({ privacy: { mode: 'k-anonymity', k: 2 }, min_contributors: 2 }, 'privacy.k', '5');
  await refused({ privacy: { mode: 'k-anonymity', k: 5, l: 1 } }, 'privacy.l', '2');
});

test('epsilon 10, delta above 1e-6 and 18-decimal epsilons are refused', async () => {
  const dp = (privacy) => ({ schema: { fields: [{ name: 'age', type: 'integer', min: 18, max: 100, role: 'measure' }] },
    privacy: { mode: 'dp', queries: ['mean(age)'], ...privacy }, min_contributors: 50, max_contributors: 60 });
  await refused(dp({ epsilon: '10' }), 'privacy.epsilon', 'privacy_max_epsilon');
  await refused(dp({ epsilon: 10 }), 'privacy.epsilon', 'privacy_max_epsilon');
  await refused(dp({ epsilon: '0.123456789012345678' }), 'privacy.epsilon', '6 decimals');
  await refused(dp({ epsilon: '0.5', delta: '0.0001', mechanism: 'gaussian' }), 'privacy.delta', 'privacy_max_delta');
  await refused({ ...dp({ epsilon: '0.5' }), min_contributors: 1 }, 'min_contributors', '50');
  // Within every floor it is accepted, and the stored epsilon is canonical.
  const ok = await api(srv.base, 'POST', '/v1/requests', { token: rtoken, json: body(dp({ epsilon: '0.500' })) });
  assert.equal(ok.status, 201, JSON.stringify(ok.body));
  assert.equal(ok.body.privacy.epsilon, '0.5');
});

test('a DP request narrowed to one person is not released: failed and refunded', async () => {
  const purpose = 'one-person';
  const target = await newContributor(srv, purpose);
  const before = (await api(srv.base, 'GET', `/v1/accounts/${researcher.address}/balance`)).body;
  const r = await api(srv.base, 'POST', '/v1/requests', { token: rtoken, json: body({
    purpose,
    schema: { fields: [{ name: 'cd4_count', type: 'integer', min: 0, max: 2000, role: 'measure' }] },
    privacy: { mode: 'dp', epsilon: '1', queries: ['mean(cd4_count)'] }, min_contributors: 50, max_contributors: 50,
  }) });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  assert.equal((await consent(srv.base, target.w, target.token, r.body.id)).status, 201);
  assert.equal((await contribute(srv.base, target.token, r.body, { cd4_count: 210 })).status, 201);
  assert.equal((await api(srv.base, 'POST', `/v1/requests/${r.body.id}/close`, { token: rtoken })).status, 202);
  const done = await waitForStatus(srv.base, rtoken, r.body.id, ['released', 'failed']);
  assert.equal(done.status, 'failed');
  const rel = await api(srv.base, 'GET', `/v1/requests/${r.body.id}/release`, { token: rtoken });
  assert.equal(rel.body.mode, 'none');
  assert.ok(!rel.body.content.includes('210'));
  const after = (await api(srv.base, 'GET', `/v1/accounts/${researcher.address}/balance`)).body;
  assert.equal(after.available, before.available, 'the whole escrow came back');
  assert.equal(BigInt((await api(srv.base, 'GET', `/v1/accounts/${target.w.address}/balance`, { token: target.token })).body.earned), 0n);
});

test('a request stored under lower floors is held to the current ones at release', async () => {
  // An operator raises the floors while a DP request for one person is open.
  const low = await startCohortd({ COHORT_RELEASE_WORKERS: '0', COHORT_SIGNIN_RATE_PER_MIN: '100000' });
  const r0 = await newResearcher(low);
  const purpose = 'raised-floor';
  const target = await newContributor(low, purpose);
  const r = await api(low.base, 'POST', '/v1/requests', { token: r0.token, json: body({
    purpose,
    schema: { fields: [{ name: 'cd4_count', type: 'integer', min: 0, max: 2000, role: 'measure' }] },
    privacy: { mode: 'dp', epsilon: '10', queries: ['mean(cd4_count)'] }, min_contributors: 1, max_contributors: 5,
  }) });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  assert.equal((await consent(low.base, target.w, target.token, r.body.id)).status, 201);
  assert.equal((await contribute(low.base, target.token, r.body, { cd4_count: 210 })).status, 201);
  assert.equal((await api(low.base, 'POST', `/v1/requests/${r.body.id}/close`, { token: r0.token })).status, 202);
  await low.stop();
  // srv (shipped floors) takes the job.
  const done = await waitForStatus(srv.base, r0.token, r.body.id, ['released', 'failed']);
  assert.equal(done.status, 'failed');
  const rel = await api(srv.base, 'GET', `/v1/requests/${r.body.id}/release`, { token: r0.token });
  assert.ok(!JSON.stringify(rel.body).includes('210'));
  assert.doesNotMatch(JSON.stringify(rel.body.report), /budget|remaining|cannot be met for/i, 'the reason names no contributor-dependent fact');
});

test('concurrent releases in two processes never overspend a lifetime epsilon', async () => {
  // Two more cohortd with several release workers each share the jobs with srv.
  const env = { ...FLOOR_DEFAULTS, COHORT_PRIVACY_MIN_DP_CONTRIBUTORS: '1', COHORT_RELEASE_WORKERS: '4', COHORT_RELEASE_POLL_MS: '20', COHORT_SIGNIN_RATE_PER_MIN: '100000' };
  const a = await startCohortd(env), b = await startCohortd(env);
  try {
    const purpose = 'budget-race';
    const LIFETIME = 3, N = 20;
    const people = await pool(Array.from({ length: 6 }), 6, () => newContributor(a, purpose, { lifetime_epsilon: String(LIFETIME) }));
    const reqs = [];
    for (let i = 0; i < N; i++) {
      const r = await api(a.base, 'POST', '/v1/requests', { token: rtoken, json: body({
        purpose, title: `race ${i}`,
        schema: { fields: [{ name: 'steps', type: 'integer', min: 0, max: 100000, role: 'measure' }] },
        privacy: { mode: 'dp', epsilon: '1', queries: ['count', 'mean(steps)'] }, min_contributors: 1, max_contributors: 10,
      }) });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      reqs.push(r.body);
    }
    await pool(people, 6, async (p) => {
      for (const r of reqs) {
        assert.equal((await consent(a.base, p.w, p.token, r.id)).status, 201);
        assert.equal((await contribute(a.base, p.token, r, { steps: 5000 })).status, 201);
      }
    });
    // All 20 closed at once.
    await Promise.all(reqs.map((r, i) => api([a, b][i % 2].base, 'POST', `/v1/requests/${r.id}/close`, { token: rtoken })));
    await Promise.all(reqs.map((r) => waitForStatus(a.base, rtoken, r.id, ['released', 'failed'], 120000)));
    for (const p of people) {
      const prof = (await api(a.base, 'GET', '/v1/me/profile', { token: p.token })).body.consent_profile;
      assert.ok(Number(prof.epsilon_spent) <= LIFETIME, `spent ${prof.epsilon_spent} of ${LIFETIME}`);
      // Paid exactly once per release that charged them.
      const earned = BigInt((await api(a.base, 'GET', `/v1/accounts/${p.w.address}/balance`, { token: p.token })).body.earned);
      assert.equal(earned, REWARD * BigInt(Math.round(Number(prof.epsilon_spent))));
    }
  } finally {
    await a.stop();
    await b.stop();
  }
});

test('a categorical quasi-identifier with one value in all rows ends: released, or failed once and refunded', async () => {
  const purpose = 'constant-qi';
  const people = await pool(Array.from({ length: 6 }), 6, () => newContributor(srv, purpose));
  const before = BigInt((await api(srv.base, 'GET', `/v1/accounts/${researcher.address}/balance`)).body.available);
  const r = await api(srv.base, 'POST', '/v1/requests', { token: rtoken, json: body({
    purpose, eligibility: { sex: ['female'] }, retention_days: 0,
    schema: { fields: [
      { name: 'sex', type: 'category', categories: ['female', 'male'], role: 'quasi-identifier' },
      { name: 'age', type: 'integer', min: 18, max: 100, role: 'quasi-identifier' },
    ] },
    privacy: { mode: 'k-anonymity', k: 5 }, min_contributors: 5, max_contributors: 6,
  }) });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  await pool(people, 6, async (p, i) => {
    assert.equal((await consent(srv.base, p.w, p.token, r.body.id)).status, 201);
    assert.equal((await contribute(srv.base, p.token, r.body, { sex: 'female', age: 30 + i })).status, 201);
  });
  assert.equal((await api(srv.base, 'POST', `/v1/requests/${r.body.id}/close`, { token: rtoken })).status, 202);
  const done = await waitForStatus(srv.base, rtoken, r.body.id, ['released', 'failed'], 60000);
  // No escrow stays locked: what left the researcher's account is exactly what was paid.
  const paid = (await pool(people, 6, async (p) => BigInt((await api(srv.base, 'GET', `/v1/accounts/${p.w.address}/balance`, { token: p.token })).body.earned))).reduce((a, b) => a + b, 0n);
  const after = BigInt((await api(srv.base, 'GET', `/v1/accounts/${researcher.address}/balance`)).body.available);
  assert.equal(before - after, paid);
  if (done.status === 'released') {
    assert.equal(paid, REWARD * 6n, 'every accepted contributor is paid');
    const rel = await api(srv.base, 'GET', `/v1/requests/${r.body.id}/release`, { token: rtoken });
    assert.equal(rel.body.mode, 'k-anonymity');
    const csv = await api(srv.base, 'GET', `/v1/requests/${r.body.id}/release?format=csv`, { token: rtoken });
    assert.equal(assertGridRelease(csv.body, rel.body.report, r.body.schema), 6);
  } else {
    assert.equal(paid, 0n);
  }
  // Retention 0: the request key is shredded once it has ended either way.
  for (let i = 0; i < 100; i++) {
    const v = (await api(srv.base, 'GET', `/v1/requests/${r.body.id}`, { token: rtoken })).body;
    if (v.shredded === true) return;
    await new Promise((res) => setTimeout(res, 200));
  }
  assert.fail('the request key was never shredded');
});

test('a preview answers the creation checks, the privacy summary and the expected DP errors, storing nothing', async () => {
  const before = (await api(srv.base, 'GET', `/v1/accounts/${researcher.address}/balance`)).body.available;
  const listed = async () => { const r = await api(srv.base, 'GET', '/v1/requests?owner=' + researcher.address); assert.equal(r.status, 200, JSON.stringify(r.body)); return r.body.requests.length; };
  const count = await listed();
  const dp = (epsilon) => body({
    schema: { fields: [{ name: 'steps', type: 'integer', min: 0, max: 100000, role: 'measure' }] },
    privacy: { mode: 'dp', epsilon, queries: ['count', 'mean(steps)'] }, min_contributors: 50, max_contributors: 5000,
  });
  const ok = await api(srv.base, 'POST', '/v1/requests/preview', { token: rtoken, json: dp('1') });
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  assert.equal(ok.body.valid, true);
  assert.match(ok.body.privacy_summary, /differential privacy/);
  assert.equal(ok.body.escrow, (REWARD * 5000n).toString());
  assert.equal(ok.body.floors.min_dp_contributors, 50);
  assert.deepEqual(ok.body.expected_errors.map((x) => x.contributors), [50, 5000]);
  const [at50, at5000] = ok.body.expected_errors.map((x) => Object.fromEntries(x.queries.map((q) => [q.query, q])));
  assert.ok(at50['mean(steps)'].expected_error_95 > at5000['mean(steps)'].expected_error_95, 'more contributors, less noise');
  assert.ok(at50.count.expected_error_95 > 0);
  // At epsilon 0.05 the mean of 50 people over 0..100000 is mostly noise: the preview says so.
  const noisy = await api(srv.base, 'POST', '/v1/requests/preview', { token: rtoken, json: dp('0.05') });
  assert.equal(noisy.status, 200, JSON.stringify(noisy.body));
  assert.ok(noisy.body.warnings.some((w) => /mean\(steps\) will be mostly noise with 50 contributors/.test(w)), JSON.stringify(noisy.body.warnings));
  // The same refusal as creation, naming the member and the floor.
  const bad = await api(srv.base, 'POST', '/v1/requests/preview', { token: rtoken, json: dp('10') });
  assert.equal(bad.status, 422);
  assert.match(bad.body.detail, /privacy\.epsilon must be at most 1, the operator's floor/);
  // Nothing stored, nothing locked.
  assert.equal((await api(srv.base, 'GET', `/v1/accounts/${researcher.address}/balance`)).body.available, before);
  assert.equal(await listed(), count);
  assert.equal((await api(srv.base, 'POST', '/v1/requests/preview', { json: dp('1') })).status, 401);
});
