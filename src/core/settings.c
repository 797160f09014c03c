/*
 * settings: cohortd's settings, each once: name, type, default, bounds, whether secret, and
 * one line of meaning. cohortd and every CLI command that reads cohortd.conf (cohort ledger)
 * load this table through coh_settings_load, so the same file and COHORT_* environment is
 * accepted or refused the same way, with the same message. `cohortd --help` lists it.
 *
 * docs/SETTINGS.md mirrors this table (its table is coh_config_describe's markdown output);
 * the unit test core_settings_doc fails when the two differ. cohortd.conf.example explains
 * the settings at length.
 */
#include "core/core.h"

#include <stdio.h>
#include <string.h>

#define S COH_CFG_SECRET
#define O COH_CFG_OPTIONAL
/* name, type, default (NULL: required), min, max, flags, meaning */
/* clang-format off */
#define SETTING(name, kind, def, min, max, flags, doc) {name, kind, def, min, max, flags, doc, NULL}
#define SETTING_ENUM(name, def, doc, choices) {name, COH_CFG_ENUM, def, 0, 0, 0, doc, choices}
/* clang-format on */

const coh_config_spec coh_settings[] = {
    SETTING("database_url", COH_CFG_CONNINFO, NULL, 0, 0, S,
            "PostgreSQL connection (libpq URI or key=value) as the application role (cohort_app)"),
    SETTING("migrate_database_url", COH_CFG_CONNINFO, "", 0, 0, S | O,
            "the owner role's connection, used only to apply migrations; empty: database_url"),
    SETTING("database_read_url", COH_CFG_CONNINFO, "", 0, 0, S | O,
            "a replica (or a read-only role) for the public reads: ledger entries and anchors; "
            "empty: database_url"),
    SETTING("listen", COH_CFG_LISTEN, "127.0.0.1:8080", 0, 0, 0,
            "address and port of the API (plain HTTP: put a TLS proxy in front)"),
    SETTING(
        "metrics_listen", COH_CFG_LISTEN, "127.0.0.1:9464", 0, 0, O,
        "separate listener for GET /metrics; empty disables it; off loopback needs metrics_token"),
    SETTING("metrics_token", COH_CFG_STRING, "", 16, 0, S | O,
            "bearer token /metrics scrapes must send (at least 16 characters)"),
    SETTING("http_threads", COH_CFG_INT, "32", 1, 1024, 0,
            "HTTP worker threads, one per connection (idle keep-alive ones too)"),
    SETTING("http_request_timeout_ms", COH_CFG_DURATION_MS, "5000", 100, 600000, 0,
            "how long a client may take to send a request head"),
    SETTING("http_keep_alive_ms", COH_CFG_DURATION_MS, "5000", 100, 600000, 0,
            "how long an idle keep-alive connection keeps its worker thread; responses advertise "
            "Keep-Alive: timeout= one second less"),
    SETTING("trusted_proxies", COH_CFG_STRING, "", 0, 0, O,
            "reverse proxies (addresses or CIDR ranges, IPv4 or IPv6, comma-separated) whose "
            "forwarded_header names the client; empty: the TCP peer is the client"),
    SETTING_ENUM("forwarded_header", "x-forwarded-for",
                 "the header trusted_proxies write the client into (only it is read)",
                 "x-forwarded-for|forwarded"),
    SETTING("max_body_bytes", COH_CFG_INT, "1048576", 1024, 1073741824, 0,
            "largest accepted request body in bytes (larger: 413)"),
    SETTING_ENUM("log_level", "info", "least severity logged", "debug|info|warn|error"),
    SETTING("master_key_file", COH_CFG_PATH, NULL, 0, 0, 0,
            "file of the 32-byte master key as 64 hex characters, mode 0600"),
    SETTING("db_pool_size", COH_CFG_INT, "16", 1, 1000, 0, "database connections in the pool"),
    SETTING("db_statement_timeout_ms", COH_CFG_DURATION_MS, "5000", 10, 600000, 0,
            "per-statement timeout"),
    /* <source>: the source tree (build tree's binaries) or PREFIX/share/cohort (data_dir.c) */
    SETTING("sql_dir", COH_CFG_PATH, coh_settings_default_sql_dir, 0, 0, COH_CFG_SOURCE_PATH,
            "directory of the migrations"),
    SETTING("web_dir", COH_CFG_PATH, coh_settings_default_web_dir, 0, 0, COH_CFG_SOURCE_PATH,
            "directory of the web app (index.html, style.css, app.js)"),
    SETTING("openapi_path", COH_CFG_PATH, coh_settings_default_openapi_path, 0, 0,
            COH_CFG_SOURCE_PATH, "the OpenAPI document served"),
    SETTING("chain_rpc_url", COH_CFG_URL, "", 0, 0, O, "EVM JSON-RPC endpoint; empty: no chain"),
    SETTING("chain_id", COH_CFG_INT, "31337", 1, 2147483647, 0,
            "EVM chain id (31337 and 1337 are local test networks)"),
    SETTING("token_contract", COH_CFG_ADDRESS, "", 0, 0, O, "the reward token contract"),
    SETTING("rewards_contract", COH_CFG_ADDRESS, "", 0, 0, O,
            "the CohortRewards contract; empty: no anchoring and no deposit watching"),
    SETTING("eas_contract", COH_CFG_ADDRESS, "", 0, 0, O,
            "the Ethereum Attestation Service contract on this chain: attested requests that name "
            "no EAS domain use it, and an attestation its issuer revoked there is refused"),
    SETTING("eas_version", COH_CFG_STRING, "1.3.0", 1, 0, 0,
            "the EIP-712 version of eas_contract (its version() answer)"),
    SETTING("rewards_code_hash", COH_CFG_HASH, "", 0, 0, O,
            "keccak256 of the rewards contract's runtime code; cohortd refuses to start otherwise"),
    SETTING("token_code_hash", COH_CFG_HASH, "", 0, 0, O,
            "keccak256 of the token contract's runtime code; cohortd refuses to start otherwise"),
    SETTING("chain_confirmations", COH_CFG_INT, "2", 1, 1000, 0,
            "blocks from the one holding a transaction or event until it counts as final"),
    SETTING("chain_poll_ms", COH_CFG_DURATION_MS, "1000", 50, 600000, 0,
            "how often the chain worker polls the node"),
    SETTING("anchor_interval_s", COH_CFG_DURATION_S, "30", 1, 86400, 0,
            "unanchored ledger entries are anchored this often"),
    SETTING("anchor_batch_size", COH_CFG_INT, "1000", 1, 1000000, 0,
            "or sooner once this many entries wait"),
    SETTING("anchor_stuck_s", COH_CFG_DURATION_S, "30", 1, 86400, 0,
            "an anchor pending this long is replaced with both fees raised by 12.5%"),
    SETTING("anchor_max_failures", COH_CFG_INT, "10", 1, 1000, 0,
            "failed anchors in a row after which the anchorer stops until restart"),
    SETTING("anchor_backoff_ms", COH_CFG_DURATION_MS, "2000", 10, 3600000, 0,
            "first retry delay after a failed anchor, doubling up to 10 minutes"),
    SETTING("challenge_period_s", COH_CFG_DURATION_S, "3600", 0, 31536000, 0,
            "the rewards contract's challenge period (read by scripts/deploy.mjs)"),
    SETTING("chain_start_block", COH_CFG_INT, "0", 0, 2147483647, 0,
            "first block the deposit watcher scans"),
    SETTING("public_url", COH_CFG_URL, "http://127.0.0.1:8080", 0, 0, 0,
            "the URL users reach cohortd at (Sign-In with Ethereum domain and URI)"),
    SETTING("session_ttl_s", COH_CFG_DURATION_S, "86400", 1, 31536000, 0,
            "sign-in session lifetime"),
    SETTING("nonce_ttl_s", COH_CFG_DURATION_S, "300", 10, 86400, 0, "sign-in nonce lifetime"),
    SETTING("signin_rate_per_min", COH_CFG_INT, "30", 1, 100000, 0,
            "sign-in attempts per minute per client IP, and sign-ins per minute per address"),
    SETTING("request_create_rate_per_hour", COH_CFG_INT, "20", 1, 1000000, 0,
            "requests one researcher may create per hour (a burst of as many; beyond: 429)"),
    SETTING("request_min_escrow", COH_CFG_AMOUNT, "0", 0, 0, 0,
            "least reward x max_contributors of a request, in token base units (0: none)"),
    SETTING("consent_rate_per_hour", COH_CFG_INT, "120", 1, 1000000, 0,
            "consents (given or revoked) one account may send per hour (beyond: 429)"),
    SETTING("contribution_rate_per_hour", COH_CFG_INT, "120", 1, 1000000, 0,
            "contributions one account may submit per hour (beyond: 429)"),
    SETTING("release_workers", COH_CFG_INT, "1", 0, 64, 0,
            "release worker threads in this process (0: none)"),
    SETTING("privacy_min_k", COH_CFG_INT, "5", 2, 1000, 0,
            "floor: least k-anonymity of any release"),
    SETTING("privacy_max_epsilon", COH_CFG_DECIMAL, "1", 1, 10000000, 0,
            "floor: largest differential-privacy epsilon a request may use"),
    SETTING("privacy_max_delta", COH_CFG_DECIMAL, "0.000001", 0, 1000, 0,
            "floor: largest differential-privacy delta a request may use"),
    SETTING("privacy_min_dp_contributors", COH_CFG_INT, "50", 1, 100000, 0,
            "floor: least contributors of a differentially private release"),
    SETTING("release_poll_ms", COH_CFG_DURATION_MS, "1000", 10, 600000, 0,
            "how often release workers look for due requests"),
    SETTING("release_lease_s", COH_CFG_DURATION_S, "300", 1, 86400, 0,
            "a job claimed by a process that died is taken over after this long"),
};

#undef S
#undef O
#undef SETTING
#undef SETTING_ENUM

const size_t coh_settings_count = sizeof coh_settings / sizeof coh_settings[0];

int coh_listen_is_loopback(const char *listen)
{
    /* civetweb's listening_ports: comma-separated "[ip:]port[s|r]"; a bare port (or "+port")
     * binds every interface. */
    for (const char *p = listen;;) {
        size_t n = strcspn(p, ","); /* an empty item (",," or a trailing ',') is not loopback */
        if (!((n > 4 && strncmp(p, "127.", 4) == 0) || (n > 6 && strncmp(p, "[::1]:", 6) == 0)))
            return 0;
        if (p[n] == '\0')
            return 1;
        p += n + 1;
    }
}

int coh_settings_load(coh_config **out, const char *file, coh_err *err)
{
    int rc = coh_config_load(out, coh_settings, coh_settings_count, file, err);
    if (rc)
        return rc;
    /* /metrics shows who is active when: never to the network without a token. */
    const char *listen = coh_config_str(*out, "metrics_listen");
    if (*listen && !*coh_config_str(*out, "metrics_token") && !coh_listen_is_loopback(listen))
        rc = coh_err_set(err, COH_ERR_INVALID,
                         "config: %s: metrics_listen is not a loopback address: set "
                         "metrics_token, or listen on 127.0.0.1",
                         coh_config_origin(*out, "metrics_listen"));
    if (rc) {
        coh_config_free(*out);
        *out = NULL;
    }
    return rc;
}
