// Gas of CohortRewards.propose, .promote and .claim with a claims tree of 1,000,000 accounts
// (proofs of depth 20, built by our ledger module through bench_chain_tree), beside the OpenZeppelin
// MerkleProof baseline (contracts-abi/test/MerkleBaseline.sol: verify the same leaf against a
// stored root and record it, no token transfer), all measured on one private anvil.
// Prints a markdown table. Usage: node bench/chain/gas.mjs [accounts]
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { ethers } from 'ethers';
import { ROOT, startAnvil, deploy } from '../../tests/e2e/chain-anvil.mjs';

const N = Number(process.argv[2] ?? 1000000);
const build = process.env.COH_BUILD ?? join(ROOT, 'build');
const treeOf = (epoch, ...only) => JSON.parse(execFileSync(join(build, 'bench', 'chain', 'bench_chain_tree'), [String(N), only.length ? '1' : '3', String(epoch), ...only], { maxBuffer: 1 << 24 }).toString());
const tree = treeOf(0);

const anvil = await startAnvil();
try {
  const [dev, guardianWallet] = anvil.wallets(2);
  const signer = new ethers.NonceManager(dev);
  const me = await signer.getAddress();
  const PERIOD = 3600; // a public chain's challenge period; anvil's clock is moved past it
  const token = await deploy('CohortToken', signer, me);
  const rewards = await deploy('CohortRewards', signer, await token.getAddress(), me, guardianWallet.address, PERIOD);
  const later = async () => { await anvil.provider.send('evm_increaseTime', [PERIOD]); await anvil.provider.send('evm_mine', []); };
  const propose = (l, c, seq) => rewards.propose(ethers.id(l), c, seq, 10n ** 24n);
  const baseline = await deploy('MerkleBaseline', signer);
  const gas = async (p) => (await (await p).wait()).gasUsed;
  // Fund the contract the way researchers do (deposit), enough for every claim below.
  await gas(token.mint(me, 10n ** 24n));
  await gas(token.approve(await rewards.getAddress(), 10n ** 24n));
  await gas(rewards.deposit(10n ** 24n));
  const rows = [];
  const row = (name, g, vs = true) => rows.push([name, g, vs ? `+${(g - base).toLocaleString('en-US')}` : '']);
  let base = 0n;
  const [a, b, c] = tree.claims;
  const depth = a.proof.length;
  // The constructor leaves the roots at NO_ROOT (nonzero), so the first proposal rewrites
  // nonzero slots like every later one. A proposal after the previous one's challenge period
  // also promotes that one when nobody called promote().
  row('propose (first after deployment)', await gas(propose('ledger-1', ethers.id('claims-1'), 1000)), false);
  await later();
  row('propose (the previous one effective, nobody promoted it: promotes it)', await gas(propose('ledger-2', tree.root, 2000)), false);
  await later();
  // The steady flow: once the challenge period is over, cohortd's anchorer (or anyone) calls
  // promote() when it has nothing new to propose; claims then read only the promoted root.
  row('promote() (after the challenge period; anyone may send it)', await gas(rewards.connect(guardianWallet).promote()), false);
  // Baseline: same leaf, same proof, against a stored root; records the amount.
  await gas(baseline.setRoot(tree.root));
  base = await gas(baseline.verify(b.account, b.amount, b.proof));
  rows.push([`OpenZeppelin MerkleProof baseline (verify depth ${depth} + record, no transfer)`, base, '']);
  // Recipients that already hold tokens (balance slot nonzero); their `claimed` slot still
  // goes from zero, as on any account's first claim through this contract.
  await gas(token.mint(c.account, 1n));
  row(`claim, depth ${depth}, the first after promote() (recipient holds tokens)`, await gas(rewards.claim(c.account, c.amount, c.proof)));
  await gas(token.mint(b.account, 1n));
  row(`claim, depth ${depth}, steady (recipient holds tokens)`, await gas(rewards.claim(b.account, b.amount, b.proof)));
  row(`claim, depth ${depth}, a recipient's first tokens (its balance slot goes from zero)`, await gas(rewards.claim(a.account, a.amount, a.proof)));
  // A repeat claim: the same account after it earned more (the next epoch's tree, every
  // amount 1e18 higher): `claimed` and balance both nonzero.
  const next = treeOf(1, String(b.index));
  const [again] = next.claims;
  row('propose (nothing to promote: promote() did)', await gas(propose('ledger-3', next.root, 3000)), false);
  await later();
  row('promote()', await gas(rewards.promote()), false);
  row(`claim, depth ${again.proof.length}, repeat (the same account after a new proposal)`, await gas(rewards.claim(again.account, again.amount, again.proof)));
  // The fallback: nobody promoted, so the first claim after the challenge period promotes.
  const third = treeOf(2, String(c.index));
  const [late] = third.claims;
  await gas(propose('ledger-4', third.root, 4000));
  await later();
  row(`claim, depth ${late.proof.length}, repeat, when nobody promoted (fallback: verifies twice and promotes)`, await gas(rewards.claim(late.account, late.amount, late.proof)));
  const { chainId } = await anvil.provider.getNetwork();
  const version = await anvil.provider.send('web3_clientVersion', []);
  console.log(`Claims tree of ${tree.n.toLocaleString('en-US')} accounts built by the ledger module in ${tree.build_ms} ms; proofs of depth ${depth}.`);
  console.log(`Gas used per transaction (receipt gasUsed, including the 21,000 base and calldata), on ${version}, chain ${chainId}.`);
  console.log(`Targets: propose under 70,000; claim under 80,000 (a recipient's first tokens excepted). Challenge period ${PERIOD} s (anvil's clock moved past it).`);
  console.log();
  console.log('| transaction | gas used | vs baseline |');
  console.log('|---|---:|---:|');
  for (const [name, g, d] of rows) console.log(`| ${name} | ${g.toLocaleString('en-US')} | ${d} |`);
} finally {
  await anvil.stop();
}
