// The ledger's claims tree (src/ledger/merkle.c) against @openzeppelin/merkle-tree, the library
// wallets and the rewards contract's tooling use: for the trees in tests/vectors/ethereum.json
// ("merkle") and for random trees of 1 to 10,000 leaves, the roots, every value's leaf hash,
// tree index and proof must be identical. The C side runs as tests/integration/ledger_merkle
// (built by CMake; found under $COH_BUILD, default build/), fed JSON on stdin.
// A failing random case prints its seed: COH_MERKLE_SEED=<seed> reproduces it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { StandardMerkleTree } from '@openzeppelin/merkle-tree';
import { ROOT, BUILD } from './helpers.mjs';

const TOOL = join(BUILD, 'tests', 'integration', 'ledger_merkle');
const ENCODING = ['address', 'uint256'];

// Runs the C tree over trees = [{values: [[address, decimal], ...], sort}] in one process.
function cTrees(trees) {
  assert.ok(existsSync(TOOL), `${TOOL} is missing: build the ledger_merkle target first`);
  const out = execFileSync(TOOL, ['--input', '-'], {
    input: JSON.stringify({ trees }),
    maxBuffer: 1 << 30,
    encoding: 'utf8',
  });
  return JSON.parse(out).trees;
}

function ozTree(values, sort) {
  return StandardMerkleTree.of(
    values.map(([a, v]) => [a, BigInt(v)]),
    ENCODING,
    { sortLeaves: sort },
  );
}

// OpenZeppelin's proof of tree index i, read off its dumped tree (core.getProof's walk).
function dumpProof(tree, i) {
  const proof = [];
  while (i > 0) {
    proof.push(tree[i % 2 ? i + 1 : i - 1]);
    i = (i - 1) >> 1;
  }
  return proof;
}

// Same root and, for every value, same leaf hash, tree index and proof. getProof (which also
// re-hashes and verifies, ~0.5 ms a call) is asked for every value of trees up to FULL leaves
// and for a spread sample of larger ones; every other proof is read off the library's dump.
const FULL = 1100;
const SAMPLE = 128;
function assertSame(c, oz, label) {
  assert.equal(c.root, oz.root, `${label}: root`);
  const dump = oz.dump();
  const n = dump.values.length;
  assert.equal(c.values.length, n, `${label}: value count`);
  const step = n <= FULL ? 1 : Math.ceil(n / SAMPLE);
  for (let i = 0; i < n; i++) {
    const cv = c.values[i];
    const { treeIndex } = dump.values[i];
    assert.equal(cv.leaf, dump.tree[treeIndex], `${label}: leaf hash of value ${i}`);
    assert.equal(cv.treeIndex, treeIndex, `${label}: tree index of value ${i}`);
    const want = i % step === 0 || i === n - 1 ? oz.getProof(i) : dumpProof(dump.tree, treeIndex);
    assert.deepEqual(cv.proof, want, `${label}: proof of value ${i}`);
  }
}

test('claims trees of tests/vectors/ethereum.json equal @openzeppelin/merkle-tree and the recorded vectors', () => {
  const vectors = JSON.parse(readFileSync(join(ROOT, 'tests', 'vectors', 'ethereum.json'), 'utf8')).merkle;
  assert.ok(vectors.length > 0, 'the merkle section is empty');
  const out = cTrees(vectors.map((v) => ({ values: v.values, sort: v.sort_leaves })));
  vectors.forEach((v, k) => {
    const label = `vector ${v.index} (${v.n_leaves} leaves)`;
    assert.deepEqual(v.leaf_encoding, ENCODING, `${label}: leaf encoding`);
    const oz = ozTree(v.values, v.sort_leaves);
    assertSame(out[k], oz, label);
    assert.equal(out[k].root, v.root, `${label}: recorded root`);
    for (const s of v.samples) {
      const cv = out[k].values[s.value_index];
      assert.equal(cv.treeIndex, s.tree_index, `${label}: recorded tree index of value ${s.value_index}`);
      assert.equal(cv.leaf, s.leaf_hash, `${label}: recorded leaf of value ${s.value_index}`);
      assert.deepEqual(cv.proof, s.proof, `${label}: recorded proof of value ${s.value_index}`);
    }
    if (v.dump) assert.deepEqual(oz.dump().tree, v.dump.tree, `${label}: recorded dump`);
  });
});

// Deterministic bytes from a seed: sha256(seed || counter) blocks.
function prng(seed) {
  let counter = 0;
  let pool = Buffer.alloc(0);
  return (n) => {
    while (pool.length < n) {
      const block = createHash('sha256').update(`${seed}:${counter++}`).digest();
      pool = Buffer.concat([pool, block]);
    }
    const out = pool.subarray(0, n);
    pool = pool.subarray(n);
    return out;
  };
}

const MAX = (1n << 256n) - 1n;

// Random distinct addresses and amounts over the whole uint256 range (0, 1, max, every size).
function randomValues(bytes, n) {
  const seen = new Set();
  const values = [];
  while (values.length < n) {
    const address = `0x${bytes(20).toString('hex')}`;
    if (seen.has(address)) continue;
    seen.add(address);
    const pick = bytes(1)[0];
    let amount;
    if (pick < 8) amount = 0n;
    else if (pick < 16) amount = 1n;
    else if (pick < 24) amount = MAX;
    else {
      const len = 1 + (bytes(1)[0] % 32);
      amount = BigInt(`0x${bytes(len).toString('hex')}`);
    }
    values.push([address, amount.toString()]);
  }
  return values;
}

test('random claims trees of 1 to 10,000 leaves equal @openzeppelin/merkle-tree', () => {
  const seed = process.env.COH_MERKLE_SEED ?? randomBytes(8).toString('hex');
  const bytes = prng(seed);
  // Every size up to 33, both sides of some powers of two, random sizes up to 10,000, and
  // 10,000 (about 35,000 leaves in all: the library needs ~0.25 ms a leaf to build).
  const sizes = [];
  for (let n = 1; n <= 33; n++) sizes.push(n);
  for (const p of [64, 256, 1024]) sizes.push(p - 1, p, p + 1);
  for (let k = 0; k < 4; k++) sizes.push(1 + (bytes(2).readUInt16BE(0) % 10000));
  sizes.push(10000);
  const trees = sizes.map((n, k) => ({ values: randomValues(bytes, n), sort: k % 9 !== 4 }));
  const out = cTrees(trees);
  assert.equal(out.length, trees.length);
  trees.forEach((t, k) => {
    const label = `seed ${seed}, tree ${k} (${t.values.length} leaves, sort ${t.sort})`;
    assertSame(out[k], ozTree(t.values, t.sort), label);
  });
  const total = sizes.reduce((a, b) => a + b, 0);
  console.log(`# ${trees.length} random trees, ${total} leaves, seed ${seed}`);
});
