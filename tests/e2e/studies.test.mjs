// A contributor's own history (issue 19): GET /v1/me/studies and the inbox's notices say what
// happened to each study joined and what was actually paid, read from the ledger; GET
// /v1/chain says the token's symbol and decimals (null while the node cannot be asked) and when
// the next anchor is due (both null without a chain). The attacks: one wallet reading another's
// studies, a public endpoint or /metrics gaining a link between a contributor and a study, and
// a list that shows the request's reward instead of what the ledger credited.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Wallet } from 'ethers';
import { api, startCohortd } from './helpers.mjs';
import { startChainStack, waitFor } from './chain-anvil.mjs';
import { signIn, consent, contribute, waitForStatus, fundedResearcher, superuserSql } from './market-helpers.mjs';

const UNIT = 10n ** 18n;
const REWARD = 3n * UNIT;
const DEPOSIT = 100n * UNIT;

let s, researcher, rtoken, paidReq, openReq;
const who = {}; // a, b: contributed to paidReq; c: consented only; d: never took part

const psql = (sql) => superuserSql(s.db.url, sql);

async function makeRequest(title, reward) {
  const r = await api(s.srv.base, 'POST', '/v1/requests', { token: rtoken, json: {
    title, purpose: 'studies',
    eligibility: { country: ['LI'] },
    schema: { fields: [{ name: 'age', type: 'integer', min: 18, max: 100, role: 'quasi-identifier' },
      { name: 'diagnosis', type: 'category', categories: ['a', 'b'], role: 'sensitive' }] },
    privacy: { mode: 'k-anonymity', k: 2 }, reward: reward.toString(),
    min_contributors: 2, max_contributors: 10, closes_at: new Date(Date.now() + 3600e3).toISOString(),
  } });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body;
}

const studies = async (token) => api(s.srv.base, 'GET', '/v1/me/studies', { token });
const find = (list, id) => list.find((x) => x.request.id === id);

before(async () => {
  s = await startChainStack('coh_studies');
  [, researcher] = s.anvil.wallets(2);
  rtoken = await fundedResearcher(s, researcher, DEPOSIT);
  for (const k of ['a', 'b', 'c', 'd']) {
    const w = Wallet.createRandom();
    const token = await signIn(s.srv.base, w);
    const r = await api(s.srv.base, 'PUT', '/v1/me/profile', { token, json: {
      roles: ['contributor'], consent_profile: { purposes: ['studies'], attributes: { country: 'LI' } } } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    who[k] = { w, token, addr: w.address.toLowerCase() };
  }
  paidReq = await makeRequest('Sleep in Liechtenstein', REWARD);
  openReq = await makeRequest('Steps in Liechtenstein', 5n * UNIT);
  for (const [k, age, diagnosis] of [['a', 30, 'a'], ['b', 31, 'b']]) {
    assert.equal((await consent(s.srv.base, who[k].w, who[k].token, paidReq.id)).status, 201);
    assert.equal((await contribute(s.srv.base, who[k].token, paidReq, { age, diagnosis })).status, 201);
  }
  assert.equal((await consent(s.srv.base, who.c.w, who.c.token, paidReq.id)).status, 201);
  // a consents to the open request, then revokes.
  assert.equal((await consent(s.srv.base, who.a.w, who.a.token, openReq.id)).status, 201);
  assert.equal((await api(s.srv.base, 'DELETE', `/v1/requests/${openReq.id}/consents/me`, { token: who.a.token })).status, 204);
  assert.equal((await api(s.srv.base, 'POST', `/v1/requests/${paidReq.id}/close`, { token: rtoken })).status, 202);
  assert.equal((await waitForStatus(s.srv.base, rtoken, paidReq.id, ['released', 'failed'])).status, 'released');
});
after(async () => { await s?.stop(); });

test('a contributor sees each study joined, its state and the amount paid, then claimable', async () => {
  const r = await studies(who.a.token);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.studies.length, 2);
  assert.deepEqual(r.body.studies.map((x) => x.request.id), [openReq.id, paidReq.id], 'newest consent first');
  const revoked = find(r.body.studies, openReq.id);
  assert.equal(revoked.state, 'revoked');
  assert.equal(revoked.consent, 'revoked');
  assert.equal(revoked.paid_amount, null);
  assert.equal(revoked.request.title, 'Steps in Liechtenstein');
  const paid = find(r.body.studies, paidReq.id);
  assert.equal(paid.state, 'paid');
  assert.equal(paid.consent, 'given');
  assert.equal(paid.contributed, true);
  assert.equal(paid.paid_amount, REWARD.toString());
  assert.equal(paid.request.status, 'released');
  assert.ok(paid.request.released_at && paid.paid_at, 'released and paid times');
  // Anchored, then effective after the challenge period: claimable.
  const done = await waitFor('the payment claimable', async () => {
    const x = find((await studies(who.a.token)).body.studies, paidReq.id);
    return x.claimable ? x : null;
  }, 60000, 250);
  assert.ok(Date.parse(done.claimable_at) <= Date.now() + 1000, 'claimable_at is when it became so');

  const c = (await studies(who.c.token)).body.studies;
  assert.equal(c.length, 1);
  assert.equal(c[0].state, 'closed', 'consented, never submitted, released without them');
  assert.equal(c[0].contributed, false);
  assert.equal(c[0].paid_amount, null);
});

test('notices name the study and the amount paid', async () => {
  const inbox = await api(s.srv.base, 'GET', '/v1/me/inbox', { token: who.a.token });
  assert.equal(inbox.status, 200);
  const n = inbox.body.notices.find((x) => x.kind === 'reward_paid');
  assert.ok(n, JSON.stringify(inbox.body.notices));
  assert.equal(n.request_id, paidReq.id);
  assert.equal(n.request_title, 'Sleep in Liechtenstein');
  assert.equal(n.amount, REWARD.toString());
  const other = inbox.body.notices.filter((x) => x.kind !== 'reward_paid');
  for (const x of other) assert.equal(x.amount, null, `${x.kind} carries no amount`);
});

test('GET /v1/chain: the token symbol and decimals, and the anchoring schedule', async () => {
  const r = await api(s.srv.base, 'GET', '/v1/chain');
  assert.equal(r.status, 200);
  assert.deepEqual(r.body.token, { address: (await s.token.getAddress()).toLowerCase(), symbol: await s.token.symbol(), decimals: 18 });
  assert.equal(r.body.anchoring.interval_seconds, 1);
  assert.match(r.body.anchoring.last_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.ok(r.body.anchoring.next_at === null || /Z$/.test(r.body.anchoring.next_at));
});

test('one wallet never reads another\'s studies; signed out, none', async () => {
  assert.equal((await api(s.srv.base, 'GET', '/v1/me/studies')).status, 401);
  const d = await studies(who.d.token);
  assert.equal(d.status, 200);
  assert.deepEqual(d.body.studies, [], 'a wallet that took part in nothing sees nothing');
  const b = (await studies(who.b.token)).body.studies;
  assert.deepEqual(b.map((x) => x.request.id), [paidReq.id], 'b sees its own study, not a\'s revoked one');
  // No parameter selects another address.
  for (const q of [`?address=${who.a.addr}`, `?contributor=${who.a.addr}`, `?account=${who.a.addr}`]) {
    const x = await api(s.srv.base, 'GET', `/v1/me/studies${q}`, { token: who.d.token });
    assert.ok(x.status !== 200 || x.body.studies.length === 0, `${q}: ${JSON.stringify(x.body)}`);
  }
  assert.equal((await api(s.srv.base, 'GET', '/v1/me/studies?limit=0', { token: who.d.token })).status, 422);
});

test('no public endpoint nor /metrics links a contributor to a study', async () => {
  const seen = [];
  const get = async (base, path) => {
    const r = await api(base, 'GET', path);
    seen.push(`${path} ${typeof r.body === 'string' ? r.body : JSON.stringify(r.body)}`);
    return r;
  };
  await get(s.srv.base, '/v1/chain');
  await get(s.srv.base, '/v1/anchors');
  await get(s.srv.base, '/v1/requests');
  await get(s.srv.base, '/v1/ledger/entries?limit=1000');
  for (const id of [paidReq.id, openReq.id]) {
    await get(s.srv.base, `/v1/requests/${id}`);
    await get(s.srv.base, `/v1/ledger/entries?request=${id}`);
  }
  await get(s.srv.metricsBase, '/metrics');
  const all = seen.join('\n').toLowerCase();
  for (const k of ['a', 'b', 'c']) assert.ok(!all.includes(who[k].addr.slice(2)), `${k}'s address is public`);
});

test('the amount shown is the ledger credit, not the request\'s reward', async () => {
  // Behind the triggers' back (what only the ledger itself may write): if the list read the
  // request's reward it would not follow.
  const where = `address = '${who.b.addr}' AND request_id = '${paidReq.id}'`;
  const was = psql(`SELECT amount::text FROM ledger_credits WHERE ${where}`);
  assert.equal(was, REWARD.toString());
  psql(`UPDATE ledger_credits SET amount = amount + 7 WHERE ${where}`);
  try {
    const x = find((await studies(who.b.token)).body.studies, paidReq.id);
    assert.equal(x.paid_amount, (REWARD + 7n).toString());
    const n = (await api(s.srv.base, 'GET', '/v1/me/inbox', { token: who.b.token })).body.notices.find((y) => y.kind === 'reward_paid');
    assert.equal(n.amount, (REWARD + 7n).toString());
  } finally {
    psql(`UPDATE ledger_credits SET amount = ${was} WHERE ${where}`);
  }
});

test('GET /v1/chain without a chain: token and anchoring null; a node that cannot be asked: symbol and decimals null', async () => {
  const plain = await startCohortd();
  try {
    const r = await api(plain.base, 'GET', '/v1/chain');
    assert.equal(r.status, 200);
    assert.equal(r.body.token, null);
    assert.equal(r.body.anchoring, null);
  } finally { await plain.stop(); }
  const token = (await s.token.getAddress()).toLowerCase();
  const down = await startCohortd({ ...s.env, COHORT_CHAIN_RPC_URL: 'http://127.0.0.1:9/' });
  try {
    const r = await api(down.base, 'GET', '/v1/chain');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body.token, { address: token, symbol: null, decimals: null });
    assert.equal(r.body.anchoring.interval_seconds, 1);
  } finally { await down.stop(); }
  // A token whose symbol() is no showable text (here every call answers the word 18): the
  // symbol is null, the decimals every amount depends on are still read.
  const odd = `0x${'fe'.repeat(20)}`;
  await s.anvil.provider.send('anvil_setCode', [odd, '0x601260005260206000f3']);
  const weird = await startCohortd({ ...s.env, COHORT_TOKEN_CONTRACT: odd, COHORT_TOKEN_CODE_HASH: '' });
  try {
    const r = await api(weird.base, 'GET', '/v1/chain');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body.token, { address: odd, symbol: null, decimals: 18 });
  } finally { await weird.stop(); }
});
