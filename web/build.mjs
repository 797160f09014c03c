#!/usr/bin/env node
// Bundles the web app (web/src/main.js and its npm dependencies: ethers, siwe,
// libsodium-wrappers, chart.js, and the contract ABIs from contracts-abi/) into web/app.js with
// the pinned esbuild. Run by
// scripts/build.sh and by the browser tests; the output depends only on the sources, so
// running it again changes nothing. `node web/build.mjs DIR` writes DIR/app.js instead: the
// CMake build bundles into the build tree what `cmake --install` installs.
import { build } from 'esbuild';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const WEB = dirname(fileURLToPath(import.meta.url));

export async function buildWeb(outdir = WEB) {
  await build({
    entryPoints: [join(WEB, 'src', 'main.js')],
    outfile: join(outdir, 'app.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022'],
    minify: true,
    sourcemap: true,
    legalComments: 'none',
    logLevel: 'warning',
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  buildWeb(process.argv[2] ? resolve(process.argv[2]) : WEB).catch((e) => { console.error(e.message); process.exit(1); });
}
