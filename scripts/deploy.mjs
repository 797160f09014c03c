#!/usr/bin/env node
// Deploys CohortToken and CohortRewards on a LOCAL dev node (chain id 31337 only) and records
// their addresses in cohortd's config file (token_contract, rewards_contract).
//   node scripts/deploy.mjs --rpc URL --signer 0xLEDGER --config var/cohortd.conf
// Idempotent: when the config already names a rewards contract that has code on the node
// and whose signer() is the ledger signer, nothing is deployed. The deployer is anvil's first
// dev account (a published test key, never used elsewhere). It also funds the ledger signer
// with ETH for anchoring gas and mints test tokens to the first ten dev accounts.
import { readFileSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ethers } from 'ethers';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const MNEMONIC = 'test test test test test test test test test test test junk';

function arg(name) {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0 || i + 1 >= process.argv.length) throw new Error(`missing --${name}`);
  return process.argv[i + 1];
}

function readConfig(path) {
  const out = {};
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const m = line.match(/^\s*([a-z_]+)\s*=\s*(.*?)\s*$/);
    if (m) out[m[1]] = m[2];
  }
  return out;
}

// Sets name = value in the config file, replacing an existing (or commented) line.
function setConfig(path, name, value) {
  const lines = readFileSync(path, 'utf8').split('\n');
  const re = new RegExp(`^\\s*#?\\s*${name}\\s*=`);
  const i = lines.findIndex((l) => re.test(l));
  if (i >= 0) lines[i] = `${name} = ${value}`;
  else lines.splice(lines.length - (lines.at(-1) === '' ? 1 : 0), 0, `${name} = ${value}`);
  writeFileSync(path, lines.join('\n'));
}

const artifact = (n) => JSON.parse(readFileSync(join(ROOT, 'contracts-abi', `${n}.json`), 'utf8'));

async function main() {
  const rpc = arg('rpc');
  const signer = ethers.getAddress(arg('signer'));
  const cfgPath = arg('config');
  const provider = new ethers.JsonRpcProvider(rpc, undefined, { staticNetwork: true });
  provider.pollingInterval = 200;
  const { chainId } = await provider.getNetwork();
  if (chainId !== 31337n) throw new Error(`refusing to deploy with dev keys on chain ${chainId}`);
  const cfg = readConfig(cfgPath);
  const Rewards = artifact('CohortRewards');
  const Token = artifact('CohortToken');
  if (cfg.rewards_contract && cfg.token_contract) {
    const code = await provider.getCode(cfg.rewards_contract);
    if (code !== '0x') {
      const r = new ethers.Contract(cfg.rewards_contract, Rewards.abi, provider);
      const [s, t] = await Promise.all([r.signer(), r.token()]);
      if (s === signer && t.toLowerCase() === cfg.token_contract.toLowerCase()) {
        console.log(`contracts present: token ${cfg.token_contract}, rewards ${cfg.rewards_contract}`);
        return;
      }
    }
  }
  const dev = (i) => ethers.HDNodeWallet.fromPhrase(MNEMONIC, undefined, `m/44'/60'/0'/0/${i}`);
  const deployer = new ethers.NonceManager(dev(0).connect(provider));
  const token = await new ethers.ContractFactory(Token.abi, Token.bytecode, deployer)
    .deploy(await deployer.getAddress());
  await token.waitForDeployment();
  const rewards = await new ethers.ContractFactory(Rewards.abi, Rewards.bytecode, deployer)
    .deploy(await token.getAddress(), signer);
  await rewards.waitForDeployment();
  const waits = [];
  waits.push((await deployer.sendTransaction({ to: signer, value: ethers.parseEther('100') })).wait());
  for (let i = 0; i < 10; i++) {
    waits.push((await token.mint(dev(i).address, ethers.parseUnits('1000000', 18))).wait());
  }
  await Promise.all(waits);
  setConfig(cfgPath, 'token_contract', (await token.getAddress()).toLowerCase());
  setConfig(cfgPath, 'rewards_contract', (await rewards.getAddress()).toLowerCase());
  console.log(`deployed token ${await token.getAddress()}, rewards ${await rewards.getAddress()} (signer ${signer})`);
  provider.destroy();
}

main().catch((e) => {
  console.error(`deploy: ${e.shortMessage ?? e.message}`);
  process.exit(1);
});
