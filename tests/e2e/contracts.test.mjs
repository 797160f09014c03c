// Contract tests on a private anvil: the committed ABI/bytecode equal a fresh compile; the
// roots start at NO_ROOT, against which nothing verifies, and proposals stay under 70,000 gas;
// claim accepts exactly the StandardMerkleTree proofs; only the anchorer proposes, never above
// the deposits, one challenge period at a time, and nothing is claimable before a proposal is
// effective; anyone may promote() an effective proposal (nothing before effectiveAt or after a
// veto), after which a claim verifies once; the guardian (alone) vetoes, pauses, replaces the
// anchorer and hands its role on;
// anchors only move forward; claims pay the difference, so a double claim pays nothing more
// and cumulative amounts only grow; a reentrant token cannot make claim pay twice; the
// contract never pays more than it holds. Most tests deploy with a challenge period of 0 (a
// proposal is effective from its own block on); the role tests use a real one.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ethers } from 'ethers';
import { ROOT, startAnvil, deploy, merkleTree } from './chain-anvil.mjs';

const E = (n) => ethers.parseUnits(String(n), 18);
let anvil, owner, signer, alice, bob, carol, researcher, guardian, token, rewards;

// A rewards contract with anvil's dev wallets as anchorer (signer) and guardian.
const deployRewards = async (tokenAddr, period = 0) =>
  deploy('CohortRewards', owner, tokenAddr, signer.address, guardian.address, period);

before(async () => {
  anvil = await startAnvil();
  [owner, signer, alice, bob, carol, researcher, guardian] = anvil.wallets(7);
  token = await deploy('CohortToken', owner, owner.address);
  rewards = await deployRewards(await token.getAddress());
  await (await token.mint(researcher.address, E(1000))).wait();
});
after(async () => { await anvil?.stop(); });

async function anchor(values, seq, from = signer, r = rewards) {
  const t = merkleTree(values);
  await (await r.connect(from).propose(ethers.id(`ledger-${seq}`), t.root, seq, 0)).wait();
  return t;
}

const later = async (s) => { await anvil.provider.send('evm_increaseTime', [s]); await anvil.provider.send('evm_mine', []); };

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

test('before the first proposal the root is NO_ROOT; proposals stay under 70,000 gas', async () => {
  const r = await deployRewards(await token.getAddress());
  const NO_ROOT = ethers.toBeHex(1, 32);
  assert.equal(await r.NO_ROOT(), NO_ROOT);
  assert.equal(await r.claimsRoot(), NO_ROOT);
  assert.equal(await r.lastSeq(), 0n);
  assert.equal(await r.anchorer(), signer.address);
  assert.equal(await r.guardian(), guardian.address);
  // nothing verifies against NO_ROOT: not an empty proof, not one whose "root" would be 1
  await reverts(r.claim.staticCall(alice.address, 1n, []), 'InvalidProof');
  await reverts(r.claim.staticCall(alice.address, 1n, [NO_ROOT]), 'InvalidProof');
  const gas = async (seq) => (await (await r.connect(signer).propose(
    ethers.id(`ledger-${seq}`), ethers.id(`claims-${seq}`), seq, 0)).wait()).gasUsed;
  for (const seq of [1, 2, 3]) {
    const g = await gas(seq);
    assert.ok(g < 70000n, `proposal ${seq}: ${g} gas`);
  }
  assert.equal(await r.claimsRoot(), ethers.id('claims-3'));
  assert.equal(await r.effectiveLastSeq(), 3n);
  await assert.rejects(deploy('CohortRewards', owner, await token.getAddress(), signer.address, signer.address, 0));
});

test('claim verifies exactly the StandardMerkleTree proofs, at every leaf of trees of 1 to 33 leaves', async () => {
  const r = await deployRewards(await token.getAddress());
  await (await token.mint(await r.getAddress(), E(1000))).wait();
  const wallets = anvil.wallets(33).map((w) => w.address);
  let seq = 0;
  for (const n of [1, 2, 3, 4, 5, 6, 7, 8, 9, 16, 17, 33]) {
    const values = wallets.slice(0, n).map((a, i) => [a, BigInt(n * 100 + i + 1)]);
    const t = merkleTree(values);
    await (await r.connect(signer).propose(ethers.id(`l${n}`), t.root, ++seq, 0)).wait();
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
  assert.equal(await rewards.totalDeposited(), E(100));
  await reverts(rewards.connect(researcher).deposit(0), 'ZeroAmount');
});

test('only the anchorer proposes; lastSeq only moves forward; only the guardian replaces it', async () => {
  const root = ethers.id('x');
  await reverts(rewards.connect(alice).propose(root, root, 1, 0), 'NotAnchorer');
  await reverts(rewards.connect(guardian).propose(root, root, 1, 0), 'NotAnchorer');
  await anchor([[alice.address, E(1)]], 1);
  await reverts(rewards.connect(signer).propose(root, root, 1, 0), 'StaleAnchor');
  await reverts(rewards.connect(signer).setAnchorer(alice.address), 'NotGuardian');
  await reverts(rewards.connect(alice).setAnchorer(alice.address), 'NotGuardian');
  await reverts(rewards.connect(guardian).setAnchorer(guardian.address), 'SameKey');
  const rc = await (await rewards.connect(guardian).setAnchorer(carol.address)).wait();
  const ev = rc.logs.map((l) => rewards.interface.parseLog(l)).find((l) => l?.name === 'AnchorerChanged');
  assert.deepEqual([ev.args.previousAnchorer, ev.args.newAnchorer], [signer.address, carol.address]);
  await reverts(rewards.connect(signer).propose(root, root, 2, 0), 'NotAnchorer');
  await (await rewards.connect(guardian).setAnchorer(signer.address)).wait();
  assert.equal(await rewards.anchorer(), signer.address);
  assert.equal(await rewards.lastSeq(), 1n);
  // the guardian role moves only by the guardian
  await reverts(rewards.connect(signer).setGuardian(signer.address), 'NotGuardian');
  await reverts(rewards.connect(guardian).setGuardian(signer.address), 'SameKey');
  await (await rewards.connect(guardian).setGuardian(bob.address)).wait();
  await (await rewards.connect(bob).setGuardian(guardian.address)).wait();
  assert.equal(await rewards.guardian(), guardian.address);
});

test('a proposal above every deposit ever received reverts', async () => {
  const r = await deployRewards(await token.getAddress());
  const root = ethers.id('x');
  await reverts(r.connect(signer).propose(root, root, 1, 1), 'CreditsExceedDeposits');
  await (await token.connect(researcher).approve(await r.getAddress(), E(10))).wait();
  await (await r.connect(researcher).deposit(E(10))).wait();
  await reverts(r.connect(signer).propose(root, root, 1, E(10) + 1n), 'CreditsExceedDeposits');
  await (await r.connect(signer).propose(root, root, 1, E(10))).wait();
  // tokens sent to the contract without deposit() do not raise the cap
  await (await token.connect(researcher).transfer(await r.getAddress(), E(5))).wait();
  await reverts(r.connect(signer).propose(root, root, 2, E(10) + 1n), 'CreditsExceedDeposits');
});

test('challenge period: nothing is claimable before; the guardian vetoes in it; pause stops claims', async () => {
  const PERIOD = 3600;
  const [dave, erin, frank] = anvil.wallets(10).slice(7); // fresh balances
  const r = await deployRewards(await token.getAddress(), PERIOD);
  await (await token.connect(researcher).approve(await r.getAddress(), E(100))).wait();
  await (await r.connect(researcher).deposit(E(100))).wait();
  const t1 = merkleTree([[dave.address, E(10)], [erin.address, E(5)]]);
  const rc = await (await r.connect(signer).propose(ethers.id('l1'), t1.root, 1, E(15))).wait();
  const ev = rc.logs.map((l) => r.interface.parseLog(l)).find((l) => l?.name === 'Anchored');
  const { timestamp } = await anvil.provider.getBlock(rc.blockNumber);
  assert.equal(ev.args.effectiveAt, BigInt(timestamp + PERIOD));
  assert.equal(ev.args.totalCredited, E(15));
  assert.deepEqual([...await r.pending()], [t1.root, 1n, BigInt(timestamp + PERIOD)]);
  // pending: not claimable; a second proposal waits for the first's period
  await reverts(r.claim.staticCall(dave.address, E(10), t1.proof(dave.address, E(10))), 'InvalidProof');
  await reverts(r.connect(signer).propose(ethers.id('l2'), t1.root, 2, 0), 'ChallengePeriodRunning');
  await later(PERIOD);
  assert.equal(await r.claimsRoot(), t1.root);
  assert.equal(await r.effectiveLastSeq(), 1n);
  await reverts(r.connect(guardian).veto(), 'NothingToVeto'); // effective: too late to veto
  await (await r.claim(dave.address, E(10), t1.proof(dave.address, E(10)))).wait();
  assert.equal(await token.balanceOf(dave.address), E(10));

  // a forged proposal (one leaf: frank, the whole balance) vetoed within its period
  const held = await token.balanceOf(await r.getAddress());
  const forged = merkleTree([[frank.address, held]]);
  await (await r.connect(signer).propose(ethers.id('forged'), forged.root, 1000, E(100))).wait();
  await reverts(r.connect(signer).veto(), 'NotGuardian');
  const vrc = await (await r.connect(guardian).veto()).wait();
  const vev = vrc.logs.map((l) => r.interface.parseLog(l)).find((l) => l?.name === 'Vetoed');
  assert.equal(vev.args.lastSeq, 1000n);
  assert.equal(vev.args.claimsRoot, forged.root);
  assert.equal(await r.vetoed(1000), true);
  assert.equal(await r.lastSeq(), 1n, 'lastSeq falls back: the honest anchorer can go on');
  await later(PERIOD);
  await reverts(r.claim.staticCall(frank.address, held, forged.proof(frank.address, held)), 'InvalidProof');
  assert.equal(await r.claimsRoot(), t1.root);

  // pause: claims revert, proposals go on; unpause: claims again
  await reverts(r.connect(signer).pause(), 'NotGuardian');
  await (await r.connect(guardian).pause()).wait();
  await reverts(r.connect(guardian).pause(), 'AlreadyInState');
  await reverts(r.claim.staticCall(erin.address, E(5), t1.proof(erin.address, E(5))), 'ClaimsArePaused');
  const t2 = merkleTree([[dave.address, E(10)], [erin.address, E(8)]]);
  await (await r.connect(signer).propose(ethers.id('l2'), t2.root, 2, E(18))).wait();
  await later(PERIOD);
  await reverts(r.claim.staticCall(erin.address, E(8), t2.proof(erin.address, E(8))), 'ClaimsArePaused');
  await (await r.connect(signer).propose(ethers.id('l3'), t2.root, 3, E(18))).wait(); // promotes l2 while paused
  await reverts(r.connect(dave).unpause(), 'NotGuardian');
  await (await r.connect(guardian).unpause()).wait();
  await (await r.claim(erin.address, E(8), t2.proof(erin.address, E(8)))).wait();
  assert.equal(await token.balanceOf(erin.address), E(8));
});

test('promote(): anyone may call it once a proposal is effective; nothing before effectiveAt or after a veto; the claim after it does not pay the promotion', async () => {
  const PERIOD = 3600;
  const r = await deployRewards(await token.getAddress(), PERIOD);
  await (await token.connect(researcher).approve(await r.getAddress(), E(100))).wait();
  await (await r.connect(researcher).deposit(E(100))).wait();
  // recipients that already hold tokens, so the gas compared below is the contract's own
  const [dave, erin, frank] = anvil.wallets(13).slice(10);
  for (const w of [dave, erin]) await (await token.mint(w.address, 1n)).wait();
  await reverts(r.connect(carol).promote(), 'NothingToPromote'); // nothing proposed
  const t1 = merkleTree([[dave.address, E(3)], [erin.address, E(4)]]);
  await (await r.connect(signer).propose(ethers.id('p1'), t1.root, 1, E(7))).wait();
  await reverts(r.connect(carol).promote(), 'NothingToPromote'); // in its challenge period
  await later(PERIOD);
  // anyone: neither the anchorer nor the guardian
  await (await r.connect(carol).promote()).wait();
  await reverts(r.connect(carol).promote(), 'NothingToPromote'); // promoted already
  assert.equal(await r.claimsRoot(), t1.root);
  assert.equal(await r.effectiveLastSeq(), 1n);
  assert.deepEqual([...await r.pending()], [ethers.ZeroHash, 0n, 0n]);
  const after = (await (await r.claim(dave.address, E(3), t1.proof(dave.address, E(3)))).wait()).gasUsed;
  assert.ok(after < 80000n, `claim after promote(): ${after} gas`);

  // nobody promotes the next one: the first claim against it still works, and pays the promotion
  const t2 = merkleTree([[dave.address, E(3)], [erin.address, E(4)]].map(([a, v]) => [a, v + E(1)]));
  await (await r.connect(signer).propose(ethers.id('p2'), t2.root, 2, E(9))).wait();
  await later(PERIOD);
  const erinHeld = await token.balanceOf(erin.address);
  const fallback = (await (await r.claim(erin.address, E(5), t2.proof(erin.address, E(5)))).wait()).gasUsed;
  assert.equal(await token.balanceOf(erin.address) - erinHeld, E(5)); // her first claim, as dave's above
  assert.ok(fallback > after + 5000n, `the fallback claim (${fallback}) pays the promotion; after promote(): ${after}`);
  await reverts(r.connect(carol).promote(), 'NothingToPromote'); // the claim promoted it

  // a vetoed proposal: nothing to promote, during or after its period; the root stays
  const forged = merkleTree([[frank.address, E(90)]]);
  await (await r.connect(signer).propose(ethers.id('forged'), forged.root, 3, E(90))).wait();
  await (await r.connect(guardian).veto()).wait();
  await reverts(r.connect(carol).promote(), 'NothingToPromote');
  await later(PERIOD);
  await reverts(r.connect(carol).promote(), 'NothingToPromote');
  assert.equal(await r.claimsRoot(), t2.root);
  await reverts(r.claim.staticCall(frank.address, E(90), forged.proof(frank.address, E(90))), 'InvalidProof');
  const daveHeld = await token.balanceOf(dave.address);
  await (await r.claim(dave.address, E(4), t2.proof(dave.address, E(4)))).wait();
  assert.equal(await token.balanceOf(dave.address) - daveHeld, E(1));
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
  // The superseded root still verifies (the one promoted last) but pays nothing more.
  await reverts(rewards.claim(alice.address, E(10), t.proof(alice.address, E(10))), 'NothingToClaim');
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
  const r2 = await deployRewards(await evil.getAddress());
  await (await evil.mint(await r2.getAddress(), E(100))).wait();
  const t = merkleTree([[alice.address, E(7)], [bob.address, E(3)]]);
  await (await r2.connect(signer).propose(ethers.id('l'), t.root, 1, 0)).wait();
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
