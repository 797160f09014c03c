// The web app's shell and the researcher's first steps (issue 19), in Debian's Chromium on the
// chain stack (anvil with the contracts, own database, cohortd serving web/), at 1280x900 and
// 390x844: the first sign-in asks for a role; a researcher lands on "Get started" with the
// token's address and "Add to wallet" (wallet_watchAsset); the wallet on another chain gets a
// "Switch network" action (wallet_switchEthereumChain) and the page follows chainChanged; an
// account change ends the session politely; amounts are formatted ("≈ 181 COH", the exact value
// in the title and in copies, never 18 decimals on the page); every route has a title; on a
// phone the navigation folds behind a Menu button usable by keyboard, the account is a short
// pill, and no page scrolls sideways at 360 or 390 px; axe finds no serious or critical
// violation on these pages; "Sign out everywhere" ends every session.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ethers, Wallet } from 'ethers';
import { ROOT, api } from './helpers.mjs';
import { startChainStack } from './chain-anvil.mjs';
import { persona, signInUi } from './web-browser.mjs';
import { axeCheck, noSideScroll } from './web-axe.mjs';
import { signIn } from './market-helpers.mjs';
import { buildWeb } from '../../web/build.mjs';

const UNIT = 10n ** 18n;
const ODD = 181n * UNIT + 1n;    // 181.000000000000000001 COH
const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 390, height: 844 };
let s, r, c;

before(async () => {
  await buildWeb();
  s = await startChainStack('coh_web_shell', { env: { COHORT_WEB_DIR: join(ROOT, 'web') } });
  const [, dev1] = s.anvil.wallets(2);
  const wallet = Wallet.createRandom().connect(s.anvil.provider);
  await (await dev1.sendTransaction({ to: wallet.address, value: ethers.parseEther('1') })).wait();
  await (await s.token.connect(dev1).transfer(wallet.address, 50n * UNIT)).wait();
  // The researcher's wallet starts on another chain (1), as a wallet often does.
  r = await persona('shell-researcher', { wallet, rpc: s.anvil.provider, chainId: 1, viewport: DESKTOP });
  c = await persona('shell-contributor', { wallet: Wallet.createRandom(), viewport: PHONE });
});

after(async () => {
  await r?.close();
  await c?.close();
  await s?.stop();
});

// Hash routes change without a navigation event: wait for the location itself.
const atHash = (page, path) => page.waitForFunction((x) => location.hash === `#${x}`, path, { timeout: 20000 });
const waitText = (p, sel, re, timeout = 20000) => p.page.locator(sel).filter({ hasText: re }).first().waitFor({ timeout });
// What a sighted user reads in an element: its text without the screen-reader-only parts.
const seen = (p, sel) => p.page.locator(sel).first().evaluate((el) => {
  const x = el.cloneNode(true);
  for (const v of x.querySelectorAll('.visually-hidden')) v.remove();
  return x.textContent.replace(/\s+/g, ' ').trim();
});
async function clean(p, name) {
  assert.deepEqual(await axeCheck(p.page, name), [], `axe: ${name}`);
}
async function narrow(p, name) {
  const size = p.page.viewportSize();
  for (const width of [390, 360]) {
    await p.page.setViewportSize({ width, height: 844 });
    await p.page.waitForTimeout(100);
    await noSideScroll(p.page, `${name} at ${width} px`);
  }
  await p.page.setViewportSize(size);
}

test('researcher: role at first sign-in, get started, add the token, switch network, formatted amounts, account change', async () => {
  const { page } = r;
  await page.goto(`${s.srv.base}/`);
  assert.equal(await page.title(), 'Cohort');
  await signInUi(r);
  // The account is a short pill, the full address in its title; the DID is for screen readers.
  const addr = r.wallet.address.toLowerCase();
  const pill = page.locator('#account .account-pill');
  assert.equal(await pill.getAttribute('title'), addr);
  assert.equal(await seen(r, '#account .account-pill'), `${addr.slice(0, 6)}…${addr.slice(-4)}`);
  assert.ok((await page.locator('#did').boundingBox()).width <= 1, 'the full DID is not printed in the header');

  // First sign-in: no role yet, so the app asks for one.
  await atHash(page, '/welcome');
  await page.locator('#role-choice').waitFor();
  assert.equal(await page.title(), 'Welcome · Cohort');
  await clean(r, 'welcome');
  await r.docShot('shell-01-welcome');
  await page.getByRole('button', { name: 'Continue' }).click();
  await waitText(r, '#welcome-msg', 'Choose one of the three');
  await page.getByLabel(/^Researcher/).check();
  await page.getByRole('button', { name: 'Continue' }).click();

  // Get started: the token, its address on this chain, add to wallet, where to get it.
  await atHash(page, '/start');
  assert.equal(await page.title(), 'Get started · Cohort');
  assert.equal(await page.locator('#role').innerText(), 'researcher');
  const tokenAddr = (await s.token.getAddress()).toLowerCase();
  assert.equal((await page.locator('#token-address').innerText()).toLowerCase(), tokenAddr);
  await waitText(r, '#where-h', 'Get COH');
  await waitText(r, '.start', 'cohort ledger deposit');
  // The wallet is on chain 1: the page says so and offers the switch.
  await waitText(r, '#start-wallet', 'Your wallet is on chain 1');
  await clean(r, 'get started');
  await r.docShot('shell-02-start');
  await page.getByRole('button', { name: 'Add COH to my wallet' }).click();
  await waitText(r, '#watch-msg', 'Your wallet now lists COH.');
  const watch = r.calls.find((x) => x.method === 'wallet_watchAsset');
  assert.deepEqual(watch.params, { type: 'ERC20', options: { address: tokenAddr, symbol: 'COH', decimals: 18 } });
  await page.locator('#start-wallet').getByRole('button', { name: 'Switch network' }).click();
  await waitText(r, '#start-wallet-balance', /^50 COH$/);
  assert.deepEqual(r.calls.find((x) => x.method === 'wallet_switchEthereumChain').params, [{ chainId: '0x7a69' }]);
  assert.equal(r.chainId, 31337);

  // An odd amount on the balance page: rounded with the symbol, exact in the title and copies.
  const d = await s.srv.cli(['ledger', 'deposit', '--address', r.wallet.address, '--amount', ODD.toString()]);
  assert.equal(d.code, 0, d.stderr);
  await page.getByRole('link', { name: 'Deposit tokens' }).click();
  await atHash(page, '/balance');
  assert.equal(await page.title(), 'Balance · Cohort');
  await waitText(r, '#bal-available', '181');
  assert.equal(await seen(r, '#bal-available'), '≈ 181 COH');
  const amt = page.locator('#bal-available .amount');
  assert.equal(await amt.getAttribute('title'), '181.000000000000000001 COH');
  assert.equal(await amt.getAttribute('data-exact'), ODD.toString());
  const visible = await seen(r, '#main');
  assert.ok(!visible.includes('181.000000000000000001'), 'the 18-decimal amount is not printed');
  assert.doesNotMatch(visible, /\d\.\d{5,}/, 'no amount shows more than 4 decimals');
  const copied = await page.evaluate(() => {
    const el = document.querySelector('#bal-available .amount');
    const range = document.createRange();
    range.selectNodeContents(el);
    getSelection().removeAllRanges();
    getSelection().addRange(range);
    const dt = new DataTransfer();
    document.dispatchEvent(new ClipboardEvent('copy', { clipboardData: dt, bubbles: true, cancelable: true }));
    return dt.getData('text/plain');
  });
  assert.equal(copied, '181.000000000000000001');
  await waitText(r, '#deposit-wallet-balance', /^50 COH$/);
  assert.equal(await page.locator('#wrong-chain').isHidden(), true);
  await clean(r, 'balance');
  await r.docShot('shell-03-balance');

  // A typed amount refused in words, at the field.
  const amount = page.getByLabel('Amount to deposit (COH)');
  await amount.fill('12,5');
  await amount.press('Enter');
  await waitText(r, '#deposit-form .field-error', 'Write an amount like 12.5: a dot before the decimals');
  assert.equal(await amount.getAttribute('aria-invalid'), 'true');
  const described = await amount.getAttribute('aria-describedby');
  const errId = await page.locator('#deposit-form .field-error').getAttribute('id');
  assert.ok(described.split(' ').includes(errId), 'the error is linked to its field');
  await clean(r, 'balance with a field error');

  // The wallet moves to another chain: the page follows and offers the switch back.
  await r.switchChain(1);
  await waitText(r, '#wrong-chain', 'Your wallet is on chain 1');
  await r.docShot('shell-04-wrong-chain');
  await page.locator('#wrong-chain').getByRole('button', { name: 'Switch network' }).click();
  await page.locator('#wrong-chain').waitFor({ state: 'hidden' });
  await waitText(r, '#deposit-wallet-balance', /^50 COH$/);

  // Every route has its own title.
  for (const [path, title] of [['/requests', /^Requests · Cohort$|· Cohort$/], ['/ledger', / · Cohort$/], ['/anchors', / · Cohort$/],
    ['/profile', / · Cohort$/], ['/new', / · Cohort$/], ['/mine', / · Cohort$/], ['/inbox', / · Cohort$/], ['/nowhere', /^Page not found · Cohort$/]]) {
    await page.goto(`${s.srv.base}/#${path}`);
    await page.locator('#main h1').first().waitFor();
    await page.waitForFunction(() => document.title !== 'Cohort');
    assert.match(await page.title(), title, path);
  }

  // "Sign out everywhere" ends this session and any other of the account.
  const other = await signIn(s.srv.base, r.wallet);
  assert.equal((await api(s.srv.base, 'GET', '/v1/me/profile', { token: other })).status, 200);
  await page.getByRole('button', { name: 'Sign out everywhere' }).click();
  await waitText(r, '#session-notice', 'Signed out everywhere');
  await page.getByRole('button', { name: 'Connect wallet and sign in' }).waitFor();
  assert.equal((await api(s.srv.base, 'GET', '/v1/me/profile', { token: other })).status, 401);

  // The wallet switches account: the session of the old one ends, with a notice.
  await signInUi(r);
  await page.goto(`${s.srv.base}/#/balance`);
  await waitText(r, '#bal-available', '181');
  await r.switchAccount(Wallet.createRandom());
  await waitText(r, '#session-notice', 'Your wallet switched to another account');
  await page.getByRole('button', { name: 'Connect wallet and sign in' }).waitFor();
  await waitText(r, '#main h1', 'Sign in first');
  assert.deepEqual(r.errors, []);
});

test('phone: navigation folds behind Menu, keyboard usable; role by keyboard; no sideways scroll', async () => {
  const { page } = c;
  await page.goto(`${s.srv.base}/`);
  const toggle = page.getByRole('button', { name: 'Menu' });
  await toggle.waitFor();
  assert.equal(await toggle.getAttribute('aria-expanded'), 'false');
  assert.equal(await page.locator('#nav').isVisible(), false, 'the navigation is folded');
  await narrow(c, 'home');
  await clean(c, 'home on a phone');
  // The header stays small: at most a sixth of the screen.
  assert.ok((await page.locator('header.top').boundingBox()).height <= 844 / 6);

  // Keyboard: Tab to Menu, open it, the first link has focus, Escape folds it back.
  await page.locator('a.brand').focus();
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'menu-toggle');
  await page.keyboard.press('Enter');
  assert.equal(await toggle.getAttribute('aria-expanded'), 'true');
  await page.locator('#nav').waitFor();
  assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Requests');
  await c.docShot('shell-05-menu-phone');
  await page.keyboard.press('Escape');
  assert.equal(await toggle.getAttribute('aria-expanded'), 'false');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'menu-toggle');
  // Open again and follow a link by keyboard: the page changes and the menu folds.
  await page.keyboard.press('Enter');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Ledger');
  await page.keyboard.press('Enter');
  await atHash(page, '/ledger');
  assert.equal(await toggle.getAttribute('aria-expanded'), 'false');
  await page.waitForFunction(() => document.activeElement?.tagName === 'H1'); // focus moves to the new page

  // First sign-in on the phone: the role by keyboard; a contributor goes on to the profile.
  await signInUi(c);
  await atHash(page, '/welcome');
  await narrow(c, 'welcome');
  await clean(c, 'welcome on a phone');
  await c.docShot('shell-06-welcome-phone');
  await page.getByLabel(/^Contributor/).focus();
  await page.keyboard.press('Space');
  assert.equal(await page.getByLabel(/^Contributor/).isChecked(), true);
  await page.getByRole('button', { name: 'Continue' }).press('Enter');
  await atHash(page, '/profile');
  assert.equal(await page.locator('#role').innerText(), 'contributor');
  const body = JSON.parse(c.bodies.find((b) => b.method === 'PUT' && b.url.endsWith('/v1/me/profile')).body);
  assert.deepEqual(body.roles, ['contributor']);

  // The pages this shell owns do not scroll sideways and pass axe on a phone.
  for (const [path, name] of [['/start', 'get started'], ['/balance', 'balance']]) {
    await page.goto(`${s.srv.base}/#${path}`);
    await page.locator('#main h1').first().waitFor();
    await page.waitForLoadState('networkidle');
    await narrow(c, name);
    await clean(c, `${name} on a phone`);
  }
  await c.docShot('shell-07-balance-phone');
  await page.goto(`${s.srv.base}/#/start`);
  await page.locator('#token-address').waitFor();
  await c.docShot('shell-08-start-phone');
  assert.deepEqual(c.errors, []);
});
