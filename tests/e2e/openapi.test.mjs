// openapi.yaml documents exactly the routes the server has: the route table in
// src/http/routes.c and the document's paths and methods must be the same set, and every
// documented operation must be routed by a live cohortd (never the 404 of an unknown path).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
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
