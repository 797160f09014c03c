// Contract tests on a private anvil: the committed ABI/bytecode equal a fresh compile; the
// roots start at NO_ROOT, against which nothing verifies, and the first anchor costs (gasUsed)
// what a later one does; claim accepts exactly the StandardMerkleTree proofs; only
// the ledger signer anchors (and rotates itself); anchors only move forward; a wrong proof
// fails; claims pay the difference, so a double claim pays nothing more and cumulative
// amounts only grow; a reentrant token cannot make claim pay twice; the contract never pays
// more than it holds.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ethers } from 'ethers';
import { ROOT, startAnvil, deploy, merkleTree } from './chain-anvil.mjs';

const E = (n) => ethers.parseUnits(String(n), 18);
let anvil, owner, signer, alice, bob, carol, researcher, token, rewards;

before(async () => {
  anvil = await startAnvil();
  [owner, signer, alice, bob, carol, researcher] = anvil.wallets(6);
  token = await deploy('CohortToken', owner, owner.address);
  rewards = await deploy('CohortRewards', owner, await token.getAddress(), signer.address);
  await (await token.mint(researcher.address, E(1000))).wait();
});
after(async () => { await anvil?.stop(); });

async function anchor(values, seq, from = signer) {
  const t = merkleTree(values);
  await (await rewards.connect(from).anchor(ethers.id(`ledger-${seq}`), t.root, seq)).wait();
  return t;
}

// Expects a revert with the named custom error of CohortRewards.
async function reverts(p, name) {
  await assert.rejects(p, (e) => {
    const data = e.data ?? e.info?.error?.data;
    const got = data ? rewards.interface.parseError(data)?.name : e.shortMessage;
    assert.equal(got, name);
    return true;
  });
}

test('committed contracts-abi JSON equals a fresh solc compile', () => {
  execFileSync('node', [join(ROOT, 'scripts', 'contracts.mjs'), '--check'], { stdio: 'pipe' });
});

test('merkle helper matches the OpenZeppelin vectors', () => {
  const v = JSON.parse(readFileSync(join(ROOT, 'tests', 'vectors', 'ethereum.json'), 'utf8'));
  for (const m of v.merkle) {
    const t = merkleTree(m.values);
    assert.equal(t.root, m.root);
    for (const s of m.samples) assert.deepEqual(t.proof(...s.value), s.proof);
  }
});

test('before the first anchor the roots are NO_ROOT; the first anchor costs what a later one does', async () => {
  const r = await deploy('CohortRewards', owner, await token.getAddress(), signer.address);
  const NO_ROOT = ethers.toBeHex(1, 32);
  assert.equal(await r.NO_ROOT(), NO_ROOT);
  assert.equal(await r.ledgerRoot(), NO_ROOT);
  assert.equal(await r.claimsRoot(), NO_ROOT);
  assert.equal(await r.lastSeq(), 0n);
  // nothing verifies against NO_ROOT: not an empty proof, not one whose "root" would be 1
  await reverts(r.claim.staticCall(alice.address, 1n, []), 'InvalidProof');
  await reverts(r.claim.staticCall(alice.address, 1n, [NO_ROOT]), 'InvalidProof');
  // Both anchors change both roots (fresh values, same zero-byte count in the calldata).
  const gas = async (seq) => (await (await r.connect(signer).anchor(
    ethers.id(`ledger-${seq}`), ethers.id(`claims-${seq}`), seq)).wait()).gasUsed;
  const first = await gas(1);
  const later = await gas(2);
  const third = await gas(3);
  assert.ok(first < 50000n, `first anchor ${first} gas`);
  const diff = (x, y) => (x > y ? x - y : y - x);
  assert.ok(diff(first, later) < 300n, `first anchor ${first} gas, a later one ${later}`);
  assert.ok(diff(later, third) < 300n, `later anchors ${later} and ${third} gas`);
  assert.equal(await r.claimsRoot(), ethers.id('claims-3'));
  assert.equal(await r.ledgerRoot(), ethers.id('ledger-3'));
});

test('claim verifies exactly the StandardMerkleTree proofs, at every leaf of trees of 1 to 33 leaves', async () => {
  const r = await deploy('CohortRewards', owner, await token.getAddress(), signer.address);
  await (await token.mint(await r.getAddress(), E(1000))).wait();
  const wallets = anvil.wallets(33).map((w) => w.address);
  let seq = 0;
  for (const n of [1, 2, 3, 4, 5, 6, 7, 8, 9, 16, 17, 33]) {
    const values = wallets.slice(0, n).map((a, i) => [a, BigInt(n * 100 + i + 1)]);
    const t = merkleTree(values);
    await (await r.connect(signer).anchor(ethers.id(`l${n}`), t.root, ++seq)).wait();
    for (const [a, amt] of values) {
      const p = t.proof(a, amt);
      assert.equal(await r.claim.staticCall(a, amt, p), amt, `n=${n}: leaf ${a} pays`);
      await reverts(r.claim.staticCall(a, amt + 1n, p), 'InvalidProof');
      await reverts(r.claim.staticCall(a, amt, [...p, t.root]), 'InvalidProof');
      if (p.length === 0) continue;
      await reverts(r.claim.staticCall(a, amt, p.slice(0, -1)), 'InvalidProof');
      const bad = [...p];
      bad[p.length - 1] = ethers.toBeHex(BigInt(bad[p.length - 1]) ^ 1n, 32);
      await reverts(r.claim.staticCall(a, amt, bad), 'InvalidProof');
      if (p.length > 1) await reverts(r.claim.staticCall(a, amt, [...p].reverse()), 'InvalidProof');
    }
  }
});

test('deposit pulls tokens and emits Deposited', async () => {
  await (await token.connect(researcher).approve(await rewards.getAddress(), E(100))).wait();
  const rc = await (await rewards.connect(researcher).deposit(E(100))).wait();
  const ev = rc.logs.map((l) => rewards.interface.parseLog(l)).find((l) => l?.name === 'Deposited');
  assert.equal(ev.args.researcher, researcher.address);
  assert.equal(ev.args.amount, E(100));
  assert.equal(await token.balanceOf(await rewards.getAddress()), E(100));
  await reverts(rewards.connect(researcher).deposit(0), 'ZeroAmount');
});

test('only the signer anchors; lastSeq only moves forward; the signer rotates itself', async () => {
  const root = ethers.id('x');
  await reverts(rewards.connect(alice).anchor(root, root, 1), 'NotSigner');
  await reverts(rewards.connect(owner).anchor(root, root, 1), 'NotSigner');
  await anchor([[alice.address, E(1)]], 1);
  await reverts(rewards.connect(signer).anchor(root, root, 1), 'StaleAnchor');
  await reverts(rewards.connect(alice).setSigner(alice.address), 'NotSigner');
  await (await rewards.connect(signer).setSigner(carol.address)).wait();
  await reverts(rewards.connect(signer).anchor(root, root, 2), 'NotSigner');
  await (await rewards.connect(carol).setSigner(signer.address)).wait();
  assert.equal(await rewards.signer(), signer.address);
  assert.equal(await rewards.lastSeq(), 1n);
});

test('claims: wrong proofs fail, the difference is paid once, cumulative only grows', async () => {
  const t = await anchor([[alice.address, E(10)], [bob.address, E(5)], [carol.address, E(1)]], 2);
  // wrong amount, wrong account, proof of another leaf, empty proof
  await reverts(rewards.claim(alice.address, E(11), t.proof(alice.address, E(10))), 'InvalidProof');
  await reverts(rewards.claim(bob.address, E(10), t.proof(alice.address, E(10))), 'InvalidProof');
  await reverts(rewards.claim(alice.address, E(10), t.proof(bob.address, E(5))), 'InvalidProof');
  await reverts(rewards.claim(alice.address, E(10), []), 'InvalidProof');

  await (await rewards.connect(bob).claim(alice.address, E(10), t.proof(alice.address, E(10)))).wait();
  assert.equal(await token.balanceOf(alice.address), E(10)); // paid to the account, whoever sends
  await reverts(rewards.claim(alice.address, E(10), t.proof(alice.address, E(10))), 'NothingToClaim');
  assert.equal(await token.balanceOf(alice.address), E(10));

  // next anchor: alice 25 in total -> gets 15; a tree that lowers alice's cumulative pays nothing
  const t2 = await anchor([[alice.address, E(25)], [bob.address, E(5)]], 3);
  await reverts(rewards.claim(alice.address, E(10), t.proof(alice.address, E(10))), 'InvalidProof');
  await (await rewards.claim(alice.address, E(25), t2.proof(alice.address, E(25)))).wait();
  assert.equal(await token.balanceOf(alice.address), E(25));
  const t3 = await anchor([[alice.address, E(20)], [bob.address, E(5)]], 4);
  await reverts(rewards.claim(alice.address, E(20), t3.proof(alice.address, E(20))), 'NothingToClaim');
  assert.equal(await rewards.claimed(alice.address), E(25));
});

test('never pays more than it holds', async () => {
  const held = await token.balanceOf(await rewards.getAddress());
  const t = await anchor([[bob.address, held + 1n], [carol.address, 1n]], 5);
  await assert.rejects(rewards.claim(bob.address, held + 1n, t.proof(bob.address, held + 1n)));
  assert.equal(await token.balanceOf(await rewards.getAddress()), held);
  assert.equal(await rewards.claimed(bob.address), 0n);
  // exactly what it holds is fine
  const t2 = await anchor([[bob.address, held], [carol.address, 1n]], 6);
  await (await rewards.claim(bob.address, held, t2.proof(bob.address, held))).wait();
  assert.equal(await token.balanceOf(await rewards.getAddress()), 0n);
});

test('reentrancy through a token hook cannot claim twice', async () => {
  const evil = await deploy('ReentrantToken', owner);
  const r2 = await deploy('CohortRewards', owner, await evil.getAddress(), signer.address);
  await (await evil.mint(await r2.getAddress(), E(100))).wait();
  const t = merkleTree([[alice.address, E(7)], [bob.address, E(3)]]);
  await (await r2.connect(signer).anchor(ethers.id('l'), t.root, 1)).wait();
  await (await evil.arm(await r2.getAddress(), alice.address, E(7), t.proof(alice.address, E(7)))).wait();
  await (await r2.claim(alice.address, E(7), t.proof(alice.address, E(7)))).wait();
  assert.equal(await evil.attempts(), 1n);
  assert.equal(await evil.reentered(), false);
  const reason = await evil.lastError();
  // The re-entrant claim finds the amount already recorded as claimed (effects before the
  // transfer): it is refused with NothingToClaim, and nothing more is paid.
  assert.equal(reason.slice(0, 10), r2.interface.getError('NothingToClaim').selector);
  assert.equal(await evil.balanceOf(alice.address), E(7));
  assert.equal(await evil.balanceOf(await r2.getAddress()), E(93));
});
