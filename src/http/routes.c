/* routes: the API's route table. openapi.yaml documents exactly these. /metrics is not here:
 * it is served on its own listener (metrics_listen, server.c). */
#include "http/handlers.h"

const struct coh_http_route coh_http_routes[] = {
    {"GET", "/healthz", coh_h_healthz},
    {"GET", "/readyz", coh_h_readyz},
    {"GET", "/openapi.yaml", coh_h_openapi},
    {"GET", "/v1/auth/nonce", coh_h_auth_nonce},
    {"POST", "/v1/auth/siwe", coh_h_auth_siwe},
    {"POST", "/v1/auth/logout", coh_h_auth_logout},
    {"GET", "/v1/me/sessions", coh_h_me_sessions},
    {"POST", "/v1/me/sessions/revoke-all", coh_h_me_sessions_revoke_all},
    {"GET", "/v1/me/profile", coh_h_profile_get},
    {"PUT", "/v1/me/profile", coh_h_profile_put},
    {"GET", "/v1/me/inbox", coh_h_inbox},
    {"POST", "/v1/me/withdrawals", coh_h_withdrawals_create},
    {"GET", "/v1/me/credits", coh_h_me_credits},
    {"POST", "/v1/requests", coh_h_requests_create},
    {"POST", "/v1/requests/preview", coh_h_requests_preview},
    {"GET", "/v1/requests", coh_h_requests_list},
    {"GET", "/v1/requests/{id}", coh_h_requests_get},
    {"POST", "/v1/requests/{id}/close", coh_h_requests_close},
    {"GET", "/v1/requests/{id}/release", coh_h_requests_release},
    {"POST", "/v1/requests/{id}/codes/revoke", coh_h_requests_codes_revoke},
    {"POST", "/v1/requests/{id}/consents", coh_h_consent_put},
    {"GET", "/v1/requests/{id}/consents/me", coh_h_consent_get},
    {"DELETE", "/v1/requests/{id}/consents/me", coh_h_consent_delete},
    {"POST", "/v1/requests/{id}/contributions", coh_h_contribution_put},
    {"POST", "/v1/attestations/revocations", coh_h_attestation_revocations},
    {"GET", "/v1/ledger/entries", coh_h_ledger_entries},
    {"GET", "/v1/ledger/entries/{seq}", coh_h_ledger_entry},
    {"GET", "/v1/accounts/{address}/balance", coh_h_account_balance},
    {"GET", "/v1/chain", coh_h_chain_info},
    {"GET", "/v1/anchors", coh_h_anchors},
    {"GET", "/v1/claims/{address}", coh_h_claim},
};

const size_t coh_http_routes_count = sizeof coh_http_routes / sizeof coh_http_routes[0];
