// Seals a record on this device: crypto_box_seal(JSON record, request's X25519 public key),
// as 0x hex (docs/API.md: byte strings are 0x hex). Only the sealed bytes are ever sent.
import sodium from 'libsodium-wrappers';

export async function seal(record, publicKeyHex) {
  await sodium.ready;
  const pk = sodium.from_hex(publicKeyHex.replace(/^0x/, ''));
  if (pk.length !== sodium.crypto_box_PUBLICKEYBYTES) throw new Error('The request has no valid encryption key, so the record cannot be sealed.');
  const plain = sodium.from_string(JSON.stringify(record));
  const sealed = sodium.crypto_box_seal(plain, pk);
  sodium.memzero(plain);
  return { sealed: `0x${sodium.to_hex(sealed)}`, bytes: sealed.length };
}
