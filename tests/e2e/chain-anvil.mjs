// Shared by the chain tests: start a private anvil (node_modules/.bin/anvil) on a free
// 127.0.0.1 port and stop it; deploy the compiled contracts from contracts-abi/; build
// OpenZeppelin StandardMerkleTree-format trees for (address, uint256) leaves.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ethers } from 'ethers';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

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

// Starts anvil; returns { url, provider, stop, wallets(n) } with anvil's funded dev keys.
export async function startAnvil(args = []) {
  const port = await freePort();
  const proc = spawn(join(ROOT, 'node_modules', '.bin', 'anvil'),
    ['--host', '127.0.0.1', '--port', String(port), '--silent', ...args],
    { stdio: ['ignore', 'ignore', 'pipe'] });
  const err = [];
  proc.stderr.on('data', (d) => err.push(d));
  const url = `http://127.0.0.1:${port}`;
  const provider = new ethers.JsonRpcProvider(url, undefined, { staticNetwork: true, cacheTimeout: -1 });
  provider.pollingInterval = 50;
  for (let i = 0; ; i++) {
    if (proc.exitCode !== null) throw new Error(`anvil exited: ${Buffer.concat(err)}`);
    try {
      await provider.send('eth_chainId', []);
      break;
    } catch (e) {
      if (i > 200) throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
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
