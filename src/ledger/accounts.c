/*
 * accounts: the one home of the ledger's account names ("chain", "payable",
 * "available:<addr>", "escrow:<request>", "payable:<addr>", "signer:<addr>") and idempotency
 * keys ("escrow:<request>", "reward:<request>[:<addr>]", "refund:<request>",
 * "withdrawal:<owner>:<key>", "pool:<addr>:<credited>", "key-rotation:<addr>",
 * "<event>:<tx hash>/<ordinal>", "deposit:<nonce>"). Every module builds and splits them here.
 * Invariants: the bytes never change (they are hashed into signed entries); a name that does
 * not fit its buffer is refused, never truncated. Nothing here allocates.
 */
#include "ledger/ledger.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct {
    const char *name; /* whole name, or prefix when owned */
    int owned;
    size_t hexlen; /* hex digits after "0x" in the owner */
} account_kinds[COH_LEDGER_ACCOUNT_KIND_MAX + 1] = {
    [COH_LEDGER_ACCOUNT_CHAIN] = {COH_LEDGER_CHAIN_ACCOUNT, 0, 0},
    [COH_LEDGER_ACCOUNT_POOL] = {COH_LEDGER_POOL_ACCOUNT, 0, 0},
    [COH_LEDGER_ACCOUNT_AVAILABLE] = {"available:", 1, 40},
    [COH_LEDGER_ACCOUNT_ESCROW] = {"escrow:", 1, 64},
    [COH_LEDGER_ACCOUNT_PAYABLE] = {"payable:", 1, 40},
    [COH_LEDGER_ACCOUNT_SIGNER] = {"signer:", 1, 40},
};

const char *coh_ledger_account_prefix(int kind)
{
    return kind >= 1 && kind <= COH_LEDGER_ACCOUNT_KIND_MAX ? account_kinds[kind].name : NULL;
}

int coh_ledger_account_has_owner(int kind)
{
    return kind >= 1 && kind <= COH_LEDGER_ACCOUNT_KIND_MAX && account_kinds[kind].owned;
}

/* vsnprintf into out, refusing (out = "") what does not fit. */
__attribute__((format(printf, 5, 6))) static int build(char *out, size_t cap, coh_err *err,
                                                       const char *what, const char *fmt, ...)
{
    if (!out || cap == 0)
        return coh_err_set(err, COH_ERR_INVALID, "%s: no room", what);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, cap, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cap) {
        out[0] = '\0';
        return coh_err_set(err, COH_ERR_INVALID, "%s would be %d bytes, longer than %zu", what, n,
                           cap - 1);
    }
    return 0;
}

int coh_ledger_account_build(char *out, size_t cap, int kind, const char *owner, coh_err *err)
{
    const char *p = coh_ledger_account_prefix(kind);
    if (!p) {
        if (out && cap)
            out[0] = '\0';
        return coh_err_set(err, COH_ERR_INVALID, "unknown account kind %d", kind);
    }
    if (!account_kinds[kind].owned) {
        if (owner && owner[0]) {
            if (out && cap)
                out[0] = '\0';
            return coh_err_set(err, COH_ERR_INVALID, "account '%s' has no owner", p);
        }
        return build(out, cap, err, "account name", "%s", p);
    }
    if (!owner || !owner[0]) {
        if (out && cap)
            out[0] = '\0';
        return coh_err_set(err, COH_ERR_INVALID, "account '%s' needs an owner", p);
    }
    return build(out, cap, err, "account name", "%s%s", p, owner);
}

int coh_ledger_account_available(char *out, size_t cap, const char *addr, coh_err *err)
{
    return coh_ledger_account_build(out, cap, COH_LEDGER_ACCOUNT_AVAILABLE, addr, err);
}

int coh_ledger_account_escrow(char *out, size_t cap, const char *request, coh_err *err)
{
    return coh_ledger_account_build(out, cap, COH_LEDGER_ACCOUNT_ESCROW, request, err);
}

int coh_ledger_account_payable(char *out, size_t cap, const char *addr, coh_err *err)
{
    return coh_ledger_account_build(out, cap, COH_LEDGER_ACCOUNT_PAYABLE, addr, err);
}

int coh_ledger_account_signer(char *out, size_t cap, const char *addr, coh_err *err)
{
    return coh_ledger_account_build(out, cap, COH_LEDGER_ACCOUNT_SIGNER, addr, err);
}

/* 1 when s is "0x" + exactly hexlen lowercase hex digits. */
static int hex_owner(const char *s, size_t hexlen)
{
    if (s[0] != '0' || s[1] != 'x' || strlen(s + 2) != hexlen)
        return 0;
    for (const char *h = s + 2; *h; h++)
        if (!((*h >= '0' && *h <= '9') || (*h >= 'a' && *h <= 'f')))
            return 0;
    return 1;
}

int coh_ledger_account_parse(const char *account, int *kind, const char **owner)
{
    if (kind)
        *kind = 0;
    if (owner)
        *owner = "";
    if (!account)
        return COH_ERR_INVALID;
    for (int k = 1; k <= COH_LEDGER_ACCOUNT_KIND_MAX; k++) {
        const char *p = account_kinds[k].name;
        size_t pl = strlen(p);
        if (!account_kinds[k].owned) {
            if (strcmp(account, p) != 0)
                continue;
        } else if (strncmp(account, p, pl) != 0 ||
                   !hex_owner(account + pl, account_kinds[k].hexlen)) {
            continue;
        }
        if (kind)
            *kind = k;
        if (owner)
            *owner = account + pl;
        return 0;
    }
    return COH_ERR_INVALID;
}

int coh_ledger_idem_request(char *out, size_t cap, int entry_kind, const char *request,
                            coh_err *err)
{
    if (entry_kind != COH_LEDGER_ESCROW && entry_kind != COH_LEDGER_REWARD &&
        entry_kind != COH_LEDGER_REFUND) {
        if (out && cap)
            out[0] = '\0';
        return coh_err_set(err, COH_ERR_INVALID, "no request key for entry kind %d", entry_kind);
    }
    return build(out, cap, err, "idempotency key", "%s:%s", coh_ledger_kind_name(entry_kind),
                 request);
}

int coh_ledger_idem_reward_wave1(char *out, size_t cap, const char *request, const char *addr,
                                 coh_err *err)
{
    return build(out, cap, err, "idempotency key", "reward:%s:%s", request, addr);
}

int coh_ledger_idem_withdrawal(char *out, size_t cap, const char *owner, const char *client_key,
                               coh_err *err)
{
    return build(out, cap, err, "idempotency key", "withdrawal:%s:%s", owner, client_key);
}

int coh_ledger_idem_pool(char *out, size_t cap, const char *addr, const char *credited,
                         coh_err *err)
{
    return build(out, cap, err, "idempotency key", "pool:%s:%s", addr, credited);
}

int coh_ledger_idem_key_rotation(char *out, size_t cap, const char *addr, coh_err *err)
{
    return build(out, cap, err, "idempotency key", "key-rotation:%s", addr);
}

int coh_ledger_idem_chain_event(char *out, size_t cap, const char *event_kind, const char *tx_hash,
                                long long ordinal, coh_err *err)
{
    return build(out, cap, err, "idempotency key", "%s:%s/%lld", event_kind, tx_hash, ordinal);
}

int coh_ledger_idem_deposit(char *out, size_t cap, const char *nonce, coh_err *err)
{
    return build(out, cap, err, "idempotency key", "deposit:%s", nonce);
}
