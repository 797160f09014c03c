/*
 * docs/SETTINGS.md mirrors cohortd's settings table (src/core/settings.c): every setting's
 * name appears there, and its table is exactly what coh_config_describe writes. On a
 * mismatch this prints the table to paste (also `test_settings_doc --print`).
 */
#include "core/core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef COH_SOURCE_DIR
#define COH_SOURCE_DIR "."
#endif

static char *slurp(FILE *f)
{
    size_t cap = 1 << 16, n = 0;
    char *s = malloc(cap);
    for (size_t r; s && (r = fread(s + n, 1, cap - 1 - n, f)) > 0;) {
        n += r;
        if (n + 1 == cap) {
            char *t = realloc(s, cap *= 2);
            if (!t) {
                free(s);
                return NULL;
            }
            s = t;
        }
    }
    if (s)
        s[n] = '\0';
    return s;
}

int main(int argc, char **argv)
{
    char *table = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&table, &len);
    if (!mem)
        return 2;
    coh_config_describe(mem, coh_settings, coh_settings_count, 1);
    fclose(mem);
    if (argc > 1 && strcmp(argv[1], "--print") == 0) {
        fputs(table, stdout);
        free(table);
        return 0;
    }
    const char *path = COH_SOURCE_DIR "/docs/SETTINGS.md";
    FILE *f = fopen(path, "r");
    char *doc = f ? slurp(f) : NULL;
    if (f)
        fclose(f);
    if (!doc) {
        fprintf(stderr, "cannot read %s\n", path);
        free(table);
        return 1;
    }
    int bad = 0;
    for (size_t i = 0; i < coh_settings_count; i++) {
        char want[160];
        snprintf(want, sizeof want, "`%s`", coh_settings[i].name);
        if (!strstr(doc, want)) {
            fprintf(stderr, "docs/SETTINGS.md does not mention setting %s\n", want);
            bad = 1;
        }
    }
    if (!strstr(doc, table)) {
        fprintf(stderr,
                "docs/SETTINGS.md's table differs from src/core/settings.c; the table "
                "should read:\n%s",
                table);
        bad = 1;
    }
    if (!bad)
        printf("docs/SETTINGS.md mirrors all %zu settings\n", coh_settings_count);
    free(doc);
    free(table);
    return bad;
}
