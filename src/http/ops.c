/* ops: liveness, readiness, metrics and the OpenAPI document. */
#include "db/db.h"
#include "http/http.h"
#include "http/handlers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


void coh_h_healthz(struct coh_http_req *req)
{
    char body[96];
    int n = snprintf(body, sizeof body, "{\"status\":\"ok\",\"version\":\"%s\"}", coh_version());
    coh_http_send_raw(req, 200, "application/json", NULL, body, (size_t)n);
}

void coh_h_readyz(struct coh_http_req *req)
{
    coh_err err = {0};
    int rc = coh_db_migrations_current(req->app->db, req->app->sql_dir, &err);
    /* An anchorer that stopped after anchor_max_failures needs the operator (src/svc/anchorer.c):
     * the leader's restart. A standby (another instance leads) is ready all the same. */
    json_t *an = rc == 0 && coh_db_chain_leader() != 0
                     ? coh_db_chain_anchorer_json(req->app->db, &err)
                     : NULL;
    const char *state = json_string_value(json_object_get(an, "state"));
    if (state && strcmp(state, "stopped") == 0) {
        coh_http_problem_ext(req, COH_PROBLEM_NOT_READY, json_pack("{s:s}", "check", "anchorer"),
                             "the anchorer stopped after %d failures in a row: %s",
                             (int)json_integer_value(json_object_get(an, "failures")),
                             json_string_value(json_object_get(an, "reason")));
        json_decref(an);
        return;
    }
    json_decref(an);
    if (rc == 0) {
        coh_http_send_json(req, 200, json_pack("{s:s,s:s,s:s}", "status", "ready", "database",
                                               "ok", "migrations", "current"));
        return;
    }
    const char *why = rc == COH_ERR_CONFLICT ? "migrations not current" : "database unreachable";
    coh_http_problem_ext(
        req, COH_PROBLEM_NOT_READY,
        json_pack("{s:s}", "check", rc == COH_ERR_CONFLICT ? "migrations" : "database"), "%s", why);
}

void coh_h_metrics(struct coh_http_req *req)
{
    char *text = coh_metrics_render(req->app->metrics, req->app);
    if (!text) {
        coh_http_problem(req, COH_PROBLEM_UNAVAILABLE, "out of memory");
        return;
    }
    coh_http_send_raw(req, 200, "text/plain; version=0.0.4; charset=utf-8", NULL, text,
                      strlen(text));
    free(text);
}

void coh_h_openapi(struct coh_http_req *req)
{
    if (!coh_http_send_file(req, req->app->openapi_path, NULL))
        coh_http_problem(req, COH_PROBLEM_NOT_FOUND, "openapi.yaml is not installed");
}
