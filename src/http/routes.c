/* routes: the API's route table. openapi.yaml documents exactly these. */
#include "http/handlers.h"

const struct coh_http_route coh_http_routes[] = {
    {"GET", "/healthz", coh_h_healthz},
    {"GET", "/readyz", coh_h_readyz},
    {"GET", "/metrics", coh_h_metrics},
    {"GET", "/openapi.yaml", coh_h_openapi},
};

const size_t coh_http_routes_count = sizeof coh_http_routes / sizeof coh_http_routes[0];
