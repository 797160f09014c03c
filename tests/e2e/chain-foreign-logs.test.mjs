// The deposit watcher trusts no log it did not ask for. cohortd's eth_getLogs filter names the
// rewards contract and its two events, but the answer comes from an RPC endpoint that may be
// compromised: here a proxy between cohortd and anvil adds to every eth_getLogs answer all the
// logs of the same blocks from a second contract emitting an identical Deposited event
// (tests/e2e/fixtures/ForeignDeposited.sol), from the token (Transfer) and from the rewards
// contract's other events, as a real node would order them. Only the rewards contract's own
// Deposited is credited; the others are ignored and counted in cohort_chain_logs_ignored_total.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { ethers } from 'ethers';
import { api, ROOT } from './helpers.mjs';
import { startChainStack, waitFor } from './chain-anvil.mjs';

const UNIT = 10n ** 18n;
const DEPOSIT = 100n * UNIT;
const FORGED = 1000000n * UNIT;

// Compiled with solc-js as scripts/contracts.mjs compiles the real contracts.
function compileFixture() {
  const solc = createRequire(import.meta.url)('solc');
  const input = {
    language: 'Solidity',
    sources: { 'ForeignDeposited.sol': { content: readFileSync(join(ROOT, 'tests/e2e/fixtures/ForeignDeposited.sol'), 'utf8') } },
    settings: { evmVersion: 'cancun', outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object'] } } },
  };
  const out = JSON.parse(solc.compile(JSON.stringify(input)));
  const errors = (out.errors ?? []).filter((e) => e.severity === 'error');
  if (errors.length) throw new Error(errors.map((e) => e.formattedMessage).join('\n'));
  const c = out.contracts['ForeignDeposited.sol'].ForeignDeposited;
  return { abi: c.abi, bytecode: '0x' + c.evm.bytecode.object };
}

async function rpc(url, method, params) {
  const r = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) });
  return (await r.json()).result;
}

// A JSON-RPC proxy to anvil whose eth_getLogs answers also carry every log of `extra`
// addresses in the asked block range, merged in chain order. injected counts what it added.
async function startLyingProxy(target, extra) {
  const proxy = { injected: 0 };
  const server = createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const body = Buffer.concat(chunks).toString();
    const upstream = await fetch(target, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
    let text = await upstream.text();
    const call = JSON.parse(body);
    if (call.method === 'eth_getLogs') {
      const answer = JSON.parse(text);
      const { fromBlock, toBlock } = call.params[0];
      const more = await rpc(target, 'eth_getLogs', [{ fromBlock, toBlock, address: extra() }]);
      const key = (l) => `${l.transactionHash}/${l.logIndex}`;
      const have = new Set(answer.result.map(key));
      const added = more.filter((l) => !have.has(key(l)));
      proxy.injected += added.length;
      answer.result = [...answer.result, ...added].sort((a, b) =>
        Number(BigInt(a.blockNumber) - BigInt(b.blockNumber)) || Number(BigInt(a.logIndex) - BigInt(b.logIndex)));
      text = JSON.stringify(answer);
    }
    res.writeHead(upstream.status, { 'Content-Type': 'application/json' });
    res.end(text);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  proxy.url = `http://127.0.0.1:${server.address().port}`;
  proxy.close = () => new Promise((r) => server.close(r));
  return proxy;
}

let s, proxy, foreign, researcher, attacker;
let injectFrom = []; // the addresses whose logs the proxy adds

before(async () => {
  s = await startChainStack('coh_foreign_logs');
  [, researcher, attacker] = s.anvil.wallets(3); // dev account 1 holds tokens (deploy.mjs)
  const { abi, bytecode } = compileFixture();
  foreign = await new ethers.ContractFactory(abi, bytecode, attacker).deploy();
  await foreign.waitForDeployment();
  injectFrom = [await foreign.getAddress()];
  proxy = await startLyingProxy(s.anvil.url, () => injectFrom);
  await s.restart({ COHORT_CHAIN_RPC_URL: proxy.url });
});
after(async () => {
  await s?.stop();
  await proxy?.close();
});

// Waits until the deposit watcher has scanned past block n (GET /v1/chain: events.block).
const scannedPast = (n) => waitFor(`the watcher past block ${n}`, async () =>
  ((await api(s.srv.base, 'GET', '/v1/chain')).body?.events?.block ?? -1) >= n);
const balance = async (addr) => (await api(s.srv.base, 'GET', `/v1/accounts/${addr}/balance`)).body;

// /metrics: on its own listener when cohortd has one (metricsBase), else beside the API.
async function ignoredMetric() {
  for (const base of [s.srv.metricsBase, s.srv.base].filter(Boolean)) {
    const r = await fetch(`${base}/metrics`).catch(() => null);
    const m = r?.ok && (await r.text()).match(/^cohort_chain_logs_ignored_total (\d+)$/m);
    if (m) return Number(m[1]);
  }
  return null;
}

test('a Deposited log from another contract, passed off by the RPC endpoint, is not credited', async () => {
  assert.equal(await ignoredMetric(), 0, 'the counter is exported from the start');
  // The forgery first, in its own block; then an honest deposit.
  const forged = await (await foreign.fake(attacker.address, FORGED)).wait();
  await (await s.token.connect(researcher).approve(await s.rewards.getAddress(), DEPOSIT)).wait();
  const honest = await (await s.rewards.connect(researcher).deposit(DEPOSIT)).wait();
  await waitFor('the honest deposit credited', async () =>
    (await balance(researcher.address)).available === DEPOSIT.toString());
  assert.ok(proxy.injected >= 1, 'the proxy added the forged log');
  await scannedPast(forged.blockNumber);
  // Watched past the forgery's block: nothing for the attacker.
  const deps = (await api(s.srv.base, 'GET', '/v1/ledger/entries?kind=deposit')).body.entries;
  assert.deepEqual(deps.map((e) => [e.credit, e.amount, e.refs.tx]),
    [[`available:${researcher.address.toLowerCase()}`, DEPOSIT.toString(), honest.hash]]);
  assert.ok(!deps.some((e) => e.refs.tx === forged.hash));
  const a = await balance(attacker.address);
  assert.ok(!a.available || a.available === '0', `the attacker has nothing available: ${JSON.stringify(a)}`);
  assert.ok(await ignoredMetric() >= 1, 'the forged log is counted');
  await waitFor('the warning', () => /were not the rewards contract's Deposited or Claimed events and were ignored/.test(s.srv.log()), 5000);
});

test("other events added to the answer (the token's Transfer inside a deposit, the rewards contract's own) are ignored too", async () => {
  injectFrom = [await foreign.getAddress(), await s.token.getAddress(), await s.rewards.getAddress()];
  const before = await ignoredMetric();
  await (await s.token.connect(researcher).approve(await s.rewards.getAddress(), DEPOSIT)).wait();
  const honest = await (await s.rewards.connect(researcher).deposit(DEPOSIT)).wait();
  const forged = await (await foreign.fake(researcher.address, FORGED)).wait();
  await waitFor('the second deposit credited', async () =>
    (await balance(researcher.address)).available === (2n * DEPOSIT).toString());
  const deps = (await api(s.srv.base, 'GET', `/v1/ledger/entries?kind=deposit&account=${researcher.address}`)).body.entries;
  assert.deepEqual(deps.map((e) => e.amount), [DEPOSIT.toString(), DEPOSIT.toString()]);
  assert.equal(deps[1].refs.tx, honest.hash);
  // The approve's Approval and the deposit's Transfer at least, and the second forgery.
  await waitFor('the counter past the deposit block', async () => await ignoredMetric() >= before + 3);
  // Still nothing more than the two honest deposits once the forgery's block is scanned.
  await scannedPast(forged.blockNumber);
  assert.equal((await balance(researcher.address)).available, (2n * DEPOSIT).toString());
});
