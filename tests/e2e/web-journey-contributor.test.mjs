// The contributor's journey as a product (issue 19), in Chromium at 1280x900 and 390x844 on the
// chain stack: the role asked at first sign-in, profile, inbox, consent, a GPX import and a sealed submit (an empty field is
// refused next to that field first), then the researcher's release (through the API) and the
// contributor home: the study under "My studies" marked paid with its amount formatted ("2.5
// COH", never base units), the notice naming the amount and the study, and when the payment is
// claimable. Every page visited: no sideways scroll, axe-core with no serious or critical
// violation. With COH_WEB_DOCS_SHOTS=1 each step is saved to docs/web/contributor-*.png (and
// -phone), the screenshots of docs/WEB.md. Last, an attested request: the consent step takes an
// EAS off-chain attestation file, shows who issued it and until when, refuses one from an
// issuer the request does not list on its field, and posts the right one with the consent. And
// an imported figure outside a field's range is marked on that field (the figures table is
// folded, so the warning is not left inside it).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync, mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Wallet } from 'ethers';
import { ROOT, api } from './helpers.mjs';
import { waitForStatus, fundedResearcher, runsRequest } from './market-helpers.mjs';
import { startChainStack, waitFor } from './chain-anvil.mjs';
import { persona, signInUi } from './web-browser.mjs';
import { axeCheck, noSideScroll } from './web-axe.mjs';
import { buildWeb } from '../../web/build.mjs';

const UNIT = 10n ** 18n;
const REWARD = 5n * UNIT / 2n; // 2.5 tokens: shown "2.5 COH"
const TITLE = 'Weekend runs and heart rate';
const GPX = join(ROOT, 'tests/e2e/fixtures/morning-run.gpx');
const DOCS = process.env.COH_WEB_DOCS_SHOTS === '1' ? join(ROOT, 'docs', 'web') : null;
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 900 };

let s, rtoken, req, symbol;
const people = {};

before(async () => {
  await buildWeb();
  if (DOCS) mkdirSync(DOCS, { recursive: true });
  s = await startChainStack('coh_web_journey_con', { env: { COHORT_WEB_DIR: join(ROOT, 'web') } });
  symbol = await s.token.symbol();
  const [, researcher] = s.anvil.wallets(2);
  rtoken = await fundedResearcher(s, researcher, 50n * UNIT);
  const created = await api(s.srv.base, 'POST', '/v1/requests', { token: rtoken, json: runsRequest(TITLE, REWARD) });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  req = created.body;
  people.desk = await persona('journey-desk', { wallet: Wallet.createRandom(), viewport: DESKTOP });
  people.phone = await persona('journey-phone', { wallet: Wallet.createRandom(), viewport: PHONE });
});

after(async () => {
  for (const p of Object.values(people)) await p?.close();
  await s?.stop();
});

const waitText = (p, sel, re, timeout = 20000) => p.page.locator(sel).filter({ hasText: re }).first().waitFor({ timeout });

// The checks every page of the journey passes, and its screenshot for docs/web/.
async function page(p, phone, step) {
  const name = `contributor-${step}${phone ? '-phone' : ''}`;
  await noSideScroll(p.page, name);
  assert.deepEqual(await axeCheck(p.page, name), [], `${name}: axe finds serious or critical violations`);
  if (DOCS) await p.page.screenshot({ path: join(DOCS, `${name}.png`), type: 'png' });
}

async function journey(p, phone, age) {
  const { page: pg } = p;
  const base = s.srv.base;
  await pg.goto(`${base}/`);
  await signInUi(p);

  // A first sign-in asks for the role, then opens the profile.
  await pg.locator('#welcome-form').waitFor();
  await page(p, phone, '00-welcome');
  await pg.locator('#role-contributor').check();
  await pg.getByRole('button', { name: 'Continue' }).click();
  await pg.locator('#profile-form').waitFor();
  assert.equal(await pg.evaluate(() => location.hash), '#/profile');
  await pg.getByLabel('fitness').check();
  await pg.getByLabel('academic-research').check();
  await pg.getByRole('button', { name: 'Save profile' }).click();
  await waitText(p, '#profile-msg', 'Profile saved.');
  await pg.locator('h1').first().scrollIntoViewIfNeeded();
  await page(p, phone, '01-profile');

  await pg.goto(`${base}/#/inbox`);
  const card = pg.locator(`#open-requests .request-card[data-id="${req.id}"]`);
  await card.waitFor();
  assert.match(await card.innerText(), new RegExp(`2\\.5 ${symbol}`), 'the reward in token units');
  assert.doesNotMatch(await card.innerText(), /2500000000000000000/);
  assert.match(await pg.locator('#my-studies').innerText(), /Studies you consent to appear here/);
  await page(p, phone, '02-inbox');

  await card.getByRole('link', { name: 'Review and take part' }).click();
  const sign = pg.getByRole('button', { name: 'Sign consent in your wallet' });
  await sign.waitFor();
  // The EIP-712 reward in token units, beside the base units the wallet will show.
  assert.match(await pg.locator('#consent-reward').innerText(), new RegExp(`2\\.5 ${symbol}[\\s\\S]*2500000000000000000`));
  await pg.locator('#take-part').scrollIntoViewIfNeeded();
  await page(p, phone, '03-consent');
  await sign.click();
  await waitText(p, '#consent-state', 'You consented');

  await pg.getByLabel('GPX track, Fitbit JSON export, or Apple Health export.xml').setInputFiles(GPX);
  await waitText(p, '#import-msg', /Filled distance_km, avg_hr from the file/);
  // An empty field: refused under that field, marked, before anything is sealed.
  await pg.getByRole('button', { name: 'Seal and submit' }).click();
  const ageInput = pg.getByLabel('age (years)');
  assert.equal(await ageInput.getAttribute('aria-invalid'), 'true');
  const errId = (await ageInput.getAttribute('aria-describedby')).split(' ')[0];
  assert.equal(await pg.locator(`#${errId}`).innerText(), 'Fill in “age”.');
  await pg.evaluate(() => document.querySelector('#rec-age').closest('.field').scrollIntoView({ block: 'center' }));
  await page(p, phone, '04-record');
  if (phone) { // the narrowest phone
    await pg.setViewportSize({ width: 360, height: 780 });
    await noSideScroll(pg, 'the record form at 360 px');
    await pg.setViewportSize(PHONE);
  }
  await ageInput.fill(String(age));
  await pg.getByRole('button', { name: 'Seal and submit' }).click();
  await waitText(p, '#submit-msg', /was accepted/);
  assert.equal(await ageInput.getAttribute('aria-invalid'), null, 'the error is cleared');
  for (const b of p.bodies) assert.ok(!/"distance_km"|"avg_hr"|trkpt/.test(b.body), `${b.url} carries plaintext`);
  await page(p, phone, '05-submitted');

  await pg.goto(`${base}/#/inbox`);
  const study = pg.locator(`#my-studies .study-card[data-id="${req.id}"]`);
  await study.waitFor();
  assert.equal(await study.getAttribute('data-state'), 'submitted');
  assert.match(await study.innerText(), new RegExp(`Expected payout\\s*2\\.5 ${symbol} once released`));
  assert.equal(await pg.locator(`#open-requests .request-card[data-id="${req.id}"]`).count(), 0, 'a request taken part in moves to My studies');
  await study.scrollIntoViewIfNeeded();
  await page(p, phone, '06-my-studies');
}

test('desktop 1280x900: profile, inbox, consent, import, inline error, sealed submit', async () => {
  await journey(people.desk, false, 33);
  assert.deepEqual(people.desk.errors, []);
});

test('phone 390x844: the same journey, nothing scrolls sideways', async () => {
  await journey(people.phone, true, 41);
  assert.deepEqual(people.phone.errors, []);
});

test('after the release: the home shows the study paid with its amount, the notice, when it is claimable', async () => {
  assert.equal((await api(s.srv.base, 'POST', `/v1/requests/${req.id}/close`, { token: rtoken })).status, 202);
  assert.equal((await waitForStatus(s.srv.base, rtoken, req.id, ['released', 'failed'])).status, 'released');
  for (const [key, phone] of [['desk', false], ['phone', true]]) {
    const p = people[key];
    const pg = p.page;
    await pg.goto(`${s.srv.base}/#/inbox`);
    await pg.reload();
    const study = pg.locator(`#my-studies .study-card[data-id="${req.id}"][data-state="paid"]`);
    await study.waitFor();
    assert.equal((await study.locator('.study-paid .amount').innerText()).trim(), `2.5 ${symbol}`);
    assert.equal(await study.locator('.study-paid .amount').getAttribute('data-exact'), REWARD.toString());
    assert.match(await study.locator('.study-state').innerText(), /Paid/);
    const notice = pg.locator('#notices li.notice[data-kind="reward_paid"]');
    assert.match(await notice.innerText(), new RegExp(`You were paid 2\\.5 ${symbol} for “${TITLE}”`));
    assert.match(await pg.locator('#studies-summary').innerText(), new RegExp(`1 study; 1 paid, 2\\.5 ${symbol} in all`));
    // On a phone the study card fills the screen: its shot shows the notice instead.
    await (phone ? notice : study).scrollIntoViewIfNeeded();
    await page(p, phone, '07-paid');
    // Anchored, then past the challenge period: claimable, with the way to claim.
    await waitFor('the study claimable', async () => {
      await pg.reload();
      await pg.locator(`#my-studies .study-card[data-id="${req.id}"]`).waitFor();
      return /claim it on the Balance page/.test(await pg.locator(`#my-studies .study-card[data-id="${req.id}"] .study-claimable`).innerText());
    }, 60000, 1000);
    await pg.locator(`#my-studies .study-card[data-id="${req.id}"]`).scrollIntoViewIfNeeded();
    await page(p, phone, '08-claimable');
    assert.deepEqual(p.errors, []);
  }
});

test('attested request: the attestation file is shown back as issuer and expiry, refused on its field, posted with the consent', async () => {
  const require = createRequire(import.meta.url);
  const { Offchain, OffchainAttestationVersion, SchemaEncoder, SchemaRegistry, ZERO_BYTES32, ZERO_ADDRESS } =
    require('@ethereum-attestation-service/eas-sdk');
  const schema = 'bytes32 subject,string country';
  const eas = { address: '0x4200000000000000000000000000000000000021', version: '1.3.0', chain_id: 31337 };
  const issuer = Wallet.createRandom();
  const stranger = Wallet.createRandom();
  const p = people.desk;
  const created = await api(s.srv.base, 'POST', '/v1/requests', { token: rtoken, json: runsRequest('Attested runners', REWARD, {
    enrollment: { mode: 'attested', issuers: [issuer.address], schema, subject: 'subject', eas } }) });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const areq = created.body;
  const off = new Offchain({ address: eas.address, version: eas.version, chainId: BigInt(eas.chain_id) }, OffchainAttestationVersion.Version2);
  const data = new SchemaEncoder(schema).encodeData([
    { name: 'subject', type: 'bytes32', value: `0x${'5e'.repeat(32)}` },
    { name: 'country', type: 'string', value: 'DE' }]);
  const expires = Math.floor(Date.now() / 1000) + 30 * 86400;
  const file = async (signer, name) => {
    const sig = await off.signOffchainAttestation({
      recipient: p.wallet.address, expirationTime: BigInt(expires), time: BigInt(Math.floor(Date.now() / 1000)),
      revocable: true, schema: SchemaRegistry.getSchemaUID(schema, ZERO_ADDRESS, true), refUID: ZERO_BYTES32, data,
    }, signer);
    const path = join(mkdtempSync(join(tmpdir(), 'coh-att-')), name);
    writeFileSync(path, JSON.stringify({ sig, signer: signer.address }, (k, v) => (typeof v === 'bigint' ? v.toString() : v)));
    return path;
  };
  const pg = p.page;
  await pg.goto(`${s.srv.base}/#/requests/${areq.id}`);
  const input = pg.getByLabel('Attestation file (JSON)');
  await input.waitFor();
  // Without a file nothing is signed.
  await pg.getByRole('button', { name: 'Sign consent in your wallet' }).click();
  assert.equal(await input.getAttribute('aria-invalid'), 'true');
  assert.equal(p.calls.filter((c) => c.method === 'eth_signTypedData_v4' && c.params[1].includes(areq.id)).length, 0);
  // An issuer the request does not list: shown, and refused on the field.
  await input.setInputFiles(await file(stranger, 'stranger.json'));
  await waitText(p, '#attestation-issuer', /not one of this request’s issuers/);
  assert.match(await pg.locator(`#${(await input.getAttribute('aria-describedby')).split(' ')[0]}`).innerText(), /does not accept attestations from this issuer/);
  // The right one: its issuer and expiry shown back, then posted with the consent.
  await input.setInputFiles(await file(issuer, 'attestation.json'));
  await waitText(p, '#attestation-issuer', /one of this request’s issuers/);
  assert.equal(await pg.locator('#attestation-issuer .account-pill').getAttribute('title'), issuer.address.toLowerCase());
  assert.match(await pg.locator('#attestation-expiry').innerText(), new RegExp(String(new Date(expires * 1000).getFullYear())));
  assert.equal(await input.getAttribute('aria-invalid'), null);
  assert.equal((await pg.locator('#consent-msg').innerText()).trim(), '', 'the earlier refusal is gone');
  await pg.locator('#take-part').scrollIntoViewIfNeeded();
  await page(p, false, '09-attested-consent');
  await pg.getByRole('button', { name: 'Sign consent in your wallet' }).click();
  await waitText(p, '#consent-state', 'You consented');
  const sent = p.bodies.find((b) => b.method === 'POST' && b.url.endsWith(`/v1/requests/${areq.id}/consents`));
  const body = JSON.parse(sent.body);
  assert.equal(body.attestation.signer, issuer.address);
  assert.equal(body.attestation.sig.message.recipient, p.wallet.address);
  assert.deepEqual(p.errors, []);
});

test('an imported figure outside the field\'s range is marked on that field, and the mark goes once it is edited', async () => {
  const spec = runsRequest('Gentle runs', REWARD);
  spec.schema.fields[2] = { ...spec.schema.fields[2], max: 120 }; // the GPX track averages 141 bpm
  const created = await api(s.srv.base, 'POST', '/v1/requests', { token: rtoken, json: spec });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const p = people.phone;
  const pg = p.page;
  await pg.goto(`${s.srv.base}/#/requests/${created.body.id}`);
  await pg.getByRole('button', { name: 'Sign consent in your wallet' }).click();
  await waitText(p, '#consent-state', 'You consented');
  await pg.getByLabel('GPX track, Fitbit JSON export, or Apple Health export.xml').setInputFiles(GPX);
  await waitText(p, '#import-msg', /Check avg_hr: outside the allowed range/);
  const hr = pg.locator('#rec-avg_hr');
  assert.equal(await hr.getAttribute('aria-invalid'), 'true');
  const errId = (await hr.getAttribute('aria-describedby')).split(' ')[0];
  assert.match(await pg.locator(`#${errId}`).innerText(), /outside the range this request accepts/);
  assert.equal(await pg.locator('#rec-distance_km').getAttribute('aria-invalid'), null);
  await hr.fill('118');
  assert.equal(await hr.getAttribute('aria-invalid'), null);
  await noSideScroll(pg, 'the record form with an import warning');
  assert.deepEqual(p.errors, []);
});
