// The web app's shell and the researcher's first steps (issue 19), in Debian's Chromium on the
// chain stack (anvil with the contracts, own database, cohortd serving web/), at 1280x900 and
// 390x844: the first sign-in asks for a role; a researcher lands on "Get started" with the
// token's address and "Add to wallet" (wallet_watchAsset); the wallet on another chain gets a
// "Switch network" action (wallet_switchEthereumChain) and the page follows chainChanged; an
// account change ends the session politely; amounts are formatted ("≈ 181 COH", the exact value
// in the title and in copies, never 18 decimals on the page); every route has a title; on a
// phone the navigation folds behind a Menu button usable by keyboard, the account is a short
// pill, and no page scrolls sideways at 360 or 390 px; axe finds no serious or critical
// violation on these pages; "Sign out everywhere" ends every session; the keyboard order follows
// the screen and the skip link focuses the heading without leaving the page.
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
    const got = dt.getData('text/plain');
    getSelection().removeAllRanges();
    return got;
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
  await r.docShot('shell-04-field-error', { scrollTo: '#deposit-form' });

  // The wallet moves to another chain: the page follows and offers the switch back.
  await r.switchChain(1);
  await waitText(r, '#wrong-chain', 'Your wallet is on chain 1');
  await r.docShot('shell-05-wrong-chain');
  await page.locator('#wrong-chain').getByRole('button', { name: 'Switch network' }).click();
  await page.locator('#wrong-chain').waitFor({ state: 'hidden' });
  await waitText(r, '#deposit-wallet-balance', /^50 COH$/);

  // Keyboard order on a wide screen: skip link, brand, the navigation (no Menu button), then
  // sign out; the skip link moves focus to the page's heading without leaving the page.
  await page.locator('a.skip').focus();
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.className), 'brand');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Requests');
  await page.locator('a.skip').focus();
  await page.keyboard.press('Enter');
  assert.equal(await page.evaluate(() => location.hash), '#/balance');
  assert.equal(await page.evaluate(() => document.activeElement.tagName), 'H1');

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
  // The answer lost on the way: still signed in, told so, and the button works again.
  await page.route('**/v1/me/sessions/revoke-all', (route) => route.abort('connectionreset'), { times: 1 });
  await page.getByRole('button', { name: 'Sign out everywhere' }).click();
  await waitText(r, '#session-notice', 'Signing out everywhere failed, you are still signed in');
  assert.equal(await page.locator('#account .account-pill').isVisible(), true);
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
  await c.docShot('shell-06-menu-phone');
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
  await c.docShot('shell-07-welcome-phone');
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
  await c.docShot('shell-08-balance-phone');
  await page.goto(`${s.srv.base}/#/start`);
  await page.locator('#token-address').waitFor();
  // The page's main action stays on screen (sticky) though the page is taller than the phone.
  assert.ok(await page.evaluate(() => document.documentElement.scrollHeight > innerHeight));
  const action = await page.locator('#go-deposit').boundingBox();
  assert.ok(action.y + action.height <= 844, `the main action is on screen (bottom ${action.y + action.height})`);
  await c.docShot('shell-09-start-phone');
  assert.deepEqual(c.errors, []);
});

// The design system's components (web/src/ui/), bundled alone into a blank page: the searchable
// list never maps an unknown name to a near code, inline errors sit under their field, the
// server's problem members map to fields in plain words, the stepper's states.
test('components: searchable select, inline problems, amounts, stepper', async () => {
  const { build } = await import('esbuild');
  const out = await build({
    stdin: {
      contents: `import * as a from './amount.js'; import * as f from './form.js'; import * as s from './select.js'; import * as p from './page.js';
        window.ui = { ...a, ...f, ...s, ...p };`,
      resolveDir: join(ROOT, 'web', 'src', 'ui'),
    },
    bundle: true, write: false, format: 'iife', platform: 'browser', logLevel: 'silent',
  });
  const page = await r.context.newPage();
  try {
    await page.setContent('<!doctype html><html lang="en"><head><title>components</title></head><body><main><h1>Components</h1><form id="f" novalidate></form></main></body></html>');
    await page.addStyleTag({ path: join(ROOT, 'web', 'style.css') });
    await page.addScriptTag({ content: out.outputFiles[0].text });

    // [hidden] wins over the components' display rules (.field, .buttons, .row are flex).
    await page.evaluate(() => {
      for (const c of ['field', 'buttons', 'row', 'field inline']) {
        const d = document.createElement('div');
        d.className = `${c} hidden-probe`;
        d.hidden = true;
        d.textContent = 'must not show';
        document.querySelector('main').append(d);
      }
    });
    assert.deepEqual(await page.locator('.hidden-probe').evaluateAll((ds) => ds.map((d) => getComputedStyle(d).display)), ['none', 'none', 'none', 'none']);

    // Amounts: symbol, at most 4 decimals, rounding marked, thousands separators, plain-word errors.
    assert.deepEqual(await page.evaluate(() => [
      ui.formatAmount('181000000000000000001'), ui.formatAmount('181000000000000000000'), ui.formatAmount(1250500000000000000000n),
      ui.formatAmount('181000050000000000000'), ui.formatAmount('100'), ui.formatAmount(null), ui.formatAmount('2500000000000000000', { symbol: '' }),
      ui.formatAmount('300000000000000000', { maxFraction: 0 }), ui.formatAmount('1.5')]),
    ['≈ 181 COH', '181 COH', '1,250.5 COH', '≈ 181.0001 COH', '< 0.0001 COH', '—', '2.5', '< 1 COH', '1.5 COH']);
    assert.deepEqual(await page.evaluate(() => ['12.5', '1 000', '12.5 COH', 'x', '', '1,5', '0', '1.0000000000000000001'].map((t) => {
      try { return ui.parseAmount(t); } catch (e) { return e.message; }
    })), ['12500000000000000000', '1000000000000000000000', '12500000000000000000', 'Write an amount like 12.5', 'Write an amount like 12.5',
      'Write an amount like 12.5: a dot before the decimals, no commas.', 'The amount must be more than zero. Write an amount like 12.5',
      'That has 19 decimal places; the token has at most 18.']);

    // The searchable list: "Germany" is DE, never GE; an unknown name is refused at the field.
    await page.evaluate(() => {
      const countries = [{ value: 'DE', label: 'Germany' }, { value: 'GE', label: 'Georgia' }, { value: 'FR', label: 'France' }, { value: 'GB', label: 'United Kingdom' }];
      const one = ui.searchableSelect({ label: 'Country', options: countries, id: 'country' });
      const many = ui.searchableSelect({ label: 'Countries', options: countries, multiple: true, id: 'countries' });
      const k = document.createElement('input');
      k.id = 'k';
      const kl = document.createElement('label');
      kl.htmlFor = 'k';
      kl.textContent = 'k';
      document.getElementById('f').append(one, many, kl, k);
      window.sel = { one, many };
    });
    const country = page.getByRole('combobox', { name: 'Country', exact: true });
    await country.fill('Germany');
    await country.press('Enter');
    assert.equal(await page.evaluate(() => sel.one.value), 'DE');
    await country.fill('Ge');
    assert.equal(await country.getAttribute('aria-expanded'), 'true');
    assert.deepEqual(await page.locator('#country-list [role=option]').allInnerTexts(), ['Germany (DE)', 'Georgia (GE)']);
    await country.press('ArrowDown');
    await country.press('Enter');
    assert.equal(await page.evaluate(() => sel.one.value), 'GE', 'the keyboard picks the highlighted option');
    await country.fill('Germania');
    await country.press('Tab');
    assert.equal(await page.evaluate(() => sel.one.value), '');
    assert.equal(await country.getAttribute('aria-invalid'), 'true');
    const err = page.locator('#country-error');
    assert.match(await err.innerText(), /“Germania” is not in the list/);
    assert.ok((await country.getAttribute('aria-describedby')).split(' ').includes('country-error'));
    assert.equal(await page.evaluate(() => { try { sel.one.validate(); return 'accepted'; } catch (e) { return e.message; } }), '“Germania” is not in the list. Type a few letters and pick one of the suggestions.');
    await country.fill('de');
    await country.press('Tab');
    assert.equal(await page.evaluate(() => sel.one.value), 'DE', 'the code itself is accepted');
    assert.equal(await country.getAttribute('aria-invalid'), null, 'and the error cleared');
    const many = page.getByRole('combobox', { name: 'Countries' });
    for (const t of ['France', 'United Kingdom']) { await many.fill(t); await many.press('Enter'); }
    assert.deepEqual(await page.evaluate(() => sel.many.value), ['FR', 'GB']);
    await page.getByRole('button', { name: 'Remove France' }).click();
    assert.deepEqual(await page.evaluate(() => sel.many.value), ['GB']);

    // A problem+json naming a member lands on its field in plain words; one naming none on top.
    const shown = await page.evaluate(() => {
      const form = document.getElementById('f');
      const r1 = ui.showProblem(form, { type: 'x', title: 'Invalid request', status: 422, detail: 'privacy.queries[5] must be count, sum(f), mean(f), variance(f), or quantiles(f, q...)' },
        { 'privacy.k': document.getElementById('k'), 'privacy.queries': document.getElementById('countries') });
      const r2 = ui.showProblem(form, { title: 'Conflict', status: 409, detail: 'the request is no longer open' }, { 'privacy.k': document.getElementById('k') });
      return [r1.input?.id, r1.message, r2.input, r2.message, document.querySelector('#f > .form-problem')?.getAttribute('role')];
    });
    assert.deepEqual(shown, ['countries', 'This statistic is not one Cohort can compute: use count, or sum, mean, variance or quantiles of a number field.',
      null, 'the request is no longer open', 'alert']);
    assert.deepEqual(await axeCheck(page, 'components'), []);
    await page.evaluate(() => ui.clearErrors(document.getElementById('f')));
    assert.equal(await page.locator('#f .field-error, #f .form-problem, #f [aria-invalid]').count(), 0);

    // The stepper: states, a spinner on the active step, a link.
    const states = await page.evaluate(() => {
      const st = ui.stepper(['Approve', 'Deposit']);
      document.querySelector('main').append(st.el);
      st.set(0, 'done', 'Approved.', '#/tx/0xab');
      st.set(1, 'active', 'Waiting…');
      const spin = !!st.el.children[1].querySelector('.spinner');
      st.set(1, 'failed', 'Declined.');
      return [...st.states, spin, !!st.el.children[1].querySelector('.spinner'), st.el.querySelector('a').getAttribute('href'), st.el.children[1].querySelector('.step-detail').textContent];
    });
    assert.deepEqual(states, ['done', 'failed', true, false, '#/tx/0xab', 'Declined.']);
  } finally {
    await page.close();
  }
});
