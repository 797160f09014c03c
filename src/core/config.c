/*
 * config: "name = value" lines ('#' comments, blank lines ignored), then COHORT_NAME
 * environment overrides. Every value is validated against its spec at load, so a bad
 * setting stops the program at start with one line naming it.
 */
#include "core/core.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct coh_config {
    const coh_config_spec *specs;
    size_t n;
    char **values; /* values[i] for specs[i]; malloc'd, never NULL after load */
};

static long spec_index(const coh_config *c, const char *name)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->specs[i].name, name) == 0)
            return (long)i;
    return -1;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

static int set_value(coh_config *c, size_t i, const char *v)
{
    char *dup = strdup(v);
    if (!dup)
        return -1;
    free(c->values[i]);
    c->values[i] = dup;
    return 0;
}

static int read_file(coh_config *c, const char *file, coh_err *err)
{
    FILE *f = fopen(file, "r");
    if (!f)
        return coh_err_set(err, COH_ERR_IO, "config: cannot open %s: %s", file, strerror(errno));
    char line[4096];
    int lineno = 0, rc = 0;
    while (!rc && fgets(line, sizeof line, f)) {
        lineno++;
        char *s = trim(line);
        if (*s == '\0' || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            rc = coh_err_set(err, COH_ERR_INVALID, "config: %s:%d: expected name = value", file,
                             lineno);
            break;
        }
        *eq = '\0';
        char *name = trim(s), *value = trim(eq + 1);
        long i = spec_index(c, name);
        if (i < 0)
            rc = coh_err_set(err, COH_ERR_INVALID, "config: %s:%d: unknown setting '%s'", file,
                             lineno, name);
        else if (set_value(c, (size_t)i, value))
            rc = coh_err_set(err, COH_ERR_NOMEM, "config: out of memory");
    }
    fclose(f);
    return rc;
}

static int validate(const coh_config_spec *s, const char *v, coh_err *err)
{
    if (s->kind == COH_CFG_INT) {
        char *end;
        errno = 0;
        long n = strtol(v, &end, 10);
        if (errno || end == v || *end || n < s->min || n > s->max)
            return coh_err_set(err, COH_ERR_INVALID,
                               "config: setting '%s' must be an integer in [%ld, %ld], got '%s'",
                               s->name, s->min, s->max, v);
    } else if (s->kind == COH_CFG_BOOL) {
        if (strcmp(v, "true") && strcmp(v, "false") && strcmp(v, "1") && strcmp(v, "0"))
            return coh_err_set(err, COH_ERR_INVALID,
                               "config: setting '%s' must be true or false, got '%s'", s->name, v);
    }
    return 0;
}

int coh_config_load(coh_config **out, const coh_config_spec *specs, size_t n_specs,
                    const char *file, coh_err *err)
{
    *out = NULL;
    coh_config *c = calloc(1, sizeof *c);
    if (!c || !(c->values = calloc(n_specs, sizeof *c->values))) {
        free(c);
        return coh_err_set(err, COH_ERR_NOMEM, "config: out of memory");
    }
    c->specs = specs;
    c->n = n_specs;
    int rc = 0;
    for (size_t i = 0; i < n_specs && !rc; i++)
        if (specs[i].default_value && set_value(c, i, specs[i].default_value))
            rc = coh_err_set(err, COH_ERR_NOMEM, "config: out of memory");
    if (!rc && file)
        rc = read_file(c, file, err);
    for (size_t i = 0; i < n_specs && !rc; i++) {
        char env[128] = "COHORT_";
        size_t k = 7;
        for (const char *p = specs[i].name; *p && k < sizeof env - 1; p++)
            env[k++] = (char)toupper((unsigned char)*p);
        env[k] = '\0';
        const char *v = getenv(env);
        if (v && set_value(c, i, v))
            rc = coh_err_set(err, COH_ERR_NOMEM, "config: out of memory");
    }
    for (size_t i = 0; i < n_specs && !rc; i++) {
        if (!c->values[i])
            rc = coh_err_set(err, COH_ERR_INVALID,
                             "config: setting '%s' is required (file or COHORT_ environment)",
                             specs[i].name);
        else
            rc = validate(&specs[i], c->values[i], err);
    }
    if (rc) {
        coh_config_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

void coh_config_free(coh_config *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++)
        free(c->values[i]);
    free(c->values);
    free(c);
}

const char *coh_config_str(const coh_config *c, const char *name)
{
    long i = spec_index(c, name);
    return i < 0 ? NULL : c->values[i];
}

long coh_config_int(const coh_config *c, const char *name)
{
    const char *v = coh_config_str(c, name);
    return v ? strtol(v, NULL, 10) : 0;
}

int coh_config_bool(const coh_config *c, const char *name)
{
    const char *v = coh_config_str(c, name);
    return v && (strcmp(v, "true") == 0 || strcmp(v, "1") == 0);
}
