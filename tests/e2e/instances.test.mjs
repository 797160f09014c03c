// Issue 18, growing past one process: three cohortd on one PostgreSQL database and one anvil,
// as behind a load balancer (one public URL, sessions and SIWE nonces in the database).
// - contributions and reads are spread over the three (a nonce from one, the sign-in at
//   another, the session used at a third); release jobs are shared (SKIP LOCKED) and each
//   request is released and paid once; the on-chain deposit is credited once;
// - exactly one instance is the chain leader (cohort_chain_leader on /metrics, chain_leader on
//   GET /v1/chain), only it anchors and watches deposits (a standby neither logs an anchorer
//   state nor sends), a standby's /metrics repeats no anchorer series and its /readyz is its own;
// - the leader killed with SIGKILL while its proposal waits in the mempool (automine off):
//   another instance takes over within seconds, re-sends the recorded transaction (same hash,
//   same nonce), never signs a second proposal for the batch (the anchorer key's propose()
//   transactions on chain are counted), and anchors the next batch without a gap;
// - the leader's lock connection terminated by the database (pg_terminate_backend): it says it
//   lost the lock and stops acting; at every sample exactly one instance leads;
// - at the end `cohort verify --url` is clean.
// Without the lock (checked by building with the gate in anchorer.c's worker_step and the
// record fence removed): the first test fails, every instance logging its own anchorer state;
// the third times out waiting for a batch with a single recorded transaction; and a probe of
// eight batches found three signed twice by two instances with different nonces (the first
// dropped as its nonce went to another instance's promote()) and anchor ids skipped by racing
// creations. With the lock: one transaction per batch, consecutive ids.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { Wallet } from 'ethers';
import { SiweMessage } from 'siwe';
import { api, startCohortd } from './helpers.mjs';
import { consent, contribute, closeAndRelease, pool } from './market-helpers.mjs';
import { startChainStack, waitFor, proposalsSent } from './chain-anvil.mjs';

const UNIT = 10n ** 18n;
const REWARD = 3n * UNIT;
let s, PUBLIC;
let inst = []; // the cohortd processes; a killed one stays in the list (dead: true)

before(async () => {
  // A stuck transaction is replaced after anchor_stuck_s: long enough here that the takeover
  // below re-sends the recorded bytes rather than bumping fees.
  s = await startChainStack('coh_instances', { env: { COHORT_ANCHOR_STUCK_S: '300' } });
  PUBLIC = s.srv.base; // the "load balancer's" URL: SIWE messages name it, whoever verifies them
  inst = [s.srv];
  for (let i = 1; i < 3; i++) inst.push(await startCohortd({ ...s.env, COHORT_PUBLIC_URL: PUBLIC }));
});
after(async () => {
  for (const x of inst.slice(1)) await x.stop();
  await s?.stop();
});

const live = () => inst.filter((x) => !x.dead);
const rpc = (m, p = []) => s.anvil.provider.send(m, p);
const psql = (sql) => execFileSync('psql', [s.db.url, '-qAtXc', sql], { encoding: 'utf8' }).trim();

async function leaderGauge(x) {
  const text = await (await fetch(`${x.metricsBase}/metrics`)).text();
  const m = /^cohort_chain_leader (\d)$/m.exec(text);
  return { leader: m ? Number(m[1]) : null, text };
}
// The live instances' gauges: [0|1, ...].
const gauges = async () => Promise.all(live().map(async (x) => (await leaderGauge(x)).leader));
async function theLeader(ms = 10000) {
  return waitFor('exactly one chain leader', async () => {
    const g = await gauges();
    return g.filter((v) => v === 1).length === 1 && g.every((v) => v === 0 || v === 1)
      ? live()[g.indexOf(1)] : null;
  }, ms, 50);
}

// Sign-in as behind a load balancer: the nonce from one instance, the signed message verified by
// another (both in the database), the session then used at a third.
async function signInSpread(wallet, i) {
  const [a, b] = [inst[i % 3], inst[(i + 1) % 3]].map((x) => (x.dead ? live()[0] : x));
  const n = await api(a.base, 'GET', '/v1/auth/nonce');
  assert.equal(n.status, 200);
  const message = new SiweMessage({
    domain: new URL(PUBLIC).host, address: wallet.address, statement: 'Sign in to Cohort.',
    uri: PUBLIC, version: '1', chainId: n.body.chain_id, nonce: n.body.nonce, issuedAt: new Date().toISOString(),
  }).prepareMessage();
  const r = await api(b.base, 'POST', '/v1/auth/siwe', { json: { message, signature: await wallet.signMessage(message) } });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.token;
}
const at = (i) => { const l = live(); return l[i % l.length].base; };

const anchors = async () => (await api(at(0), 'GET', '/v1/anchors?limit=500')).body.anchors;
const covering = async (seq) => (await anchors()).find((a) => a.first_seq <= seq && seq <= a.last_seq);
const confirmed = (seq, ms = 30000) => waitFor(`a confirmed anchor of entry ${seq}`, async () => {
  const a = await covering(seq);
  return a?.status === 'confirmed' ? a : null;
}, ms);
const settled = () => waitFor('no proposal in its challenge period and none in flight', async () =>
  (await s.rewards.pending())[2] === 0n && !(await anchors()).some((a) => a.status !== 'confirmed'), 30000);
async function postEntry() {
  const r = await live()[0].cli(['ledger', 'deposit', '--address', Wallet.createRandom().address, '--amount', '5']);
  assert.equal(r.code, 0, r.stderr);
  return (await api(at(1), 'GET', '/v1/chain')).body.head.seq;
}
async function assertContiguous() {
  const all = await anchors();
  for (let i = 1; i < all.length; i++) assert.equal(all[i].first_seq, all[i - 1].last_seq + 1);
}

let researcher, rtoken;

test('exactly one of three instances leads the chain worker; the standbys neither anchor nor claim the leader\'s state', async () => {
  const leader = await theLeader();
  // Every instance answers GET /v1/chain alike, but says whether it is the one that leads.
  const views = await Promise.all(inst.map(async (x) => (await api(x.base, 'GET', '/v1/chain')).body));
  assert.deepEqual(views.map((v) => v.chain_leader), inst.map((x) => x === leader));
  // The anchorer row is written by the leader: once it exists, the standbys' /metrics do not
  // repeat it as theirs, and their /readyz is their own.
  await waitFor('the leader\'s anchorer state', async () => (await api(at(0), 'GET', '/v1/chain')).body.anchorer?.state === 'ok');
  for (const x of inst) {
    const { leader: g, text } = await leaderGauge(x);
    assert.equal(g, x === leader ? 1 : 0);
    if (x === leader) assert.match(text, /cohort_anchorer_state\{state="ok"\} 1/);
    else assert.doesNotMatch(text, /cohort_anchorer_state/);
    assert.equal((await api(x.base, 'GET', '/readyz')).status, 200);
  }
  await new Promise((r) => setTimeout(r, 500));
  for (const x of inst) {
    if (x === leader) {
      assert.match(x.log(), /chain leader: this instance holds the chain lock/);
      assert.match(x.log(), /anchorer: ok/);
    } else {
      assert.match(x.log(), /chain leader: another instance holds the chain lock; this one stands by/);
      // Acting would show: a standby's anchorer would write and log its state at its first step.
      assert.doesNotMatch(x.log(), /anchorer: ok|: sending 0x|chain events:|solvency/, 'a standby acts on the chain');
    }
  }
  // The lock holder is visible to the operator in pg_stat_activity, under the leader's name.
  const holder = psql(`SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE l.locktype = 'advisory' AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND l.classid = 1668245618 AND l.objid = 1 AND l.objsubid = 2 AND l.granted`);
  assert.match(holder, /^cohortd chain .+ pid \d+$/);
});

test('contributions, reads and releases spread over the three: each request released and paid once, the deposit credited once', async () => {
  [, researcher] = s.anvil.wallets(2);
  rtoken = await signInSpread(researcher, 0);
  assert.equal((await api(at(2), 'PUT', '/v1/me/profile', { token: rtoken, json: { roles: ['researcher'] } })).status, 200);
  // An on-chain deposit: watched by the leader alone, credited once.
  const DEPOSIT = 200n * UNIT;
  await (await s.token.connect(researcher).approve(await s.rewards.getAddress(), DEPOSIT)).wait();
  await (await s.rewards.connect(researcher).deposit(DEPOSIT)).wait();
  await waitFor('the deposit credit', async () =>
    (await api(at(1), 'GET', `/v1/ledger/entries?kind=deposit&account=${researcher.address}`)).body.entries?.length === 1);

  const N = 4, REQUESTS = 3;
  const people = await pool(Array.from({ length: N }, (_, i) => i), 4, async (i) => {
    const w = Wallet.createRandom();
    const token = await signInSpread(w, i + 1);
    assert.equal((await api(at(i + 2), 'PUT', '/v1/me/profile', { token, json: { roles: ['contributor'], consent_profile: { purposes: ['instances-e2e'] } } })).status, 200);
    return { w, token };
  });
  const reqs = [];
  for (let r = 0; r < REQUESTS; r++) {
    const created = await api(at(r), 'POST', '/v1/requests', { token: rtoken, json: {
      title: `instances ${r}`, description: 'spread', purpose: 'instances-e2e',
      schema: { fields: [{ name: 'age', type: 'integer', min: 0, max: 120, role: 'quasi-identifier' },
                         { name: 'steps', type: 'integer', min: 0, max: 100000, role: 'quasi-identifier' }] },
      privacy: { mode: 'k-anonymity', k: 2 }, reward: REWARD.toString(),
      min_contributors: 2, max_contributors: 10, closes_at: new Date(Date.now() + 3600e3).toISOString(),
    } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    reqs.push(created.body);
  }
  // Each contributor reads the request at one instance, consents at another, contributes at a third.
  await pool(reqs.flatMap((req, r) => people.map((p, i) => ({ req, p, k: r + i }))), 6, async ({ req, p, k }) => {
    const view = await api(at(k), 'GET', `/v1/requests/${req.id}`, { token: p.token });
    assert.equal(view.status, 200);
    assert.equal((await consent(at(k + 1), p.w, p.token, req.id)).status, 201);
    assert.equal((await contribute(at(k + 2), p.token, req, { age: 30 + (k % 3), steps: 1000 })).status, 201);
  });
  const released = await Promise.all(reqs.map((req, r) => closeAndRelease(at(r + 1), rtoken, req.id)));
  assert.deepEqual(released.map((v) => v.status), reqs.map(() => 'released'));
  for (const req of reqs) {
    const rewards = (await api(at(0), 'GET', `/v1/ledger/entries?request=${req.id}&kind=reward&limit=1000`)).body.entries;
    assert.equal(rewards.length, 1, `request ${req.id} is paid by exactly one reward entry`);
    assert.equal(rewards[0].refs.credits.count, N);
    assert.equal(BigInt(rewards[0].amount), REWARD * BigInt(N));
    const rel = await api(at(2), 'GET', `/v1/requests/${req.id}/release`, { token: rtoken });
    assert.equal(rel.body.included, N);
  }
  for (const [i, p] of people.entries()) {
    const b = (await api(at(i), 'GET', `/v1/accounts/${p.w.address}/balance`, { token: p.token })).body;
    assert.equal(BigInt(b.earned), REWARD * BigInt(REQUESTS), `${p.w.address} earned each reward once`);
  }
  // Each job ran to its end once, in whichever instance claimed it (SKIP LOCKED).
  const done = () => inst.map((x) => (x.log().match(/release job [0-9a-fx]+ done/g) ?? []).length);
  await waitFor('the release jobs logged done', async () => done().reduce((a, b) => a + b, 0) >= REQUESTS, 5000, 50);
  await new Promise((r) => setTimeout(r, 300)); // the logs flushed
  console.log(`release jobs done per instance: ${done().join(', ')}`);
  assert.equal(done().reduce((a, b) => a + b, 0), REQUESTS, 'each release job done once');
});

test('the leader killed with SIGKILL while its proposal waits in the mempool: another takes over within seconds and sends nothing twice', async () => {
  await confirmed(await postEntry());
  await settled();
  const leader = await theLeader();
  const block0 = await s.anvil.provider.getBlockNumber() + 1;
  await rpc('evm_setAutomine', [false]);
  let killedAt, a;
  try {
    const seq = await postEntry();
    const sent = await waitFor('the leader\'s proposal recorded and in the mempool', async () => {
      const x = await covering(seq);
      return x?.status === 'sent' && x.transactions.length === 1 &&
        await s.anvil.provider.getTransaction(x.transactions[0].tx_hash) ? x : null;
    });
    // The leader logged it (info lines are flushed every 100 ms: waited for, not lost to the kill).
    const line = new RegExp(`anchor ${sent.id} \\(entries \\d+\\.\\.\\d+\\): sending ${sent.transactions[0].tx_hash}`);
    await waitFor('the leader\'s log of the sending', async () => line.test(leader.log()), 5000, 50);
    await leader.kill();
    leader.dead = true;
    killedAt = Date.now();
    const next = await theLeader(10000);
    const took = Date.now() - killedAt;
    console.log(`takeover after SIGKILL: ${took} ms`);
    assert.ok(took < 5000, `another instance leads within seconds (${took} ms)`);
    assert.notEqual(next, leader);
    // The new leader polls the anchor in flight (re-broadcasting its recorded bytes) before the
    // node mines anything.
    await waitFor('the new leader to take the anchor over', async () => /chain leader: this instance holds the chain lock/.test(next.log()));
    await new Promise((r) => setTimeout(r, 1000));
    await rpc('evm_setAutomine', [true]);
    await rpc('evm_mine');
    a = await confirmed(seq);
    assert.equal(a.id, sent.id);
    assert.equal(a.transactions.length, 1, 'no second transaction for the batch');
    assert.equal(a.tx_hash, sent.transactions[0].tx_hash, 'the recorded transaction was mined');
    await new Promise((r) => setTimeout(r, 300)); // its log flushed
    assert.doesNotMatch(next.log(), /anchor \d+ \(entries [^)]*\): sending 0x/, 'the new leader signed nothing for the batch in flight');
  } finally {
    await rpc('evm_setAutomine', [true]);
  }
  assert.equal(await proposalsSent(s.anvil.provider, s.signer, block0), 1, 'one proposal on chain');
  assert.equal((await s.rewards.queryFilter(s.rewards.filters.Anchored(a.last_seq), 0, 'latest')).length, 1);
  // The new leader anchors the next batch, after this one, with the key's next nonce.
  await settled();
  const b = await confirmed(await postEntry());
  assert.equal(b.first_seq, a.last_seq + 1);
  assert.equal(await proposalsSent(s.anvil.provider, s.signer, block0), 2);
  await assertContiguous();
  // Every batch was proposed once: one propose() per confirmed anchor since the start.
  const all = await anchors();
  assert.equal(await proposalsSent(s.anvil.provider, s.signer, 0), all.filter((x) => x.status === 'confirmed').length);
});

test('the leader\'s lock connection terminated by the database: it stops leading at once, and one instance always leads', async () => {
  const leader = await theLeader();
  const pid = psql(`SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = 1668245618 AND objid = 1 AND objsubid = 2 AND granted`);
  assert.match(pid, /^\d+$/);
  assert.equal(psql(`SELECT pg_terminate_backend(${pid})`), 't');
  await waitFor('the leader to say it lost the lock', async () => /chain leader: LOST the chain lock/.test(leader.log()), 10000, 50);
  // Sampled for two seconds: never two leaders, and one again within a poll or two.
  const end = Date.now() + 2000;
  let seen = 0;
  while (Date.now() < end) {
    const g = await gauges();
    assert.ok(g.filter((v) => v === 1).length <= 1, `at most one leader: ${g}`);
    seen += g.includes(1);
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(seen > 0);
  await theLeader();
  // And anchoring goes on under whichever leads now.
  await settled();
  await confirmed(await postEntry());
  await assertContiguous();
});

test('cohort verify --url is clean at the end', async () => {
  const x = live()[0];
  const v = await x.cli(['verify', '--url', x.base]);
  assert.equal(v.code, 0, v.stdout + v.stderr);
});
