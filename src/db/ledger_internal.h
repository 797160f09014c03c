/*
 * ledger_internal: what the three ledger files of src/db share (private to src/db).
 */
#ifndef COH_DB_LEDGER_INTERNAL_H
#define COH_DB_LEDGER_INTERNAL_H

#include "db/db.h"

/* The columns every entry query selects, in the order row_to_entry reads them. */
#define ENTRY_COLS                                                                                 \
    "seq, kind, debit, credit, amount::text, coalesce(ref_request, ''), "                          \
    "coalesce(ref_contribution, ''), coalesce(ref_anchor, ''), coalesce(ref_tx, ''), "             \
    "(extract(epoch FROM created_at) * 1000000)::bigint, idempotency_key, encode(prev_hash, "      \
    "'hex'), encode(hash, 'hex'), encode(signature, 'hex'), signer"

/* A bytea literal "\\x<hex>" of b (out: 2 + 2 * len + 1 bytes). */
static inline void bytea(char *out, const uint8_t *b, size_t len)
{
    out[0] = '\\';
    out[1] = 'x';
    coh_hex_encode(out + 2, b, len, 0);
}

static inline void addr_lower(char out[COH_ADDR_HEX_SIZE], const uint8_t a[20])
{
    coh_hex_encode(out, a, 20, 1);
}

/* Fills e from row i of an ENTRY_COLS result. */
COH_WUR int coh_db_ledger_row_to_entry(coh_ledger_entry *e, PGresult *r, int i, coh_err *err);
/* A pooled connection for a ledger statement (waits up to 2 s). */
coh_db_conn *coh_db_ledger_borrow(coh_db_pool *p, coh_err *err);
/* Locks the head (the caller is inside BEGIN) and checks the signing key is still active. */
COH_WUR int coh_db_ledger_lock_head(coh_db_conn *c, uint64_t *seq, uint8_t hash[32],
                                    const uint8_t signer[20], coh_err *err);
/* Appends one entry after the locked head (see ledger_post.c); *replayed when its key was
 * posted before with the same content. */
COH_WUR int coh_db_ledger_append(coh_ledger_entry *e, int *replayed, coh_db_conn *c,
                                 const coh_secbuf *key, uint64_t *head_seq, uint8_t head_hash[32],
                                 coh_err *err);

#endif
