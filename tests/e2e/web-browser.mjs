// Shared by the browser tests (web*.test.mjs): Debian's Chromium driven by playwright-core,
// each persona in its own fresh profile, with an injected EIP-1193 provider (window.ethereum)
// backed by an ethers Wallet in Node. The page's wallet calls go through page.exposeFunction;
// transactions and reads go to a JSON-RPC node (anvil) when one is given.
import { chromium } from 'playwright-core';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getBytes, toUtf8String, Transaction } from 'ethers';
import { ROOT } from './helpers.mjs';

export const SHOTS = process.env.COH_WEB_SHOTS ?? join(ROOT, 'var', 'web-screenshots');
export const DOCS_SHOTS = join(ROOT, 'docs', 'web');
export const CHROMIUM = process.env.COH_CHROMIUM ?? '/usr/bin/chromium';

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

// The provider the page sees. Errors carry EIP-1193 codes (4001 = user rejected). Events
// (accountsChanged, chainChanged) reach the page's listeners: a chain switch the wallet
// accepts emits chainChanged, and a test emits either with window.ethereum.__emit.
function injected() {
  const listeners = new Map();
  const emit = (ev, payload) => { for (const fn of listeners.get(ev) ?? []) { try { fn(payload); } catch (e) { console.error(e); } } };
  window.ethereum = {
    isCohortTestWallet: true,
    async request({ method, params }) {
      const r = await window.__cohortWallet(method, params ?? []);
      if (r.error) {
        const e = new Error(r.error.message);
        e.code = r.error.code;
        throw e;
      }
      if (method === 'wallet_switchEthereumChain') emit('chainChanged', params[0].chainId);
      return r.result;
    },
    on(ev, fn) { if (!listeners.has(ev)) listeners.set(ev, new Set()); listeners.get(ev).add(fn); return this; },
    removeListener(ev, fn) { listeners.get(ev)?.delete(fn); return this; },
    __emit: emit,
  };
}

// Opens a persona: {context, page, wallet, calls, bodies, shot(name), close()}.
//   wallet: an ethers Wallet (connected to `rpc` when transactions are needed)
//   chainId: what eth_chainId answers; rpc: an ethers JsonRpcProvider for everything else
//   the wallet answers wallet_watchAsset (true, recorded in calls) and wallet_switchEthereumChain
//   (its eth_chainId answers the new chain from then on); switchAccount(w) makes it answer for
//   another ethers Wallet and tells the page (accountsChanged).
export async function persona(name, { wallet, chainId = 31337, rpc = null, viewport = { width: 1280, height: 900 }, reject = new Set() }) {
  const dir = mkdtempSync(join(tmpdir(), `coh-web-${name}-`));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM, headless: true, args: ARGS, viewport, acceptDownloads: true,
  });
  const calls = [];     // every wallet call: {method, params, rejected?}
  const bodies = [];    // every request body the page sent: {method, url, body}
  await context.exposeFunction('__cohortWallet', async (method, params) => {
    const call = { method, params };
    calls.push(call);
    try {
      if (reject.has(method)) {
        call.rejected = true;
        return { error: { code: 4001, message: 'User rejected the request.' } };
      }
      switch (method) {
        case 'eth_requestAccounts': case 'eth_accounts': return { result: [wallet.address] };
        case 'eth_chainId': return { result: `0x${chainId.toString(16)}` };
        case 'wallet_switchEthereumChain': chainId = Number(BigInt(params[0].chainId)); return { result: null };
        case 'wallet_watchAsset': return { result: true };
        case 'net_version': return { result: String(chainId) };
        case 'personal_sign': {
          const [data] = params;
          return { result: await wallet.signMessage(getBytes(data)) };
        }
        case 'eth_signTypedData_v4': {
          const td = JSON.parse(params[1]);
          const { EIP712Domain, ...types } = td.types;
          return { result: await wallet.signTypedData(td.domain, types, td.message) };
        }
        case 'eth_sendTransaction': {
          if (!rpc) return { error: { code: 4200, message: 'no chain in this test' } };
          const [tx] = params;
          const sent = await wallet.sendTransaction({ to: tx.to, data: tx.data, value: tx.value ?? 0, gasLimit: tx.gas ?? undefined });
          return { result: sent.hash };
        }
        default:
          if (!rpc) return { error: { code: 4200, message: `${method} is not supported by the test wallet` } };
          return { result: await rpc.send(method, params) };
      }
    } catch (e) {
      return { error: { code: e.code === 'ACTION_REJECTED' ? 4001 : -32603, message: e.shortMessage ?? e.message } };
    }
  });
  await context.addInitScript(injected);
  const page = context.pages()[0] ?? await context.newPage();
  page.on('request', (r) => {
    const body = r.postData();
    if (body !== null) bodies.push({ method: r.method(), url: r.url(), body });
  });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  // Console errors, less the browser's own line for each non-2xx answer (the app shows those).
  page.on('console', (m) => { if (m.type() === 'error' && !/^Failed to load resource/.test(m.text())) errors.push(m.text()); });
  mkdirSync(SHOTS, { recursive: true });
  return {
    context, page, calls, bodies, errors,
    get wallet() { return wallet; },
    get chainId() { return chainId; },
    async switchAccount(w) {
      wallet = w;
      await page.evaluate((a) => window.ethereum.__emit('accountsChanged', [a]), w.address.toLowerCase());
    },
    async switchChain(id) {
      chainId = id;
      await page.evaluate((c) => window.ethereum.__emit('chainChanged', c), `0x${id.toString(16)}`);
    },
    // A screenshot of the viewport for docs/web/ (kept under ~150 KB), written only when
    // COH_WEB_DOCS_SHOTS=1 so test runs do not rewrite tracked files.
    // `scrollTo`: a selector brought into view first.
    async docShot(file, { scrollTo } = {}) {
      if (process.env.COH_WEB_DOCS_SHOTS !== '1') return;
      mkdirSync(DOCS_SHOTS, { recursive: true });
      if (scrollTo) await page.locator(scrollTo).first().evaluate((el) => el.scrollIntoView({ block: 'center' }));
      await page.screenshot({ path: join(DOCS_SHOTS, `${file}.png`), type: 'png' });
    },
    async shot(file, opts = {}) {
      await page.screenshot({ path: join(SHOTS, `${file}.png`), fullPage: true, ...opts });
    },
    async close() {
      await context.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// Signs in through the page's own button; resolves once the account is shown (the account
// pill; the full DID is in #did for screen readers).
export async function signInUi(p) {
  await p.page.getByRole('button', { name: 'Connect wallet and sign in' }).click();
  await p.page.locator('#did').waitFor({ timeout: 15000 });
}

// The text of the first element matching sel; waiting for one whose text matches re.
export const text = (p, sel) => p.page.locator(sel).innerText();
export const waitText = (p, sel, re, timeout = 15000) => p.page.locator(sel).filter({ hasText: re }).first().waitFor({ timeout });

export { toUtf8String, Transaction };
