// Wallet-side helpers for marketplace tests: sign in with SIWE, consent with EIP-712, seal a
// record with libsodium-wrappers, as a contributor's device would.
import { SiweMessage } from 'siwe';
import sodium from 'libsodium-wrappers';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { Wallet } from 'ethers';
import { api } from './helpers.mjs';

export async function signIn(base, wallet) {
  const n = await api(base, 'GET', '/v1/auth/nonce');
  if (n.status !== 200) throw new Error(`nonce: ${n.status} ${JSON.stringify(n.body)}`);
  const message = new SiweMessage({
    domain: new URL(base).host, address: wallet.address, statement: 'Sign in to Cohort.',
    uri: base, version: '1', chainId: n.body.chain_id, nonce: n.body.nonce,
    issuedAt: new Date().toISOString(),
  }).prepareMessage();
  const r = await api(base, 'POST', '/v1/auth/siwe', { json: { message, signature: await wallet.signMessage(message) } });
  if (r.status !== 200) throw new Error(`siwe: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.token;
}

// The consent the wallet signs, from the typed data the API publishes for this request.
export async function consent(base, wallet, token, requestId) {
  const t = await api(base, 'GET', `/v1/requests/${requestId}/consents/me`, { token });
  if (t.status !== 200) return t;
  const { domain, types, message } = t.body.typed_data;
  const { EIP712Domain, ...rest } = types;
  const signature = await wallet.signTypedData(domain, rest, message);
  return api(base, 'POST', `/v1/requests/${requestId}/consents`, { token, json: { signature } });
}

// docs/API.md: byte strings are 0x hex; { base64: true } gives wave 1's (deprecated) form.
export async function seal(record, publicKeyHex, { base64 = false } = {}) {
  await sodium.ready;
  const pk = sodium.from_hex(publicKeyHex.replace(/^0x/, ''));
  const sealed = sodium.crypto_box_seal(sodium.from_string(JSON.stringify(record)), pk);
  return base64 ? sodium.to_base64(sealed, sodium.base64_variants.ORIGINAL) : `0x${sodium.to_hex(sealed)}`;
}

export async function contribute(base, token, request, record) {
  const sealed = await seal(record, request.public_key);
  return api(base, 'POST', `/v1/requests/${request.id}/contributions`, { token, json: { sealed } });
}

// The researcher closes a request and waits for its release. A request filled by its last
// contribution may already be closing by the release worker's hand (it polls every 100 ms in
// tests): closing it again is then refused as not open, and the release comes all the same.
export async function closeAndRelease(base, token, id) {
  const closed = await api(base, 'POST', `/v1/requests/${id}/close`, { token });
  if (closed.status !== 202 && !(closed.status === 409 && /not open/.test(closed.body?.detail)))
    throw new Error(`close answered ${closed.status}: ${JSON.stringify(closed.body)}`);
  return waitForStatus(base, token, id, ['released', 'failed']);
}

export async function waitForStatus(base, token, id, statuses, ms = 60000) {
  const end = Date.now() + ms;
  for (;;) {
    const r = await api(base, 'GET', `/v1/requests/${id}`, { token });
    if (statuses.includes(r.body?.status)) return r.body;
    if (Date.now() > end) throw new Error(`request ${id} stayed ${r.body?.status}`);
    await new Promise((res) => setTimeout(res, 200));
  }
}

export function parseCsv(text) {
  const rows = [];
  let row = [], cell = '', q = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (q) {
      if (c === '"' && text[i + 1] === '"') { cell += '"'; i++; }
      else if (c === '"') q = false;
      else cell += c;
    } else if (c === '"') q = true;
    else if (c === ',') { row.push(cell); cell = ''; }
    else if (c === '\n') { row.push(cell.replace(/\r$/, '')); rows.push(row); row = []; cell = ''; }
    else cell += c;
  }
  if (cell || row.length) { row.push(cell); rows.push(row); }
  return rows;
}

// Runs fn over items with at most `width` in flight.
export async function pool(items, width, fn) {
  const out = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < items.length) { const i = next++; out[i] = await fn(items[i], i); }
  }));
  return out;
}

// Every numeric quasi-identifier cell of a k-anonymous release lies on the grid its schema
// fixes: an interval "[a,b]" whose ends are grid points, or a single grid point, or "*". The
// grid is the schema's bounds and the step the report states (checked against the bounds), so
// a released end is never a contributed value unless that value is a grid point. Exact decimal
// arithmetic. Returns the number of numeric cells checked.
export function assertGridRelease(csvText, report, schema) {
  const scale = (s, d) => {
    const [i, f = ''] = String(s).split('.');
    if (f.length > d) throw new Error(`${s} has more than ${d} decimals`);
    return BigInt(i + f.padEnd(d, '0'));
  };
  const table = parseCsv(csvText);
  const header = table[0];
  let checked = 0;
  for (const f of schema.fields) {
    if (f.type === 'category' || !report.qi.includes(f.name)) continue;
    const g = report.grid?.[f.name];
    if (!g) throw new Error(`the report states no grid for ${f.name}`);
    if (String(g.lo) !== String(f.min) || String(g.hi) !== String(f.max)) {
      throw new Error(`${f.name}: grid [${g.lo},${g.hi}] is not the schema's bounds [${f.min},${f.max}]`);
    }
    const d = Math.max(...[g.step, g.lo, g.hi].map((x) => (String(x).split('.')[1] ?? '').length));
    const lo = scale(g.lo, d), hi = scale(g.hi, d), step = scale(g.step, d);
    if (step <= 0n) throw new Error(`${f.name}: step ${g.step}`);
    const onGrid = (v) => { const x = scale(v, d); return x === lo || x === hi || (x > lo && x < hi && (x - lo) % step === 0n); };
    const col = header.indexOf(f.name);
    for (const row of table.slice(1)) {
      const cell = row[col];
      if (cell === '*') continue;
      const m = /^\[(-?[0-9.]+),(-?[0-9.]+)\]$/.exec(cell);
      const ends = m ? [m[1], m[2]] : [cell];
      for (const e of ends) {
        if (!/^-?[0-9]+(\.[0-9]+)?$/.test(e) || !onGrid(e)) throw new Error(`${f.name}: released ${cell} ends off the grid (${g.lo}..${g.hi} step ${g.step})`);
      }
      checked++;
    }
  }
  return checked;
}

// A researcher on chain stack s (chain-anvil.mjs): signed in with the researcher role, `amount`
// base units approved and deposited into the rewards contract from its wallet, and credited by
// the deposit watcher. Returns its API token.
export async function fundedResearcher(s, wallet, amount) {
  const token = await signIn(s.srv.base, wallet);
  const r = await api(s.srv.base, 'PUT', '/v1/me/profile', { token, json: { roles: ['researcher'] } });
  if (r.status !== 200) throw new Error(`profile: ${r.status} ${JSON.stringify(r.body)}`);
  await (await s.token.connect(wallet).approve(await s.rewards.getAddress(), amount)).wait();
  await (await s.rewards.connect(wallet).deposit(amount)).wait();
  for (const end = Date.now() + 30000; ;) {
    const b = await api(s.srv.base, 'GET', `/v1/accounts/${wallet.address}/balance`);
    if (b.body?.available === amount.toString()) return token;
    if (Date.now() > end) throw new Error(`the deposit of ${amount} was not credited`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

// The runs request of the browser tests: age typed in, distance and heart rate imported from a
// GPX track, k-anonymity k=2, open to people sharing fitness data.
export function runsRequest(title, reward, extra = {}) {
  return {
    title, purpose: 'academic-research',
    schema: { fields: [
      { name: 'age', type: 'integer', unit: 'years', min: 18, max: 100, role: 'quasi-identifier' },
      { name: 'distance_km', type: 'decimal', unit: 'km', min: '0', max: '100', decimals: 2, role: 'quasi-identifier' },
      { name: 'avg_hr', type: 'integer', unit: 'bpm', min: 40, max: 220, role: 'quasi-identifier' }] },
    eligibility: { categories: ['fitness'] },
    privacy: { mode: 'k-anonymity', k: 2 }, reward: reward.toString(),
    min_contributors: 2, max_contributors: 5, closes_at: new Date(Date.now() + 3600e3).toISOString(),
    ...extra,
  };
}

// SQL as the database superuser with the triggers off: what a breach of the database could do,
// for tests of what the server reads back.
export function superuserSql(dbUrl, sql) {
  const r = spawnSync('psql', [dbUrl, '-qXAtc', `SET session_replication_role = replica; ${sql}`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`psql: ${r.stderr}`);
  return r.stdout.trim();
}

// A fresh signed-in contributor whose consent profile accepts purpose.
export async function newContributor(base, purpose) {
  const w = Wallet.createRandom();
  const token = await signIn(base, w);
  const r = await api(base, 'PUT', '/v1/me/profile', { token, json: {
    roles: ['contributor'], consent_profile: { purposes: [purpose], lifetime_epsilon: '5' },
  } });
  if (r.status !== 200) throw new Error(`profile: ${r.status} ${JSON.stringify(r.body)}`);
  return { w, token, address: w.address.toLowerCase() };
}

// A contributor as the CLI makes one: a key file in dir (`cohort keys new`), a token from
// `cohort sign-in`, a profile accepting purpose. {key, token}.
export async function cliContributor(srv, dir, purpose) {
  const key = join(dir, 'key');
  const made = await srv.cli(['keys', 'new', '--out', key]);
  if (made.code !== 0) throw new Error(`keys new: ${made.stderr}`);
  const si = await srv.cli(['sign-in', '--url', srv.base, '--key', key]);
  if (si.code !== 0) throw new Error(`sign-in: ${si.stderr}`);
  const token = si.stdout.trim();
  const p = await api(srv.base, 'PUT', '/v1/me/profile', { token, json: { roles: ['contributor'], consent_profile: { purposes: [purpose] } } });
  if (p.status !== 200) throw new Error(`profile: ${p.status} ${JSON.stringify(p.body)}`);
  return { key, token };
}
