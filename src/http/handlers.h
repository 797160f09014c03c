/* handlers: one function per route, grouped by resource file. Internal to http. */
#ifndef COH_HTTP_HANDLERS_H
#define COH_HTTP_HANDLERS_H

#include "http/http.h"

/* ops.c */
void coh_h_healthz(struct coh_http_req *req);
void coh_h_readyz(struct coh_http_req *req);
void coh_h_metrics(struct coh_http_req *req);
void coh_h_openapi(struct coh_http_req *req);

#define COH_HTTP_TOKEN_LEN 68 /* "coh_" + 64 hex */
void coh_http_token_new(char out[COH_HTTP_TOKEN_LEN + 1]);
void coh_http_token_hash(uint8_t out[32], const char *token);

/* h_auth.c */
void coh_h_auth_nonce(struct coh_http_req *req);
void coh_h_auth_siwe(struct coh_http_req *req);
void coh_h_auth_logout(struct coh_http_req *req);
void coh_h_me_sessions(struct coh_http_req *req);
void coh_h_me_sessions_revoke_all(struct coh_http_req *req);

/* h_profile.c */
void coh_h_profile_get(struct coh_http_req *req);
void coh_h_profile_put(struct coh_http_req *req);

/* h_ledger.c */
void coh_h_ledger_entries(struct coh_http_req *req);
void coh_h_ledger_entry(struct coh_http_req *req);
void coh_h_account_balance(struct coh_http_req *req);
void coh_h_me_credits(struct coh_http_req *req);

/* h_chain.c */
void coh_h_chain_info(struct coh_http_req *req);
void coh_h_anchors(struct coh_http_req *req);
void coh_h_claim(struct coh_http_req *req);

/* Shared by handlers: chain id and public URL from the config. */
uint64_t coh_http_chain_id(const struct coh_http_req *req);

/* h_withdrawals.c */
void coh_h_withdrawals_create(struct coh_http_req *req);

/* h_requests.c */
void coh_h_requests_create(struct coh_http_req *req);
void coh_h_requests_preview(struct coh_http_req *req);
void coh_h_requests_list(struct coh_http_req *req);
void coh_h_requests_get(struct coh_http_req *req);
void coh_h_requests_close(struct coh_http_req *req);
void coh_h_requests_release(struct coh_http_req *req);
void coh_h_requests_codes_revoke(struct coh_http_req *req);
/* Parses the {id} path parameter into "0x" + 64 lowercase hex; sends 404 and returns 0 if bad. */
int coh_http_request_id(struct coh_http_req *req, char out[COH_HASH_HEX_SIZE]);

/* h_contrib.c */
void coh_h_consent_put(struct coh_http_req *req);
void coh_h_attestation_revocations(struct coh_http_req *req);
void coh_h_consent_get(struct coh_http_req *req);
void coh_h_consent_delete(struct coh_http_req *req);
void coh_h_contribution_put(struct coh_http_req *req);
void coh_h_inbox(struct coh_http_req *req);

/* Parses path parameter i as an address (any case; mixed case must be a valid EIP-55
 * checksum) into lowercase 0x hex, the form every response uses (docs/API.md); sends 422
 * problem+json and returns 0 when it is not one. */
int coh_http_address_param(struct coh_http_req *req, int i, char lower[COH_ADDR_HEX_SIZE]);

#endif
