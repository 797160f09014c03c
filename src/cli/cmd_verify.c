/*
 * cmd_verify: `cohort verify --url URL [--export FILE]` or `cohort verify --file FILE`.
 * Re-walks the whole ledger from entry 1: sequence, hash links, the hash of every entry's
 * canonical encoding, every signature against the published ledger address (GET /v1/chain),
 * and every account's balance recomputed from the entries (no account but chain below zero;
 * with --url, each address's available, earned and claimed compared with what the server
 * reports, and the server's head with the last entry). Prints the first broken link exactly
 * and exits 1; exits 0 when everything holds.
 *
 * The HTTP client is a minimal HTTP/1.0 GET over plain TCP (cohortd serves plain HTTP; see
 * PLATFORM.md). An export file is {"chain": <GET /v1/chain>, "entries": [...]}.
 */
#include "cli/cli.h"
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

struct ctx {
    const char *url;
    coh_ledger_walk *walk;
    int mismatches, checked;
};

/* Compares one address's recomputed balances with the server's. */
static void compare_account(const char *account, void *p)
{
    struct ctx *c = p;
    if (strncmp(account, "available:", 10) != 0 && strncmp(account, "payable:", 8) != 0)
        return;
    const char *addr = strchr(account, ':') + 1;
    /* Each address is checked once, from its available: or (if none) its payable: account. */
    char other[80];
    snprintf(other, sizeof other, "available:%s", addr);
    uint8_t bal[32], cr[32], db[32];
    int neg;
    if (account[0] == 'p' && coh_ledger_walk_account(c->walk, other, bal, &neg, cr, db) == 0)
        return;
    char path[128];
    snprintf(path, sizeof path, "/v1/accounts/%s/balance", addr);
    json_t *j = http_get_json(c->url, path);
    if (!j) {
        c->mismatches++;
        return;
    }
    char want[3][79];
    memset(want, 0, sizeof want);
    snprintf(want[0], 79, "0");
    snprintf(want[1], 79, "0");
    snprintf(want[2], 79, "0");
    if (coh_ledger_walk_account(c->walk, other, bal, &neg, cr, db) == 0)
        coh_crypto_uint256_to_dec(want[0], bal);
    snprintf(other, sizeof other, "payable:%s", addr);
    if (coh_ledger_walk_account(c->walk, other, bal, &neg, cr, db) == 0) {
        coh_crypto_uint256_to_dec(want[1], cr);
        coh_crypto_uint256_to_dec(want[2], db);
    }
    const char *names[] = {"available", "earned", "claimed"};
    for (int i = 0; i < 3; i++) {
        const char *got = json_string_value(json_object_get(j, names[i]));
        if (!got || strcmp(got, want[i]) != 0) {
            printf("balance mismatch: %s %s: server says %s, the entries give %s\n", addr, names[i],
                   got ? got : "(missing)", want[i]);
            c->mismatches++;
        }
    }
    c->checked++;
    json_decref(j);
}

/* Feeds a JSON array of entries to the walk; returns 0 or prints the break and returns 1. */
static int feed(coh_ledger_walk *w, const json_t *entries, json_t *export_list, uint8_t last[32])
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
        if (export_list)
            json_array_append(export_list, v);
    }
    return 0;
}

static int run(int argc, char **argv)
{
    const char *url = NULL, *file = NULL, *export_path = NULL;
    for (int i = 1; i < argc; i++) {
        const char **slot = strcmp(argv[i], "--url") == 0      ? &url
                            : strcmp(argv[i], "--file") == 0   ? &file
                            : strcmp(argv[i], "--export") == 0 ? &export_path
                                                               : NULL;
        if (!slot || i + 1 >= argc)
            return coh_cli_fail("verify", "unknown or incomplete option '%s'", argv[i]);
        *slot = argv[++i];
    }
    if (!url == !file)
        return coh_cli_fail("verify", "give exactly one of --url URL or --file FILE");
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
    int rc = 0;
    if (file) {
        rc = feed(w, json_object_get(doc, "entries"), NULL, last);
    } else {
        unsigned long long after = 0;
        for (;;) {
            char path[96];
            snprintf(path, sizeof path, "/v1/ledger/entries?after=%llu&limit=1000", after);
            json_t *page = http_get_json(url, path);
            if (!page) {
                rc = 1;
                break;
            }
            rc = feed(w, json_object_get(page, "entries"), export_list, last);
            const char *next = json_string_value(json_object_get(page, "next"));
            if (!rc && next)
                after = strtoull(next, NULL, 10);
            json_decref(page);
            if (rc || !next)
                break;
        }
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
        struct ctx c = {.url = url, .walk = w};
        if (!rc) {
            coh_ledger_walk_accounts(w, compare_account, &c);
            rc = c.mismatches ? 1 : 0;
        }
        if (!rc)
            printf("balances: %d addresses match the server\n", c.checked);
    }
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
    coh_ledger_walk_free(w);
    json_decref(doc);
    json_decref(chain);
    return rc;
}

const struct coh_cli_cmd coh_cli_cmd_verify = {
    "verify", "re-walk the ledger: hash chain, signatures, balances",
    "usage: cohort verify --url URL [--export FILE]\n"
    "       cohort verify --file FILE\n\n"
    "Re-walks every ledger entry from seq 1: sequence, prev_hash links, the hash of each\n"
    "entry's canonical encoding, each signature against the published ledger address\n"
    "(GET /v1/chain), and balances recomputed from the entries (with --url, compared with\n"
    "GET /v1/accounts/{address}/balance). Prints the first broken link and exits 1, or 'ok'.\n"
    "--export writes what was verified as a file for --file.\n",
    run};
