// Crash consistency driver for scripts/crash-test.sh (which owns the throwaway PostgreSQL
// cluster). Runs the marketplace flow in rounds (a request with escrow, contributors who
// consent and post sealed records, close, release with rewards and refund) while a killer
// SIGKILLs cohortd, PostgreSQL (postmaster and every backend) or both at random moments,
// restarting them each time, until CRASH_KILLS kills are done. Every client call is retried
// through the outages until it gets an answer. Then it closes whatever is still open, waits
// for every release, and checks with `cohort verify --url` and SQL that nothing was lost or
// paid twice, escrow and balances add up, and the hash chain is intact. Prints a summary;
// exits 1 if anything is off.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, openSync } from 'node:fs';
import { Wallet } from 'ethers';
import { api } from '../tests/e2e/helpers.mjs';
import { signIn, consent, contribute, pool } from '../tests/e2e/market-helpers.mjs';

const env = process.env;
const KILLS = Number(env.CRASH_KILLS ?? 100);
const PG = { bin: env.CRASH_PG_BIN, data: env.CRASH_PG_DATA, sock: env.CRASH_PG_SOCK, port: env.CRASH_PG_PORT, db: env.CRASH_DB };
const DBURL = `host=${PG.sock} port=${PG.port} dbname=${PG.db} user=cohort`;
const PORT = Number(env.CRASH_HTTP_PORT);
const BASE = `http://127.0.0.1:${PORT}`;
const CONTRIBUTORS = Number(env.CRASH_CONTRIBUTORS ?? 8);
const REWARD = 5n, MAX = 20, DEPOSIT = 10n ** 12n;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const rand = (a, b) => a + Math.floor(Math.random() * (b - a));
const t0 = Date.now();
const log = (...a) => { if (env.CRASH_VERBOSE) console.error(`[${((Date.now() - t0) / 1000).toFixed(1)}s]`, ...a); };

// ---- processes ------------------------------------------------------------------------
let cohortd = null;
const logFd = openSync(env.CRASH_LOG, 'a');
function startCohortd() {
  cohortd = spawn(env.CRASH_COHORTD, [], {
    env: { PATH: env.PATH, COHORT_DATABASE_URL: DBURL, COHORT_MASTER_KEY_FILE: env.CRASH_MASTER_KEY,
      COHORT_LISTEN: `127.0.0.1:${PORT}`, COHORT_METRICS_LISTEN: '', COHORT_PUBLIC_URL: BASE, COHORT_CHAIN_RPC_URL: '', COHORT_PRIVACY_MIN_K: '2',
      COHORT_SIGNIN_RATE_PER_MIN: '100000', COHORT_RELEASE_POLL_MS: '50', COHORT_RELEASE_LEASE_S: '1',
      COHORT_HTTP_THREADS: '32' },
    stdio: ['ignore', 'ignore', logFd],
  });
  const p = cohortd;
  p.exited = new Promise((r) => p.once('exit', r));
}
async function killCohortd() {
  if (!cohortd || cohortd.exitCode !== null || cohortd.signalCode !== null) return;
  cohortd.kill('SIGKILL');
  await cohortd.exited;
}
const pgCtl = (...args) => spawnSync('runuser', ['-u', 'cohort', '--', `${PG.bin}/pg_ctl`, '-D', PG.data, ...args], { encoding: 'utf8' });
function pgStart() {
  for (let i = 0; i < 100; i++) {
    const r = pgCtl('-w', '-t', '60', '-l', `${PG.data}/server.log`, '-o',
      `-c listen_addresses='' -c unix_socket_directories='${PG.sock}' -p ${PG.port} -c max_connections=100`, 'start');
    if (r.status === 0) return;
    spawnSync('sleep', ['0.1']); // a killed backend may still hold the shared memory
  }
  throw new Error('PostgreSQL does not start again');
}
function pgPids() {
  let pm;
  try { pm = Number(readFileSync(`${PG.data}/postmaster.pid`, 'utf8').split('\n')[0]); } catch { return []; }
  const pids = [pm];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pm) pids.push(Number(d));
    } catch { /* gone */ }
  }
  return pids;
}
const alive = (pid) => { try { process.kill(pid, 0); return true; } catch { return false; } };
async function killPostgres() {
  const pids = pgPids();
  for (const pid of pids) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
  for (let i = 0; i < 200 && pids.some(alive); i++) await sleep(25);
}
async function ready(ms = 30000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    try { if ((await fetch(`${BASE}/readyz`)).status === 200) return true; } catch { /* down */ }
    await sleep(50);
  }
  return false;
}

// ---- retried client calls ----------------------------------------------------------------
async function retry(what, fn, okStatuses) {
  const end = Date.now() + 180000;
  for (let attempt = 0; ; attempt++) {
    let r = null;
    try { r = await fn(); } catch { /* connection refused or reset: an outage */ }
    if (r && okStatuses.includes(r.status)) return r;
    if (r && r.status < 500 && r.status !== 429) throw new Error(`${what}: ${r.status} ${JSON.stringify(r.body)}`);
    if (Date.now() > end) throw new Error(`${what}: no answer after 180 s (${r?.status})`);
    await sleep(Math.min(50 * (attempt + 1), 500));
  }
}

// ---- the run -------------------------------------------------------------------------------
const stats = { kills: 0, cohortd: 0, postgres: 0, both: 0, recoveryRestarts: 0, rounds: 0, acked: 0 };
const acked = new Map(); // request id -> Set(contributor address, lowercase)
let killing = true;

async function killer() {
  while (stats.kills < KILLS) {
    await sleep(rand(200, 1800));
    const what = ['cohortd', 'cohortd', 'postgres', 'both'][rand(0, 4)];
    log('kill', what);
    if (what !== 'postgres') await killCohortd();
    if (what !== 'cohortd') await killPostgres();
    if (what !== 'cohortd') pgStart();
    if (what !== 'postgres') startCohortd();
    stats.kills++;
    stats[what]++;
    if (!(await ready(15000))) {
      // cohortd did not come back by itself after the database returned: restart it.
      stats.recoveryRestarts++;
      await killCohortd();
      startCohortd();
      if (!(await ready(30000))) throw new Error('cohortd is not ready after a restart');
    }
  }
  killing = false;
}

async function round(researcher, rtoken, people) {
  const created = await retry('create request', () => api(BASE, 'POST', '/v1/requests', { token: rtoken, json: {
    title: `crash ${stats.rounds}`, purpose: 'crash-test',
    schema: { fields: [{ name: 'age', type: 'integer', min: 0, max: 120, role: 'quasi-identifier' },
      { name: 'steps', type: 'integer', min: 0, max: 100000, role: 'quasi-identifier' }] },
    privacy: { mode: 'k-anonymity', k: 2 }, reward: REWARD.toString(),
    min_contributors: 2, max_contributors: MAX, closes_at: new Date(Date.now() + 3600e3).toISOString(),
  } }), [201]);
  const req = created.body;
  const set = new Set();
  acked.set(req.id, set);
  await pool(people, 4, async (p, i) => {
    await retry('consent', () => consent(BASE, p.w, p.token, req.id), [201, 409]);
    await retry('contribute', () => contribute(BASE, p.token, req, { age: 20 + ((i * 7) % 3), steps: 100 * i }), [201]);
    set.add(p.w.address.toLowerCase());
    stats.acked++;
  });
  await retry('close', () => api(BASE, 'POST', `/v1/requests/${req.id}/close`, { token: rtoken }), [202, 409]);
  stats.rounds++;
  log('round', stats.rounds, 'closed', req.id.slice(0, 10));
}

// Waits until every request of owner is final, read in SQL (a draft is invisible to the API).
// A draft left by a creation killed between its steps is cancelled, and its escrow refunded,
// by the release worker's sweep once it is DRAFT_ABANDONED_S (60 s) old: allow for that.
// Returns the requests still not final (with their state) after the wait.
async function waitAllTerminal(owner) {
  const pending = `SELECT '0x' || encode(r.id, 'hex'), r.status FROM requests r WHERE r.owner = '${owner}' AND
    (r.status NOT IN ('released', 'failed', 'cancelled') OR (r.status = 'cancelled' AND
     EXISTS (SELECT 1 FROM ledger_entries e WHERE e.idempotency_key = 'escrow:0x' || encode(r.id, 'hex')) AND
     NOT EXISTS (SELECT 1 FROM ledger_entries e WHERE e.idempotency_key = 'refund:0x' || encode(r.id, 'hex'))))`;
  const end = Date.now() + 150000;
  for (;;) {
    const left = psql(pending);
    if (left.length === 0 || Date.now() > end) return left;
    await sleep(500);
  }
}

const psql = (sql) => {
  // The checks read every contribution of a 100-kill run: far past spawnSync's 1 MiB default.
  const r = spawnSync('psql', ['-h', PG.sock, '-p', PG.port, '-U', 'cohort', '-d', PG.db, '-tA', '-F', '\t', '-c', sql],
    { encoding: 'utf8', maxBuffer: 256 << 20 });
  if (r.status !== 0) throw new Error(`psql: ${r.error?.message ?? ''} ${r.stderr}`.trim());
  return r.stdout.trim().split('\n').filter(Boolean).map((l) => l.split('\t'));
};

async function main() {
  startCohortd();
  if (!(await ready())) throw new Error('cohortd did not start');
  const researcher = Wallet.createRandom();
  const rtoken = await signIn(BASE, researcher);
  await api(BASE, 'PUT', '/v1/me/profile', { token: rtoken, json: { roles: ['researcher'] } });
  const dep = spawnSync(env.CRASH_CLI, ['ledger', 'deposit', '--address', researcher.address, '--amount', DEPOSIT.toString()],
    { env: { PATH: env.PATH, COHORT_DATABASE_URL: DBURL, COHORT_MASTER_KEY_FILE: env.CRASH_MASTER_KEY }, encoding: 'utf8' });
  if (dep.status !== 0) throw new Error(`deposit: ${dep.stderr}`);
  const people = await pool(Array.from({ length: CONTRIBUTORS }, (_, i) => i), 4, async () => {
    const w = Wallet.createRandom();
    const token = await signIn(BASE, w);
    await api(BASE, 'PUT', '/v1/me/profile', { token, json: { consent_profile: { purposes: ['crash-test'] } } });
    return { w, token };
  });

  const k = killer();
  let killerError = null;
  k.catch((e) => { killerError = e; killing = false; });
  while (killing) await round(researcher, rtoken, people);
  await k;
  if (killerError) throw killerError;
  await round(researcher, rtoken, people); // one clean round after the last kill
  if (!(await ready())) throw new Error('cohortd not ready at the end');

  // Requests whose creation answer was lost in a kill are open with escrow: close them too.
  const owner = researcher.address.toLowerCase();
  const all = psql(`SELECT '0x' || encode(id, 'hex'), status FROM requests WHERE owner = '${owner}'`);
  const drafts = all.filter(([, st]) => st === 'draft').length;
  for (const [id, status] of all) {
    if (status === 'open') await retry('close orphan', () => api(BASE, 'POST', `/v1/requests/${id}/close`, { token: rtoken }), [202, 409]);
  }
  const stuck = await waitAllTerminal(owner);
  const finals = Object.fromEntries(psql(`SELECT '0x' || encode(id, 'hex'), status FROM requests WHERE owner = '${owner}'`));

  // ---- checks -----------------------------------------------------------------------------
  const problems = [];
  const check = (ok, what) => { if (!ok) problems.push(what); };
  const one = (sql) => psql(sql)[0]?.[0];
  // A release is paid by one reward entry carrying "<count>:<root>" of its private credits
  // (ledger_credits, one per contributor and release): a second entry, or a count or amount
  // that differs from its credits, would pay someone twice or not at all.
  const doubled = Number(one(`SELECT count(*) FROM (SELECT ref_request FROM ledger_entries WHERE kind = 'reward' GROUP BY 1 HAVING count(*) > 1) x`));
  check(doubled === 0, `${doubled} releases paid by more than one reward entry`);
  const mismatched = Number(one(`SELECT count(*) FROM ledger_entries e WHERE e.kind = 'reward' AND (
      split_part(e.ref_contribution, ':', 1)::int <> (SELECT count(*) FROM ledger_credits c WHERE c.entry_key = e.idempotency_key)
      OR e.amount <> (SELECT sum(amount) FROM ledger_credits c WHERE c.entry_key = e.idempotency_key))`));
  check(mismatched === 0, `${mismatched} reward entries whose count or amount differs from their credits`);
  let lost = 0, extra = 0, unpaidReleases = 0;
  // Per request: stored contributions, release size, and who was paid (one query for all).
  const per = new Map(psql(`SELECT '0x' || encode(r.id, 'hex'),
      (SELECT count(*) FROM contributions c WHERE c.request_id = r.id),
      coalesce((SELECT included FROM releases x WHERE x.request_id = r.id), -1),
      coalesce((SELECT string_agg(c.address, ',') FROM ledger_credits c JOIN ledger_entries e ON
                e.idempotency_key = c.entry_key WHERE e.kind = 'reward' AND e.ref_request = '0x' || encode(r.id, 'hex')), '')
    FROM requests r WHERE r.owner = '${owner}'`).map(([id, ...rest]) => [id, rest]));
  for (const [id, set] of acked) {
    const [storedText, includedText, paidText] = per.get(id) ?? ['0', '-1', ''];
    const stored = Number(storedText), included = Number(includedText);
    const paid = new Set(paidText ? paidText.split(',') : []);
    if (finals[id] !== 'released') unpaidReleases++;
    for (const a of set) if (!paid.has(a)) lost++;
    for (const a of paid) if (!set.has(a)) extra++;
    check(stored === set.size, `request ${id}: ${stored} stored contributions, ${set.size} acknowledged`);
    check(included === paid.size, `request ${id}: release says ${included} included, ${paid.size} paid`);
  }
  check(lost === 0, `${lost} acknowledged contributions not paid`);
  check(extra === 0, `${extra} payments to contributions never acknowledged`);
  check(unpaidReleases === 0, `${unpaidReleases} requests with contributions ended without a release`);
  check(stuck.length === 0, `${stuck.length} requests never reached a final state (${stuck.map(([i, st]) => `${i.slice(0, 10)} ${st}`).join(', ')}): their escrow stays locked`);
  // Escrow: locked = reward x max; rewards + refund = escrow; escrow accounts end at zero.
  const esc = psql(`SELECT ref_request,
      sum(amount) FILTER (WHERE kind = 'escrow'), coalesce(sum(amount) FILTER (WHERE kind = 'reward'), 0),
      coalesce(sum(amount) FILTER (WHERE kind = 'refund'), 0), count(*) FILTER (WHERE kind = 'escrow'),
      count(*) FILTER (WHERE kind = 'refund')
    FROM ledger_entries WHERE ref_request IS NOT NULL AND kind IN ('escrow', 'reward', 'refund') GROUP BY 1`);
  // Every request has its escrow, except drafts cancelled before the escrow was posted.
  const unescrowed = Number(one(`SELECT count(*) FROM requests r WHERE r.status <> 'cancelled' AND NOT EXISTS
    (SELECT 1 FROM ledger_entries e WHERE e.idempotency_key = 'escrow:0x' || encode(r.id, 'hex'))`));
  check(unescrowed === 0, `${unescrowed} requests past draft without an escrow entry`);
  for (const [ref, e, rw, rf, ne, nr] of esc) {
    check(ne === '1' && BigInt(e) === REWARD * BigInt(MAX), `${ref}: escrow ${e} in ${ne} entries`);
    check(BigInt(rw) + BigInt(rf) === BigInt(e), `${ref}: rewards ${rw} + refund ${rf} != escrow ${e}`);
    check(Number(nr) <= 1, `${ref}: ${nr} refunds`);
  }
  const nonzeroEscrow = Number(one(`SELECT count(*) FROM ledger_balances WHERE account LIKE 'escrow:%' AND balance <> 0`));
  check(nonzeroEscrow === 0, `${nonzeroEscrow} escrow accounts not at zero after every release`);
  // Balances equal the entries; everything sums to zero (chain is minus the rest).
  const drift = Number(one(`SELECT count(*) FROM ledger_balances b FULL JOIN (SELECT account, sum(v) AS v FROM (
      SELECT credit AS account, amount AS v FROM ledger_entries UNION ALL SELECT debit, -amount FROM ledger_entries) x GROUP BY 1) s
      USING (account) WHERE coalesce(b.balance, 0) <> coalesce(s.v, 0)`));
  check(drift === 0, `${drift} accounts whose balance differs from their entries`);
  check(one(`SELECT sum(balance) FROM ledger_balances`) === '0', 'balances do not sum to zero');
  const paidTotal = BigInt(one(`SELECT coalesce(sum(amount), 0) FROM ledger_entries WHERE kind = 'reward'`));
  const avail = BigInt(one(`SELECT balance FROM ledger_balances WHERE account = 'available:${owner}'`));
  check(avail === DEPOSIT - paidTotal, `researcher available ${avail} != deposit - rewards ${DEPOSIT - paidTotal}`);
  // The hash chain: contiguous sequence, head at the last entry, and cohort verify.
  const [n, max, head] = psql(`SELECT count(*), max(seq), (SELECT seq FROM ledger_head) FROM ledger_entries`)[0];
  check(n === max && max === head, `ledger: ${n} entries, max seq ${max}, head ${head}`);
  const v = spawnSync(env.CRASH_CLI, ['verify', '--url', BASE], { encoding: 'utf8' });
  check(v.status === 0, `cohort verify --url failed: ${v.stdout.slice(-300)} ${v.stderr.slice(-300)}`);

  await killCohortd();
  const secs = ((Date.now() - t0) / 1000).toFixed(0);
  console.log(`| runs (rounds) | kills | cohortd | PostgreSQL | both | extra restarts | contributions acknowledged | lost | paid twice | ledger entries | verify | seconds |`);
  console.log(`|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|`);
  console.log(`| ${stats.rounds} (+${all.length - acked.size} orphan requests, ${drafts} abandoned drafts) | ${stats.kills} | ${stats.cohortd} | ${stats.postgres} | ${stats.both} | ${stats.recoveryRestarts} | ${stats.acked} | ${lost} | ${doubled} | ${n} | ${v.status === 0 ? 'ok' : 'FAILED'} | ${secs} |`);
  if (problems.length) {
    console.log('\nPROBLEMS:');
    for (const p of problems) console.log(`- ${p}`);
    process.exitCode = 1;
  } else {
    console.log('\nnothing lost, nothing paid twice, escrow and balances add up, hash chain intact');
  }
}

main().catch(async (e) => {
  console.error('crash-test:', e.message);
  await killCohortd();
  process.exit(1);
});
