// openapi.yaml documents exactly the routes the server has: the route table in
// src/http/routes.c and the document's paths and methods must be the same set, and every
// documented operation must be routed by a live cohortd (never the 404 of an unknown path).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, startCohortd, api } from './helpers.mjs';

function routeTable() {
  const src = readFileSync(join(ROOT, 'src/http/routes.c'), 'utf8');
  return [...src.matchAll(/\{"(GET|POST|PUT|DELETE|PATCH)", "([^"]+)"/g)].map((m) => `${m[1]} ${m[2]}`).sort();
}

function documented() {
  const lines = readFileSync(join(ROOT, 'openapi.yaml'), 'utf8').split('\n');
  const ops = [];
  let inPaths = false, path = null;
  for (const l of lines) {
    if (/^paths:/.test(l)) { inPaths = true; continue; }
    if (/^\S/.test(l)) inPaths = false;
    if (!inPaths) continue;
    let m = l.match(/^  (\/\S*):\s*$/);
    if (m) { path = m[1]; continue; }
    m = l.match(/^    (get|put|post|delete|patch):/);
    if (m && path) ops.push(`${m[1].toUpperCase()} ${path}`);
  }
  return ops.sort();
}

test('openapi.yaml and the route table list the same operations', () => {
  assert.deepEqual(documented(), routeTable());
});

// The problem types: src/http/problems.h's table (slug, status, title) and
// components.schemas.ProblemType in openapi.yaml must be the same list.
function problemTable() {
  const src = readFileSync(join(ROOT, 'src/http/problems.h'), 'utf8');
  return [...src.matchAll(/X\(\w+, "([a-z-]+)", (\d{3}), "([^"]+)"\)/g)]
    .map((m) => `${m[1]} ${m[2]} ${m[3]}`).sort();
}

function documentedProblems() {
  const lines = readFileSync(join(ROOT, 'openapi.yaml'), 'utf8').split('\n');
  const start = lines.findIndex((l) => /^    ProblemType:\s*$/.test(l));
  assert.ok(start > 0, 'openapi.yaml has components.schemas.ProblemType');
  const out = [];
  for (const l of lines.slice(start + 1)) {
    if (/^    \S/.test(l) || /^\S/.test(l)) break;
    const m = l.match(/const: 'urn:cohort:problem:([a-z-]+)', title: '([^']+)', x-status: (\d{3}) \}/);
    if (m) out.push(`${m[1]} ${m[3]} ${m[2]}`);
  }
  return out.sort();
}

test('openapi.yaml lists exactly the problem types of src/http/problems.h', () => {
  const table = problemTable();
  assert.ok(table.length > 20, `the C table parses (${table.length} rows)`);
  assert.deepEqual(documentedProblems(), table);
  assert.equal(new Set(table.map((r) => r.split(' ')[0])).size, table.length, 'slugs are unique');
});

// No handler writes a problem type of its own: every problem goes through the table.
test('no ad-hoc problem types in src/http', () => {
  for (const f of readdirSync(join(ROOT, 'src/http')).filter((n) => n.endsWith('.c'))) {
    const src = readFileSync(join(ROOT, 'src/http', f), 'utf8');
    assert.ok(!/urn:cohort:problem:[a-z]/.test(src), `${f} spells out a problem type`);
    assert.ok(!/coh_http_send_problem/.test(src), `${f} sends a problem outside the table`);
  }
});

// A lower layer names a refusal by slug (coh_err_reason): each must be in the table.
test('every coh_err_reason names a problem of the table', () => {
  const slugs = new Set(problemTable().map((r) => r.split(' ')[0]));
  const files = ['src/db', 'src/market', 'src/svc', 'src/ledger', 'src/chain']
    .flatMap((d) => { try { return readdirSync(join(ROOT, d)).filter((n) => n.endsWith('.c')).map((n) => join(ROOT, d, n)); } catch { return []; } });
  for (const f of files) {
    for (const m of readFileSync(f, 'utf8').matchAll(/coh_err_reason\([^,]+,\s*"([^"]+)"\)/g)) {
      assert.ok(slugs.has(m[1]), `${f}: reason ${m[1]} is not in src/http/problems.h`);
    }
  }
});

test('every documented operation is routed by the live server', async () => {
  const srv = await startCohortd();
  try {
    for (const op of documented()) {
      const [method, path] = op.split(' ');
      const concrete = path.replace(/\{[^}]+\}/g, '0x0000000000000000000000000000000000000001');
      const r = await api(srv.base, method, concrete, { json: method === 'GET' ? undefined : {} });
      const unknown = r.status === 404 && r.body?.detail?.startsWith('no resource at');
      assert.ok(!unknown && r.status !== 405, `${op} is documented but not routed (${r.status})`);
      assert.ok(r.status < 500 || r.status === 503, `${op} answered ${r.status}`);
    }
  } finally { await srv.stop(); }
});

// One integer parameter parser (docs/API.md): digits only, within bounds, else 422
// invalid-parameter naming the parameter and where it is.
test('integer parameters: one parser, one problem naming the parameter', async () => {
  const srv = await startCohortd();
  try {
    const bad = [
      ['/v1/ledger/entries?limit=0', 'limit', 'query'], ['/v1/ledger/entries?limit=1001', 'limit', 'query'],
      ['/v1/ledger/entries?after=-1', 'after', 'query'], ['/v1/ledger/entries?after=1.5', 'after', 'query'],
      ['/v1/ledger/entries?after=99999999999999999999999', 'after', 'query'], ['/v1/ledger/entries?limit=', 'limit', 'query'],
      ['/v1/anchors?limit=501', 'limit', 'query'], ['/v1/anchors?after=%2B1', 'after', 'query'],
      ['/v1/requests?limit=201', 'limit', 'query'], ['/v1/requests?limit=1e2', 'limit', 'query'],
      ['/v1/ledger/entries/0', 'seq', 'path'], ['/v1/ledger/entries/1e3', 'seq', 'path'],
    ];
    for (const [path, parameter, where] of bad) {
      const r = await api(srv.base, 'GET', path);
      assert.equal(r.status, 422, `${path}: ${r.status}`);
      assert.equal(r.body.type, 'urn:cohort:problem:invalid-parameter', path);
      assert.equal(r.body.parameter, parameter, path);
      assert.equal(r.body.in, where, path);
    }
    for (const path of ['/v1/ledger/entries?limit=1000&after=0', '/v1/anchors?limit=500', '/v1/requests?limit=200']) {
      assert.equal((await api(srv.base, 'GET', path)).status, 200, path);
    }
    const page = await api(srv.base, 'GET', '/v1/ledger/entries?limit=1');
    if (page.body.next !== null) assert.equal(typeof page.body.next, 'number', 'next is a JSON number');
  } finally { await srv.stop(); }
});
