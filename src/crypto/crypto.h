/*
 * crypto: Ethereum-compatible identity and signing for Cohort, plus the small libsodium
 * wrappers that protect request keys at rest.
 *
 *   Keccak-256 (Ethereum padding), secp256k1 keys/addresses/EIP-55, recoverable ECDSA,
 *   EIP-191 personal_sign, EIP-712 typed data (generic JSON and the Consent type),
 *   RFC 8785 canonical JSON, did:pkh, Sign-In with Ethereum (EIP-4361), sealed boxes and
 *   master-key wrapping.
 *
 * Conventions: functions return 0 on success or a negative code (enum coh_crypto_err, or a
 * core COH_ERR_* code) which coh_crypto_strerror() names. Fixed-size values are
 * caller-allocated arrays; on failure outputs are zeroed. Private keys live only in
 * coh_secbuf (sodium_malloc) memory. All functions are thread-safe; the secp256k1 context
 * is created (and randomized) once, on first use.
 */
#ifndef COH_CRYPTO_H
#define COH_CRYPTO_H

#include "core/core.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define COH_CRYPTO_HASH_BYTES 32
#define COH_CRYPTO_ADDRESS_BYTES 20
#define COH_CRYPTO_ADDRESS_CHARS 42 /* "0x" + 40 hex, without NUL */
#define COH_CRYPTO_SECKEY_BYTES 32
#define COH_CRYPTO_PUBKEY_BYTES 65 /* 0x04 || X || Y */
#define COH_CRYPTO_SIG_BYTES 65    /* r || s || v, v = 27 or 28 */
#define COH_CRYPTO_EAS_VERSION_MAX 16 /* an EAS contract version with its NUL */
#define COH_CRYPTO_DID_MAX 96      /* "did:pkh:eip155:" + 20 digits + ":" + 42, with NUL */

enum coh_crypto_err {
    COH_CRYPTO_EHEX = -100,      /* not hex, or wrong length */
    COH_CRYPTO_ELENGTH = -101,   /* input of the wrong size */
    COH_CRYPTO_ESECKEY = -102,   /* private key is not a valid secp256k1 scalar */
    COH_CRYPTO_ESIG = -103,      /* signature r/s not valid */
    COH_CRYPTO_EHIGHS = -104,    /* s in the upper half of the order (EIP-2) */
    COH_CRYPTO_EV = -105,        /* v not in {0, 1, 27, 28} */
    COH_CRYPTO_ERECOVER = -106,  /* no public key recovers from the signature */
    COH_CRYPTO_EMISMATCH = -107, /* signature valid but by another address */
    COH_CRYPTO_EADDRESS = -108,  /* not "0x" + 40 hex digits */
    COH_CRYPTO_ECHECKSUM = -109, /* mixed-case address with a wrong EIP-55 checksum */
    COH_CRYPTO_ETYPED = -110,    /* EIP-712 typed data malformed */
    COH_CRYPTO_ERANGE = -111,    /* integer out of range for its type */
    COH_CRYPTO_EJSON = -112,     /* value cannot be canonicalized (RFC 8785) */
    COH_CRYPTO_EDID = -113,      /* not a did:pkh:eip155 DID */
    COH_CRYPTO_EDECRYPT = -114,  /* ciphertext forged, truncated or under another key */
    COH_CRYPTO_ECONTEXT = -115,  /* key-wrapping context not 1..8 chars */
    COH_CRYPTO_ETIME = -116,     /* not an RFC 3339 date-time */
    /* EIP-4361 parsing: which part of the message is malformed */
    COH_SIWE_EFORMAT = -130,     /* message structure (lines, header, trailing data) */
    COH_SIWE_EDOMAIN = -131,     /* domain not an RFC 3986 authority */
    COH_SIWE_EADDRESS = -132,    /* address line not 0x + 40 hex */
    COH_SIWE_ECHECKSUM = -133,   /* address not in EIP-55 checksummed form */
    COH_SIWE_ESTATEMENT = -134,  /* statement has forbidden characters */
    COH_SIWE_EURI = -135,        /* URI missing or not RFC 3986 */
    COH_SIWE_EVERSION = -136,    /* version is not "1" */
    COH_SIWE_ECHAIN_ID = -137,   /* chain id missing or not a decimal uint64 */
    COH_SIWE_ENONCE = -138,      /* nonce not at least 8 alphanumerics */
    COH_SIWE_EISSUED_AT = -139,  /* issued-at missing or not RFC 3339 */
    COH_SIWE_EEXPIRATION = -140, /* expiration-time not RFC 3339 */
    COH_SIWE_ENOT_BEFORE = -141, /* not-before not RFC 3339 */
    COH_SIWE_EREQUEST_ID = -142, /* request-id has forbidden characters */
    COH_SIWE_ERESOURCES = -143,  /* a resource is not an RFC 3986 URI */
    /* EIP-4361 verification */
    COH_SIWE_EDOMAIN_MISMATCH = -150, /* message domain is not the expected one */
    COH_SIWE_EURI_MISMATCH = -151,    /* message URI is not the expected one */
    COH_SIWE_ECHAIN_MISMATCH = -152,  /* message chain id is not the expected one */
    COH_SIWE_EEXPIRED = -153,         /* now is at or past expiration-time (+ skew) */
    COH_SIWE_ENOT_YET_VALID = -154,   /* now is before not-before (- skew) */
    COH_SIWE_EISSUED_FUTURE = -155,   /* issued-at later than now + skew */
    COH_SIWE_ESIGNATURE = -156,       /* signature malformed (length, v, high s, r/s) */
    COH_SIWE_ESIGNER = -157,          /* signature recovers to another address */
};

/* Names any coh_crypto_err or core COH_ERR_* code; never NULL. */
const char *coh_crypto_strerror(int code);

/* ---- Keccak-256 (original Keccak padding 0x01, as Ethereum uses; not SHA3-256) --------- */
typedef struct coh_crypto_keccak {
    uint64_t lanes[25]; /* sponge state */
    uint8_t buf[136];   /* partial block */
    size_t buf_len;     /* 0..135 */
} coh_crypto_keccak;

void coh_crypto_keccak_init(coh_crypto_keccak *st);
void coh_crypto_keccak_update(coh_crypto_keccak *st, const void *data, size_t len);
/* Writes the digest and wipes the state. */
void coh_crypto_keccak_final(coh_crypto_keccak *st, uint8_t out[32]);
void coh_crypto_keccak256(uint8_t out[32], const void *data, size_t len);

/* ---- secp256k1 keys, addresses, signatures ---------------------------------------------- */
/* New random private key (libsodium CSPRNG, invalid scalars redrawn) in secure memory. */
COH_WUR int coh_crypto_seckey_generate(coh_secbuf **out);
/* Private key from 64 hex chars (optional 0x); rejects invalid scalars. */
COH_WUR int coh_crypto_seckey_from_hex(coh_secbuf **out, const char *hex);
/* Private key from 32 bytes; rejects invalid scalars. The caller wipes its copy. */
COH_WUR int coh_crypto_seckey_from_bytes(coh_secbuf **out, const uint8_t in[32]);
/* Uncompressed public key (0x04 || X || Y) of a 32-byte private key. */
COH_WUR int coh_crypto_pubkey_from_seckey(uint8_t out[65], const coh_secbuf *seckey);
/* Address = keccak256(X || Y)[12:] of an uncompressed (65-byte) public key. */
COH_WUR int coh_crypto_address_from_pubkey(uint8_t out[20], const uint8_t pubkey[65]);
COH_WUR int coh_crypto_address_from_seckey(uint8_t out[20], const coh_secbuf *seckey);

/* EIP-55 mixed-case form: out gets "0x" + 40 chars + NUL (43 bytes). */
void coh_crypto_address_format(char out[COH_ADDR_HEX_SIZE], const uint8_t addr[20]);
/*
 * Parses "0x" + 40 hex. All-lowercase and all-uppercase are accepted as unchecksummed;
 * mixed case must match EIP-55. Returns 0, COH_CRYPTO_EADDRESS or COH_CRYPTO_ECHECKSUM.
 */
COH_WUR int coh_crypto_address_parse(uint8_t out[20], const char *text);
/* As above but text must be exactly the EIP-55 form (as EIP-4361 requires). */
COH_WUR int coh_crypto_address_parse_eip55(uint8_t out[20], const char *text);

/* Recoverable ECDSA over a 32-byte hash: RFC 6979 nonce, low s, sig = r || s || v(27/28). */
COH_WUR int coh_crypto_sign(uint8_t sig[65], const coh_secbuf *seckey, const uint8_t hash[32]);
/*
 * Recovers the signer's address from sig (sig_len must be 65; v in {0,1,27,28}; s must be in
 * the lower half). Errors: ELENGTH, EV, EHIGHS, ESIG, ERECOVER.
 */
COH_WUR int coh_crypto_recover(uint8_t addr[20], const uint8_t hash[32], const uint8_t *sig,
                               size_t sig_len);
/* 0 when sig over hash recovers to addr; COH_CRYPTO_EMISMATCH or a recover error else. */
COH_WUR int coh_crypto_verify(const uint8_t hash[32], const uint8_t *sig, size_t sig_len,
                              const uint8_t addr[20]);

/* ---- key files: 64 hex chars + newline, mode 0600 --------------------------------------- */
/* Writes seckey to a new file (O_CREAT|O_EXCL, 0600); never overwrites. */
COH_WUR int coh_crypto_seckey_save(const char *path, const coh_secbuf *seckey, coh_err *err);
/* Loads a key file; fails if it is not a regular file of mode 0600 (or stricter). */
COH_WUR int coh_crypto_seckey_load(coh_secbuf **out, const char *path, coh_err *err);

/* ---- EIP-191 personal_sign -------------------------------------------------------------- */
/* keccak256("\x19Ethereum Signed Message:\n" || decimal(len) || msg) */
void coh_crypto_personal_hash(uint8_t out[32], const void *msg, size_t len);

/* ---- EIP-712 typed data ----------------------------------------------------------------- */
/*
 * Hashes eth_signTypedData_v4 JSON {types, primaryType, domain, message}. If types has no
 * EIP712Domain it is derived from the fields present in domain (name, version, chainId,
 * verifyingContract, salt, in that order). Integers may be JSON integers or decimal / 0x-hex
 * strings (a leading '-' for intN). Fields not declared by the type are rejected.
 * digest = keccak256(0x19 0x01 || domain_separator || struct_hash); any out may be NULL.
 * Errors: COH_CRYPTO_ETYPED, ERANGE, EADDRESS, ECHECKSUM, EHEX, with details in err.
 */
COH_WUR int coh_crypto_eip712_hash(uint8_t digest[32], uint8_t domain_separator[32],
                                   uint8_t struct_hash[32], const json_t *typed_data, coh_err *err);
/* hashStruct(type_name, value) under types ({Name: [{name, type}, ...]}). */
COH_WUR int coh_crypto_eip712_struct_hash(uint8_t out[32], const json_t *types,
                                          const char *type_name, const json_t *value, coh_err *err);
/* encodeType(type_name): the type followed by its referenced types sorted. malloc'd. */
COH_WUR int coh_crypto_eip712_encode_type(char **out, const json_t *types, const char *type_name,
                                          coh_err *err);

/*
 * Cohort's consent, in domain {name:"Cohort", version, chainId, verifyingContract} where the
 * domain's version is the type's:
 *   2: Consent(bytes32 requestId,bytes32 termsHash,string purpose,string privacy,
 *      uint256 reward,uint64 expiry,address contributor), what new consents sign;
 *   1: Consent(bytes32 requestId,bytes32 fieldsHash,string purpose,uint256 reward,
 *      uint64 expiry,address contributor), wave 1's, still verified for stored consents.
 */
typedef struct coh_crypto_consent {
    unsigned version;        /* 1 or 2 (0 reads as 1, so a zeroed wave-1 struct keeps its meaning) */
    uint8_t request_id[32];
    uint8_t fields_hash[32]; /* v1: keccak256(RFC 8785 JSON of the request schema) */
    uint8_t terms_hash[32];  /* v2: keccak256(RFC 8785 JSON of the request's terms) */
    const char *purpose;     /* UTF-8, NUL-terminated; borrowed */
    const char *privacy;     /* v2: the terms' human-readable summary; borrowed */
    uint8_t reward[32];      /* uint256, big-endian */
    uint64_t expiry;         /* unix seconds */
    uint8_t contributor[20];
} coh_crypto_consent;

/* digest / domain_separator / struct_hash as for coh_crypto_eip712_hash (NULL allowed). */
void coh_crypto_consent_hash(uint8_t digest[32], uint8_t domain_separator[32],
                             uint8_t struct_hash[32], uint64_t chain_id,
                             const uint8_t verifying_contract[20], const coh_crypto_consent *c);
/* The consent as eth_signTypedData_v4 JSON for a wallet (new reference), or NULL on OOM. */
json_t *coh_crypto_consent_typed_data(uint64_t chain_id, const uint8_t verifying_contract[20],
                                      const coh_crypto_consent *c);

/* ---- EAS off-chain attestations ------------------------------------------------------- */
/*
 * An attestation in the Ethereum Attestation Service's off-chain format, versions 1 and 2:
 * EIP-712 typed data in domain {name: "EAS Attestation", version: the EAS contract's version,
 * chainId, verifyingContract: the EAS contract}, primary type
 *   1: Attest(uint16 version,bytes32 schema,address recipient,uint64 time,uint64 expirationTime,
 *      bool revocable,bytes32 refUID,bytes data)
 *   2: the same followed by bytes32 salt.
 * Its uid is keccak256 of the packed fields as the EAS SDK computes it (the schema written as
 * its 0x text, attester zero, a trailing uint32 0; version 2 with the salt).
 */
typedef struct coh_crypto_eas_domain {
    char version[COH_CRYPTO_EAS_VERSION_MAX]; /* e.g. "1.3.0" */
    uint64_t chain_id;
    uint8_t contract[20];
} coh_crypto_eas_domain;

typedef struct coh_crypto_eas_attestation {
    unsigned version; /* 1 or 2 */
    uint8_t schema[32];
    uint8_t recipient[20];
    uint64_t time;
    uint64_t expiration_time; /* 0: never */
    int revocable;
    uint8_t ref_uid[32];
    uint8_t *data; /* malloc'd: the ABI-encoded fields of the schema */
    size_t data_len;
    uint8_t salt[32]; /* version 2 */
    uint8_t uid[32];
    uint8_t signer[20]; /* who signed it, recovered */
} coh_crypto_eas_attestation;

/*
 * Reads an attestation file as the EAS SDK and easscan export it ({sig: {...}, signer} or the
 * bare sig object: message, signature {v, r, s} or 65 bytes of hex, uid), recomputes its
 * EIP-712 digest under d (not under the file's own domain, which must agree when present),
 * recovers the signer and recomputes the uid (a file whose uid differs is refused). Nothing is
 * trusted from the file but the message and the signature. COH_ERR_INVALID with a detail
 * naming the member; *out is cleared on error. Free with coh_crypto_eas_clear.
 */
COH_WUR int coh_crypto_eas_read(coh_crypto_eas_attestation *out, const json_t *file,
                                const coh_crypto_eas_domain *d, coh_err *err);
void coh_crypto_eas_clear(coh_crypto_eas_attestation *a);
/*
 * An issuer's signed revocation list, for attestations whose EAS contract Cohort cannot ask:
 * EIP-712 Revocations(address issuer,bytes32[] uids,uint64 time) in the domain
 * {name: "Cohort attestation revocations", version: "1"} (no chain: an issuer's revocation
 * holds wherever its attestation is shown). digest as coh_crypto_eip712_hash computes it.
 */
#define COH_CRYPTO_REVOCATIONS_DOMAIN "Cohort attestation revocations"
COH_WUR int coh_crypto_eas_revocations_digest(uint8_t digest[32], const uint8_t issuer[20],
                                              const uint8_t (*uids)[32], size_t n,
                                              uint64_t time, coh_err *err);
/* A schema's UID as the EAS schema registry computes it:
 * keccak256(abi.encodePacked(string schema, address resolver, bool revocable)). */
void coh_crypto_eas_schema_uid(uint8_t out[32], const char *schema, const uint8_t resolver[20],
                               int revocable);

/* ---- RFC 8785 JSON canonicalization ------------------------------------------------------ */
/*
 * Serializes v canonically: object keys sorted by UTF-16 code units, no whitespace, strings
 * escaped as ECMAScript JSON.stringify does, numbers in ECMAScript shortest form. Integers
 * beyond +-2^53 are refused (COH_CRYPTO_EJSON) because they do not survive I-JSON parsers.
 * *out is malloc'd and NUL-terminated; *out_len excludes the NUL (out_len may be NULL).
 */
COH_WUR int coh_crypto_jcs_serialize(char **out, size_t *out_len, const json_t *v);
/* keccak256(JCS(v)): Cohort's termsHash of a request's terms (fieldsHash of a schema in v1). */
COH_WUR int coh_crypto_jcs_keccak(uint8_t out[32], const json_t *v);

/* ---- did:pkh ----------------------------------------------------------------------------- */
/* "did:pkh:eip155:<chain_id>:<EIP-55 address>" into out (COH_CRYPTO_DID_MAX bytes). */
void coh_crypto_did_format(char out[COH_CRYPTO_DID_MAX], uint64_t chain_id, const uint8_t addr[20]);
/* Parses a did:pkh:eip155 DID; the address part follows coh_crypto_address_parse rules. */
COH_WUR int coh_crypto_did_parse(uint64_t *chain_id, uint8_t addr[20], const char *did);

/* ---- Sign-In with Ethereum (EIP-4361) ---------------------------------------------------- */
/* RFC 3339 date-time to unix milliseconds (fraction truncated below 1 ms). */
COH_WUR int coh_crypto_rfc3339_parse(int64_t *unix_ms, const char *text);

/* A parsed message. String fields point into memory owned by the struct; NULL if absent. */
typedef struct coh_crypto_siwe_msg {
    const char *scheme; /* optional "https" in "https://domain wants you ..." */
    const char *domain; /* RFC 3986 authority */
    const char *address_text;
    uint8_t address[20];
    const char *statement;
    const char *uri;
    const char *version; /* always "1" */
    uint64_t chain_id;
    const char *nonce; /* the server checks it is one it issued, once */
    const char *issued_at;
    int64_t issued_at_ms;
    const char *expiration_time;
    int64_t expiration_time_ms; /* meaningful when expiration_time != NULL */
    const char *not_before;
    int64_t not_before_ms; /* meaningful when not_before != NULL */
    const char *request_id;
    const char **resources;
    size_t n_resources;
    const char *text; /* the exact message bytes, for signature checks */
    size_t text_len;
    char *mem_; /* private */
} coh_crypto_siwe_msg;

/* Parses text strictly by the EIP-4361 ABNF. On failure *out is cleared. */
COH_WUR int coh_crypto_siwe_parse(coh_crypto_siwe_msg *out, const char *text, size_t len);
/* Frees what parse allocated and zeroes the struct; safe on a zeroed struct. */
void coh_crypto_siwe_msg_clear(coh_crypto_siwe_msg *m);

/*
 * Writes the EIP-4361 text of the fields of m exactly as the `siwe` library's
 * prepareMessage() does. Read: scheme (optional), domain, address (bytes; written in EIP-55
 * form), statement (optional), uri, version (NULL: "1"), chain_id, nonce, issued_at,
 * expiration_time, not_before, request_id (optional), resources/n_resources; other fields
 * are ignored, so a parsed message formats back to its own text.
 * Out: *out, malloc'd and NUL-terminated; *out_len (may be NULL) excludes the NUL.
 * Returns 0; COH_ERR_INVALID if a required field is NULL; COH_SIWE_EFORMAT if a field holds
 * a line break; the COH_SIWE_E* parse code of an invalid field; COH_ERR_NOMEM.
 */
COH_WUR int coh_crypto_siwe_format(char **out, size_t *out_len, const coh_crypto_siwe_msg *m);

typedef struct coh_crypto_siwe_expect {
    const char *domain;  /* must equal the message domain exactly; required */
    const char *uri;     /* must equal the message URI; NULL: not checked */
    uint64_t chain_id;   /* must equal the message chain id */
    int64_t now_ms;      /* current unix time, milliseconds */
    int64_t skew_ms;     /* clock difference tolerated on each time check, >= 0 */
    int check_issued_at; /* nonzero: reject issued-at later than now + skew */
} coh_crypto_siwe_expect;

/*
 * Checks domain, URI, chain id, times, then that sig (EIP-191 over the message text)
 * recovers to the message address. Returns 0 or a COH_SIWE_E* code.
 */
COH_WUR int coh_crypto_siwe_verify(const coh_crypto_siwe_msg *m, const uint8_t *sig, size_t sig_len,
                                   const coh_crypto_siwe_expect *expect);

/* ---- sealed boxes and master-key wrapping (libsodium) ------------------------------------ */
#define COH_CRYPTO_BOX_PUBLICKEYBYTES 32
#define COH_CRYPTO_BOX_SECRETKEYBYTES 32
#define COH_CRYPTO_BOX_SEALBYTES 48 /* crypto_box_SEALBYTES */
#define COH_CRYPTO_WRAP_OVERHEAD 40 /* 24-byte nonce + 16-byte tag */

/* X25519 key pair for a data request; the secret key goes to secure memory. */
COH_WUR int coh_crypto_box_keypair(uint8_t pk[32], coh_secbuf **sk);
/* out gets len + COH_CRYPTO_BOX_SEALBYTES bytes. */
COH_WUR int coh_crypto_box_seal(uint8_t *out, const uint8_t *msg, size_t len, const uint8_t pk[32]);
/* Opens a sealed box into new secure memory; COH_CRYPTO_EDECRYPT on any failure. */
COH_WUR int coh_crypto_box_open(coh_secbuf **out, const uint8_t *c, size_t c_len,
                                const uint8_t pk[32], const coh_secbuf *sk);
/*
 * Encrypts secret under a subkey of the 32-byte master key derived with crypto_kdf for
 * context (1..8 chars, e.g. "reqkey", "ledger"), so a blob cannot be opened under another
 * context. out gets nonce || ciphertext: len + COH_CRYPTO_WRAP_OVERHEAD bytes.
 */
COH_WUR int coh_crypto_wrap(uint8_t *out, const coh_secbuf *master, const char *context,
                            const uint8_t *secret, size_t len);
COH_WUR int coh_crypto_unwrap(coh_secbuf **out, const coh_secbuf *master, const char *context,
                              const uint8_t *in, size_t in_len);
/*
 * The same bound to associated data (XChaCha20-Poly1305, the same overhead): the blob opens
 * only with the same ad, e.g. the id of the row holding it. Use a context of its own: a blob of
 * coh_crypto_wrap and one of coh_crypto_wrap_ad are not interchangeable.
 */
COH_WUR int coh_crypto_wrap_ad(uint8_t *out, const coh_secbuf *master, const char *context,
                               const uint8_t *secret, size_t len, const uint8_t *ad,
                               size_t ad_len);
COH_WUR int coh_crypto_unwrap_ad(coh_secbuf **out, const coh_secbuf *master, const char *context,
                                 const uint8_t *in, size_t in_len, const uint8_t *ad,
                                 size_t ad_len);

#endif
