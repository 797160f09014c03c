// Shared by the e2e tests: start a real cohortd on a free loopback port against the real
// PostgreSQL (COH_TEST_DATABASE_URL), and a small fetch wrapper.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BUILD = process.env.COH_BUILD ?? join(ROOT, 'build');

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

export const LOW_FLOORS = {
  COHORT_PRIVACY_MIN_K: '2',
  COHORT_PRIVACY_MAX_EPSILON: '10',
  COHORT_PRIVACY_MAX_DELTA: '0.001',
  COHORT_PRIVACY_MIN_DP_CONTRIBUTORS: '1',
};
// Tests of other features create requests, consent and contribute faster than the hourly
// rates cohortd ships (issue 17): those are raised out of their way. inbox-abuse.test.mjs
// passes its own and attacks them.
export const HIGH_RATES = {
  COHORT_REQUEST_CREATE_RATE_PER_HOUR: '1000000',
  COHORT_CONSENT_RATE_PER_HOUR: '1000000',
  COHORT_CONTRIBUTION_RATE_PER_HOUR: '1000000',
};
// What cohortd.conf.example ships.
export const FLOOR_DEFAULTS = {
  COHORT_PRIVACY_MIN_K: '5',
  COHORT_PRIVACY_MAX_EPSILON: '1',
  COHORT_PRIVACY_MAX_DELTA: '0.000001',
  COHORT_PRIVACY_MIN_DP_CONTRIBUTORS: '50',
};

// The database URLs cohortd gets. scripts/test.sh splits privileges as production does:
// COH_TEST_APP_DATABASE_URL (cohort_app) serves, COH_TEST_OWNER_DATABASE_URL (cohort_owner)
// migrates; without them both are COH_TEST_DATABASE_URL (a superuser).
export function cohortdDatabaseEnv() {
  const db = process.env.COH_TEST_DATABASE_URL;
  if (!db) throw new Error('COH_TEST_DATABASE_URL is not set: run through scripts/test.sh');
  const app = process.env.COH_TEST_APP_DATABASE_URL;
  const owner = process.env.COH_TEST_OWNER_DATABASE_URL;
  const dbname = (u) => /dbname=\S+/.exec(u ?? '')?.[0];
  return app && owner && dbname(app) === dbname(db)
    ? { COHORT_DATABASE_URL: app, COHORT_MIGRATE_DATABASE_URL: owner }
    : { COHORT_DATABASE_URL: db };
}

export async function startCohortd(env = {}) {
  // A caller naming its own database (a private one, a proxy) gets it as given.
  const dbEnv = env.COHORT_DATABASE_URL ? {} : cohortdDatabaseEnv();
  const db = env.COHORT_DATABASE_URL ?? dbEnv.COHORT_DATABASE_URL;
  const dir = mkdtempSync(join(tmpdir(), 'coh-e2e-'));
  // One master key for every process on the shared test database: the ledger key stored
  // there is wrapped under it.
  const keyFile = join(dir, 'master.key');
  const shared = process.env.COH_TEST_MASTER_KEY_FILE;
  if (!shared) throw new Error('COH_TEST_MASTER_KEY_FILE is not set: run through scripts/test.sh');
  writeFileSync(keyFile, readFileSync(shared), { mode: 0o600 });
  const port = await freePort();
  // /metrics has its own loopback listener; each server gets a free port for it (the default
  // 9464 would clash between parallel servers). env may set it ('' disables it).
  const metricsListen = env.COHORT_METRICS_LISTEN ?? `127.0.0.1:${await freePort()}`;
  const base = `http://127.0.0.1:${port}`;
  const logFile = join(dir, 'cohortd.log');
  const out = [];
  const proc = spawn(join(BUILD, 'cohortd'), [], {
    env: {
      PATH: process.env.PATH,
      ...dbEnv,
      COHORT_MASTER_KEY_FILE: keyFile,
      COHORT_LISTEN: `127.0.0.1:${port}`,
      COHORT_METRICS_LISTEN: metricsListen,
      COHORT_PUBLIC_URL: base,
      // Tests of other features keep their cohorts small: the privacy floors are lowered to
      // the hard limits an operator may set. privacy-floors.test.mjs passes the shipped
      // defaults (FLOOR_DEFAULTS) and attacks them.
      ...LOW_FLOORS,
      ...HIGH_RATES,
      ...env,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  proc.stderr.on('data', (d) => out.push(d));
  const failed = new Promise((_, reject) => proc.once('error', reject));
  failed.catch(() => {});
  for (let i = 0; i < 100; i++) {
    await Promise.race([failed, Promise.resolve()]);
    if (proc.exitCode !== null) throw new Error(`cohortd exited: ${Buffer.concat(out)}`);
    try {
      const r = await fetch(`${base}/healthz`);
      if (r.ok) break;
    } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  const cliEnv = { PATH: process.env.PATH, COHORT_DATABASE_URL: db, COHORT_MASTER_KEY_FILE: keyFile, ...env };
  return {
    base,
    // Base URL of the metrics listener (GET /metrics), null when disabled.
    metricsBase: metricsListen ? `http://${metricsListen}` : null,
    keyFile,
    // Runs the cohort CLI with this server's database and master key; resolves {code, stdout, stderr}.
    cli: (args) => new Promise((resolve) => {
      const p = spawn(join(BUILD, 'src/cli/cohort'), args, { env: cliEnv });
      const o = [], e = [];
      p.stdout.on('data', (d) => o.push(d));
      p.stderr.on('data', (d) => e.push(d));
      p.on('close', (code) => resolve({ code, stdout: Buffer.concat(o).toString(), stderr: Buffer.concat(e).toString() }));
    }),
    log: () => Buffer.concat(out).toString(),
    // SIGKILL, as a crash would; resolves once the process is gone.
    async kill() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGKILL');
        await new Promise((r) => proc.once('exit', r));
      }
    },
    // Resolves when the process exits by itself (a crash point), rejects after ms.
    exited(ms) {
      if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`cohortd still running after ${ms} ms`)), ms);
        proc.once('exit', () => { clearTimeout(t); resolve(); });
      });
    },
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      await new Promise((r) => proc.once('exit', r));
      writeFileSync(logFile, Buffer.concat(out));
    },
  };
}

// api(base, method, path, {token, json, body, headers}) -> {status, type, body}
export async function api(base, method, path, opts = {}) {
  const headers = { ...(opts.headers ?? {}) };
  if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
  let body = opts.body;
  if (opts.json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(opts.json);
  }
  const r = await fetch(base + path, { method, headers, body });
  const text = await r.text();
  let parsed = text;
  try { parsed = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
  return { status: r.status, type: r.headers.get('content-type'), headers: r.headers, body: parsed };
}

// The property names openapi.yaml documents for components.schemas.<name> (its first level of
// `properties`), read from the text: a release's report is checked against them, so the
// document cannot fall behind what the server sends.
export function documentedProperties(name) {
  const lines = readFileSync(join(ROOT, 'openapi.yaml'), 'utf8').split('\n');
  const start = lines.findIndex((l) => l === `    ${name}:`);
  if (start < 0) throw new Error(`openapi.yaml has no schema ${name}`);
  const names = new Set();
  let inProps = false;
  for (const l of lines.slice(start + 1)) {
    if (/^ {0,4}\S/.test(l)) break; // the next schema
    if (/^ {6}properties:/.test(l)) { inProps = true; continue; }
    if (/^ {6}\S/.test(l)) inProps = false;
    const m = inProps && /^ {8}([a-z_0-9]+):/.exec(l);
    if (m) names.add(m[1]);
  }
  return names;
}

// Every member of a release's report (and of each DP result) is documented in openapi.yaml.
export function assertReleaseDocumented(release) {
  const undocumented = (obj, schema) => Object.keys(obj).filter((k) => !documentedProperties(schema).has(k));
  if (release.mode === 'k-anonymity') {
    const extra = undocumented(release.report, 'KAnonymityReport');
    if (extra.length) throw new Error(`KAnonymityReport lacks ${extra.join(', ')}`);
  } else if (release.mode === 'dp') {
    const extra = undocumented(release.report, 'DpResults');
    for (const r of release.report.results) extra.push(...undocumented(r, 'DpResult'));
    if (extra.length) throw new Error(`DpResults/DpResult lack ${[...new Set(extra)].join(', ')}`);
  }
}
