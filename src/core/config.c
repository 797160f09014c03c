/*
 * config: "name = value" lines ('#' comment lines, blank lines ignored), then COHORT_NAME
 * environment overrides, over a table of typed specs. Every value is checked against its
 * spec at load, so a bad setting stops the program at start with one line naming it and the
 * file line (or environment variable) it came from; after that the getters cannot fail.
 * Loaded once per process: a few dozen settings, linear lookups.
 */
#include "core/core.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct coh_config {
    const coh_config_spec *specs;
    size_t n;
    char **values;  /* values[i] for specs[i]; malloc'd, never NULL after load */
    char **origins; /* where values[i] came from; malloc'd, NULL for the default */
};

static long spec_index(const coh_config_spec *specs, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(specs[i].name, name) == 0)
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

static int set_value(coh_config *c, size_t i, const char *v, const char *origin)
{
    char *dup = strdup(v), *o = origin ? strdup(origin) : NULL;
    if (!dup || (origin && !o)) {
        free(dup);
        free(o);
        return -1;
    }
    free(c->values[i]);
    free(c->origins[i]);
    c->values[i] = dup;
    c->origins[i] = o;
    return 0;
}

static int read_file(coh_config *c, const char *file, coh_err *err)
{
    FILE *f = fopen(file, "r");
    if (!f)
        return coh_err_set(err, COH_ERR_IO, "config: cannot open %s: %s", file, strerror(errno));
    char line[4096], origin[1100];
    int lineno = 0, rc = 0;
    while (!rc && fgets(line, sizeof line, f)) {
        lineno++;
        if (!strchr(line, '\n') && !feof(f)) {
            rc = coh_err_set(err, COH_ERR_INVALID, "config: %s:%d: line longer than %zu bytes",
                             file, lineno, sizeof line - 2);
            break;
        }
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
        long i = spec_index(c->specs, c->n, name);
        snprintf(origin, sizeof origin, "%s:%d", file, lineno);
        if (i < 0)
            rc =
                coh_err_set(err, COH_ERR_INVALID, "config: %s: unknown setting '%s'", origin, name);
        else if (set_value(c, (size_t)i, value, origin))
            rc = coh_err_set(err, COH_ERR_NOMEM, "config: out of memory");
    }
    if (!rc && ferror(f))
        rc = coh_err_set(err, COH_ERR_IO, "config: cannot read %s", file);
    fclose(f);
    return rc;
}

/* "COHORT_" and the name upper-cased. */
static void env_name(char *out, size_t cap, const char *name)
{
    size_t k = (size_t)snprintf(out, cap, "COHORT_");
    for (const char *p = name; *p && k + 1 < cap; p++)
        out[k++] = (char)toupper((unsigned char)*p);
    out[k] = '\0';
}

/* A decimal with at most 6 fraction digits, in millionths; -1 when malformed or too large. */
static long parse_micros(const char *v)
{
    long whole = 0, frac = 0;
    int digits = 0, fdigits = 0;
    const char *p = v;
    for (; *p >= '0' && *p <= '9'; p++, digits++) {
        if (whole > (LONG_MAX / 1000000 - 9) / 10)
            return -1;
        whole = whole * 10 + (*p - '0');
    }
    if (*p == '.') {
        if (digits == 0)
            return -1;
        for (p++; *p >= '0' && *p <= '9'; p++, fdigits++)
            if (fdigits < 6)
                frac = frac * 10 + (*p - '0');
        if (fdigits == 0)
            return -1;
    }
    if (*p || digits == 0 || fdigits > 6)
        return -1;
    for (int k = fdigits; k < 6; k++)
        frac *= 10;
    return whole * 1000000 + frac;
}

/* "0.000001", "10", "0.5" for a value in millionths. */
static void format_micros(char out[32], long m)
{
    int n = snprintf(out, 32, "%ld.%06ld", m / 1000000, m % 1000000);
    while (n > 0 && out[n - 1] == '0')
        out[--n] = '\0';
    if (n > 0 && out[n - 1] == '.')
        out[--n] = '\0';
}

static int is_choice(const char *choices, const char *v)
{
    size_t n = strlen(v);
    for (const char *p = choices; p && *p;) {
        size_t w = strcspn(p, "|");
        if (n && w == n && strncmp(p, v, n) == 0)
            return 1;
        p += w + (p[w] == '|');
    }
    return 0;
}

static int listen_ok(const char *v)
{
    for (const char *p = v;;) {
        size_t n = strcspn(p, ",");
        size_t e = n;
        if (e && (p[e - 1] == 's' || p[e - 1] == 'r'))
            e--;
        size_t d = e;
        while (d && isdigit((unsigned char)p[d - 1]))
            d--;
        long port = e - d >= 1 && e - d <= 5 ? strtol(p + d, NULL, 10) : 0;
        if (port < 1 || port > 65535 || !(d == 0 || p[d - 1] == ':' || (d == 1 && p[0] == '+')))
            return 0;
        if (p[n] == '\0')
            return 1;
        p += n + 1;
    }
}

static int url_ok(const char *v)
{
    const char *rest = strncmp(v, "http://", 7) == 0    ? v + 7
                       : strncmp(v, "https://", 8) == 0 ? v + 8
                                                        : NULL;
    if (!rest || !*rest || *rest == '/')
        return 0;
    for (const char *p = v; *p; p++)
        if (isspace((unsigned char)*p) || iscntrl((unsigned char)*p))
            return 0;
    return 1;
}

/* 0x and digits hex digits: an address (40) or a hash (64). */
static int hex_ok(const char *v, size_t digits)
{
    if (strlen(v) != digits + 2 || v[0] != '0' || (v[1] != 'x' && v[1] != 'X'))
        return 0;
    for (size_t i = 2; i < digits + 2; i++)
        if (!isxdigit((unsigned char)v[i]))
            return 0;
    return 1;
}

/* What a value of the spec must be, for messages: "an integer in [1, 1024]". */
static void expected(char *out, size_t cap, const coh_config_spec *s)
{
    char lo[32], hi[32];
    switch (s->kind) {
    case COH_CFG_INT:
    case COH_CFG_DURATION_MS:
    case COH_CFG_DURATION_S:
        snprintf(out, cap, "an integer in [%ld, %ld]%s", s->min, s->max,
                 s->kind == COH_CFG_DURATION_MS  ? " (milliseconds)"
                 : s->kind == COH_CFG_DURATION_S ? " (seconds)"
                                                 : "");
        break;
    case COH_CFG_BOOL:
        snprintf(out, cap, "true or false");
        break;
    case COH_CFG_DECIMAL:
        format_micros(lo, s->min);
        format_micros(hi, s->max);
        snprintf(out, cap, "a decimal in [%s, %s] with at most 6 fraction digits", lo, hi);
        break;
    case COH_CFG_ENUM: {
        size_t k = (size_t)snprintf(out, cap, "one of ");
        for (const char *p = s->choices; p && *p && k + 2 < cap; p++) {
            out[k++] = *p == '|' ? ',' : *p;
            if (*p == '|')
                out[k++] = ' ';
        }
        out[k < cap ? k : cap - 1] = '\0';
        break;
    }
    case COH_CFG_ADDRESS:
        snprintf(out, cap, "an address (0x and 40 hex digits)");
        break;
    case COH_CFG_HASH:
        snprintf(out, cap, "a hash (0x and 64 hex digits)");
        break;
    case COH_CFG_URL:
        snprintf(out, cap, "an http:// or https:// URL");
        break;
    case COH_CFG_LISTEN:
        snprintf(out, cap, "listening ports ([ip:]port, comma-separated)");
        break;
    case COH_CFG_STRING:
        if (s->min > 0) {
            snprintf(out, cap, "at least %ld characters", s->min);
            break;
        }
        /* fall through */
    case COH_CFG_PATH:
    case COH_CFG_CONNINFO:
        snprintf(out, cap, "not empty");
        break;
    case COH_CFG_AMOUNT:
        snprintf(out, cap, "an amount in base units (decimal digits, at most 2^256-1)");
        break;
    }
}

int coh_config_check_value(const coh_config_spec *s, const char *v, const char *origin,
                           coh_err *err)
{
    int ok = 1;
    if (!*v && (s->flags & COH_CFG_OPTIONAL))
        return 0;
    switch (s->kind) {
    case COH_CFG_INT:
    case COH_CFG_DURATION_MS:
    case COH_CFG_DURATION_S: {
        char *end;
        errno = 0;
        long n = strtol(v, &end, 10);
        ok = !errno && end != v && !*end && !isspace((unsigned char)*v) && n >= s->min &&
             n <= s->max;
        break;
    }
    case COH_CFG_BOOL:
        ok = is_choice("true|false|1|0", v);
        break;
    case COH_CFG_DECIMAL: {
        long m = parse_micros(v);
        ok = m >= 0 && m >= s->min && m <= s->max;
        break;
    }
    case COH_CFG_ENUM:
        ok = is_choice(s->choices, v);
        break;
    case COH_CFG_ADDRESS:
        ok = hex_ok(v, 40);
        break;
    case COH_CFG_HASH:
        ok = hex_ok(v, 64);
        break;
    case COH_CFG_URL:
        ok = url_ok(v);
        break;
    case COH_CFG_LISTEN:
        ok = listen_ok(v);
        break;
    case COH_CFG_STRING:
        ok = s->min <= 0 || strlen(v) >= (size_t)s->min;
        break;
    case COH_CFG_PATH:
    case COH_CFG_CONNINFO:
        ok = *v != '\0';
        break;
    case COH_CFG_AMOUNT: {
        uint8_t amount[32];
        ok = coh_u256_from_dec(amount, v) == 0;
        break;
    }
    }
    if (ok)
        return 0;
    if (s->kind == COH_CFG_STRING) /* the phrase operators and tests know */
        return coh_err_set(err, COH_ERR_INVALID, "config: %s: %s must have at least %ld characters",
                           origin, s->name, s->min);
    char want[160];
    expected(want, sizeof want, s);
    const char *empty = (s->flags & COH_CFG_OPTIONAL) ? "empty or " : "";
    if (s->flags & COH_CFG_SECRET)
        return coh_err_set(err, COH_ERR_INVALID, "config: %s: setting '%s' must be %s%s", origin,
                           s->name, empty, want);
    return coh_err_set(err, COH_ERR_INVALID, "config: %s: setting '%s' must be %s%s, got '%.64s'",
                       origin, s->name, empty, want, v);
}

int coh_config_load(coh_config **out, const coh_config_spec *specs, size_t n_specs,
                    const char *file, coh_err *err)
{
    *out = NULL;
    coh_config *c = calloc(1, sizeof *c);
    if (!c || !(c->values = calloc(n_specs, sizeof *c->values)) ||
        !(c->origins = calloc(n_specs, sizeof *c->origins))) {
        if (c)
            free(c->values);
        free(c);
        return coh_err_set(err, COH_ERR_NOMEM, "config: out of memory");
    }
    c->specs = specs;
    c->n = n_specs;
    int rc = 0;
    for (size_t i = 0; i < n_specs && !rc; i++)
        if (specs[i].default_value && set_value(c, i, specs[i].default_value, NULL))
            rc = coh_err_set(err, COH_ERR_NOMEM, "config: out of memory");
    if (!rc && file)
        rc = read_file(c, file, err);
    for (size_t i = 0; i < n_specs && !rc; i++) {
        char env[128];
        env_name(env, sizeof env, specs[i].name);
        const char *v = getenv(env);
        if (v && set_value(c, i, v, env))
            rc = coh_err_set(err, COH_ERR_NOMEM, "config: out of memory");
    }
    for (size_t i = 0; i < n_specs && !rc; i++) {
        if (!c->values[i])
            rc = coh_err_set(err, COH_ERR_INVALID,
                             "config: setting '%s' is required (file or COHORT_ environment)",
                             specs[i].name);
        else
            rc = coh_config_check_value(&specs[i], c->values[i],
                                        c->origins[i] ? c->origins[i] : "default", err);
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
    for (size_t i = 0; i < c->n; i++) {
        free(c->values[i]);
        free(c->origins[i]);
    }
    free(c->values);
    free(c->origins);
    free(c);
}

const char *coh_config_str(const coh_config *c, const char *name)
{
    long i = spec_index(c->specs, c->n, name);
    return i < 0 ? NULL : c->values[i];
}

const char *coh_config_origin(const coh_config *c, const char *name)
{
    long i = spec_index(c->specs, c->n, name);
    return i < 0 ? NULL : c->origins[i] ? c->origins[i] : "default";
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

long coh_config_micros(const coh_config *c, const char *name)
{
    const char *v = coh_config_str(c, name);
    long m = v ? parse_micros(v) : -1;
    return m < 0 ? 0 : m;
}

const char *coh_config_kind_name(const coh_config_spec *s)
{
    switch (s->kind) {
    case COH_CFG_STRING:
        return "string";
    case COH_CFG_INT:
        return "int";
    case COH_CFG_BOOL:
        return "bool";
    case COH_CFG_DURATION_MS:
        return "duration (ms)";
    case COH_CFG_DURATION_S:
        return "duration (s)";
    case COH_CFG_DECIMAL:
        return "decimal";
    case COH_CFG_ENUM:
        return "enum";
    case COH_CFG_ADDRESS:
        return "address";
    case COH_CFG_HASH:
        return "hash";
    case COH_CFG_URL:
        return "url";
    case COH_CFG_LISTEN:
        return "listen";
    case COH_CFG_PATH:
        return "path";
    case COH_CFG_CONNINFO:
        return "postgres";
    case COH_CFG_AMOUNT:
        return "amount";
    }
    return "?";
}

/* The allowed values of a spec for listings: "1..1024", "debug|info", "" when any. */
static void allowed(char *out, size_t cap, const coh_config_spec *s)
{
    char lo[32], hi[32];
    out[0] = '\0';
    if (s->kind == COH_CFG_INT || s->kind == COH_CFG_DURATION_MS || s->kind == COH_CFG_DURATION_S)
        snprintf(out, cap, "%ld..%ld", s->min, s->max);
    else if (s->kind == COH_CFG_DECIMAL) {
        format_micros(lo, s->min);
        format_micros(hi, s->max);
        snprintf(out, cap, "%s..%s", lo, hi);
    } else if (s->kind == COH_CFG_ENUM)
        snprintf(out, cap, "%s", s->choices ? s->choices : "");
    else if (s->kind == COH_CFG_BOOL)
        snprintf(out, cap, "true|false");
    else if (s->kind == COH_CFG_STRING)
        snprintf(out, cap, s->min > 0 ? "%ld+ characters" : "any", s->min);
    else if (s->kind == COH_CFG_ADDRESS)
        snprintf(out, cap, "0x + 40 hex");
    else if (s->kind == COH_CFG_HASH)
        snprintf(out, cap, "0x + 64 hex");
    else if (s->kind == COH_CFG_URL)
        snprintf(out, cap, "http(s)://host...");
    else if (s->kind == COH_CFG_LISTEN)
        snprintf(out, cap, "[ip:]port,...");
    else if (s->kind == COH_CFG_AMOUNT)
        snprintf(out, cap, "0..2^256-1");
    else if (s->flags & COH_CFG_OPTIONAL) {
        snprintf(out, cap, "any");
        return;
    } else
        snprintf(out, cap, "not empty");
    if ((s->flags & COH_CFG_OPTIONAL) && cap > strlen(out) + 12)
        strcat(out, ", or empty");
}

/* s with '|' escaped, for a markdown table cell. */
static void md_cell(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            fputc('\\', f);
        fputc(*s, f);
    }
}

void coh_config_describe(FILE *f, const coh_config_spec *specs, size_t n_specs, int markdown)
{
    if (markdown)
        fprintf(f, "| setting | type | allowed | default | meaning |\n"
                   "|---|---|---|---|---|\n");
    for (size_t i = 0; i < n_specs; i++) {
        const coh_config_spec *s = &specs[i];
        char range[160], env[128];
        allowed(range, sizeof range, s);
        env_name(env, sizeof env, s->name);
        int quoted = s->default_value && *s->default_value && !(s->flags & COH_CFG_SECRET);
        const char *def = !s->default_value           ? "(required)"
                          : !*s->default_value        ? "(empty)"
                          : s->flags & COH_CFG_SECRET ? "(secret)"
                                                      : s->default_value;
        char src[160];
        if (markdown && quoted && (s->flags & COH_CFG_SOURCE_PATH) && strrchr(def, '/')) {
            /* the same docs from every checkout: "<source>/sql" */
            snprintf(src, sizeof src, "<source>%s", strrchr(def, '/'));
            def = src;
        }
        if (markdown) {
            fprintf(f, "| `%s` | %s%s | ", s->name, coh_config_kind_name(s),
                    s->flags & COH_CFG_SECRET ? ", secret" : "");
            md_cell(f, range);
            fprintf(f, " | %s", quoted ? "`" : "");
            md_cell(f, def);
            fprintf(f, "%s | ", quoted ? "`" : "");
            md_cell(f, s->doc ? s->doc : "");
            fprintf(f, " |\n");
        } else {
            fprintf(f, "  %s (%s%s, %s; default %s; %s)\n      %s\n", s->name,
                    coh_config_kind_name(s), s->flags & COH_CFG_SECRET ? ", secret" : "", range,
                    def, env, s->doc ? s->doc : "");
        }
    }
}
