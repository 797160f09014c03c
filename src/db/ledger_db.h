/*
 * ledger_db: the ledger in PostgreSQL (sql/002_ledger.sql). Postings are serialized on the
 * single ledger_head row, so the hash chain never forks; each posting updates the balances in
 * the same transaction, and the database refuses any that would take an account other than
 * "chain" below zero. Every posting carries an idempotency key: a retry returns the original
 * entry and never posts twice.
 */
#ifndef COH_DB_LEDGER_DB_H
#define COH_DB_LEDGER_DB_H

#include "db/db.h"
#include "ledger/ledger.h"

/* ---- the ledger signing key ------------------------------------------------------------ */
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

#endif
