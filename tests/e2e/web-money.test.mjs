// A researcher's money in Chromium on the chain stack (private anvil with the contracts, own
// database, anchoring cohortd): the Balance page reads the contracts from GET /v1/chain, shows
// the wallet's token balance, deposits a typed decimal amount exactly (ERC-20 approve, then
// CohortRewards.deposit from the injected wallet, with each transaction's progress) and the
// available balance rises by exactly that amount once the server credits the Deposited event.
// A withdrawal too large is refused in words; one whose answer is lost on the way back is
// retried with the same Idempotency-Key and moves the amount once. After the next anchor the
// withdrawal is claimed from the wallet, the token balance rises by exactly that amount on
// chain, and the claim button stays disabled until a later anchor makes more claimable.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ethers, Wallet } from 'ethers';
import { ROOT, api } from './helpers.mjs';
import { startChainStack, waitFor } from './chain-anvil.mjs';
import { persona, signInUi } from './web-browser.mjs';
import { signIn } from './market-helpers.mjs';
import { buildWeb } from '../../web/build.mjs';

const UNIT = 10n ** 18n;
const DEPOSIT = 12n * UNIT + UNIT / 2n;          // "12.5"
const WITHDRAW = 4n * UNIT + UNIT / 4n;          // "4.25"
const AGAIN = UNIT / 1000n;                      // "0.001"
let s, wallet, r;

before(async () => {
  await buildWeb();
  s = await startChainStack('coh_web_money', { env: { COHORT_WEB_DIR: join(ROOT, 'web') } });
  const [, dev1] = s.anvil.wallets(2);
  // The researcher's wallet: fresh, with ETH for gas and 50 tokens, sending through anvil.
  wallet = Wallet.createRandom().connect(s.anvil.provider);
  await (await dev1.sendTransaction({ to: wallet.address, value: ethers.parseEther('1') })).wait();
  await (await s.token.connect(dev1).transfer(wallet.address, 50n * UNIT)).wait();
  r = await persona('researcher-money', { wallet, rpc: s.anvil.provider });
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
const sent = () => r.calls.filter((c) => c.method === 'eth_sendTransaction').map((c) => c.params[0]);
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
  await page.getByRole('link', { name: 'Profile' }).click();
  await page.getByLabel('researcher', { exact: true }).check();
  await page.getByRole('button', { name: 'Save profile' }).click();
  await waitText('#profile-msg', 'Profile saved.');
  await page.getByRole('link', { name: 'Balance' }).click();
  await waitText('#deposit-wallet-balance', /^50 tokens$/);
  await waitText('#claim-state', 'Nothing is claimable');
  assert.equal(await disabled('#claim'), true);
  await r.shot('30-balance-before-deposit');

  // Typed amounts are checked in words before anything is sent.
  const amount = page.getByLabel('Amount to deposit (tokens)');
  await amount.fill('1.0000000000000000001');
  await amount.press('Enter');
  await waitText('#deposit-msg', 'has 19 decimal places; a token has at most 18');
  assert.equal(await amount.getAttribute('aria-invalid'), 'true');
  await amount.fill('60');
  await amount.press('Enter');
  await waitText('#deposit-msg', 'Your wallet holds 50 tokens, less than the 60 tokens you asked to deposit');
  await amount.fill('12,5');
  await amount.press('Enter');
  await waitText('#deposit-msg', '“12,5” is not an amount of tokens');
  assert.deepEqual(sent(), []);

  // The deposit: approve, then deposit(amount), from the keyboard.
  const tokensBefore = await s.token.balanceOf(wallet.address);
  await amount.fill('12.5');
  await amount.press('Enter');
  await waitText('#deposit-progress', /Approval transaction sent: 0x[0-9a-f]{64}/);
  await waitText('#deposit-progress', /Deposit confirmed in block \d+/, 30000);
  await waitText('#deposit-msg', 'Deposited 12.5 tokens. Your available balance is now 12.5 tokens.', 30000);
  await waitText('#bal-available', /^12\.5 tokens$/);
  await waitText('#deposit-wallet-balance', /^37\.5 tokens$/);
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
  const wamount = page.getByLabel('Amount to withdraw (tokens)');
  await wamount.fill('100');
  await wamount.press('Enter');
  await waitText('#withdraw-msg', 'Insufficient funds: you asked to withdraw 100 tokens, but only 12.5 tokens is available');
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
  await waitText('#withdraw-msg', /^Withdrew 4\.25 tokens\. It becomes claimable with the next anchor/);
  await page.unroute('**/v1/me/withdrawals');
  assert.equal(keys.length, 2);
  assert.match(keys[0], /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(keys[1], keys[0], 'the retry reuses the idempotency key');
  let b = await balance();
  assert.equal(b.available, (DEPOSIT - WITHDRAW).toString(), 'withdrawn once, not twice');
  assert.equal(b.earned, WITHDRAW.toString());
  await waitText('#bal-available', /^8\.25 tokens$/);

  // After the next anchor the page (polling) offers the claim; the wallet claims it.
  await anchoredClaim(WITHDRAW);
  await waitText('#bal-claimable', /^4\.25 tokens$/, 10000);
  assert.equal(await disabled('#claim'), false);
  await r.shot('33-balance-claimable');
  const beforeClaim = await s.token.balanceOf(wallet.address);
  await page.getByRole('button', { name: 'Claim to my wallet' }).click();
  await waitText('#claim-progress', /Confirmed in block \d+/, 30000);
  await waitText('#claim-msg', /Claimed\. 4\.25 tokens paid out/, 70000);
  assert.equal(await s.token.balanceOf(wallet.address) - beforeClaim, WITHDRAW, 'the token balance rose by exactly the withdrawal');
  await waitText('#wallet-balance', /^41\.75 tokens$/);
  assert.equal(sent().length, 3);
  assert.equal(await disabled('#claim'), true, 'no second claim is invited');
  await waitText('#claim-state', 'You have claimed everything anchored so far');
  assert.equal((await balance()).claimed, WITHDRAW.toString());

  // Still disabled after a reload and a few anchor intervals later.
  await page.reload();
  await waitText('#bal-claimed', /^4\.25 tokens$/);
  await page.waitForTimeout(3000); // anchors every second, the page polls every two
  assert.equal(await disabled('#claim'), true);
  await r.shot('34-balance-claimed');
  await page.setViewportSize({ width: 390, height: 844 });
  await r.shot('34-balance-claimed-phone');
  await page.setViewportSize({ width: 1280, height: 900 });

  // A further withdrawal, once anchored, brings the button back by itself.
  await wamount.fill('0.001');
  await wamount.press('Enter');
  await waitText('#withdraw-msg', /^Withdrew 0\.001 tokens/);
  await anchoredClaim(WITHDRAW + AGAIN);
  await waitText('#bal-claimable', /^0\.001 tokens$/, 10000);
  assert.equal(await disabled('#claim'), false);
  b = await balance();
  assert.equal(b.available, (DEPOSIT - WITHDRAW - AGAIN).toString());
  assert.deepEqual(r.errors, []);
});
