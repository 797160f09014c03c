/*
 * cmd_dp: `cohort dp`, differentially private statistics of a CSV file printed as JSON.
 * Only the columns the queries need are loaded; a queried numeric column must hold finite
 * decimals in every row (NaN, infinity or text is rejected with its row and column), and
 * its values are clamped to the declared --bounds, never to bounds seen in the data.
 */
#include "cli/cli.h"
#include "cli/progress.h"
#include "core/core.h"
#include "privacy/privacy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NAME "dp"
#define MAX_LIST 64

extern const struct coh_cli_cmd coh_cli_cmd_dp;

static const char usage[] =
    "usage: cohort dp --input in.csv --query Q [--query Q]... --epsilon E\n"
    "                 [--bounds col=lo:hi]... [--categories col=a,b,c]... [--bins col=N]...\n"
    "                 [--group-by col[=a,b,c]] [--mechanism laplace|gaussian] [--delta D]\n"
    "                 [--lifetime-remaining E]\n"
    "\n"
    "Prints differentially private statistics as JSON, each with its noise scale and the 95%\n"
    "bound of the error its noise causes (no exact row count is printed). Queries: count,\n"
    "sum(c), mean(c), variance(c), histogram(c), quantiles(c,0.25,0.5,...), median(c).\n"
    "Numeric columns need --bounds (values are clamped); histograms of categorical columns and\n"
    "--group-by need declared categories (rows outside them are not counted). The request's\n"
    "epsilon (and delta, gaussian only; default 1e-6) is split evenly over the queries (basic\n"
    "composition); with a count query, sum, mean and variance reuse its noisy count instead of\n"
    "paying for another. --lifetime-remaining caps the spend at the smallest remaining\n"
    "lifetime epsilon of the contributors. Noise comes from exact\n"
    "discrete Laplace / discrete Gaussian samplers (Canonne, Kamath, Steinke 2020).\n";

/* Adds name to the load list unless present. */
static int want(coh_col_decl *decls, size_t *n, const char *name, enum coh_col_type type)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp(decls[i].name, name) == 0) {
            if (type != COH_COL_AUTO)
                decls[i].type = type;
            return 0;
        }
    if (*n == MAX_LIST)
        return -1;
    decls[(*n)++] = (coh_col_decl){.name = name, .type = type};
    return 0;
}

/* Splits "col=rest" in place; returns rest or NULL. */
static char *split_eq(char *s)
{
    char *eq = strchr(s, '=');
    if (!eq || eq == s)
        return NULL;
    *eq = 0;
    return eq + 1;
}

static size_t split_list(char *s, const char **out, size_t max)
{
    size_t n = 0;
    for (char *tok = strtok(s, ","); tok && n < max; tok = strtok(NULL, ","))
        out[n++] = tok;
    return n;
}

static int run(int argc, char **argv)
{
    const struct coh_cli_cmd *self = &coh_cli_cmd_dp;
    const char *input = NULL, *queries[MAX_LIST], *eps_s = NULL, *delta_s = NULL;
    const char *mech_s = NULL, *life_s = NULL;
    char *group = NULL;
    size_t nq = 0, ncols = 0;
    coh_dp_column cols[MAX_LIST];
    static const char *cats[MAX_LIST][MAX_LIST];
    memset(cols, 0, sizeof cols);
    for (int i = 1; i < argc; i++) {
        char opt[64], *v;
        int urc = coh_cli_option_next(self, argc, argv, &i, opt, &v);
        if (urc)
            return urc;
        if (strcmp(opt, "--input") == 0) {
            input = v;
        } else if (strcmp(opt, "--query") == 0) {
            if (nq == MAX_LIST)
                return coh_cli_usage_error(self, "too many queries");
            queries[nq++] = v;
        } else if (strcmp(opt, "--epsilon") == 0) {
            eps_s = v;
        } else if (strcmp(opt, "--delta") == 0) {
            delta_s = v;
        } else if (strcmp(opt, "--mechanism") == 0) {
            mech_s = v;
        } else if (strcmp(opt, "--lifetime-remaining") == 0) {
            life_s = v;
        } else if (strcmp(opt, "--group-by") == 0) {
            group = v;
        } else if (strcmp(opt, "--bounds") == 0 || strcmp(opt, "--categories") == 0 ||
                   strcmp(opt, "--bins") == 0) {
            char *rest = split_eq(v);
            if (!rest)
                return coh_cli_usage_error(self, "%s wants col=...", opt);
            size_t c = 0;
            while (c < ncols && strcmp(cols[c].name, v) != 0)
                c++;
            if (c == ncols) {
                if (ncols == MAX_LIST)
                    return coh_cli_usage_error(self, "too many columns");
                cols[ncols++].name = v;
            }
            if (opt[2] == 'b' && opt[3] == 'o') {
                char *colon = strchr(rest + 1, ':'); /* rest+1: lo may be negative */
                if (!colon)
                    return coh_cli_usage_error(self, "--bounds wants col=lo:hi");
                *colon = 0;
                cols[c].lo = rest;
                cols[c].hi = colon + 1;
            } else if (opt[2] == 'b') {
                char *end;
                long b = strtol(rest, &end, 10);
                if (*end || b < 1 || b > 100000)
                    return coh_cli_usage_error(self, "--bins wants col=N with 1 <= N <= 100000");
                cols[c].bins = (unsigned)b;
            } else {
                cols[c].n_categories = split_list(rest, cats[c], MAX_LIST);
                cols[c].categories = cats[c];
            }
        } else {
            return coh_cli_usage_error(self, "unknown option %s", opt);
        }
    }
    if (!input || nq == 0 || !eps_s)
        return coh_cli_usage_error(self, "--input, --query and --epsilon are required");
    coh_err err = {0};
    coh_dp_request req = {.queries = queries, .n_queries = nq, .columns = cols};
    if (coh_rational_parse(&req.epsilon, eps_s, &err) != 0)
        return coh_cli_usage_error(self, "--epsilon: %s", err.msg);
    req.mechanism = COH_DP_LAPLACE;
    if (mech_s && strcmp(mech_s, "gaussian") == 0)
        req.mechanism = COH_DP_GAUSSIAN;
    else if (mech_s && strcmp(mech_s, "laplace") != 0)
        return coh_cli_usage_error(self, "--mechanism must be laplace or gaussian");
    if (delta_s) {
        char *end;
        req.delta = strtod(delta_s, &end);
        if (*end || !(req.delta >= 0 && req.delta < 1))
            return coh_cli_usage_error(self, "--delta must be in [0, 1)");
    } else if (req.mechanism == COH_DP_GAUSSIAN) {
        req.delta = 1e-6;
    }
    if (group) {
        char *rest = split_eq(group);
        size_t c = 0;
        while (c < ncols && strcmp(cols[c].name, group) != 0)
            c++;
        if (c == ncols) {
            if (ncols == MAX_LIST)
                return coh_cli_usage_error(self, "too many columns");
            cols[ncols++].name = group;
        }
        if (rest) {
            cols[c].n_categories = split_list(rest, cats[c], MAX_LIST);
            cols[c].categories = cats[c];
        }
        req.group_by = group;
    }
    req.n_columns = ncols;

    /* load only what the queries need; bounded columns are declared numeric */
    coh_col_decl decls[MAX_LIST];
    size_t nd = 0;
    char qcols[MAX_LIST][128];
    int bad = 0;
    for (size_t c = 0; c < ncols; c++)
        bad |= want(decls, &nd, cols[c].name,
                    cols[c].lo           ? COH_COL_NUMERIC
                    : cols[c].categories ? COH_COL_CATEGORICAL
                                         : COH_COL_AUTO);
    for (size_t i = 0; i < nq; i++) {
        const char *lp = strchr(queries[i], '(');
        if (!lp)
            continue;
        size_t n = strcspn(lp + 1, ",)");
        while (n && lp[1] == ' ')
            lp++, n--;
        while (n && lp[n] == ' ')
            n--;
        snprintf(qcols[i], sizeof qcols[i], "%.*s", (int)n, lp + 1);
        if (qcols[i][0])
            bad |= want(decls, &nd, qcols[i], COH_COL_AUTO);
    }
    if (bad)
        return coh_cli_usage_error(self, "too many columns");
    coh_table_schema schema = {.cols = decls, .n_cols = nd, .only_declared = 1};
    coh_table *t = NULL;
    coh_dp_budget *budget = NULL;
    coh_dp_rng *rng = NULL;
    json_t *out = NULL;
    int status = 1;
    coh_rational life;
    if (life_s && coh_rational_parse(&life, life_s, &err) != 0)
        goto fail;
    struct coh_cli_bar bar = coh_cli_bar_for(input);
    if (coh_table_csv_load(&t, input, nd ? &schema : NULL, coh_cli_bar_progress, &bar, &err) != 0)
        goto fail;
    if (coh_dp_budget_new(&budget, req.epsilon, req.delta, &err) != 0)
        goto fail;
    if (life_s && coh_dp_budget_contributor_add(budget, life, &err) != 0)
        goto fail;
    if (coh_dp_rng_new(&rng) != 0) {
        coh_err_set(&err, COH_ERR_CRYPTO, "cannot initialize the random generator");
        goto fail;
    }
    if (coh_dp_run(&out, t, &req, budget, rng, &err) != 0)
        goto fail;
    json_dumpf(out, stdout, JSON_INDENT(2));
    fputc('\n', stdout);
    status = 0;
    goto done;
fail:
    coh_cli_fail(NAME, "%s", err.msg);
done:
    json_decref(out);
    coh_dp_rng_free(rng);
    coh_dp_budget_free(budget);
    coh_table_free(t);
    return status;
}

const struct coh_cli_cmd coh_cli_cmd_dp = {
    "dp", "differentially private statistics of a CSV file (JSON)", usage, run};
