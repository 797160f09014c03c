/*
 * db: a bounded, thread-safe libpq connection pool, parameterized queries only, and the
 * migrations runner. Statements carry a server-side statement_timeout set per connection.
 */
#ifndef COH_DB_H
#define COH_DB_H

#include "core/core.h"

#include <jansson.h>
#include <libpq-fe.h>

typedef struct coh_db_pool coh_db_pool;
typedef struct coh_db_conn coh_db_conn;

/*
 * Opens a pool of at most `size` connections to `url` (a libpq URI or key=value string).
 * Connections are made lazily; one is opened now to check the URL. Returns 0 or an error.
 */
COH_WUR int coh_db_pool_new(coh_db_pool **out, const char *url, int size, int statement_timeout_ms,
                            coh_err *err);
void coh_db_pool_free(coh_db_pool *p);

/*
 * Borrows a connection, waiting at most wait_ms for one to be free. A connection found broken
 * (the server restarted) is reset first. Returns NULL with err set when none can be had.
 */
coh_db_conn *coh_db_acquire(coh_db_pool *p, int wait_ms, coh_err *err);
/* Returns the connection; one left inside a failed transaction is rolled back. */
void coh_db_release(coh_db_conn *c);
PGconn *coh_db_pgconn(coh_db_conn *c);

struct coh_db_pool_stats {
    int size;   /* maximum connections */
    int open;   /* connections currently established */
    int in_use; /* borrowed right now */
    unsigned long waits_timed_out;
};
void coh_db_pool_stats(const coh_db_pool *p, struct coh_db_pool_stats *out);

/*
 * Runs a parameterized statement (text parameters, NULL for SQL NULL). Returns the result
 * (caller PQclear()s it) when its status is COMMAND_OK or TUPLES_OK; otherwise NULL with err
 * set: COH_ERR_CONFLICT for unique/exclusion violations, COH_ERR_UNAVAILABLE when the
 * connection is lost, COH_ERR_DB else. The SQL text is never built from input.
 */
PGresult *coh_db_exec(coh_db_conn *c, const char *sql, int n, const char *const *params,
                      coh_err *err);
/*
 * The same, planned for these parameter values every time rather than prepared once: for
 * statements whose best plan depends on them, such as `col = ANY($1::text[])` with arrays from
 * one element to thousands, where a cached generic plan can fall back to a sequential scan.
 */
PGresult *coh_db_exec_unprepared(coh_db_conn *c, const char *sql, int n, const char *const *params,
                                 coh_err *err);
/*
 * Classifies a failed result as coh_db_exec does (connection lost or timeout: UNAVAILABLE;
 * unique, exclusion or serialization: CONFLICT; else DB), copies its SQLSTATE into state
 * (6 bytes, may be NULL) and PQclear()s it. For callers running their own prepared statements.
 */
void coh_db_error_set(coh_db_conn *c, PGresult *r, char state[6], coh_err *err);
/*
 * The one map of the SQLSTATEs we tell apart (pool.c): coh_db_error_set classifies by it and
 * ledger.c reads it where a refused check means insufficient funds.
 */
enum coh_db_sqlstate_id {
    COH_DB_SQLSTATE_OTHER = 0,
    COH_DB_UNIQUE_VIOLATION,      /* 23505 */
    COH_DB_EXCLUSION_VIOLATION,   /* 23P01 */
    COH_DB_CHECK_VIOLATION,       /* 23514 */
    COH_DB_SERIALIZATION_FAILURE, /* 40001 */
    COH_DB_DEADLOCK_DETECTED,     /* 40P01 */
    COH_DB_QUERY_CANCELED,        /* 57014: statement_timeout */
};
struct coh_db_sqlstate {
    int id;             /* enum coh_db_sqlstate_id */
    const char *state;  /* the five characters */
    int code;           /* COH_ERR_* it maps to */
    const char *phrase; /* what it means, for messages */
};
/* The map's row for state; for NULL or an unlisted state, a row {OTHER, "", COH_ERR_DB, ...}. */
const struct coh_db_sqlstate *coh_db_sqlstate(const char *state);
/*
 * Runs one parameterized statement on a pooled connection (waiting up to 2 s for one) and
 * returns it to the pool before returning the result, as coh_db_exec does; NULL with err set
 * when no connection was free or the statement failed.
 */
PGresult *coh_db_query(coh_db_pool *p, const char *sql, int n, const char *const *params,
                       coh_err *err);
/* Runs a parameterized statement on a pooled connection, discarding its rows. */
COH_WUR int coh_db_run(coh_db_pool *p, const char *sql, int n, const char *const *params,
                       coh_err *err);
/* Runs a statement without parameters that returns no rows ("BEGIN", "COMMIT"). */
COH_WUR int coh_db_cmd(coh_db_conn *c, const char *sql, coh_err *err);

/* ---- migrations ---------------------------------------------------------------------- */
/*
 * Applies the numbered files NNN_name.sql of dir in order, each in its own transaction, under
 * a session advisory lock so concurrent starters apply each exactly once. Each is recorded
 * with its SHA-256; an applied file whose checksum changed, or an applied version with no
 * file, is refused. *applied gets how many were applied now (may be NULL).
 */
COH_WUR int coh_db_migrate(int *applied, coh_db_pool *p, const char *dir, coh_err *err);
/*
 * Checks that every migration in dir is applied with its checksum (for /readyz).
 * Returns 0 when current, COH_ERR_CONFLICT when behind, another error when unreachable.
 */
COH_WUR int coh_db_migrations_current(coh_db_pool *p, const char *dir, coh_err *err);
/*
 * The role a pool connects as, and what it may do to ledger entries: cohortd should connect as
 * an application role (sql/030_roles.sql) for which all three flags are 0.
 */
struct coh_db_role {
    char name[64];
    int superuser;
    int owns_ledger;        /* owner (or member of the owner) of ledger_entries */
    int may_rewrite_ledger; /* UPDATE, DELETE or TRUNCATE granted on ledger_entries */
};
COH_WUR int coh_db_role_check(struct coh_db_role *out, coh_db_pool *p, coh_err *err);

/* ---- identity queries (identity.c) ---------------------------------------------------- */
/* Records a freshly issued sign-in nonce valid for ttl_s seconds. */
COH_WUR int coh_db_nonce_insert(coh_db_pool *p, const char *nonce, long ttl_s, coh_err *err);
/*
 * Marks nonce used if it was issued, unused and unexpired. Returns 0, or COH_ERR_FORBIDDEN
 * (with a reason: unknown, already used, expired) when it cannot be used.
 */
COH_WUR int coh_db_nonce_consume(coh_db_pool *p, const char *nonce, coh_err *err);

struct coh_db_session {
    long long id;
    char address[COH_ADDR_HEX_SIZE]; /* lowercase 0x hex */
    char expires_at[40];
};
/*
 * Creates the account (and its default profile) if new, and a session for the 32-byte token
 * hash expiring in ttl_s seconds.
 */
COH_WUR int coh_db_session_create(struct coh_db_session *out, coh_db_pool *p, const char *address,
                                  const uint8_t token_hash[32], long ttl_s, const char *user_agent,
                                  coh_err *err);
/* Finds a live session by token hash: COH_ERR_NOTFOUND when unknown, revoked or expired. */
COH_WUR int coh_db_session_find(struct coh_db_session *out, coh_db_pool *p,
                                const uint8_t token_hash[32], coh_err *err);
COH_WUR int coh_db_session_revoke(coh_db_pool *p, long long id, const char *address, coh_err *err);
/* Active sessions of address as a JSON array (caller owns), newest first. */
json_t *coh_db_sessions_list(coh_db_pool *p, const char *address, long long current_id,
                             coh_err *err);

/* Profile as the API shows it (caller owns), or NULL with err. */
json_t *coh_db_profile_get(coh_db_pool *p, const char *address, coh_err *err);
/*
 * A profile update from validated members (see http/h_profile.c): NULL text or -1 keeps the
 * stored value, so a PUT naming one member changes only that one, even beside another PUT.
 */
struct coh_db_profile_update {
    int researcher, contributor;   /* 0, 1, or -1 to keep */
    const char *display_name;
    const char *categories_json;   /* JSON array of strings */
    const char *attributes_json;   /* JSON object */
    const char *purposes_json;     /* JSON array of strings */
    const char *min_reward;        /* decimal uint256 */
    const char *lifetime_epsilon;  /* decimal > 0 */
    const char *min_k;             /* decimal integer 2-1000, or "" for none */
    const char *max_epsilon;       /* decimal > 0, or "" for none */
    int statistics_only;           /* 0, 1, or -1 to keep */
    const char *payout_address;    /* lowercase 0x address, or "" for the sign-in address */
};
COH_WUR int coh_db_profile_put(coh_db_pool *p, const char *address,
                               const struct coh_db_profile_update *u, coh_err *err);

/* A text[] literal of strs[0..n) (n >= 1), every element quoted, to pass an array as one
 * parameter ($1::text[]); malloc'd, NULL on OOM. */
char *coh_db_text_array(const char *const *strs, size_t n);

/*
 * Runs a statement whose first row's first column is JSON text (built in SQL with
 * json_build_object / json_agg) and returns it parsed (caller owns). No row or SQL NULL gives
 * NULL with COH_ERR_NOTFOUND.
 */
json_t *coh_db_json(coh_db_pool *p, const char *sql, int n, const char *const *params,
                    coh_err *err);
/* Same on a borrowed connection (inside a transaction). */
json_t *coh_db_conn_json(coh_db_conn *c, const char *sql, int n, const char *const *params,
                         coh_err *err);

#endif
