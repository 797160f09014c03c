/*
 * fuzz_csv: CSV files given to `cohort anonymize` (coh_table_csv_load reads a path, so the
 * input goes to a memfd opened by its /proc path). The first byte picks the schema: none
 * (every column AUTO), or declared columns with bounds and categories; every cell of a
 * loaded table is read back.
 */
#include "fuzz.h"
#include "privacy/privacy.h"

#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int g_fd = -1;
static char g_path[64];

static const char *const g_cats[] = {"f", "m", "x"};
static const coh_col_decl g_decls[] = {
    {.name = "age", .type = COH_COL_NUMERIC, .min = "0", .max = "120"},
    {.name = "sex", .type = COH_COL_CATEGORICAL, .categories = g_cats, .n_categories = 3},
    {.name = "bmi", .type = COH_COL_NUMERIC, .min = "-10.5", .max = "99.99"},
    {.name = "zip", .type = COH_COL_AUTO},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (g_fd < 0) {
        g_fd = memfd_create("csv", 0);
        FUZZ_CHECK(g_fd >= 0);
        snprintf(g_path, sizeof g_path, "/proc/self/fd/%d", g_fd);
    }
    unsigned mode = data[0] % 3;
    FUZZ_CHECK(ftruncate(g_fd, 0) == 0);
    FUZZ_CHECK(size == 1 || pwrite(g_fd, data + 1, size - 1, 0) == (ssize_t)(size - 1));
    coh_table_schema schema = {.cols = g_decls, .n_cols = 4, .only_declared = mode == 2};
    coh_table *t = NULL;
    coh_err err = {0};
    if (coh_table_csv_load(&t, g_path, mode ? &schema : NULL, NULL, NULL, &err) == 0) {
        size_t rows = coh_table_rows(t), cols = coh_table_cols(t);
        for (size_t c = 0; c < cols; c++) {
            const char *name = coh_table_col_name(t, c);
            FUZZ_CHECK(name != NULL && coh_table_col_find(t, name) >= 0);
            for (size_t r = 0; r < rows; r++)
                FUZZ_CHECK(coh_table_cell(t, r, c) != NULL);
        }
    } else {
        FUZZ_CHECK(t == NULL);
    }
    coh_table_free(t);
    return 0;
}
