/*
 * fuzz_router: request lines "METHOD /path" against the API's route table. Properties: a
 * found route's parameters are non-empty, NUL-terminated and slash-free; Allow stays inside
 * its buffer.
 */
#include "fuzz.h"
#include "http/http.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *line = fuzz_strndup(data, size);
    char *sp = strchr(line, ' ');
    const char *method = "GET", *path = line;
    if (sp) {
        *sp = '\0';
        method = line;
        path = sp + 1;
    }
    size_t idx = SIZE_MAX;
    char params[COH_HTTP_MAX_PARAMS][160];
    int n_params = -1;
    char allow[64];
    memset(allow, 'x', sizeof allow);
    enum coh_route_match m =
        coh_http_route_find(coh_http_routes, coh_http_routes_count, method, path, &idx, params,
                            &n_params, allow, sizeof allow);
    FUZZ_CHECK(memchr(allow, '\0', sizeof allow) != NULL);
    if (m == COH_ROUTE_FOUND) {
        FUZZ_CHECK(idx < coh_http_routes_count);
        FUZZ_CHECK(n_params >= 0 && n_params <= COH_HTTP_MAX_PARAMS);
        for (int i = 0; i < n_params; i++) {
            size_t len = strnlen(params[i], 160);
            FUZZ_CHECK(len > 0 && len < 160 && !memchr(params[i], '/', len));
        }
    } else if (m == COH_ROUTE_WRONG_METHOD) {
        FUZZ_CHECK(idx < coh_http_routes_count && allow[0] != '\0');
    }
    free(line);
    return 0;
}
