/*
 * chain_db: the anchorer's and the deposit watcher's state in PostgreSQL (sql/005_chain.sql),
 * the queries behind GET /v1/anchors and GET /v1/claims/{address}. SQL only: the chain worker
 * that talks to the node is src/svc/anchorer.c.
 */
#ifndef COH_DB_CHAIN_DB_H
#define COH_DB_CHAIN_DB_H

#include "chain/chain.h"
#include "db/db.h"
#include "ledger/ledger.h"

#include <jansson.h>

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
/* Records a signed transaction for an anchor (before it is broadcast); the anchor is 'sent'. */
COH_WUR int coh_db_chain_tx_record(coh_db_pool *p, long long anchor_id,
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

/* ---- the deposit watcher (chain_events.c) ---------------------------------------------- */
/*
 * Logs the deposit watcher was given that were not the rewards contract's Deposited or Claimed
 * events (another address or topic), ignored since the process started (chain_watch.c).
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

#endif
