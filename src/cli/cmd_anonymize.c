/*
 * cmd_anonymize: `cohort anonymize`, a k-anonymous (optionally l-diverse) release of a CSV
 * file by Mondrian partitioning. Column types are inferred: a QI is numeric when every cell
 * is a decimal number, categorical otherwise (or when it has a --hierarchy). Numeric QIs are
 * released as intervals on a grid (--grid, or the default step with origin 0). Nothing is
 * written unless k (and l) are met within the suppression limit; errors are one line and
 * never quote a cell.
 */
#include "cli/cli.h"
#include "cli/progress.h"
#include "core/core.h"
#include "privacy/privacy.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NAME "anonymize"
#define MAX_LIST 64

extern const struct coh_cli_cmd coh_cli_cmd_anonymize;

static const char usage[] =
    "usage: cohort anonymize --input in.csv --output out.csv --qi a,b,c --sensitive s --k 5\n"
    "                        [--l 2 --l-kind distinct|entropy] [--max-suppression 0.05]\n"
    "                        [--hierarchy col=file]... [--grid col=lo:hi:step]...\n"
    "                        [--mode strict|relaxed] [--report report.json]\n"
    "\n"
    "Writes a k-anonymous release of in.csv (RFC 4180, header row) by Mondrian partitioning.\n"
    "  --qi               quasi-identifier columns; a QI is numeric if every cell is a decimal\n"
    "                     number (released as a grid point or an interval [a,b] between grid\n"
    "                     points), else categorical (released as the value, a set {a,b} or *)\n"
    "  --sensitive        sensitive column(s), comma separated; never altered\n"
    "  --k                minimum equivalence class size\n"
    "  --l, --l-kind      l-diversity of every sensitive column (default kind: distinct)\n"
    "  --max-suppression  fraction of rows that may be withheld (default 0); rows are withheld\n"
    "                     only where that lowers the loss (NCP, a withheld row counting 1)\n"
    "  --grid             the grid of a numeric QI, whose points are the only interval ends:\n"
    "                     col=lo:hi:step  lo, hi and the multiples of step between them\n"
    "                     col=lo:hi       the same with the default step (at most 50 cells,\n"
    "                                     1, 2 or 5 x 10^n, not finer than the data's decimals)\n"
    "                     col=step        every multiple of step\n"
    "                     col=none        no grid: intervals end at the class's own smallest\n"
    "                                     and largest values, which reveals them\n"
    "                     none            no grid on any QI (for comparisons)\n"
    "                     Default: every multiple of the default step over the column's range.\n"
    "  --hierarchy        col=file: generalization hierarchy, one line per value:\n"
    "                     value;parent;...;root (the QI is released as hierarchy labels)\n"
    "  --mode             relaxed (default: best utility; rows equal on a QI may land in\n"
    "                     two classes) or strict (classes are disjoint boxes)\n"
    "  --report           write metrics (NCP over released rows, NCP with suppressed rows\n"
    "                     counted as 1, discernibility, C_avg, the grids) as JSON\n"
    "Other columns are copied unchanged. Rows are grouped by class and shuffled within each\n"
    "class. If k or l cannot be met nothing is written and the exit status is 1.\n";

/* Splits a comma list in place into out[]; returns the count or -1. */
static int split_list(char *s, const char **out, int max)
{
    int n = 0;
    for (char *tok = strtok(s, ","); tok; tok = strtok(NULL, ",")) {
        if (n == max)
            return -1;
        out[n++] = tok;
    }
    return n;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int run(int argc, char **argv)
{
    const char *input = NULL, *output = NULL, *report = NULL, *hier_args[MAX_LIST],
               *grid_args[MAX_LIST];
    char *qi_s = NULL, *sens_s = NULL;
    const char *k_s = NULL, *l_s = NULL, *lkind_s = NULL, *supp_s = NULL, *mode_s = NULL;
    int n_hier = 0, n_grid = 0;
    const struct coh_cli_cmd *self = &coh_cli_cmd_anonymize;
    for (int i = 1; i < argc; i++) {
        char opt[64], *v;
        int urc = coh_cli_option_next(self, argc, argv, &i, opt, &v);
        if (urc)
            return urc;
        if (strcmp(opt, "--input") == 0)
            input = v;
        else if (strcmp(opt, "--output") == 0)
            output = v;
        else if (strcmp(opt, "--qi") == 0)
            qi_s = (char *)v;
        else if (strcmp(opt, "--sensitive") == 0)
            sens_s = (char *)v;
        else if (strcmp(opt, "--k") == 0)
            k_s = v;
        else if (strcmp(opt, "--l") == 0)
            l_s = v;
        else if (strcmp(opt, "--l-kind") == 0)
            lkind_s = v;
        else if (strcmp(opt, "--max-suppression") == 0)
            supp_s = v;
        else if (strcmp(opt, "--mode") == 0)
            mode_s = v;
        else if (strcmp(opt, "--report") == 0)
            report = v;
        else if (strcmp(opt, "--hierarchy") == 0 && n_hier < MAX_LIST)
            hier_args[n_hier++] = v;
        else if (strcmp(opt, "--grid") == 0 && n_grid < MAX_LIST)
            grid_args[n_grid++] = v;
        else
            return coh_cli_usage_error(self, "unknown option %s", opt);
    }
    if (!input || !output || !qi_s || !k_s)
        return coh_cli_usage_error(self, "--input, --output, --qi and --k are required");
    coh_kanon_params p = {0};
    const char *qi[MAX_LIST], *sens[MAX_LIST];
    const coh_hierarchy *hier[MAX_LIST] = {0};
    int nq = split_list(qi_s, qi, MAX_LIST), ns = sens_s ? split_list(sens_s, sens, MAX_LIST) : 0;
    if (nq <= 0 || ns < 0)
        return coh_cli_usage_error(self, "bad --qi or --sensitive list");
    char *end;
    errno = 0;
    unsigned long k = strtoul(k_s, &end, 10);
    if (*end || errno || k < 1 || k > 1000000000UL || k_s[0] == '-')
        return coh_cli_usage_error(self, "--k must be a positive integer");
    p.k = (unsigned)k;
    if (l_s) {
        p.l = strtod(l_s, &end);
        if (*end || !(p.l >= 1 && p.l <= 1e9))
            return coh_cli_usage_error(self, "--l must be a number >= 1");
        p.l_kind = COH_LDIV_DISTINCT;
        if (lkind_s && strcmp(lkind_s, "entropy") == 0)
            p.l_kind = COH_LDIV_ENTROPY;
        else if (lkind_s && strcmp(lkind_s, "distinct") != 0)
            return coh_cli_usage_error(self, "--l-kind must be distinct or entropy");
    } else if (lkind_s) {
        return coh_cli_usage_error(self, "--l-kind needs --l");
    }
    if (supp_s) {
        p.max_suppression = strtod(supp_s, &end);
        if (*end || !(p.max_suppression >= 0 && p.max_suppression < 1))
            return coh_cli_usage_error(self, "--max-suppression must be in [0, 1)");
    }
    p.mode = COH_KANON_RELAXED;
    if (mode_s && strcmp(mode_s, "strict") == 0)
        p.mode = COH_KANON_STRICT;
    else if (mode_s && strcmp(mode_s, "relaxed") != 0)
        return coh_cli_usage_error(self, "--mode must be strict or relaxed");
    p.qi = qi;
    p.n_qi = (size_t)nq;
    p.sensitive = sens;
    p.n_sensitive = (size_t)ns;
    p.hierarchies = hier;
    coh_kanon_grid grids[MAX_LIST];
    char grid_buf[MAX_LIST][128];
    memset(grids, 0, sizeof grids);
    for (int g = 0; g < n_grid; g++) {
        if (strcmp(grid_args[g], "none") == 0) {
            for (int j = 0; j < nq; j++)
                grids[j] = (coh_kanon_grid){.none = 1};
            continue;
        }
        const char *eqs = strchr(grid_args[g], '=');
        int j = 0;
        while (eqs && j < nq &&
               (strlen(qi[j]) != (size_t)(eqs - grid_args[g]) ||
                strncmp(qi[j], grid_args[g], (size_t)(eqs - grid_args[g]))))
            j++;
        if (!eqs || j == nq || strlen(eqs + 1) >= sizeof grid_buf[0])
            return coh_cli_usage_error(self, "--grid wants col=lo:hi:step, col=lo:hi, col=step or "
                                             "col=none with col one of the --qi");
        char *spec = strcpy(grid_buf[j], eqs + 1), *parts[3];
        int np = 0;
        for (char *c = spec, *start = spec;; c++) {
            if (*c == ':' || *c == 0) {
                bool last = *c == 0;
                *c = 0;
                if (np == 3)
                    return coh_cli_usage_error(self, "--grid %s: too many ':'", qi[j]);
                parts[np++] = start;
                start = c + 1;
                if (last)
                    break;
            }
        }
        grids[j] = (coh_kanon_grid){0};
        if (np == 1 && strcmp(parts[0], "none") == 0)
            grids[j].none = 1;
        else if (np == 1)
            grids[j].step = parts[0];
        else {
            grids[j].lo = parts[0];
            grids[j].hi = parts[1];
            grids[j].step = np == 3 ? parts[2] : NULL;
        }
    }
    p.grids = grids;

    int status = 1;
    coh_err err = {0};
    coh_table *t = NULL;
    coh_kanon_release *r = NULL;
    coh_col_decl decls[MAX_LIST];
    size_t n_decl = 0;
    for (int h = 0; h < n_hier; h++) {
        const char *eqs = strchr(hier_args[h], '=');
        int j = 0;
        while (eqs && j < nq &&
               (strlen(qi[j]) != (size_t)(eqs - hier_args[h]) ||
                strncmp(qi[j], hier_args[h], (size_t)(eqs - hier_args[h]))))
            j++;
        if (!eqs || j == nq) {
            coh_cli_usage_error(self, "--hierarchy wants col=file with col one of the --qi");
            status = 2;
            goto out;
        }
        if (coh_hierarchy_load((coh_hierarchy **)&hier[j], eqs + 1, &err) != 0)
            goto fail;
        decls[n_decl++] = (coh_col_decl){.name = qi[j], .type = COH_COL_CATEGORICAL};
    }
    struct coh_cli_bar bar = coh_cli_bar_for(input);
    double t0 = now();
    coh_table_schema schema = {.cols = decls, .n_cols = n_decl};
    if (coh_table_csv_load(&t, input, &schema, coh_cli_bar_progress, &bar, &err) != 0)
        goto fail;
    double t1 = now();
    if (coh_kanon_run(&r, t, &p, coh_cli_bar_progress, &bar, &err) != 0)
        goto fail;
    double t2 = now();
    if (bar.on)
        coh_cli_bar_progress(&bar, "writing", 0, 1);
    if (coh_kanon_release_csv_write(r, output, &err) != 0) {
        if (strcmp(output, "-") != 0)
            unlink(output); /* never leave a partial release behind */
        goto fail;
    }
    if (bar.on)
        coh_cli_bar_progress(&bar, "writing", 1, 1);
    double t3 = now();
    coh_kanon_metrics m;
    coh_kanon_release_metrics(r, &m);
    if (report) {
        json_t *j = coh_kanon_release_report(r);
        json_object_set_new(j, "input", json_string(input));
        json_object_set_new(j, "output", json_string(output));
        json_object_set_new(j, "seconds",
                            json_pack("{s:f, s:f, s:f, s:f}", "read", t1 - t0, "partition", t2 - t1,
                                      "write", t3 - t2, "total", t3 - t0));
        int rc = json_dump_file(j, report, JSON_INDENT(2) | JSON_SORT_KEYS);
        json_decref(j);
        if (rc != 0) {
            coh_err_set(&err, COH_ERR_IO, "cannot write report '%s'", report);
            goto fail;
        }
    }
    fprintf(stderr,
            "cohort anonymize: released %zu of %zu rows (%zu suppressed) in %zu classes, "
            "NCP %.6f (%.6f with suppressed rows at 1), %.2f s\n",
            m.released, m.rows, m.suppressed, m.classes, m.ncp, m.ncp_incl_suppressed, t3 - t0);
    status = 0;
    goto out;
fail:
    coh_cli_fail(NAME, "%s", err.msg);
out:
    coh_kanon_release_free(r);
    coh_table_free(t);
    for (int j = 0; j < nq && j < MAX_LIST; j++)
        coh_hierarchy_free((coh_hierarchy *)hier[j]);
    return status;
}

const struct coh_cli_cmd coh_cli_cmd_anonymize = {
    "anonymize", "k-anonymize a CSV file (Mondrian, l-diversity, suppression)", usage, run};
