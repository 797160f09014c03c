/*
 * cohortd: read configuration, harden the process, open the database pool, apply
 * migrations, start the HTTP server and wait for SIGINT/SIGTERM. Every start-up failure is
 * one line on stderr naming the setting or the resource, and a non-zero exit.
 */
#include "core/core.h"
#include "crypto/crypto.h"
#include "svc/svc.h"
#include "http/http.h"
#include "market/market.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: cohortd [--config FILE] [--check] [--version]\n\n"
               "Runs the Cohort API server. Settings come from FILE (see cohortd.conf.example)\n"
               "and from COHORT_<NAME> environment variables, which override the file.\n"
               "--check validates the configuration and the database, applies migrations (as the\n"
               "role of migrate_database_url when set), and exits.\n\n"
               "Settings (docs/SETTINGS.md; the same table cohort ledger reads):\n");
    coh_config_describe(f, coh_settings, coh_settings_count, 0);
}

/* What the daemon owns between start and stop. */
struct cohortd {
    struct coh_app app;
    coh_market_floors floors;
    struct coh_http_proxies proxies; /* trusted_proxies, forwarded_header */
    struct coh_db_role role;
    int applied; /* migrations applied at this start */
    coh_http_server *srv, *metrics_srv;
    coh_svc_chain_worker *chain_worker;
    coh_svc_release_worker *workers[64];
};

/* Parses argv: 0 to run, 1 to exit 0 (--version, --help), 2 on a bad argument. */
static int parse_args(int argc, char **argv, const char **config_file, int *check_only)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            *config_file = argv[++i];
        } else if (strcmp(argv[i], "--check") == 0) {
            *check_only = 1;
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("cohortd %s\n", coh_version());
            return 1;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 1;
        } else {
            fprintf(stderr, "cohortd: unknown argument '%s' (see cohortd --help)\n", argv[i]);
            return 2;
        }
    }
    return 0;
}

/* The pool, the migrations (as the owner role when migrate_database_url names it: set it for
 * the --check run at deployment only, so the serving process never holds the owner's login),
 * and a warning when the serving role could rewrite the ledger. 0, or 1 after one line. */
static int open_database(struct cohortd *d, const coh_config *cfg, coh_err *err)
{
    struct coh_app *app = &d->app;
    int timeout_ms = (int)coh_config_int(cfg, "db_statement_timeout_ms");
    if (coh_db_pool_new(&app->db, coh_config_str(cfg, "database_url"),
                        (int)coh_config_int(cfg, "db_pool_size"), timeout_ms, err)) {
        fprintf(stderr, "cohortd: database_url: %s\n", err->msg);
        return 1;
    }
    const char *read_url = coh_config_str(cfg, "database_read_url");
    app->read_db = app->db;
    if (*read_url && coh_db_pool_new(&app->read_db, read_url,
                                     (int)coh_config_int(cfg, "db_pool_size"), timeout_ms, err)) {
        app->read_db = NULL;
        fprintf(stderr, "cohortd: database_read_url: %s\n", err->msg);
        return 1;
    }
    const char *migrate_url = coh_config_str(cfg, "migrate_database_url");
    coh_db_pool *owner_db = NULL;
    if (*migrate_url && coh_db_pool_new(&owner_db, migrate_url, 1, timeout_ms, err)) {
        fprintf(stderr, "cohortd: migrate_database_url: %s\n", err->msg);
        return 1;
    }
    int rc = coh_db_migrate(&d->applied, owner_db ? owner_db : app->db, app->sql_dir, err);
    coh_db_pool_free(owner_db);
    if (rc) {
        fprintf(stderr, "cohortd: %s\n", err->msg);
        return 1;
    }
    if (coh_db_role_check(&d->role, app->db, err)) {
        fprintf(stderr, "cohortd: database_url: %s\n", err->msg);
        return 1;
    }
    if (d->role.superuser || d->role.owns_ledger || d->role.may_rewrite_ledger)
        coh_log_warn("database_url connects as %s, which %s: connect as the application role "
                     "(cohort_app) and migrate as the owner (migrate_database_url)",
                     d->role.name,
                     d->role.superuser     ? "is a superuser"
                     : d->role.owns_ledger ? "owns the ledger tables"
                                           : "may update, delete or truncate ledger entries");
    return 0;
}

/* The ledger signing key (generated on first start, kept wrapped under the master key), and
 * request keys stored before they were bound to their request id, bound now, once. */
static int load_keys(struct cohortd *d, coh_err *err)
{
    struct coh_app *app = &d->app;
    uint8_t ledger_addr[20];
    if (coh_db_ledger_key_load(&app->ledger_key, ledger_addr, app->db, app->master_key, 1, err)) {
        fprintf(stderr, "cohortd: ledger key: %s\n", err->msg);
        return 1;
    }
    coh_hex_encode(app->ledger_address, ledger_addr, 20, 1);
    long rewrapped = 0;
    if (coh_svc_reqkeys_upgrade(app->db, app->master_key, &rewrapped, err)) {
        fprintf(stderr, "cohortd: request keys: %s\n", err->msg);
        return 1;
    }
    if (rewrapped)
        coh_log_info("%ld request key(s) re-wrapped, bound to their request id", rewrapped);
    return 0;
}

/* The release workers, and the chain worker (anchoring, deposit and claim events) when a
 * rewards contract is set. */
static int start_workers(struct cohortd *d, const coh_config *cfg, coh_err *err)
{
    struct coh_app *app = &d->app;
    struct coh_svc_release_worker_config wcfg = {
        .db = app->db,
        .master_key = app->master_key,
        .ledger_key = app->ledger_key,
        .interval_ms = (int)coh_config_int(cfg, "release_poll_ms"),
        .lease_s = (int)coh_config_int(cfg, "release_lease_s"),
        .floors = &d->floors,
    };
    for (long i = 0; i < coh_config_int(cfg, "release_workers") && i < 64; i++) {
        if (coh_svc_release_worker_start(&d->workers[i], &wcfg, err)) {
            fprintf(stderr, "cohortd: %s\n", err->msg);
            return 1;
        }
    }
    const char *rewards = coh_config_str(cfg, "rewards_contract");
    const char *rpc_url = coh_config_str(cfg, "chain_rpc_url");
    if (!*rewards || !*rpc_url)
        return 0;
    struct coh_svc_chain_worker_config ccfg = {
        .db = app->db,
        .ledger_key = app->ledger_key,
        .rpc_url = rpc_url,
        .chain_id = (uint64_t)coh_config_int(cfg, "chain_id"),
        .confirmations = coh_config_int(cfg, "chain_confirmations"),
        .poll_ms = coh_config_int(cfg, "chain_poll_ms"),
        .interval_s = coh_config_int(cfg, "anchor_interval_s"),
        .batch_size = coh_config_int(cfg, "anchor_batch_size"),
        .stuck_s = coh_config_int(cfg, "anchor_stuck_s"),
        .start_block = coh_config_int(cfg, "chain_start_block"),
        .master_key = app->master_key,
        .max_failures = coh_config_int(cfg, "anchor_max_failures"),
        .backoff_ms = coh_config_int(cfg, "anchor_backoff_ms"),
    };
    if (coh_crypto_address_parse(ccfg.rewards, rewards) != 0) {
        fprintf(stderr, "cohortd: config: rewards_contract is not an address\n");
        return 1;
    }
    if (coh_svc_chain_worker_start(&d->chain_worker, &ccfg, err)) {
        fprintf(stderr, "cohortd: %s\n", err->msg);
        return 1;
    }
    return 0;
}

/* Before anything serves: with a rewards contract and a node, the node's chain id and the
 * contracts' code are the configured ones (svc/chain_check.c); a mismatch refuses the start.
 * Not under --check: scripts/setup.sh runs it before (re)deploying to a fresh dev chain. */
static int check_chain(const struct cohortd *d, const coh_config *cfg, coh_err *err)
{
    struct coh_svc_chain_check check = {
        .db = d->app.db,
        .ledger_address = d->app.ledger_address,
        .rpc_url = coh_config_str(cfg, "chain_rpc_url"),
        .chain_id = (uint64_t)coh_config_int(cfg, "chain_id"),
        .rewards = coh_config_str(cfg, "rewards_contract"),
        .rewards_code_hash = coh_config_str(cfg, "rewards_code_hash"),
        .token = coh_config_str(cfg, "token_contract"),
        .token_code_hash = coh_config_str(cfg, "token_code_hash"),
    };
    if (!*check.rewards || !*check.rpc_url)
        return 0;
    int rc = coh_svc_chain_check(&check, err);
    if (rc && rc != COH_ERR_UNAVAILABLE) {
        fprintf(stderr, "cohortd: %s\n", err->msg);
        return 1;
    }
    return 0;
}

/* The API and, when metrics_listen is set, the metrics listener (its token's length and a
 * listener off loopback were checked at load). */
static int start_servers(struct cohortd *d, const coh_config *cfg, coh_err *err)
{
    struct coh_app *app = &d->app;
    app->metrics = coh_metrics_new();
    double per_min = (double)coh_config_int(cfg, "signin_rate_per_min");
    app->ratelimit = coh_ratelimit_new(per_min / 60.0, per_min);
    /* Per account and per hour, a burst of the hour's allowance (docs/SETTINGS.md). */
    double creates = (double)coh_config_int(cfg, "request_create_rate_per_hour"),
           consents = (double)coh_config_int(cfg, "consent_rate_per_hour"),
           contributions = (double)coh_config_int(cfg, "contribution_rate_per_hour");
    app->create_rate = coh_ratelimit_new(creates / 3600.0, creates);
    app->consent_rate = coh_ratelimit_new(consents / 3600.0, consents);
    app->contribution_rate = coh_ratelimit_new(contributions / 3600.0, contributions);
    if (!app->metrics || !app->ratelimit || !app->create_rate || !app->consent_rate ||
        !app->contribution_rate || coh_svc_claims_cache_new(&app->claims) != 0 ||
        coh_svc_token_cache_new(&app->token, coh_config_str(cfg, "chain_rpc_url"),
                                coh_config_str(cfg, "token_contract")) != 0) {
        fprintf(stderr, "cohortd: out of memory\n");
        return 1;
    }
    const char *metrics_listen = coh_config_str(cfg, "metrics_listen");
    if (coh_http_server_new(&d->srv, app, coh_config_str(cfg, "listen"),
                            (int)coh_config_int(cfg, "http_threads"),
                            (int)coh_config_int(cfg, "http_request_timeout_ms"),
                            (int)coh_config_int(cfg, "http_keep_alive_ms"), err) ||
        (*metrics_listen &&
         coh_http_metrics_server_new(&d->metrics_srv, app, metrics_listen,
                                     coh_config_str(cfg, "metrics_token"), err))) {
        fprintf(stderr, "cohortd: %s\n", err->msg);
        return 1;
    }
    return 0;
}

static void stop_all(struct cohortd *d)
{
    coh_svc_chain_worker_stop(d->chain_worker);
    for (int i = 0; i < 64; i++)
        coh_svc_release_worker_stop(d->workers[i]);
    coh_http_server_free(d->metrics_srv);
    coh_http_server_free(d->srv);
    coh_ratelimit_free(d->app.ratelimit);
    coh_ratelimit_free(d->app.create_rate);
    coh_ratelimit_free(d->app.consent_rate);
    coh_ratelimit_free(d->app.contribution_rate);
    coh_metrics_free(d->app.metrics);
    if (d->app.read_db != d->app.db)
        coh_db_pool_free(d->app.read_db);
    coh_db_pool_free(d->app.db);
    coh_svc_claims_cache_free(d->app.claims);
    coh_svc_token_cache_free(d->app.token);
    coh_secbuf_free(d->app.ledger_key);
    coh_secbuf_free(d->app.master_key);
}

int main(int argc, char **argv)
{
    const char *config_file = NULL;
    int check_only = 0;
    int args = parse_args(argc, argv, &config_file, &check_only);
    if (args)
        return args == 1 ? 0 : 2;
    if (coh_process_harden() != 0) {
        fprintf(stderr, "cohortd: cannot initialize libsodium or disable core dumps\n");
        return 1;
    }
    coh_err err = {0};
    coh_config *cfg = NULL;
    if (coh_settings_load(&cfg, config_file, &err)) {
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
    /* Privileges are split (docs/OPERATIONS.md): the daemon needs nothing of root's. */
    if (geteuid() == 0 && !check_only)
        coh_log_warn("cohortd runs as root: run it as an unprivileged system user (scripts/run.sh "
                     "uses 'cohortd')");
    static struct cohortd d; /* the floors outlive every thread */
    if (coh_market_floors_from_config(&d.floors, cfg, &err) ||
        coh_http_proxies_from_config(&d.proxies, cfg, &err)) {
        fprintf(stderr, "cohortd: %s\n", err.msg);
        coh_config_free(cfg);
        return 1;
    }
    struct coh_app *app = &d.app;
    app->config = cfg;
    app->sql_dir = coh_config_str(cfg, "sql_dir");
    app->web_dir = coh_config_str(cfg, "web_dir");
    app->openapi_path = coh_config_str(cfg, "openapi_path");
    app->max_body_bytes = (size_t)coh_config_int(cfg, "max_body_bytes");
    app->floors = &d.floors;
    app->proxies = &d.proxies;
    int rc = 1;
    if (coh_master_key_load(&app->master_key, coh_config_str(cfg, "master_key_file"), 0, &err)) {
        fprintf(stderr, "cohortd: %s\n", err.msg);
        goto out;
    }
    if (open_database(&d, cfg, &err) || load_keys(&d, &err))
        goto out;
    if (check_only) {
        printf("cohortd: configuration ok, %d migration(s) applied now\n", d.applied);
        printf("cohortd: ledger signer %s\n", app->ledger_address);
        printf("cohortd: database role %s%s\n", d.role.name,
               d.role.superuser || d.role.owns_ledger || d.role.may_rewrite_ledger
                   ? " (privileged: see the warning above)"
                   : "");
        rc = 0;
        goto out;
    }
    /* Block the stop signals in every thread; the main thread waits for them. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (check_chain(&d, cfg, &err) || start_servers(&d, cfg, &err) || start_workers(&d, cfg, &err))
        goto out;
    if (coh_log_buffered_start() != 0)
        coh_log_warn("cannot start the log flusher; logging unbuffered");
    const char *metrics_listen = coh_config_str(cfg, "metrics_listen");
    coh_log_info("cohortd %s listening on %s, metrics on %s", coh_version(),
                 coh_config_str(cfg, "listen"), *metrics_listen ? metrics_listen : "(off)");
    int sig = 0;
    sigwait(&stop, &sig);
    coh_log_info("cohortd stopping on signal %d", sig);
    coh_log_flush();
    rc = 0;
out:
    stop_all(&d);
    coh_log_buffered_stop();
    coh_config_free(cfg);
    return rc;
}
