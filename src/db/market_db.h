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

#endif
