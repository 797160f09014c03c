/*
 * token: the reward token's symbol and decimals for GET /v1/chain, so clients show amounts in
 * token units ("181 COH") without asking the chain themselves. Read lazily from the configured
 * token contract (symbol(), decimals()) by eth_call and kept for the process's life: they never
 * change for a deployed ERC-20. A node that cannot be asked leaves them null and is asked again
 * at most every 30 seconds, by one thread at a time (the others answer without waiting).
 */
#include "svc/svc.h"

#include "chain/chain.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RETRY_S 30

struct coh_svc_token_cache {
    pthread_mutex_t mu;
    char *rpc_url;
    uint8_t address[20];
    char address_hex[COH_ADDR_HEX_SIZE];
    int have_symbol;   /* 0: not yet read; 1: read; 2: answered but not showable (null) */
    int have_decimals; /* 0: not yet read; 1: read */
    int busy;
    time_t next_try; /* monotonic seconds */
    char symbol[33];
    int decimals;
};

static time_t mono_s(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec;
}

int coh_svc_token_cache_new(coh_svc_token_cache **out, const char *rpc_url, const char *token)
{
    *out = NULL;
    uint8_t a[20];
    if (!rpc_url || !*rpc_url || !token || !*token || coh_crypto_address_parse(a, token) != 0)
        return 0; /* no chain: the token is null */
    coh_svc_token_cache *c = calloc(1, sizeof *c);
    if (!c || !(c->rpc_url = strdup(rpc_url))) {
        free(c);
        return COH_ERR_NOMEM;
    }
    memcpy(c->address, a, 20);
    coh_hex_encode(c->address_hex, a, 20, 1);
    pthread_mutex_init(&c->mu, NULL);
    *out = c;
    return 0;
}

void coh_svc_token_cache_free(coh_svc_token_cache *c)
{
    if (!c)
        return;
    pthread_mutex_destroy(&c->mu);
    free(c->rpc_url);
    free(c);
}

/* symbol(): an ABI string, or a bytes32 (older tokens); 1 to 32 bytes of UTF-8 text without
 * control characters ("USD₮0" too), else refused: the symbol is shown beside every amount. */
static int read_symbol(char out[33], const uint8_t *ret, size_t n)
{
    const uint8_t *s = NULL;
    size_t len = 0;
    if (n > 32 && coh_chain_abi_get_bytes(&s, &len, ret, n, 0) == 0) {
        /* an ABI string */
    } else if (n == 32) {
        s = ret;
        len = strnlen((const char *)ret, 32);
    } else {
        return -1;
    }
    if (len == 0 || len > 32)
        return -1;
    for (size_t i = 0; i < len; i++)
        if (s[i] < 0x20 || s[i] == 0x7f)
            return -1;
    json_t *utf8 = json_stringn((const char *)s, len); /* NULL unless well-formed UTF-8 */
    if (!utf8)
        return -1;
    json_decref(utf8);
    memcpy(out, s, len);
    out[len] = '\0';
    return 0;
}

enum part { PART_FAILED, PART_OK, PART_REFUSED };

/* Reads what is still missing, each call on its own: a token whose symbol cannot be shown
 * still gets its decimals, which every amount depends on. */
static void fetch(coh_svc_token_cache *c, int want_symbol, int want_decimals, char symbol[33],
                  enum part *sym, int *decimals, enum part *dec)
{
    *sym = *dec = PART_FAILED;
    coh_chain_rpc_opts opts = {.timeout_ms = 3000, .retries = 0, .backoff_ms = 100};
    coh_chain_rpc *rpc = coh_chain_rpc_new(c->rpc_url, &opts);
    if (!rpc)
        return;
    coh_err err = {0};
    const char *fns[2] = {"symbol()", "decimals()"};
    for (int i = 0; i < 2; i++) {
        if ((i == 0 && !want_symbol) || (i == 1 && !want_decimals))
            continue;
        uint8_t *ret = NULL;
        size_t n = 0;
        coh_chain_buf data;
        coh_chain_buf_init(&data);
        coh_chain_abi_calldata(&data, fns[i], NULL, 0);
        int rc = data.oom ? -1
                          : coh_chain_rpc_eth_call(rpc, &ret, &n, c->address, data.data,
                                                   data.len, &err);
        coh_chain_buf_clear(&data);
        uint64_t d = 0;
        if (rc == 0 && i == 0) {
            *sym = read_symbol(symbol, ret, n) == 0 ? PART_OK : PART_REFUSED;
            if (*sym == PART_REFUSED)
                coh_log_warn("token %s: symbol() is not showable text; amounts go without it",
                             c->address_hex);
        } else if (rc == 0 && coh_chain_abi_get_u64(&d, ret, n, 0) == 0 && d <= 77) {
            *dec = PART_OK; /* 10^77 is the most a uint256 amount can scale by */
            *decimals = (int)d;
        } else {
            coh_log_warn("token %s: cannot read %s (%s); retried in %d s", c->address_hex,
                         fns[i], err.msg[0] ? err.msg : "malformed answer", RETRY_S);
        }
        free(ret);
        err.msg[0] = '\0';
    }
    coh_chain_rpc_free(rpc);
}

json_t *coh_svc_token_json(coh_svc_token_cache *c)
{
    if (!c)
        return json_null();
    pthread_mutex_lock(&c->mu);
    int want_symbol = !c->have_symbol, want_decimals = !c->have_decimals;
    int ask = (want_symbol || want_decimals) && !c->busy && mono_s() >= c->next_try;
    if (ask)
        c->busy = 1;
    pthread_mutex_unlock(&c->mu);
    if (ask) {
        char symbol[33];
        int decimals = 0;
        enum part sym, dec;
        fetch(c, want_symbol, want_decimals, symbol, &sym, &decimals, &dec);
        pthread_mutex_lock(&c->mu);
        if (want_symbol && sym == PART_OK) {
            memcpy(c->symbol, symbol, sizeof symbol);
            c->have_symbol = 1;
        } else if (want_symbol && sym == PART_REFUSED) {
            c->have_symbol = 2; /* asking again would get the same answer */
        }
        if (want_decimals && dec == PART_OK) {
            c->decimals = decimals;
            c->have_decimals = 1;
        }
        c->next_try = mono_s() + RETRY_S;
        c->busy = 0;
        pthread_mutex_unlock(&c->mu);
    }
    pthread_mutex_lock(&c->mu);
    json_t *j = json_pack("{s:s,s:o,s:o}", "address", c->address_hex, "symbol",
                          c->have_symbol == 1 ? json_string(c->symbol) : json_null(), "decimals",
                          c->have_decimals ? json_integer(c->decimals) : json_null());
    pthread_mutex_unlock(&c->mu);
    return j;
}
