/*
 * json: the ledger entry as the API publishes it and `cohort verify` reads it back. The
 * round trip entry -> JSON -> entry is exact (amount as a decimal string, created_us as an
 * integer, hashes and signature as 0x hex), so a verifier re-encodes exactly what was signed.
 *
 * The encoding's ref_contribution string is published under the name of what it holds
 * (docs/API.md): refs.address, the wallet a claim or a wave-1 reward names ("0x" + 40
 * lowercase hex, as signed), or refs.credits {count, root}, a pooled reward's private credits
 * (signed as "<count>:<root>"). Anything else (none is written today) stays
 * refs.contribution, verbatim. The reader takes all three back to the same signed string.
 */
#include "crypto/crypto.h"
#include "ledger/ledger.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static json_t *opt_str(const char *s)
{
    return s[0] ? json_string(s) : json_null();
}

static int is_lower_address(const char *s)
{
    if (strncmp(s, "0x", 2) != 0 || strlen(s) != 42)
        return 0;
    for (const char *c = s + 2; *c; c++)
        if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f')))
            return 0;
    return 1;
}

/* The members naming ref_contribution: exactly one of address, credits, contribution is set
 * when it is not empty; address and credits are always present (null when unused). */
static json_t *refs_json(const coh_ledger_entry *e)
{
    json_t *address = json_null(), *credits = json_null();
    const char *rc = e->ref_contribution;
    uint64_t count;
    uint8_t root[32];
    char again[96], root_hex[67];
    int legacy = 0;
    if (!rc[0]) {
        /* none */
    } else if (is_lower_address(rc)) {
        json_decref(address);
        address = json_string(rc);
    } else if (coh_ledger_credits_ref_parse(rc, &count, root) == 0 &&
               (coh_ledger_credits_ref_format(again, count, root), strcmp(again, rc) == 0)) {
        coh_hex_encode(root_hex, root, 32, 1);
        json_decref(credits);
        credits = json_pack("{s:I,s:s}", "count", (json_int_t)count, "root", root_hex);
    } else {
        legacy = 1;
    }
    json_t *r =
        json_pack("{s:o,s:o,s:o,s:o,s:o}", "request", opt_str(e->ref_request), "address", address,
                  "credits", credits, "anchor", opt_str(e->ref_anchor), "tx", opt_str(e->ref_tx));
    if (r && legacy)
        json_object_set_new(r, "contribution", json_string(rc));
    return r;
}

json_t *coh_ledger_entry_to_json(const coh_ledger_entry *e)
{
    char amount[COH_U256_DEC_SIZE], prev[COH_HASH_HEX_SIZE], hash[COH_HASH_HEX_SIZE],
        sig[COH_SIG_HEX_SIZE], signer[COH_ADDR_HEX_SIZE], when[40];
    coh_u256_to_dec(amount, e->amount);
    coh_hex_encode(prev, e->prev_hash, 32, 1);
    coh_hex_encode(hash, e->hash, 32, 1);
    coh_hex_encode(sig, e->signature, 65, 1);
    coh_hex_encode(signer, e->signer, 20, 1);
    int64_t us = e->created_us;
    time_t secs = (time_t)(us >= 0 ? us / 1000000 : (us - 999999) / 1000000);
    long frac = (long)(us - (int64_t)secs * 1000000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char date[24];
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when, sizeof when, "%s.%06ldZ", date, frac);
    const char *kind = coh_ledger_kind_name(e->kind);
    return json_pack("{s:I,s:s,s:s,s:s,s:s,s:o,s:s,s:I,s:s,s:s,s:s,s:s,s:s}", "seq",
                     (json_int_t)e->seq, "kind", kind ? kind : "unknown", "debit", e->debit,
                     "credit", e->credit, "amount", amount, "refs", refs_json(e), "created_at",
                     when, "created_us", (json_int_t)e->created_us, "idempotency_key",
                     e->idempotency_key, "prev_hash", prev, "hash", hash, "signature", sig,
                     "signer", signer);
}

static int get_str(char *out, size_t cap, const json_t *o, const char *name, int optional,
                   coh_err *err)
{
    const json_t *v = json_object_get(o, name);
    if (optional && (!v || json_is_null(v))) {
        out[0] = '\0';
        return 0;
    }
    const char *s = json_string_value(v);
    if (!s)
        return coh_err_set(err, COH_ERR_INVALID, "entry member '%s' must be a string", name);
    if (strlen(s) >= cap)
        return coh_err_set(err, COH_ERR_INVALID, "entry member '%s' is too long", name);
    memcpy(out, s, strlen(s) + 1);
    return 0;
}

static int get_hex(uint8_t *out, size_t len, const json_t *o, const char *name, coh_err *err)
{
    const char *s = json_string_value(json_object_get(o, name));
    if (!s || coh_hex_decode_exact(out, len, s) != 0)
        return coh_err_set(err, COH_ERR_INVALID, "entry member '%s' must be %zu bytes of 0x hex",
                           name, len);
    return 0;
}

/* refs.address, refs.credits {count, root} or (verbatim) refs.contribution, back to the
 * signed string; at most one of them. */
static int get_ref_contribution(char *out, size_t cap, const json_t *refs, coh_err *err)
{
    const json_t *a = json_object_get(refs, "address"), *c = json_object_get(refs, "credits");
    int has_a = a && !json_is_null(a), has_c = c && !json_is_null(c);
    const json_t *legacy = json_object_get(refs, "contribution");
    if (has_a + has_c + (legacy && !json_is_null(legacy)) > 1)
        return coh_err_set(err, COH_ERR_INVALID,
                           "entry refs name more than one of address, credits, contribution");
    if (has_a)
        return get_str(out, cap, refs, "address", 0, err);
    if (has_c) {
        const json_t *n = json_object_get(c, "count");
        uint8_t root[32];
        char ref[96];
        if (!json_is_integer(n) || json_integer_value(n) < 1 ||
            coh_hex_decode_exact(root, 32, json_string_value(json_object_get(c, "root"))) != 0)
            return coh_err_set(err, COH_ERR_INVALID,
                               "entry member 'refs.credits' must be {count: integer >= 1, root: "
                               "32 bytes of 0x hex}");
        coh_ledger_credits_ref_format(ref, (uint64_t)json_integer_value(n), root);
        if (strlen(ref) >= cap)
            return coh_err_set(err, COH_ERR_INVALID, "entry member 'refs.credits' is too long");
        memcpy(out, ref, strlen(ref) + 1);
        return 0;
    }
    return get_str(out, cap, refs, "contribution", 1, err);
}

int coh_ledger_entry_from_json(coh_ledger_entry *out, const json_t *v, coh_err *err)
{
    memset(out, 0, sizeof *out);
    if (!json_is_object(v))
        return coh_err_set(err, COH_ERR_INVALID, "an entry must be a JSON object");
    json_t *seq = json_object_get(v, "seq"), *us = json_object_get(v, "created_us");
    if (!json_is_integer(seq) || json_integer_value(seq) < 1)
        return coh_err_set(err, COH_ERR_INVALID, "entry member 'seq' must be a positive integer");
    if (!json_is_integer(us))
        return coh_err_set(err, COH_ERR_INVALID, "entry member 'created_us' must be an integer");
    out->seq = (uint64_t)json_integer_value(seq);
    out->created_us = (int64_t)json_integer_value(us);
    out->kind = coh_ledger_kind_parse(json_string_value(json_object_get(v, "kind")));
    if (!out->kind)
        return coh_err_set(err, COH_ERR_INVALID, "entry %llu: unknown kind",
                           (unsigned long long)out->seq);
    const char *amount = json_string_value(json_object_get(v, "amount"));
    if (!amount || coh_u256_from_dec(out->amount, amount) != 0)
        return coh_err_set(err, COH_ERR_INVALID, "entry %llu: 'amount' must be a decimal string",
                           (unsigned long long)out->seq);
    const json_t *refs = json_object_get(v, "refs");
    const char *signer = json_string_value(json_object_get(v, "signer"));
    int rc;
    if ((rc = get_str(out->debit, sizeof out->debit, v, "debit", 0, err)) ||
        (rc = get_str(out->credit, sizeof out->credit, v, "credit", 0, err)) ||
        (rc = get_str(out->idempotency_key, sizeof out->idempotency_key, v, "idempotency_key", 0,
                      err)) ||
        (rc = get_str(out->ref_request, sizeof out->ref_request, refs, "request", 1, err)) ||
        (rc = get_ref_contribution(out->ref_contribution, sizeof out->ref_contribution, refs,
                                   err)) ||
        (rc = get_str(out->ref_anchor, sizeof out->ref_anchor, refs, "anchor", 1, err)) ||
        (rc = get_str(out->ref_tx, sizeof out->ref_tx, refs, "tx", 1, err)) ||
        (rc = get_hex(out->prev_hash, 32, v, "prev_hash", err)) ||
        (rc = get_hex(out->hash, 32, v, "hash", err)) ||
        (rc = get_hex(out->signature, 65, v, "signature", err))) {
        memset(out, 0, sizeof *out);
        return rc;
    }
    if (!signer || coh_crypto_address_parse(out->signer, signer) != 0) {
        memset(out, 0, sizeof *out);
        return coh_err_set(err, COH_ERR_INVALID, "entry member 'signer' must be an address");
    }
    return 0;
}
