#!/usr/bin/env node
// Deploys CohortToken and CohortRewards and records them in cohortd's config file.
//
// On any EVM chain, with the operator's deployer key (docs/OPERATIONS.md, "Deploying to a
// real chain"):
//   node scripts/deploy.mjs --rpc URL --key-file F --guardian 0xGUARDIAN --signer 0xLEDGER
//        --config FILE [--token 0xTOKEN] [--confirmations N]
// F holds the deployer's private key as hex (mode 0600, checked: refused when group or others
// may read it). The guardian is an ADDRESS: its key (the operator's cold wallet) never touches
// this machine. --token takes an existing token instead of deploying CohortToken (whose
// deployer is its minter). Both deployments are sent at once and awaited with N confirmations
// (default: the config's chain_confirmations, else 2). Nothing is funded or minted: the
// ledger signer needs ETH for gas (its balance is printed).
//
// On the local dev chain (chain id 31337, no --key-file), as scripts/setup.sh calls it:
//   node scripts/deploy.mjs --rpc URL --signer 0xLEDGER --config var/cohortd.conf
//        [--guardian-key FILE]
// the deployer is anvil's first dev account (a published test key, never used elsewhere); the
// guardian is the key in FILE (default: guardian.key beside the config), generated when
// missing (mode 0600, hex, the format of `cohort keys`) and printed: a dev stand-in for the
// operator's cold wallet, used by `cohort watch` and `cohort ledger rotate-key
// --guardian-key`. It also funds the ledger signer and the guardian with ETH for gas and
// mints test tokens to the first ten dev accounts. Dev keys are refused on any other chain.
//
// Both: the rewards contract's anchorer is the ledger signer; the challenge period is the
// config's challenge_period_s (unset: 3 s on the dev chain, 3600 s elsewhere; written back).
// Written into the config: token_contract, rewards_contract, chain_id (eth_chainId),
// chain_start_block (the rewards contract's deployment block), and rewards_code_hash /
// token_code_hash (keccak256 of eth_getCode), which cohortd checks at start. Idempotent: when
// the config already names a rewards contract with code on the node, the same anchorer,
// guardian, token and period, nothing is deployed (the code hashes are still written).
import { readFileSync, writeFileSync, existsSync, statSync } from 'node:fs';
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

// The operator's deployer key: hex in a file only its owner may read.
function deployerKey(path) {
  const mode = statSync(path).mode & 0o777;
  if (mode & 0o077) throw new Error(`key file ${path} is mode 0${mode.toString(8)}: it must be 0600 (chmod 600 ${path})`);
  const hex = readFileSync(path, 'utf8').trim().replace(/^0x/i, '');
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new Error(`key file ${path} must hold a private key as 64 hex digits`);
  return `0x${hex}`;
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

const flag = (name) => process.argv.includes(`--${name}`);

// keccak256 of the runtime code at addr; refuses an address without code.
async function codeHash(provider, addr, what) {
  const code = await provider.getCode(addr);
  if (code === '0x') throw new Error(`${what} ${addr} has no code`);
  return ethers.keccak256(code);
}

async function main() {
  const rpc = arg('rpc');
  const signer = ethers.getAddress(arg('signer'));
  const cfgPath = arg('config');
  const real = flag('key-file');
  const provider = new ethers.JsonRpcProvider(rpc, undefined, { staticNetwork: true });
  provider.pollingInterval = real ? 1000 : 200;
  const { chainId } = await provider.getNetwork();
  if (!real && chainId !== 31337n) throw new Error(`refusing to deploy with dev keys on chain ${chainId}: give --key-file`);
  // Dev: the generated guardian key; real: only the guardian's address.
  const guardian = real ? ethers.getAddress(arg('guardian'))
    : guardianWallet(arg('guardian-key', join(dirname(cfgPath), 'guardian.key'))).address;
  const cfg = readConfig(cfgPath);
  const period = BigInt(cfg.challenge_period_s ?? (real ? 3600 : 3));
  const confirmations = Number(arg('confirmations', real ? (cfg.chain_confirmations ?? '2') : '1'));
  if (!Number.isInteger(confirmations) || confirmations < 1) throw new Error('--confirmations must be a positive integer');
  const Rewards = artifact('CohortRewards');
  const Token = artifact('CohortToken');
  const record = async (tokenAddr, rewardsAddr, startBlock) => {
    setConfig(cfgPath, 'token_contract', tokenAddr.toLowerCase());
    setConfig(cfgPath, 'rewards_contract', rewardsAddr.toLowerCase());
    setConfig(cfgPath, 'chain_id', String(chainId));
    if (startBlock !== undefined) setConfig(cfgPath, 'chain_start_block', String(startBlock));
    setConfig(cfgPath, 'challenge_period_s', String(period));
    setConfig(cfgPath, 'token_code_hash', await codeHash(provider, tokenAddr, 'token'));
    setConfig(cfgPath, 'rewards_code_hash', await codeHash(provider, rewardsAddr, 'rewards contract'));
  };
  if (cfg.rewards_contract && cfg.token_contract) {
    const code = await provider.getCode(cfg.rewards_contract);
    if (code !== '0x') {
      const r = new ethers.Contract(cfg.rewards_contract, Rewards.abi, provider);
      const [s, g, t, p] = await Promise.all([r.anchorer(), r.guardian(), r.token(), r.challengePeriod()]).catch(() => []);
      const wantToken = real && flag('token') ? arg('token') : cfg.token_contract;
      if (s === signer && g === guardian && p === period && t?.toLowerCase() === wantToken.toLowerCase()) {
        await record(cfg.token_contract, cfg.rewards_contract);
        console.log(`contracts present: token ${cfg.token_contract}, rewards ${cfg.rewards_contract} (guardian ${g})`);
        provider.destroy();
        return;
      }
    }
  }
  const dev = (i) => ethers.HDNodeWallet.fromPhrase(MNEMONIC, undefined, `m/44'/60'/0'/0/${i}`);
  const wallet = real ? new ethers.Wallet(deployerKey(arg('key-file'))) : dev(0);
  const deployer = new ethers.NonceManager(wallet.connect(provider));
  // Both creations go out at once (the rewards constructor takes the token's address, known
  // from the deployer's nonce before it is mined), then both are awaited.
  let token;
  if (real && flag('token')) {
    const addr = ethers.getAddress(arg('token'));
    await codeHash(provider, addr, 'token');
    token = new ethers.Contract(addr, Token.abi, deployer);
  } else {
    token = await new ethers.ContractFactory(Token.abi, Token.bytecode, deployer).deploy(await deployer.getAddress());
  }
  const rewards = await new ethers.ContractFactory(Rewards.abi, Rewards.bytecode, deployer)
    .deploy(await token.getAddress(), signer, guardian, period);
  const tokenTx = token.deploymentTransaction();
  const [, rewardsReceipt] = await Promise.all([tokenTx?.wait(confirmations), rewards.deploymentTransaction().wait(confirmations)]);
  if (!real) {
    const waits = [];
    waits.push((await deployer.sendTransaction({ to: signer, value: ethers.parseEther('100') })).wait());
    waits.push((await deployer.sendTransaction({ to: guardian, value: ethers.parseEther('10') })).wait());
    for (let i = 0; i < 10; i++) {
      waits.push((await token.mint(dev(i).address, ethers.parseUnits('1000000', 18))).wait());
    }
    await Promise.all(waits);
  }
  await record(await token.getAddress(), await rewards.getAddress(), rewardsReceipt.blockNumber);
  console.log(`deployed ${tokenTx ? 'token' : 'with the existing token'} ${await token.getAddress()}, rewards ${await rewards.getAddress()} in block ${rewardsReceipt.blockNumber} on chain ${chainId} (anchorer ${signer}, guardian ${guardian}, challenge period ${period} s, ${confirmations} confirmation(s))`);
  if (real) {
    const bal = await provider.getBalance(signer);
    console.log(`the ledger signer ${signer} holds ${ethers.formatEther(bal)} ETH for gas${bal === 0n ? ': fund it before cohortd anchors' : ''}`);
  }
  provider.destroy();
}

main().catch((e) => {
  console.error(`deploy: ${e.shortMessage ?? e.message}`);
  process.exit(1);
});
