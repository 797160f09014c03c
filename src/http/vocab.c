/*
 * vocab: the API's encoding of values (docs/API.md) where the stored form differs. A request's
 * privacy parameters are stored as wave 2 hashed them into the terms a consent signs (epsilon a
 * decimal string, delta and max_suppression JSON numbers); the API writes every one of them as
 * a decimal string. The terms hash is unchanged: coh_market_terms reads either form.
 */
#include "http/http.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* The shortest plain decimal ("0.1", "0.000001", "0") that reads back as d. */
static json_t *decimal_string(double d)
{
    char buf[64];
    for (int places = 0; places <= 20; places++) {
        snprintf(buf, sizeof buf, "%.*f", places, d);
        if (strtod(buf, NULL) == d)
            return json_string(buf);
    }
    snprintf(buf, sizeof buf, "%.17g", d);
    return json_string(buf);
}

static void number_to_decimal(json_t *o, const char *name)
{
    json_t *v = json_object_get(o, name);
    if (json_is_number(v) && isfinite(json_number_value(v)))
        json_object_set_new(o, name, decimal_string(json_number_value(v)));
}

json_t *coh_http_request_out(json_t *request)
{
    json_t *p = json_object_get(request, "privacy");
    if (json_is_object(p)) {
        number_to_decimal(p, "epsilon");
        number_to_decimal(p, "delta");
        number_to_decimal(p, "max_suppression");
    }
    return request;
}
