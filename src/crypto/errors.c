/* errors: one sentence per crypto error code, safe to show to an API client. */
#include "crypto/crypto.h"

const char *coh_crypto_strerror(int code)
{
    switch (code) {
    case COH_CRYPTO_EHEX:
        return "not valid hex of the expected length";
    case COH_CRYPTO_ELENGTH:
        return "input has the wrong length";
    case COH_CRYPTO_ESECKEY:
        return "private key is not a valid secp256k1 scalar";
    case COH_CRYPTO_ESIG:
        return "signature r or s out of range";
    case COH_CRYPTO_EHIGHS:
        return "signature s is in the upper half of the curve order (EIP-2)";
    case COH_CRYPTO_EV:
        return "signature v must be 0, 1, 27 or 28";
    case COH_CRYPTO_ERECOVER:
        return "no public key recovers from the signature";
    case COH_CRYPTO_EMISMATCH:
        return "signature is by another address";
    case COH_CRYPTO_EADDRESS:
        return "address must be 0x followed by 40 hex digits";
    case COH_CRYPTO_ECHECKSUM:
        return "address has a wrong EIP-55 checksum";
    case COH_CRYPTO_ETYPED:
        return "malformed EIP-712 typed data";
    case COH_CRYPTO_ERANGE:
        return "integer out of range for its type";
    case COH_CRYPTO_EJSON:
        return "value cannot be serialized as RFC 8785 canonical JSON";
    case COH_CRYPTO_EDID:
        return "not a did:pkh:eip155 identifier";
    case COH_CRYPTO_EDECRYPT:
        return "decryption failed";
    case COH_CRYPTO_ECONTEXT:
        return "key context must be 1 to 8 characters";
    case COH_CRYPTO_ETIME:
        return "not an RFC 3339 date-time";
    case COH_SIWE_EFORMAT:
        return "SIWE message is not laid out as EIP-4361 requires";
    case COH_SIWE_EDOMAIN:
        return "SIWE domain is not a valid RFC 3986 authority";
    case COH_SIWE_EADDRESS:
        return "SIWE address is not 0x followed by 40 hex digits";
    case COH_SIWE_ECHECKSUM:
        return "SIWE address is not EIP-55 checksummed";
    case COH_SIWE_ESTATEMENT:
        return "SIWE statement contains forbidden characters";
    case COH_SIWE_EURI:
        return "SIWE URI is missing or not a valid RFC 3986 URI";
    case COH_SIWE_EVERSION:
        return "SIWE version must be 1";
    case COH_SIWE_ECHAIN_ID:
        return "SIWE chain id is missing or not a number";
    case COH_SIWE_ENONCE:
        return "SIWE nonce must be at least 8 letters or digits";
    case COH_SIWE_EISSUED_AT:
        return "SIWE issued-at is missing or not an RFC 3339 date-time";
    case COH_SIWE_EEXPIRATION:
        return "SIWE expiration-time is not an RFC 3339 date-time";
    case COH_SIWE_ENOT_BEFORE:
        return "SIWE not-before is not an RFC 3339 date-time";
    case COH_SIWE_EREQUEST_ID:
        return "SIWE request-id contains forbidden characters";
    case COH_SIWE_ERESOURCES:
        return "SIWE resource is not a valid RFC 3986 URI";
    case COH_SIWE_EDOMAIN_MISMATCH:
        return "SIWE domain does not match this server";
    case COH_SIWE_EURI_MISMATCH:
        return "SIWE URI does not match this server";
    case COH_SIWE_ECHAIN_MISMATCH:
        return "SIWE chain id does not match this server";
    case COH_SIWE_EEXPIRED:
        return "SIWE message has expired";
    case COH_SIWE_ENOT_YET_VALID:
        return "SIWE message is not yet valid";
    case COH_SIWE_EISSUED_FUTURE:
        return "SIWE issued-at is in the future";
    case COH_SIWE_ESIGNATURE:
        return "SIWE signature is malformed";
    case COH_SIWE_ESIGNER:
        return "SIWE signature is not by the message address";
    default:
        return coh_strerror(code);
    }
}
