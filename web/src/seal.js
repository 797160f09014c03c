// Seals a record on this device: crypto_box_seal(JSON record, request's X25519 public key),
// base64. Only the sealed bytes are ever sent.
import sodium from 'libsodium-wrappers';

export async function seal(record, publicKeyHex) {
  await sodium.ready;
  const pk = sodium.from_hex(publicKeyHex.replace(/^0x/, ''));
  if (pk.length !== sodium.crypto_box_PUBLICKEYBYTES) throw new Error('The request has no valid encryption key, so the record cannot be sealed.');
  const plain = sodium.from_string(JSON.stringify(record));
  const sealed = sodium.crypto_box_seal(plain, pk);
  sodium.memzero(plain);
  return { sealed: sodium.to_base64(sealed, sodium.base64_variants.ORIGINAL), bytes: sealed.length };
}
