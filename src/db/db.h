/*
 * db: the one header of the SQL layer. A bounded, thread-safe libpq connection pool,
 * parameterized queries only, the migrations runner (pool.c, migrate.c); then one section per
 * table group: identity, the ledger, the chain worker's state, the marketplace and its release
 * jobs. Statements carry a server-side statement_timeout set per connection. Argument order:
 * outputs first, then the pool (or connection), then inputs, then err.
 */
#ifndef COH_DB_H
#define COH_DB_H

#include "chain/chain.h"
#include "core/core.h"
#include "ledger/ledger.h"

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
/*
 * A connection of its own (not pooled, never handed to another thread) to the pool's database,
 * with the pool's statement timeout, TCP keepalives and a 10 s TCP user timeout, named
 * application_name in pg_stat_activity: for session state that must stay with one owner, such
 * as the chain leader's advisory lock. The caller PQfinish()es it; NULL with err set.
 */
PGconn *coh_db_connect_dedicated(coh_db_pool *p, const char *application_name, coh_err *err);

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
/* Revokes every unrevoked session of address ("sign out everywhere"); *n_revoked (may be
 * NULL) gets how many. 0 also when there were none. */
COH_WUR int coh_db_sessions_revoke_all(coh_db_pool *p, const char *address, long long *n_revoked,
                                       coh_err *err);
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
    int researcher, contributor; /* 0, 1, or -1 to keep */
    const char *display_name;
    const char *categories_json;  /* JSON array of strings */
    const char *attributes_json;  /* JSON object */
    const char *purposes_json;    /* JSON array of strings */
    const char *min_reward;       /* decimal uint256 */
    const char *lifetime_epsilon; /* decimal > 0 */
    const char *min_k;            /* decimal integer 2-1000, or "" for none */
    const char *max_epsilon;      /* decimal > 0, or "" for none */
    int statistics_only;          /* 0, 1, or -1 to keep */
    const char *payout_address;   /* lowercase 0x address, or "" for the sign-in address */
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

/* ==== the ledger (ledger_post.c, ledger_query.c, ledger_key.c, credits.c) ===================== */
/*
 * The ledger in PostgreSQL (sql/002_ledger.sql). Postings are serialized on the
 * single ledger_head row, so the hash chain never forks; each posting updates the balances in
 * the same transaction, and the database refuses any that would take an account other than
 * "chain" below zero. Every posting carries an idempotency key: a retry returns the original
 * entry and never posts twice.
 */

/* ---- the ledger signing key ------------------------------------------------------------ */
/* *retired 1 when address (lowercase 0x) is a ledger key this ledger was rotated from. */
COH_WUR int coh_db_ledger_key_retired(int *retired, coh_db_pool *p, const char *address,
                                      coh_err *err);
/* The active ledger key's address (lowercase 0x), "" when none. */
COH_WUR int coh_db_ledger_key_active(char address[COH_ADDR_HEX_SIZE], coh_db_pool *p, coh_err *err);
/*
 * Loads the active ledger key (wrapped under master with context "ledger") into secure memory.
 * With create != 0 and no key yet, generates one and stores it (concurrent starters agree on
 * one). COH_ERR_NOTFOUND when there is none and create == 0; COH_ERR_CRYPTO when it does not
 * unwrap under this master key.
 */
COH_WUR int coh_db_ledger_key_load(coh_secbuf **key, uint8_t address[20], coh_db_pool *p,
                                   const coh_secbuf *master, int create, coh_err *err);
/*
 * Rotates the ledger key: generates a new one, records a key_rotation entry (signer:<old> ->
 * signer:<new>, amount 0) signed by the old key, retires the old key and activates the new, all
 * in one transaction. On success *new_key/new_address hold the new key. Other cohortd
 * processes refuse to post (COH_ERR_CONFLICT) until they reload.
 */
COH_WUR int coh_db_ledger_key_rotate(coh_secbuf **new_key, uint8_t new_address[20], coh_db_pool *p,
                                     const coh_secbuf *master, const coh_secbuf *old_key,
                                     coh_err *err);

/* ---- posting ------------------------------------------------------------------------------ */
/*
 * Posts one entry. In: e's kind, debit, credit, amount, refs and idempotency_key (checked with
 * coh_ledger_entry_check). Out: *e completed (seq, created_us, prev_hash, hash, signature,
 * signer). When the key was posted before with the same content, *e is that original entry and
 * *replayed = 1 (replayed may be NULL). Errors: COH_ERR_INVALID (bad content), COH_ERR_CONFLICT
 * (key reused with other content, or the ledger key was rotated), COH_ERR_LIMIT (insufficient
 * funds: an account would go negative), COH_ERR_UNAVAILABLE / COH_ERR_DB.
 */
COH_WUR int coh_db_ledger_post(coh_ledger_entry *e, int *replayed, coh_db_pool *p,
                               const coh_secbuf *key, coh_err *err);
/*
 * Posts n entries in one transaction (one commit: the fast path for payouts), in order: an
 * entry may spend what earlier entries of the batch credit. All or nothing: any invalid,
 * conflicting or overdrawing entry aborts the batch with err naming its index ("batch entry
 * i: ...") and, for an overdraft, the account; es is then left as the caller filled it.
 * Entries whose key was already posted with the same content are returned as they were, and
 * a key repeated within the batch with the same content posts once (the repeats return that
 * entry); with other content either is COH_ERR_CONFLICT. Thread-safe; any n >= 1.
 */
COH_WUR int coh_db_ledger_post_batch(coh_ledger_entry *es, size_t n, coh_db_pool *p,
                                     const coh_secbuf *key, coh_err *err);

/* ---- queries ------------------------------------------------------------------------------ */
struct coh_db_ledger_filter {
    uint64_t after;      /* entries with seq > after */
    int limit;           /* 1..1000 */
    const char *account; /* exact account name, or an address (its available: and payable:
                            accounts); NULL or "" for all */
    const char *kind;    /* NULL or "" for all */
    const char *request; /* ref_request; NULL or "" for all */
};

/* Entries matching f in seq order into a malloc'd array (*out, *n). */
COH_WUR int coh_db_ledger_entries(coh_ledger_entry **out, size_t *n, coh_db_pool *p,
                                  const struct coh_db_ledger_filter *f, coh_err *err);
/* One entry; COH_ERR_NOTFOUND when there is no such seq. */
COH_WUR int coh_db_ledger_entry_get(coh_ledger_entry *out, coh_db_pool *p, uint64_t seq,
                                    coh_err *err);

/* An address's balances, decimal strings of token base units. */
struct coh_db_ledger_balance {
    char available[80]; /* available:<addr> */
    char escrowed[80];  /* sum of the escrow:<request> accounts this address funded */
    char earned[80];    /* cumulative credits to payable:<addr> */
    char claimed[80];   /* cumulative claims (debits of payable:<addr>) */
    char anchored[80];  /* cumulative in the latest confirmed anchor's claims tree */
    char claimable[80]; /* anchored - claimed */
    char pending[80];   /* earned - anchored */
    uint64_t seq;       /* the last ledger entry these figures include */
};
/* addr is lowercase 0x + 40 hex. An address never seen has all zeros. */
COH_WUR int coh_db_ledger_balance(struct coh_db_ledger_balance *out, coh_db_pool *p,
                                  const char *addr, coh_err *err);

/* Per request (id 0x + 64 hex): total escrowed, paid in rewards, refunded; decimal strings. */
COH_WUR int coh_db_ledger_request_totals(char escrowed[80], char paid[80], char refunded[80],
                                         coh_db_pool *p, const char *request_id, coh_err *err);

/* ---- private credits (credits.c) ------------------------------------------------------- */
/*
 * Stores the credits of one entry before it is posted (entry_key: its idempotency key;
 * request: the request id or NULL): payee addrs[i] (lowercase) gets amounts[i] (decimal), each
 * with a fresh random salt. Idempotent: a retry keeps the salts already stored (and, once the
 * entry exists, the amounts). *out: every credit of entry_key (address, amount, salt hex),
 * ordered by address; caller PQclear()s it.
 */
COH_WUR int coh_db_credits_put(PGresult **out, coh_db_pool *p, const char *entry_key,
                               const char *request, const char *const *addrs,
                               const char *const *amounts, size_t n, coh_err *err);
/*
 * The credits of address that count (their entry is posted), oldest first, with the entries
 * that name it publicly (wave-1 rewards and withdrawals, `wave1` true: no salt, no proof; the
 * name is historical): [{seq, kind, request, amount, salt,
 * credits_ref, wave1, leaves: [[address, amount, salt]...] (every credit of that entry, to
 * build the inclusion proof; never to be sent)}].
 */
json_t *coh_db_credits_of(coh_db_pool *p, const char *address, coh_err *err);

/* Wave-1 payable:<addr> accounts still holding a balance: (address, balance, credited), at
 * most 500 per call. */
PGresult *coh_db_credits_wave1_balances(coh_db_pool *p, coh_err *err);

/* Head of the chain: last seq (0 when empty) and its hash. */
COH_WUR int coh_db_ledger_head(uint64_t *seq, uint8_t hash[32], coh_db_pool *p, coh_err *err);

/* ==== the chain worker's state (chain.c, chain_events.c) ====================================== */
/*
 * The anchorer's and the deposit watcher's state in PostgreSQL (sql/005_chain.sql),
 * the queries behind GET /v1/anchors and GET /v1/claims/{address}. SQL only: the chain worker
 * that talks to the node is src/svc/anchorer.c.
 */

struct coh_db_chain_anchor {
    long long id;
    uint64_t first_seq, last_seq;
    uint8_t ledger_root[32]; /* batch tree over entry hashes first_seq..last_seq, in order */
    uint8_t claims_root[32]; /* StandardMerkleTree of (address, cumulative payable) at last_seq */
    long long n_claims;      /* leaves in the claims tree (0: root is 32 zero bytes) */
    uint8_t total_credited[32]; /* sum of the leaves' cumulative amounts (propose caps it) */
    char status[12];            /* pending, sent, confirmed (mined as a proposal), vetoed */
};

struct coh_db_chain_tx {
    uint8_t hash[32];
    uint64_t nonce;
    uint8_t max_fee[32], max_priority_fee[32];
    uint8_t *raw; /* malloc'd signed bytes (coh_db_chain_txs_free) */
    size_t raw_len;
    long long block_number; /* -1 until seen mined */
    long long age_s;        /* seconds since it was sent */
    char status[12];        /* sent, mined, replaced, dropped, failed */
};

/* The anchor in flight (pending or sent); COH_ERR_NOTFOUND when none. */
COH_WUR int coh_db_chain_anchor_open(struct coh_db_chain_anchor *out, coh_db_pool *p, coh_err *err);
/*
 * Creates the next anchor when one is due: unanchored entries exist and either at least
 * batch_size wait or the oldest has waited interval_s. Computes both roots and stores the
 * claims leaves in the same transaction. *created = 0 when nothing was due.
 */
COH_WUR int coh_db_chain_anchor_create(struct coh_db_chain_anchor *out, int *created,
                                       coh_db_pool *p, long batch_size, long interval_s,
                                       coh_err *err);
/*
 * Records a signed transaction for an anchor (before it is broadcast); the anchor is 'sent'.
 * With a leader (coh_db_leader_new), the row is written on the leader's own connection while
 * it holds the lock: a process that lost leadership (its connection gone) cannot record, so it
 * cannot broadcast a transaction the new leader does not know of (COH_ERR_UNAVAILABLE, or
 * COH_ERR_CONFLICT when the lock is not held). NULL: on the pool (one instance, tests).
 */
typedef struct coh_db_leader coh_db_leader;
COH_WUR int coh_db_chain_tx_record(coh_db_pool *p, coh_db_leader *leader, long long anchor_id,
                                   const struct coh_db_chain_tx *tx, coh_err *err);
/* The anchor's transactions, newest first. */
COH_WUR int coh_db_chain_txs(struct coh_db_chain_tx **out, size_t *n, coh_db_pool *p,
                             long long anchor_id, coh_err *err);
void coh_db_chain_txs_free(struct coh_db_chain_tx *txs, size_t n);
/* Sets a transaction's status and block (-1: NULL). */
COH_WUR int coh_db_chain_tx_mark(coh_db_pool *p, const uint8_t hash[32], const char *status,
                                 long long block, coh_err *err);
/* Marks the anchor confirmed by the transaction hash mined in block; effective_at: the unix
 * time its proposal becomes effective (the Anchored event's effectiveAt). */
COH_WUR int coh_db_chain_anchor_confirm(coh_db_pool *p, long long anchor_id, const uint8_t hash[32],
                                        long long block, long long effective_at, coh_err *err);
/* The latest confirmed anchor's last_seq (0 when none). */
COH_WUR int coh_db_chain_anchor_last_confirmed(uint64_t *last_seq, coh_db_pool *p, coh_err *err);
/* Marks the confirmed anchor ending at last_seq vetoed (the guardian vetoed its proposal).
 * Returns 1 when one was marked, 0 when none. */
COH_WUR int coh_db_chain_anchor_veto(coh_db_pool *p, uint64_t last_seq, coh_err *err);

/* The anchorer's health row (sql/020_chain_proposals.sql). state: ok, not_anchorer, backoff,
 * stopped; next_try_s: seconds until the next attempt (< 0: none). */
COH_WUR int coh_db_chain_anchorer_set(coh_db_pool *p, const char *signer, const char *state,
                                      const char *reason, int failures, long next_try_s,
                                      coh_err *err);
/* {signer, state, reason, failures, next_try_at, updated_at}, or JSON null when no chain
 * worker ever ran on this database; NULL on error. */
json_t *coh_db_chain_anchorer_json(coh_db_pool *p, coh_err *err);
/*
 * After a reorg deeper than the confirmations: reopens (status 'sent') the oldest confirmed
 * anchor whose last_seq exceeds the contract's. Returns 1 when one was reopened, 0 when none.
 */
COH_WUR int coh_db_chain_anchor_reopen(coh_db_pool *p, uint64_t onchain_last_seq, coh_err *err);

/* ---- the chain leader (chain.c) ----------------------------------------------------------- */
/*
 * Several cohortd may serve one database; the chain worker's anchoring, promotion, deposit
 * watching and solvency checks run in one of them at a time: the one whose dedicated
 * connection (coh_db_connect_dedicated) holds the session-level advisory lock
 * pg_try_advisory_lock(COH_DB_CHAIN_LEADER_KEY1, COH_DB_CHAIN_LEADER_KEY2). The lock lives as
 * long as that session: a leader that dies (SIGKILL closes its socket), is disconnected or
 * sees the database restart loses it at once, and a standby polling coh_db_leader_try gets it
 * at its next poll. Operators find the holder with
 *   SELECT a.pid, a.application_name, a.client_addr, a.backend_start FROM pg_locks l
 *   JOIN pg_stat_activity a USING (pid) WHERE l.locktype = 'advisory'
 *   AND l.classid = 1668245618 AND l.objid = 1 AND l.objsubid = 2;
 */
#define COH_DB_CHAIN_LEADER_KEY1 1668245618 /* "cohr" */
#define COH_DB_CHAIN_LEADER_KEY2 1          /* the chain worker */
/* A leader handle: no connection yet (the first coh_db_leader_try opens it). application_name
 * names this instance in pg_stat_activity (at most 63 bytes are kept). */
COH_WUR int coh_db_leader_new(coh_db_leader **out, coh_db_pool *p, const char *application_name,
                              coh_err *err);
/*
 * One poll. Not holding the lock: (re)connects when needed and tries to take it. Holding it:
 * checks that the session still holds it (pg_locks), so a lost connection or a restarted
 * database is seen at the next poll. *held: 0 not the leader; 1 the leader, in the same session
 * as at the previous try; 2 the leader in a session that took the lock at this try (a new
 * term: whatever the previous one remembered may be stale). An error (the database
 * unreachable, the connection lost) sets *held = 0 and closes the connection.
 */
COH_WUR int coh_db_leader_try(coh_db_leader *l, int *held, coh_err *err);
/* Closes the connection (the lock goes with its session) and frees l; NULL is a no-op. */
void coh_db_leader_free(coh_db_leader *l);
/* This process's part, for /metrics, /readyz and GET /v1/chain: -1 no chain worker (no leader
 * handle), 0 standby (another instance leads, or the database is unreachable), 1 leader. */
int coh_db_chain_leader(void);

/* ---- the deposit watcher (chain_events.c) ---------------------------------------------- */
/*
 * Logs the deposit watcher was given that were not the rewards contract's Deposited or Claimed
 * events (another address or topic), ignored since the process started (src/svc/deposit_watch.c).
 */
unsigned long coh_db_chain_logs_ignored(void);
/* Scan cursor by name (the last block fully processed); *block = dflt when never set. */
COH_WUR int coh_db_chain_cursor_get(long long *block, coh_db_pool *p, const char *name,
                                    long long dflt, coh_err *err);
#define COH_DB_CHAIN_SCANNED_KEPT 256 /* remembered (block, hash) pairs per cursor */
/* Moves the cursor to block and remembers the block's hash (the last 256 per cursor). */
COH_WUR int coh_db_chain_cursor_set(coh_db_pool *p, const char *name, long long block,
                                    const uint8_t hash[32], coh_err *err);

struct coh_db_chain_block {
    long long number;
    uint8_t hash[32];
};
/* The remembered blocks of a cursor at or below `at`, newest first, at most max. */
COH_WUR int coh_db_chain_scanned(struct coh_db_chain_block *out, size_t max, size_t *n,
                                 coh_db_pool *p, const char *name, long long at, coh_err *err);
/*
 * After a reorg below the cursor: moves it back to ancestor (a block the node still has with
 * the remembered hash), forgets the blocks above it, and marks every event credited from a
 * block above it orphaned until a rescan sees it again. *orphaned: events newly marked.
 */
COH_WUR int coh_db_chain_rewind(long *orphaned, coh_db_pool *p, const char *name,
                                long long ancestor, coh_err *err);
/* For GET /v1/chain: the events cursor (-1 before the first scan) and the orphaned events. */
COH_WUR int coh_db_chain_events_status(long long *block, long *orphaned, coh_db_pool *p,
                                       coh_err *err);

/* A confirmed Deposited or Claimed event. */
struct coh_db_chain_event {
    const char *kind; /* "deposit" or "claim" */
    uint8_t tx_hash[32];
    long long tx_ordinal; /* among the contract's Deposited/Claimed logs of the transaction */
    long long log_index;  /* block-wide; changes when the transaction is mined again */
    long long block_number;
    uint8_t block_hash[32];
    uint8_t account[20];
    uint8_t amount[32];
    uint8_t cumulative[32]; /* claims: the account's cumulative claimed after this claim */
};
/* What crediting found. */
enum coh_db_event_seen {
    COH_DB_EVENT_NEW = 0, /* first seen: posted to the ledger */
    COH_DB_EVENT_KNOWN,   /* seen before in the same block */
    COH_DB_EVENT_MOVED,   /* seen before, now in another block (mined again after a reorg) */
    COH_DB_EVENT_BACK,    /* was orphaned by a rewind and is on chain again */
    COH_DB_EVENT_CHANGED, /* same transaction and ordinal, other account or amount: an error */
};
/*
 * Posts the event's ledger entry (deposit: chain -> available:<account>; claim:
 * payable:<account> -> chain) once per event, with the idempotency key "<kind>:<tx>/<ordinal>",
 * and records it; an event seen before only updates where it is. A deposit is the same event
 * when its transaction and ordinal are; a claim when its account and cumulative amount are
 * (which strictly increase per account on chain), so a claim sent again in another transaction
 * after a reorg dropped the first is not debited twice.
 */
COH_WUR int coh_db_chain_event_credit(enum coh_db_event_seen *seen, coh_db_pool *p,
                                      const coh_secbuf *ledger_key,
                                      const struct coh_db_chain_event *ev, coh_err *err);

/*
 * Solvency (sql/006_chain_solvency.sql): the latest confirmed anchor when it has no check yet
 * (*anchor_id = 0 when none is due), and the block it was mined in.
 */
COH_WUR int coh_db_chain_solvency_due(long long *anchor_id, long long *anchor_block, coh_db_pool *p,
                                      coh_err *err);
/*
 * Records the check of anchor_id at block (events credited up to it): balance is the
 * contract's token balance at that block (decimal). *ok: balance == deposits - claims and
 * balance >= sum of (anchored cumulative - claimed); net and owed get those two sums.
 */
COH_WUR int coh_db_chain_solvency_record(int *ok, char net[80], char owed[80], coh_db_pool *p,
                                         long long anchor_id, long long block, const char *balance,
                                         coh_err *err);

/* GET /v1/anchors: {anchors: [...], next} with id > after, at most limit. */
json_t *coh_db_chain_anchors_json(coh_db_pool *p, long long after, int limit, coh_err *err);
/* ---- Merkle trees of anchors (chain.c) -------------------------------------------------- */
/* The batch tree over the hashes of entries first..last, in order; COH_ERR_CONFLICT on a gap. */
COH_WUR int coh_db_chain_batch_tree(coh_ledger_merkle **out, coh_db_conn *c, uint64_t first,
                                    uint64_t last, coh_err *err);
/*
 * The claims leaves the ledger itself gives at a sequence number: (address without 0x,
 * cumulative) rows, $1 = last seq; what anchors snapshot into chain_claim_leaves and what
 * `cohort watch` recomputes every proposal from. rows: PQclear'd by the caller.
 */
COH_WUR int coh_db_chain_claims_at(PGresult **rows, coh_db_conn *c, uint64_t last_seq,
                                   coh_err *err);
/* An anchor's claims leaves: (address without 0x, cumulative) rows, $1 = anchor id. */
#define COH_DB_CLAIMS_LEAVES_SQL                                                                   \
    "SELECT substr(address, 3), cumulative::text FROM chain_claim_leaves WHERE anchor_id = $1"
/* The claims tree (StandardMerkleTree, sorted) of COH_DB_CLAIMS_LEAVES_SQL rows; NULL when none. */
COH_WUR int coh_db_chain_claims_tree(coh_ledger_merkle **out, PGresult *rows, coh_err *err);
/* *out 1 when ledger entries wait to be anchored (the next batch, due or not yet). */
COH_WUR int coh_db_chain_entries_waiting(int *out, coh_db_pool *p, coh_err *err);
/* The stored leaves of anchor anchor_id (COH_DB_CLAIMS_LEAVES_SQL). */
PGresult *coh_db_chain_claims_leaves(coh_db_pool *p, const char *anchor_id, coh_err *err);
/* The effective anchor (id, last_seq, claims_root, tx_hash, block_number, address's cumulative
 * amount or NULL, true, effective_at); no row while none is effective. */
PGresult *coh_db_chain_claim_effective(coh_db_pool *p, const char *address, coh_err *err);

/*
 * For GET /v1/ledger/entries/{seq}: {inclusion_proof, anchor} of the entry in the batch that
 * holds it (proof: sibling hashes, leaf to root, sorted-pair hashing as OpenZeppelin's
 * MerkleProof; anchor: id, first_seq, last_seq, leaf_index, ledger_root, claims_root, status,
 * tx_hash and block_number once confirmed), or both null while the entry is not in a batch.
 * NULL on error.
 */
json_t *coh_db_chain_entry_anchor_json(coh_db_pool *p, uint64_t seq, coh_err *err);

/* ==== the marketplace (market.c, release_jobs.c) ============================================== */
/*
 * Queries over requests, consents, contributions, releases and notices
 * (sql/004_market.sql). Request ids travel as "0x" + 64 hex; addresses as lowercase 0x hex.
 * Views are built as JSON in SQL (request_json) so the API and the database agree on one shape.
 */

/* Inserts a request in state 'draft' from the normalized spec (see coh_market_spec_validate). */
COH_WUR int coh_db_request_insert(coh_db_pool *p, const char *id, const char *owner,
                                  const char *spec_json, const char *fields_hash_hex,
                                  long long consent_expiry, const char *public_key_hex,
                                  const char *wrapped_secret_hex, coh_err *err);
/* Moves a request from one status to another; COH_ERR_CONFLICT when it was not in `from`. */
COH_WUR int coh_db_request_transition(coh_db_pool *p, const char *id, const char *from,
                                      const char *to, coh_err *err);
/* The request as the API shows it to viewer (may be ""), or NULL + COH_ERR_NOTFOUND. */
json_t *coh_db_request_get(coh_db_pool *p, const char *id, const char *viewer, coh_err *err);
/*
 * What the contribution intake needs of a request: owner, status, public_key, schema,
 * enrollment (null for open requests stored before enrollment modes) and
 * "secret_key_wrapped" (hex, or null once shredded). Never send this object to a client.
 */
json_t *coh_db_request_get_for_intake(coh_db_pool *p, const char *id, coh_err *err);
/*
 * Requests newest first by (created_at, id), filtered (each filter NULL or "" for any), after
 * the cursor (before_us, before_id: the previous page's next; -1 / NULL for none) or before
 * the time `before` (RFC 3339; the older cursor, to the second): {requests, next} with next
 * {before_us, before_id} of the page's last request when the page is full, else null.
 */
json_t *coh_db_requests_list(coh_db_pool *p, const char *status, const char *purpose,
                             const char *owner, const char *before, long long before_us,
                             const char *before_id, int limit, const char *viewer, coh_err *err);
/* A page of the inbox: the operator's floors as exact fractions, the cursor and the limit. */
struct coh_db_inbox_query {
    unsigned long long min_k;                /* privacy_min_k */
    unsigned long long eps_num, eps_den;     /* privacy_max_epsilon */
    unsigned long long delta_num, delta_den; /* privacy_max_delta */
    unsigned long long min_dp_contributors;  /* privacy_min_dp_contributors */
    long long before_us;                     /* with before_id: the last row of the last page */
    const char *before_id;                   /* 0x hex request id; NULL: the first page */
    int limit;                               /* rows at most */
    int window; /* the newest open requests matched before the indexes are used; 0: 500 */
};
/*
 * The open requests of others that match profile (coh_db_profile_get's object of viewer) and
 * are within the operator's floors (or already consented to or contributed to by viewer),
 * newest first (created_at, id), after the cursor, at most q->limit: the matching is done in
 * SQL before the limit: first over the newest q->window open requests in order, and when they
 * do not fill the page, over candidates from the indexes of match_tokens and reward
 * (sql/037_inbox_index.sql). Items {request, consent, contributed, created_us}. The SQL may
 * admit what the C rules (coh_market_match) refuse, never the reverse: callers check each item.
 */
json_t *coh_db_inbox(coh_db_pool *p, const char *viewer, const json_t *profile,
                     const struct coh_db_inbox_query *q, coh_err *err);
/* Closes an open request of owner now: status 'closing' and a release job. */
COH_WUR int coh_db_request_close(coh_db_pool *p, const char *id, const char *owner, coh_err *err);

/*
 * Records (or renews after a revocation) a consent of the EIP-712 type `version` (1 or 2) while
 * the request is open; a version-2 consent keeps what it signed (terms hash, privacy summary),
 * NULL for version 1. On an invite request (its stored enrollment says so) the consent is taken
 * only from a wallet whose redemption is live, or together with redeeming code_hash (the
 * SHA-256 of the code given; NULL when none), atomically: COH_ERR_FORBIDDEN with reason
 * invite-code-required (no code, no live redemption) or invite-code-invalid (the code is
 * unknown, used or revoked: one answer, so codes cannot be probed); COH_ERR_CONFLICT
 * (request-closed) when the request is not open.
 */
/* What an attested consent binds (sql/038_attested.sql): the subject's hash, the attestation. */
struct coh_db_attested {
    uint8_t subject_hash[32];
    uint8_t uid[32];
    char issuer[COH_ADDR_HEX_SIZE]; /* lowercase 0x */
    uint64_t expires;               /* unix seconds; 0: never */
};
/*
 * An attested request (its stored enrollment says so) takes the consent only together with
 * binding att's subject to contributor, atomically: a subject already bound to another wallet
 * gives COH_ERR_CONFLICT (attestation-subject-taken), and so does a wallet bound to another
 * subject (another detail); att NULL on an attested request:
 * COH_ERR_FORBIDDEN (attestation-required).
 */
COH_WUR int coh_db_consent_put(coh_db_pool *p, const char *id, const char *contributor,
                               const char *signature_hex, long long expiry, int version,
                               const char *terms_hash_hex, const char *privacy,
                               const uint8_t code_hash[32], const struct coh_db_attested *att,
                               coh_err *err);
/* The stored consent, for anyone to verify, or NULL + NOTFOUND. */
json_t *coh_db_consent_get(coh_db_pool *p, const char *id, const char *contributor, coh_err *err);
/* Revokes the contributor's consent and deletes the contribution, while the request is open. */
COH_WUR int coh_db_consent_revoke(coh_db_pool *p, const char *id, const char *contributor,
                                  coh_err *err);
/*
 * Stores (or replaces) the sealed record of a consenting contributor while the request is
 * open and not full. COH_ERR_FORBIDDEN without a live consent, COH_ERR_CONFLICT when closed
 * or full.
 */
COH_WUR int coh_db_contribution_put(coh_db_pool *p, const char *id, const char *contributor,
                                    const uint8_t *ct, size_t ct_len, coh_err *err);

/* Requests whose wrapped secret key is len bytes long (the legacy form): id ("0x" + hex),
 * wrapped key (hex), public key (hex). */
COH_WUR int coh_db_reqkeys_legacy(PGresult **rows, coh_db_pool *p, size_t len, coh_err *err);
/* Replaces a request's wrapped key with fresh only if it still holds old; *done 1 if so. */
COH_WUR int coh_db_reqkey_replace(int *done, coh_db_pool *p, const char *id, const uint8_t *fresh,
                                  size_t fresh_len, const uint8_t *old, size_t old_len,
                                  coh_err *err);

/* ---- invite codes (enrollment.c) --------------------------------------------------------- */
/* Stores the n code hashes (SHA-256 of each code) of request id, unredeemed. */
COH_WUR int coh_db_invite_codes_insert(coh_db_pool *p, const char *id, const uint8_t (*hashes)[32],
                                       size_t n, coh_err *err);
/* *live = 1 when contributor holds a redeemed, unrevoked code of request id. */
COH_WUR int coh_db_invite_live(int *live, coh_db_pool *p, const char *id, const char *contributor,
                               coh_err *err);
/*
 * Stores issuer's revocations of the n attestation uids signed at signed_at (unix seconds):
 * *listed = 0 (nothing stored) when no attested request lists issuer; *added counts the uids
 * not revoked before.
 */
COH_WUR int coh_db_attestation_revocations_put(int *listed, long *added, coh_db_pool *p,
                                               const char *issuer, const uint8_t (*uids)[32],
                                               size_t n, uint64_t signed_at, coh_err *err);
/* *revoked = 1 when issuer has revoked attestation uid in a signed list. */
COH_WUR int coh_db_attestation_revoked(int *revoked, coh_db_pool *p, const char *issuer,
                                       const uint8_t uid[32], coh_err *err);
/* *live = 1 when contributor's attested subject on request id is bound, its attestation not
 * expired and not in its issuer's signed revocation list since. */
COH_WUR int coh_db_attested_live(int *live, coh_db_pool *p, const char *id,
                                 const char *contributor, coh_err *err);
/*
 * Revokes codes of owner's request id: those of the n hashes, and with all_unredeemed every
 * code nobody redeemed; a code revoked already stays as it was. {revoked_now, invite_codes:
 * {issued, redeemed, revoked}}: counts only, never who redeemed which code.
 */
json_t *coh_db_invite_codes_revoke(coh_db_pool *p, const char *id, const char *owner,
                                   const uint8_t (*hashes)[32], size_t n, int all_unredeemed,
                                   coh_err *err);

/* The release of an owner's request: {mode, content_type, content, report, included (rows in
 * a k-anonymous release; null for dp, whose exact count is not published)}. */
json_t *coh_db_release_get(coh_db_pool *p, const char *id, const char *owner, coh_err *err);

/* ---- a contributor's own history (studies.c): served to that address alone ----------------- */
/* Notices of address, newest first (the latest 200), each with its request's title and, for
 * reward_paid, the amount the ledger paid (decimal string; else null). */
json_t *coh_db_notices(coh_db_pool *p, const char *address, coh_err *err);
/*
 * The studies of address (every consent it gave, revoked ones too), newest first, at most
 * limit: {request: {id, title, owner, status, reward, closes_at, closed_at, released_at},
 * consent, consented_at, revoked_at, contributed, submitted_at, in_release, state, paid_amount,
 * paid_at, claimable, claimable_at}. paid_amount is read from the ledger (credits whose entry
 * is posted, wave-1 reward entries), never from the request's reward.
 */
json_t *coh_db_studies(coh_db_pool *p, const char *address, int limit, coh_err *err);
/* The anchorer's schedule: {interval_seconds, last_at (the last proposal not vetoed),
 * next_at (when the next is due, null when no ledger entry waits)}. */
json_t *coh_db_anchoring_json(coh_db_pool *p, long interval_s, coh_err *err);

/* ---- release jobs (release_jobs.c): the statements of src/svc/release_worker.c --------- */
/* {owner, reward, min, max, schema, privacy, epsilon, wrapped, public_key, released} of id. */
json_t *coh_db_release_request(coh_db_pool *p, const char *id, coh_err *err);
/* The contributions to release (contributor, ciphertext hex, remaining lifetime epsilon) of
 * live consents whose budget covers the request's epsilon, oldest first, at most max. */
PGresult *coh_db_release_contributions(coh_db_pool *p, const char *id, long max, coh_err *err);
struct coh_db_release_row {
    const char *mode, *content_type, *content, *report; /* report: JSON text */
    const char *members;  /* text[] literal of every paid contributor */
    const char *released; /* boolean[] literal: whose row is in the release */
    const char *epsilon;  /* charged to each member ("0" for k-anonymity) */
};
/* Stores the release, its members and the epsilon charge in one statement (once: a stored
 * release is kept); COH_ERR_CONFLICT when a concurrent charge made a member's unaffordable. */
COH_WUR int coh_db_release_store(coh_db_pool *p, const char *id,
                                 const struct coh_db_release_row *row, coh_err *err);
/* {members: [contributor...], payees: [[payee, count]...], wave1: a payout begun in wave 1's
 * form before the upgrade}. */
json_t *coh_db_release_payees(coh_db_pool *p, const char *id, coh_err *err);
/* The request's final status (released, or failed with no release), the notices, the job done. */
COH_WUR int coh_db_release_finish(coh_db_pool *p, const char *id, coh_err *err);
/* Cancels drafts older than older_than_s; returns the cancelled requests whose escrow was
 * posted and not refunded (id, owner, reward, max_contributors), at most 100. */
PGresult *coh_db_drafts_abandon(coh_db_pool *p, long older_than_s, coh_err *err);
/* Of ids (a text[] literal of "0x" ids), those whose key was shredded. */
PGresult *coh_db_requests_shredded_among(coh_db_pool *p, const char *ids_array, coh_err *err);
/* Open requests past their close time or full: closing, with a release job. */
COH_WUR int coh_db_requests_schedule_due(coh_db_pool *p, coh_err *err);
/* Shreds the keys (and contributions) of finished requests past retention; returns their ids. */
PGresult *coh_db_requests_shred_due(coh_db_pool *p, coh_err *err);
/* Claims the oldest pending job (or one whose lease ended) for lease_s: 1 and its id and
 * failures so far, 0 when none is free, negative on error. */
int coh_db_release_job_claim(char id[COH_HASH_HEX_SIZE], int *failures, coh_db_pool *p, int lease_s,
                             coh_err *err);
/* Puts a failed job back to pending with its reason; counts: the failure counts toward giving
 * up (not a lost connection or a conflict). */
COH_WUR int coh_db_release_job_failed(coh_db_pool *p, const char *id, const char *reason,
                                      int counts, coh_err *err);

#endif
