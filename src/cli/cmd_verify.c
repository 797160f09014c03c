/*
 * cmd_verify: `cohort verify --url URL [--export FILE]` or `cohort verify --file FILE`, and
 * `cohort verify --entry N --url URL --rpc RPC_URL`: one entry against the chain.
 * Re-walks the whole ledger from entry 1: sequence, hash links, the hash of every entry's
 * canonical encoding, every signature against the published ledger address (GET /v1/chain),
 * and every account's balance recomputed from the entries (no account but chain below zero;
 * with --url, each researcher's available funds compared with what the server reports at the
 * entry its figures include, walking on over entries posted meanwhile, and the server's head
 * with the last entry), then the public sums (check_sums). With --key FILE, the holder's own
 * private credits too (verify_holder.c). Prints the first broken link exactly and exits 1;
 * exits 0 when everything holds.
 *
 * The HTTP client is a minimal HTTP/1.0 GET over plain TCP (cohortd serves plain HTTP behind a
 * TLS proxy; docs/OPERATIONS.md). An export file is {"chain": <GET /v1/chain>, "entries": [...]}.
 */
#include "cli/cli.h"
#include "cli/verify.h"
#include "chain/chain.h"
#include "crypto/crypto.h"
#include "ledger/ledger.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_RESPONSE (64u << 20)

/* GETs base + path; returns the parsed JSON body of a 200, or NULL with a message printed. */
static json_t *http_get_json(const char *base, const char *path)
{
    if (strncmp(base, "http://", 7) != 0) {
        coh_cli_fail("verify", "--url must start with http://");
        return NULL;
    }
    char host[256], port[16] = "80";
    const char *h = base + 7;
    size_t hl = strcspn(h, ":/");
    snprintf(host, sizeof host, "%.*s", (int)hl, h);
    if (h[hl] == ':')
        snprintf(port, sizeof port, "%.*s", (int)strcspn(h + hl + 1, "/"), h + hl + 1);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
    if (getaddrinfo(host, port, &hints, &ai) != 0) {
        coh_cli_fail("verify", "cannot resolve %s", host);
        return NULL;
    }
    int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        freeaddrinfo(ai);
        if (fd >= 0)
            close(fd);
        coh_cli_fail("verify", "cannot connect to %s:%s", host, port);
        return NULL;
    }
    freeaddrinfo(ai);
    char req[1024];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.0\r\nHost: %s\r\nAccept: application/json\r\n\r\n", path, host);
    if (write(fd, req, (size_t)n) != n) {
        close(fd);
        coh_cli_fail("verify", "cannot send the request");
        return NULL;
    }
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    ssize_t r;
    while (buf && (r = read(fd, buf + len, cap - len - 1)) > 0) {
        len += (size_t)r;
        if (len + 1 == cap && cap < MAX_RESPONSE) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
            }
            buf = nb;
            cap *= 2;
        }
    }
    close(fd);
    if (!buf)
        return NULL;
    buf[len] = '\0';
    char *body = strstr(buf, "\r\n\r\n");
    int status = 0;
    if (sscanf(buf, "HTTP/%*s %d", &status) != 1 || !body) {
        free(buf);
        coh_cli_fail("verify", "malformed HTTP response for %s", path);
        return NULL;
    }
    json_t *j = status == 200 ? json_loads(body + 4, 0, NULL) : NULL;
    if (!j)
        coh_cli_fail("verify", "GET %s answered %d", path, status);
    free(buf);
    return j;
}

/*
 * What the public checks need from the walk: every wave-2 reward entry
 * ({"<seq>": {request, count, root, amount}}) and per request the escrow locked and the
 * rewards and refund paid out of it ({"<id>": {escrow, rewards, refund}: u256 as hex}).
 */
struct sums {
    json_t *rewards;
    json_t *requests;
};

/* The u256 stored as hex under what (0 when absent). */
static void sum_get(uint8_t out[32], const json_t *req, const char *what)
{
    const char *h = json_string_value(json_object_get(req, what));
    if (!h || coh_hex_decode_exact(out, 32, h) != 0)
        memset(out, 0, 32);
}

static void sum_add(json_t *req, const char *what, const uint8_t amount[32])
{
    uint8_t v[32];
    sum_get(v, req, what);
    if (coh_u256_add(v, v, amount) != 0) { /* reported by check_sums */
        json_object_set_new(req, "overflow", json_true());
        return;
    }
    char hex[COH_HASH_HEX_SIZE];
    coh_hex_encode(hex, v, 32, 1);
    json_object_set_new(req, what, json_string(hex));
}

static void sums_add(struct sums *s, const coh_ledger_entry *e)
{
    const char *what = e->kind == COH_LEDGER_ESCROW   ? "escrow"
                       : e->kind == COH_LEDGER_REWARD ? "rewards"
                       : e->kind == COH_LEDGER_REFUND ? "refund"
                                                      : NULL;
    if (!what || !e->ref_request[0])
        return;
    json_t *req = json_object_get(s->requests, e->ref_request);
    if (!req) {
        req = json_object();
        json_object_set_new(s->requests, e->ref_request, req);
    }
    sum_add(req, what, e->amount);
    uint64_t count;
    uint8_t root[32];
    if (e->kind == COH_LEDGER_REWARD &&
        coh_ledger_credits_ref_parse(e->ref_contribution, &count, root) == 0) {
        char key[24], rh[COH_HASH_HEX_SIZE], amt[COH_U256_DEC_SIZE];
        snprintf(key, sizeof key, "%llu", (unsigned long long)e->seq);
        coh_hex_encode(rh, root, 32, 1);
        coh_u256_to_dec(amt, e->amount);
        json_object_set_new(s->rewards, key,
                            json_pack("{s:s,s:I,s:s,s:s}", "request", e->ref_request, "count",
                                      (json_int_t)count, "root", rh, "amount", amt));
    }
}

/* Feeds a JSON array of entries to the walk; returns 0 or prints the break and returns 1. */
static int feed(coh_ledger_walk *w, const json_t *entries, json_t *export_list, uint8_t last[32],
                struct sums *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(entries, i, v)
    {
        coh_ledger_entry e;
        coh_err err = {0};
        if (coh_ledger_entry_from_json(&e, v, &err) || coh_ledger_walk_add(w, &e, &err)) {
            printf("BROKEN: %s\n", err.msg);
            return 1;
        }
        memcpy(last, e.hash, 32);
        sums_add(s, &e);
        if (export_list)
            json_array_append(export_list, v);
    }
    return 0;
}

/* Adds each non-chain account's balance to the sum (the walk keeps them non-negative). */
static void add_balance(const char *account, void *p)
{
    struct {
        coh_ledger_walk *w;
        uint8_t sum[32];
        uint8_t chain[32];
        int overflow;
    } *t = p;
    uint8_t bal[32], cr[32], db[32];
    int neg = 0;
    if (coh_ledger_walk_account(t->w, account, bal, &neg, cr, db) != 0)
        return;
    if (strcmp(account, COH_LEDGER_CHAIN_ACCOUNT) == 0)
        memcpy(t->chain, bal, 32);
    else if (coh_u256_add(t->sum, t->sum, bal) != 0)
        t->overflow = 1;
}

/*
 * The public sums, from the entries alone: every request's escrow is its rewards plus its
 * refund (once refunded; before, the rewards stay within it), every wave-2 reward pays its
 * count times the request's published reward, and all balances but chain add up to what the
 * contract holds (minus chain's). Prints a BROKEN line per break.
 */
static int check_sums(coh_ledger_walk *w, const struct sums *s, const char *url)
{
    int rc = 0;
    const char *id;
    json_t *req;
    json_object_foreach(s->requests, id, req)
    {
        uint8_t esc[32], rew[32], ref[32], out[32] = {0};
        sum_get(esc, req, "escrow");
        sum_get(rew, req, "rewards");
        sum_get(ref, req, "refund");
        int refunded = json_object_get(req, "refund") != NULL;
        int over =
            json_is_true(json_object_get(req, "overflow")) || coh_u256_add(out, rew, ref) != 0;
        int cmp = coh_u256_cmp(out, esc);
        if (over) {
            printf("BROKEN: request %s's escrow, rewards or refund add up beyond a uint256\n", id);
            rc = 1;
        } else if (refunded ? cmp != 0 : cmp > 0) {
            char e[COH_U256_DEC_SIZE], o[COH_U256_DEC_SIZE];
            coh_u256_to_dec(e, esc);
            coh_u256_to_dec(o, out);
            printf("BROKEN: request %s locked %s in escrow but paid out %s in rewards and refund\n",
                   id, e, o);
            rc = 1;
        }
    }
    const char *seq;
    json_t *r;
    json_object_foreach(s->rewards, seq, r)
    {
        char path[128];
        snprintf(path, sizeof path, "/v1/requests/%s",
                 json_string_value(json_object_get(r, "request")));
        json_t *rq = url ? http_get_json(url, path) : NULL;
        const char *reward = json_string_value(json_object_get(rq, "reward"));
        uint8_t each[32], want[32], amount[32];
        json_int_t count = json_integer_value(json_object_get(r, "count"));
        if (reward && count > 0 && count <= UINT32_MAX && coh_u256_from_dec(each, reward) == 0 &&
            coh_u256_from_dec(amount, json_string_value(json_object_get(r, "amount"))) == 0) {
            if (coh_u256_mul_u64(want, each, (uint64_t)count) != 0 ||
                coh_u256_cmp(want, amount) != 0) {
                printf("BROKEN: reward entry %s pays %s for %lld contributors of request %s, whose "
                       "reward is %s each\n",
                       seq, json_string_value(json_object_get(r, "amount")), (long long)count,
                       json_string_value(json_object_get(r, "request")), reward);
                rc = 1;
            }
        }
        json_decref(rq);
    }
    struct {
        coh_ledger_walk *w;
        uint8_t sum[32];
        uint8_t chain[32];
        int overflow;
    } t = {w, {0}, {0}, 0};
    coh_ledger_walk_accounts(w, add_balance, &t);
    if (t.overflow || coh_u256_cmp(t.sum, t.chain) != 0) {
        printf("BROKEN: the accounts hold more or less than the contract received\n");
        rc = 1;
    }
    uint8_t pool[32] = {0}, cr[32], db[32];
    int neg = 0;
    if (coh_ledger_walk_account(w, COH_LEDGER_POOL_ACCOUNT, pool, &neg, cr, db) != 0)
        memset(pool, 0, 32);
    char ps[COH_U256_DEC_SIZE], hs[COH_U256_DEC_SIZE];
    coh_u256_to_dec(ps, pool);
    coh_u256_to_dec(hs, t.chain);
    if (!rc)
        printf("sums: %zu requests' escrow = rewards + refund, %zu pooled reward entries match "
               "their requests, the contract holds %s, pooled payable %s\n",
               json_object_size(s->requests), json_object_size(s->rewards), hs, ps);
    return rc;
}

/* Collects the addresses with an available: account, once each. */
static void collect_address(const char *account, void *p)
{
    json_t *set = p;
    int kind;
    const char *owner;
    if (coh_ledger_account_parse(account, &kind, &owner) == 0 &&
        kind == COH_LEDGER_ACCOUNT_AVAILABLE)
        json_object_set_new(set, owner, json_true());
}

/*
 * Feeds the server's entries after those already walked, in pages, up to entry `upto`
 * (WALK_ALL: to the end of the ledger); 0, or 1 with the break printed. A bounded walk is the
 * catch-up before a balance comparison: it stops at exactly that entry.
 */
#define WALK_ALL UINT64_MAX
static int walk_pages(coh_ledger_walk *w, const char *url, uint64_t upto, json_t *export_list,
                      uint8_t last[32], struct sums *s)
{
    while (coh_ledger_walk_count(w) < upto) {
        char path[96];
        uint64_t left = upto - coh_ledger_walk_count(w);
        snprintf(path, sizeof path, "/v1/ledger/entries?after=%llu&limit=%llu",
                 (unsigned long long)coh_ledger_walk_count(w),
                 (unsigned long long)(left < 1000 ? left : 1000));
        json_t *page = http_get_json(url, path);
        if (!page)
            return 1;
        json_t *entries = json_object_get(page, "entries");
        size_t got = json_array_size(entries);
        const json_t *nx = json_object_get(page, "next");
        int more = nx && !json_is_null(nx); /* a number (a string before docs/API.md) */
        int rc = feed(w, entries, export_list, last, s);
        json_decref(page);
        if (rc)
            return rc;
        if (upto == WALK_ALL && !more)
            return 0;
        if (upto != WALK_ALL && got == 0) {
            printf("BROKEN: the server reports entry %llu but serves entries only up to %llu\n",
                   (unsigned long long)upto, (unsigned long long)coh_ledger_walk_count(w));
            return 1;
        }
    }
    return 0;
}

/*
 * Compares one address's recomputed balances with the server's, at the entry the server's
 * figures include (GET .../balance reports it as seq): entries posted since the walk ended are
 * walked first, so a live server is compared at one point, not across postings.
 */
static int compare_address(const char *addr, coh_ledger_walk *w, const char *url,
                           json_t *export_list, uint8_t last[32], struct sums *s)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/accounts/%s/balance", addr);
    json_t *j = http_get_json(url, path);
    if (!j)
        return 1;
    json_int_t at = json_integer_value(json_object_get(j, "seq"));
    if (at < 0 || (uint64_t)at < coh_ledger_walk_count(w)) {
        printf("BROKEN: the server's balance of %s is at entry %lld, behind the %llu entries it "
               "served (entries at the end are missing)\n",
               addr, (long long)at, (unsigned long long)coh_ledger_walk_count(w));
        json_decref(j);
        return 1;
    }
    if (walk_pages(w, url, (uint64_t)at, export_list, last, s) != 0) {
        json_decref(j);
        return 1;
    }
    /* Researchers' available funds are public; what an address earned and claimed is served
     * to it alone (--key checks one's own). */
    char want[1][COH_U256_DEC_SIZE], account[80];
    uint8_t bal[32], cr[32], db[32];
    int neg, rc = 0;
    snprintf(want[0], 79, "0");
    if (coh_ledger_account_available(account, sizeof account, addr, NULL) == 0 &&
        coh_ledger_walk_account(w, account, bal, &neg, cr, db) == 0)
        coh_u256_to_dec(want[0], bal);
    const char *names[] = {"available"};
    for (int i = 0; i < 1; i++) {
        const char *got = json_string_value(json_object_get(j, names[i]));
        if (!got || strcmp(got, want[i]) != 0) {
            printf("balance mismatch: %s %s at entry %lld: server says %s, the entries give %s\n",
                   addr, names[i], (long long)at, got ? got : "(missing)", want[i]);
            rc = 1;
        }
    }
    json_decref(j);
    return rc;
}

/* ---- --entry N --rpc URL: one entry against the root anchored on chain ------------------ */

/* A JSON-RPC call through the chain client; prints the failure. */
static json_t *rpc_call(coh_chain_rpc *rpc, const char *method, json_t *params)
{
    json_t *res = NULL;
    coh_err err = {0};
    if (coh_chain_rpc_call(rpc, &res, method, params, &err) != 0) {
        coh_cli_fail("verify", "%s", err.msg);
        return NULL;
    }
    return res;
}

/* Parses a 0x hex field of exactly n bytes of obj into out; 0 or -1. */
static int hex_field(uint8_t *out, size_t n, const json_t *obj, const char *name)
{
    const char *v = json_string_value(json_object_get(obj, name));
    return v && coh_hex_decode_exact(out, n, v) == 0 ? 0 : -1;
}

/*
 * Checks entry seq: its hash and signature, its inclusion proof up to the batch root, and that
 * root against the Anchored event of the anchoring transaction on the node at rpc_url, from
 * the rewards contract (the server's, unless --contract names one), still on the chain (the
 * contract's lastSeq has not gone back below the batch).
 */
static int run_entry(const char *url, const char *seq_text, const char *rpc_url,
                     const char *contract_text)
{
    char *end;
    unsigned long long seq = strtoull(seq_text, &end, 10);
    if (!*seq_text || *end || seq == 0)
        return coh_cli_fail("verify", "--entry takes a positive sequence number");
    json_t *chain = http_get_json(url, "/v1/chain");
    if (!chain)
        return 1;
    uint8_t rewards[20];
    if (!contract_text)
        contract_text =
            json_string_value(json_object_get(json_object_get(chain, "contracts"), "rewards"));
    if (!contract_text || coh_crypto_address_parse(rewards, contract_text) != 0) {
        json_decref(chain);
        return coh_cli_fail("verify", "no rewards contract address (give --contract)");
    }
    json_decref(chain);
    char path[64];
    snprintf(path, sizeof path, "/v1/ledger/entries/%llu", seq);
    json_t *j = http_get_json(url, path);
    if (!j)
        return 1;
    int rc = 1;
    coh_chain_rpc *rpc = NULL;
    json_t *rcpt = NULL;
    coh_ledger_entry e;
    coh_err err = {0};
    if (coh_ledger_entry_from_json(&e, j, &err) || coh_ledger_entry_verify(&e, &err)) {
        printf("BROKEN: entry %llu: %s\n", seq, err.msg);
        goto out;
    }
    const json_t *anchor = json_object_get(j, "anchor");
    const json_t *proof = json_object_get(j, "inclusion_proof");
    if (!json_is_object(anchor) || !json_is_array(proof)) {
        printf("NOT ANCHORED: entry %llu is not in an anchored batch yet\n", seq);
        goto out;
    }
    size_t np = json_array_size(proof);
    uint8_t(*sib)[32] = np ? malloc(32 * np) : NULL;
    int bad = np > 64 || (np && !sib);
    for (size_t i = 0; !bad && i < np; i++)
        bad = coh_hex_decode_exact(sib[i], 32, json_string_value(json_array_get(proof, i))) != 0;
    uint8_t root[32], claimed_root[32], tx[32];
    if (!bad)
        coh_ledger_merkle_process(root, e.hash, (const uint8_t(*)[32])sib, np);
    free(sib);
    if (bad || hex_field(claimed_root, 32, anchor, "ledger_root")) {
        printf("BROKEN: entry %llu: malformed inclusion proof or anchor\n", seq);
        goto out;
    }
    if (memcmp(root, claimed_root, 32) != 0) {
        printf(
            "BROKEN: entry %llu: its inclusion proof does not lead to the anchor's ledger root\n",
            seq);
        goto out;
    }
    unsigned long long last_seq =
        (unsigned long long)json_integer_value(json_object_get(anchor, "last_seq"));
    if (hex_field(tx, 32, anchor, "tx_hash")) {
        printf("NOT ANCHORED: entry %llu: its batch (anchor %lld) is not confirmed on chain yet\n",
               seq, (long long)json_integer_value(json_object_get(anchor, "id")));
        goto out;
    }
    coh_chain_rpc_opts o = {10000, 2, 200};
    if (!(rpc = coh_chain_rpc_new(rpc_url, &o))) {
        coh_cli_fail("verify", "out of memory");
        goto out;
    }
    char txh[COH_HASH_HEX_SIZE], ch[COH_ADDR_HEX_SIZE];
    coh_hex_encode(txh, tx, 32, 1);
    coh_hex_encode(ch, rewards, 20, 1);
    if (!(rcpt = rpc_call(rpc, "eth_getTransactionReceipt", json_pack("[s]", txh))))
        goto out;
    if (json_is_null(rcpt)) {
        printf("BROKEN: entry %llu: the anchoring transaction %s is not on this chain\n", seq, txh);
        goto out;
    }
    uint64_t status = 0, block = 0, head = 0;
    if (coh_chain_quantity_u64(&status, json_string_value(json_object_get(rcpt, "status"))) ||
        coh_chain_quantity_u64(&block, json_string_value(json_object_get(rcpt, "blockNumber"))) ||
        status != 1) {
        printf("BROKEN: entry %llu: the anchoring transaction %s failed\n", seq, txh);
        goto out;
    }
    /* The Anchored(lastSeq indexed, ledgerRoot, claimsRoot, totalCredited, effectiveAt) log of
     * the contract (the proposal; ledgerRoot is its first data word). */
    uint8_t topic0[32], want_seq[32];
    const char *anchored = "Anchored(uint64,bytes32,bytes32,uint256,uint64)";
    coh_crypto_keccak256(topic0, anchored, strlen(anchored));
    coh_u256_from_u64(want_seq, last_seq);
    int found = 0;
    size_t i;
    json_t *lg;
    json_array_foreach(json_object_get(rcpt, "logs"), i, lg)
    {
        uint8_t addr[20], t0[32], t1[32], data[128];
        json_t *topics = json_object_get(lg, "topics");
        if (hex_field(addr, 20, lg, "address") || memcmp(addr, rewards, 20) != 0 ||
            json_array_size(topics) != 2 ||
            coh_hex_decode_exact(t0, 32, json_string_value(json_array_get(topics, 0))) ||
            coh_hex_decode_exact(t1, 32, json_string_value(json_array_get(topics, 1))) ||
            memcmp(t0, topic0, 32) != 0 || hex_field(data, 128, lg, "data"))
            continue;
        if (memcmp(t1, want_seq, 32) == 0 && memcmp(data, root, 32) == 0)
            found = 1;
    }
    char root_hex[COH_HASH_HEX_SIZE];
    coh_hex_encode(root_hex, root, 32, 1);
    if (!found) {
        printf("BROKEN: entry %llu: transaction %s did not anchor root %s (batch ending at %llu) "
               "on contract %s\n",
               seq, txh, root_hex, last_seq, ch);
        goto out;
    }
    /* Still the chain's history: the contract has not gone back below this batch. */
    uint8_t sel[4], *r = NULL;
    size_t rn = 0;
    uint64_t onchain = 0;
    coh_chain_abi_selector(sel, "lastSeq()");
    if (coh_chain_rpc_eth_call(rpc, &r, &rn, rewards, sel, 4, &err) != 0 ||
        coh_chain_abi_get_u64(&onchain, r, rn, 0) != 0) {
        free(r);
        coh_cli_fail("verify", "lastSeq(): %s", err.msg[0] ? err.msg : "malformed answer");
        goto out;
    }
    free(r);
    if (onchain < last_seq) {
        printf("BROKEN: entry %llu: the contract's lastSeq %llu is below the batch (reorg?)\n", seq,
               (unsigned long long)onchain);
        goto out;
    }
    coh_err herr = {0};
    if (coh_chain_rpc_u64(rpc, &head, "eth_blockNumber", json_array(), &herr) != 0) {
        coh_cli_fail("verify", "%s", herr.msg);
        goto out;
    }
    printf("ok: entry %llu is in anchor %lld (entries %lld..%llu), ledger root %s, anchored by "
           "%s in block %llu (%llu confirmations) on contract %s\n",
           seq, (long long)json_integer_value(json_object_get(anchor, "id")),
           (long long)json_integer_value(json_object_get(anchor, "first_seq")), last_seq, root_hex,
           txh, (unsigned long long)block,
           (unsigned long long)(head >= block ? head - block + 1 : 0), ch);
    rc = 0;
out:
    json_decref(rcpt);
    coh_chain_rpc_free(rpc);
    json_decref(j);
    return rc;
}

static int run(int argc, char **argv)
{
    const char *url = NULL, *file = NULL, *export_path = NULL, *entry = NULL, *rpc = NULL,
               *contract = NULL, *key = NULL;
    for (int i = 1; i < argc; i++) {
        const char **slot = strcmp(argv[i], "--url") == 0        ? &url
                            : strcmp(argv[i], "--file") == 0     ? &file
                            : strcmp(argv[i], "--export") == 0   ? &export_path
                            : strcmp(argv[i], "--entry") == 0    ? &entry
                            : strcmp(argv[i], "--rpc") == 0      ? &rpc
                            : strcmp(argv[i], "--contract") == 0 ? &contract
                            : strcmp(argv[i], "--key") == 0      ? &key
                                                                 : NULL;
        if (!slot || i + 1 >= argc)
            return coh_cli_fail("verify", "unknown or incomplete option '%s'", argv[i]);
        *slot = argv[++i];
    }
    if (entry || rpc) {
        if (!entry || !rpc || !url || file || export_path)
            return coh_cli_fail("verify", "--entry N needs --rpc URL and --url URL");
        return run_entry(url, entry, rpc, contract);
    }
    if (!url == !file)
        return coh_cli_fail("verify", "give exactly one of --url URL or --file FILE");
    if (key && !url)
        return coh_cli_fail("verify", "--key FILE needs --url URL");
    json_t *doc = NULL, *chain = NULL;
    if (file) {
        json_error_t je;
        doc = json_load_file(file, 0, &je);
        if (!doc)
            return coh_cli_fail("verify", "%s: %s (line %d)", file, je.text, je.line);
        chain = json_incref(json_object_get(doc, "chain"));
    } else {
        chain = http_get_json(url, "/v1/chain");
    }
    uint8_t signer[20], last[32] = {0};
    const char *signer_text = json_string_value(json_object_get(chain, "ledger_signer"));
    if (!signer_text || coh_crypto_address_parse(signer, signer_text) != 0) {
        json_decref(doc);
        json_decref(chain);
        return coh_cli_fail("verify", "no published ledger_signer address");
    }
    coh_ledger_walk *w = NULL;
    if (coh_ledger_walk_new(&w, signer)) {
        json_decref(doc);
        json_decref(chain);
        return coh_cli_fail("verify", "out of memory");
    }
    json_t *export_list = export_path ? json_array() : NULL;
    struct sums sums = {json_object(), json_object()};
    int rc = 0;
    if (file) {
        rc = feed(w, json_object_get(doc, "entries"), NULL, last, &sums);
    } else {
        rc = walk_pages(w, url, WALK_ALL, export_list, last, &sums);
    }
    coh_err err = {0};
    if (!rc && coh_ledger_walk_finish(w, &err)) {
        printf("BROKEN: %s\n", err.msg);
        rc = 1;
    }
    if (!rc && url) {
        /* The server's head must be the last entry walked (a removed tail shows here). */
        json_t *head = json_object_get(chain, "head");
        json_int_t hs = json_integer_value(json_object_get(head, "seq"));
        uint8_t hh[32];
        const char *hh_text = json_string_value(json_object_get(head, "hash"));
        if ((uint64_t)hs < coh_ledger_walk_count(w)) {
            /* Entries were posted while we walked; the head we read first is older. */
        } else if ((uint64_t)hs != coh_ledger_walk_count(w) || !hh_text ||
                   coh_hex_decode_exact(hh, 32, hh_text) != 0 || memcmp(hh, last, 32) != 0) {
            printf("BROKEN: the server's head is seq %lld but the entries end at seq %llu "
                   "(entries at the end are missing or altered)\n",
                   (long long)hs, (unsigned long long)coh_ledger_walk_count(w));
            rc = 1;
        }
        json_t *addrs = json_object();
        coh_ledger_walk_accounts(w, collect_address, addrs);
        const char *addr;
        json_t *unused;
        int mismatches = 0, checked = 0;
        json_object_foreach(addrs, addr, unused)
        {
            if (compare_address(addr, w, url, export_list, last, &sums) != 0)
                mismatches++;
            checked++;
        }
        json_decref(addrs);
        rc = rc || mismatches ? 1 : 0;
        /* The entries walked on during the comparison are held to the same signer. */
        if (!rc && coh_ledger_walk_finish(w, &err)) {
            printf("BROKEN: %s\n", err.msg);
            rc = 1;
        }
        if (!rc)
            printf("balances: %d addresses match the server\n", checked);
    }
    if (!rc)
        rc = check_sums(w, &sums, url);
    if (!rc && key)
        rc = coh_cli_verify_holder(url, key, sums.rewards);
    if (!rc && export_path) {
        json_t *out = json_pack("{s:O,s:O}", "chain", chain, "entries", export_list);
        if (!out || json_dump_file(out, export_path, JSON_INDENT(1)) != 0)
            rc = coh_cli_fail("verify", "cannot write %s", export_path);
        json_decref(out);
    }
    if (!rc)
        printf("ok: %llu entries, hash chain intact, every signature by %s\n",
               (unsigned long long)coh_ledger_walk_count(w), signer_text);
    json_decref(export_list);
    json_decref(sums.rewards);
    json_decref(sums.requests);
    coh_ledger_walk_free(w);
    json_decref(doc);
    json_decref(chain);
    return rc;
}

const struct coh_cli_cmd coh_cli_cmd_verify = {
    "verify", "re-walk the ledger: hash chain, signatures, balances",
    "usage: cohort verify --url URL [--key FILE] [--export FILE]\n"
    "       cohort verify --file FILE\n"
    "       cohort verify --entry N --url URL --rpc RPC_URL [--contract ADDRESS]\n\n"
    "Re-walks every ledger entry from seq 1: sequence, prev_hash links, the hash of each\n"
    "entry's canonical encoding, each signature against the published ledger address\n"
    "(GET /v1/chain), and balances recomputed from the entries (with --url, compared with\n"
    "GET /v1/accounts/{address}/balance), then the public sums: every request's escrow is its\n"
    "rewards plus its refund, every pooled reward entry pays its count times the request's\n"
    "reward, and the accounts hold what the contract received. Prints each break and exits\n"
    "1, or 'ok'.\n"
    "--key FILE also signs in as that wallet and proves each of its private credits against\n"
    "the root its reward entry publishes, its notices against its credits, and its claims\n"
    "leaf against the anchored claims root and its credits.\n"
    "--export writes what was verified as a file for --file.\n"
    "--entry N checks one entry (hash, signature), its inclusion proof up to its batch's\n"
    "ledger root, and that root in the Anchored event of the anchoring transaction on the\n"
    "EVM node at --rpc, from the rewards contract (GET /v1/chain's, or --contract).\n",
    run};
