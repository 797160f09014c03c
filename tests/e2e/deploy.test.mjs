// Deploying to a real chain (docs/OPERATIONS.md, "Deploying to a real chain"), on a second
// anvil with Sepolia's chain id standing in for a public network:
// - scripts/deploy.mjs with an operator key file (mode 0600 checked) and a guardian ADDRESS
//   deploys both contracts, waits for the confirmations asked, and writes token_contract,
//   rewards_contract, chain_id, chain_start_block and the two runtime code hashes; it refuses a
//   key file others may read and, without a key file, anvil's dev keys on this chain;
// - cohortd starts with that configuration and anchors;
// - cohortd refuses to start (non-zero exit, one line naming the mismatch) on a chain id that
//   is not the node's, on a rewards contract whose code hash is not the configured one (the
//   token's address given as rewards_contract, or another hash), and on a contract address
//   without code;
// - a rewards contract whose anchorer is neither the ledger key nor a key it was rotated
//   from: cohortd refuses to start (a rotated-from key is accepted: the key-rotation procedure
//   restarts cohortd before the guardian installs the key, docs/KEYS.md).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ethers } from 'ethers';
import { startAnvil, createDatabase, ledgerSigner, waitFor, artifact, ROOT } from './chain-anvil.mjs';
import { startCohortd, api, freePort, BUILD } from './helpers.mjs';

const CHAIN_ID = 11155111;
let anvil, db, signer, dir, keyFile, guardian, deployed, srv;

// Runs scripts/deploy.mjs; resolves {code, stdout, stderr}. While it runs, an empty block is
// mined every 200 ms so its confirmations arrive (anvil mines only on a transaction).
async function deployScript(args) {
  const p = spawn(process.execPath, [join(ROOT, 'scripts', 'deploy.mjs'), ...args]);
  const o = [], e = [];
  p.stdout.on('data', (d) => o.push(d));
  p.stderr.on('data', (d) => e.push(d));
  const done = new Promise((r) => p.on('close', r));
  let running = true;
  done.then(() => { running = false; });
  while (running) {
    await Promise.race([done, new Promise((r) => setTimeout(r, 200))]);
    if (running) await anvil.provider.send('evm_mine', []).catch(() => {});
  }
  return { code: await done, stdout: Buffer.concat(o).toString(), stderr: Buffer.concat(e).toString() };
}

const readConfig = (path) => Object.fromEntries(readFileSync(path, 'utf8').split('\n')
  .map((l) => l.match(/^([a-z_]+) = (.*)$/)).filter(Boolean).map((m) => [m[1], m[2]]));

function newConfig(name) {
  const path = join(dir, name);
  writeFileSync(path, '# deploy test\nchallenge_period_s = 2\n');
  return path;
}

// The cohortd settings of a deployed configuration.
const envOf = (c) => ({
  ...db.cohortdEnv,
  COHORT_CHAIN_RPC_URL: anvil.url,
  COHORT_CHAIN_ID: c.chain_id,
  COHORT_TOKEN_CONTRACT: c.token_contract,
  COHORT_REWARDS_CONTRACT: c.rewards_contract,
  COHORT_REWARDS_CODE_HASH: c.rewards_code_hash,
  COHORT_TOKEN_CODE_HASH: c.token_code_hash,
  COHORT_CHAIN_START_BLOCK: c.chain_start_block,
  COHORT_CHAIN_CONFIRMATIONS: '1',
  COHORT_CHAIN_POLL_MS: '100',
  COHORT_ANCHOR_INTERVAL_S: '1',
});

// cohortd expected to refuse at start: its exit status and output (killed after 20 s if it
// serves instead, which fails the test).
async function refusedStart(env) {
  const r = spawnSync(join(BUILD, 'cohortd'), [], {
    env: {
      PATH: process.env.PATH, COHORT_MASTER_KEY_FILE: srv.keyFile,
      COHORT_LISTEN: `127.0.0.1:${await freePort()}`, COHORT_METRICS_LISTEN: '', ...env,
    },
    encoding: 'utf8', timeout: 20000,
  });
  return { status: r.status, out: `${r.stderr}${r.stdout}` };
}

before(async () => {
  anvil = await startAnvil(['--chain-id', String(CHAIN_ID)]);
  db = createDatabase('coh_deploy');
  signer = ledgerSigner(db.url);
  dir = mkdtempSync(join(tmpdir(), 'coh-deploy-real-'));
  // The operator's deployer: one of anvil's funded dev keys, as a key file only it may read.
  keyFile = join(dir, 'deployer.key');
  writeFileSync(keyFile, `${anvil.wallets(4)[3].privateKey.slice(2)}\n`, { mode: 0o600 });
  guardian = ethers.Wallet.createRandom().address; // its key never reaches the server
});
after(async () => {
  await srv?.stop();
  await anvil?.stop();
  db?.drop();
});

test('deploy.mjs refuses a key file others may read, and dev keys off the dev chain', async () => {
  const loose = join(dir, 'loose.key');
  writeFileSync(loose, readFileSync(keyFile), { mode: 0o644 });
  const cfg = newConfig('loose.conf');
  const r = await deployScript(['--rpc', anvil.url, '--key-file', loose, '--guardian', guardian, '--signer', signer, '--config', cfg]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /mode 0644: it must be 0600/);
  const d = await deployScript(['--rpc', anvil.url, '--signer', signer, '--config', cfg]);
  assert.notEqual(d.code, 0);
  assert.match(d.stderr, /refusing to deploy with dev keys on chain 11155111/);
  assert.doesNotMatch(readFileSync(cfg, 'utf8'), /rewards_contract/);
});

test('deploy.mjs deploys with the key file and a guardian address, and writes the chain settings', async () => {
  const cfg = newConfig('cohortd.conf');
  const r = await deployScript(['--rpc', anvil.url, '--key-file', keyFile, '--guardian', guardian,
    '--signer', signer, '--config', cfg, '--confirmations', '3']);
  assert.equal(r.code, 0, r.stderr);
  deployed = readConfig(cfg);
  assert.equal(deployed.chain_id, String(CHAIN_ID));
  const rewards = new ethers.Contract(deployed.rewards_contract, artifact('CohortRewards').abi, anvil.provider);
  assert.equal(await rewards.anchorer(), ethers.getAddress(signer));
  assert.equal(await rewards.guardian(), guardian);
  assert.equal((await rewards.token()).toLowerCase(), deployed.token_contract);
  // The deployment block: code there, none in the block before.
  const start = Number(deployed.chain_start_block);
  assert.notEqual(await anvil.provider.getCode(deployed.rewards_contract, start), '0x');
  assert.equal(await anvil.provider.getCode(deployed.rewards_contract, start - 1), '0x');
  // Waited for its confirmations: 3 blocks from the deployment one were mined by the end.
  assert.ok(await anvil.provider.getBlockNumber() >= start + 2);
  assert.equal(deployed.rewards_code_hash, ethers.keccak256(await anvil.provider.getCode(deployed.rewards_contract)));
  assert.equal(deployed.token_code_hash, ethers.keccak256(await anvil.provider.getCode(deployed.token_contract)));
  // Deployed by the key file's account.
  const tx = await anvil.provider.getTransaction((await anvil.provider.getBlock(start, true)).transactions.at(-1));
  assert.equal(tx.from, anvil.wallets(4)[3].address);
});

test('cohortd starts and serves against the deployed contracts, its anchorer ok', async () => {
  assert.ok(deployed, 'the deployment test ran');
  // The operator funds the ledger signer for gas.
  await (await anvil.wallets(5)[4].sendTransaction({ to: signer, value: ethers.parseEther('1') })).wait();
  srv = await startCohortd(envOf(deployed));
  assert.equal((await api(srv.base, 'GET', '/readyz')).status, 200);
  const a = await waitFor('the anchorer ok', async () => {
    const an = (await api(srv.base, 'GET', '/v1/chain')).body.anchorer;
    return an?.state === 'ok' ? an : null;
  }, 20000);
  assert.equal(a.signer, signer.toLowerCase());
});

test('cohortd refuses a node whose chain id is not the configured one', async () => {
  const r = await refusedStart({ ...envOf(deployed), COHORT_CHAIN_ID: '31337' });
  assert.notEqual(r.status, 0);
  assert.equal(r.status !== null, true, 'it exited by itself');
  assert.match(r.out, /^cohortd: chain: chain_rpc_url answers chain id 11155111, the configuration says 31337$/m);
});

test('cohortd refuses contracts whose runtime code is not the configured one', async () => {
  // The token's address given as the rewards contract.
  let r = await refusedStart({ ...envOf(deployed), COHORT_REWARDS_CONTRACT: deployed.token_contract });
  assert.notEqual(r.status, 0);
  assert.equal(r.status !== null, true, 'it exited by itself');
  assert.match(r.out, new RegExp(`^cohortd: chain: rewards_contract ${deployed.token_contract} has code hash ${deployed.token_code_hash}; rewards_code_hash says ${deployed.rewards_code_hash}$`, 'm'));
  // Another hash pinned for the token.
  const other = ethers.keccak256('0x00');
  r = await refusedStart({ ...envOf(deployed), COHORT_TOKEN_CODE_HASH: other });
  assert.notEqual(r.status, 0);
  assert.match(r.out, /^cohortd: chain: token_contract 0x[0-9a-f]{40} has code hash 0x[0-9a-f]{64}; token_code_hash says 0x[0-9a-f]{64}$/m);
  // An address without code, even with no hash pinned.
  r = await refusedStart({ ...envOf(deployed), COHORT_REWARDS_CONTRACT: guardian.toLowerCase(), COHORT_REWARDS_CODE_HASH: '' });
  assert.notEqual(r.status, 0);
  assert.match(r.out, new RegExp(`^cohortd: chain: rewards_contract ${guardian.toLowerCase()} has no code on chain id ${CHAIN_ID}$`, 'm'));
});

test('a rewards contract whose anchorer is another key (not one this ledger rotated from): cohortd refuses to start', async () => {
  const cfg = newConfig('other.conf');
  const other = ethers.Wallet.createRandom().address;
  const r = await deployScript(['--rpc', anvil.url, '--key-file', keyFile, '--guardian', guardian,
    '--signer', other, '--config', cfg, '--token', deployed.token_contract, '--confirmations', '1']);
  assert.equal(r.code, 0, r.stderr);
  const c = readConfig(cfg);
  assert.equal(c.token_contract, deployed.token_contract, 'the existing token is taken');
  assert.notEqual(c.rewards_contract, deployed.rewards_contract);
  const refused = await refusedStart(envOf(c));
  assert.notEqual(refused.status, 0);
  assert.match(refused.out, new RegExp(`^cohortd: chain: the rewards contract's anchorer is ${other.toLowerCase()}, not this ledger key 0x[0-9a-f]{40} nor one it was rotated from$`, 'm'));
  // (A key this ledger was rotated from is accepted: cohortd waits as not_anchorer until the
  // guardian installs the new key; tests/e2e/chain-guardian.test.mjs, rotate-key without the
  // guardian key.)
});
