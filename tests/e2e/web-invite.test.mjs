// Invite-only requests in the web app (issue 17), in Debian's Chromium against the real cohortd:
// the composer states the risk of open enrollment, offers invite codes, shows them once after
// posting with a CSV to keep, and the owner's panel shows counts only and revokes unused
// codes; a contributor's consent step asks for the code and sends it with the signature.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Wallet } from 'ethers';
import { ROOT, startCohortd, api } from './helpers.mjs';
import { signIn } from './market-helpers.mjs';
import { persona, signInUi, text, waitText } from './web-browser.mjs';
import { composerSteps } from './web-compose.mjs';
import { buildWeb } from '../../web/build.mjs';

const CODE = /^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){5}$/;
let srv, researcher, contributor;

before(async () => {
  await buildWeb();
  srv = await startCohortd({ COHORT_SIGNIN_RATE_PER_MIN: '100000', COHORT_WEB_DIR: join(ROOT, 'web') });
  researcher = await persona('invite-researcher', { wallet: Wallet.createRandom() });
  contributor = await persona('invite-contributor', { wallet: Wallet.createRandom() });
  for (const p of [researcher, contributor]) p.page.on('dialog', (d) => d.accept());
  // Roles through the API before the browser signs in, so its session starts with them.
  const roles = [[researcher, { roles: ['researcher'] }],
    [contributor, { roles: ['contributor'], consent_profile: { categories: ['fitness'], purposes: ['academic-research'] } }]];
  for (const [p, json] of roles) {
    const token = await signIn(srv.base, p.wallet);
    assert.equal((await api(srv.base, 'PUT', '/v1/me/profile', { token, json })).status, 200);
  }
  const d = await srv.cli(['ledger', 'deposit', '--address', researcher.wallet.address, '--amount', (100n * 10n ** 18n).toString()]);
  assert.equal(d.code, 0, d.stderr);
});

after(async () => {
  await researcher?.close();
  await contributor?.close();
  await srv?.stop();
});

test('invite codes in the browser: shown once with a CSV, asked for at consent, counted, revoked', async () => {
  const { page } = researcher;
  await page.goto(`${srv.base}/`);
  await signInUi(researcher);
  await page.goto(`${srv.base}/#/new`);
  await page.locator('#compose-form').waitFor();
  // The composer is in steps (issue 19): study, fields, who (with enrollment), privacy, reward, review.
  const { next, at } = composerSteps(page);
  await page.getByLabel('Title').fill('Invited runners');
  await next();
  await at('Fields');
  await next();
  await at('Who may take part');
  // Open is the default, and says plainly what it cannot stop.
  assert.match(await text(researcher, '#enrol-open-risk'), /cannot stop one person from enrolling several wallets/);
  await page.getByLabel('Maximum contributors').fill('10');
  await page.getByLabel('By invitation: one-time codes you hand out').check();
  assert.equal(await page.locator('#enrol-open-risk').isHidden(), true);
  await page.getByLabel('Number of invite codes').fill('5');
  await next();
  await at('Privacy guarantee');
  await page.getByLabel('k (smallest group)').fill('3');
  await page.getByLabel('Largest share of rows suppressed (0 to 0.5)').fill('0');
  await page.getByRole('button', { name: 'Check the privacy' }).click();
  await waitText(researcher, '#privacy-preview', /by invitation only: 5 one-time codes/);
  await next();
  await at('Reward and timing');
  await next();
  await at('Review');
  assert.match(await text(researcher, '#review-enrollment'), /By invitation only: 5 one-time invite codes/);
  await page.getByRole('button', { name: 'Post request and lock escrow' }).click();
  await page.locator('#invite-codes').waitFor();
  const codes = await page.locator('#invite-code-list li').allInnerTexts();
  assert.equal(codes.length, 5);
  for (const c of codes) assert.match(c, CODE);
  const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#download-codes').click()]);
  assert.deepEqual(readFileSync(await download.path(), 'utf8').trim().split('\n'), ['code', ...codes]);
  await researcher.shot('invite-01-codes-once');
  await page.locator('#go-request').click();
  await page.locator('#owner-panel').waitFor();
  const id = page.url().match(/0x[0-9a-f]{64}/)[0];
  await waitText(researcher, '#invite-counts', /5 issued, 0 used, 0 revoked/);
  assert.ok(!(await page.content()).includes(codes[0]), 'the codes are not shown again');

  // The contributor is asked for the code; without it nothing is signed.
  const cp = contributor.page;
  await cp.goto(`${srv.base}/`);
  await signInUi(contributor);
  await cp.goto(`${srv.base}/#/requests/${id}`);
  await cp.locator('#invite-code').waitFor();
  assert.match(await text(contributor, '#enrollment-words'), /By invitation only: 5 one-time invite codes/);
  await cp.getByRole('button', { name: 'Sign consent in your wallet' }).click();
  await waitText(contributor, '#consent-msg', /enter the invite code/);
  assert.equal(contributor.calls.filter((c) => c.method === 'eth_signTypedData_v4').length, 0);
  await cp.getByLabel('Invite code').fill(codes[2].toLowerCase());
  await cp.getByRole('button', { name: 'Sign consent in your wallet' }).click();
  await waitText(contributor, '#consent-state', 'You consented');
  const sent = contributor.bodies.find((b) => b.method === 'POST' && b.url.endsWith(`/v1/requests/${id}/consents`));
  assert.equal(JSON.parse(sent.body).code, codes[2].toLowerCase());
  await contributor.shot('invite-02-consented');

  // The owner sees one code used, never whose; revoking the unused four.
  await page.reload();
  await waitText(researcher, '#invite-counts', /5 issued, 1 used, 0 revoked/);
  assert.ok(!(await page.content()).toLowerCase().includes(contributor.wallet.address.slice(2).toLowerCase()));
  await page.locator('#revoke-unused-codes').click();
  await waitText(researcher, '#invite-counts', /5 issued, 1 used, 4 revoked/);
  await waitText(researcher, '#codes-msg', /4 codes revoked/);
  assert.deepEqual(researcher.errors, []);
  assert.deepEqual(contributor.errors, []);
});
