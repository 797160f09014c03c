// Canary: distinctive plaintext values contributed to a DP request appear nowhere after the
// release: not in a dump of the database, not in cohortd's log, not in any file under var/
// (PostgreSQL's data files and WAL included). Only ciphertext and noisy aggregates remain.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { randomInt } from 'node:crypto';
import { Wallet } from 'ethers';
import { ROOT, startCohortd, api } from './helpers.mjs';
import { signIn, consent, contribute, waitForStatus, pool } from './market-helpers.mjs';

let srv;
after(async () => { await srv?.stop(); });

function* files(dir) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* files(p);
    else if (e.isFile()) yield p;
  }
}

test('contributed plaintext is found nowhere: database dump, logs, var/', async () => {
  srv = await startCohortd({ COHORT_SIGNIN_RATE_PER_MIN: '100000', COHORT_RELEASE_POLL_MS: '100', COHORT_LOG_LEVEL: 'debug' });
  const researcher = Wallet.createRandom();
  const rtoken = await signIn(srv.base, researcher);
  await api(srv.base, 'PUT', '/v1/me/profile', { token: rtoken, json: { roles: ['researcher'] } });
  assert.equal((await srv.cli(['ledger', 'deposit', '--address', researcher.address, '--amount', '1000'])).code, 0);
  const created = await api(srv.base, 'POST', '/v1/requests', { token: rtoken, json: {
    title: 'canary', purpose: 'canary-study',
    schema: { fields: [{ name: 'weight', type: 'decimal', min: '0', max: '99999', role: 'measure' }] },
    privacy: { mode: 'dp', epsilon: '1', queries: ['count', 'mean(weight)'] },
    reward: '1', min_contributors: 5, max_contributors: 20,
    closes_at: new Date(Date.now() + 3600e3).toISOString() } });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const req = created.body;
  // Values with 9 random digits (the field allows 4 decimals): no such string exists anywhere
  // by chance.
  const canaries = Array.from({ length: 10 }, () => `${randomInt(10000, 99999)}.${String(randomInt(1, 9999)).padStart(4, '0').replace(/0$/, '7')}`);
  await pool(canaries, 5, async (value) => {
    const w = Wallet.createRandom();
    const token = await signIn(srv.base, w);
    await api(srv.base, 'PUT', '/v1/me/profile', { token, json: { consent_profile: { purposes: ['canary-study'] } } });
    assert.equal((await consent(srv.base, w, token, req.id)).status, 201);
    const r = await contribute(srv.base, token, req, { weight: Number(value) });
    assert.equal(r.status, 201, JSON.stringify(r.body));
  });
  assert.equal((await api(srv.base, 'POST', `/v1/requests/${req.id}/close`, { token: rtoken })).status, 202);
  await waitForStatus(srv.base, rtoken, req.id, ['released']);
  const rel = await api(srv.base, 'GET', `/v1/requests/${req.id}/release`, { token: rtoken });
  assert.equal(rel.status, 200);

  // Every copy the system could have made, now in one haystack per source.
  const db = process.env.COH_TEST_DATABASE_URL;
  execFileSync('psql', [db, '-qc', 'CHECKPOINT']);
  const dump = execFileSync('pg_dump', [db], { maxBuffer: 1 << 30 }).toString();
  await srv.stop();
  const log = srv.log();
  assert.ok(dump.includes(req.id.slice(2)), 'the dump holds the request (sanity check)');
  assert.ok(log.includes('"msg":"request"'), 'the log holds the requests (sanity check)');
  const rawDigits = (v) => v.replace('.', '');
  for (const v of canaries) {
    assert.ok(!dump.includes(v) && !dump.includes(rawDigits(v)), `canary ${v} is in the database dump`);
    assert.ok(!log.includes(v), `canary ${v} is in the log`);
    assert.ok(!rel.body.content.includes(v), `canary ${v} is in the release`);
  }
  const needles = canaries.map((v) => Buffer.from(v));
  let scanned = 0;
  for (const f of files(join(ROOT, 'var'))) {
    if (statSync(f).size > 512 * 1024 * 1024) continue;
    const data = readFileSync(f);
    scanned++;
    for (const n of needles) assert.equal(data.indexOf(n), -1, `canary ${n} is in ${f}`);
  }
  assert.ok(scanned > 100, `scanned ${scanned} files under var/`);
});
