/* handlers: one function per route, grouped by resource file. Internal to http. */
#ifndef COH_HTTP_HANDLERS_H
#define COH_HTTP_HANDLERS_H

#include "http/http.h"

/* ops.c */
void coh_h_healthz(struct coh_http_req *req);
void coh_h_readyz(struct coh_http_req *req);
void coh_h_metrics(struct coh_http_req *req);
void coh_h_openapi(struct coh_http_req *req);

#endif
