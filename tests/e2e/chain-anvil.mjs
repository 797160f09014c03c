// Shared by the chain tests: start a private anvil (node_modules/.bin/anvil) on a free
// 127.0.0.1 port and stop it; deploy the compiled contracts from contracts-abi/; build
// OpenZeppelin StandardMerkleTree-format trees for (address, uint256) leaves; and a whole
// stack (private database, anvil, contracts deployed by scripts/deploy.mjs, cohortd anchoring).
import { spawn, execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ethers } from 'ethers';
import { startCohortd, BUILD, ROOT, freePort } from './helpers.mjs';

export { ROOT, freePort } from './helpers.mjs';

// Starts anvil; returns { url, provider, stop, wallets(n) } with anvil's funded dev keys.
export async function startAnvil(args = []) {
  const port = await freePort();
  const proc = spawn(join(ROOT, 'node_modules', '.bin', 'anvil'),
    ['--host', '127.0.0.1', '--port', String(port), '--silent', ...args],
    { stdio: ['ignore', 'ignore', 'pipe'] });
  const err = [];
  proc.stderr.on('data', (d) => err.push(d));
  const url = `http://127.0.0.1:${port}`;
  // Wait for the node with plain fetch: a provider created earlier logs its failed detection.
  for (let i = 0; ; i++) {
    if (proc.exitCode !== null) throw new Error(`anvil exited: ${Buffer.concat(err)}`);
    try {
      const r = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}' });
      if (r.ok) break;
    } catch (e) {
      if (i > 200) throw e;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const provider = new ethers.JsonRpcProvider(url, undefined, { staticNetwork: true, cacheTimeout: -1 });
  provider.pollingInterval = 50;
  const mnemonic = 'test test test test test test test test test test test junk';
  const wallets = (n) => Array.from({ length: n }, (_, i) =>
    ethers.HDNodeWallet.fromPhrase(mnemonic, undefined, `m/44'/60'/0'/0/${i}`).connect(provider));
  return {
    url, port, provider, wallets,
    stop: async () => {
      provider.destroy();
      if (proc.exitCode === null) {
        proc.kill('SIGTERM');
        await new Promise((r) => proc.once('exit', r));
      }
    },
  };
}

export function artifact(name) {
  return JSON.parse(readFileSync(join(ROOT, 'contracts-abi', `${name}.json`), 'utf8'));
}

export async function deploy(name, signer, ...args) {
  const a = artifact(name);
  const f = new ethers.ContractFactory(a.abi, a.bytecode, signer);
  const c = await f.deploy(...args);
  await c.waitForDeployment();
  return c;
}

// OpenZeppelin StandardMerkleTree over [address, uint256] values: leaf =
// keccak256(keccak256(abi.encode(address, uint256))), sorted pairs, leaves sorted.
const coder = ethers.AbiCoder.defaultAbiCoder();
export function leafHash(account, amount) {
  return ethers.keccak256(ethers.keccak256(coder.encode(['address', 'uint256'], [account, amount])));
}
function hashPair(a, b) {
  const lt = Buffer.compare(Buffer.from(ethers.getBytes(a)), Buffer.from(ethers.getBytes(b))) < 0;
  return ethers.keccak256(ethers.concat(lt ? [a, b] : [b, a]));
}
export function merkleTree(values) {
  const leaves = values.map(([acc, amt]) => leafHash(acc, amt)).sort((x, y) =>
    Buffer.compare(Buffer.from(ethers.getBytes(x)), Buffer.from(ethers.getBytes(y))));
  const n = leaves.length;
  const tree = new Array(2 * n - 1);
  leaves.forEach((l, k) => { tree[2 * n - 2 - k] = l; });
  for (let i = n - 2; i >= 0; i--) tree[i] = hashPair(tree[2 * i + 1], tree[2 * i + 2]);
  return {
    root: tree[0],
    proof(account, amount) {
      let i = tree.lastIndexOf(leafHash(account, amount));
      if (i < 0) throw new Error('leaf not in tree');
      const p = [];
      while (i > 0) {
        p.push(tree[i % 2 === 1 ? i + 1 : i - 1]);
        i = Math.floor((i - 1) / 2);
      }
      return p;
    },
  };
}

// ---- cohortd on a chain: a private database, anvil and contracts per test file ------------
// The shared test database is anchored by every cohortd that points at a chain, so each chain
// test file gets a fresh database of its own (created next to COH_TEST_DATABASE_URL's) whose
// ledger holds only what the file does.

function dbUrl(name) {
  const base = process.env.COH_TEST_DATABASE_URL;
  if (!base) throw new Error('COH_TEST_DATABASE_URL is not set: run through scripts/test.sh');
  return /dbname=\S+/.test(base) ? base.replace(/dbname=\S+/, `dbname=${name}`) : `${base} dbname=${name}`;
}

// With the roles scripts/test.sh provides (COH_TEST_OWNER/APP_DATABASE_URL), the database is
// owned by the owner role and cohortdEnv has cohortd serve as the application role, as in
// production; url stays the superuser's, for the tests' own queries.
const roleOf = (v) => /user=(\S+)/.exec(process.env[v] ?? '')?.[1];
export function createDatabase(prefix) {
  const name = `${prefix}_${process.pid}_${Date.now() % 1e6}`;
  const owner = roleOf('COH_TEST_OWNER_DATABASE_URL'), app = roleOf('COH_TEST_APP_DATABASE_URL');
  execFileSync('psql', [dbUrl('postgres'), '-qXc', `CREATE DATABASE ${name}${owner && app ? ` OWNER ${owner}` : ''}`], { stdio: 'pipe' });
  const url = dbUrl(name), as = (user) => url.replace(/ ?user=\S+/, '') + ` user=${user}`;
  const cohortdEnv = owner && app ? { COHORT_DATABASE_URL: as(app), COHORT_MIGRATE_DATABASE_URL: as(owner) }
    : { COHORT_DATABASE_URL: url };
  // cohort watch's read-only role (sql/032_watch_role.sql), when scripts/test.sh names it.
  const watch = roleOf('COH_TEST_WATCH_DATABASE_URL');
  return { name, url, cohortdEnv, watchUrl: watch ? as(watch) : url, drop: () => spawnSync('psql', [dbUrl('postgres'), '-qXc', `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`], { stdio: 'pipe' }) };
}

// The ledger signer of a database: `cohortd --check` creates the key on first use.
export function ledgerSigner(databaseUrl) {
  const r = spawnSync(join(BUILD, 'cohortd'), ['--check'], {
    env: { PATH: process.env.PATH, COHORT_DATABASE_URL: databaseUrl, COHORT_MASTER_KEY_FILE: process.env.COH_TEST_MASTER_KEY_FILE },
    encoding: 'utf8',
  });
  const m = r.stdout.match(/ledger signer (0x[0-9a-fA-F]{40})/);
  if (r.status !== 0 || !m) throw new Error(`cohortd --check: ${r.stderr}${r.stdout}`);
  return m[1];
}

// Runs scripts/deploy.mjs against the node, as scripts/setup.sh does; returns the addresses
// and the dev guardian's key file (generated by the script) and address.
export function deployWithScript(rpc, signer, challengePeriod = 2) {
  const dir = mkdtempSync(join(tmpdir(), 'coh-deploy-'));
  const cfg = join(dir, 'cohortd.conf');
  writeFileSync(cfg, `# test\nchallenge_period_s = ${challengePeriod}\n`);
  execFileSync(process.execPath, [join(ROOT, 'scripts', 'deploy.mjs'), '--rpc', rpc, '--signer', signer, '--config', cfg], { stdio: 'pipe' });
  const text = readFileSync(cfg, 'utf8');
  const guardianKey = join(dir, 'guardian.key');
  return {
    token: text.match(/token_contract = (\S+)/)[1], rewards: text.match(/rewards_contract = (\S+)/)[1],
    guardianKey, guardian: new ethers.Wallet(`0x${readFileSync(guardianKey, 'utf8').trim()}`).address,
  };
}

// A cohortd with anchoring against a private anvil. opts.anvil: extra anvil arguments;
// opts.env: extra cohortd settings; opts.challenge: the challenge period (s, default 2).
// Returns { anvil, db, signer, token, rewards, guardian (a funded ethers Wallet), guardianKey
// (its key file), srv, restart(env), stop() } with ethers Contracts bound to anvil's provider.
export async function startChainStack(prefix, opts = {}) {
  const anvil = await startAnvil(opts.anvil ?? []);
  const db = createDatabase(prefix);
  const signer = ledgerSigner(db.url);
  const addrs = deployWithScript(anvil.url, signer, opts.challenge ?? 2);
  const env = {
    ...db.cohortdEnv,
    COHORT_CHAIN_RPC_URL: anvil.url,
    COHORT_TOKEN_CONTRACT: addrs.token,
    COHORT_REWARDS_CONTRACT: addrs.rewards,
    COHORT_CHAIN_CONFIRMATIONS: '1',
    COHORT_CHAIN_POLL_MS: '100',
    COHORT_ANCHOR_INTERVAL_S: '1',
    COHORT_SIGNIN_RATE_PER_MIN: '100000',
    COHORT_RELEASE_POLL_MS: '100',
    ...(opts.env ?? {}),
  };
  // A live chain's clock: anvil mines only when a transaction arrives, and a proposal becomes
  // effective by block time (the contract's views and claims read block.timestamp). While
  // automine is on (chain-faults turns it off to hold transactions), an idle chain gets an
  // empty block each second, as a real one would. opts.clock === false: none.
  let ticking = opts.clock !== false;
  const tick = async () => {
    while (ticking) {
      try {
        const [auto, blk] = await Promise.all([anvil.provider.send('anvil_getAutomine', []), anvil.provider.getBlock('latest')]);
        if (auto && blk.timestamp < Date.now() / 1000 - 1) await anvil.provider.send('evm_mine', []);
      } catch { /* stopping */ }
      await new Promise((r) => setTimeout(r, 500));
    }
  };
  const ticker = tick();
  const stack = {
    anvil, db, signer, env,
    guardianKey: addrs.guardianKey,
    guardian: new ethers.Wallet(`0x${readFileSync(addrs.guardianKey, 'utf8').trim()}`, anvil.provider),
    token: new ethers.Contract(addrs.token, artifact('CohortToken').abi, anvil.provider),
    rewards: new ethers.Contract(addrs.rewards, artifact('CohortRewards').abi, anvil.provider),
    srv: await startCohortd(env),
    async restart(extra = {}) {
      await stack.srv.kill();
      stack.srv = await startCohortd({ ...env, ...extra });
      return stack.srv;
    },
    async stop() {
      ticking = false;
      await ticker;
      await stack.srv?.stop();
      await anvil.stop();
      db.drop();
    },
  };
  return stack;
}

// Polls fn until it returns a truthy value; throws with what after ms.
export async function waitFor(what, fn, ms = 30000, every = 100) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, every));
  }
}

// The anchorer key also sends promote() (anyone may; it moves an effective proposal into the
// root slot claims read): tests that count the key's anchoring transactions count only its
// propose() calls, mined in blocks from fromBlock on.
export async function proposalsSent(provider, from, fromBlock) {
  const sel = ethers.id('propose(bytes32,bytes32,uint64,uint256)').slice(0, 10);
  const latest = await provider.getBlockNumber();
  let n = 0;
  for (let b = fromBlock; b <= latest; b++) {
    const blk = await provider.getBlock(b, true);
    for (const tx of blk?.prefetchedTransactions ?? []) {
      if (tx.from.toLowerCase() === from.toLowerCase() && tx.data.startsWith(sel)) n++;
    }
  }
  return n;
}

// `cohort watch` as the operator runs it against stack s (the read-only cohort_watch role when
// scripts/test.sh provides it), collecting its output; extra: more arguments.
export function startWatch(s, extra = []) {
  const out = [], err = [];
  const p = spawn(join(BUILD, 'src/cli/cohort'), ['watch', '--url', s.srv.base, '--rpc', s.anvil.url,
    ...extra, '--database-url', s.db.watchUrl ?? s.db.url, '--guardian-key', s.guardianKey,
    '--interval-ms', '200'],
  { env: { PATH: process.env.PATH } });
  p.stdout.on('data', (d) => out.push(d));
  p.stderr.on('data', (d) => err.push(d));
  const exited = new Promise((r) => p.once('exit', (code) => r(code)));
  return {
    stdout: () => Buffer.concat(out).toString(),
    stderr: () => Buffer.concat(err).toString(),
    async stop() { if (p.exitCode === null) p.kill('SIGTERM'); return exited; },
  };
}
