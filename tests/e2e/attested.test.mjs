// Attested enrollment (issue 17, docs/PRIVACY.md "Who may enrol"), tried as a reward farmer
// would: fresh wallets with attestations from nobody, from an issuer the request does not
// list, for someone else's wallet, expired, revoked, altered, and one person's attestation
// presented from a second wallet. The attestations are made by the Ethereum Attestation
// Service SDK (@ethereum-attestation-service/eas-sdk), the EAS contracts (their published
// artifacts) run on anvil, and the issuer revokes with the SDK's revokeOffchain.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ethers, Wallet } from 'ethers';
import { startCohortd, api, LOW_FLOORS, ROOT } from './helpers.mjs';
import { signIn, newContributor, contribute, cliContributor, superuserSql } from './market-helpers.mjs';
import { startAnvil } from './chain-anvil.mjs';

const require = createRequire(import.meta.url);
const { EAS, Offchain, OffchainAttestationVersion, SchemaEncoder, SchemaRegistry, ZERO_ADDRESS, ZERO_BYTES32 } =
  require('@ethereum-attestation-service/eas-sdk');

const REWARD = 10n ** 18n;
const PURPOSE = `attested-${process.pid}`;
const SCHEMA = 'bytes32 subject,string country';
const schema = { fields: [{ name: 'age', type: 'integer', unit: 'years', min: 18, max: 100, role: 'quasi-identifier' }] };
const easArtifact = (n) => JSON.parse(readFileSync(join(ROOT, 'node_modules', '@ethereum-attestation-service',
  'eas-contracts', 'artifacts', 'contracts', `${n}.sol`, `${n}.json`), 'utf8'));

let anvil, srv, easAddress, easVersion, researcher, rtoken, request, issuer, stranger;
const offchain = (version = OffchainAttestationVersion.Version2, chainId = 31337n) =>
  new Offchain({ address: easAddress, version: easVersion, chainId }, version);

before(async () => {
  anvil = await startAnvil();
  const [deployer, issuerFunded] = anvil.wallets(2);
  const deployed = async (name, ...args) => {
    const a = easArtifact(name);
    const c = await new ethers.ContractFactory(a.abi, a.bytecode, deployer).deploy(...args);
    await c.waitForDeployment();
    return c;
  };
  const registry = await deployed('SchemaRegistry');
  const eas = await deployed('EAS', await registry.getAddress());
  easAddress = await eas.getAddress();
  easVersion = await eas.version();
  issuer = issuerFunded;
  stranger = Wallet.createRandom();
  srv = await startCohortd({
    ...LOW_FLOORS, COHORT_SIGNIN_RATE_PER_MIN: '100000', COHORT_CONSENT_RATE_PER_HOUR: '100000',
    COHORT_CHAIN_RPC_URL: anvil.url, COHORT_CHAIN_ID: '31337',
    COHORT_EAS_CONTRACT: easAddress, COHORT_EAS_VERSION: easVersion,
  });
  researcher = Wallet.createRandom();
  rtoken = await signIn(srv.base, researcher);
  assert.equal((await api(srv.base, 'PUT', '/v1/me/profile', { token: rtoken, json: { roles: ['researcher'] } })).status, 200);
  const d = await srv.cli(['ledger', 'deposit', '--address', researcher.address, '--amount', (100n * REWARD).toString()]);
  assert.equal(d.code, 0, d.stderr);
  const r = await api(srv.base, 'POST', '/v1/requests', { token: rtoken, json: {
    title: 'Attested cohort', purpose: PURPOSE, schema, privacy: { mode: 'k-anonymity', k: 2 },
    reward: REWARD.toString(), min_contributors: 2, max_contributors: 20,
    closes_at: new Date(Date.now() + 3600e3).toISOString(), retention_days: 1,
    enrollment: { mode: 'attested', issuers: [issuer.address], schema: SCHEMA, subject: 'subject',
      eligibility: { country: ['DE', 'FR'] } },
  } });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  request = r.body;
});
after(async () => { await srv?.stop(); await anvil?.stop(); });

const contributor = () => newContributor(srv.base, PURPOSE);

// An attestation as an issuer makes it with the SDK, exported as easscan does ({sig, signer}).
async function attest(by, recipient, { subject = ethers.hexlify(ethers.randomBytes(32)), country = 'DE',
  expirationTime = 0n, version = OffchainAttestationVersion.Version2, chainId = 31337n } = {}) {
  const data = new SchemaEncoder(SCHEMA).encodeData([
    { name: 'subject', type: 'bytes32', value: subject }, { name: 'country', type: 'string', value: country }]);
  const sig = await offchain(version, chainId).signOffchainAttestation({
    recipient, expirationTime, time: BigInt(Math.floor(Date.now() / 1000) - 60), revocable: true,
    schema: request.enrollment.schema_uid, refUID: ZERO_BYTES32, data,
  }, by);
  return JSON.parse(JSON.stringify({ sig, signer: by.address }, (k, v) => (typeof v === 'bigint' ? v.toString() : v)));
}

async function consentWith(p, attestation) {
  const t = await api(srv.base, 'GET', `/v1/requests/${request.id}/consents/me`, { token: p.token });
  assert.equal(t.status, 200, JSON.stringify(t.body));
  const { domain, types, message } = t.body.typed_data;
  const { EIP712Domain, ...rest } = types;
  const signature = await p.w.signTypedData(domain, rest, message);
  return api(srv.base, 'POST', `/v1/requests/${request.id}/consents`, { token: p.token,
    json: attestation === undefined ? { signature } : { signature, attestation } });
}

function refused(r, status, type, words) {
  assert.equal(r.status, status, JSON.stringify(r.body));
  assert.equal(r.body.type, `urn:cohort:problem:${type}`);
  assert.match(r.body.detail, words);
}

test('the stored request names the issuers, the schema UID the EAS registry computes, the EAS domain', () => {
  const e = request.enrollment;
  assert.equal(e.mode, 'attested');
  assert.deepEqual(e.issuers, [issuer.address.toLowerCase()]);
  assert.equal(e.schema_uid, SchemaRegistry.getSchemaUID(SCHEMA, ZERO_ADDRESS, true));
  assert.deepEqual(e.eas, { address: easAddress.toLowerCase(), version: easVersion, chain_id: 31337 });
});

test('a valid attestation from a listed issuer is accepted (versions 2 and 1), and the wallet contributes', async () => {
  const p = await contributor();
  const t = await api(srv.base, 'GET', `/v1/requests/${request.id}/consents/me`, { token: p.token });
  assert.match(t.body.typed_data.message.privacy, /attested contributors only: an EAS attestation of schema 0x.* one contribution per subject/);
  const r = await consentWith(p, await attest(issuer, p.w.address));
  assert.equal(r.status, 201, JSON.stringify(r.body));
  const c = await contribute(srv.base, p.token, request, { age: 44 });
  assert.equal(c.status, 201, JSON.stringify(c.body));
  const v1 = await contributor();
  const r1 = await consentWith(v1, await attest(issuer, v1.w.address, { version: OffchainAttestationVersion.Version1 }));
  assert.equal(r1.status, 201, JSON.stringify(r1.body));
});

test('refused: none, another issuer, expired, revoked on the EAS contract, another recipient, attested value not accepted', async () => {
  const none = await contributor();
  refused(await consentWith(none), 403, 'attestation-required', /attested contributors only/);
  // Nor a contribution without one.
  refused(await contribute(srv.base, none.token, request, { age: 30 }), 403, 'attestation-required', /attestation is not live/);

  const other = await contributor();
  refused(await consentWith(other, await attest(stranger, other.w.address)), 403, 'attestation-refused',
    new RegExp(`signed by ${stranger.address.toLowerCase()}, which is not one of this request's issuers`));

  const late = await contributor();
  refused(await consentWith(late, await attest(issuer, late.w.address, { expirationTime: BigInt(Math.floor(Date.now() / 1000) - 30) })),
    403, 'attestation-refused', /expired/);

  const revoked = await contributor();
  const a = await attest(issuer, revoked.w.address);
  const eas = new EAS(easAddress);
  eas.connect(issuer);
  const tx = await eas.revokeOffchain(a.sig.uid);
  await tx.wait();
  assert.ok(await eas.getRevocationOffchain(issuer.address, a.sig.uid) > 0n);
  refused(await consentWith(revoked, a), 403, 'attestation-refused', /revoked/);
  // Respelled (the uid hashes the schema's text), the revoked attestation is still refused.
  const respelled = structuredClone(a);
  respelled.sig.message.schema = `0x${a.sig.message.schema.slice(2).toUpperCase()}`;
  delete respelled.sig.uid;
  refused(await consentWith(revoked, respelled), 422, 'attestation-invalid', /lowercase/);

  const thief = await contributor();
  const owner = await contributor();
  refused(await consentWith(thief, await attest(issuer, owner.w.address)), 403, 'attestation-refused', /made for another wallet/);

  const us = await contributor();
  refused(await consentWith(us, await attest(issuer, us.w.address, { country: 'US' })), 403, 'attestation-refused',
    /country is not one this request accepts/);

  const elsewhere = await contributor();
  refused(await consentWith(elsewhere, await attest(issuer, elsewhere.w.address, { chainId: 1n })), 422, 'attestation-invalid',
    /signed for the EAS contract .* on chain 1; this request accepts/);
});

test('a tampered field is caught: by its uid, and without the uid by the signature', async () => {
  const p = await contributor();
  const a = await attest(issuer, p.w.address, { country: 'US' });
  // The farmer rewrites the attested country to one the request accepts.
  a.sig.message.data = new SchemaEncoder(SCHEMA).encodeData([
    { name: 'subject', type: 'bytes32', value: ethers.hexlify(ethers.randomBytes(32)) },
    { name: 'country', type: 'string', value: 'DE' }]);
  refused(await consentWith(p, a), 422, 'attestation-invalid', /changed after it was made/);
  delete a.sig.uid;
  refused(await consentWith(p, a), 403, 'attestation-refused', /not one of this request's issuers/);
});

test('one person, one contribution: the same subject from a second wallet is refused', async () => {
  const subject = ethers.hexlify(ethers.randomBytes(32));
  const first = await contributor();
  assert.equal((await consentWith(first, await attest(issuer, first.w.address, { subject }))).status, 201);
  const second = await contributor();
  refused(await consentWith(second, await attest(issuer, second.w.address, { subject })), 409,
    'attestation-subject-taken', /already enrolled in this request from another wallet/);
  // The first wallet may consent again with its own attestation; a second subject on it is refused.
  assert.equal((await consentWith(first, await attest(issuer, first.w.address, { subject }))).status, 201);
  refused(await consentWith(first, await attest(issuer, first.w.address)), 409, 'attestation-subject-taken',
    /another subject/);
  // One wallet sending two subjects at once: one is taken, the other refused by name.
  const racer = await contributor();
  const both = await Promise.all([attest(issuer, racer.w.address), attest(issuer, racer.w.address)].map(async (a) => consentWith(racer, await a)));
  assert.deepEqual(both.map((r) => r.status).sort(), [201, 409], JSON.stringify(both.map((r) => r.body)));
  assert.equal(both.find((r) => r.status === 409).body.type, 'urn:cohort:problem:attestation-subject-taken');
  // The researcher's view of the request names nobody and no subject.
  const seen = JSON.stringify((await api(srv.base, 'GET', `/v1/requests/${request.id}`, { token: rtoken })).body);
  for (const who of [first.address, second.address]) assert.ok(!seen.includes(who.slice(2)));
  assert.ok(!seen.includes(subject.slice(2)));
});

test('a request naming no EAS domain takes the operator\'s; a schema with arrays is refused on its field', async () => {
  const bad = await api(srv.base, 'POST', '/v1/requests', { token: rtoken, json: {
    title: 'x', purpose: PURPOSE, schema, privacy: { mode: 'k-anonymity', k: 2 }, reward: REWARD.toString(),
    min_contributors: 2, max_contributors: 4, closes_at: new Date(Date.now() + 3600e3).toISOString(), retention_days: 1,
    enrollment: { mode: 'attested', issuers: [issuer.address], schema: SCHEMA, subject: 'country' },
  } });
  // This operator names one (eas_contract): the request takes it.
  assert.equal(bad.status, 201, JSON.stringify(bad.body));
  assert.equal(bad.body.enrollment.eas.address, easAddress.toLowerCase());
  const wrong = await api(srv.base, 'POST', '/v1/requests/preview', { token: rtoken, json: {
    title: 'x', purpose: PURPOSE, schema, privacy: { mode: 'k-anonymity', k: 2 }, reward: REWARD.toString(),
    min_contributors: 2, max_contributors: 4, closes_at: new Date(Date.now() + 3600e3).toISOString(), retention_days: 1,
    enrollment: { mode: 'attested', issuers: [issuer.address], schema: 'bytes32[] subject', subject: 'subject' },
  } });
  assert.equal(wrong.status, 422, JSON.stringify(wrong.body));
  assert.match(wrong.body.detail, /enrollment.schema: field 1/);
});

// The CLI: its own terms check agrees on an attested request, and --attestation sends the file.
test('cohort contribute sends an attestation file with the consent', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'coh-attested-'));
  const rec = join(dir, 'record.json'), file = join(dir, 'attestation.json');
  try {
    const { key, token } = await cliContributor(srv, dir, PURPOSE);
    const me = new Wallet(`0x${readFileSync(key, 'utf8').trim()}`);
    writeFileSync(rec, JSON.stringify({ age: 51 }));
    const args = ['contribute', '--request', request.id, '--record', rec, '--url', srv.base, '--token', token, '--key', key];
    const without = await srv.cli(args);
    assert.notEqual(without.code, 0);
    assert.match(without.stderr, /attested contributors only/);
    writeFileSync(file, '{"sig": ');
    const broken = await srv.cli([...args, '--attestation', file]);
    assert.notEqual(broken.code, 0);
    assert.match(broken.stderr, /--attestation: .* is not a JSON attestation file/);
    writeFileSync(file, JSON.stringify(await attest(issuer, me.address)));
    const ok = await srv.cli([...args, '--attestation', file]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /attested contributors only: .* one contribution per subject\)$/m);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// An issuer whose attestations are signed for an EAS contract cohortd cannot ask (another chain)
// revokes them with a signed list; strangers and forged lists are refused.
test('an issuer-signed revocation list refuses a revoked attestation; only listed issuers, only their own signature', async () => {
  const foreign = { address: '0x4200000000000000000000000000000000000021', version: '1.3.0', chain_id: 10 };
  const r = await api(srv.base, 'POST', '/v1/requests', { token: rtoken, json: {
    title: 'Attested elsewhere', purpose: PURPOSE, schema, privacy: { mode: 'k-anonymity', k: 2 },
    reward: REWARD.toString(), min_contributors: 2, max_contributors: 10,
    closes_at: new Date(Date.now() + 3600e3).toISOString(), retention_days: 1,
    enrollment: { mode: 'attested', issuers: [issuer.address], schema: SCHEMA, subject: 'subject', eas: foreign },
  } });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  const req = r.body;
  const make = async (by, recipient) => {
    const data = new SchemaEncoder(SCHEMA).encodeData([
      { name: 'subject', type: 'bytes32', value: ethers.hexlify(ethers.randomBytes(32)) }, { name: 'country', type: 'string', value: 'DE' }]);
    const sig = await new Offchain({ address: foreign.address, version: foreign.version, chainId: 10n }, OffchainAttestationVersion.Version2)
      .signOffchainAttestation({ recipient, expirationTime: 0n, time: BigInt(Math.floor(Date.now() / 1000) - 60), revocable: true,
        schema: req.enrollment.schema_uid, refUID: ZERO_BYTES32, data }, by);
    return JSON.parse(JSON.stringify(sig, (k, v) => (typeof v === 'bigint' ? v.toString() : v)));
  };
  const consentTo = async (p, attestation) => {
    const t = await api(srv.base, 'GET', `/v1/requests/${req.id}/consents/me`, { token: p.token });
    const { domain, types, message } = t.body.typed_data;
    const { EIP712Domain, ...rest } = types;
    return api(srv.base, 'POST', `/v1/requests/${req.id}/consents`, { token: p.token,
      json: { signature: await p.w.signTypedData(domain, rest, message), attestation } });
  };
  const domain = { name: 'Cohort attestation revocations', version: '1' };
  const types = { Revocations: [{ name: 'issuer', type: 'address' }, { name: 'uids', type: 'bytes32[]' }, { name: 'time', type: 'uint64' }] };
  const list = async (by, about, uids) => {
    const message = { issuer: about, uids, time: Math.floor(Date.now() / 1000) };
    return api(srv.base, 'POST', '/v1/attestations/revocations', { json: { ...message, signature: await by.signTypedData(domain, types, message) } });
  };

  const kept = await contributor();
  const gone = await contributor();
  const a = await make(issuer, gone.w.address);
  // A stranger's key, for the issuer's uid: refused; a stranger listing its own: refused too.
  refused(await list(stranger, issuer.address, [a.uid]), 403, 'forbidden', /not the issuer's signature/);
  refused(await list(stranger, stranger.address, [a.uid]), 403, 'forbidden', /not an issuer any attested request lists/);
  // Refused means not stored: a stranger's keys cannot fill the table.
  assert.equal(superuserSql(process.env.COH_TEST_DATABASE_URL,
    `SELECT count(*) FROM attestation_revocations WHERE issuer = '${stranger.address.toLowerCase()}'`), '0');
  const bad = await api(srv.base, 'POST', '/v1/attestations/revocations', { json: { issuer: issuer.address, uids: ['0x12'], time: 1, signature: '0x00' } });
  assert.equal(bad.status, 422, JSON.stringify(bad.body));
  const ok = await list(issuer, issuer.address, [a.uid]);
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  assert.deepEqual(ok.body, { issuer: issuer.address.toLowerCase(), uids: 1, revoked_now: 1 });
  assert.equal((await list(issuer, issuer.address, [a.uid])).body.revoked_now, 0);
  refused(await consentTo(gone, a), 403, 'attestation-refused', /revoked this attestation \(its signed revocation list\)/);
  const keptAttestation = await make(issuer, kept.w.address);
  const fine = await consentTo(kept, keptAttestation);
  assert.equal(fine.status, 201, JSON.stringify(fine.body));
  // Revoked after the consent, before the record: the contribution is refused.
  assert.equal((await list(issuer, issuer.address, [keptAttestation.uid])).status, 200);
  refused(await contribute(srv.base, kept.token, req, { age: 33 }), 403, 'attestation-required', /expired or revoked since/);
});
