#!/usr/bin/env node
// Compiles contracts-abi/src/*.sol (and the test-only contracts in contracts-abi/test/) with
// solc-js from node_modules into contracts-abi/<Name>.json: { contractName, sourceName,
// compiler, abi, bytecode, deployedBytecode }. The output is deterministic, so it is
// committed and `node scripts/contracts.mjs --check` (run by the contracts test) fails when
// the committed JSON differs from a fresh compile of the sources.
import { readFileSync, writeFileSync, readdirSync, existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const solc = require('solc');
const OUT = join(ROOT, 'contracts-abi');
const SETTINGS = {
  optimizer: { enabled: true, runs: 10000 },
  evmVersion: 'cancun',
  // No metadata hash: the bytecode must not depend on paths or comments' IPFS hash.
  metadata: { bytecodeHash: 'none', appendCBOR: false },
  outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] } },
};

function sources() {
  const s = {};
  for (const dir of ['src', 'test']) {
    for (const f of readdirSync(join(OUT, dir)).sort()) {
      if (f.endsWith('.sol')) s[`${dir}/${f}`] = { content: readFileSync(join(OUT, dir, f), 'utf8') };
    }
  }
  return s;
}

function findImports(path) {
  const p = join(ROOT, 'node_modules', path);
  if (existsSync(p)) return { contents: readFileSync(p, 'utf8') };
  return { error: `not found: ${path}` };
}

export function compile() {
  const input = { language: 'Solidity', sources: sources(), settings: SETTINGS };
  const out = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
  const errors = (out.errors ?? []).filter((e) => e.severity === 'error');
  if (errors.length) throw new Error(errors.map((e) => e.formattedMessage).join('\n'));
  const files = {};
  for (const [sourceName, contracts] of Object.entries(out.contracts)) {
    if (!sourceName.startsWith('src/') && !sourceName.startsWith('test/')) continue;
    for (const [name, c] of Object.entries(contracts)) {
      if (!c.evm.bytecode.object) continue; // interfaces
      const json = {
        contractName: name,
        sourceName: `contracts-abi/${sourceName}`,
        compiler: { version: solc.version(), settings: SETTINGS },
        abi: c.abi,
        bytecode: '0x' + c.evm.bytecode.object,
        deployedBytecode: '0x' + c.evm.deployedBytecode.object,
      };
      files[`${name}.json`] = JSON.stringify(json, null, 2) + '\n';
    }
  }
  return files;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const files = compile();
  const check = process.argv.includes('--check');
  let stale = 0;
  for (const [f, text] of Object.entries(files)) {
    const path = join(OUT, f);
    if (check) {
      const old = existsSync(path) ? readFileSync(path, 'utf8') : '';
      if (old !== text) {
        console.error(`contracts-abi/${f} differs from a fresh compile: run node scripts/contracts.mjs`);
        stale++;
      }
    } else {
      writeFileSync(path, text);
      console.log(`wrote contracts-abi/${f}`);
    }
  }
  process.exit(stale ? 1 : 0);
}
