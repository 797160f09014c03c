/*
 * problems: the one table of the problem types the API emits (RFC 9457). Each has a slug (its
 * type is urn:cohort:problem:<slug>), a title and an HTTP status; a handler names a problem by
 * its id and adds only the detail. openapi.yaml lists the same table under
 * components.schemas.ProblemType (tests/e2e/openapi.test.mjs compares the two), and
 * docs/API.md says when each is sent.
 *
 * The X-macro keeps ids, slugs, titles and statuses on one line each, in one place.
 */
#ifndef COH_HTTP_PROBLEMS_H
#define COH_HTTP_PROBLEMS_H

/* X(id, slug, status, title) */
#define COH_PROBLEMS(X)                                                                            \
    X(MALFORMED_JSON, "malformed-json", 400, "Malformed JSON")                                     \
    X(BAD_HTTP, "bad-http", 400, "Malformed HTTP request")                                         \
    X(UNAUTHENTICATED, "unauthenticated", 401, "Authentication required")                          \
    X(INVALID_TOKEN, "invalid-token", 401, "Invalid token")                                        \
    X(SIWE_DOMAIN_MISMATCH, "siwe-domain-mismatch", 401, "Sign-in rejected")                       \
    X(SIWE_URI_MISMATCH, "siwe-uri-mismatch", 401, "Sign-in rejected")                             \
    X(SIWE_CHAIN_MISMATCH, "siwe-chain-mismatch", 401, "Sign-in rejected")                         \
    X(SIWE_EXPIRED, "siwe-expired", 401, "Sign-in rejected")                                       \
    X(SIWE_NOT_YET_VALID, "siwe-not-yet-valid", 401, "Sign-in rejected")                           \
    X(SIWE_ISSUED_IN_FUTURE, "siwe-issued-in-future", 401, "Sign-in rejected")                     \
    X(SIWE_SIGNATURE_MISMATCH, "siwe-signature-mismatch", 401, "Sign-in rejected")                 \
    X(SIWE_NONCE_INVALID, "siwe-nonce-invalid", 401, "Sign-in rejected")                           \
    X(CONSENT_SIGNATURE_MISMATCH, "consent-signature-mismatch", 401, "Consent rejected")           \
    X(INSUFFICIENT_FUNDS, "insufficient-funds", 402, "Insufficient funds")                         \
    X(FORBIDDEN, "forbidden", 403, "Forbidden")                                                    \
    X(NOT_ELIGIBLE, "not-eligible", 403, "Not eligible")                                           \
    X(CONSENT_MISSING, "consent-missing", 403, "No consent")                                       \
    X(CONSENT_REVOKED, "consent-revoked", 403, "Consent revoked")                                  \
    X(INVITE_CODE_REQUIRED, "invite-code-required", 403, "Invite code required")                   \
    X(INVITE_CODE_INVALID, "invite-code-invalid", 403, "Invite code not accepted")                 \
    X(ATTESTATION_REQUIRED, "attestation-required", 403, "Attestation required")                  \
    X(ATTESTATION_REFUSED, "attestation-refused", 403, "Attestation not accepted")                 \
    X(NOT_FOUND, "not-found", 404, "Not found")                                                    \
    X(METHOD_NOT_ALLOWED, "method-not-allowed", 405, "Method not allowed")                         \
    X(CONFLICT, "conflict", 409, "Conflict")                                                       \
    X(REQUEST_CLOSED, "request-closed", 409, "Request not open")                                   \
    X(REQUEST_FULL, "request-full", 409, "Request full")                                           \
    X(ATTESTATION_SUBJECT_TAKEN, "attestation-subject-taken", 409, "Already enrolled")             \
    X(NOT_RELEASED, "not-released", 409, "No release yet")                                         \
    X(IDEMPOTENCY_CONFLICT, "idempotency-conflict", 409, "Idempotency key reused")                 \
    X(BODY_TOO_LARGE, "body-too-large", 413, "Request body too large")                             \
    X(MESSAGE_TOO_LARGE, "message-too-large", 413, "Sign-in message too large")                    \
    X(UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type", 415, "Unsupported media type")             \
    X(INVALID, "invalid", 422, "Invalid input")                                                    \
    X(INVALID_PARAMETER, "invalid-parameter", 422, "Invalid parameter")                            \
    X(INVALID_ADDRESS, "invalid-address", 422, "Invalid address")                                  \
    X(INVALID_REQUEST, "invalid-request", 422, "Invalid request")                                  \
    X(INVALID_RECORD, "invalid-record", 422, "Invalid contribution")                               \
    X(INVALID_SIWE_MESSAGE, "invalid-siwe-message", 422, "Invalid sign-in request")                \
    X(MALFORMED_SIGNATURE, "malformed-signature", 422, "Malformed signature")                      \
    X(OUTDATED_CONSENT, "outdated-consent", 422, "Consent rejected")                               \
    X(ATTESTATION_INVALID, "attestation-invalid", 422, "Invalid attestation")                      \
    X(RATE_LIMITED, "rate-limited", 429, "Too many requests")                                      \
    X(UNAVAILABLE, "unavailable", 503, "Service unavailable")                                      \
    X(NOT_READY, "not-ready", 503, "Not ready")

enum coh_problem {
#define COH_PROBLEM_ENUM(id, slug, status, title) COH_PROBLEM_##id,
    COH_PROBLEMS(COH_PROBLEM_ENUM)
#undef COH_PROBLEM_ENUM
        COH_PROBLEM_COUNT
};

struct coh_problem_type {
    const char *slug;
    int status;
    const char *title;
};

/* Indexed by enum coh_problem. */
extern const struct coh_problem_type coh_http_problem_types[COH_PROBLEM_COUNT];

/* The problem whose slug is slug, or -1. */
int coh_http_problem_find(const char *slug);

#endif
