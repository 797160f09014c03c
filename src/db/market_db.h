/*
 * market_db: queries over requests, consents, contributions, releases and notices
 * (sql/004_market.sql). Request ids travel as "0x" + 64 hex; addresses as lowercase 0x hex.
 * Views are built as JSON in SQL (request_json) so the API and the database agree on one shape.
 */
#ifndef COH_DB_MARKET_DB_H
#define COH_DB_MARKET_DB_H

#include "db/db.h"

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
 * What the contribution intake needs of a request: owner, status, public_key, schema and
 * "secret_key_wrapped" (hex, or null once shredded). Never send this object to a client.
 */
json_t *coh_db_request_get_for_intake(coh_db_pool *p, const char *id, coh_err *err);
/* Requests newest first, filtered (each filter NULL or "" for any), before cursor `before`. */
json_t *coh_db_requests_list(coh_db_pool *p, const char *status, const char *purpose,
                             const char *owner, const char *before, int limit, const char *viewer,
                             coh_err *err);
/* Open requests (newest first, at most 1000) for matching, with the viewer's consent state. */
json_t *coh_db_requests_open_for(coh_db_pool *p, const char *viewer, coh_err *err);
/* Closes an open request of owner now: status 'closing' and a release job. */
COH_WUR int coh_db_request_close(coh_db_pool *p, const char *id, const char *owner, coh_err *err);

/*
 * Records (or renews after a revocation) a consent of the EIP-712 type `version` (1 or 2) while
 * the request is open; a version-2 consent keeps what it signed (terms hash, privacy summary),
 * NULL for version 1.
 */
COH_WUR int coh_db_consent_put(coh_db_pool *p, const char *id, const char *contributor,
                               const char *signature_hex, long long expiry, int version,
                               const char *terms_hash_hex, const char *privacy, coh_err *err);
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

/* The release of an owner's request: {mode, content_type, content, report, included (rows in
 * a k-anonymous release; null for dp, whose exact count is not published)}. */
json_t *coh_db_release_get(coh_db_pool *p, const char *id, const char *owner, coh_err *err);
/* Notices of address, newest first. */
json_t *coh_db_notices(coh_db_pool *p, const char *address, coh_err *err);

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
