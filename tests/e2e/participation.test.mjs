// Participation stays private (issue 14). 30 contributors take part in two overlapping
// requests and a researcher withdraws; then an outsider crawls every public endpoint (every
// ledger page and entry, anchors, requests, the releases as their researcher, every
// researcher's balance, /metrics from outside its listener) and reads cohortd's log, and must
// find no contributor address in any case and no credit salt. Each contributor's own view
// (credits with proofs, balance, claims proof) still works and the on-chain claim pays
// exactly what it did before. `cohort verify` passes in both modes on the live server and
// names the break for a tampered credit, a tampered reward root and a missing credit.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ethers, Wallet } from 'ethers';
import { api } from './helpers.mjs';
import { startChainStack, waitFor } from './chain-anvil.mjs';
import { signIn, consent, contribute, waitForStatus, pool, assertGridRelease, superuserSql } from './market-helpers.mjs';

const UNIT = 10n ** 18n;
const REWARD = 3n * UNIT;
const DEPOSIT = 500n * UNIT;
const WITHDRAW = 7n * UNIT;
const N = 30;
const coder = ethers.AbiCoder.defaultAbiCoder();

let s, researcher, rtoken;
const people = [];
const requests = [];

// Sorted-pair Merkle folding, as OpenZeppelin's MerkleProof.processProof.
function fold(leaf, proof) {
  let h = leaf;
  for (const p of proof) {
    const [a, b] = Buffer.compare(Buffer.from(ethers.getBytes(h)), Buffer.from(ethers.getBytes(p))) < 0 ? [h, p] : [p, h];
    h = ethers.keccak256(ethers.concat([a, b]));
  }
  return h;
}
const creditLeaf = (address, amount, salt) =>
  ethers.keccak256(coder.encode(['address', 'uint256', 'bytes32'], [address, amount, salt]));

// As the database superuser, behind the triggers' back: what a breach of the database could do.
const psql = (sql) => superuserSql(s.db.url, sql);

async function makeRequest(title, who) {
  const created = await api(s.srv.base, 'POST', '/v1/requests', { token: rtoken, json: {
    title, purpose: 'participation',
    eligibility: { country: ['LI'] },
    schema: { fields: [{ name: 'age', type: 'integer', min: 18, max: 100, role: 'quasi-identifier' },
      { name: 'diagnosis', type: 'category', categories: ['hiv', 'none'], role: 'sensitive' }] },
    privacy: { mode: 'k-anonymity', k: 2 }, reward: REWARD.toString(),
    min_contributors: 2, max_contributors: 40, closes_at: new Date(Date.now() + 3600e3).toISOString(),
  } });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const req = created.body;
  await pool(who, 10, async (p, i) => {
    assert.equal((await consent(s.srv.base, p.w, p.token, req.id)).status, 201);
    assert.equal((await contribute(s.srv.base, p.token, req, { age: 20 + (i % 50), diagnosis: i % 2 ? 'hiv' : 'none' })).status, 201);
  });
  assert.equal((await api(s.srv.base, 'POST', `/v1/requests/${req.id}/close`, { token: rtoken })).status, 202);
  assert.equal((await waitForStatus(s.srv.base, rtoken, req.id, ['released', 'failed'])).status, 'released');
  return req;
}

const cli = (args) => s.srv.cli(args);

before(async () => {
  s = await startChainStack('coh_participation');
  [, researcher] = s.anvil.wallets(2);
  rtoken = await signIn(s.srv.base, researcher);
  assert.equal((await api(s.srv.base, 'PUT', '/v1/me/profile', { token: rtoken, json: { roles: ['researcher'] } })).status, 200);
  await (await s.token.connect(researcher).approve(await s.rewards.getAddress(), DEPOSIT)).wait();
  await (await s.rewards.connect(researcher).deposit(DEPOSIT)).wait();
  await waitFor('the deposit', async () =>
    (await api(s.srv.base, 'GET', `/v1/accounts/${researcher.address}/balance`)).body.available === DEPOSIT.toString());
  const funder = s.anvil.wallets(3)[2];
  let nonce = await s.anvil.provider.getTransactionCount(funder.address);
  const txs = [];
  for (let i = 0; i < N; i++) {
    const w = Wallet.createRandom().connect(s.anvil.provider);
    txs.push(funder.sendTransaction({ to: w.address, value: ethers.parseEther('0.1'), nonce: nonce++ }));
    people.push({ w });
  }
  await Promise.all((await Promise.all(txs)).map((t) => t.wait()));
  await pool(people, 10, async (p) => {
    p.token = await signIn(s.srv.base, p.w);
    const r = await api(s.srv.base, 'PUT', '/v1/me/profile', { token: p.token, json: {
      roles: ['contributor'], consent_profile: { purposes: ['participation'], attributes: { country: 'LI' } } } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
  });
  // Two overlapping studies: 0-19 and 10-29.
  requests.push(await makeRequest('HIV in Liechtenstein, A', people.slice(0, 20)));
  requests.push(await makeRequest('HIV in Liechtenstein, B', people.slice(10, 30)));
  const wd = await api(s.srv.base, 'POST', '/v1/me/withdrawals', { token: rtoken, json: { amount: WITHDRAW.toString() }, headers: { 'Idempotency-Key': 'participation-1' } });
  assert.equal(wd.status, 201, JSON.stringify(wd.body));
  // Everything anchored and effective: each contributor's claim is served.
  const want = (i) => REWARD * BigInt((i < 20 ? 1 : 0) + (i >= 10 ? 1 : 0));
  let last;
  await waitFor('every contributor anchored', async () => {
    const r = await api(s.srv.base, 'GET', `/v1/claims/${people[29].w.address}`, { token: people[29].token });
    const r0 = await api(s.srv.base, 'GET', `/v1/claims/${researcher.address}`, { token: rtoken });
    last = [r.status, r.body, r0.status, r0.body];
    return r.status === 200 && r.body.cumulative_amount === want(29).toString() && r0.status === 200;
  }, 60000, 250).catch((e) => { throw new Error(`${e.message}: last answers ${JSON.stringify(last)} anchors ${psql('SELECT json_agg(json_build_object(\'id\', id, \'status\', status, \'last\', last_seq, \'eff\', effective_at, \'n\', n_claims)) FROM chain_anchors')} credits ${psql('SELECT count(*) FROM ledger_credits')} head ${psql('SELECT max(seq) FROM ledger_entries')} log ${s.srv.log().slice(-3000)}`); });
  people.forEach((p, i) => { p.expect = want(i); });
});
after(async () => { await s?.stop(); });

test('a crawler of every public endpoint and the logs finds no contributor address and no salt', async () => {
  const seen = [];
  const get = async (path, token) => {
    const r = await api(s.srv.base, 'GET', path, { token });
    seen.push(`${path} ${r.status} ${typeof r.body === 'string' ? r.body : JSON.stringify(r.body)}`);
    return r;
  };
  for (let after = 0; ;) {
    const page = await get(`/v1/ledger/entries?after=${after}&limit=50`);
    assert.equal(page.status, 200);
    for (const e of page.body.entries) await get(`/v1/ledger/entries/${e.seq}`);
    if (!page.body.next) break;
    after = page.body.next;
  }
  for (const q of ['kind=reward', 'kind=claim', 'kind=withdrawal', `request=${requests[0].id}`, `request=${requests[1].id}`, 'account=payable']) {
    await get(`/v1/ledger/entries?${q}`);
  }
  await get('/v1/anchors');
  await get('/v1/chain');
  const list = await get('/v1/requests');
  for (const r of requests) {
    await get(`/v1/requests/${r.id}`);
    await get(`/v1/requests/${r.id}`, rtoken);
    await get(`/v1/requests/${r.id}/release`, rtoken);
    const csv = await get(`/v1/requests/${r.id}/release?format=csv`, rtoken);
    const rel = (await api(s.srv.base, 'GET', `/v1/requests/${r.id}/release`, { token: rtoken })).body;
    assert.ok(assertGridRelease(csv.body, rel.report, r.schema) > 0, 'the ages are released on the schema grid');
  }
  assert.ok(list.status === 200);
  await get(`/v1/accounts/${researcher.address}/balance`);
  await get('/readyz');
  const m = await get('/metrics');
  assert.equal(m.status, 404, '/metrics is not served on the API listener');
  // The researcher, signed in, sees counts only.
  await get('/v1/me/inbox', rtoken);
  await get('/v1/me/credits', rtoken);
  // Give the log its last lines, then read it with everything else.
  await new Promise((r) => setTimeout(r, 300));
  const text = (seen.join('\n') + '\n' + s.srv.log()).toLowerCase();
  const salts = [];
  for (const p of people) {
    const mine = (await api(s.srv.base, 'GET', '/v1/me/credits', { token: p.token })).body.credits;
    for (const c of mine) salts.push(c.salt.slice(2).toLowerCase());
  }
  assert.equal(salts.length, 40);
  for (const p of people) {
    const hex = p.w.address.slice(2).toLowerCase();
    assert.ok(!text.includes(hex), `contributor ${p.w.address} appears in public data or the log`);
  }
  for (const salt of salts) assert.ok(!text.includes(salt), 'a credit salt appears in public data or the log');
  // The public sums still add up: each request's one reward entry pays its count.
  const rewards = (await api(s.srv.base, 'GET', '/v1/ledger/entries?kind=reward')).body.entries;
  assert.equal(rewards.length, 2);
  for (const e of rewards) {
    assert.equal(e.credit, 'payable');
    assert.equal(e.refs.credits.count, 20);
    assert.match(e.refs.credits.root, /^0x[0-9a-f]{64}$/);
    assert.equal(BigInt(e.amount), REWARD * 20n);
  }
});

test('another address gets no leaf, no earnings and no credits of a contributor', async () => {
  const [a, b] = people;
  assert.equal((await api(s.srv.base, 'GET', `/v1/claims/${a.w.address}`)).status, 401);
  assert.equal((await api(s.srv.base, 'GET', `/v1/claims/${a.w.address}`, { token: b.token })).status, 403);
  assert.equal((await api(s.srv.base, 'GET', `/v1/claims/${a.w.address}`, { token: rtoken })).status, 403);
  for (const token of [undefined, b.token, rtoken]) {
    const v = (await api(s.srv.base, 'GET', `/v1/accounts/${a.w.address}/balance`, { token })).body;
    assert.equal(v.earned, undefined);
    assert.equal(v.claimable, undefined);
  }
});

test('each contributor proves their credits, and claims on chain exactly what they earned', async () => {
  const roots = new Map((await api(s.srv.base, 'GET', '/v1/ledger/entries?kind=reward')).body.entries
    .map((e) => [e.seq, e.refs.credits.root]));
  await pool(people, 6, async (p) => {
    const credits = (await api(s.srv.base, 'GET', '/v1/me/credits', { token: p.token })).body.credits;
    let sum = 0n;
    for (const c of credits) {
      const leaf = creditLeaf(p.w.address, c.amount, c.salt);
      assert.equal(leaf, c.leaf);
      assert.equal(fold(leaf, c.proof), roots.get(c.seq), 'the credit proves against its public entry');
      sum += BigInt(c.amount);
    }
    assert.equal(sum, p.expect);
    const bal = (await api(s.srv.base, 'GET', `/v1/accounts/${p.w.address}/balance`, { token: p.token })).body;
    assert.equal(bal.earned, p.expect.toString());
    const c = (await api(s.srv.base, 'GET', `/v1/claims/${p.w.address}`, { token: p.token })).body;
    assert.equal(c.cumulative_amount, p.expect.toString());
    const before = await s.token.balanceOf(p.w.address);
    await (await s.rewards.connect(p.w).claim(c.address, c.cumulative_amount, c.proof)).wait();
    assert.equal(await s.token.balanceOf(p.w.address) - before, p.expect, 'claimed exactly what was earned');
  });
  // The researcher's withdrawal too.
  const c = (await api(s.srv.base, 'GET', `/v1/claims/${researcher.address}`, { token: rtoken })).body;
  assert.equal(c.cumulative_amount, WITHDRAW.toString());
  const before = await s.token.balanceOf(researcher.address);
  await (await s.rewards.connect(researcher).claim(c.address, c.cumulative_amount, c.proof)).wait();
  assert.equal(await s.token.balanceOf(researcher.address) - before, WITHDRAW);
  await waitFor('the claims back in the ledger', async () =>
    (await api(s.srv.base, 'GET', `/v1/accounts/${people[15].w.address}/balance`, { token: people[15].token })).body.claimed === people[15].expect.toString(), 30000, 200);
});

test('cohort verify passes in both modes and names a tampered credit, a tampered root and a missing credit', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'coh-verify-'));
  const target = people[12]; // in both requests
  const keyFile = join(dir, 'c12.key');
  writeFileSync(keyFile, `${target.w.privateKey.slice(2)}\n`, { mode: 0o600 });
  const pub = await cli(['verify', '--url', s.srv.base]);
  assert.equal(pub.code, 0, pub.stdout + pub.stderr);
  assert.match(pub.stdout, /escrow = rewards \+ refund/);
  const own = await cli(['verify', '--url', s.srv.base, '--key', keyFile]);
  assert.equal(own.code, 0, own.stdout + own.stderr);
  assert.match(own.stdout, /2 private credit\(s\)/);

  const addr = target.w.address.toLowerCase();
  // A tampered credit: the server says 1 more than the release's root holds.
  psql(`UPDATE ledger_credits SET amount = amount + 1 WHERE address = '${addr}' AND request_id = '${requests[0].id}'`);
  let v = await cli(['verify', '--url', s.srv.base, '--key', keyFile]);
  assert.equal(v.code, 1);
  assert.match(v.stdout, /BROKEN: your credit of \d+ at entry \d+ \(request 0x[0-9a-f]{64}\): its proof does not lead/);
  psql(`UPDATE ledger_credits SET amount = amount - 1 WHERE address = '${addr}' AND request_id = '${requests[0].id}'`);

  // A missing credit: the credit of request B is gone.
  const row = psql(`SELECT amount || ',' || encode(salt, 'hex') || ',' || entry_key FROM ledger_credits WHERE address = '${addr}' AND request_id = '${requests[1].id}'`).split(',');
  psql(`DELETE FROM ledger_credits WHERE address = '${addr}' AND request_id = '${requests[1].id}'`);
  v = await cli(['verify', '--url', s.srv.base, '--key', keyFile]);
  assert.equal(v.code, 1);
  assert.match(v.stdout, new RegExp(`BROKEN: you were told your reward for request ${requests[1].id} was paid, but no credit`));
  psql(`INSERT INTO ledger_credits (address, amount, salt, entry_key, request_id) VALUES ('${addr}', ${row[0]}, decode('${row[1]}', 'hex'), '${row[2]}', '${requests[1].id}')`);

  // A tampered reward root: the entry's published root altered behind the triggers' back.
  const seq = psql(`SELECT seq FROM ledger_entries WHERE idempotency_key = 'reward:${requests[0].id}'`);
  const ref = psql(`SELECT ref_contribution FROM ledger_entries WHERE seq = ${seq}`);
  const forged = `${ref.slice(0, -4)}${ref.endsWith('0000') ? '1111' : '0000'}`;
  psql(`UPDATE ledger_entries SET ref_contribution = '${forged}' WHERE seq = ${seq}`);
  v = await cli(['verify', '--url', s.srv.base]);
  assert.equal(v.code, 1);
  assert.match(v.stdout, new RegExp(`BROKEN: .*seq ${seq}|BROKEN: entry ${seq}`));
  psql(`UPDATE ledger_entries SET ref_contribution = '${ref}' WHERE seq = ${seq}`);
  const again = await cli(['verify', '--url', s.srv.base, '--key', keyFile]);
  assert.equal(again.code, 0, again.stdout + again.stderr);
});

test('racing withdrawals under one key cannot credit more than the signed entry, and no credit can be added under a posted entry', async () => {
  const before = BigInt((await api(s.srv.base, 'GET', `/v1/accounts/${researcher.address}/balance`, { token: rtoken })).body.earned);
  // 20 pairs, each pair one key with two amounts: one small, one far beyond what is available.
  const results = await Promise.all(Array.from({ length: 20 }, (_, i) => Promise.all(['1', (10n ** 24n).toString()].map((amount) =>
    api(s.srv.base, 'POST', '/v1/me/withdrawals', { token: rtoken, json: { amount }, headers: { 'Idempotency-Key': `race-${i}` } })))));
  for (const pair of results) assert.ok(pair.every((r) => [200, 201, 402, 409].includes(r.status)), JSON.stringify(pair.map((r) => r.status)));
  const entries = (await api(s.srv.base, 'GET', `/v1/ledger/entries?kind=withdrawal&account=${researcher.address}&limit=1000`)).body.entries
    .filter((e) => e.idempotency_key.includes(':race-'));
  const posted = entries.reduce((a, e) => a + BigInt(e.amount), 0n);
  assert.equal(entries.length, 20);
  const after = BigInt((await api(s.srv.base, 'GET', `/v1/accounts/${researcher.address}/balance`, { token: rtoken })).body.earned);
  assert.equal(after - before, posted, 'what the researcher may claim is what the signed entries carry');
  // cohortd's database role cannot add a credit under a posted reward entry.
  const appUrl = s.db.url.replace(/user=\S+/, 'user=cohort_app');
  const r = spawnSync('psql', [appUrl, '-qXAtc', `INSERT INTO ledger_credits (address, amount, salt, entry_key, request_id) VALUES ('0x${'ab'.repeat(20)}', 1000000, decode('${'00'.repeat(32)}', 'hex'), 'reward:${requests[0].id}', '${requests[0].id}')`], { encoding: 'utf8' });
  assert.notEqual(r.status, 0, 'the insert was refused');
  assert.match(r.stderr, /its entry is posted/);
});
