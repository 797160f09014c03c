/*
 * router: linear match over a small static table (tens of routes), segment by segment. A
 * {param} matches exactly one non-empty segment; literal segments must match exactly.
 */
#include "http/http.h"

#include <stdio.h>
#include <string.h>

/* Matches path against pattern; on success fills params. */
static int match(const char *pattern, const char *path, char params[][160], int *n_params)
{
    int n = 0;
    const char *p = pattern, *s = path;
    while (*p && *s) {
        if (*p != '/' || *s != '/')
            return 0;
        p++;
        s++;
        const char *pe = strchr(p, '/'), *se = strchr(s, '/');
        size_t plen = pe ? (size_t)(pe - p) : strlen(p);
        size_t slen = se ? (size_t)(se - s) : strlen(s);
        if (plen >= 2 && p[0] == '{' && p[plen - 1] == '}') {
            if (slen == 0 || slen >= 160 || n >= COH_HTTP_MAX_PARAMS)
                return 0;
            memcpy(params[n], s, slen);
            params[n][slen] = '\0';
            n++;
        } else if (plen != slen || memcmp(p, s, plen) != 0) {
            return 0;
        }
        p += plen;
        s += slen;
    }
    if (*p || *s)
        return 0;
    *n_params = n;
    return 1;
}

enum coh_route_match coh_http_route_find(const struct coh_http_route *routes, size_t n,
                                         const char *method, const char *path, size_t *route_index,
                                         char params[][160], int *n_params, char *allow,
                                         size_t allow_cap)
{
    char scratch[COH_HTTP_MAX_PARAMS][160];
    int found_path = 0, scratch_n;
    size_t used = 0;
    if (allow_cap)
        allow[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (!match(routes[i].pattern, path, scratch, &scratch_n))
            continue;
        if (strcmp(routes[i].method, method) == 0 ||
            (strcmp(method, "HEAD") == 0 && strcmp(routes[i].method, "GET") == 0)) {
            memcpy(params, scratch, sizeof scratch);
            *n_params = scratch_n;
            *route_index = i;
            return COH_ROUTE_FOUND;
        }
        if (!found_path)
            *route_index = i;
        found_path = 1;
        if (used < allow_cap) {
            int w = snprintf(allow + used, allow_cap - used, "%s%s", used ? ", " : "",
                             routes[i].method);
            used += w > 0 ? (size_t)w : 0;
        }
    }
    return found_path ? COH_ROUTE_WRONG_METHOD : COH_ROUTE_NONE;
}
