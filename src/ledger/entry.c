/*
 * entry: the ledger entry's canonical encoding (documented in ledger.h), its hash, seal
 * (hash + sign) and verification, the money model's account rules, and uint256 arithmetic.
 * Invariants: the encoding is a pure function of the entry's fields, so any verifier that
 * follows ledger.h gets the same hash; nothing here allocates or touches the database.
 * Load: one encode + keccak + sign per posting (~30 us, dominated by secp256k1).
 */
#include "crypto/crypto.h"
#include "ledger/ledger.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[] = {NULL,     "deposit",    "escrow", "reward",
                                         "refund", "withdrawal", "claim",  "key_rotation",
                                         "pool"};

const char *coh_ledger_kind_name(int kind)
{
    return kind >= 1 && kind <= COH_LEDGER_KIND_MAX ? kind_names[kind] : NULL;
}

int coh_ledger_kind_parse(const char *name)
{
    for (int k = 1; name && k <= COH_LEDGER_KIND_MAX; k++)
        if (strcmp(name, kind_names[k]) == 0)
            return k;
    return 0;
}

/* ---- account rules ----------------------------------------------------------------- */

/* Returns 1 when s is a well-formed account of that kind (accounts.c). */
static int account_is(const char *s, int kind)
{
    int k;
    return coh_ledger_account_parse(s, &k, NULL) == 0 && k == kind;
}

/* The owner of a well-formed account ("" when it has none or is malformed). */
static const char *account_owner(const char *s)
{
    const char *o;
    return coh_ledger_account_parse(s, NULL, &o) == 0 ? o : "";
}

static int printable(const char *s)
{
    for (; *s; s++)
        if (*s < 0x20 || *s > 0x7e)
            return 0;
    return 1;
}

int coh_ledger_entry_check(const coh_ledger_entry *e, coh_err *err)
{
    const char *kn = coh_ledger_kind_name(e->kind);
    if (!kn)
        return coh_err_set(err, COH_ERR_INVALID, "unknown entry kind %d", e->kind);
    const struct {
        const char *name, *v;
    } strs[] = {{"debit", e->debit},
                {"credit", e->credit},
                {"ref_request", e->ref_request},
                {"ref_contribution", e->ref_contribution},
                {"ref_anchor", e->ref_anchor},
                {"ref_tx", e->ref_tx},
                {"idempotency_key", e->idempotency_key}};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
        if (strnlen(strs[i].v, COH_LEDGER_STR_MAX + 1) > COH_LEDGER_STR_MAX)
            return coh_err_set(err, COH_ERR_INVALID, "%s is longer than %d bytes", strs[i].name,
                               COH_LEDGER_STR_MAX);
        if (!printable(strs[i].v))
            return coh_err_set(err, COH_ERR_INVALID, "%s must be printable ASCII", strs[i].name);
    }
    if (!e->idempotency_key[0])
        return coh_err_set(err, COH_ERR_INVALID, "idempotency_key must not be empty");
    if (strcmp(e->debit, e->credit) == 0)
        return coh_err_set(err, COH_ERR_INVALID, "debit and credit are the same account");
    int zero = coh_u256_is_zero(e->amount);
    if (e->kind == COH_LEDGER_KEY_ROTATION ? !zero : zero)
        return coh_err_set(err, COH_ERR_INVALID, "amount must be %s for %s",
                           e->kind == COH_LEDGER_KEY_ROTATION ? "0" : "greater than 0", kn);
    const char *d = e->debit, *c = e->credit;
    int ok = 0;
    switch (e->kind) {
    case COH_LEDGER_DEPOSIT:
        ok = account_is(d, COH_LEDGER_ACCOUNT_CHAIN) && account_is(c, COH_LEDGER_ACCOUNT_AVAILABLE);
        break;
    case COH_LEDGER_ESCROW:
        ok =
            account_is(d, COH_LEDGER_ACCOUNT_AVAILABLE) && account_is(c, COH_LEDGER_ACCOUNT_ESCROW);
        break;
    case COH_LEDGER_REWARD:
        /* Wave 1: one entry per contributor; wave 2: one per release into the pool, naming
         * the count and the root of its private credits instead of anyone. */
        ok = account_is(d, COH_LEDGER_ACCOUNT_ESCROW) &&
             (account_is(c, COH_LEDGER_ACCOUNT_PAYABLE) ||
              (account_is(c, COH_LEDGER_ACCOUNT_POOL) &&
               coh_ledger_credits_ref_parse(e->ref_contribution, NULL, NULL) == 0));
        break;
    case COH_LEDGER_REFUND:
        ok =
            account_is(d, COH_LEDGER_ACCOUNT_ESCROW) && account_is(c, COH_LEDGER_ACCOUNT_AVAILABLE);
        break;
    case COH_LEDGER_WITHDRAWAL:
        /* Only to the same researcher's payable account. */
        ok = account_is(d, COH_LEDGER_ACCOUNT_AVAILABLE) &&
             ((account_is(c, COH_LEDGER_ACCOUNT_PAYABLE) &&
               strcmp(account_owner(d), account_owner(c)) == 0) ||
              account_is(c, COH_LEDGER_ACCOUNT_POOL));
        break;
    case COH_LEDGER_CLAIM:
        ok =
            (account_is(d, COH_LEDGER_ACCOUNT_PAYABLE) || account_is(d, COH_LEDGER_ACCOUNT_POOL)) &&
            account_is(c, COH_LEDGER_ACCOUNT_CHAIN);
        break;
    case COH_LEDGER_POOL:
        ok = account_is(d, COH_LEDGER_ACCOUNT_PAYABLE) && account_is(c, COH_LEDGER_ACCOUNT_POOL);
        break;
    case COH_LEDGER_KEY_ROTATION:
        ok = account_is(d, COH_LEDGER_ACCOUNT_SIGNER) && account_is(c, COH_LEDGER_ACCOUNT_SIGNER);
        break;
    }
    if (!ok)
        return coh_err_set(err, COH_ERR_INVALID,
                           "accounts '%s' -> '%s' are not allowed for a %s entry", d, c, kn);
    return 0;
}

int coh_ledger_credits_ref_parse(const char *ref, uint64_t *count, uint8_t root[32])
{
    char *end;
    if (!ref || ref[0] < '1' || ref[0] > '9')
        return COH_ERR_INVALID;
    unsigned long long n = strtoull(ref, &end, 10);
    uint8_t r[32];
    if (end[0] != ':' || strlen(end + 1) != 66 || coh_hex_decode_exact(r, 32, end + 1) != 0 ||
        strncmp(end + 1, "0x", 2) != 0)
        return COH_ERR_INVALID;
    if (count)
        *count = n;
    if (root)
        memcpy(root, r, 32);
    return 0;
}

void coh_ledger_credits_ref_format(char out[96], uint64_t count, const uint8_t root[32])
{
    char hex[COH_HASH_HEX_SIZE];
    coh_hex_encode(hex, root, 32, 1);
    snprintf(out, 96, "%llu:%s", (unsigned long long)count, hex);
}

void coh_ledger_credit_leaf(uint8_t out[32], const uint8_t address[20], const uint8_t amount[32],
                            const uint8_t salt[32])
{
    uint8_t buf[96] = {0};
    memcpy(buf + 12, address, 20);
    memcpy(buf + 32, amount, 32);
    memcpy(buf + 64, salt, 32);
    coh_crypto_keccak256(out, buf, sizeof buf);
}

/* ---- encoding ------------------------------------------------------------------------ */

static void be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

int coh_ledger_entry_encode(uint8_t *out, size_t *out_len, const coh_ledger_entry *e)
{
    *out_len = 0;
    memcpy(out, "COHLEDG1", 8);
    be64(out + 8, e->seq);
    out[16] = (uint8_t)e->kind;
    be64(out + 17, (uint64_t)e->created_us);
    memcpy(out + 25, e->amount, 32);
    memcpy(out + 57, e->prev_hash, 32);
    size_t n = 89;
    const char *strs[] = {e->debit,      e->credit, e->ref_request,    e->ref_contribution,
                          e->ref_anchor, e->ref_tx, e->idempotency_key};
    for (size_t i = 0; i < 7; i++) {
        size_t len = strnlen(strs[i], COH_LEDGER_STR_MAX + 1);
        if (len > COH_LEDGER_STR_MAX)
            return COH_ERR_INVALID;
        out[n] = (uint8_t)(len >> 8);
        out[n + 1] = (uint8_t)len;
        memcpy(out + n + 2, strs[i], len);
        n += 2 + len;
    }
    *out_len = n;
    return 0;
}

int coh_ledger_entry_hash(uint8_t out[32], const coh_ledger_entry *e)
{
    uint8_t buf[COH_LEDGER_ENCODING_MAX];
    size_t n;
    int rc = coh_ledger_entry_encode(buf, &n, e);
    if (rc) {
        memset(out, 0, 32);
        return rc;
    }
    coh_crypto_keccak256(out, buf, n);
    return 0;
}

int coh_ledger_entry_seal(coh_ledger_entry *e, const coh_secbuf *seckey)
{
    int rc = coh_ledger_entry_hash(e->hash, e);
    if (!rc)
        rc = coh_crypto_sign(e->signature, seckey, e->hash);
    if (!rc)
        rc = coh_crypto_address_from_seckey(e->signer, seckey);
    if (rc) {
        memset(e->hash, 0, 32);
        memset(e->signature, 0, 65);
        memset(e->signer, 0, 20);
    }
    return rc;
}

int coh_ledger_entry_verify(const coh_ledger_entry *e, coh_err *err)
{
    uint8_t h[32], addr[20];
    char want[COH_HASH_HEX_SIZE], got[COH_HASH_HEX_SIZE];
    if (coh_ledger_entry_hash(h, e))
        return coh_err_set(err, COH_ERR_INVALID, "entry fields cannot be encoded");
    if (memcmp(h, e->hash, 32) != 0) {
        coh_hex_encode(want, e->hash, 32, 1);
        coh_hex_encode(got, h, 32, 1);
        return coh_err_set(err, COH_ERR_CRYPTO,
                           "hash mismatch: stored %s, fields hash to %s (content was altered)",
                           want, got);
    }
    int rc = coh_crypto_recover(addr, e->hash, e->signature, 65);
    if (rc)
        return coh_err_set(err, COH_ERR_CRYPTO, "signature invalid: %s", coh_crypto_strerror(rc));
    if (memcmp(addr, e->signer, 20) != 0) {
        char a[COH_ADDR_HEX_SIZE], b[COH_ADDR_HEX_SIZE];
        coh_crypto_address_format(a, e->signer);
        coh_crypto_address_format(b, addr);
        return coh_err_set(err, COH_ERR_CRYPTO,
                           "signature forged: signer is %s but the signature recovers to %s", a, b);
    }
    return 0;
}

int coh_ledger_entry_same_content(const coh_ledger_entry *a, const coh_ledger_entry *b)
{
    return a->kind == b->kind && strcmp(a->debit, b->debit) == 0 &&
           strcmp(a->credit, b->credit) == 0 && memcmp(a->amount, b->amount, 32) == 0 &&
           strcmp(a->ref_request, b->ref_request) == 0 &&
           strcmp(a->ref_contribution, b->ref_contribution) == 0 &&
           strcmp(a->ref_anchor, b->ref_anchor) == 0 && strcmp(a->ref_tx, b->ref_tx) == 0 &&
           strcmp(a->idempotency_key, b->idempotency_key) == 0;
}
