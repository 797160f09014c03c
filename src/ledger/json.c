/*
 * json: the ledger entry as the API publishes it and `cohort verify` reads it back. The
 * round trip entry -> JSON -> entry is exact (amount as a decimal string, created_us as an
 * integer, hashes and signature as 0x hex), so a verifier re-encodes exactly what was signed.
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

json_t *coh_ledger_entry_to_json(const coh_ledger_entry *e)
{
    char amount[COH_U256_DEC_SIZE], prev[COH_HASH_HEX_SIZE], hash[COH_HASH_HEX_SIZE],
        sig[COH_SIG_HEX_SIZE], signer[COH_ADDR_HEX_SIZE], when[40];
    coh_u256_to_dec(amount, e->amount);
    coh_hex_encode(prev, e->prev_hash, 32, 1);
    coh_hex_encode(hash, e->hash, 32, 1);
    coh_hex_encode(sig, e->signature, 65, 1);
    coh_crypto_address_format(signer, e->signer);
    int64_t us = e->created_us;
    time_t secs = (time_t)(us >= 0 ? us / 1000000 : (us - 999999) / 1000000);
    long frac = (long)(us - (int64_t)secs * 1000000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char date[24];
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when, sizeof when, "%s.%06ldZ", date, frac);
    const char *kind = coh_ledger_kind_name(e->kind);
    return json_pack("{s:I,s:s,s:s,s:s,s:s,s:{s:o,s:o,s:o,s:o},s:s,s:I,s:s,s:s,s:s,s:s,s:s}", "seq",
                     (json_int_t)e->seq, "kind", kind ? kind : "unknown", "debit", e->debit,
                     "credit", e->credit, "amount", amount, "refs", "request",
                     opt_str(e->ref_request), "contribution", opt_str(e->ref_contribution),
                     "anchor", opt_str(e->ref_anchor), "tx", opt_str(e->ref_tx), "created_at", when,
                     "created_us", (json_int_t)e->created_us, "idempotency_key", e->idempotency_key,
                     "prev_hash", prev, "hash", hash, "signature", sig, "signer", signer);
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
        (rc = get_str(out->ref_contribution, sizeof out->ref_contribution, refs, "contribution", 1,
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
