// Burying other researchers' requests, and the rates that bound a script (issue 17), tried as
// an attacker through the API:
// - 1,000 cheap requests that match nobody, posted after a matching one, no longer push it off
//   a contributor's inbox: matching is done in SQL before the page's limit, so the match is on
//   the first page (before, the inbox took the 1,000 newest open requests and matched in C);
// - the inbox's pages (limit, next = {before_us, before_id}) walk every match exactly once,
//   newest first; a malformed or half cursor is 422 invalid-parameter;
// - a request whose escrow (reward x max_contributors) is below request_min_escrow is refused
//   with 422 naming the setting, at creation and at preview;
// - creating requests, consenting and contributing beyond the per-account hourly rates answer
//   429 rate-limited with Retry-After, and one account's limit is not another's.
// Set-up: the 1,000 requests are created through the API (POST /v1/requests, keys and escrow by
// cohortd) on a server whose creation rate is raised for it; the rates are attacked on a second
// server with low ones.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Wallet } from 'ethers';
import { startCohortd, api } from './helpers.mjs';
import { signIn, consent, contribute, pool } from './market-helpers.mjs';

const PURPOSE = `inbox-abuse-${process.pid}`;
const MIN_REWARD = 1000n; // the contributor's own minimum, in base units
const schema = {
  fields: [
    { name: 'age', type: 'integer', unit: 'years', min: 18, max: 100, role: 'quasi-identifier' },
    { name: 'diagnosis', type: 'category', categories: ['a', 'b', 'c'], role: 'sensitive' },
  ],
};
const record = { age: 40, diagnosis: 'b' };

function body(extra = {}) {
  return {
    title: 'Inbox abuse', description: '', purpose: PURPOSE, schema, eligibility: {},
    privacy: { mode: 'k-anonymity', k: 2 }, reward: MIN_REWARD.toString(), min_contributors: 2,
    max_contributors: 5, closes_at: new Date(Date.now() + 3600e3).toISOString(), retention_days: 30,
    ...extra,
  };
}

async function account(srv, roles, profile = {}) {
  const w = Wallet.createRandom();
  const token = await signIn(srv.base, w);
  const p = await api(srv.base, 'PUT', '/v1/me/profile', { token, json: { roles, ...profile } });
  assert.equal(p.status, 200, JSON.stringify(p.body));
  return { w, token };
}

async function researcher(srv, amount = 10n ** 12n) {
  const r = await account(srv, ['researcher']);
  const d = await srv.cli(['ledger', 'deposit', '--address', r.w.address, '--amount', amount.toString()]);
  assert.equal(d.code, 0, d.stderr);
  return r;
}

const contributorProfile = {
  consent_profile: {
    categories: ['health'], purposes: [PURPOSE], attributes: { country: 'US', sex: 'female' },
    min_reward: MIN_REWARD.toString(), lifetime_epsilon: '5',
  },
};

async function create(srv, token, extra) {
  const r = await api(srv.base, 'POST', '/v1/requests', { token, json: body(extra) });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body;
}

let srv, low;
before(async () => {
  srv = await startCohortd({ COHORT_SIGNIN_RATE_PER_MIN: '100000', COHORT_REQUEST_CREATE_RATE_PER_HOUR: '100000' });
  low = await startCohortd({
    COHORT_SIGNIN_RATE_PER_MIN: '100000', COHORT_REQUEST_MIN_ESCROW: '1000',
    COHORT_REQUEST_CREATE_RATE_PER_HOUR: '3', COHORT_CONSENT_RATE_PER_HOUR: '2',
    COHORT_CONTRIBUTION_RATE_PER_HOUR: '2',
  });
});
after(async () => { await srv?.stop(); await low?.stop(); });

// Every page of the caller's inbox, following next; the ids in order.
async function walk(base, token, limit) {
  const ids = [];
  let q = `?limit=${limit}`;
  for (let pages = 0; pages < 1000; pages++) {
    const r = await api(base, 'GET', `/v1/me/inbox${q}`, { token });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.ok(r.body.requests.length <= limit);
    assert.equal(r.body.limit, limit);
    ids.push(...r.body.requests.map((x) => x.request.id));
    if (r.body.next === null) return { ids, pages: pages + 1 };
    assert.equal(typeof r.body.next.before_us, 'number');
    assert.match(r.body.next.before_id, /^0x[0-9a-f]{64}$/);
    q = `?limit=${limit}&before_us=${r.body.next.before_us}&before_id=${r.body.next.before_id}`;
  }
  throw new Error('the inbox never ended');
}

test('1,000 cheap requests no longer hide a matching request; the pages walk every match', async () => {
  const honest = await researcher(srv);
  const attacker = await researcher(srv);
  const c = await account(srv, ['contributor'], contributorProfile);
  const matching = [await create(srv, honest.token)];
  // The attack: 1,000 requests newer than the match, none of which this contributor matches
  // (reward 1 below their minimum, or an eligibility they do not meet), each locking little.
  const spam = Array.from({ length: 1000 }, (_, i) => (i % 2
    ? { reward: '1', max_contributors: 2 }
    : { eligibility: { country: ['FR'] }, max_contributors: 2 }));
  await pool(spam, 8, async (extra) => { await create(srv, attacker.token, extra); });
  const first = await api(srv.base, 'GET', '/v1/me/inbox', { token: c.token });
  assert.equal(first.status, 200);
  assert.ok(first.body.requests.some((x) => x.request.id === matching[0].id),
    'the matching request is on the first page, under 1,000 newer ones');
  // More matches, interleaved with more spam; paging at 2 a page walks them all once, newest
  // first, and nothing of the attacker's.
  for (let i = 0; i < 6; i++) {
    matching.push(await create(srv, honest.token, { reward: (MIN_REWARD + BigInt(i)).toString() }));
    await create(srv, attacker.token, { reward: '1', max_contributors: 2 });
  }
  const { ids, pages } = await walk(srv.base, c.token, 2);
  const want = matching.map((r) => r.id).reverse();
  assert.deepEqual(ids, want, 'every match once, newest first, and none of the 1,006 others');
  assert.equal(pages, 4);
  assert.deepEqual((await walk(srv.base, c.token, 200)).ids, want, 'one page of 200 holds the same');

  // Browsing the attacker's 1,006 requests (made many to a second) page by page with the
  // list's cursor shows each exactly once; the older cursor, to the second, skipped some.
  const seen = [];
  let next = null, skippedByOld = 0;
  do {
    const q = new URLSearchParams({ owner: attacker.w.address.toLowerCase(), limit: '50', ...(next ?? {}) });
    const r = await api(srv.base, 'GET', `/v1/requests?${q}`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    seen.push(...r.body.requests.map((x) => x.id));
    if (r.body.next_before) {
      const old = await api(srv.base, 'GET', `/v1/requests?${new URLSearchParams({ owner: attacker.w.address.toLowerCase(), limit: '50', before: r.body.next_before })}`);
      const nextIds = old.body.requests.map((x) => x.id);
      const upcoming = (await api(srv.base, 'GET', `/v1/requests?${new URLSearchParams({ owner: attacker.w.address.toLowerCase(), limit: '50', ...r.body.next })}`)).body.requests.map((x) => x.id);
      skippedByOld += upcoming.filter((id) => !nextIds.includes(id)).length;
    }
    next = r.body.next;
  } while (next);
  assert.equal(seen.length, 1006);
  assert.equal(new Set(seen).size, 1006, 'each request once');
  assert.ok(skippedByOld > 0, 'the older cursor, to the second, skips requests of the same second');
});

test('the inbox and the request list refuse a malformed, half or out-of-range cursor and limit', async () => {
  const c = await account(srv, ['contributor'], contributorProfile);
  const id = `0x${'ab'.repeat(32)}`;
  for (const path of ['/v1/me/inbox', '/v1/requests']) {
    for (const [q, param] of [
      ['limit=0', 'limit'], ['limit=201', 'limit'], ['limit=1e2', 'limit'],
      ['before_us=-1&before_id=' + id, 'before_us'], ['before_us=12x&before_id=' + id, 'before_us'],
      // Past 9999 (PostgreSQL's intervals end there: this was a 503 from the database).
      ['before_us=9223372036854775807&before_id=' + id, 'before_us'],
      [`before_id=${id}`, 'before_us'], ['before_us=5', 'before_id'],
      ['before_us=5&before_id=0x1234', 'before_id'], [`before_us=5&before_id=${'ab'.repeat(32)}`, 'before_id'],
    ]) {
      const r = await api(srv.base, 'GET', `${path}?${q}`, { token: c.token });
      assert.equal(r.status, 422, `${path}?${q}`);
      assert.equal(r.body.type, 'urn:cohort:problem:invalid-parameter', q);
      assert.equal(r.body.parameter, param, q);
      assert.equal(r.body.in, 'query', q);
    }
    const last = await api(srv.base, 'GET', `${path}?before_us=253402300799999999&before_id=${id}`, { token: c.token });
    assert.equal(last.status, 200, `${path}: the last microsecond of 9999 is a cursor`);
  }
  // A path that is not UTF-8 once decoded: a problem body all the same, the path mended.
  const odd = await api(srv.base, 'GET', '/v1/x%FF');
  assert.equal(odd.status, 404);
  assert.equal(odd.body.instance, '/v1/x?');
  const far = await api(srv.base, 'GET', `/v1/me/inbox?before_us=0&before_id=${id}`, { token: c.token });
  assert.equal(far.status, 200);
  assert.deepEqual(far.body.requests, [], 'nothing is older than the epoch');
  assert.equal(far.body.next, null);
});

test('a request below request_min_escrow is refused, naming the setting', async () => {
  const r = await researcher(low);
  for (const path of ['/v1/requests/preview', '/v1/requests']) {
    const cheap = await api(low.base, 'POST', path, { token: r.token, json: body({ reward: '1', max_contributors: 5 }) });
    assert.equal(cheap.status, 422, JSON.stringify(cheap.body));
    assert.equal(cheap.body.type, 'urn:cohort:problem:invalid-request');
    assert.match(cheap.body.detail, /request_min_escrow/);
    assert.match(cheap.body.detail, /\b5\b.*\b1000\b/);
  }
  const enough = await api(low.base, 'POST', '/v1/requests', { token: r.token, json: body({ reward: '200', max_contributors: 5 }) });
  assert.equal(enough.status, 201, 'reward x max_contributors = 1000 reaches it');
});

test('request creation, consents and contributions beyond their rates answer 429 with Retry-After', async () => {
  const r = await researcher(low);
  const made = [];
  for (let i = 0; i < 3; i++) made.push(await create(low, r.token));
  const over = await api(low.base, 'POST', '/v1/requests', { token: r.token, json: body() });
  assert.equal(over.status, 429, JSON.stringify(over.body));
  assert.equal(over.body.type, 'urn:cohort:problem:rate-limited');
  assert.match(over.headers.get('retry-after') ?? '', /^[1-9][0-9]*$/);
  const other = await researcher(low);
  await create(low, other.token); // per researcher: another one is not limited

  const c = await account(low, ['contributor'], contributorProfile);
  for (const req of made.slice(0, 2)) {
    const k = await consent(low.base, c.w, c.token, req.id);
    assert.equal(k.status, 201, JSON.stringify(k.body));
  }
  const k3 = await consent(low.base, c.w, c.token, made[2].id);
  assert.equal(k3.status, 429, JSON.stringify(k3.body));
  assert.equal(k3.body.type, 'urn:cohort:problem:rate-limited');
  assert.match(k3.headers.get('retry-after') ?? '', /^[1-9][0-9]*$/);
  const revoke = await api(low.base, 'DELETE', `/v1/requests/${made[0].id}/consents/me`, { token: c.token });
  assert.equal(revoke.status, 429, 'revoking shares the consents allowance');

  for (const req of made.slice(0, 2)) {
    const s = await contribute(low.base, c.token, req, record);
    assert.equal(s.status, 201, JSON.stringify(s.body));
  }
  const s3 = await contribute(low.base, c.token, made[0], record);
  assert.equal(s3.status, 429, JSON.stringify(s3.body));
  assert.equal(s3.body.type, 'urn:cohort:problem:rate-limited');
  assert.match(s3.headers.get('retry-after') ?? '', /^[1-9][0-9]*$/);
  // Another contributor still consents and contributes.
  const d = await account(low, ['contributor'], contributorProfile);
  assert.equal((await consent(low.base, d.w, d.token, made[2].id)).status, 201);
  assert.equal((await contribute(low.base, d.token, made[2], record)).status, 201);
});
