/*
 * cmd_watch: `cohort watch`, the guardian's watchman (DESIGN.md, "Who may move the money on
 * chain"), run by the operator away from cohortd with read-only database credentials and the
 * guardian key.
 *
 * Every poll it reads the rewards contract's pending proposal (pending(): claims root,
 * lastSeq, effectiveAt) and, once per proposal, recomputes the claims root the ledger gives at
 * that lastSeq (coh_db_chain_claims_at and coh_db_chain_claims_tree: the anchorer's own
 * definition) inside a READ ONLY transaction. A proposal whose root differs was not produced
 * by the ledger: it is vetoed with the guardian key, well inside the challenge period (the
 * poll is one second by default), and reported as an ALERT line on stderr. One whose lastSeq
 * is beyond the database's head (a lagging replica?) is looked at again until the deadline
 * nears, then vetoed the same way. Good proposals are one line on stdout. Exit status: 0, or 3 once
 * anything was vetoed (when stopped by SIGINT/SIGTERM, or after --once), 1 on errors with
 * --once, 2 on usage errors.
 */
#include "chain/chain.h"
#include "cli/cli.h"
#include "cli/http_client.h"
#include "db/chain_db.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define VETO_GAS 100000

static volatile sig_atomic_t stop_flag;
static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

struct watch {
    coh_chain_rpc *rpc;
    coh_db_pool *db;
    coh_secbuf *guardian;
    uint8_t rewards[20];
    uint8_t checked_root[32]; /* the last proposal checked: (lastSeq, root) */
    uint64_t checked_seq;
    int vetoes;
    long interval_ms; /* the poll */
};

/* The claims root the ledger gives at seq; *beyond_head when seq is past the ledger's head. */
static int ledger_root(uint8_t root[32], int *beyond_head, struct watch *w, uint64_t seq,
                       coh_err *err)
{
    memset(root, 0, 32);
    *beyond_head = 0;
    coh_db_conn *c = coh_db_acquire(w->db, 5000, err);
    if (!c)
        return err->code;
    PGresult *r = NULL;
    coh_ledger_merkle *t = NULL;
    /* READ ONLY: this process never writes, whatever its credentials allow. */
    int rc = coh_db_cmd(c, "BEGIN TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY", err);
    if (rc == 0) {
        r = coh_db_exec(c, "SELECT COALESCE(max(seq), 0) FROM ledger_entries", 0, NULL, err);
        rc = r ? 0 : err->code;
    }
    if (rc == 0 && strtoull(PQgetvalue(r, 0, 0), NULL, 10) < seq) {
        *beyond_head = 1;
        goto out;
    }
    PQclear(r);
    r = NULL;
    if (rc == 0 && (rc = coh_db_chain_claims_at(&r, c, seq, err)) == 0 &&
        (rc = coh_db_chain_claims_tree(&t, r, err)) == 0 && t)
        coh_ledger_merkle_root(root, t); /* no leaves: 32 zero bytes, as the anchorer sends */
out:
    coh_ledger_merkle_free(t);
    PQclear(r);
    coh_db_release(c); /* rolls the read-only transaction back */
    return rc;
}

static int veto(struct watch *w, char tx_hex[67], coh_err *err)
{
    coh_chain_buf data;
    coh_chain_buf_init(&data);
    coh_chain_abi_calldata(&data, "veto()", NULL, 0);
    uint8_t hash[32];
    uint64_t block = 0;
    int ok = 0;
    int rc = data.oom ? coh_err_set(err, COH_ERR_NOMEM, "out of memory")
                      : coh_chain_send_call(hash, w->rpc, w->guardian, w->rewards, data.data,
                                            data.len, VETO_GAS, err);
    coh_chain_buf_clear(&data);
    if (rc == 0)
        rc = coh_chain_wait_receipt(&ok, &block, w->rpc, hash, 30000, err);
    coh_hex_encode(tx_hex, hash, 32, 1);
    if (rc == 0 && !ok)
        rc = coh_err_set(err, COH_CHAIN_ERPC, "veto transaction %s reverted", tx_hex);
    return rc;
}

/* One look at the contract: checks (and vetoes) a pending proposal not checked yet. */
static int step(struct watch *w, coh_err *err)
{
    uint8_t sel[4], *ret = NULL;
    size_t n = 0;
    coh_chain_abi_selector(sel, "pending()");
    int rc = coh_chain_rpc_eth_call(w->rpc, &ret, &n, w->rewards, sel, 4, err);
    uint8_t root[32];
    uint64_t seq = 0, at = 0;
    if (rc == 0 && (coh_chain_abi_get_word(root, ret, n, 0) || coh_chain_abi_get_u64(&seq, ret, n, 1) ||
                    coh_chain_abi_get_u64(&at, ret, n, 2)))
        rc = coh_err_set(err, COH_CHAIN_EABI, "pending(): malformed answer");
    free(ret);
    if (rc || at == 0)
        return rc; /* nothing in its challenge period */
    if (seq == w->checked_seq && memcmp(root, w->checked_root, 32) == 0)
        return 0;
    uint8_t want[32];
    int beyond = 0;
    if ((rc = ledger_root(want, &beyond, w, seq, err)) != 0)
        return rc;
    /* A database replica may lag the primary cohortd writes to: a lastSeq beyond its head is
     * looked at again while the deadline allows (entries below the head never change, so a
     * root that differs there is vetoed at once). */
    long long left_ms = ((long long)at - (long long)time(NULL)) * 1000;
    if (beyond && left_ms > 3 * w->interval_ms + 2000)
        return 0;
    char got_hex[67], want_hex[67], tx[67];
    coh_hex_encode(got_hex, root, 32, 1);
    coh_hex_encode(want_hex, want, 32, 1);
    w->checked_seq = seq;
    memcpy(w->checked_root, root, 32);
    if (!beyond && memcmp(root, want, 32) == 0) {
        printf("cohort watch: ok: proposal of entries up to %llu, claims root %s, is the ledger's; "
               "effective at unix time %llu\n",
               (unsigned long long)seq, got_hex, (unsigned long long)at);
        fflush(stdout);
        return 0;
    }
    char why[200];
    if (beyond)
        snprintf(why, sizeof why, "its lastSeq %llu is beyond the ledger's head",
                 (unsigned long long)seq);
    else
        snprintf(why, sizeof why, "the ledger gives claims root %s at entry %llu", want_hex,
                 (unsigned long long)seq);
    fprintf(stderr, "cohort watch: ALERT: proposal of entries up to %llu with claims root %s was "
                    "not produced by the ledger (%s); vetoing\n",
            (unsigned long long)seq, got_hex, why);
    if ((rc = veto(w, tx, err)) != 0) {
        fprintf(stderr, "cohort watch: ALERT: VETO FAILED for proposal %llu: %s\n",
                (unsigned long long)seq, err->msg);
        memset(w->checked_root, 0, 32); /* try again at the next poll */
        w->checked_seq = 0;
        return rc;
    }
    w->vetoes++;
    fprintf(stderr, "cohort watch: ALERT: vetoed proposal %llu in transaction %s; the anchorer "
                    "key proposed it: replace it (docs/KEYS.md)\n",
            (unsigned long long)seq, tx);
    return 0;
}

/* The rewards contract from cohortd's GET /v1/chain. */
static int contract_from(uint8_t out[20], const char *url, coh_err *err)
{
    char u[1100];
    snprintf(u, sizeof u, "%s/v1/chain", url);
    json_t *j = NULL;
    long status = 0;
    int rc = coh_cli_http_call(&j, &status, u, NULL, NULL, err);
    if (rc)
        return rc;
    const char *c = json_string_value(json_object_get(json_object_get(j, "contracts"), "rewards"));
    rc = c && coh_crypto_address_parse(out, c) == 0
             ? 0
             : coh_err_set(err, COH_ERR_INVALID, "%s names no rewards contract", u);
    json_decref(j);
    return rc;
}

static int run(int argc, char **argv);

const struct coh_cli_cmd coh_cli_cmd_watch = {
    "watch", "guardian: veto any rewards proposal the ledger did not produce",
    "usage: cohort watch --url URL --rpc URL --database-url DBURL --guardian-key FILE\n"
    "                    [--contract 0x..] [--interval-ms N] [--once]\n\n"
    "Follows the rewards contract's proposals (the contract named by cohortd's GET /v1/chain at\n"
    "--url, or --contract) on the node at --rpc. For each proposal in its challenge period it\n"
    "recomputes the claims root from the ledger in the database at --database-url (give it a\n"
    "read-only role; it only reads, in READ ONLY transactions) and, when they differ or the\n"
    "proposal's lastSeq is beyond the ledger's head, vetoes it with the guardian key in FILE\n"
    "(64 hex characters, mode 0600) and prints an ALERT line on stderr. Polls every N ms\n"
    "(default 1000; keep it well under the challenge period). --once checks the current\n"
    "proposal and exits. Exit status: 0; 3 when anything was vetoed; 1 on errors with --once.\n",
    run};

static int run(int argc, char **argv)
{
    const char *url = NULL, *rpc_url = NULL, *db_url = NULL, *key_file = NULL, *contract = NULL;
    long interval = 1000;
    int once = 0;
    if (coh_cli_wants_help(argc, argv)) {
        fputs(coh_cli_cmd_watch.usage, stdout);
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        char opt[64], *v = NULL;
        if (strcmp(argv[i], "--once") == 0) {
            once = 1;
            continue;
        }
        int rc = coh_cli_option_next(&coh_cli_cmd_watch, argc, argv, &i, opt, &v);
        if (rc)
            return rc;
        if (strcmp(opt, "--url") == 0)
            url = v;
        else if (strcmp(opt, "--rpc") == 0)
            rpc_url = v;
        else if (strcmp(opt, "--database-url") == 0)
            db_url = v;
        else if (strcmp(opt, "--guardian-key") == 0)
            key_file = v;
        else if (strcmp(opt, "--contract") == 0)
            contract = v;
        else if (strcmp(opt, "--interval-ms") == 0)
            interval = strtol(v, NULL, 10);
        else
            return coh_cli_usage_error(&coh_cli_cmd_watch, "unknown option '%s'", opt);
    }
    if ((!url && !contract) || !rpc_url || !db_url || !key_file)
        return coh_cli_usage_error(&coh_cli_cmd_watch, "--url (or --contract), --rpc, "
                                                        "--database-url and --guardian-key are "
                                                        "required");
    if (interval < 50 || interval > 600000)
        return coh_cli_usage_error(&coh_cli_cmd_watch, "--interval-ms must be 50..600000");
    struct watch w;
    memset(&w, 0, sizeof w);
    w.interval_ms = interval;
    coh_err err = {0};
    int status = 1;
    if (coh_key_file_read(&w.guardian, 32, key_file, "guardian key", &err)) {
        coh_cli_fail("watch", "%s", err.msg);
        goto out;
    }
    if (contract ? coh_crypto_address_parse(w.rewards, contract) != 0
                 : contract_from(w.rewards, url, &err) != 0) {
        coh_cli_fail("watch", "%s", contract ? "--contract is not an address" : err.msg);
        goto out;
    }
    coh_chain_rpc_opts o = {10000, 2, 200};
    if (!(w.rpc = coh_chain_rpc_new(rpc_url, &o)) ||
        coh_db_pool_new(&w.db, db_url, 1, 30000, &err)) {
        coh_cli_fail("watch", "%s", w.rpc ? err.msg : "out of memory");
        goto out;
    }
    /* The guardian must be the contract's, or a veto would only revert. */
    uint8_t sel[4], *ret = NULL, me[20], word[32];
    size_t n = 0;
    coh_chain_abi_selector(sel, "guardian()");
    if (coh_crypto_address_from_seckey(me, w.guardian) ||
        coh_chain_rpc_eth_call(w.rpc, &ret, &n, w.rewards, sel, 4, &err) ||
        coh_chain_abi_get_word(word, ret, n, 0)) {
        free(ret);
        coh_cli_fail("watch", "guardian(): %s", err.msg[0] ? err.msg : "malformed answer");
        goto out;
    }
    free(ret);
    char me_hex[43], c_hex[43];
    coh_crypto_address_format(me_hex, me);
    coh_crypto_address_format(c_hex, w.rewards);
    if (memcmp(word + 12, me, 20) != 0) {
        coh_cli_fail("watch", "%s is not the guardian of %s", me_hex, c_hex);
        goto out;
    }
    printf("cohort watch: guarding %s as %s\n", c_hex, me_hex);
    fflush(stdout);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    status = 0;
    while (!stop_flag) {
        memset(&err, 0, sizeof err);
        if (step(&w, &err) != 0) {
            fprintf(stderr, "cohort watch: %s\n", err.msg);
            if (once) {
                status = 1;
                break;
            }
        }
        if (once)
            break;
        struct timespec ts = {interval / 1000, (interval % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (w.vetoes)
        status = 3;
out:
    coh_db_pool_free(w.db);
    coh_chain_rpc_free(w.rpc);
    coh_secbuf_free(w.guardian);
    return status;
}
