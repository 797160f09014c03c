/*
 * ledger: Cohort's token ledger, independent of storage. Entries, their canonical encoding,
 * hash chain, signatures with the ledger key, Merkle trees (batch tree of entry hashes; claims
 * tree in OpenZeppelin StandardMerkleTree format), entry JSON, and the chain walk that
 * `cohort verify` runs (amounts: core's coh_u256_*). Depends on core and crypto only.
 *
 * Canonical encoding of an entry (version 1), the input of hash = keccak256(encoding):
 *
 *   offset size  field
 *   0      8     magic "COHLEDG1"
 *   8      8     seq, uint64 big-endian (first entry is 1)
 *   16     1     kind (enum coh_ledger_kind: deposit 1 .. pool 8)
 *   17     8     created_at, int64 big-endian, microseconds since the Unix epoch (UTC)
 *   25     32    amount, uint256 big-endian (token base units)
 *   57     32    prev_hash (32 zero bytes for seq 1)
 *   89     ...   seven strings, each uint16 big-endian length then that many bytes (0..128,
 *                printable ASCII, no NUL), in this order: debit, credit, ref_request,
 *                ref_contribution, ref_anchor, ref_tx, idempotency_key.
 *
 * An absent reference is the empty string. The signer address is not encoded: the signature
 * (r || s || v, v = 27/28, low s, over the 32-byte hash itself, no EIP-191 prefix) recovers it.
 * The smallest encoding (103 bytes) is longer than 64 bytes, so an entry hash can never be
 * confused with an inner node of the batch Merkle tree.
 *
 * Accounts: "chain", "available:<addr>", "escrow:<id>", the pooled "payable" (wave 2: who
 * was credited what is in a private table of credits, see docs/LEDGER.md), "payable:<addr>"
 * (wave 1 entries only; addr lowercase 0x + 40 hex; id 0x + 64 hex), and "signer:<addr>" for
 * key rotations only. A wave-2 reward entry's ref_contribution is "<count>:<root>": how many
 * contributors its release credited and the Merkle root of their credit leaves.
 *
 * Conventions: functions return 0 or a negative COH_ERR_* code; outputs are zeroed on
 * failure; no allocation except where a function says it returns malloc'd memory.
 */
#ifndef COH_LEDGER_H
#define COH_LEDGER_H

#include "core/core.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define COH_LEDGER_STR_MAX 128 /* bytes in each string field */
#define COH_LEDGER_ENCODING_MAX (89 + 7 * (2 + COH_LEDGER_STR_MAX))

enum coh_ledger_kind {
    COH_LEDGER_DEPOSIT = 1,
    COH_LEDGER_ESCROW = 2,
    COH_LEDGER_REWARD = 3,
    COH_LEDGER_REFUND = 4,
    COH_LEDGER_WITHDRAWAL = 5,
    COH_LEDGER_CLAIM = 6,
    COH_LEDGER_KEY_ROTATION = 7,
    COH_LEDGER_POOL = 8, /* once per wave-1 payable:<addr> balance, into the pooled payable */
};
#define COH_LEDGER_KIND_MAX 8

/* Kind name ("deposit" ...), or NULL for an unknown kind. */
const char *coh_ledger_kind_name(int kind);
/* Kind from its name; 0 when unknown. */
int coh_ledger_kind_parse(const char *name);

typedef struct coh_ledger_entry {
    uint64_t seq;
    int kind;           /* enum coh_ledger_kind */
    int64_t created_us; /* microseconds since the epoch, UTC */
    uint8_t amount[32]; /* uint256 big-endian */
    char debit[COH_LEDGER_STR_MAX + 1];
    char credit[COH_LEDGER_STR_MAX + 1];
    char ref_request[COH_LEDGER_STR_MAX + 1]; /* "" when absent */
    char ref_contribution[COH_LEDGER_STR_MAX + 1];
    char ref_anchor[COH_LEDGER_STR_MAX + 1];
    char ref_tx[COH_LEDGER_STR_MAX + 1];
    char idempotency_key[COH_LEDGER_STR_MAX + 1];
    uint8_t prev_hash[32];
    uint8_t hash[32];      /* keccak256(encoding); set by coh_ledger_entry_seal */
    uint8_t signature[65]; /* r || s || v */
    uint8_t signer[20];
} coh_ledger_entry;

/*
 * Checks what a posting may contain: known kind, accounts well formed and allowed for the kind
 * (see docs/LEDGER.md, the money model), debit != credit, amount > 0 (= 0 for key_rotation),
 * references and key printable ASCII up to 128 bytes, key non-empty. COH_ERR_INVALID with a
 * message naming the field.
 */
COH_WUR int coh_ledger_entry_check(const coh_ledger_entry *e, coh_err *err);

/*
 * Writes the canonical encoding into out (COH_LEDGER_ENCODING_MAX bytes) and sets *out_len.
 * Returns COH_ERR_INVALID when a string field is too long.
 */
COH_WUR int coh_ledger_entry_encode(uint8_t *out, size_t *out_len, const coh_ledger_entry *e);
/* keccak256 of the encoding. */
COH_WUR int coh_ledger_entry_hash(uint8_t out[32], const coh_ledger_entry *e);
/* Computes e->hash, signs it with seckey into e->signature and sets e->signer. */
COH_WUR int coh_ledger_entry_seal(coh_ledger_entry *e, const coh_secbuf *seckey);
/*
 * Recomputes the hash and checks it equals e->hash, and that the signature recovers to
 * e->signer. Returns 0, COH_ERR_CRYPTO with what differs in err.
 */
COH_WUR int coh_ledger_entry_verify(const coh_ledger_entry *e, coh_err *err);
/* True when the business content (kind, accounts, amount, refs, key) of a and b is equal. */
int coh_ledger_entry_same_content(const coh_ledger_entry *a, const coh_ledger_entry *b);

/* ---- account names and idempotency keys (accounts.c) -------------------------------- */
/*
 * The one place that spells them. Their bytes are hashed into signed entries: never change
 * one. Builders write into out (cap bytes) and return 0, or COH_ERR_INVALID with out = ""
 * when the result would not fit (never a truncated name); they do not judge the owner's
 * form (coh_ledger_entry_check does). err may be NULL.
 */
enum coh_ledger_account_kind {
    COH_LEDGER_ACCOUNT_CHAIN = 1,     /* "chain": the contract's side of deposits and claims */
    COH_LEDGER_ACCOUNT_POOL = 2,      /* "payable": the pooled payable (wave 2) */
    COH_LEDGER_ACCOUNT_AVAILABLE = 3, /* "available:<addr>" */
    COH_LEDGER_ACCOUNT_ESCROW = 4,    /* "escrow:<request>" */
    COH_LEDGER_ACCOUNT_PAYABLE = 5,   /* "payable:<addr>" (wave 1 entries only) */
    COH_LEDGER_ACCOUNT_SIGNER = 6,    /* "signer:<addr>" (key rotations only) */
};
#define COH_LEDGER_ACCOUNT_KIND_MAX 6
#define COH_LEDGER_CHAIN_ACCOUNT "chain"
#define COH_LEDGER_POOL_ACCOUNT "payable"

/*
 * The name of an account kind without an owner ("chain", "payable"), or the prefix of one
 * with an owner ("available:", "escrow:", "payable:", "signer:"); NULL for an unknown kind.
 * For SQL that must match every account of a kind (LIKE $n || '%').
 */
const char *coh_ledger_account_prefix(int kind);
/* 1 when kind's accounts name an owner (available, escrow, payable, signer). */
int coh_ledger_account_has_owner(int kind);
/* Builds the account of kind for owner (NULL or "" for chain and the pool). */
COH_WUR int coh_ledger_account_build(char *out, size_t cap, int kind, const char *owner,
                                     coh_err *err);
COH_WUR int coh_ledger_account_available(char *out, size_t cap, const char *addr, coh_err *err);
COH_WUR int coh_ledger_account_escrow(char *out, size_t cap, const char *request, coh_err *err);
COH_WUR int coh_ledger_account_payable(char *out, size_t cap, const char *addr, coh_err *err);
COH_WUR int coh_ledger_account_signer(char *out, size_t cap, const char *addr, coh_err *err);
/*
 * Splits a well-formed account into its kind and owner (*owner points into account after the
 * prefix, "" for chain and the pool; either output may be NULL). Owners are lowercase 0x + 40
 * hex (addresses) or 0x + 64 hex (requests). COH_ERR_INVALID (outputs 0 and "") otherwise.
 */
COH_WUR int coh_ledger_account_parse(const char *account, int *kind, const char **owner);

/* "escrow:<request>", "reward:<request>" or "refund:<request>" for those entry kinds. */
COH_WUR int coh_ledger_idem_request(char *out, size_t cap, int entry_kind, const char *request,
                                    coh_err *err);
/* "reward:<request>:<addr>": a wave-1 reward to one contributor. */
COH_WUR int coh_ledger_idem_reward_wave1(char *out, size_t cap, const char *request,
                                         const char *addr, coh_err *err);
/* "withdrawal:<owner>:<client key>". */
COH_WUR int coh_ledger_idem_withdrawal(char *out, size_t cap, const char *owner,
                                       const char *client_key, coh_err *err);
/* "pool:<addr>:<credited>": a wave-1 balance moved into the pool, once per state. */
COH_WUR int coh_ledger_idem_pool(char *out, size_t cap, const char *addr, const char *credited,
                                 coh_err *err);
/* "key-rotation:<new signer addr>". */
COH_WUR int coh_ledger_idem_key_rotation(char *out, size_t cap, const char *addr, coh_err *err);
/* "<event kind>:<tx hash>/<ordinal>": an on-chain deposit or claim. */
COH_WUR int coh_ledger_idem_chain_event(char *out, size_t cap, const char *event_kind,
                                        const char *tx_hash, long long ordinal, coh_err *err);
/* "deposit:<nonce>": a test deposit posted by `cohort ledger deposit` without --key. */
COH_WUR int coh_ledger_idem_deposit(char *out, size_t cap, const char *nonce, coh_err *err);

/* ---- private credits (wave 2) --------------------------------------------------------- */
/* Parses a reward entry's "<count>:0x<root>" reference (count >= 1); count/root may be NULL. */
COH_WUR int coh_ledger_credits_ref_parse(const char *ref, uint64_t *count, uint8_t root[32]);
void coh_ledger_credits_ref_format(char out[96], uint64_t count, const uint8_t root[32]);
/*
 * A credit leaf: keccak256(abi.encode(address, uint256 amount, bytes32 salt)). The salt (32
 * random bytes, private to the server and the credited address) keeps anyone from testing
 * whether an address is among a release's credits.
 */
void coh_ledger_credit_leaf(uint8_t out[32], const uint8_t address[20], const uint8_t amount[32],
                            const uint8_t salt[32]);

/* ---- JSON (the API's entry object) --------------------------------------------------- */
/*
 * {seq, kind, debit, credit, amount (decimal string), refs: {request, contribution, anchor,
 * tx} (null when empty), created_at (RFC 3339, microseconds), created_us, idempotency_key,
 * prev_hash, hash, signature (0x hex), signer (EIP-55)}. New reference or NULL on OOM.
 */
json_t *coh_ledger_entry_to_json(const coh_ledger_entry *e);
/* Parses that object (extra members ignored). COH_ERR_INVALID naming the member. */
COH_WUR int coh_ledger_entry_from_json(coh_ledger_entry *out, const json_t *v, coh_err *err);

/* ---- Merkle trees (OpenZeppelin @openzeppelin/merkle-tree layout) --------------------- */
/*
 * A complete binary tree stored as an array of 2n-1 nodes: leaves at the end in reverse
 * order (leaf i at index 2n-2-i), node i = keccak256(sorted(node 2i+1, node 2i+2)), root at 0.
 * Opaque; _new copies the leaves.
 */
typedef struct coh_ledger_merkle coh_ledger_merkle;

/*
 * Builds the tree over n >= 1 leaf hashes. With sort != 0 the leaves are first sorted
 * ascending as bytes (StandardMerkleTree does this); leaf_index then refers to sorted order.
 */
COH_WUR int coh_ledger_merkle_new(coh_ledger_merkle **out, const uint8_t (*leaves)[32], size_t n,
                                  int sort);
void coh_ledger_merkle_free(coh_ledger_merkle *t);
size_t coh_ledger_merkle_leaves(const coh_ledger_merkle *t);
void coh_ledger_merkle_root(uint8_t out[32], const coh_ledger_merkle *t);
/* Position of a leaf hash among the leaves, or -1. O(log n) for sorted trees, else O(n). */
long coh_ledger_merkle_find(const coh_ledger_merkle *t, const uint8_t leaf[32]);
/* Tree index (as @openzeppelin/merkle-tree reports it) of leaf position i. */
size_t coh_ledger_merkle_tree_index(const coh_ledger_merkle *t, size_t i);
/*
 * Proof for leaf position i: *n_out sibling hashes, leaf to root, into proof (capacity cap;
 * 64 is always enough). COH_ERR_INVALID when i is out of range.
 */
COH_WUR int coh_ledger_merkle_proof(uint8_t (*proof)[32], size_t cap, size_t *n_out,
                                    const coh_ledger_merkle *t, size_t i);
/* Folds leaf with the proof using sorted pairs (OpenZeppelin MerkleProof.processProof). */
void coh_ledger_merkle_process(uint8_t out[32], const uint8_t leaf[32], const uint8_t (*proof)[32],
                               size_t n);
/* 1 when the proof leads from leaf to root, else 0. */
int coh_ledger_merkle_verify(const uint8_t root[32], const uint8_t leaf[32],
                             const uint8_t (*proof)[32], size_t n);
/* Claims-tree leaf: keccak256(keccak256(abi.encode(address account, uint256 cumulative))). */
void coh_ledger_claim_leaf(uint8_t out[32], const uint8_t account[20], const uint8_t amount[32]);

/* ---- chain walk (cohort verify) ------------------------------------------------------ */
typedef struct coh_ledger_walk coh_ledger_walk;

/*
 * A verifier fed entries in order. expected_signer is the published ledger address: the
 * first entry must be signed by some key, each key_rotation entry hands over to its credit
 * "signer:<addr>", and the final signer must be expected_signer.
 */
COH_WUR int coh_ledger_walk_new(coh_ledger_walk **out, const uint8_t expected_signer[20]);
void coh_ledger_walk_free(coh_ledger_walk *w);
/*
 * Checks e against what came before: seq is the next one, prev_hash links, the hash is that of
 * the encoding, the signature recovers to the signer of the time, and no account but "chain"
 * goes negative. On the first break returns COH_ERR_CRYPTO (or INVALID) with err.msg naming
 * the seq and exactly what differs; the walk is then stuck.
 */
COH_WUR int coh_ledger_walk_add(coh_ledger_walk *w, const coh_ledger_entry *e, coh_err *err);
/* Final checks (final signer is the expected one). */
COH_WUR int coh_ledger_walk_finish(coh_ledger_walk *w, coh_err *err);
uint64_t coh_ledger_walk_count(const coh_ledger_walk *w);
/*
 * Recomputed totals of account: balance magnitude, negative flag ("chain" only), cumulative
 * credits and debits. Returns COH_ERR_NOTFOUND for an account never seen.
 */
COH_WUR int coh_ledger_walk_account(const coh_ledger_walk *w, const char *account,
                                    uint8_t balance[32], int *negative, uint8_t credited[32],
                                    uint8_t debited[32]);
/* Calls fn for each account seen, in no particular order. */
void coh_ledger_walk_accounts(const coh_ledger_walk *w, void (*fn)(const char *account, void *ctx),
                              void *ctx);

#endif
