/*
 * http_client: the few HTTP calls the `cohort` commands make to a cohortd (sign-in, and
 * later contributions), over libcurl. Every call has a 10 s timeout, caps the answer at
 * COH_CLI_HTTP_MAX_BODY bytes, and reports transport failures as one line in err; an HTTP
 * error status is not a failure of the call: the caller reads status and body.
 */
#ifndef COH_CLI_HTTP_CLIENT_H
#define COH_CLI_HTTP_CLIENT_H

#include "core/core.h"

#include <jansson.h>
#include <stddef.h>

#define COH_CLI_HTTP_TIMEOUT_S 10
#define COH_CLI_HTTP_MAX_BODY (1 << 20)

/* An answer. body is malloc'd and NUL-terminated (never NULL after a successful call). */
struct coh_cli_http_resp {
    long status;            /* HTTP status code, e.g. 200 */
    char content_type[128]; /* Content-Type without parameters, lowercased; "" if none */
    char *body;
    size_t body_len;
};

/*
 * GET url, or POST json_body (Content-Type: application/json) to url when json_body is
 * non-NULL. bearer (may be NULL) is sent as "Authorization: Bearer ...".
 * Returns 0 when an answer arrived (any status); COH_ERR_UNAVAILABLE (cannot connect,
 * timeout, TLS, ...), COH_ERR_LIMIT (answer too large), COH_ERR_INVALID (bad URL) or
 * COH_ERR_NOMEM, with one line in err. On failure *out is cleared.
 */
COH_WUR int coh_cli_http_request(struct coh_cli_http_resp *out, const char *url,
                                 const char *json_body, const char *bearer, coh_err *err);
/* Frees the body and zeroes r; safe on a zeroed struct. */
void coh_cli_http_resp_clear(struct coh_cli_http_resp *r);

/*
 * The usual exchange: coh_cli_http_request, then the answer must have a 2xx status and a
 * JSON object body, which *out receives (new reference; NULL for an empty 2xx body, as of a
 * 204). *status gets the HTTP status, 0 when no answer arrived.
 * Returns 0; a coh_cli_http_request error; or COH_ERR_INVALID for another status, with
 * err "HTTP 404: <detail>" for a problem+json answer (its detail, else its title) or
 * "HTTP 404 from <url>", or for a 2xx body that is not a JSON object.
 */
COH_WUR int coh_cli_http_call(json_t **out, long *status, const char *url, const char *json_body,
                              const char *bearer, coh_err *err);

#endif
