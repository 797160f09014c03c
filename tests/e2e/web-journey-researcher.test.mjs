// The researcher's journey in the web app (issue 19), in Debian's Chromium against the real
// cohortd, at 1280x900 and at 390x844: the composer's steps with the parts that do not apply
// hidden (k-anonymity settings under DP and the reverse, min/max on category fields), each
// step checked before the next, a server refusal shown on the field it names in plain words,
// "Germany" chosen as DE (and an unknown country refused on the field), the DP noise warning
// before posting, amounts formatted with the token's symbol, posting, and the request page
// following the request to its release with no stale action; "Show older requests" lists each
// request once. Every page of the journey: no sideways scroll, and axe finds no serious or
// critical violation. With COH_WEB_DOCS_SHOTS=1 each step is saved to docs/web/researcher-*.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Wallet } from 'ethers';
import { ROOT, startCohortd, api } from './helpers.mjs';
import { signIn, closeAndRelease } from './market-helpers.mjs';
import { persona, signInUi, text, waitText } from './web-browser.mjs';
import { axeCheck, noSideScroll } from './web-axe.mjs';
import { composerSteps, apiContributors } from './web-compose.mjs';
import { buildWeb } from '../../web/build.mjs';

const PHONE = { width: 390, height: 844 };
const AXE_SRC = readFileSync(join(ROOT, 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');
const DOCS = process.env.COH_WEB_DOCS_SHOTS === '1';
const COH = 10n ** 18n;
let srv, desk, wallet, apiToken;

// One page of the journey as a user meets it: no sideways scroll, no serious axe finding, and
// the docs screenshot when asked for.
async function page(p, name) {
  await noSideScroll(p.page, name);
  // axe through the DevTools protocol, which the page's content security policy does not
  // govern (a script tag would be refused); axeCheck then finds it loaded.
  if (!(await p.page.evaluate(() => !!window.axe))) await p.page.evaluate(AXE_SRC);
  assert.deepEqual(await axeCheck(p.page, name), [], `axe on ${name}`);
  if (DOCS) await p.page.screenshot({ path: join(ROOT, 'docs', 'web', `researcher-${name}.png`), type: 'png' });
}

const next = (p) => composerSteps(p).next();
const at = (p, heading) => composerSteps(p).at(heading);
const hidden = (p, sel) => p.page.locator(sel).isHidden();

before(async () => {
  await buildWeb();
  srv = await startCohortd({ COHORT_SIGNIN_RATE_PER_MIN: '100000', COHORT_RELEASE_POLL_MS: '100', COHORT_WEB_DIR: join(ROOT, 'web') });
  wallet = Wallet.createRandom();
  apiToken = await signIn(srv.base, wallet);
  assert.equal((await api(srv.base, 'PUT', '/v1/me/profile', { token: apiToken, json: { roles: ['researcher'] } })).status, 200);
  // 100 COH and one base unit: the available balance is shown rounded, the exact value on hover.
  const d = await srv.cli(['ledger', 'deposit', '--address', wallet.address, '--amount', (100n * COH + 1n).toString()]);
  assert.equal(d.code, 0, d.stderr);
  desk = await persona('journey-researcher', { wallet });
  desk.page.on('dialog', (dl) => dl.accept());
});

after(async () => {
  await desk?.close();
  await srv?.stop();
});

// Contributors outside the browser: German profiles sharing fitness data.
const contributors = (n, req, recordFor) => apiContributors(srv.base, n, req, recordFor, { country: 'DE' });

test('desktop: the composer in steps, inline errors, Germany as DE, the DP noise warning, formatted amounts, the request released', async () => {
  const p = desk;
  const { page: pg } = p;
  await pg.goto(`${srv.base}/`);
  await signInUi(p);
  await pg.goto(`${srv.base}/#/new`);
  await pg.locator('#compose-form').waitFor();
  assert.equal(await pg.title(), 'New request: Study · Cohort');

  // Step 1: nothing moves on without a title; the error sits under the field, which is marked.
  await next(p);
  await waitText(p, '#req-title-error', 'Give the request a title.');
  assert.equal(await pg.locator('#req-title').getAttribute('aria-invalid'), 'true');
  assert.match(await pg.locator('#req-title').getAttribute('aria-describedby'), /req-title-error/);
  await at(p, 'The study');
  await page(p, '1-study-error');
  await pg.getByLabel('Title').fill('Steps in Germany');
  await pg.getByLabel('Description').fill('How much do people walk in a day?');
  await next(p);

  // Step 2: fields numbered from 1; a category field has no min/max; integers no decimals.
  await at(p, 'Fields');
  assert.deepEqual(await pg.locator('#schema-fields legend').allInnerTexts(), ['Field 1', 'Field 2', 'Field 3']);
  assert.equal(await hidden(p, '#sf-1-decimals'), true);
  assert.equal(await hidden(p, '#sf-3-decimals'), false);
  await pg.locator('#sf-2-type').selectOption('category');
  assert.equal(await hidden(p, '#sf-2-min'), true);
  assert.equal(await hidden(p, '#sf-2-max'), true);
  assert.equal(await hidden(p, '#sf-2-categories'), false);
  await pg.evaluate(() => document.querySelector('fieldset.schema-field[data-n="2"]').scrollIntoView({ block: 'center' }));
  await page(p, '2-fields-category');
  await pg.locator('#sf-2-type').selectOption('integer');
  assert.equal(await hidden(p, '#sf-2-min'), false);
  assert.equal(await hidden(p, '#sf-2-categories'), true);
  await pg.getByRole('button', { name: 'Add a field' }).click();
  assert.deepEqual(await pg.locator('#schema-fields legend').allInnerTexts(), ['Field 1', 'Field 2', 'Field 3', 'Field 4']);
  // An empty new field is refused on its name, then removed: the numbering closes up.
  await next(p);
  await waitText(p, '#sf-4-name-error', /lowercase letter/);
  await pg.getByRole('button', { name: 'Remove field 4' }).click();
  assert.deepEqual(await pg.locator('#schema-fields legend').allInnerTexts(), ['Field 1', 'Field 2', 'Field 3']);
  await next(p);

  // Step 3: countries from the searchable list: "Germany" is DE, an unknown name is refused.
  await at(p, 'Who may take part');
  const country = pg.locator('#el-country');
  await country.fill('Germany');
  await country.press('Enter');
  await waitText(p, '.ssel-chips', /Germany/);
  await country.fill('Narnia');
  await next(p);
  await waitText(p, '#el-country-error', /not in the list/);
  assert.equal(await country.getAttribute('aria-invalid'), 'true');
  await at(p, 'Who may take part');
  await page(p, '3-who-country-error');
  await country.fill('');
  await pg.getByLabel('Minimum contributors').fill('4');
  await pg.getByLabel('Maximum contributors').fill('10');
  assert.equal(await hidden(p, '#enrol-open-risk'), false);
  // Attested: its issuers are checked before the next step. Invite from one's own codes: the
  // file is read and hashed here (a code written twice counts once).
  await pg.getByLabel('Attested: people an issuer vouches for').check();
  assert.equal(await hidden(p, '#enrol-open-risk'), true);
  assert.equal(await hidden(p, '#enrol-codes'), true);
  await pg.getByLabel('Issuer addresses, one per line (1 to 16)').fill('0x1234');
  await next(p);
  await waitText(p, '#att-issuers-error', /“0x1234” is not an address/);
  await at(p, 'Who may take part');
  await page(p, '3-who-attested');
  await pg.getByLabel('By invitation: one-time codes you hand out').check();
  assert.equal(await hidden(p, '#att-issuers'), true);
  await pg.getByLabel('I bring my own codes (a file)').check();
  assert.equal(await hidden(p, '#enrol-codes'), true);
  await pg.locator('#enrol-hash-file').setInputFiles({ name: 'codes.txt', mimeType: 'text/plain',
    buffer: Buffer.from(`code\nABCD-EFGH\nabcd efgh\n0x${'ab'.repeat(32)}\n`) });
  await waitText(p, '#enrol-hash-info', /^2 codes read from codes\.txt/);
  await pg.getByLabel('Open: any signed-in wallet').check();
  assert.equal(await hidden(p, '#enrol-open-risk'), false);
  await next(p);

  // Step 4: k-anonymity settings only under k-anonymity, DP settings only under DP.
  await at(p, 'Privacy guarantee');
  assert.equal(await hidden(p, '#priv-k'), false);
  assert.equal(await hidden(p, '#priv-eps'), true);
  await pg.getByLabel('Differentially private statistics').check();
  assert.equal(await hidden(p, '#priv-k'), true);
  assert.equal(await hidden(p, '#priv-supp'), true);
  assert.equal(await hidden(p, '#priv-eps'), false);
  assert.equal(await hidden(p, '#priv-delta'), true);
  await pg.getByLabel('ε (epsilon), total for all queries').fill('1');
  // A statistic the server does not know: its refusal ("privacy.queries[2] must be …") is shown
  // under the queries box in plain words.
  await pg.getByLabel('Queries, one per line').fill('count\nmean(steps)\naverage(steps)');
  await next(p);
  await waitText(p, '#priv-queries-error', /not one Cohort can compute/);
  assert.equal(await pg.locator('#priv-queries').getAttribute('aria-invalid'), 'true');
  assert.doesNotMatch(await text(p, '#priv-queries-error'), /privacy\.queries/);
  await at(p, 'Privacy guarantee');
  await page(p, '4-privacy-inline-error');
  // 4 contributors at ε = 1: the count and the mean would be mostly noise, said before posting.
  await pg.getByLabel('Queries, one per line').fill('count\nmean(steps)');
  await pg.getByRole('button', { name: 'Check the privacy' }).click();
  await waitText(p, '#privacy-preview #dp-noise-warning', /Too noisy to be useful/);
  assert.match(await text(p, '#dp-noise-warning'), /With 4 contributors at ε = 1, count would be off by about ±/);
  assert.equal(await pg.locator('#priv-queries').getAttribute('aria-invalid'), null);
  await page(p, '4-privacy-noise-warning');
  await next(p);

  // Step 5: the reward in tokens; the escrow and the balance formatted with the symbol.
  await at(p, 'Reward and timing');
  await pg.getByLabel('Reward per contribution').fill('2.5');
  await waitText(p, '#escrow', /^Escrow locked when you post: 25 COH \(reward × 10 contributors at most\)\. Available to you: ≈ 100 COH/);
  assert.equal(await pg.locator('#escrow .amount').nth(1).getAttribute('title'), '100.000000000000000001 COH');
  assert.doesNotMatch(await text(p, '#compose-form'), /(^|[^.\d])\d{10,}/, 'no amount in base units');
  await page(p, '5-reward');
  await next(p);

  // Step 6: the whole request in words, the escrow it locks, the noise warning again.
  await at(p, 'Review');
  assert.equal(await text(p, '#review-reward'), '2.5 COH per contribution');
  assert.match(await text(p, '#review-escrow'), /^25 COH of your ≈ 100 COH/);
  assert.match(await text(p, '#review'), /living in Germany/);
  assert.match(await text(p, '#review'), /Open to any signed-in wallet: this cannot stop one person from enrolling several wallets/);
  assert.match(await text(p, '#review #dp-noise-warning'), /Too noisy to be useful/);
  await page(p, '6-review');
  // Back keeps what was typed; Next returns to the review.
  await pg.getByRole('button', { name: 'Back' }).click();
  await at(p, 'Reward and timing');
  assert.equal(await pg.getByLabel('Reward per contribution').inputValue(), '2.5');
  await next(p);
  await at(p, 'Review');
  // The done steps of the stepper lead back, by keyboard too: focus, Enter.
  const toReward = pg.getByRole('button', { name: 'Return to step 5: Reward' });
  await toReward.focus();
  await pg.keyboard.press('Enter');
  await at(p, 'Reward and timing');
  assert.equal(await pg.getByRole('button', { name: /^Return to step 5/ }).count(), 0, 'the current step is not a way back');
  await next(p);
  await at(p, 'Review');
  await pg.getByRole('button', { name: 'Post request and lock escrow' }).click();
  await pg.locator('#owner-panel').waitFor();
  const sent = JSON.parse(p.bodies.find((b) => b.method === 'POST' && b.url.endsWith('/v1/requests')).body);
  assert.deepEqual(sent.eligibility.country, ['DE']);
  assert.equal(sent.reward, (25n * COH / 10n).toString());
  assert.deepEqual(sent.privacy.queries, ['count', 'mean(steps)']);
  const id = pg.url().match(/0x[0-9a-f]{64}/)[0];
  const req = (await api(srv.base, 'GET', `/v1/requests/${id}`)).body;

  // The open request: when it closes and the escrow, formatted.
  assert.match(await text(p, '#request-facts'), /Closes/);
  assert.match(await text(p, '#request-facts'), /Escrow locked\s*25 COH/);
  assert.match(await text(p, '#request-facts'), /Reward\s*2.5 COH per contribution/);
  await page(p, '7-request-open');

  await contributors(4, req, (i) => ({ age: 30 + i, steps: 6000 + 700 * i, distance_km: 4 + i / 2 }));
  await waitText(p, '#contribution-count', /^4 contributions/);
  await pg.getByRole('button', { name: 'Close now and release' }).click();
  await pg.locator('#dp-charts figure').first().waitFor({ timeout: 30000 });
  // Released: no close button, no closing date nor locked escrow; when, how many paid, refund.
  assert.equal(await pg.locator('#close-request').count(), 0);
  await waitText(p, '#request-status', 'Released');
  const facts = await text(p, '#request-facts');
  assert.doesNotMatch(facts, /Closes|Escrow locked/);
  assert.match(facts, /Released\s*\S/);
  assert.equal(await text(p, '#request-paid'), '4 contributors, 10 COH in all');
  assert.equal(await text(p, '#request-refund'), '15 COH');
  assert.match(await text(p, '#dp-table'), /Readable\?/);
  assert.match(await text(p, '#release-included'), /not published/);
  await pg.evaluate(() => window.scrollTo(0, 0));
  await page(p, '8-released');
  // Figures whose error bars are wider than the figure say so beside them. The noise is
  // random, so the release is read back here with figures of known noise: the issue's
  // "count = 17 ± 15" (bars from 2 to 32) and a readable mean.
  const relUrl = `**/v1/requests/${id}/release`;
  await pg.route(relUrl, async (route) => {
    const res = await route.fetch();
    const rel = await res.json();
    const stats = typeof rel.content === 'string' ? JSON.parse(rel.content) : rel.report;
    stats.results = [{ query: 'count', value: 17, error_bound_95: 15 }, { query: 'mean(steps)', value: 7000, error_bound_95: 900 }];
    if (typeof rel.content === 'string') rel.content = JSON.stringify(stats);
    rel.report = stats;
    await route.fulfill({ response: res, json: rel });
  });
  await pg.reload();
  await pg.locator('#dp-charts figure').nth(1).waitFor({ timeout: 30000 });
  assert.equal(await pg.locator('#dp-charts figure[data-query="count"] .too-noisy').count(), 1);
  assert.match(await text(p, '#dp-charts figure[data-query="count"] .too-noisy'), /^Too noisy to read: the error bars are wider than the figure/);
  assert.equal(await pg.locator('#dp-charts figure[data-query="mean(steps)"] .too-noisy').count(), 0);
  assert.deepEqual((await pg.locator('#dp-table tbody tr').allInnerTexts()).map((r) => r.split('\t').at(-1).trim()), ['too noisy to read', 'yes']);
  await pg.locator('#dp-noisy-note').waitFor();
  await pg.evaluate(() => document.getElementById('release').scrollIntoView());
  await page(p, '9-release-charts');
  await pg.unroute(relUrl);
  assert.deepEqual(p.errors, []);
});

test('phone: the composer at 390 px (category fields, k-anonymity only), the request page catching up with a release made elsewhere', async () => {
  const ph = await persona('journey-researcher-phone', { wallet, viewport: PHONE });
  ph.page.on('dialog', (dl) => dl.accept());
  try {
    const { page: pg } = ph;
    await pg.goto(`${srv.base}/`);
    await signInUi(ph);
    await pg.goto(`${srv.base}/#/new`);
    await pg.locator('#compose-form').waitFor();
    await pg.getByLabel('Title').fill('Sleep and walking, k-anonymous');
    await page(ph, '1-study-phone');
    await next(ph);
    await at(ph, 'Fields');
    assert.deepEqual(await pg.locator('#schema-fields legend').allInnerTexts(), ['Field 1', 'Field 2', 'Field 3']);
    await pg.locator('#sf-3-type').selectOption('category');
    assert.equal(await hidden(ph, '#sf-3-min'), true);
    assert.equal(await hidden(ph, '#sf-3-decimals'), true);
    await pg.locator('#sf-3-categories').fill('short, long');
    await page(ph, '2-fields-phone');
    await next(ph);
    await at(ph, 'Who may take part');
    await pg.getByLabel('Minimum contributors').fill('3');
    await pg.getByLabel('Maximum contributors').fill('5');
    await page(ph, '3-who-phone');
    await next(ph);
    await at(ph, 'Privacy guarantee');
    assert.equal(await hidden(ph, '#priv-eps'), true);
    assert.equal(await hidden(ph, '#priv-queries'), true);
    await pg.getByLabel('k (smallest group)').fill('2');
    await pg.getByLabel('Largest share of rows suppressed (0 to 0.5)').fill('0');
    await page(ph, '4-privacy-phone');
    await next(ph);
    await at(ph, 'Reward and timing');
    await page(ph, '5-reward-phone');
    await next(ph);
    await at(ph, 'Review');
    await page(ph, '6-review-phone');
    await pg.getByRole('button', { name: 'Post request and lock escrow' }).click();
    await pg.locator('#owner-panel').waitFor();
    const id = pg.url().match(/0x[0-9a-f]{64}/)[0];
    const req = (await api(srv.base, 'GET', `/v1/requests/${id}`)).body;
    assert.equal(req.schema.fields[2].type, 'category');
    await contributors(3, req, (i) => ({ age: 40 + i, steps: 8000 + 100 * i, distance_km: i ? 'long' : 'short' }));
    await waitText(ph, '#contribution-count', /^3 contributions/);
    await pg.locator('#close-request').waitFor();
    await page(ph, '7-request-open-phone');
    // Closed and released outside this page (another tab, the closing time): the page follows
    // without a reload and stops offering to close.
    const done = await closeAndRelease(srv.base, apiToken, id);
    assert.equal(done.status, 'released');
    await waitText(ph, '#request-status', 'Released', 30000);
    await pg.locator('#release-table').waitFor({ timeout: 30000 });
    assert.equal(await pg.locator('#close-request').count(), 0);
    assert.doesNotMatch(await text(ph, '#request-facts'), /Closes|Escrow locked/);
    assert.equal(await text(ph, '#request-paid'), '3 contributors, 3 COH in all');
    assert.equal(await text(ph, '#request-refund'), '2 COH');
    await pg.evaluate(() => window.scrollTo(0, 0));
    await page(ph, '8-released-phone');
    await pg.evaluate(() => document.getElementById('release').scrollIntoView());
    await page(ph, '9-release-table-phone');
    assert.deepEqual(ph.errors, []);
  } finally { await ph.close(); }
});

test('browse: "Show older requests" only when there are more, each request listed once', async () => {
  const body = (i) => ({
    title: `Filler ${i}`, purpose: 'academic-research', schema: { fields: [{ name: 'age', type: 'integer', min: 18, max: 100, role: 'quasi-identifier' }] },
    eligibility: {}, privacy: { mode: 'k-anonymity', k: 2 }, reward: '1000', min_contributors: 2, max_contributors: 2,
    closes_at: new Date(Date.now() + 864e5).toISOString(),
  });
  // 21 requests within a second or two: more than a page, sharing the cursor's second.
  const fillers = [];
  for (let i = 0; i < 21; i++) {
    const r = await api(srv.base, 'POST', '/v1/requests', { token: apiToken, json: body(i) });
    assert.equal(r.status, 201);
    fillers.push(r.body.id);
  }
  const v = await persona('journey-visitor', { wallet: Wallet.createRandom(), viewport: PHONE });
  try {
    const { page: pg } = v;
    await pg.goto(`${srv.base}/#/requests`);
    await pg.locator('.request-card').first().waitFor();
    assert.equal(await pg.locator('.request-card').count(), 20);
    const more = pg.getByRole('button', { name: 'Show older requests' });
    assert.equal(await more.isVisible(), true);
    // The test database may hold earlier runs' requests too: page until the end.
    for (let i = 0; i < 200 && await more.isVisible(); i++) {
      const n = await pg.locator('.request-card').count();
      await more.click();
      await pg.waitForFunction((k) => document.querySelectorAll('.request-card').length > k || document.getElementById('more-requests').hidden, n);
    }
    const ids = await pg.locator('.request-card').evaluateAll((els) => els.map((e) => e.dataset.id));
    assert.equal(new Set(ids).size, ids.length, 'each request once');
    for (const f of fillers) assert.ok(ids.includes(f), `request ${f} is listed`);
    assert.ok(ids.length >= 23);
    assert.equal(await more.isHidden(), true);
    // A filter: released requests only, the button only when there are more than a page.
    const released = (await api(srv.base, 'GET', '/v1/requests?status=released&limit=200')).body.requests.length;
    assert.ok(released >= 2);
    await pg.locator('#filter-status').selectOption('released');
    // Wait for the filtered page itself: the list is emptied first, and "every card says
    // Released" holds for an empty list too.
    await pg.waitForFunction((want) => {
      const cards = [...document.querySelectorAll('.request-card')];
      return cards.length === want && cards.every((c) => /Released/.test(c.innerText));
    }, Math.min(released, 20));
    assert.equal(await pg.locator('.request-card').count(), Math.min(released, 20));
    assert.equal(await more.isVisible(), released >= 20);
    await page(v, 'browse-phone');
    assert.deepEqual(v.errors, []);
  } finally { await v.close(); }
});

test('attested enrollment composed (issuers, schema, subject, attested values, EAS domain); a refusal naming another step\'s field shown there', async () => {
  const p = desk;
  const { page: pg } = p;
  // The composer again in the same document (the first test used it): only the hash changes.
  await pg.evaluate(() => { window.sameDocument = true; location.hash = '#/new'; });
  await pg.locator('#compose-form').waitFor();
  await pg.getByLabel('Title').fill('Attested walkers');
  await next(p);
  await at(p, 'Fields');
  // A second visit of the composer in the same page: the fields are numbered from 1 again.
  assert.equal(await pg.evaluate(() => window.sameDocument), true);
  assert.deepEqual(await pg.locator('#schema-fields legend').allInnerTexts(), ['Field 1', 'Field 2', 'Field 3']);
  assert.equal(await pg.locator('#sf-1-name').inputValue(), 'age');
  await next(p);
  await at(p, 'Who may take part');
  const issuers = [Wallet.createRandom().address, Wallet.createRandom().address];
  const eas = Wallet.createRandom().address;
  await pg.getByLabel('Attested: people an issuer vouches for').check();
  await pg.getByLabel('Issuer addresses, one per line (1 to 16)').fill(issuers.join('\n'));
  await pg.getByRole('button', { name: 'Add a condition' }).click();
  await pg.getByLabel('Attested field').fill('country');
  await pg.getByLabel('Accepted values (comma-separated)').fill('DE, FR');
  await pg.getByLabel('Minimum contributors').fill('3');
  await next(p);
  await at(p, 'Privacy guarantee');
  // This server names no EAS contract: the refusal comes back to the folded EAS boxes, opened.
  await next(p);
  await at(p, 'Who may take part');
  await waitText(p, '#att-eas-address-error', /names no EAS contract of its own/);
  assert.equal(await pg.locator('#att-advanced').getAttribute('open'), '');
  await pg.getByLabel('EAS address').fill(eas);
  await pg.getByLabel('EAS version').fill('1.3.0');
  await pg.getByLabel('Chain id').fill('31337');
  await page(p, '3-who-attested-filled');
  await next(p);
  await at(p, 'Privacy guarantee');
  // k = 5 with a minimum of 3 contributors: the server refuses, naming min_contributors; the
  // composer goes back to that field's step and says it there, in words.
  await pg.getByLabel('k (smallest group)').fill('5');
  await next(p);
  await at(p, 'Who may take part');
  await waitText(p, '#req-min-error', 'The minimum number of contributors must be at least k (the group size).');
  assert.equal(await pg.locator('#req-min').getAttribute('aria-invalid'), 'true');
  await pg.getByLabel('Minimum contributors').fill('5');
  await next(p);
  await at(p, 'Privacy guarantee');
  await next(p);
  await at(p, 'Reward and timing');
  await next(p);
  await at(p, 'Review');
  assert.match(await text(p, '#review-enrollment'), /attestation from one of 2 named issuers .*one contribution per attested subject; the attestation must say country DE or FR/);
  await pg.getByRole('button', { name: 'Post request and lock escrow' }).click();
  await pg.locator('#owner-panel').waitFor();
  const sent = JSON.parse(p.bodies.filter((b) => b.method === 'POST' && b.url.endsWith('/v1/requests')).at(-1).body);
  assert.deepEqual(sent.enrollment, { mode: 'attested', issuers: issuers.map((a) => a.toLowerCase()), schema: 'bytes32 subject,string country',
    subject: 'subject', eligibility: { country: ['DE', 'FR'] }, eas: { address: eas.toLowerCase(), version: '1.3.0', chain_id: 31337 } });
  const facts = await text(p, '#attested-facts');
  assert.match(facts, /Attestation schema\s*bytes32 subject,string country/);
  assert.match(facts, /Schema UID\s*0x/);
  await page(p, '10-request-attested');
  assert.deepEqual(p.errors, []);
});
