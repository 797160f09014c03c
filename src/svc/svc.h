/*
 * svc: the flows and background workers. A flow touches several tables, the ledger or the
 * chain: it takes what the handlers (src/http) and the CLI parsed, applies the rules of
 * src/market, and stores through src/db (SQL only). The workers run in cohortd's threads
 * (core's coh_worker): the release worker (release_worker.c) and the chain worker
 * (anchorer.c, with the deposit watcher deposit_watch.c).
 */
#ifndef COH_SVC_SVC_H
#define COH_SVC_SVC_H

#include "chain/chain.h"
#include "core/core.h"
#include "db/db.h"
#include "ledger/ledger.h"
#include "market/market.h"

#include <jansson.h>

/* ---- requests (requests.c) --------------------------------------------------------------- */
/*
 * Creates a request of owner from body (POST /v1/requests): its key pair, a draft, its invite
 * codes' hashes, its escrow, then open; id gets its "0x" id. *codes gets the invite codes the
 * server made ({"mode":"invite","codes":N}), to be shown once and never again; NULL for open
 * requests and for researchers' own code hashes. COH_ERR_INVALID (err names the member) when the
 * spec is refused, COH_ERR_LIMIT when owner's available balance cannot cover the escrow (the draft
 * is cancelled), another error when a step failed (the draft sweep finishes the cleanup).
 */
COH_WUR int coh_svc_request_create(char id[COH_HASH_HEX_SIZE], json_t **codes, coh_db_pool *db,
                                   const coh_secbuf *master_key, const coh_secbuf *ledger_key,
                                   const coh_market_floors *floors, const char *owner,
                                   const json_t *body, int64_t now_s, coh_err *err);
/* Cancels drafts abandoned for a minute and refunds any escrow they hold. */
COH_WUR int coh_svc_drafts_sweep(coh_db_pool *db, const coh_secbuf *ledger_key, coh_err *err);

/* ---- profiles (profile.c) ---------------------------------------------------------------- */
/* PUT /v1/me/profile: body checked (COH_ERR_INVALID naming the member) and stored for account. */
COH_WUR int coh_svc_profile_put(coh_db_pool *db, const char *account, const json_t *body,
                                coh_err *err);

/* ---- consent (consent.c) ----------------------------------------------------------------- */
/* The EIP-712 domain consents are signed in. */
struct coh_svc_domain {
    uint64_t chain_id;
    uint8_t contract[20]; /* the rewards contract, or zero */
    /* Attested requests: the operator's EAS contract on this chain (have_eas) and the node to
     * ask it whether an issuer revoked an attestation off chain (rpc_url, NULL: no chain). */
    int have_eas;
    uint8_t eas_contract[20];
    const char *rpc_url;
    const coh_secbuf *master; /* subjects are stored under a key derived from it */
};
enum coh_svc_consent_refusal {
    COH_SVC_CONSENT_OK = 0,
    COH_SVC_CONSENT_NOT_CONTRIBUTOR,     /* no contributor role in the profile */
    COH_SVC_CONSENT_BELOW_FLOORS,        /* the request is below the operator's floors now */
    COH_SVC_CONSENT_NOT_ELIGIBLE,        /* the profile does not fit (eligibility, own floors) */
    COH_SVC_CONSENT_MALFORMED_SIGNATURE, /* not 65 bytes, or high s / bad v (err says which) */
    COH_SVC_CONSENT_MALFORMED_REQUEST,   /* the stored request cannot be signed */
    COH_SVC_CONSENT_VERSION_1,           /* the wallet's version-1 consent: ask for version 2 */
    COH_SVC_CONSENT_SIGNATURE_MISMATCH,  /* not account's signature of the version-2 consent */
};
/*
 * account consents to request v (coh_db_request_get's view) with sig_hex, and on an invite
 * request with code (the invite code as typed; NULL when none). Returns 0 with *refusal set
 * when the consent is refused for a reason the contributor can act on, 0 with
 * COH_SVC_CONSENT_OK when stored, or an error (request closed: COH_ERR_CONFLICT; a missing or
 * refused code: COH_ERR_FORBIDDEN with reason invite-code-required / invite-code-invalid).
 * An attested request needs attestation (the EAS off-chain attestation file): reasons
 * attestation-required, attestation-invalid (COH_ERR_INVALID: malformed, altered, another
 * schema or domain), attestation-refused (COH_ERR_FORBIDDEN: not a listed issuer, another
 * recipient, expired, revoked, an attested value not accepted), attestation-subject-taken
 * (COH_ERR_CONFLICT), or COH_ERR_UNAVAILABLE when the EAS contract cannot be asked about
 * revocation. now_s: the time attestations are judged at.
 */
COH_WUR int coh_svc_consent_give(enum coh_svc_consent_refusal *refusal, coh_db_pool *db,
                                 const coh_market_floors *floors, const struct coh_svc_domain *d,
                                 const json_t *v, const char *account, const char *sig_hex,
                                 const char *code, const json_t *attestation, int64_t now_s,
                                 coh_err *err);
/*
 * The consent as anyone may verify it: stored (the stored row, or a bare object when none yet:
 * taken) gets the typed data its signature is over (of the stored version; version 2 when none
 * is stored yet), and for version 2 the terms whose RFC 8785 JSON hashes to termsHash.
 */
json_t *coh_svc_consent_view(json_t *stored, const json_t *v, const char *account,
                             const struct coh_svc_domain *d);

/* ---- attestation revocation lists (attestations.c) -------------------------------------- */
/*
 * POST /v1/attestations/revocations: body {issuer, uids, time, signature}, the issuer's
 * EIP-712 signature of Revocations (coh_crypto_eas_revocations_digest). *out {issuer, uids,
 * revoked_now}. COH_ERR_INVALID naming the member; COH_ERR_FORBIDDEN when another key signed
 * or no attested request lists the issuer.
 */
COH_WUR int coh_svc_revocations_post(json_t **out, coh_db_pool *db, const json_t *body,
                                     int64_t now_s, coh_err *err);

/* ---- contributions (contribute.c) ------------------------------------------------------- */
/* Opens ct in secure memory under request id's key (v: coh_db_request_get_for_intake), checks
 * the record against the schema (COH_ERR_INVALID naming the field) and stores the ciphertext.
 * An invite request needs contributor's live invite code (COH_ERR_FORBIDDEN, reason
 * invite-code-required). */
COH_WUR int coh_svc_contribute(coh_db_pool *db, const coh_secbuf *master, const char *id,
                               const json_t *v, const char *contributor, const uint8_t *ct,
                               size_t ct_len, coh_err *err);
/* A page of the inbox: at most limit requests, older than the cursor (before_id NULL: none). */
struct coh_svc_inbox_page {
    int limit;
    long long before_us;   /* created_at in microseconds of the previous page's last row */
    const char *before_id; /* its id, 0x hex */
    int window;            /* 0: the default (coh_db_inbox_query.window; tests set it) */
};
/*
 * GET /v1/me/inbox: {requests: the open requests account matches, newest first, at most
 * page->limit; notices; next: {before_us, before_id} of the following page or null; limit}.
 * Matched in SQL before the limit, then each row by coh_market_match, so a page may hold fewer
 * than limit while next is not null.
 */
json_t *coh_svc_inbox(coh_db_pool *db, const coh_market_floors *floors, const char *account,
                      const struct coh_svc_inbox_page *page, coh_err *err);

/* ---- payments (payouts.c): idempotent ledger postings ------------------------------------ */
/* Locks reward x max in escrow:<request>; COH_ERR_LIMIT when the owner's balance is short. */
COH_WUR int coh_svc_escrow(coh_db_pool *db, const coh_secbuf *key, const char *request,
                           const char *owner, const char *reward, uint32_t max, coh_err *err);
/*
 * Pays a release: payees[i] (lowercase addresses) is credited reward x members[i] in the
 * private credits, and one public reward entry escrow:<request> -> payable carries the number
 * of contributors paid and the Merkle root of those credits. Idempotent.
 */
COH_WUR int coh_svc_rewards(coh_db_pool *db, const coh_secbuf *key, const char *request,
                            const char *reward, const char *const *payees, const uint32_t *members,
                            size_t n, coh_err *err);
/* Wave 1's form, one entry per contributor to payable:<contributor>: only to finish a payout
 * that began that way before the upgrade (see payouts.c). */
COH_WUR int coh_svc_rewards_wave1(coh_db_pool *db, const coh_secbuf *key, const char *request,
                                  const char *reward, const char *const *contributors, size_t n,
                                  coh_err *err);
/*
 * GET /v1/me/credits for address (signed in): [{seq (its entry), kind, request, amount, salt,
 * wave1, leaf, proof (to release_credits.root), release_credits: {count, root}}]; wave-1 entries
 * carry no salt or proof (they name the address publicly).
 */
COH_WUR int coh_svc_credits_view(json_t **out, coh_db_pool *db, const char *address, coh_err *err);
/* Moves what wave-1 payable:<addr> accounts hold into the pooled payable (kind pool), so every
 * claim comes out of one account. Idempotent; a no-op once none holds anything. */
COH_WUR int coh_svc_pool_wave1(coh_db_pool *db, const coh_secbuf *key, coh_err *err);
/*
 * A researcher takes amount of their available funds out: available:<owner> -> payable, and
 * a credit to owner's address for the claims tree. client_key makes it idempotent. *e is the
 * posted (or earlier) entry. COH_ERR_LIMIT when the available balance is short.
 */
COH_WUR int coh_svc_withdraw(coh_ledger_entry *e, int *replayed, coh_db_pool *db,
                             const coh_secbuf *key, const char *owner, const uint8_t amount[32],
                             const char *client_key, coh_err *err);
/*
 * The CLI's local deposit (`cohort ledger deposit`, dev chains only: chain_id 31337 or 1337,
 * else COH_ERR_FORBIDDEN): chain -> available:<address> (lowercase), keyed by client_key (a
 * random "deposit:<hex>" when NULL), ref_tx recorded. Real deposits come from Deposited events.
 */
COH_WUR int coh_svc_deposit_local(coh_ledger_entry *e, int *replayed, coh_db_pool *db,
                                  const coh_secbuf *key, uint64_t chain_id, const char *address,
                                  const uint8_t amount[32], const char *ref_tx,
                                  const char *client_key, coh_err *err);
/* Returns reward x unused from escrow to the owner (nothing when unused is 0). */
COH_WUR int coh_svc_refund(coh_db_pool *db, const coh_secbuf *key, const char *request,
                           const char *owner, const char *reward, uint32_t unused, coh_err *err);

/* ---- release worker (release_worker.c) ---------------------------------------------------------
 */
typedef struct coh_svc_release_worker coh_svc_release_worker;

struct coh_svc_release_worker_config {
    coh_db_pool *db;
    const coh_secbuf *master_key;
    const coh_secbuf *ledger_key;
    int interval_ms;                 /* how often to look for work */
    int lease_s;                     /* a claimed job is retried by anyone after this */
    const coh_market_floors *floors; /* held again at release (NULL: the defaults) */
};

/* Starts the worker thread. */
COH_WUR int coh_svc_release_worker_start(coh_svc_release_worker **out,
                                         const struct coh_svc_release_worker_config *cfg,
                                         coh_err *err);
/* Stops and joins the thread; NULL is a no-op. */
void coh_svc_release_worker_stop(coh_svc_release_worker *w);
/*
 * One pass: schedules due requests, then claims and runs at most one release job. Returns 1
 * if a job ran, 0 if there was nothing to do, negative on error. Exposed for tests.
 */
int coh_svc_release_worker_step(const struct coh_svc_release_worker_config *cfg, coh_err *err);

/* ---- request keys (reqkeys.c) ----------------------------------------------------------- */
/*
 * Re-wraps the request keys stored before they were bound to their request (at start, after the
 * migrations): *upgraded gets how many. A key that does not open or does not match its row's
 * public key is logged and left alone.
 */
COH_WUR int coh_svc_reqkeys_upgrade(coh_db_pool *db, const coh_secbuf *master, long *upgraded,
                                    coh_err *err);

/* ---- claims proofs (claims.c) -----------------------------------------------------------------
 */
/*
 * The claims tree of the latest confirmed anchor, built once per anchor and shared by every
 * request (a tree of a million accounts takes seconds to build, a proof from it a microsecond).
 */
typedef struct coh_svc_claims_cache coh_svc_claims_cache;
COH_WUR int coh_svc_claims_cache_new(coh_svc_claims_cache **out);
void coh_svc_claims_cache_free(coh_svc_claims_cache *c);
/*
 * GET /v1/claims/{address} (lowercase 0x + 40 hex): the address's leaf in the effective anchor
 * (the latest confirmed one whose challenge period is over and that was not vetoed: the root
 * claims prove against on chain), with its proof, root, and the anchoring transaction.
 * COH_ERR_NOTFOUND when the address has no leaf (or nothing is effective yet). cache may be
 * NULL (the tree is then built for this call alone).
 */
json_t *coh_svc_claim_json(coh_db_pool *p, coh_svc_claims_cache *cache, const char *address,
                           coh_err *err);
/* ---- start checks against the node (chain_check.c) ---------------------------------------- */
struct coh_svc_chain_check {
    const char *rpc_url;
    uint64_t chain_id;             /* the configured chain_id */
    const char *rewards;           /* rewards_contract, 0x address */
    const char *rewards_code_hash; /* "" or 0x + 64 hex */
    const char *token;             /* "" or token_contract */
    const char *token_code_hash;   /* "" or 0x + 64 hex */
    coh_db_pool *db;               /* with ledger_address: check the contract's anchorer */
    const char *ledger_address;    /* the active ledger key, lowercase 0x */
};
/*
 * The node's eth_chainId is chain_id, the contracts have code, with the pinned keccak256 of
 * their runtime code when set, and the rewards contract's anchorer is the ledger key or one it
 * was rotated from (a rotation the guardian has not installed yet). A mismatch: COH_ERR_CONFLICT with one line in err naming it
 * (cohortd refuses to start). A node that cannot be asked: a warning logged and
 * COH_ERR_UNAVAILABLE (cohortd starts; its chain worker retries).
 */
COH_WUR int coh_svc_chain_check(const struct coh_svc_chain_check *c, coh_err *err);

/* ---- the chain worker (anchorer.c, deposit_watch.c)
 * ---------------------------------------------------- */
struct coh_svc_chain_worker_config {
    coh_db_pool *db;
    const coh_secbuf *ledger_key; /* borrowed; signs anchoring transactions */
    const char *rpc_url;
    uint64_t chain_id;
    uint8_t rewards[20];
    long confirmations; /* >= 1 */
    long poll_ms;
    long interval_s; /* anchor at least this often when entries wait */
    long batch_size; /* ... or as soon as this many wait */
    long stuck_s;    /* bump fees of a transaction pending this long */
    long long start_block;
    const coh_secbuf *master_key; /* borrowed; reloads the ledger key after a rotation */
    long max_failures;            /* failures in a row before the anchorer stops (>= 1) */
    long backoff_ms;              /* first wait after a failure, doubled each time (cap 10 min) */
};
typedef struct coh_svc_chain_worker coh_svc_chain_worker;

/* Starts the thread (anchoring and event watching). Copies what it needs from cfg. */
COH_WUR int coh_svc_chain_worker_start(coh_svc_chain_worker **out,
                                       const struct coh_svc_chain_worker_config *cfg, coh_err *err);
/* Stops and joins the thread; NULL is a no-op. */
void coh_svc_chain_worker_stop(coh_svc_chain_worker *w);

#endif
