/*
 * consent: Cohort's Consent typed data without JSON, for the hot paths that build or check
 * many consents (a request's contributors). The digest is the EIP-712 one, so it must (and
 * is tested to) equal what coh_crypto_eip712_hash gives for the same JSON a wallet signs.
 */
#include "crypto/crypto.h"

#include <stdio.h>
#include <string.h>

/* ---- Consent: fixed layout, no JSON ------------------------------------------------------ */

#define CONSENT_TYPE_V1                                                                            \
    "Consent(bytes32 requestId,bytes32 fieldsHash,string purpose,uint256 reward,uint64 "           \
    "expiry,address contributor)"
#define CONSENT_TYPE_V2                                                                            \
    "Consent(bytes32 requestId,bytes32 termsHash,string purpose,string privacy,uint256 reward,"    \
    "uint64 expiry,address contributor)"
#define DOMAIN_TYPE                                                                                \
    "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"

static void put_string(coh_crypto_keccak *st, const char *s)
{
    uint8_t word[32];
    s = s ? s : "";
    coh_crypto_keccak256(word, s, strlen(s));
    coh_crypto_keccak_update(st, word, 32);
}

void coh_crypto_consent_hash(uint8_t digest[32], uint8_t domain_separator[32],
                             uint8_t struct_hash[32], uint64_t chain_id,
                             const uint8_t verifying_contract[20], const coh_crypto_consent *c)
{
    uint8_t word[32], d[32], sh[32];
    coh_crypto_keccak st;
    int v2 = c->version == 2;

    coh_crypto_keccak_init(&st);
    coh_crypto_keccak256(word, DOMAIN_TYPE, strlen(DOMAIN_TYPE));
    coh_crypto_keccak_update(&st, word, 32);
    put_string(&st, "Cohort");
    put_string(&st, v2 ? "2" : "1");
    coh_u256_from_u64(word, chain_id);
    coh_crypto_keccak_update(&st, word, 32);
    memset(word, 0, 12);
    memcpy(word + 12, verifying_contract, 20);
    coh_crypto_keccak_update(&st, word, 32);
    coh_crypto_keccak_final(&st, d);

    coh_crypto_keccak_init(&st);
    if (v2)
        coh_crypto_keccak256(word, CONSENT_TYPE_V2, strlen(CONSENT_TYPE_V2));
    else
        coh_crypto_keccak256(word, CONSENT_TYPE_V1, strlen(CONSENT_TYPE_V1));
    coh_crypto_keccak_update(&st, word, 32);
    coh_crypto_keccak_update(&st, c->request_id, 32);
    coh_crypto_keccak_update(&st, v2 ? c->terms_hash : c->fields_hash, 32);
    put_string(&st, c->purpose);
    if (v2)
        put_string(&st, c->privacy);
    coh_crypto_keccak_update(&st, c->reward, 32);
    coh_u256_from_u64(word, c->expiry);
    coh_crypto_keccak_update(&st, word, 32);
    memset(word, 0, 12);
    memcpy(word + 12, c->contributor, 20);
    coh_crypto_keccak_update(&st, word, 32);
    coh_crypto_keccak_final(&st, sh);

    if (digest) {
        coh_crypto_keccak_init(&st);
        coh_crypto_keccak_update(&st, "\x19\x01", 2);
        coh_crypto_keccak_update(&st, d, 32);
        coh_crypto_keccak_update(&st, sh, 32);
        coh_crypto_keccak_final(&st, digest);
    }
    if (domain_separator)
        memcpy(domain_separator, d, 32);
    if (struct_hash)
        memcpy(struct_hash, sh, 32);
}

static json_t *member(const char *name, const char *type)
{
    return json_pack("{s:s,s:s}", "name", name, "type", type);
}

json_t *coh_crypto_consent_typed_data(uint64_t chain_id, const uint8_t verifying_contract[20],
                                      const coh_crypto_consent *c)
{
    int v2 = c->version == 2;
    char vc[COH_ADDR_HEX_SIZE], who[COH_ADDR_HEX_SIZE], rid[COH_HASH_HEX_SIZE], hash[COH_HASH_HEX_SIZE], reward[COH_U256_DEC_SIZE], expiry[24];
    /* docs/API.md: addresses lowercase, integers (chainId, expiry) JSON numbers, the uint256
     * reward a decimal string. */
    coh_hex_encode(vc, verifying_contract, 20, 1);
    coh_hex_encode(who, c->contributor, 20, 1);
    coh_hex_encode(rid, c->request_id, 32, 1);
    coh_hex_encode(hash, v2 ? c->terms_hash : c->fields_hash, 32, 1);
    coh_u256_to_dec(reward, c->reward);
    /* A uint64 beyond JSON's exact integers (2^53 - 1; no real expiry) stays a decimal string. */
    snprintf(expiry, sizeof expiry, "%llu", (unsigned long long)c->expiry);
    const char *hash_name = v2 ? "termsHash" : "fieldsHash";

    /* Members in the type's order: a wallet shows them, and encodeType depends on it. */
    json_t *type = json_pack("[o,o,o]", member("requestId", "bytes32"),
                             member(hash_name, "bytes32"), member("purpose", "string"));
    json_t *msg = json_pack("{s:s,s:s,s:s}", "requestId", rid, hash_name, hash, "purpose",
                            c->purpose ? c->purpose : "");
    if (!type || !msg)
        goto oom;
    if (v2 && (json_array_append_new(type, member("privacy", "string")) ||
               json_object_set_new(msg, "privacy", json_string(c->privacy ? c->privacy : ""))))
        goto oom;
    if (json_array_append_new(type, member("reward", "uint256")) ||
        json_array_append_new(type, member("expiry", "uint64")) ||
        json_array_append_new(type, member("contributor", "address")) ||
        json_object_set_new(msg, "reward", json_string(reward)) ||
        json_object_set_new(msg, "expiry",
                            c->expiry <= 9007199254740991ULL ? json_integer((json_int_t)c->expiry)
                                                             : json_string(expiry)) ||
        json_object_set_new(msg, "contributor", json_string(who)))
        goto oom;
    return json_pack("{s:{s:[o,o,o,o],s:o},s:s,s:{s:s,s:s,s:I,s:s},s:o}", "types", "EIP712Domain",
                     member("name", "string"), member("version", "string"),
                     member("chainId", "uint256"), member("verifyingContract", "address"),
                     "Consent", type, "primaryType", "Consent", "domain", "name", "Cohort",
                     "version", v2 ? "2" : "1", "chainId", (json_int_t)chain_id,
                     "verifyingContract", vc, "message", msg);
oom:
    json_decref(type);
    json_decref(msg);
    return NULL;
}
