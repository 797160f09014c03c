// Prepares the load test's world on a running cohortd: one researcher with funds (deposit
// through the cohort CLI) and N_REQ open requests; N_USERS contributors, each with its own
// wallet (ethers), signed in over SIWE (HTTP), a consent profile, an EIP-712 consent to one
// request, and one record sealed to that request (libsodium, as a device would).
// Everything goes through the HTTP API except the deposit (a chain event in production).
// Writes users.tsv (token, request id, address, sealed base64) and requests.txt for wrk.
// Usage: node prepare.mjs <base-url> <out-dir> [users] [requests]
import { writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { Wallet } from 'ethers';
import { api } from '../../tests/e2e/helpers.mjs';
import { signIn, consent, seal, pool } from '../../tests/e2e/market-helpers.mjs';

const [base, out, nUsers = '1000', nReq = '10'] = process.argv.slice(2);
const N = Number(nUsers), R = Number(nReq);
const t0 = Date.now();
const must = (r, what, status = 200) => {
  if (r.status !== status) throw new Error(`${what}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
};

const researcher = Wallet.createRandom();
const rtoken = await signIn(base, researcher);
must(await api(base, 'PUT', '/v1/me/profile', { token: rtoken, json: { roles: ['researcher'], display_name: 'Load Lab' } }), 'profile');
const dep = spawnSync(process.env.COH_CLI, ['ledger', 'deposit', '--address', researcher.address, '--amount', '1000000000'], { encoding: 'utf8' });
if (dep.status !== 0) throw new Error(`deposit: ${dep.stderr}`);
const per = Math.ceil(N / R) + 10;
const requests = [];
for (let i = 0; i < R; i++) {
  requests.push(must(await api(base, 'POST', '/v1/requests', { token: rtoken, json: {
    title: `Load ${i}`, purpose: 'academic-research',
    schema: { fields: [
      { name: 'age', type: 'integer', min: 18, max: 100, role: 'quasi-identifier' },
      { name: 'steps', type: 'integer', min: 0, max: 100000, role: 'quasi-identifier' },
      { name: 'sex', type: 'category', categories: ['f', 'm'], role: 'sensitive' },
    ] },
    privacy: { mode: 'k-anonymity', k: 5 }, reward: '1000', min_contributors: 5, max_contributors: per,
    closes_at: new Date(Date.now() + 86400e3).toISOString(),
  } }), `request ${i}`, 201));
}

const users = await pool(Array.from({ length: N }, (_, i) => i), 8, async (i) => {
  const w = Wallet.createRandom();
  const token = await signIn(base, w);
  must(await api(base, 'PUT', '/v1/me/profile', { token, json: {
    roles: ['contributor'],
    consent_profile: { categories: ['health'], purposes: ['academic-research'], lifetime_epsilon: '10' },
  } }), 'contributor profile');
  const req = requests[i % R];
  must(await consent(base, w, token, req.id), 'consent', 201);
  const sealed = await seal({ age: 18 + (i % 80), steps: (i * 7919) % 100000, sex: i % 2 ? 'f' : 'm' }, req.public_key);
  return [token, req.id, w.address.toLowerCase(), sealed].join('\t');
});
writeFileSync(join(out, 'users.tsv'), users.join('\n') + '\n');
writeFileSync(join(out, 'requests.txt'), requests.map((r) => r.id).join('\n') + '\n');
console.error(`prepared ${N} users, ${R} requests in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
