// A researcher's money in Chromium on the chain stack (private anvil with the contracts, own
// database, anchoring cohortd): the Balance page reads the contracts from GET /v1/chain, shows
// the wallet's token balance, deposits a typed decimal amount exactly (ERC-20 approve, then
// CohortRewards.deposit from the injected wallet) as a stepper (approve, deposit, confirm,
// credited: each step's state asserted, its transaction linked, the hashes folded into Details)
// and the available balance rises by exactly that amount once the server credits the Deposited
// event. Typed amounts are refused in words at the field; a transaction declined in the wallet
// fails the Approve step in words. The page fits a phone (360/390 px) and passes axe.
// A withdrawal too large is refused in words; one whose answer is lost on the way back is
// retried with the same Idempotency-Key and moves the amount once. After the next anchor the
// withdrawal is claimed from the wallet (claim, confirm), the token balance rises by exactly that amount on
// chain, and the claim button stays disabled until a later anchor makes more claimable.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ethers, Wallet } from 'ethers';
import { ROOT, api } from './helpers.mjs';
import { startChainStack, waitFor } from './chain-anvil.mjs';
import { persona, signInUi } from './web-browser.mjs';
import { axeCheck, noSideScroll } from './web-axe.mjs';
import { signIn } from './market-helpers.mjs';
import { buildWeb } from '../../web/build.mjs';

const UNIT = 10n ** 18n;
const DEPOSIT = 12n * UNIT + UNIT / 2n;          // "12.5"
const WITHDRAW = 4n * UNIT + UNIT / 4n;          // "4.25"
const AGAIN = UNIT / 1000n;                      // "0.001"
let s, wallet, r;
const reject = new Set();   // wallet methods the test wallet declines for now

before(async () => {
  await buildWeb();
  s = await startChainStack('coh_web_money', { env: { COHORT_WEB_DIR: join(ROOT, 'web') } });
  const [, dev1] = s.anvil.wallets(2);
  // The researcher's wallet: fresh, with ETH for gas and 50 tokens, sending through anvil.
  wallet = Wallet.createRandom().connect(s.anvil.provider);
  await (await dev1.sendTransaction({ to: wallet.address, value: ethers.parseEther('1') })).wait();
  await (await s.token.connect(dev1).transfer(wallet.address, 50n * UNIT)).wait();
  r = await persona('researcher-money', { wallet, rpc: s.anvil.provider, reject });
});

after(async () => {
  await r?.close();
  await s?.stop();
});

const waitText = (sel, re, timeout = 20000) => r.page.locator(sel).filter({ hasText: re }).first().waitFor({ timeout });
// The wallet's own token: earnings and claims are served to their address only.
let wtoken;
const own = async () => (wtoken ??= await signIn(s.srv.base, wallet));
const balance = async () => (await api(s.srv.base, 'GET', `/v1/accounts/${wallet.address}/balance`, { token: await own() })).body;
const sent = () => r.calls.filter((c) => c.method === 'eth_sendTransaction' && !c.rejected).map((c) => c.params[0]);
const disabled = (sel) => r.page.locator(sel).isDisabled();
async function anchoredClaim(amount) {
  await waitFor(`an anchored claim of ${amount}`, async () => {
    const c = await api(s.srv.base, 'GET', `/v1/claims/${wallet.address}`, { token: await own() });
    return c.status === 200 && c.body.cumulative_amount === amount.toString() && c.body.claims_root === await s.rewards.claimsRoot();
  }, 30000, 200);
}

test('researcher: deposit from the wallet, withdraw (retried idempotently), claim it on chain', async () => {
  const { page } = r;
  await page.goto(`${s.srv.base}/`);
  await signInUi(r);
  // The first sign-in asks for the role (issue 19: no longer a checkbox on the profile).
  await page.getByLabel(/^Researcher/).check();
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.locator('#token-address').waitFor();
  await page.getByRole('link', { name: 'Balance' }).click();
  await waitText('#deposit-wallet-balance', /^50 COH$/);
  await waitText('#claim-state', 'Nothing is claimable');
  assert.equal(await disabled('#claim'), true);
  await r.shot('30-balance-before-deposit');

  // Typed amounts are checked in words, at the field, before anything is sent.
  const amount = page.getByLabel('Amount to deposit (COH)');
  const fieldErr = '#deposit-form .field-error';
  await amount.fill('1.0000000000000000001');
  await amount.press('Enter');
  await waitText(fieldErr, 'That has 19 decimal places; the token has at most 18');
  assert.equal(await amount.getAttribute('aria-invalid'), 'true');
  await amount.fill('60');
  await amount.press('Enter');
  await waitText(fieldErr, 'Your wallet holds 50 COH, less than the 60 COH you asked to deposit');
  await amount.fill('12,5');
  await amount.press('Enter');
  await waitText(fieldErr, 'Write an amount like 12.5: a dot before the decimals, no commas.');
  assert.deepEqual(sent(), []);
  assert.equal(await page.locator('#deposit-steps').isHidden(), true, 'no stepper before a deposit starts');

  // Declined in the wallet: the Approve step fails, in words, and nothing moves.
  reject.add('eth_sendTransaction');
  await amount.fill('1');
  await amount.press('Enter');
  await waitText('#deposit-msg', 'You declined the request in your wallet. Nothing was signed or sent.');
  assert.deepEqual(await page.locator('#deposit-steps > li').evaluateAll((ls) => ls.map((l) => l.dataset.state)), ['failed', 'todo', 'todo', 'todo']);
  assert.match(await page.locator('#deposit-steps > li').first().innerText(), /You declined the request in your wallet/);
  reject.delete('eth_sendTransaction');
  assert.deepEqual(sent(), []);

  // The deposit: approve, then deposit(amount), from the keyboard.
  const tokensBefore = await s.token.balanceOf(wallet.address);
  await amount.fill('12.5');
  await amount.press('Enter');
  assert.equal(await amount.getAttribute('aria-invalid'), null, 'the field error is cleared');
  await waitText('#deposit-msg', 'Deposited 12.5 COH. Your available balance is now 12.5 COH.', 30000);
  await waitText('#bal-available', /^12\.5 COH$/);
  await waitText('#deposit-wallet-balance', /^37\.5 COH$/);
  const steps = page.locator('#deposit-steps > li');
  assert.deepEqual(await steps.evaluateAll((ls) => ls.map((l) => [l.querySelector('.step-label').textContent, l.dataset.state])),
    [['Approve', 'done'], ['Deposit', 'done'], ['Confirm', 'done'], ['Credited', 'done']]);
  assert.match(await steps.nth(0).innerText(), /Approved in block \d+/);
  assert.match(await steps.nth(2).innerText(), /Confirmed in block \d+/);
  assert.match(await steps.nth(3).innerText(), /Your available balance is now 12\.5 COH/);
  // Each transaction is linked to its page; the hashes sit in a collapsed Details.
  const links = await page.locator('#deposit-steps a').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
  assert.ok(links.length >= 3 && links.every((l) => /^#\/tx\/0x[0-9a-f]{64}$/.test(l)), links.join());
  const log = page.locator('#deposit-progress');
  assert.equal(await log.isVisible(), false, 'the details are collapsed');
  assert.match(await log.textContent(), /Approval transaction sent: 0x[0-9a-f]{64}/);
  // What the wallet is asked to sign, in token units beside the base units it shows.
  assert.match(await log.textContent(), /Depositing 12\.5 COH \(12500000000000000000 in base units of 18 decimals/);
  assert.deepEqual(await axeCheck(page, 'balance after a deposit'), []);
  await r.docShot('shell-10-deposit-steps', { scrollTo: '#deposit-steps' });
  const [approve, deposit] = sent();
  assert.equal(sent().length, 2);
  const rewardsAddr = await s.rewards.getAddress();
  const ap = s.token.interface.parseTransaction({ data: approve.data });
  assert.equal(ap.name, 'approve');
  assert.equal(ap.args[0], ethers.getAddress(rewardsAddr));
  assert.equal(ap.args[1], DEPOSIT);
  const dp = s.rewards.interface.parseTransaction({ data: deposit.data });
  assert.equal(dp.name, 'deposit');
  assert.equal(dp.args[0], DEPOSIT);
  assert.equal(tokensBefore - await s.token.balanceOf(wallet.address), DEPOSIT, 'the wallet paid exactly the amount');
  assert.equal((await balance()).available, DEPOSIT.toString(), 'the ledger credited exactly the amount');
  await r.shot('31-balance-deposited');

  // Withdrawals: too much is refused in words; nothing moves.
  const wamount = page.getByLabel('Amount to withdraw (COH)');
  await wamount.fill('100');
  await wamount.press('Enter');
  await waitText('#withdraw-msg', 'Insufficient funds: you asked to withdraw 100 COH, but only 12.5 COH is available');
  await waitText('#withdraw-form .field-error', 'Insufficient funds');
  assert.equal((await balance()).available, DEPOSIT.toString());

  // The first attempt reaches the server but its answer is lost; the retry carries the same key.
  const keys = [];
  let lose = true;
  await page.route('**/v1/me/withdrawals', async (route) => {
    keys.push(route.request().headers()['idempotency-key']);
    assert.deepEqual(JSON.parse(route.request().postData()), { amount: WITHDRAW.toString() });
    if (lose) {
      lose = false;
      await route.fetch();
      await route.abort('connectionreset');
    } else await route.continue();
  });
  await wamount.fill('4.25');
  await page.getByRole('button', { name: 'Withdraw' }).click();
  await waitText('#withdraw-msg', 'Press Withdraw again to retry');
  await r.shot('32-withdraw-retry');
  await page.getByRole('button', { name: 'Withdraw' }).click();
  await waitText('#withdraw-msg', /^Withdrew 4\.25 COH\. It becomes claimable with the next anchor/);
  await page.unroute('**/v1/me/withdrawals');
  assert.equal(keys.length, 2);
  assert.match(keys[0], /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(keys[1], keys[0], 'the retry reuses the idempotency key');
  let b = await balance();
  assert.equal(b.available, (DEPOSIT - WITHDRAW).toString(), 'withdrawn once, not twice');
  assert.equal(b.earned, WITHDRAW.toString());
  await waitText('#bal-available', /^8\.25 COH$/);

  // After the next anchor the page (polling) offers the claim; the wallet claims it.
  await anchoredClaim(WITHDRAW);
  await waitText('#bal-claimable', /^4\.25 COH$/, 10000);
  assert.equal(await disabled('#claim'), false);
  await r.shot('33-balance-claimable');
  const beforeClaim = await s.token.balanceOf(wallet.address);
  await page.getByRole('button', { name: 'Claim to my wallet' }).click();
  await waitText('#claim-msg', /Claimed\. 4\.25 COH paid out/, 70000);
  const csteps = page.locator('#claim-steps > li');
  assert.deepEqual(await csteps.evaluateAll((ls) => ls.map((l) => [l.querySelector('.step-label').textContent, l.dataset.state])),
    [['Claim', 'done'], ['Confirm', 'done']]);
  assert.match(await csteps.nth(1).innerText(), /Confirmed in block \d+: 4\.25 COH paid to your wallet/);
  assert.match(await page.locator('#claim-steps a').first().getAttribute('href'), /^#\/tx\/0x[0-9a-f]{64}$/);
  assert.match(await page.locator('#claim-progress').textContent(), /under claims root 0x[0-9a-f]{64}/);
  await r.docShot('shell-11-claim-steps', { scrollTo: '#claim-steps' });
  assert.equal(await s.token.balanceOf(wallet.address) - beforeClaim, WITHDRAW, 'the token balance rose by exactly the withdrawal');
  await waitText('#wallet-balance', /^41\.75 COH$/);
  assert.equal(sent().length, 3);
  assert.equal(await disabled('#claim'), true, 'no second claim is invited');
  await waitText('#claim-state', 'You have claimed everything anchored so far');
  assert.equal((await balance()).claimed, WITHDRAW.toString());

  // Still disabled after a reload and a few anchor intervals later.
  await page.reload();
  await waitText('#bal-claimed', /^4\.25 COH$/);
  await page.waitForTimeout(3000); // anchors every second, the page polls every two
  assert.equal(await disabled('#claim'), true);
  await r.shot('34-balance-claimed');
  await page.setViewportSize({ width: 390, height: 844 });
  await r.shot('34-balance-claimed-phone');
  // A researcher's balance (deposit and withdraw forms, the claim panel) fits a phone.
  for (const width of [390, 360]) {
    await page.setViewportSize({ width, height: 844 });
    await noSideScroll(page, `balance at ${width} px`);
  }
  assert.deepEqual(await axeCheck(page, 'balance on a phone'), []);
  await page.setViewportSize({ width: 1280, height: 900 });

  // A further withdrawal, once anchored, brings the button back by itself.
  await wamount.fill('0.001');
  await wamount.press('Enter');
  await waitText('#withdraw-msg', /^Withdrew 0\.001 COH/);
  await anchoredClaim(WITHDRAW + AGAIN);
  await waitText('#bal-claimable', /^0\.001 COH$/, 10000);
  assert.equal(await disabled('#claim'), false);
  b = await balance();
  assert.equal(b.available, (DEPOSIT - WITHDRAW - AGAIN).toString());
  assert.deepEqual(r.errors, []);
});
