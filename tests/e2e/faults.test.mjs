// Faults while serving (issue 10): PostgreSQL restarted under load, the EVM node hung and
// back, a full disk under the database, slow clients holding connections. In each: cohortd
// answers 503 problem+json where it cannot serve (never 500, never a hang, never a crash),
// recovers by itself without a restart, and loses nothing it acknowledged with a 2xx.
//
// The PostgreSQL faults run on PRIVATE throwaway clusters (initdb as user `cohort` into a
// mkdtemp directory under /tmp, unix socket only), so the shared test cluster is never
// stopped; the full-disk one keeps its data directory on a small tmpfs. These tests need root
// (runuser, mount) and skip otherwise. Every cluster, mount and process is removed in a
// finally block, also when an assertion fails.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, mkdirSync, chownSync, rmSync, openSync, writeSync, closeSync, unlinkSync, readFileSync, existsSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { ethers, Wallet } from 'ethers';
import { startCohortd, api } from './helpers.mjs';
import { signIn, consent, seal, pool } from './market-helpers.mjs';
import { startChainStack, waitFor, proposalsSent } from './chain-anvil.mjs';

const PG_BIN = '/usr/lib/postgresql/15/bin';
const isRoot = process.getuid?.() === 0;
const haveCohortUser = isRoot && spawnSync('id', ['-u', 'cohort']).status === 0;
const pgSkip = haveCohortUser && existsSync(`${PG_BIN}/initdb`) ? false
  : 'needs root, the user cohort and PostgreSQL 15 (run through scripts/test.sh)';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- a private PostgreSQL cluster ----------------------------------------------------------

// initdb as `cohort` into a fresh directory (its data on a tmpfs of tmpfsMb MiB if given),
// started with a unix socket only. Returns { url, psql(sql), start(), stop(mode), running(),
// log(), destroy() }; destroy() never throws, so it is safe in finally.
function privateCluster({ tmpfsMb } = {}) {
  const uid = Number(execFileSync('id', ['-u', 'cohort']).toString());
  const gid = Number(execFileSync('id', ['-g', 'cohort']).toString());
  const dir = mkdtempSync('/tmp/coh-faults-');
  chownSync(dir, uid, gid);
  const sock = join(dir, 'run');
  mkdirSync(sock, { mode: 0o700 });
  chownSync(sock, uid, gid);
  let vol = null;
  let data = join(dir, 'data');
  const port = 20000 + Math.floor(Math.random() * 30000); // names the socket file only
  const asPg = (args) => execFileSync('runuser', ['-u', 'cohort', '--', ...args], { stdio: 'pipe', timeout: 90000 });
  // Asynchronous, for use while a stream of requests runs: a blocked event loop would hold
  // every client connection idle past the keep-alive timeout.
  const asPgAsync = (args) => promisify(execFile)('runuser', ['-u', 'cohort', '--', ...args], { timeout: 90000 });
  const ctl = (mode) => [`${PG_BIN}/pg_ctl`, '-D', data, '-w', '-t', '60', ...(mode ? ['-m', mode, 'stop'] : ['-l', join(dir, 'server.log'),
    '-o', `-c listen_addresses='' -c unix_socket_directories='${sock}' -p ${port} -c max_connections=60`, 'start'])];
  const c = {
    dir, vol, port,
    url: `host=${sock} port=${port} dbname=cohort user=cohort`,
    psql: (sql, db = 'cohort') => execFileSync('psql', [`host=${sock} port=${port} dbname=${db} user=cohort connect_timeout=3`, '-XAtqc', sql],
      { stdio: 'pipe', timeout: 30000 }).toString().trim(),
    start: () => asPg(ctl()),
    stop: (mode = 'fast') => asPg(ctl(mode)),
    startAsync: () => asPgAsync(ctl()),
    stopAsync: (mode = 'fast') => asPgAsync(ctl(mode)),
    running: () => spawnSync('runuser', ['-u', 'cohort', '--', `${PG_BIN}/pg_ctl`, '-D', data, 'status']).status === 0,
    log: () => { try { return readFileSync(join(dir, 'server.log'), 'utf8'); } catch { return ''; } },
    destroy() {
      try { if (c.running()) c.stop('immediate'); } catch { /* already gone */ }
      if (vol) spawnSync('umount', ['-l', vol]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    if (tmpfsMb) {
      vol = c.vol = join(dir, 'vol');
      mkdirSync(vol);
      execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${tmpfsMb}m,uid=${uid},gid=${gid},mode=0700`, 'tmpfs', vol]);
      data = join(vol, 'pgdata');
    }
    c.data = data;
    asPg([`${PG_BIN}/initdb`, '-D', data, '-U', 'cohort', '-A', 'trust', '-E', 'UTF8', '--locale=C.UTF-8']);
    c.start();
    c.psql('CREATE DATABASE cohort', 'postgres');
  } catch (e) {
    c.destroy();
    throw e;
  }
  return c;
}

// ---- a timed client ------------------------------------------------------------------------

// Like api() but never throws: {status (0 when no answer within ms), type, body, ms}.
async function call(base, method, path, opts = {}, ms = 10000) {
  const headers = { ...(opts.headers ?? {}) };
  if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
  let body;
  if (opts.json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(opts.json);
  }
  const t0 = performance.now();
  try {
    const r = await fetch(base + path, { method, headers, body, signal: AbortSignal.timeout(ms) });
    const text = await r.text();
    let parsed = text;
    try { parsed = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
    return { status: r.status, type: r.headers.get('content-type'), body: parsed, ms: performance.now() - t0 };
  } catch (e) {
    return { status: 0, error: String(e.cause ?? e), ms: performance.now() - t0 };
  }
}

function summary(log) {
  const by = {};
  for (const x of log) {
    const k = `${x.phase} ${x.status}`;
    by[k] = (by[k] ?? 0) + 1;
  }
  return by;
}

// Every answer is a 2xx or a 503 problem+json, and none took longer than maxMs.
function assertOnly2xxOr503(log, maxMs) {
  for (const x of log) {
    assert.ok((x.status >= 200 && x.status < 300) || x.status === 503,
      `${x.what} in phase ${x.phase}: ${x.status} ${x.error ?? JSON.stringify(x.body)}`);
    if (x.status === 503) assert.equal(x.type, 'application/problem+json', `${x.what}: 503 is problem+json`);
    assert.ok(x.ms < maxMs, `${x.what} in phase ${x.phase} took ${Math.round(x.ms)} ms`);
  }
}

const alive = async (srv) => {
  let gone = false;
  await srv.exited(1).then(() => { gone = true; }, () => {});
  return !gone;
};

// ---- a small marketplace on one cohortd ----------------------------------------------------

const REWARD = 10n ** 18n;
const DEPOSIT = 100000n * REWARD;
const schema = { fields: [
  { name: 'age', type: 'integer', min: 18, max: 100, role: 'quasi-identifier' },
  { name: 'steps', type: 'integer', min: 0, max: 100000, role: 'quasi-identifier' },
] };
const requestBody = (title, max = 500) => ({
  title, purpose: 'faults', schema, privacy: { mode: 'k-anonymity', k: 2 },
  reward: REWARD.toString(), min_contributors: 2, max_contributors: max,
  closes_at: new Date(Date.now() + 3600e3).toISOString(), retention_days: 1,
});

// A researcher with funds, one open request and n contributors who consented and hold a
// sealed record each (sealed once, so a retry sends the same bytes).
async function market(srv, n) {
  const researcher = Wallet.createRandom();
  const rtoken = await signIn(srv.base, researcher);
  assert.equal((await api(srv.base, 'PUT', '/v1/me/profile', { token: rtoken, json: { roles: ['researcher'] } })).status, 200);
  const d = await srv.cli(['ledger', 'deposit', '--address', researcher.address, '--amount', DEPOSIT.toString()]);
  assert.equal(d.code, 0, d.stderr);
  const created = await api(srv.base, 'POST', '/v1/requests', { token: rtoken, json: requestBody('faults') });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const request = created.body;
  const people = await pool(Array.from({ length: n }, (_, i) => i), 8, async (i) => {
    const w = Wallet.createRandom();
    const token = await signIn(srv.base, w);
    const p = await api(srv.base, 'PUT', '/v1/me/profile', { token, json: { roles: ['contributor'], consent_profile: { purposes: ['faults'] } } });
    assert.equal(p.status, 200);
    assert.equal((await consent(srv.base, w, token, request.id)).status, 201);
    return { w, token, address: w.address.toLowerCase(), sealed: await seal({ age: 20 + (i % 60), steps: i }, request.public_key) };
  });
  return { researcher, rtoken, request, people };
}

// Runs reads and writes in four loops until stop(); every answer is logged with the phase it
// started in. Writes: the researcher's profile (display_name "v<i>", one at a time, so the
// stored one is the last acknowledged or a later one), contributions (one per contributor),
// and new requests (each a ledger escrow entry). Reads: the request list and the profile.
function stream(srv, m, phaseOf) {
  const log = [];
  const st = { running: true, profileAcked: -1, profileSent: -1, contributed: new Set(), tried: new Set(), requests: new Set() };
  const rec = (what, r) => { log.push({ what, phase: r.phase, ...r }); return r; };
  const go = async (what, method, path, opts) => {
    const phase = phaseOf();
    const r = await call(srv.base, method, path, opts);
    return rec(what, { ...r, phase });
  };
  let nextPerson = 0;
  const loops = [
    async () => { // profile writes
      for (let i = 0; st.running; i++) {
        st.profileSent = i;
        const r = await go('PUT profile', 'PUT', '/v1/me/profile', { token: m.rtoken, json: { roles: ['researcher'], display_name: `v${i}` } });
        if (r.status === 200) st.profileAcked = i;
        await sleep(20);
      }
    },
    async () => { // reads
      while (st.running) {
        await go('GET requests', 'GET', '/v1/requests', { token: m.rtoken });
        await go('GET profile', 'GET', '/v1/me/profile', { token: m.rtoken });
        await sleep(20);
      }
    },
    async () => { // contributions
      while (st.running && nextPerson < m.people.length) {
        const p = m.people[nextPerson++];
        st.tried.add(p);
        const r = await go('POST contribution', 'POST', `/v1/requests/${m.request.id}/contributions`, { token: p.token, json: { sealed: p.sealed } });
        if (r.status === 201) st.contributed.add(p);
        await sleep(40);
      }
    },
    async () => { // ledger writes
      for (let i = 0; st.running; i++) {
        const r = await go('POST request', 'POST', '/v1/requests', { token: m.rtoken, json: requestBody(`stream ${i}`, 5) });
        if (r.status === 201) st.requests.add(r.body.id);
        await sleep(100);
      }
    },
  ];
  const done = Promise.all(loops.map((f) => f()));
  return { log, st, stop: async () => { st.running = false; await done; } };
}

// Nothing acknowledged is lost: every 201 contribution is stored with exactly the bytes sent
// (after the unanswered ones were retried), the profile holds the last acknowledged write or a
// later one, every acknowledged request exists with its escrow entry, and the ledger verifies.
async function assertNothingLost(srv, m, st, psql) {
  for (const p of st.tried) {
    if (st.contributed.has(p)) continue;
    const r = await call(srv.base, 'POST', `/v1/requests/${m.request.id}/contributions`, { token: p.token, json: { sealed: p.sealed } });
    assert.equal(r.status, 201, `retrying an unanswered contribution: ${JSON.stringify(r.body)}`);
    st.contributed.add(p);
  }
  const rows = new Map(psql(`SELECT contributor || ' ' || encode(ciphertext, 'hex') FROM contributions WHERE request_id = decode('${m.request.id.slice(2)}', 'hex')`)
    .split('\n').filter(Boolean).map((l) => l.split(' ')));
  for (const p of st.contributed) {
    assert.ok(rows.has(p.address), `contribution of ${p.address} is stored`);
    // sealed is 0x hex (docs/API.md).
    assert.equal(rows.get(p.address), p.sealed.slice(2), 'stored ciphertext is the one acknowledged');
  }
  assert.equal(rows.size, st.contributed.size, 'no contribution appeared that nobody sent');
  const name = (await api(srv.base, 'GET', '/v1/me/profile', { token: m.rtoken })).body.display_name;
  const v = Number(name.slice(1));
  assert.ok(v >= st.profileAcked && v <= st.profileSent, `profile ${name}: last acknowledged v${st.profileAcked}, last sent v${st.profileSent}`);
  for (const id of st.requests) {
    const r = await api(srv.base, 'GET', `/v1/requests/${id}`, { token: m.rtoken });
    assert.equal(r.status, 200, `acknowledged request ${id} exists`);
  }
  // Every visible request has its escrow entry, every escrow its request. A creation answered
  // 503 may leave an invisible draft behind: without escrow (the escrow failed) or, if only
  // the final draft -> open step failed, with its escrow locked (reported, see the issue note).
  const [visible, escrowed, drafts, stuck] = psql(`SELECT (SELECT count(*) FROM requests WHERE status <> 'draft') || ' ' ||
    (SELECT count(*) FROM requests r JOIN ledger_entries e ON e.idempotency_key = 'escrow:0x' || encode(r.id, 'hex') WHERE r.status <> 'draft') || ' ' ||
    (SELECT count(*) FROM requests WHERE status = 'draft') || ' ' ||
    (SELECT count(*) FROM requests r JOIN ledger_entries e ON e.idempotency_key = 'escrow:0x' || encode(r.id, 'hex') WHERE r.status = 'draft')`).split(' ').map(Number);
  const allEscrows = Number(psql("SELECT count(*) FROM ledger_entries WHERE kind = 'escrow'"));
  assert.equal(escrowed, visible, 'one escrow entry per visible request');
  assert.equal(allEscrows, escrowed + stuck, 'no escrow without its request');
  assert.ok(visible >= st.requests.size + 1);
  if (drafts) {
    // Abandoned drafts are cancelled and their escrow refunded by the release worker once they
    // are a minute old: age them instead of waiting.
    console.log(`request creations answered 503 left ${drafts} invisible draft(s), ${stuck} of them with escrow locked`);
    psql("UPDATE requests SET created_at = created_at - interval '10 minutes' WHERE status = 'draft'");
    await waitFor('abandoned drafts swept', () => psql(`SELECT count(*) FROM requests r WHERE status = 'draft' OR (status = 'cancelled' AND
      EXISTS (SELECT 1 FROM ledger_entries e WHERE e.idempotency_key = 'escrow:0x' || encode(r.id, 'hex')) AND
      NOT EXISTS (SELECT 1 FROM ledger_entries e WHERE e.idempotency_key = 'refund:0x' || encode(r.id, 'hex')))`) === '0', 30000, 250);
  }
  // The researcher's funds add up: the deposit less the escrow of every open request.
  const locked = BigInt(psql(`SELECT coalesce(sum(reward * max_contributors), 0)::text FROM requests WHERE status = 'open'`));
  const bal = (await api(srv.base, 'GET', `/v1/accounts/${m.researcher.address}/balance`)).body;
  assert.equal(BigInt(bal.available), DEPOSIT - locked, 'available = deposit - escrow of open requests');
  const ver = await srv.cli(['verify', '--url', srv.base]);
  assert.equal(ver.code, 0, ver.stdout + ver.stderr);
}

// ---- 1. PostgreSQL restart while serving ---------------------------------------------------

test('PostgreSQL stopped (immediate) and restarted while serving: 503 meanwhile, then 2xx, nothing lost', { skip: pgSkip, timeout: 120000 }, async () => {
  const pg = privateCluster();
  let srv;
  try {
    srv = await startCohortd({ COHORT_DATABASE_URL: pg.url, COHORT_SIGNIN_RATE_PER_MIN: '100000', COHORT_DB_POOL_SIZE: '8', COHORT_RELEASE_POLL_MS: '200' });
    const m = await market(srv, 120);
    let phase = 'before';
    const s = stream(srv, m, () => phase);
    await sleep(1500);
    await pg.stopAsync('immediate');
    const tDown = performance.now();
    phase = 'down';
    await sleep(300);
    const ready = await call(srv.base, 'GET', '/readyz');
    assert.equal(ready.status, 503);
    assert.equal(ready.type, 'application/problem+json');
    assert.equal(ready.body.check, 'database');
    assert.equal((await call(srv.base, 'GET', '/healthz')).status, 200, 'the process stays alive');
    await sleep(2500);
    phase = 'restarting';
    await pg.startAsync();
    const tUp = performance.now();
    await waitFor('readyz 200', async () => (await call(srv.base, 'GET', '/readyz')).status === 200, 20000, 50);
    const tReady = performance.now();
    phase = 'after';
    await sleep(2000);
    await s.stop();
    const stats = summary(s.log);
    console.log(`postgres restart: down ${Math.round(tUp - tDown)} ms, ready ${Math.round(tReady - tUp)} ms after the start; answers by phase`, stats,
      `; slowest ${Math.round(Math.max(...s.log.map((x) => x.ms)))} ms`);
    assertOnly2xxOr503(s.log, 5000);
    assert.ok(s.log.some((x) => x.phase === 'down' && x.status === 503), 'the outage was seen as 503');
    const after = s.log.filter((x) => x.phase === 'after');
    assert.ok(after.length > 20);
    assert.deepEqual(after.filter((x) => x.status !== 200 && x.status !== 201).map((x) => `${x.what} ${x.status}`), [], 'everything works once ready again');
    assert.ok(await alive(srv), 'cohortd did not crash');
    await assertNothingLost(srv, m, s.st, pg.psql);
    assert.match(srv.log(), /database/);

    // A restart nobody saw: no request while it was down, so every pooled connection is stale
    // when traffic returns. The pool must notice on borrow, not fail the first user of each.
    const burst = () => Promise.all(Array.from({ length: 16 }, () => call(srv.base, 'GET', '/v1/me/profile', { token: m.rtoken })));
    assert.deepEqual((await burst()).map((x) => x.status), Array(16).fill(200), 'the burst opens the whole pool');
    await pg.stopAsync('immediate');
    await pg.startAsync();
    const quiet = await burst();
    console.log('first burst after an unseen restart:', quiet.map((x) => x.status).join(' '));
    assert.deepEqual(quiet.map((x) => x.status), Array(16).fill(200), 'no stale pooled connection reaches a request');
  } finally {
    await srv?.stop();
    pg.destroy();
  }
});

// ---- 2. the EVM node hung, then back ------------------------------------------------------

// The pid of the process listening on a loopback TCP port (anvil's real binary: the npm
// anvil command is a Node shim that spawns it).
function listenerPid(port) {
  const out = execFileSync('ss', ['-Hltnp', `sport = :${port}`]).toString();
  const m = out.match(/pid=(\d+)/);
  if (!m) throw new Error(`no listener on port ${port}: ${out}`);
  return Number(m[1]);
}

// The node is frozen with SIGSTOP and resumed with SIGCONT rather than killed and restarted
// from --dump-state: its chain, mempool, nonces and receipts stay exactly as they were (a
// state dump does not carry the mempool, and a reload is a different node instance), and a
// frozen node is the harder fault for the client: the kernel still accepts connections and
// buffers requests, so nothing fails fast, every call has to time out (a refused connection
// fails in a millisecond), and requests sent before the freeze are processed on resume. Chain
// health is deliberately not part of /readyz: the API does not need the node (anchoring,
// deposit watching and the solvency check are background work that catches up), so a node
// outage must not take cohortd out of a load balancer.
test('the EVM node frozen and back: the API keeps serving, anchoring catches up once, claims work', { timeout: 150000 }, async () => {
  const UNIT = 10n ** 18n, DEPOSIT = 100n * UNIT, WITHDRAW = 2n * UNIT, RW = 3n * UNIT + 7n;
  const s = await startChainStack('coh_faults_chain');
  let pid = null;
  try {
    const base = s.srv.base;
    const [, researcher, funder] = s.anvil.wallets(3);
    const rtoken = await signIn(base, researcher);
    assert.equal((await api(base, 'PUT', '/v1/me/profile', { token: rtoken, json: { roles: ['researcher'] } })).status, 200);
    await (await s.token.connect(researcher).approve(await s.rewards.getAddress(), DEPOSIT)).wait();
    await (await s.rewards.connect(researcher).deposit(DEPOSIT)).wait();
    await waitFor('the deposit credit', async () => (await api(base, 'GET', `/v1/accounts/${researcher.address}/balance`)).body.available === DEPOSIT.toString());
    const people = [];
    for (let i = 0; i < 2; i++) {
      const w = Wallet.createRandom().connect(s.anvil.provider);
      await (await funder.sendTransaction({ to: w.address, value: ethers.parseEther('1') })).wait();
      const token = await signIn(base, w);
      assert.equal((await api(base, 'PUT', '/v1/me/profile', { token, json: { roles: ['contributor'], consent_profile: { purposes: ['faults'] } } })).status, 200);
      people.push({ w, token });
    }
    const anchors = async () => (await api(base, 'GET', '/v1/anchors?limit=500')).body.anchors;
    const head = async () => (await api(base, 'GET', '/v1/chain')).body.head.seq;
    const settled = await head();
    await waitFor('everything so far anchored', async () => (await anchors()).some((a) => a.status === 'confirmed' && a.last_seq >= settled));
    const block0 = await s.anvil.provider.getBlockNumber() + 1;
    const anchors0 = (await anchors()).length;
    const logBefore = s.srv.log().length;

    pid = listenerPid(s.anvil.port);
    process.kill(pid, 'SIGSTOP');
    const t0 = performance.now();
    // max_contributors is one more than the contributions sent: a full request is closed by
    // the worker on its own, and the explicit close below would race it.
    // While the node is frozen: a request funded, consented to, contributed to, closed and
    // released (escrow, rewards, refund in the ledger), and a withdrawal. All of it must be
    // answered at once, and all of it needs anchoring.
    const answers = [];
    const ok = async (what, p) => { const t = performance.now(); const r = await p; answers.push({ what, status: r.status, ms: performance.now() - t }); assert.ok(r.status >= 200 && r.status < 300, `${what}: ${r.status} ${JSON.stringify(r.body)}`); return r; };
    const created = await ok('POST request', api(base, 'POST', '/v1/requests', { token: rtoken, json: { ...requestBody('frozen node', 3), reward: RW.toString() } }));
    const req = created.body;
    for (const [i, p] of people.entries()) {
      await ok('POST consent', consent(base, p.w, p.token, req.id));
      await ok('POST contribution', api(base, 'POST', `/v1/requests/${req.id}/contributions`, { token: p.token, json: { sealed: await seal({ age: 30 + i, steps: 100 }, req.public_key) } }));
    }
    await ok('POST close', api(base, 'POST', `/v1/requests/${req.id}/close`, { token: rtoken }));
    await waitFor('the release', async () => ['released', 'failed'].includes((await api(base, 'GET', `/v1/requests/${req.id}`, { token: rtoken })).body.status), 20000);
    assert.equal((await api(base, 'GET', `/v1/requests/${req.id}`, { token: rtoken })).body.status, 'released');
    await ok('POST withdrawal', api(base, 'POST', '/v1/me/withdrawals', { token: rtoken, json: { amount: WITHDRAW.toString() }, headers: { 'Idempotency-Key': 'frozen-1' } }));
    const target = await head();
    // Reads and readiness stay fine for as long as the node is out, past the RPC client's
    // retries (10 s per attempt, 3 attempts), so the failure is logged.
    while (performance.now() - t0 < 33000) {
      await ok('GET /readyz', api(base, 'GET', '/readyz'));
      await ok('GET anchors', api(base, 'GET', '/v1/anchors'));
      await ok('GET balance', api(base, 'GET', `/v1/accounts/${people[0].w.address}/balance`, { token: people[0].token }));
      await ok('GET claim', api(base, 'GET', `/v1/claims/${people[0].w.address}`, { token: people[0].token }).then((r) => (r.status === 404 ? { ...r, status: 200 } : r)));
      await sleep(250);
    }
    const during = await anchors();
    assert.ok(!during.some((a) => a.status === 'confirmed' && a.last_seq >= target), 'nothing confirmed while the node is frozen');
    const rpcLog = s.srv.log().slice(logBefore).match(/[^\n]*(chain events|anchorer|solvency check)[^\n]*/);
    assert.ok(rpcLog, 'the RPC failure is logged');
    process.kill(pid, 'SIGCONT');
    pid = null;
    const tBack = performance.now();
    const done = await waitFor('the anchor of the frozen period', async () =>
      (await anchors()).find((a) => a.status === 'confirmed' && a.first_seq <= target && target <= a.last_seq), 60000, 200);
    const caughtUp = performance.now() - tBack;
    const slowest = Math.max(...answers.map((a) => a.ms));
    console.log(`frozen node: ${answers.length} API answers while frozen, all 2xx, slowest ${Math.round(slowest)} ms; ` +
      `logged: ${rpcLog[0].slice(0, 240)}; anchor ${done.id} (entries ${done.first_seq}-${done.last_seq}) confirmed ${Math.round(caughtUp)} ms after the node came back`);
    assert.ok(slowest < 2000, 'no API answer waited on the node');
    // No duplicate: every anchor since has exactly one mined transaction and one Anchored event,
    // the signer's nonce moved by exactly the number of anchors, the batches are contiguous.
    const all = await anchors();
    const fresh = all.slice(anchors0);
    for (const a of fresh.filter((x) => x.status === 'confirmed')) {
      assert.equal(a.transactions.filter((t) => t.status === 'mined').length, 1, `anchor ${a.id}: one mined transaction`);
      assert.equal((await s.rewards.queryFilter(s.rewards.filters.Anchored(a.last_seq), 0, 'latest')).length, 1, `anchor ${a.id} anchored once`);
    }
    for (let i = 1; i < all.length; i++) assert.equal(all[i].first_seq, all[i - 1].last_seq + 1, 'contiguous batches');
    const mined = fresh.filter((x) => x.status === 'confirmed').length;
    assert.equal(await proposalsSent(s.anvil.provider, s.signer, block0), mined, 'one transaction per anchor');
    // Claims work: each contributor its reward, the researcher its withdrawal.
    const claimOf = (addr, amount, token) => waitFor(`a claim of ${amount} for ${addr}`, async () => {
      const r = await api(base, 'GET', `/v1/claims/${addr}`, { token });
      return r.status === 200 && r.body.cumulative_amount === amount.toString() && r.body.claims_root === await s.rewards.claimsRoot() ? r.body : null;
    }, 30000, 200);
    for (const [w, amount, token] of [...people.map((p) => [p.w, RW, p.token]), [researcher, WITHDRAW, rtoken]]) {
      const c = await claimOf(w.address, amount, token);
      const before = await s.token.balanceOf(w.address);
      assert.equal((await (await s.rewards.connect(w).claim(c.address, c.cumulative_amount, c.proof)).wait()).status, 1);
      assert.equal(await s.token.balanceOf(w.address) - before, amount, 'claimed exactly what was earned');
    }
    assert.ok(await alive(s.srv));
    // The Claimed events come back to the ledger asynchronously; verify once they have, since
    // `cohort verify --url` compares balances read after the entries it walked.
    for (const [w, amount, token] of [...people.map((p) => [p.w, RW, p.token]), [researcher, WITHDRAW, rtoken]]) {
      await waitFor(`the claim credit of ${w.address}`, async () =>
        (await api(base, 'GET', `/v1/accounts/${w.address}/balance`, { token })).body.claimed === amount.toString(), 30000, 200);
    }
    const ver = await s.srv.cli(['verify', '--url', base]);
    assert.equal(ver.code, 0, ver.stdout + ver.stderr);
  } finally {
    if (pid) try { process.kill(pid, 'SIGCONT'); } catch { /* gone */ }
    await s.stop();
  }
});

// ---- 3. a full disk under the database ------------------------------------------------------

// Fills the volume with one file until the filesystem refuses more; returns its path and size.
function fill(vol) {
  const path = join(vol, 'filler');
  const fd = openSync(path, 'w');
  let bytes = 0;
  try {
    for (const chunk of [1 << 20, 1 << 14, 1 << 12]) {
      const buf = Buffer.alloc(chunk, 0x55);
      for (;;) {
        try { bytes += writeSync(fd, buf); } catch (e) { if (e.code === 'ENOSPC') break; throw e; }
      }
    }
  } finally {
    closeSync(fd);
  }
  return { path, bytes };
}

test('a full disk under the database: writes 503, reads 200, writes work again once space is freed, nothing lost', { skip: pgSkip, timeout: 120000 }, async () => {
  const pg = privateCluster({ tmpfsMb: 96 });
  let srv;
  try {
    srv = await startCohortd({ COHORT_DATABASE_URL: pg.url, COHORT_SIGNIN_RATE_PER_MIN: '100000', COHORT_DB_POOL_SIZE: '8', COHORT_RELEASE_POLL_MS: '200' });
    const m = await market(srv, 150);
    let phase = 'before';
    const s = stream(srv, m, () => phase);
    await sleep(1000);
    const filler = fill(pg.vol);
    const tFull = performance.now();
    phase = 'full';
    // Keep writing until the database refuses a write for want of space.
    await waitFor('a write refused on the full disk', () => s.log.some((x) => x.phase === 'full' && x.status === 503 && x.what.startsWith('P')), 20000, 50);
    const tRefused = performance.now();
    await sleep(2000);
    const pgUpWhileFull = pg.running();
    const readyWhileFull = await call(srv.base, 'GET', '/readyz');
    unlinkSync(filler.path);
    const tFreed = performance.now();
    phase = 'freed';
    let restarted = false;
    if (!pg.running()) { // PostgreSQL PANICs when it cannot write WAL: an operator restarts it
      await pg.startAsync();
      restarted = true;
    }
    // Writes succeed again by themselves: wait for the first acknowledged write.
    const firstWrite = await waitFor('a write acknowledged after freeing space', () =>
      s.log.find((x) => x.phase === 'freed' && x.what.startsWith('P') && x.status >= 200 && x.status < 300), 20000, 20);
    const tWrites = performance.now();
    phase = 'after';
    await sleep(1500);
    await s.stop();
    const full = s.log.filter((x) => x.phase === 'full');
    const reads = full.filter((x) => x.what.startsWith('GET'));
    console.log(`full disk: filler ${filler.bytes} bytes; first write refused ${Math.round(tRefused - tFull)} ms after the fill; ` +
      `PostgreSQL ${pgUpWhileFull ? 'stayed up' : 'went down (PANIC)'}${restarted ? ', restarted' : ''}; readyz while full ${readyWhileFull.status}; ` +
      `writes back ${Math.round(tWrites - tFreed)} ms after freeing (${firstWrite.what}); answers by phase`, summary(s.log),
      `; refused while full:`, [...new Set(full.filter((x) => x.status === 503).map((x) => x.what))].join(', '),
      `; slowest ${Math.round(Math.max(...s.log.map((x) => x.ms)))} ms`);
    const panics = pg.log().match(/PANIC:.*$/m);
    if (panics) console.log(`postgres log: ${panics[0]}`);
    const refusals = srv.log().match(/request failed: [^\n]*(space|53100)[^\n]*/);
    if (refusals) console.log(`cohortd log: ${refusals[0]}`);
    assertOnly2xxOr503(s.log, 6000);
    if (pgUpWhileFull) {
      assert.deepEqual(reads.filter((x) => x.status !== 200).map((x) => `${x.what} ${x.status}`), [], 'reads keep working on a full disk');
      assert.equal(readyWhileFull.status, 200, 'the database is reachable: still ready');
    }
    const after = s.log.filter((x) => x.phase === 'after');
    assert.ok(after.length > 10);
    assert.deepEqual(after.filter((x) => x.status !== 200 && x.status !== 201).map((x) => `${x.what} ${x.status}`), [], 'everything works once space is freed');
    assert.ok(await alive(srv), 'cohortd did not crash');
    // The worst leftover of a creation answered 503: escrow posted, the draft never opened (seen
    // here in some runs when only the last step hit the full disk). Made deterministic: one
    // more request put back to draft, as that failure leaves it; the sweep must refund it.
    const x = await api(srv.base, 'POST', '/v1/requests', { token: m.rtoken, json: requestBody('stuck escrow', 7) });
    assert.equal(x.status, 201);
    pg.psql(`UPDATE requests SET status = 'draft' WHERE id = decode('${x.body.id.slice(2)}', 'hex')`);
    await assertNothingLost(srv, m, s.st, pg.psql);
    assert.match(srv.log(), new RegExp(`request ${x.body.id}: abandoned draft cancelled, its escrow refunded`));
  } finally {
    await srv?.stop();
    pg.destroy();
  }
});

// ---- 4. slow clients -----------------------------------------------------------------------

// A raw TCP client: sends `first`, records what came back and when the server closed.
function rawClient(base, first) {
  const { hostname, port } = new URL(base);
  const t0 = performance.now();
  const sock = connect({ host: hostname, port: Number(port) });
  const c = { sock, data: '', closedAfter: null };
  c.closed = new Promise((resolve) => sock.on('close', () => { c.closedAfter = performance.now() - t0; resolve(); }));
  sock.on('error', () => {});
  sock.on('data', (d) => { c.data += d.toString(); });
  c.ready = new Promise((resolve) => sock.on('connect', () => { if (first) sock.write(first); resolve(); }));
  return c;
}

// A client on a fresh connection (fetch could reuse a pooled keep-alive one): resolves with
// the status line and how long it waited.
async function freshGet(base, path) {
  const t0 = performance.now();
  const c = rawClient(base, `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
  await Promise.race([c.closed, waitFor('an answer', () => c.data.includes('\r\n\r\n'), 30000, 5)]).catch(() => {});
  c.sock.destroy();
  return { line: c.data.split('\r\n')[0], ms: performance.now() - t0 };
}

// Every worker thread held by a slowloris client (half a request line, then nothing) and more
// by idle keep-alive clients: a normal client waits at most about one request timeout, the
// slow ones are dropped at their timeouts, and cohortd serves normally afterwards. With the
// former fixed timeouts (request 10 s, keep-alive 5 s) the same normal client waited ~10 s,
// and ~20 s behind 2 x http_threads slowloris clients; the timeouts are now settings
// (http_request_timeout_ms, http_keep_alive_ms; sizing in cohortd.conf.example).
test('slow clients holding every worker do not starve a normal client, and are dropped', { timeout: 60000 }, async () => {
  const THREADS = 8, REQUEST_MS = 2000, KEEPALIVE_MS = 1000;
  const srv = await startCohortd({ COHORT_HTTP_THREADS: String(THREADS), COHORT_HTTP_REQUEST_TIMEOUT_MS: String(REQUEST_MS), COHORT_HTTP_KEEP_ALIVE_MS: String(KEEPALIVE_MS) });
  const idle = [], slow = [];
  try {
    // The fetch of startCohortd may still hold a keep-alive worker: let it go first.
    await sleep(KEEPALIVE_MS + 300);
    // Idle keep-alive connections: one complete request, then silence.
    for (let i = 0; i < THREADS / 2; i++) {
      const c = rawClient(srv.base, `GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n`);
      idle.push(c);
      await waitFor('the keep-alive answer', () => c.data.includes('\r\n\r\n'), 5000, 5);
    }
    // Slowloris on every worker thread.
    for (let i = 0; i < THREADS; i++) slow.push(rawClient(srv.base, 'GET /heal'));
    await Promise.all(slow.map((c) => c.ready));
    await sleep(100);
    const normal = await freshGet(srv.base, '/v1/chain');
    await Promise.race([Promise.all([...idle, ...slow].map((c) => c.closed)), sleep(4 * REQUEST_MS)]);
    console.log(`slow clients (${THREADS} threads, request timeout ${REQUEST_MS} ms, keep-alive ${KEEPALIVE_MS} ms): ` +
      `a normal client waited ${Math.round(normal.ms)} ms for "${normal.line}"; idle keep-alive dropped after ` +
      `${idle.map((c) => Math.round(c.closedAfter)).join('/')} ms, slowloris after ${slow.map((c) => Math.round(c.closedAfter)).join('/')} ms ` +
      `with ${JSON.stringify(slow[0].data.split('\r\n')[0])}`);
    assert.match(normal.line, /^HTTP\/1\.1 200/);
    assert.ok(normal.ms < REQUEST_MS + 700, `a normal client waited ${Math.round(normal.ms)} ms, more than one request timeout`);
    for (const c of idle) assert.ok(c.closedAfter !== null && c.closedAfter < KEEPALIVE_MS + 1000, 'the idle keep-alive connection was dropped');
    for (const c of slow) assert.ok(c.closedAfter !== null && c.closedAfter < KEEPALIVE_MS + 2 * REQUEST_MS + 1000, 'the slowloris connection was dropped');
    // Served normally again, and alive.
    const again = await freshGet(srv.base, '/healthz');
    assert.match(again.line, /^HTTP\/1\.1 200/);
    assert.ok(again.ms < 500);
    assert.ok(await alive(srv));
  } finally {
    for (const c of [...idle, ...slow]) c.sock.destroy();
    await srv.stop();
  }
});
