// The web app in Debian's Chromium against the real cohortd and PostgreSQL: a researcher and a
// contributor use only the browser, with an injected EIP-1193 wallet backed by ethers Wallets
// in Node. Contributor: sign-in, consent profile, inbox, EIP-712 consent, a GPX track imported
// and sealed in the browser, submit, revoke and re-consent, balance. Researcher: compose a
// k-anonymity and a DP request, follow counts, close, view the table and the charts, download.
// Anyone: browse, ledger verification (and a tampered entry caught), anchors. Every request
// body the contributor's page sends is inspected: no plaintext record or raw file leaves it.
// Screenshots of each page go to var/web-screenshots/ (COH_WEB_SHOTS).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Wallet } from 'ethers';
import { ROOT, startCohortd, api } from './helpers.mjs';
import { persona, signInUi, text, waitText } from './web-browser.mjs';
import { composerSteps, apiContributors } from './web-compose.mjs';
import { buildWeb } from '../../web/build.mjs';

const GPX = join(ROOT, 'tests/e2e/fixtures/morning-run.gpx');
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 900 };
let srv, researcher, contributor;
let kreq, dpreq;

before(async () => {
  await buildWeb();
  srv = await startCohortd({
    COHORT_SIGNIN_RATE_PER_MIN: '100000', COHORT_RELEASE_POLL_MS: '100', COHORT_WEB_DIR: join(ROOT, 'web'),
  });
  researcher = await persona('researcher', { wallet: Wallet.createRandom() });
  contributor = await persona('contributor', { wallet: Wallet.createRandom() });
  for (const p of [researcher, contributor]) p.page.on('dialog', (d) => d.accept());
  const d = await srv.cli(['ledger', 'deposit', '--address', researcher.wallet.address, '--amount', (100n * 10n ** 18n).toString()]);
  assert.equal(d.code, 0, d.stderr);
});

after(async () => {
  await researcher?.close();
  await contributor?.close();
  await srv?.stop();
});

// Contributors outside the browser, through the same API, to reach k and the minimum.
const node = (n, req, recordFor) => apiContributors(srv.base, n, req, recordFor);

test('researcher: sign in, take the researcher role, compose a k-anonymity request with its escrow', async () => {
  const { page } = researcher;
  await page.goto(`${srv.base}/`);
  await researcher.shot('01-home-signed-out');
  await signInUi(researcher);
  assert.match(await text(researcher, '#did'), new RegExp(`^did:pkh:eip155:31337:${researcher.wallet.address}$`));
  const siwe = researcher.calls.find((c) => c.method === 'personal_sign');
  assert.ok(siwe, 'the wallet was asked to sign the SIWE message');
  await page.goto(`${srv.base}/#/profile`);
  await page.getByLabel('contributor', { exact: true }).uncheck();
  await page.getByLabel('researcher', { exact: true }).check();
  await page.getByLabel('Display name').fill('Sleep & Motion Lab');
  await page.getByRole('button', { name: 'Save profile' }).click();
  await waitText(researcher, '#profile-msg', 'Profile saved.');
  assert.equal(await text(researcher, '#role'), 'researcher');

  await page.getByRole('link', { name: 'New request' }).click();
  await page.locator('#compose-form').waitFor();
  // The composer is a sequence of steps (issue 19): study, fields, who, privacy, reward, review.
  const { next, at } = composerSteps(page);
  await page.getByLabel('Title').fill('Running and heart rate');
  await page.getByLabel('Description').fill('How far and how hard do people run?');
  await next();
  await at('Fields');
  // The schema editor: rows 1-3 are age, steps, distance_km; turn steps into avg_hr, add elevation.
  await page.locator('#sf-2-name').fill('avg_hr');
  await page.locator('#sf-2-unit').fill('bpm');
  await page.locator('#sf-2-min').fill('40');
  await page.locator('#sf-2-max').fill('220');
  await page.getByRole('button', { name: 'Add a field' }).click();
  await page.locator('#sf-4-name').fill('elevation_gain_m');
  await page.locator('#sf-4-role').selectOption('quasi-identifier');
  await page.locator('#sf-4-min').fill('0');
  await page.locator('#sf-4-max').fill('3000');
  await next();
  await at('Who may take part');
  await page.getByLabel('Maximum contributors').fill('10');
  await next();
  await at('Privacy guarantee');
  await page.getByLabel('k (smallest group)').fill('3');
  await page.getByLabel('Largest share of rows suppressed (0 to 0.5)').fill('0');
  await next();
  await at('Reward and timing');
  await waitText(researcher, '#escrow', /^Escrow locked when you post: 10 COH/);
  // An error is shown in words on the field it concerns: more escrow than the researcher
  // holds (100 COH x 10), refused before the review.
  await page.getByLabel('Reward per contribution').fill('100');
  await next();
  await waitText(researcher, '#req-reward-error', /available/i);
  assert.equal(await page.locator('#req-reward').getAttribute('aria-invalid'), 'true');
  await researcher.shot('02-compose-error');
  await page.getByLabel('Reward per contribution').fill('1');
  await next();
  await at('Review');
  await page.getByRole('button', { name: 'Post request and lock escrow' }).click();
  await page.locator('#owner-panel').waitFor();
  const id = page.url().match(/0x[0-9a-f]{64}/)[0];
  kreq = (await api(srv.base, 'GET', `/v1/requests/${id}`)).body;
  assert.equal(kreq.escrow, (10n * 10n ** 18n).toString());
  assert.deepEqual(kreq.schema.fields.map((f) => f.name), ['age', 'avg_hr', 'distance_km', 'elevation_gain_m']);
  await waitText(researcher, '#contribution-count', /^0 contributions/);
  await researcher.shot('03-request-owner');
});

test('contributor: profile, inbox, EIP-712 consent, GPX import, sealed submit; nothing plain leaves the page', async () => {
  const { page, calls, bodies } = contributor;
  await page.goto(`${srv.base}/`);
  await signInUi(contributor);
  await page.getByRole('link', { name: 'Profile' }).click();
  await page.locator('#profile-form').waitFor();
  await page.getByLabel('fitness').check();
  await page.getByLabel('academic-research').check();
  await page.getByLabel('Age band').selectOption('35-44');
  // Coded fields are chosen from a list: a name that is not a country is refused on the field,
  // and "Germany" is DE (two letters of it once made GE, Georgia).
  const country = page.locator('#country');
  await country.fill('Germania');
  await page.getByRole('button', { name: 'Save profile' }).click();
  await page.locator('#country-error').filter({ hasText: /not in the list/ }).waitFor();
  assert.equal(await country.getAttribute('aria-invalid'), 'true');
  await country.fill('Germany');
  await country.press('Enter');
  await page.getByLabel('Sex').selectOption('female');
  await page.getByLabel('Lifetime privacy budget ε (epsilon)').fill('5');
  // Floors of one's own: the k=3 request below still meets a smallest k of 3.
  await page.getByLabel('Smallest k I accept').fill('3');
  await page.getByLabel('Largest ε per request').fill('0.5');
  await page.getByRole('button', { name: 'Save profile' }).click();
  await waitText(contributor, '#profile-msg', 'Profile saved.');
  await contributor.shot('04-profile');
  const prof = JSON.parse(bodies.find((b) => b.method === 'PUT' && b.url.endsWith('/v1/me/profile')).body);
  assert.deepEqual(prof.consent_profile.attributes, { age_band: '35-44', country: 'DE', sex: 'female' });
  assert.equal(prof.consent_profile.min_k, 3);
  assert.equal(prof.consent_profile.max_epsilon, '0.5');
  assert.equal(prof.consent_profile.statistics_only, false);

  await page.getByRole('link', { name: 'Inbox' }).click();
  const card = page.locator(`.request-card[data-id="${kreq.id}"]`);
  await card.waitFor();
  assert.match(await card.innerText(), /at least 3 people who look the same on age/);
  assert.match(await card.innerText(), /Reward\s*1 COH\b/);
  await contributor.shot('05-inbox');
  await page.setViewportSize(PHONE);
  await contributor.shot('05-inbox-phone');
  await page.setViewportSize(DESKTOP);
  await card.getByRole('link', { name: 'Review and take part' }).click();

  // A consent offered over other terms than the page shows (here a server answer tampered in
  // transit) cannot be signed: the page computes the terms hash itself.
  const consentUrl = `**/v1/requests/${kreq.id}/consents/me`;
  await page.route(consentUrl, async (route) => {
    const res = await route.fetch();
    const body = await res.json();
    body.typed_data.message.termsHash = `0x${'ab'.repeat(32)}`;
    await route.fulfill({ response: res, json: body });
  });
  await page.reload();
  await page.locator('#terms-mismatch').waitFor();
  assert.equal(await page.getByRole('button', { name: 'Sign consent in your wallet' }).isDisabled(), true);
  await page.unroute(consentUrl);
  await page.reload();
  await page.locator('#consent-fields').waitFor();
  assert.equal(await page.locator('#terms-mismatch').count(), 0);

  // Before signing, the page shows the consent field by field: the privacy terms in words and
  // the hash of the terms, which the wallet is then asked to sign exactly.
  const privacy = await text(contributor, '#consent-privacy');
  assert.match(privacy, /^k-anonymity k=3\b.*; encrypted records destroyed (at release|\d+ days? after release)$/);
  const shownHash = await page.locator('#consent-terms-hash').getAttribute('title');
  assert.match(shownHash, /^0x[0-9a-f]{64}$/);
  assert.match(await text(contributor, '#consent-fields'), /consent version 2/);
  await contributor.shot('05b-consent-terms');
  await page.getByRole('button', { name: 'Sign consent in your wallet' }).click();
  await waitText(contributor, '#consent-state', 'You consented');
  const signed = calls.find((c) => c.method === 'eth_signTypedData_v4');
  const td = JSON.parse(signed.params[1]);
  assert.equal(td.primaryType, 'Consent');
  assert.equal(td.domain.version, '2');
  assert.deepEqual(td.types.Consent.map((m) => m.name), ['requestId', 'termsHash', 'purpose', 'privacy', 'reward', 'expiry', 'contributor']);
  assert.equal(td.message.requestId, kreq.id);
  assert.equal(td.message.purpose, 'academic-research');
  assert.equal(td.message.privacy, privacy);
  assert.equal(td.message.termsHash, shownHash);
  assert.equal(await text(contributor, '#consented-privacy'), privacy);

  // Import the GPX track: parsed here, mapped to the schema, shown before sealing.
  await page.getByLabel('GPX track, Fitbit JSON export, or Apple Health export.xml').setInputFiles(GPX);
  await waitText(contributor, '#import-msg', /Filled avg_hr, distance_km, elevation_gain_m from the file/);
  const dist = Number(await page.locator('#rec-distance_km').inputValue());
  assert.ok(dist > 6 && dist < 6.6, `distance ${dist}`);
  const hr = Number(await page.locator('#rec-avg_hr').inputValue());
  assert.ok(hr > 120 && hr < 160, `hr ${hr}`);
  await page.getByLabel('age (years)').fill('41');
  const preview = JSON.parse(await text(contributor, '#record-preview'));
  assert.deepEqual(Object.keys(preview), ['age', 'avg_hr', 'distance_km', 'elevation_gain_m']);
  assert.equal(preview.age, 41);
  await contributor.shot('06-record-before-sealing');
  await page.setViewportSize(PHONE);
  await contributor.shot('06-record-phone');
  await page.setViewportSize(DESKTOP);
  await page.getByRole('button', { name: 'Seal and submit' }).click();
  await waitText(contributor, '#submit-msg', /sealed record \(\d+ bytes\) was accepted/);

  // Revoke, then consent and submit again.
  await page.getByRole('button', { name: 'Revoke consent' }).click();
  await waitText(contributor, '#take-part', /You revoked your consent/);
  await page.getByRole('button', { name: 'Sign consent in your wallet' }).click();
  await waitText(contributor, '#consent-state', 'You consented');
  await page.getByLabel('GPX track, Fitbit JSON export, or Apple Health export.xml').setInputFiles(GPX);
  await waitText(contributor, '#import-msg', /Filled/);
  await page.getByLabel('age (years)').fill('41');
  await page.getByRole('button', { name: 'Seal and submit' }).click();
  await waitText(contributor, '#submit-msg', /was accepted/);

  const posts = bodies.filter((b) => b.url.includes('/contributions'));
  assert.equal(posts.length, 2);
  for (const b of posts) assert.deepEqual(Object.keys(JSON.parse(b.body)), ['sealed']);
  const gpx = readFileSync(GPX, 'utf8');
  for (const b of bodies) {
    for (const f of ['age', 'avg_hr', 'distance_km', 'elevation_gain_m']) assert.ok(!b.body.includes(`"${f}"`), `${b.url} carries field ${f}`);
    assert.ok(!b.body.includes(String(preview.distance_km)), `${b.url} carries the distance`);
    assert.ok(!/trkpt|<gpx/.test(b.body) && !b.body.includes(gpx.slice(200, 260)), `${b.url} carries the GPX file`);
  }
  assert.deepEqual(contributor.errors, []);
});

test('researcher: counts arrive, close, k-anonymous table with loss metrics, CSV and JSON downloads', async () => {
  await node(4, kreq, (i) => ({ age: 38 + i, avg_hr: 130 + i, distance_km: 5 + i / 4, elevation_gain_m: 20 + i }));
  const { page } = researcher;
  await page.goto(`${srv.base}/#/requests/${kreq.id}`);
  await waitText(researcher, '#contribution-count', /^5 contributions/);
  await page.getByRole('button', { name: 'Close now and release' }).click();
  await page.locator('#release-table').waitFor({ timeout: 30000 });
  const rows = await page.locator('#release-table tbody tr').count();
  assert.equal(rows, 5);
  assert.match(await text(researcher, '#loss-metrics'), /NCP/);
  await researcher.shot('07-release-k-anonymity');
  const [csv] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download CSV' }).click()]);
  const csvText = readFileSync(await csv.path(), 'utf8');
  assert.match(csvText.split('\n')[0], /^age,avg_hr,distance_km,elevation_gain_m/);
  assert.equal(csvText.trim().split('\n').length, 6);
  const [json] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download JSON' }).click()]);
  const rel = JSON.parse(readFileSync(await json.path(), 'utf8'));
  assert.equal(rel.mode, 'k-anonymity');
  assert.equal(rel.included, 5);
});

test('contributor: the reward shows in the balance', async () => {
  const { page } = contributor;
  await page.goto(`${srv.base}/#/balance`);
  await waitText(contributor, '#bal-earned', '1 COH');
  assert.equal(await text(contributor, '#bal-pending'), '1 COH');
  await contributor.shot('08-balance');
});

test('researcher: a DP request drawn as charts with error bars, downloadable', async () => {
  const { page } = researcher;
  await page.goto(`${srv.base}/#/new`);
  await page.locator('#compose-form').waitFor();
  const { next, at } = composerSteps(page);
  await page.getByLabel('Title').fill('Daily steps, privately');
  await next();
  await at('Fields');
  await next();
  await at('Who may take part');
  await page.getByLabel('Minimum contributors').fill('5');
  await page.getByLabel('Maximum contributors').fill('20');
  await next();
  await at('Privacy guarantee');
  await page.getByLabel('Differentially private statistics').check();
  await page.getByLabel('ε (epsilon), total for all queries').fill('2');
  await page.getByLabel('Queries, one per line').fill('count\nmean(steps)\nmean(distance_km)\nhistogram(age)');
  // The preview says what contributors will be told and how noisy each statistic will be:
  // with 5 people over steps 0..60000, the means are mostly noise.
  await page.getByRole('button', { name: 'Check the privacy' }).click();
  await waitText(researcher, '#privacy-preview', /What contributors will be told\s*differential privacy/);
  assert.match(await text(researcher, '#privacy-preview'), /Expected error \(95%\) with 5 contributors/);
  assert.match(await text(researcher, '#privacy-preview .warnings'), /mean\(steps\) will be mostly noise with 5 contributors/);
  await researcher.shot('09-compose-dp-preview');
  await next();
  await at('Reward and timing');
  await next();
  await at('Review');
  await page.getByRole('button', { name: 'Post request and lock escrow' }).click();
  await page.locator('#owner-panel').waitFor();
  dpreq = (await api(srv.base, 'GET', `/v1/requests/${page.url().match(/0x[0-9a-f]{64}/)[0]}`)).body;
  assert.equal(dpreq.privacy.mode, 'dp');
  await node(12, dpreq, (i) => ({ age: 20 + 4 * i, steps: 4000 + 500 * i, distance_km: 3 + i / 2 }));
  await waitText(researcher, '#contribution-count', /^12 contributions/);
  await page.getByRole('button', { name: 'Close now and release' }).click();
  await page.locator('#dp-charts figure').first().waitFor({ timeout: 30000 });
  assert.equal(await page.locator('#dp-charts canvas').count(), 4);
  assert.match(await text(researcher, '#dp-table'), /mean\(steps\)/);
  await researcher.shot('09-release-dp-charts');
  await page.setViewportSize(PHONE);
  await researcher.shot('09-release-dp-phone');
  await page.setViewportSize(DESKTOP);
  const [csv] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download CSV' }).click()]);
  const lines = readFileSync(await csv.path(), 'utf8').trim().split('\n');
  assert.equal(lines[0], 'query,label,value,error_bound_95');
  assert.ok(lines.some((l) => l.startsWith('count,count,')));
  assert.deepEqual(researcher.errors, []);
});

test('anyone: browse requests, verify the ledger in the browser (and catch a tampered entry), anchors', async () => {
  const visitor = await persona('visitor', { wallet: Wallet.createRandom() });
  try {
    const { page } = visitor;
    await page.goto(`${srv.base}/#/requests`);
    await page.locator(`.request-card[data-id="${kreq.id}"]`).waitFor();
    await visitor.shot('10-browse');
    await page.goto(`${srv.base}/#/ledger`);
    await page.locator('table.ledger tbody tr').first().waitFor();
    await page.getByRole('button', { name: 'Verify all shown' }).click();
    await waitText(visitor, '#ledger-msg', /^All \d+ entries shown verify/);
    await visitor.shot('11-ledger-verified');
    // A tampered copy: the page recomputes the hash and refuses it.
    await page.route('**/v1/ledger/entries?*', async (route) => {
      const r = await route.fetch();
      const body = await r.json();
      body.entries[0].amount = (BigInt(body.entries[0].amount) + 1n).toString();
      await route.fulfill({ response: r, json: body });
    });
    await page.reload();
    await page.locator('table.ledger tbody tr').first().waitFor();
    await page.getByRole('button', { name: 'Verify all shown' }).click();
    await waitText(visitor, '#ledger-msg', /1 of \d+ entries failed verification/);
    assert.match(await page.locator('table.ledger tbody tr').first().innerText(), /Not valid: its contents hash to/);
    await page.unroute('**/v1/ledger/entries?*');
    await page.goto(`${srv.base}/#/anchors`);
    await page.locator('h1', { hasText: 'Anchors' }).waitFor();
    await visitor.shot('12-anchors');
  } finally { await visitor.close(); }
});

test('sign-out revokes the session; a declined wallet signature is explained in words', async () => {
  const { page } = contributor;
  const token = await page.evaluate(() => JSON.parse(sessionStorage.getItem('cohort.session')).token);
  await page.getByRole('button', { name: 'Sign out', exact: true }).click();
  await page.getByRole('button', { name: 'Connect wallet and sign in' }).waitFor();
  assert.equal((await api(srv.base, 'GET', '/v1/me/profile', { token })).status, 401);
  const shy = await persona('declines', { wallet: Wallet.createRandom(), reject: new Set(['personal_sign']) });
  try {
    await shy.page.goto(`${srv.base}/`);
    await shy.page.getByRole('button', { name: 'Connect wallet and sign in' }).click();
    await waitText(shy, '#account .msg.error', 'You declined the request in your wallet');
    await shy.shot('13-declined-signature');
  } finally { await shy.close(); }
});
