#!/usr/bin/env node
// Deploys CohortToken and CohortRewards on a LOCAL dev node (chain id 31337 only) and records
// their addresses in cohortd's config file (token_contract, rewards_contract).
//   node scripts/deploy.mjs --rpc URL --signer 0xLEDGER --config var/cohortd.conf
//        [--guardian-key FILE]
// The rewards contract's anchorer is the ledger signer; its guardian is the key in FILE
// (default: guardian.key beside the config), generated when missing (mode 0600, hex, the
// format of `cohort keys`) and printed: a dev stand-in for the operator's cold wallet, used by
// `cohort watch` and `cohort ledger rotate-key --guardian-key`. The challenge period is the
// config's challenge_period_s (3 s when unset; written back). Idempotent: when the config
// already names a rewards contract with code on the node, the same anchorer, guardian, token
// and period, nothing is deployed. The deployer is anvil's first dev account (a published
// test key, never used elsewhere). It also funds the ledger signer and the guardian with ETH
// for gas and mints test tokens to the first ten dev accounts.
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ethers } from 'ethers';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const MNEMONIC = 'test test test test test test test test test test test junk';

function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0 || i + 1 >= process.argv.length) {
    if (dflt !== undefined) return dflt;
    throw new Error(`missing --${name}`);
  }
  return process.argv[i + 1];
}

// The dev guardian: read from file, or generated into it (mode 0600, O_EXCL).
function guardianWallet(path) {
  if (!existsSync(path)) {
    const w = ethers.Wallet.createRandom();
    writeFileSync(path, `${w.privateKey.slice(2)}\n`, { mode: 0o600, flag: 'wx' });
    console.log(`generated a dev guardian key ${w.address} in ${path} (mode 0600)`);
  }
  return new ethers.Wallet(`0x${readFileSync(path, 'utf8').trim()}`);
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
  const guardian = guardianWallet(arg('guardian-key', join(dirname(cfgPath), 'guardian.key')));
  const provider = new ethers.JsonRpcProvider(rpc, undefined, { staticNetwork: true });
  provider.pollingInterval = 200;
  const { chainId } = await provider.getNetwork();
  if (chainId !== 31337n) throw new Error(`refusing to deploy with dev keys on chain ${chainId}`);
  const cfg = readConfig(cfgPath);
  const period = BigInt(cfg.challenge_period_s ?? 3);
  const Rewards = artifact('CohortRewards');
  const Token = artifact('CohortToken');
  if (cfg.rewards_contract && cfg.token_contract) {
    const code = await provider.getCode(cfg.rewards_contract);
    if (code !== '0x') {
      const r = new ethers.Contract(cfg.rewards_contract, Rewards.abi, provider);
      const [s, g, t, p] = await Promise.all([r.anchorer(), r.guardian(), r.token(), r.challengePeriod()]).catch(() => []);
      if (s === signer && g === guardian.address && p === period && t?.toLowerCase() === cfg.token_contract.toLowerCase()) {
        console.log(`contracts present: token ${cfg.token_contract}, rewards ${cfg.rewards_contract} (guardian ${g})`);
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
    .deploy(await token.getAddress(), signer, guardian.address, period);
  await rewards.waitForDeployment();
  const waits = [];
  waits.push((await deployer.sendTransaction({ to: signer, value: ethers.parseEther('100') })).wait());
  waits.push((await deployer.sendTransaction({ to: guardian.address, value: ethers.parseEther('10') })).wait());
  for (let i = 0; i < 10; i++) {
    waits.push((await token.mint(dev(i).address, ethers.parseUnits('1000000', 18))).wait());
  }
  await Promise.all(waits);
  setConfig(cfgPath, 'token_contract', (await token.getAddress()).toLowerCase());
  setConfig(cfgPath, 'rewards_contract', (await rewards.getAddress()).toLowerCase());
  setConfig(cfgPath, 'challenge_period_s', String(period));
  console.log(`deployed token ${await token.getAddress()}, rewards ${await rewards.getAddress()} (anchorer ${signer}, guardian ${guardian.address}, challenge period ${period} s)`);
  provider.destroy();
}

main().catch((e) => {
  console.error(`deploy: ${e.shortMessage ?? e.message}`);
  process.exit(1);
});
