/*
 * problems: the table of problem types (problems.h). openapi.yaml mirrors it under
 * components.schemas.ProblemType; tests/e2e/openapi.test.mjs fails when they differ.
 */
#include "http/problems.h"

#include <string.h>

const struct coh_problem_type coh_http_problem_types[COH_PROBLEM_COUNT] = {
#define COH_PROBLEM_ROW(id, slug, status, title) [COH_PROBLEM_##id] = {slug, status, title},
    COH_PROBLEMS(COH_PROBLEM_ROW)
#undef COH_PROBLEM_ROW
};

int coh_http_problem_find(const char *slug)
{
    for (int i = 0; slug && i < COH_PROBLEM_COUNT; i++)
        if (strcmp(coh_http_problem_types[i].slug, slug) == 0)
            return i;
    return -1;
}
