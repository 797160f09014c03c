/*
 * walk: re-walks a ledger from its first entry, the core of `cohort verify`. For each entry
 * in turn it checks the sequence (no gap, no re-ordering), the link to the previous hash, the
 * hash of the canonical encoding (no altered field), and the signature (by the ledger key of
 * the time; key_rotation entries hand over to a new key), and it recomputes every account's
 * cumulative credits and debits so balances can be compared with what a server reports.
 * Invariant: after the first break the walk refuses further entries, so the reported break is
 * always the first one. Memory: one table slot per account (open addressing, grows at 50%).
 */
#include "crypto/crypto.h"
#include "ledger/ledger.h"

#include <stdlib.h>
#include <string.h>

struct slot {
    char *account; /* NULL: empty */
    uint8_t credited[32], debited[32];
};

struct coh_ledger_walk {
    uint8_t expected_signer[20];
    uint8_t signer[20]; /* signer of the time; valid when count > 0 */
    uint64_t count;     /* entries accepted */
    uint8_t last_hash[32];
    int broken;
    struct slot *slots;
    size_t cap, used; /* cap is a power of two */
};

static uint64_t fnv(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ULL;
    return h;
}

static struct slot *lookup(const coh_ledger_walk *w, const char *account)
{
    size_t i = (size_t)fnv(account) & (w->cap - 1);
    while (w->slots[i].account && strcmp(w->slots[i].account, account) != 0)
        i = (i + 1) & (w->cap - 1);
    return &w->slots[i];
}

static int grow(coh_ledger_walk *w)
{
    struct slot *old = w->slots;
    size_t old_cap = w->cap;
    w->cap = old_cap ? old_cap * 2 : 64;
    w->slots = calloc(w->cap, sizeof *w->slots);
    if (!w->slots) {
        w->slots = old;
        w->cap = old_cap;
        return COH_ERR_NOMEM;
    }
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].account)
            *lookup(w, old[i].account) = old[i];
    free(old);
    return 0;
}

static struct slot *account_get(coh_ledger_walk *w, const char *account)
{
    if ((w->used + 1) * 2 > w->cap && grow(w))
        return NULL;
    struct slot *s = lookup(w, account);
    if (!s->account) {
        if (!(s->account = strdup(account)))
            return NULL;
        w->used++;
    }
    return s;
}

int coh_ledger_walk_new(coh_ledger_walk **out, const uint8_t expected_signer[20])
{
    *out = NULL;
    coh_ledger_walk *w = calloc(1, sizeof *w);
    if (!w || grow(w)) {
        free(w);
        return COH_ERR_NOMEM;
    }
    memcpy(w->expected_signer, expected_signer, 20);
    *out = w;
    return 0;
}

void coh_ledger_walk_free(coh_ledger_walk *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->cap; i++)
        free(w->slots[i].account);
    free(w->slots);
    free(w);
}

uint64_t coh_ledger_walk_count(const coh_ledger_walk *w)
{
    return w->count;
}

static int brk(coh_ledger_walk *w, coh_err *err, const char *fmt, unsigned long long seq,
               const char *detail)
{
    w->broken = 1;
    return coh_err_set(err, COH_ERR_CRYPTO, fmt, seq, detail);
}

int coh_ledger_walk_add(coh_ledger_walk *w, const coh_ledger_entry *e, coh_err *err)
{
    if (w->broken)
        return coh_err_set(err, COH_ERR_CRYPTO, "the chain is already broken");
    uint64_t want = w->count + 1;
    char d[200];
    if (e->seq != want) {
        snprintf(d, sizeof d, "%llu", (unsigned long long)e->seq);
        w->broken = 1;
        return coh_err_set(err, COH_ERR_CRYPTO,
                           "break at seq %llu: expected entry seq %llu here but found seq %s "
                           "(an entry was removed or re-ordered)",
                           (unsigned long long)want, (unsigned long long)want, d);
    }
    uint8_t zero[32] = {0};
    const uint8_t *prev = w->count ? w->last_hash : zero;
    if (memcmp(e->prev_hash, prev, 32) != 0) {
        char a[COH_HASH_HEX_SIZE], b[COH_HASH_HEX_SIZE];
        coh_hex_encode(a, e->prev_hash, 32, 1);
        coh_hex_encode(b, prev, 32, 1);
        snprintf(d, sizeof d, "prev_hash is %.66s but the previous entry's hash is %.66s", a, b);
        return brk(w, err, "break at seq %llu: %s", (unsigned long long)e->seq, d);
    }
    coh_err e2 = {0};
    if (coh_ledger_entry_verify(e, &e2))
        return brk(w, err, "break at seq %llu: %s", (unsigned long long)e->seq, e2.msg);
    if (w->count && memcmp(e->signer, w->signer, 20) != 0) {
        char a[COH_ADDR_HEX_SIZE], b[COH_ADDR_HEX_SIZE];
        coh_crypto_address_format(a, e->signer);
        coh_crypto_address_format(b, w->signer);
        snprintf(d, sizeof d, "signed by %s but the ledger key at this point is %s", a, b);
        return brk(w, err, "break at seq %llu: %s", (unsigned long long)e->seq, d);
    }
    if (coh_ledger_entry_check(e, &e2))
        return brk(w, err, "break at seq %llu: %s", (unsigned long long)e->seq, e2.msg);
    if (!w->count)
        memcpy(w->signer, e->signer, 20); /* the first key; the end must lead to the published */
    if (e->kind == COH_LEDGER_KEY_ROTATION) {
        uint8_t from[20];
        const char *old = "", *fresh = "";
        if (coh_ledger_account_parse(e->debit, NULL, &old) != 0 ||
            coh_ledger_account_parse(e->credit, NULL, &fresh) != 0 ||
            coh_hex_decode_exact(from, 20, old) != 0 || memcmp(from, w->signer, 20) ||
            coh_hex_decode_exact(w->signer, 20, fresh) != 0)
            return brk(w, err, "break at seq %llu: %s", (unsigned long long)e->seq,
                       "key rotation does not start from the current ledger key");
    }
    struct slot *sd = account_get(w, e->debit);
    struct slot *sc = sd ? account_get(w, e->credit) : NULL;
    if (!sc)
        return coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    sd = lookup(w, e->debit); /* the table may have grown */
    if (coh_u256_add(sd->debited, sd->debited, e->amount) != 0 ||
        coh_u256_add(sc->credited, sc->credited, e->amount) != 0) {
        snprintf(d, sizeof d, "the totals of %.64s or %.64s exceed a uint256", e->debit, e->credit);
        return brk(w, err, "break at seq %llu: %s", (unsigned long long)e->seq, d);
    }
    if (strcmp(e->debit, COH_LEDGER_CHAIN_ACCOUNT) != 0 && coh_u256_cmp(sd->debited, sd->credited) > 0) {
        snprintf(d, sizeof d, "account %.128s goes negative", e->debit);
        return brk(w, err, "break at seq %llu: %s", (unsigned long long)e->seq, d);
    }
    memcpy(w->last_hash, e->hash, 32);
    w->count++;
    return 0;
}

int coh_ledger_walk_finish(coh_ledger_walk *w, coh_err *err)
{
    if (w->broken)
        return coh_err_set(err, COH_ERR_CRYPTO, "the chain is broken");
    if (w->count && memcmp(w->signer, w->expected_signer, 20) != 0) {
        char a[COH_ADDR_HEX_SIZE], b[COH_ADDR_HEX_SIZE];
        coh_crypto_address_format(a, w->signer);
        coh_crypto_address_format(b, w->expected_signer);
        return coh_err_set(err, COH_ERR_CRYPTO,
                           "the ledger is signed by %s, not by the published ledger address %s", a,
                           b);
    }
    return 0;
}

int coh_ledger_walk_account(const coh_ledger_walk *w, const char *account, uint8_t balance[32],
                            int *negative, uint8_t credited[32], uint8_t debited[32])
{
    struct slot *s = lookup(w, account);
    if (!s->account) {
        memset(balance, 0, 32);
        memset(credited, 0, 32);
        memset(debited, 0, 32);
        *negative = 0;
        return COH_ERR_NOTFOUND;
    }
    memcpy(credited, s->credited, 32);
    memcpy(debited, s->debited, 32);
    *negative = coh_u256_cmp(s->debited, s->credited) > 0;
    const uint8_t *hi = *negative ? s->debited : s->credited;
    const uint8_t *lo = *negative ? s->credited : s->debited;
    if (coh_u256_sub(balance, hi, lo) != 0) /* cannot happen: hi >= lo */
        memset(balance, 0, 32);
    return 0;
}

void coh_ledger_walk_accounts(const coh_ledger_walk *w, void (*fn)(const char *account, void *ctx),
                              void *ctx)
{
    for (size_t i = 0; i < w->cap; i++)
        if (w->slots[i].account)
            fn(w->slots[i].account, ctx);
}
