/*
 * eas: Ethereum Attestation Service off-chain attestations (versions 1 and 2), read from the
 * JSON the EAS SDK and easscan export. The digest is computed under the domain the caller
 * expects (the request's EAS contract, version and chain), never the file's: a file signed for
 * another contract or chain recovers another signer, and says so when its domain disagrees.
 * The message is rebuilt from its typed members only (version 1 files carry an unsigned salt
 * that is ignored), so nothing unsigned reaches the caller.
 */
#include "crypto/crypto.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EAS_DOMAIN_NAME "EAS Attestation"
#define EAS_DATA_MAX (64 * 1024) /* an attestation's data; real ones are a few hundred bytes */

/* The typed members of Attest in order; version 2 adds salt. */
static const char *const MEMBERS[] = {"version",  "schema",    "recipient", "time", "expirationTime",
                                      "revocable", "refUID",    "data",      "salt"};
static const char *const TYPES[] = {"uint16", "bytes32", "address", "uint64", "uint64",
                                    "bool",   "bytes32", "bytes",   "bytes32"};

void coh_crypto_eas_clear(coh_crypto_eas_attestation *a)
{
    free(a->data);
    memset(a, 0, sizeof *a);
}

static int bad(coh_err *err, const char *member, const char *what)
{
    return coh_err_set(err, COH_ERR_INVALID, "attestation.message.%s %s", member, what);
}

/* A JSON integer or decimal string (as the SDK writes bigints) up to max. */
static int read_uint(uint64_t *out, const json_t *v, uint64_t max)
{
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        if (i < 0 || (uint64_t)i > max)
            return -1;
        *out = (uint64_t)i;
        return 0;
    }
    const char *s = json_string_value(v);
    if (!s || !*s || strlen(s) > 20 || (s[0] == '0' && s[1]))
        return -1;
    uint64_t n = 0;
    for (const char *c = s; *c; c++) {
        if (*c < '0' || *c > '9' || n > (UINT64_MAX - (uint64_t)(*c - '0')) / 10)
            return -1;
        n = n * 10 + (uint64_t)(*c - '0');
    }
    if (n > max)
        return -1;
    *out = n;
    return 0;
}

/* "0x" + exactly 2n hex digits. */
static int read_hex(uint8_t *out, size_t n, const json_t *v)
{
    const char *s = json_string_value(v);
    return s && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') && strlen(s) == 2 + 2 * n &&
                   coh_hex_decode_exact(out, n, s) == 0
               ? 0
               : -1;
}

/* The signature as {v, r, s} or as 65 bytes of hex: r || s || v. */
static int read_signature(uint8_t sig[65], const json_t *v)
{
    if (json_is_string(v))
        return read_hex(sig, 65, v);
    uint64_t rv;
    if (!json_is_object(v) || read_hex(sig, 32, json_object_get(v, "r")) ||
        read_hex(sig + 32, 32, json_object_get(v, "s")) ||
        read_uint(&rv, json_object_get(v, "v"), 28))
        return -1;
    sig[64] = (uint8_t)rv;
    return 0;
}

/* The file's domain, when it has one, must be the one the caller expects. */
static int check_domain(const json_t *fd, const coh_crypto_eas_domain *d, coh_err *err)
{
    if (!fd)
        return 0;
    const char *name = json_string_value(json_object_get(fd, "name"));
    const char *version = json_string_value(json_object_get(fd, "version"));
    uint64_t chain = 0;
    uint8_t contract[20];
    const char *vc = json_string_value(json_object_get(fd, "verifyingContract"));
    char want[COH_ADDR_HEX_SIZE];
    coh_hex_encode(want, d->contract, 20, 1);
    if (!json_is_object(fd) || !name || strcmp(name, EAS_DOMAIN_NAME) != 0 || !version ||
        read_uint(&chain, json_object_get(fd, "chainId"), UINT64_MAX) || !vc ||
        coh_crypto_address_parse(contract, vc) != 0)
        return coh_err_set(err, COH_ERR_INVALID,
                           "attestation.domain is not an EAS Attestation domain");
    if (strcmp(version, d->version) != 0 || chain != d->chain_id ||
        memcmp(contract, d->contract, 20) != 0)
        return coh_err_set(err, COH_ERR_INVALID,
                           "the attestation was signed for the EAS contract %.42s version %.15s on "
                           "chain %" PRIu64 "; this request accepts %s version %s on chain %" PRIu64,
                           vc, version, chain, want, d->version, d->chain_id);
    return 0;
}

/* The EIP-712 digest of a's message under d: the JSON path of eip712.c with our own types. */
static int digest_of(uint8_t out[32], const coh_crypto_eas_attestation *a, const json_t *msg,
                     const coh_crypto_eas_domain *d, coh_err *err)
{
    size_t n = a->version == 2 ? 9 : 8;
    json_t *fields = json_array(), *message = json_object();
    for (size_t i = 0; fields && message && i < n; i++) {
        json_array_append_new(fields, json_pack("{s:s,s:s}", "name", MEMBERS[i], "type", TYPES[i]));
        json_object_set(message, MEMBERS[i], json_object_get(msg, MEMBERS[i]));
    }
    char contract[COH_ADDR_HEX_SIZE], chain[24];
    coh_hex_encode(contract, d->contract, 20, 1);
    snprintf(chain, sizeof chain, "%" PRIu64, d->chain_id);
    json_t *td = json_pack("{s:{s:o},s:s,s:{s:s,s:s,s:s,s:s},s:o}", "types", "Attest", fields,
                           "primaryType", "Attest", "domain", "name", EAS_DOMAIN_NAME, "version",
                           d->version, "chainId", chain, "verifyingContract", contract,
                           "message", message);
    if (!td)
        return coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    coh_err e = {0};
    int rc = coh_crypto_eip712_hash(out, NULL, NULL, td, &e);
    json_decref(td);
    if (rc)
        return coh_err_set(err, COH_ERR_INVALID, "attestation.%s", e.msg);
    return 0;
}

/* The uid as the EAS SDK computes it (Offchain.getOffchainUID, versions 1 and 2). */
static void uid_of(uint8_t out[32], const coh_crypto_eas_attestation *a, const char *schema_text)
{
    uint8_t b[8], zero[20] = {0};
    coh_crypto_keccak st;
    coh_crypto_keccak_init(&st);
    b[0] = (uint8_t)(a->version >> 8);
    b[1] = (uint8_t)a->version;
    coh_crypto_keccak_update(&st, b, 2);
    /* The SDK packs the schema's 0x text as bytes, not the 32 bytes it names. */
    coh_crypto_keccak_update(&st, schema_text, strlen(schema_text));
    coh_crypto_keccak_update(&st, a->recipient, 20);
    coh_crypto_keccak_update(&st, zero, 20); /* attester: always zero off chain */
    for (int pass = 0; pass < 2; pass++) {
        uint64_t t = pass ? a->expiration_time : a->time;
        for (int i = 0; i < 8; i++)
            b[i] = (uint8_t)(t >> (56 - 8 * i));
        coh_crypto_keccak_update(&st, b, 8);
    }
    b[0] = (uint8_t)(a->revocable ? 1 : 0);
    coh_crypto_keccak_update(&st, b, 1);
    coh_crypto_keccak_update(&st, a->ref_uid, 32);
    coh_crypto_keccak_update(&st, a->data, a->data_len);
    if (a->version == 2)
        coh_crypto_keccak_update(&st, a->salt, 32);
    memset(b, 0, 4); /* uint32 nonce 0 */
    coh_crypto_keccak_update(&st, b, 4);
    coh_crypto_keccak_final(&st, out);
}

int coh_crypto_eas_read(coh_crypto_eas_attestation *out, const json_t *file,
                        const coh_crypto_eas_domain *d, coh_err *err)
{
    memset(out, 0, sizeof *out);
    const json_t *sig = json_is_object(json_object_get(file, "sig")) ? json_object_get(file, "sig")
                                                                      : file;
    const json_t *msg = json_object_get(sig, "message");
    if (!json_is_object(msg))
        return coh_err_set(err, COH_ERR_INVALID,
                           "attestation must be an EAS off-chain attestation: {sig: {message, "
                           "signature, ...}} as the EAS SDK or easscan export it");
    uint64_t u;
    if (read_uint(&u, json_object_get(msg, "version"), 0xffff))
        return coh_err_set(err, COH_ERR_INVALID,
                           "attestation.message.version is missing: legacy (version 0) "
                           "attestations are not accepted; ask the issuer for version 1 or 2");
    if (u != 1 && u != 2)
        return coh_err_set(err, COH_ERR_INVALID,
                           "attestation.message.version %" PRIu64 " is not supported (1 or 2)", u);
    out->version = (unsigned)u;
    const char *key;
    const json_t *val;
    json_object_foreach((json_t *)msg, key, val)
    {
        size_t i = 0;
        while (i < 9 && strcmp(key, MEMBERS[i]) != 0)
            i++;
        if (i == 9) {
            coh_crypto_eas_clear(out);
            return coh_err_set(err, COH_ERR_INVALID,
                               "attestation.message.%.40s is not a member of an EAS attestation",
                               key);
        }
    }
    const char *schema_text = json_string_value(json_object_get(msg, "schema"));
    const char *recipient = json_string_value(json_object_get(msg, "recipient"));
    const char *data = json_string_value(json_object_get(msg, "data"));
    const json_t *rev = json_object_get(msg, "revocable");
    int rc = 0;
    /* The uid hashes the schema as text: only one spelling (the SDK's, lowercase) is taken,
     * or another spelling of a revoked attestation would get another uid. */
    if (read_hex(out->schema, 32, json_object_get(msg, "schema")) || schema_text[1] != 'x' ||
        strspn(schema_text + 2, "0123456789abcdef") != 64)
        rc = bad(err, "schema", "must be 0x and 64 lowercase hex digits");
    else if (!recipient || coh_crypto_address_parse(out->recipient, recipient) != 0)
        rc = bad(err, "recipient", "must be an address");
    else if (read_uint(&out->time, json_object_get(msg, "time"), UINT64_MAX))
        rc = bad(err, "time", "must be a uint64");
    else if (read_uint(&out->expiration_time, json_object_get(msg, "expirationTime"), UINT64_MAX))
        rc = bad(err, "expirationTime", "must be a uint64 (0: never)");
    else if (!json_is_boolean(rev))
        rc = bad(err, "revocable", "must be true or false");
    else if (read_hex(out->ref_uid, 32, json_object_get(msg, "refUID")))
        rc = bad(err, "refUID", "must be 0x and 64 hex digits");
    else if (out->version == 2 && read_hex(out->salt, 32, json_object_get(msg, "salt")))
        rc = bad(err, "salt", "must be 0x and 64 hex digits (version 2)");
    else if (!data || strncmp(data, "0x", 2) != 0 || strlen(data) % 2 ||
             strlen(data) - 2 > 2 * EAS_DATA_MAX)
        rc = bad(err, "data", "must be 0x hex of at most 64 KiB");
    if (rc) {
        coh_crypto_eas_clear(out);
        return rc;
    }
    out->revocable = json_is_true(rev);
    out->data_len = (strlen(data) - 2) / 2;
    out->data = malloc(out->data_len ? out->data_len : 1);
    if (!out->data) {
        coh_crypto_eas_clear(out);
        return coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    }
    if (out->data_len && coh_hex_decode_exact(out->data, out->data_len, data) != 0) {
        coh_crypto_eas_clear(out);
        return bad(err, "data", "must be 0x hex of at most 64 KiB");
    }
    uint8_t digest[32], sigb[65], given[32];
    if ((rc = check_domain(json_object_get(sig, "domain"), d, err)) != 0 ||
        (rc = digest_of(digest, out, msg, d, err)) != 0) {
        coh_crypto_eas_clear(out);
        return rc;
    }
    if (read_signature(sigb, json_object_get(sig, "signature"))) {
        coh_crypto_eas_clear(out);
        return coh_err_set(err, COH_ERR_INVALID,
                           "attestation.signature must be {v, r, s} or 65 bytes of 0x hex");
    }
    int sr = coh_crypto_recover(out->signer, digest, sigb, 65);
    if (sr) {
        coh_crypto_eas_clear(out);
        return coh_err_set(err, COH_ERR_INVALID, "attestation.signature: %s",
                           coh_crypto_strerror(sr));
    }
    uid_of(out->uid, out, schema_text);
    const json_t *uid = json_object_get(sig, "uid");
    if (uid && (read_hex(given, 32, uid) || memcmp(given, out->uid, 32) != 0)) {
        coh_crypto_eas_clear(out);
        return coh_err_set(err, COH_ERR_INVALID,
                           "attestation.uid is not the uid of its message: the attestation was "
                           "changed after it was made");
    }
    return 0;
}

void coh_crypto_eas_schema_uid(uint8_t out[32], const char *schema, const uint8_t resolver[20],
                               int revocable)
{
    uint8_t r = revocable ? 1 : 0;
    coh_crypto_keccak st;
    coh_crypto_keccak_init(&st);
    coh_crypto_keccak_update(&st, schema, strlen(schema));
    coh_crypto_keccak_update(&st, resolver, 20);
    coh_crypto_keccak_update(&st, &r, 1);
    coh_crypto_keccak_final(&st, out);
}

int coh_crypto_eas_revocations_digest(uint8_t digest[32], const uint8_t issuer[20],
                                      const uint8_t (*uids)[32], size_t n, uint64_t time,
                                      coh_err *err)
{
    char addr[COH_ADDR_HEX_SIZE], t[24], hex[COH_HASH_HEX_SIZE];
    coh_hex_encode(addr, issuer, 20, 1);
    snprintf(t, sizeof t, "%" PRIu64, time);
    json_t *list = json_array();
    for (size_t i = 0; list && i < n; i++) {
        coh_hex_encode(hex, uids[i], 32, 1);
        json_array_append_new(list, json_string(hex));
    }
    json_t *td = list ? json_pack("{s:{s:[{s:s,s:s},{s:s,s:s},{s:s,s:s}]},s:s,s:{s:s,s:s},"
                                  "s:{s:s,s:o,s:s}}",
                                  "types", "Revocations", "name", "issuer", "type", "address",
                                  "name", "uids", "type", "bytes32[]", "name", "time", "type",
                                  "uint64", "primaryType", "Revocations", "domain", "name",
                                  COH_CRYPTO_REVOCATIONS_DOMAIN, "version", "1", "message",
                                  "issuer", addr, "uids", list, "time", t)
                      : NULL;
    if (!td)
        return coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    int rc = coh_crypto_eip712_hash(digest, NULL, NULL, td, err);
    json_decref(td);
    return rc;
}
