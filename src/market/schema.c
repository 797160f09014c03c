/*
 * schema: a request's fields. Every numeric field has declared bounds and every categorical
 * field its categories: validation of records and DP clamping use only these, never the data.
 * A numeric field also has a granularity, the step of the grid its k-anonymous intervals end
 * on (privacy.h, coh_kanon_grid): declared, or the default step over [min, max].
 */
#include "market/market.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FIELDS 32
#define MAX_CATEGORIES 64

struct field {
    char name[41];
    enum coh_market_field_type type;
    enum coh_market_field_role role;
    char min[40], max[40]; /* decimal text; numeric types only */
    int decimals;          /* decimal fields: most fraction digits a value may have, 0..9 */
    char granularity[40];  /* numeric: grid step, declared or coh_kanon_grid_step_default */
    char *cats[MAX_CATEGORIES];
    size_t n_cats;
};

struct coh_market_schema {
    struct field f[MAX_FIELDS];
    size_t n;
};

static int name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 40 || !islower((unsigned char)s[0]))
        return 0;
    for (; *s; s++)
        if (!islower((unsigned char)*s) && !isdigit((unsigned char)*s) && *s != '_')
            return 0;
    return 1;
}

/* A decimal number as text: -?digits(.digits)?, at most 30 characters. */
static int decimal_ok(const char *s, int integer_only)
{
    size_t n = strlen(s), i = 0, digits = 0;
    if (n == 0 || n > 30)
        return 0;
    if (s[i] == '-')
        i++;
    for (; i < n && isdigit((unsigned char)s[i]); i++)
        digits++;
    if (i < n && s[i] == '.' && !integer_only) {
        i++;
        size_t frac = 0;
        for (; i < n && isdigit((unsigned char)s[i]); i++)
            frac++;
        if (!frac)
            return 0;
    }
    return digits && i == n;
}

/* Reads a bound given as a JSON integer, real or decimal string into out. */
static int bound_text(char out[40], const json_t *v, int integer_only)
{
    if (json_is_integer(v))
        snprintf(out, 40, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v) && !integer_only)
        snprintf(out, 40, "%.17g", json_real_value(v));
    else if (json_is_string(v))
        snprintf(out, 40, "%s", json_string_value(v));
    else
        return 0;
    return decimal_ok(out, integer_only) || (json_is_real(v) && !strchr(out, 'e'));
}

/*
 * The grid step of numeric field f (its bounds and decimals already parsed): a positive
 * decimal string or JSON number, an integer for integer fields, with no more fraction digits
 * than the field's decimals (grid points are values the field could hold), at most max - min.
 * Absent: the default step over [min, max] (at most 50 cells; 1, 2 or 5 x 10^n).
 */
static int parse_granularity(struct field *f, const json_t *v, size_t idx, coh_err *err)
{
    int integer = f->type == COH_FIELD_INTEGER;
    if (!v) {
        coh_err e2;
        if (coh_kanon_grid_step_default(f->granularity, sizeof f->granularity, f->min, f->max,
                                        f->decimals, &e2) != 0)
            return coh_err_set(err, COH_ERR_INVALID, "schema.fields[%zu]: %s", idx, e2.msg);
        return 0;
    }
    char *g = f->granularity;
    if (json_is_integer(v))
        snprintf(g, sizeof f->granularity, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        snprintf(g, sizeof f->granularity, "%.15g", json_real_value(v));
    else if (json_is_string(v) && json_string_length(v) < sizeof f->granularity)
        snprintf(g, sizeof f->granularity, "%s", json_string_value(v));
    else
        g[0] = 0;
    const char *dot = strchr(g, '.');
    size_t frac = dot ? strlen(dot + 1) : 0;
    while (frac > 0 && dot[frac] == '0') /* trailing zeros say nothing */
        frac--;
    if (!decimal_ok(g, 0) || g[0] == '-' || !(strtod(g, NULL) > 0) || (integer && frac > 0) ||
        (int)frac > f->decimals)
        return coh_err_set(err, COH_ERR_INVALID,
                           "schema.fields[%zu].granularity must be a number > 0 with at most %d "
                           "decimals (the step of the grid that k-anonymous intervals end on)",
                           idx, f->decimals);
    if (strtod(g, NULL) > strtod(f->max, NULL) - strtod(f->min, NULL))
        return coh_err_set(err, COH_ERR_INVALID,
                           "schema.fields[%zu].granularity must not exceed max - min", idx);
    /* Only coarser than the default: a step of 1 on integers would make interval ends the
     * class's own values again. (Steps have at most a few decimals: doubles order them.) */
    char dflt[40];
    coh_err e2;
    if (coh_kanon_grid_step_default(dflt, sizeof dflt, f->min, f->max, f->decimals, &e2) != 0)
        return coh_err_set(err, COH_ERR_INVALID, "schema.fields[%zu]: %s", idx, e2.msg);
    if (strtod(g, NULL) < strtod(dflt, NULL) * (1 - 1e-12))
        return coh_err_set(err, COH_ERR_INVALID,
                           "schema.fields[%zu].granularity must be at least %s, the default "
                           "step over [min, max] (a finer grid would release contributed "
                           "values)",
                           idx, dflt);
    return 0;
}

static int parse_field(struct field *f, const json_t *j, size_t idx, coh_err *err)
{
    if (!json_is_object(j))
        return coh_err_set(err, COH_ERR_INVALID, "schema.fields[%zu] must be an object", idx);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)j, k, v)
    {
        if (strcmp(k, "name") && strcmp(k, "type") && strcmp(k, "unit") && strcmp(k, "min") &&
            strcmp(k, "max") && strcmp(k, "categories") && strcmp(k, "role") &&
            strcmp(k, "description") && strcmp(k, "decimals") && strcmp(k, "granularity"))
            return coh_err_set(err, COH_ERR_INVALID,
                               "schema.fields[%zu].%.40s is not a known member", idx, k);
    }
    const char *name = json_string_value(json_object_get(j, "name"));
    if (!name || !name_ok(name))
        return coh_err_set(err, COH_ERR_INVALID,
                           "schema.fields[%zu].name must match [a-z][a-z0-9_]{0,39}", idx);
    snprintf(f->name, sizeof f->name, "%s", name);
    const char *type = json_string_value(json_object_get(j, "type"));
    if (type && strcmp(type, "integer") == 0)
        f->type = COH_FIELD_INTEGER;
    else if (type && strcmp(type, "decimal") == 0)
        f->type = COH_FIELD_DECIMAL;
    else if (type && strcmp(type, "category") == 0)
        f->type = COH_FIELD_CATEGORY;
    else
        return coh_err_set(err, COH_ERR_INVALID,
                           "schema.fields[%zu].type must be integer, decimal or category", idx);
    const char *role = json_string_value(json_object_get(j, "role"));
    if (role && strcmp(role, "quasi-identifier") == 0)
        f->role = COH_ROLE_QUASI;
    else if (role && strcmp(role, "sensitive") == 0)
        f->role = COH_ROLE_SENSITIVE;
    else if (role && strcmp(role, "measure") == 0)
        f->role = COH_ROLE_MEASURE;
    else
        return coh_err_set(err, COH_ERR_INVALID,
                           "schema.fields[%zu].role must be quasi-identifier, sensitive or measure",
                           idx);
    json_t *unit = json_object_get(j, "unit");
    if (unit && (!json_is_string(unit) || json_string_length(unit) > 32))
        return coh_err_set(err, COH_ERR_INVALID,
                           "schema.fields[%zu].unit must be a string of at most 32 bytes", idx);
    if (f->type == COH_FIELD_CATEGORY) {
        json_t *cats = json_object_get(j, "categories");
        if (!json_is_array(cats) || json_array_size(cats) < 1 ||
            json_array_size(cats) > MAX_CATEGORIES)
            return coh_err_set(err, COH_ERR_INVALID,
                               "schema.fields[%zu].categories must be an array of 1 to %d strings",
                               idx, MAX_CATEGORIES);
        size_t i;
        json_array_foreach(cats, i, v)
        {
            const char *c = json_string_value(v);
            if (!c || json_string_length(v) == 0 || json_string_length(v) > 64 ||
                strlen(c) != json_string_length(v) || strpbrk(c, "{},\"\r\n"))
                return coh_err_set(err, COH_ERR_INVALID,
                                   "schema.fields[%zu].categories[%zu] must be 1-64 bytes without "
                                   "braces, commas, quotes or newlines",
                                   idx, i);
            for (size_t k2 = 0; k2 < f->n_cats; k2++)
                if (strcmp(f->cats[k2], c) == 0)
                    return coh_err_set(err, COH_ERR_INVALID,
                                       "schema.fields[%zu].categories[%zu] is a duplicate", idx, i);
            if (!(f->cats[f->n_cats] = strdup(c)))
                return coh_err_set(err, COH_ERR_NOMEM, "out of memory");
            f->n_cats++;
        }
        if (json_object_get(j, "min") || json_object_get(j, "max") ||
            json_object_get(j, "granularity"))
            return coh_err_set(err, COH_ERR_INVALID,
                               "schema.fields[%zu]: a category field has no min, max or "
                               "granularity",
                               idx);
    } else {
        int integer = f->type == COH_FIELD_INTEGER;
        if (!bound_text(f->min, json_object_get(j, "min"), integer))
            return coh_err_set(err, COH_ERR_INVALID,
                               "schema.fields[%zu].min is required: a %s (declared bounds are "
                               "used for validation and clamping, never the data)",
                               idx, integer ? "integer" : "decimal number");
        if (!bound_text(f->max, json_object_get(j, "max"), integer))
            return coh_err_set(err, COH_ERR_INVALID, "schema.fields[%zu].max is required: a %s",
                               idx, integer ? "integer" : "decimal number");
        if (strtod(f->min, NULL) >= strtod(f->max, NULL))
            return coh_err_set(err, COH_ERR_INVALID, "schema.fields[%zu].min must be below max",
                               idx);
        json_t *dec = json_object_get(j, "decimals");
        f->decimals = integer ? 0 : 4;
        if (dec && (integer || !json_is_integer(dec) || json_integer_value(dec) < 0 ||
                    json_integer_value(dec) > 9))
            return coh_err_set(
                err, COH_ERR_INVALID,
                "schema.fields[%zu].decimals must be an integer from 0 to 9 (decimal "
                "fields only)",
                idx);
        if (dec)
            f->decimals = (int)json_integer_value(dec);
        /* The privacy engine works in exact integers: bound x 10^decimals must stay below 2^41. */
        double mag = fabs(strtod(f->min, NULL)) > fabs(strtod(f->max, NULL))
                         ? fabs(strtod(f->min, NULL))
                         : fabs(strtod(f->max, NULL));
        if (mag * pow(10, f->decimals) >= 2199023255552.0)
            return coh_err_set(err, COH_ERR_INVALID,
                               "schema.fields[%zu]: bounds x 10^decimals must be below 2^41; "
                               "narrow the bounds or lower decimals",
                               idx);
        if (json_object_get(j, "categories"))
            return coh_err_set(err, COH_ERR_INVALID,
                               "schema.fields[%zu]: only category fields have categories", idx);
        int rc = parse_granularity(f, json_object_get(j, "granularity"), idx, err);
        if (rc)
            return rc;
    }
    return 0;
}

int coh_market_schema_parse(coh_market_schema **out, const json_t *schema, coh_err *err)
{
    *out = NULL;
    json_t *fields = json_is_object(schema) ? json_object_get(schema, "fields") : NULL;
    if (!json_is_array(fields) || json_array_size(fields) < 1 ||
        json_array_size(fields) > MAX_FIELDS)
        return coh_err_set(err, COH_ERR_INVALID, "schema.fields must be an array of 1 to %d fields",
                           MAX_FIELDS);
    if (json_object_size(schema) != 1)
        return coh_err_set(err, COH_ERR_INVALID, "schema may only hold 'fields'");
    coh_market_schema *s = calloc(1, sizeof *s);
    if (!s)
        return coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    size_t i;
    json_t *f;
    int rc = 0;
    json_array_foreach(fields, i, f)
    {
        if ((rc = parse_field(&s->f[i], f, i, err)) != 0)
            break;
        s->n++;
        for (size_t k = 0; k < i && !rc; k++)
            if (strcmp(s->f[k].name, s->f[i].name) == 0)
                rc = coh_err_set(err, COH_ERR_INVALID, "schema.fields[%zu].name '%s' is repeated",
                                 i, s->f[i].name);
        if (rc)
            break;
    }
    if (rc) {
        s->n = i + 1 <= MAX_FIELDS ? i + 1 : MAX_FIELDS;
        coh_market_schema_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

void coh_market_schema_free(coh_market_schema *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < MAX_FIELDS; i++)
        for (size_t k = 0; k < s->f[i].n_cats; k++)
            free(s->f[i].cats[k]);
    free(s);
}

size_t coh_market_schema_fields(const coh_market_schema *s)
{
    return s->n;
}

const char *coh_market_schema_field_name(const coh_market_schema *s, size_t i)
{
    return s->f[i].name;
}

enum coh_market_field_type coh_market_schema_field_type(const coh_market_schema *s, size_t i)
{
    return s->f[i].type;
}

enum coh_market_field_role coh_market_schema_field_role(const coh_market_schema *s, size_t i)
{
    return s->f[i].role;
}

const char *coh_market_schema_field_min(const coh_market_schema *s, size_t i)
{
    return s->f[i].type == COH_FIELD_CATEGORY ? NULL : s->f[i].min;
}

const char *coh_market_schema_field_max(const coh_market_schema *s, size_t i)
{
    return s->f[i].type == COH_FIELD_CATEGORY ? NULL : s->f[i].max;
}

int coh_market_schema_field_decimals(const coh_market_schema *s, size_t i)
{
    return s->f[i].decimals;
}

const char *coh_market_schema_field_granularity(const coh_market_schema *s, size_t i)
{
    return s->f[i].type == COH_FIELD_CATEGORY ? NULL : s->f[i].granularity;
}

size_t coh_market_schema_field_categories(const coh_market_schema *s, size_t i,
                                          const char *const **out)
{
    *out = (const char *const *)s->f[i].cats;
    return s->f[i].n_cats;
}

int coh_market_schema_table(coh_table **out, const coh_market_schema *s, coh_err *err)
{
    coh_col_decl decls[MAX_FIELDS];
    memset(decls, 0, sizeof decls);
    for (size_t i = 0; i < s->n; i++) {
        decls[i].name = s->f[i].name;
        if (s->f[i].type == COH_FIELD_CATEGORY) {
            decls[i].type = COH_COL_CATEGORICAL;
            decls[i].categories = (const char *const *)s->f[i].cats;
            decls[i].n_categories = s->f[i].n_cats;
        } else {
            decls[i].type = COH_COL_NUMERIC;
            decls[i].min = s->f[i].min;
            decls[i].max = s->f[i].max;
        }
    }
    return coh_table_new(out, decls, s->n, err);
}
