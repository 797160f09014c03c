/*
 * cohortd: read configuration, harden the process, open the database pool, apply
 * migrations, start the HTTP server and wait for SIGINT/SIGTERM. Every start-up failure is
 * one line on stderr naming the setting or the resource, and a non-zero exit.
 */
#include "core/core.h"
#include "crypto/crypto.h"
#include "db/chain_db.h"
#include "db/db.h"
#include "db/ledger_db.h"
#include "http/http.h"
#include "market/market.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef COH_SOURCE_DIR
#define COH_SOURCE_DIR "."
#endif

static const coh_config_spec specs[] = {
    {"database_url", COH_CFG_STRING, NULL, 0, 0},
    {"migrate_database_url", COH_CFG_STRING, "", 0, 0},
    {"listen", COH_CFG_STRING, "127.0.0.1:8080", 0, 0},
    {"metrics_listen", COH_CFG_STRING, "127.0.0.1:9464", 0, 0},
    {"metrics_token", COH_CFG_STRING, "", 0, 0},
    {"http_threads", COH_CFG_INT, "32", 1, 1024},
    {"http_request_timeout_ms", COH_CFG_INT, "5000", 100, 600000},
    {"http_keep_alive_ms", COH_CFG_INT, "2000", 100, 600000},
    {"max_body_bytes", COH_CFG_INT, "1048576", 1024, 1073741824},
    {"log_level", COH_CFG_STRING, "info", 0, 0},
    {"master_key_file", COH_CFG_STRING, NULL, 0, 0},
    {"db_pool_size", COH_CFG_INT, "16", 1, 1000},
    {"db_statement_timeout_ms", COH_CFG_INT, "5000", 10, 600000},
    {"sql_dir", COH_CFG_STRING, COH_SOURCE_DIR "/sql", 0, 0},
    {"web_dir", COH_CFG_STRING, COH_SOURCE_DIR "/web", 0, 0},
    {"openapi_path", COH_CFG_STRING, COH_SOURCE_DIR "/openapi.yaml", 0, 0},
    {"chain_rpc_url", COH_CFG_STRING, "", 0, 0},
    {"chain_id", COH_CFG_INT, "31337", 1, 2147483647},
    {"token_contract", COH_CFG_STRING, "", 0, 0},
    {"rewards_contract", COH_CFG_STRING, "", 0, 0},
    {"chain_confirmations", COH_CFG_INT, "2", 1, 1000},
    {"chain_poll_ms", COH_CFG_INT, "1000", 50, 600000},
    {"anchor_interval_s", COH_CFG_INT, "30", 1, 86400},
    {"anchor_batch_size", COH_CFG_INT, "1000", 1, 1000000},
    {"anchor_stuck_s", COH_CFG_INT, "30", 1, 86400},
    {"anchor_max_failures", COH_CFG_INT, "10", 1, 1000},
    {"anchor_backoff_ms", COH_CFG_INT, "2000", 10, 3600000},
    {"challenge_period_s", COH_CFG_INT, "3600", 0, 31536000},
    {"chain_start_block", COH_CFG_INT, "0", 0, 2147483647},
    {"public_url", COH_CFG_STRING, "http://127.0.0.1:8080", 0, 0},
    {"session_ttl_s", COH_CFG_INT, "86400", 1, 31536000},
    {"nonce_ttl_s", COH_CFG_INT, "300", 10, 86400},
    {"signin_rate_per_min", COH_CFG_INT, "30", 1, 100000},
    {"release_workers", COH_CFG_INT, "1", 0, 64},
    {"privacy_min_k", COH_CFG_INT, "5", 2, 1000},
    {"privacy_max_epsilon", COH_CFG_STRING, "1", 0, 0},
    {"privacy_max_delta", COH_CFG_STRING, "0.000001", 0, 0},
    {"privacy_min_dp_contributors", COH_CFG_INT, "50", 1, 100000},
    {"release_poll_ms", COH_CFG_INT, "1000", 10, 600000},
    {"release_lease_s", COH_CFG_INT, "300", 1, 86400},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: cohortd [--config FILE] [--check] [--version]\n\n"
               "Runs the Cohort API server. Settings come from FILE (see cohortd.conf.example)\n"
               "and from COHORT_<NAME> environment variables, which override the file.\n"
               "--check validates the configuration and the database, applies migrations (as the\n"
               "role of migrate_database_url when set), and exits.\n");
}

int main(int argc, char **argv)
{
    const char *config_file = NULL;
    int check_only = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            config_file = argv[++i];
        } else if (strcmp(argv[i], "--check") == 0) {
            check_only = 1;
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("cohortd %s\n", coh_version());
            return 0;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "cohortd: unknown argument '%s' (see cohortd --help)\n", argv[i]);
            return 2;
        }
    }
    if (coh_process_harden() != 0) {
        fprintf(stderr, "cohortd: cannot initialize libsodium or disable core dumps\n");
        return 1;
    }
    coh_err err = {0};
    coh_config *cfg = NULL;
    if (coh_config_load(&cfg, specs, sizeof specs / sizeof specs[0], config_file, &err)) {
        fprintf(stderr, "cohortd: %s\n", err.msg);
        return 1;
    }
    enum coh_log_level lvl;
    if (coh_log_level_parse(&lvl, coh_config_str(cfg, "log_level")) != 0) {
        fprintf(stderr,
                "cohortd: config: setting 'log_level' must be debug, info, warn or error\n");
        coh_config_free(cfg);
        return 1;
    }
    coh_log_set_level(lvl);
    /* Privileges are split (DESIGN.md, "Running"): the daemon needs nothing of root's. */
    if (geteuid() == 0 && !check_only)
        coh_log_warn("cohortd runs as root: run it as an unprivileged system user (scripts/run.sh "
                     "uses 'cohortd')");
    static coh_market_floors floors;
    if (coh_market_floors_from_config(&floors, cfg, &err)) {
        fprintf(stderr, "cohortd: %s\n", err.msg);
        coh_config_free(cfg);
        return 1;
    }

    /* /metrics shows who is active when: never to the network without a token. */
    const char *metrics_listen = coh_config_str(cfg, "metrics_listen");
    const char *metrics_token = coh_config_str(cfg, "metrics_token");
    if ((*metrics_token && strlen(metrics_token) < 16) ||
        (*metrics_listen && !*metrics_token && !coh_http_listen_is_loopback(metrics_listen))) {
        fprintf(stderr, *metrics_token ? "cohortd: config: metrics_token must have at least 16 "
                                         "characters\n"
                                       : "cohortd: config: metrics_listen is not a loopback "
                                         "address: set metrics_token, or listen on 127.0.0.1\n");
        coh_config_free(cfg);
        return 1;
    }

    struct coh_app app;
    memset(&app, 0, sizeof app);
    app.config = cfg;
    app.sql_dir = coh_config_str(cfg, "sql_dir");
    app.web_dir = coh_config_str(cfg, "web_dir");
    app.openapi_path = coh_config_str(cfg, "openapi_path");
    app.max_body_bytes = (size_t)coh_config_int(cfg, "max_body_bytes");
    app.floors = &floors;
    int rc = 1;
    coh_http_server *srv = NULL, *metrics_srv = NULL;
    coh_db_chain_worker *chain_worker = NULL;
    coh_market_worker *workers[64] = {0};
    if (coh_master_key_load(&app.master_key, coh_config_str(cfg, "master_key_file"), 0, &err)) {
        fprintf(stderr, "cohortd: %s\n", err.msg);
        goto out;
    }
    if (coh_db_pool_new(&app.db, coh_config_str(cfg, "database_url"),
                        (int)coh_config_int(cfg, "db_pool_size"),
                        (int)coh_config_int(cfg, "db_statement_timeout_ms"), &err)) {
        fprintf(stderr, "cohortd: database_url: %s\n", err.msg);
        goto out;
    }
    int applied = 0;
    /* Migrations run as the owner role when migrate_database_url names it (set it for the
     * --check run at deployment only, so the serving process never holds the owner's login). */
    const char *migrate_url = coh_config_str(cfg, "migrate_database_url");
    coh_db_pool *owner_db = NULL;
    if (*migrate_url && coh_db_pool_new(&owner_db, migrate_url, 1,
                                        (int)coh_config_int(cfg, "db_statement_timeout_ms"), &err)) {
        fprintf(stderr, "cohortd: migrate_database_url: %s\n", err.msg);
        goto out;
    }
    rc = coh_db_migrate(owner_db ? owner_db : app.db, app.sql_dir, &applied, &err);
    coh_db_pool_free(owner_db);
    if (rc) {
        rc = 1;
        fprintf(stderr, "cohortd: %s\n", err.msg);
        goto out;
    }
    rc = 1;
    struct coh_db_role role;
    if (coh_db_role_check(app.db, &role, &err)) {
        fprintf(stderr, "cohortd: database_url: %s\n", err.msg);
        goto out;
    }
    if (role.superuser || role.owns_ledger || role.may_rewrite_ledger)
        coh_log_warn("database_url connects as %s, which %s: connect as the application role "
                     "(cohort_app) and migrate as the owner (migrate_database_url)",
                     role.name,
                     role.superuser     ? "is a superuser"
                     : role.owns_ledger ? "owns the ledger tables"
                                        : "may update, delete or truncate ledger entries");
    /* The ledger signing key: generated on first start, kept wrapped under the master key. */
    uint8_t ledger_addr[20];
    if (coh_db_ledger_key_load(&app.ledger_key, ledger_addr, app.db, app.master_key, 1, &err)) {
        fprintf(stderr, "cohortd: ledger key: %s\n", err.msg);
        goto out;
    }
    coh_hex_encode(app.ledger_address, ledger_addr, 20, 1);
    /* Request keys stored before they were bound to their request id: bound now, once. */
    long rewrapped = 0;
    if (coh_market_reqkeys_upgrade(app.db, app.master_key, &rewrapped, &err)) {
        fprintf(stderr, "cohortd: request keys: %s\n", err.msg);
        goto out;
    }
    if (rewrapped)
        coh_log_info("%ld request key(s) re-wrapped, bound to their request id", rewrapped);
    if (check_only) {
        printf("cohortd: configuration ok, %d migration(s) applied now\n", applied);
        printf("cohortd: ledger signer %s\n", app.ledger_address);
        printf("cohortd: database role %s%s\n", role.name,
               role.superuser || role.owns_ledger || role.may_rewrite_ledger
                   ? " (privileged: see the warning above)"
                   : "");
        rc = 0;
        goto out;
    }
    app.metrics = coh_metrics_new();
    double per_min = (double)coh_config_int(cfg, "signin_rate_per_min");
    app.ratelimit = coh_ratelimit_new(per_min / 60.0, per_min);
    if (!app.metrics || !app.ratelimit || coh_db_claims_cache_new(&app.claims) != 0) {
        fprintf(stderr, "cohortd: out of memory\n");
        goto out;
    }

    /* Block the stop signals in every thread; the main thread waits for them. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (coh_http_server_new(&srv, &app, coh_config_str(cfg, "listen"),
                            (int)coh_config_int(cfg, "http_threads"),
                            (int)coh_config_int(cfg, "http_request_timeout_ms"),
                            (int)coh_config_int(cfg, "http_keep_alive_ms"), &err)) {
        fprintf(stderr, "cohortd: %s\n", err.msg);
        goto out;
    }
    if (*metrics_listen &&
        coh_http_metrics_server_new(&metrics_srv, &app, metrics_listen, metrics_token, &err)) {
        fprintf(stderr, "cohortd: %s\n", err.msg);
        goto out;
    }
    struct coh_market_worker_config wcfg = {
        .db = app.db,
        .master_key = app.master_key,
        .ledger_key = app.ledger_key,
        .interval_ms = (int)coh_config_int(cfg, "release_poll_ms"),
        .lease_s = (int)coh_config_int(cfg, "release_lease_s"),
        .floors = &floors,
    };
    for (long i = 0; i < coh_config_int(cfg, "release_workers") && i < 64; i++) {
        if (coh_market_worker_start(&workers[i], &wcfg, &err)) {
            fprintf(stderr, "cohortd: %s\n", err.msg);
            goto out;
        }
    }
    /* The chain worker: anchoring and deposit/claim events, when a rewards contract is set. */
    const char *rewards = coh_config_str(cfg, "rewards_contract");
    const char *rpc_url = coh_config_str(cfg, "chain_rpc_url");
    if (*rewards && *rpc_url) {
        struct coh_db_chain_worker_config ccfg = {
            .db = app.db,
            .ledger_key = app.ledger_key,
            .rpc_url = rpc_url,
            .chain_id = (uint64_t)coh_config_int(cfg, "chain_id"),
            .confirmations = coh_config_int(cfg, "chain_confirmations"),
            .poll_ms = coh_config_int(cfg, "chain_poll_ms"),
            .interval_s = coh_config_int(cfg, "anchor_interval_s"),
            .batch_size = coh_config_int(cfg, "anchor_batch_size"),
            .stuck_s = coh_config_int(cfg, "anchor_stuck_s"),
            .start_block = coh_config_int(cfg, "chain_start_block"),
            .master_key = app.master_key,
            .max_failures = coh_config_int(cfg, "anchor_max_failures"),
            .backoff_ms = coh_config_int(cfg, "anchor_backoff_ms"),
        };
        if (coh_crypto_address_parse(ccfg.rewards, rewards) != 0) {
            fprintf(stderr, "cohortd: config: rewards_contract is not an address\n");
            goto out;
        }
        if (coh_db_chain_worker_start(&chain_worker, &ccfg, &err)) {
            fprintf(stderr, "cohortd: %s\n", err.msg);
            goto out;
        }
    }
    if (coh_log_buffered_start() != 0)
        coh_log_warn("cannot start the log flusher; logging unbuffered");
    coh_log_info("cohortd %s listening on %s, metrics on %s", coh_version(),
                 coh_config_str(cfg, "listen"), *metrics_listen ? metrics_listen : "(off)");
    int sig = 0;
    sigwait(&stop, &sig);
    coh_log_info("cohortd stopping on signal %d", sig);
    coh_log_flush();
    rc = 0;
out:
    coh_db_chain_worker_stop(chain_worker);
    for (int i = 0; i < 64; i++)
        coh_market_worker_stop(workers[i]);
    coh_http_server_free(metrics_srv);
    coh_http_server_free(srv);
    coh_ratelimit_free(app.ratelimit);
    coh_metrics_free(app.metrics);
    coh_db_pool_free(app.db);
    coh_db_claims_cache_free(app.claims);
    coh_secbuf_free(app.ledger_key);
    coh_secbuf_free(app.master_key);
    coh_log_buffered_stop();
    coh_config_free(cfg);
    return rc;
}
