/*
 * fuzz_hierarchy: generalization hierarchy files (ARX ';' or CSV ',' lines, leaf to root),
 * parsed by coh_hierarchy_parse.
 */
#include "fuzz.h"
#include "privacy/privacy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    coh_hierarchy *h = NULL;
    coh_err err = {0};
    if (coh_hierarchy_parse(&h, (const char *)data, size, &err) != 0)
        FUZZ_CHECK(h == NULL);
    coh_hierarchy_free(h);
    return 0;
}
