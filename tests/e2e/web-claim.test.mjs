// The contributor's whole journey in Chromium on the chain stack (private anvil with the
// contracts, own database, anchoring cohortd): sign in, profile, EIP-712 consent, a GPX track
// imported and sealed in the browser, submit; the researcher's request is released and the
// ledger anchored; the balance page shows the reward claimable (in token units, "2 COH", since
// issue 19), the claim is sent from the injected wallet with the API's Merkle proof, its
// progress is shown, and the token balance rises on chain by exactly the reward; the
// contributor home keeps the study, paid. The ledger page then verifies entries including
// their inclusion proofs into the anchored root.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ethers, Wallet } from 'ethers';
import { ROOT, api } from './helpers.mjs';
import { signIn, consent, contribute, waitForStatus, fundedResearcher, runsRequest } from './market-helpers.mjs';
import { startChainStack, waitFor } from './chain-anvil.mjs';
import { persona, signInUi } from './web-browser.mjs';
import { buildWeb } from '../../web/build.mjs';

const UNIT = 10n ** 18n;
const REWARD = 2n * UNIT;
const GPX = join(ROOT, 'tests/e2e/fixtures/morning-run.gpx');
let s, researcher, rtoken, req, contributor, wallet;

before(async () => {
  await buildWeb();
  s = await startChainStack('coh_web_claim', { env: { COHORT_WEB_DIR: join(ROOT, 'web') } });
  const [, dev1, dev2] = s.anvil.wallets(3);
  researcher = dev1;
  // The researcher funds the contract on chain; the deposit watcher credits the ledger.
  rtoken = await fundedResearcher(s, researcher, 20n * UNIT);
  const created = await api(s.srv.base, 'POST', '/v1/requests', { token: rtoken, json: runsRequest('Weekend runs', REWARD) });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  req = created.body;
  // The contributor's wallet: fresh, with ETH for gas, sending through anvil.
  wallet = Wallet.createRandom().connect(s.anvil.provider);
  await (await dev2.sendTransaction({ to: wallet.address, value: ethers.parseEther('1') })).wait();
  contributor = await persona('claimer', { wallet, rpc: s.anvil.provider });
});

after(async () => {
  await contributor?.close();
  await s?.stop();
});

const waitText = (p, sel, re, timeout = 20000) => p.page.locator(sel).filter({ hasText: re }).first().waitFor({ timeout });

test('contributor: consent, GPX import, sealed submit, release, claim on chain from the wallet', async () => {
  const { page } = contributor;
  await page.goto(`${s.srv.base}/`);
  await signInUi(contributor);
  await page.getByRole('link', { name: 'Profile' }).click();
  await page.getByLabel('fitness').check();
  await page.getByLabel('academic-research').check();
  await page.getByRole('button', { name: 'Save profile' }).click();
  await waitText(contributor, '#profile-msg', 'Profile saved.');
  await page.getByRole('link', { name: 'Inbox' }).click();
  await page.locator(`.request-card[data-id="${req.id}"]`).getByRole('link', { name: 'Review and take part' }).click();
  await page.getByRole('button', { name: 'Sign consent in your wallet' }).click();
  await waitText(contributor, '#consent-state', 'You consented');
  await page.getByLabel('GPX track, Fitbit JSON export, or Apple Health export.xml').setInputFiles(GPX);
  await waitText(contributor, '#import-msg', /Filled distance_km, avg_hr from the file/);
  await page.getByLabel('age (years)').fill('33');
  await page.getByRole('button', { name: 'Seal and submit' }).click();
  await waitText(contributor, '#submit-msg', /was accepted/);
  for (const b of contributor.bodies) assert.ok(!/"distance_km"|"avg_hr"|trkpt/.test(b.body), `${b.url} carries plaintext`);

  // A second contributor outside the browser, then the researcher closes.
  const other = Wallet.createRandom();
  const otoken = await signIn(s.srv.base, other);
  await api(s.srv.base, 'PUT', '/v1/me/profile', { token: otoken, json: { roles: ['contributor'], consent_profile: { categories: ['fitness'], purposes: ['academic-research'] } } });
  assert.equal((await consent(s.srv.base, other, otoken, req.id)).status, 201);
  assert.equal((await contribute(s.srv.base, otoken, req, { age: 35, distance_km: 5.5, avg_hr: 150 })).status, 201);
  assert.equal((await api(s.srv.base, 'POST', `/v1/requests/${req.id}/close`, { token: rtoken })).status, 202);
  assert.equal((await waitForStatus(s.srv.base, rtoken, req.id, ['released', 'failed'])).status, 'released');

  // Once anchored (and the contract holds that root), the balance page offers the claim.
  // The test reads the proof as the wallet itself (claims are served to their address only).
  const wtoken = await signIn(s.srv.base, wallet);
  await waitFor('an anchored claim', async () => {
    const r = await api(s.srv.base, 'GET', `/v1/claims/${wallet.address}`, { token: wtoken });
    return r.status === 200 && r.body.cumulative_amount === REWARD.toString() && r.body.claims_root === await s.rewards.claimsRoot();
  }, 30000, 200);
  const before = await s.token.balanceOf(wallet.address);
  await page.getByRole('link', { name: 'Balance' }).click();
  await waitText(contributor, '#bal-claimable', '2 COH');
  await waitText(contributor, '#onchain', 'Token balance in your wallet: 0 COH');
  await contributor.shot('20-balance-claimable');
  await page.getByRole('button', { name: 'Claim to my wallet' }).click();
  // The claim runs as steps (claim, confirm), each with its transaction link; the hashes and
  // roots are folded into Details (the money page's stepper, issue 19).
  await waitText(contributor, '#claim-steps', /Claim sent/);
  await waitText(contributor, '#claim-steps', /Confirmed in block \d+/, 30000);
  assert.match(await contributor.page.locator('#claim-progress').textContent(), /Transaction sent: 0x[0-9a-f]{64}/);
  await waitText(contributor, '#claim-msg', /Claimed|succeeded on chain/, 70000);
  await waitText(contributor, '#wallet-balance', '2 COH');
  assert.equal((await s.token.balanceOf(wallet.address)) - before, REWARD, 'the token balance rose by the reward on chain');
  assert.ok(contributor.calls.some((c) => c.method === 'eth_sendTransaction'));
  await waitFor('the claim recorded in the ledger', async () =>
    (await api(s.srv.base, 'GET', `/v1/accounts/${wallet.address}/balance`, { token: wtoken })).body.claimed === REWARD.toString(), 30000, 200);
  await page.reload();
  await waitText(contributor, '#bal-claimed', '2 COH');
  await contributor.shot('21-balance-claimed');
  await page.setViewportSize({ width: 390, height: 844 });
  await contributor.shot('21-balance-claimed-phone');
  await page.setViewportSize({ width: 1280, height: 900 });
  // The contributor home keeps the study once closed: paid, with its amount.
  await page.goto(`${s.srv.base}/#/inbox`);
  const study = page.locator(`#my-studies .study-card[data-id="${req.id}"][data-state="paid"]`);
  await study.waitFor();
  assert.equal((await study.locator('.study-paid .amount').innerText()).trim(), '2 COH');
  assert.deepEqual(contributor.errors, []);
});

test('anyone: anchored entries verify with their inclusion proofs; anchors link to transactions', async () => {
  const { page } = contributor;
  await page.goto(`${s.srv.base}/#/ledger`);
  await page.locator('table.ledger tbody tr').first().waitFor();
  await page.getByRole('button', { name: 'Verify all shown' }).click();
  await waitText(contributor, '#ledger-msg', /^All \d+ entries shown verify/);
  assert.match(await page.locator('table.ledger tbody tr').first().innerText(), /in the anchored root/);
  // The public sums and the signed-in contributor's own credit, checked in the browser.
  await page.getByRole('button', { name: 'Check the sums' }).click();
  await waitText(contributor, '#sums-msg', /The sums hold over all \d+ entries: \d+ requests’ escrow = rewards \+ refund, 1 pooled reward entries/);
  await page.getByRole('button', { name: 'Check my credits' }).click();
  await waitText(contributor, '#credits-msg', 'All 1 of your credits prove against the roots their reward entries publish.');
  await contributor.shot('22-ledger-anchored');
  await page.goto(`${s.srv.base}/#/anchors`);
  const link = page.locator('table a[href^="#/tx/"]').first();
  await link.waitFor();
  await contributor.shot('23-anchors');
  await link.click();
  await waitText(contributor, 'main', /Status\s*succeeded/);
  await contributor.shot('24-anchor-transaction');
});
