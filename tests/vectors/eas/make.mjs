#!/usr/bin/env node
// Writes offchain.json: EAS off-chain attestations (versions 1 and 2) signed by the
// @ethereum-attestation-service/eas-sdk package, with what the SDK computes of them (uid,
// signer, schema UID), for the C verifier's unit test (tests/unit/crypto/test_crypto_eas.c).
// Fixed keys, times and salts, so running it again writes the same file.
import { createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';
import { Wallet } from 'ethers';
const require = createRequire(import.meta.url);
const { Offchain, OffchainAttestationVersion, SchemaEncoder, SchemaRegistry, ZERO_BYTES32, ZERO_ADDRESS } =
  require('@ethereum-attestation-service/eas-sdk');

const issuer = new Wallet('0x' + '4c'.repeat(32));
const recipient = '0x' + 'a1'.repeat(20);
const schemaDef = 'bytes32 subject,uint16 birth_year,string country,bool smoker,address clinic,int32 delta';
const schemaUid = SchemaRegistry.getSchemaUID(schemaDef, ZERO_ADDRESS, true);
const enc = new SchemaEncoder(schemaDef);
const data = enc.encodeData([
  { name: 'subject', type: 'bytes32', value: '0x' + '5e'.repeat(32) },
  { name: 'birth_year', type: 'uint16', value: 1984 },
  { name: 'country', type: 'string', value: 'DE' },
  { name: 'smoker', type: 'bool', value: false },
  { name: 'clinic', type: 'address', value: '0x' + 'c1'.repeat(20) },
  { name: 'delta', type: 'int32', value: -7 },
]);
const cases = [];
for (const [version, evm] of [[1, '1.0.1'], [2, '1.3.0']]) {
  const config = { address: '0x4200000000000000000000000000000000000021', version: evm, chainId: 10n };
  const off = new Offchain(config, version);
  const att = await off.signOffchainAttestation({
    recipient, expirationTime: 1900000000n, time: 1700000000n, revocable: true,
    schema: schemaUid, refUID: ZERO_BYTES32, data, salt: '0x' + '5a'.repeat(32),
  }, issuer);
  if (!off.verifyOffchainAttestationSignature(issuer.address, att)) throw new Error('sdk does not verify');
  cases.push({ version, domain: { address: config.address, version: evm, chain_id: 10 },
    attestation: JSON.parse(JSON.stringify({ sig: att, signer: issuer.address },
      (k, v) => (typeof v === 'bigint' ? v.toString() : v))),
    uid: att.uid, signer: issuer.address.toLowerCase() });
}
writeFileSync(new URL('./offchain.json', import.meta.url), JSON.stringify({
  note: 'made by make.mjs with @ethereum-attestation-service/eas-sdk',
  schema: schemaDef, schema_uid: schemaUid, revocable: true, resolver: ZERO_ADDRESS,
  decoded: { subject: '0x' + '5e'.repeat(32), birth_year: '1984', country: 'DE', smoker: 'false',
    clinic: '0x' + 'c1'.repeat(20), delta: '-7' },
  cases }, null, 1) + '\n');
