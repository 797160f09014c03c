/*
 * dp_budget: exact epsilon arithmetic and the per-request budget.
 *
 * Epsilon is a reduced rational so that "0.1" ten times is exactly 1 and a budget is never
 * overrun by rounding. Composition is basic (sequential) composition: epsilons and deltas
 * add. A budget caps spending by the request's own (epsilon, delta) and by the smallest
 * remaining lifetime epsilon of any contributor whose rows are in the data (every query
 * touches every contributor). A refused spend changes nothing, and its message names no
 * contributor's remaining budget.
 */
#include "privacy/internal.h"

#include <stdlib.h>
#include <string.h>

struct coh_dp_budget {
    coh_rational eps, spent, cap; /* cap: smallest remaining lifetime epsilon */
    bool has_cap;
    double delta, spent_delta;
};

static uint64_t gcd64(uint64_t a, uint64_t b)
{
    while (b) {
        uint64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

static coh_rational reduce(uint64_t num, uint64_t den)
{
    uint64_t g = gcd64(num, den);
    return g > 1 ? (coh_rational){num / g, den / g} : (coh_rational){num, den};
}

int coh_rational_parse(coh_rational *out, const char *s, coh_err *err)
{
    *out = (coh_rational){0, 1};
    const char *slash = strchr(s, '/');
    struct coh_dec a, b = {1, 0};
    if (!coh_dec_parse(&a, s, slash ? (size_t)(slash - s) : strlen(s)) ||
        (slash && !coh_dec_parse(&b, slash + 1, strlen(slash + 1))) || a.m <= 0 || b.m <= 0)
        return coh_err_set(err, COH_ERR_INVALID, "'%s' is not a positive number", s);
    /* (a.m 10^a.e) / (b.m 10^b.e) = a.m * 10^x / b.m with x = a.e - b.e */
    __int128 num = a.m, den = b.m;
    int x = a.e - b.e;
    for (; x > 0; x--)
        num *= 10;
    for (; x < 0; x++)
        den *= 10;
    if (num > (__int128)UINT64_MAX || den > (__int128)UINT64_MAX) /* ~1e-18 resolution */
        return coh_err_set(err, COH_ERR_INVALID, "'%s' is out of range", s);
    *out = reduce((uint64_t)num, (uint64_t)den);
    return 0;
}

int coh_rational_cmp(coh_rational a, coh_rational b)
{
    unsigned __int128 x = (unsigned __int128)a.num * b.den, y = (unsigned __int128)b.num * a.den;
    return (x > y) - (x < y);
}

bool coh_rational_add(coh_rational *out, coh_rational a, coh_rational b)
{
    uint64_t g = gcd64(a.den, b.den);
    unsigned __int128 den = (unsigned __int128)(a.den / g) * b.den;
    unsigned __int128 num =
        (unsigned __int128)a.num * (b.den / g) + (unsigned __int128)b.num * (a.den / g);
    unsigned __int128 h = num, k = den;
    while (k) {
        unsigned __int128 t = h % k;
        h = k;
        k = t;
    }
    num /= h;
    den /= h;
    if (num > UINT64_MAX || den > UINT64_MAX)
        return false;
    *out = (coh_rational){(uint64_t)num, (uint64_t)den};
    return true;
}

static double rdouble(coh_rational a)
{
    return (double)a.num / (double)a.den;
}

int coh_dp_budget_new(coh_dp_budget **out, coh_rational epsilon, double delta, coh_err *err)
{
    *out = NULL;
    if (epsilon.num == 0 || epsilon.den == 0)
        return coh_err_set(err, COH_ERR_INVALID, "epsilon must be positive");
    if (!(delta >= 0 && delta < 1))
        return coh_err_set(err, COH_ERR_INVALID, "delta must be in [0, 1)");
    coh_dp_budget *b = calloc(1, sizeof *b);
    if (!b)
        return coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    b->eps = reduce(epsilon.num, epsilon.den);
    b->spent = (coh_rational){0, 1};
    b->delta = delta;
    *out = b;
    return 0;
}

void coh_dp_budget_free(coh_dp_budget *b)
{
    free(b);
}

int coh_dp_budget_contributor_add(coh_dp_budget *b, coh_rational remaining, coh_err *err)
{
    if (remaining.den == 0)
        return coh_err_set(err, COH_ERR_INVALID, "invalid lifetime epsilon");
    remaining = reduce(remaining.num, remaining.den);
    if (!b->has_cap || coh_rational_cmp(remaining, b->cap) < 0)
        b->cap = remaining;
    b->has_cap = true;
    return 0;
}

int coh_dp_budget_spend(coh_dp_budget *b, coh_rational eps, double delta, coh_err *err)
{
    coh_rational total;
    if (eps.den == 0 || !(delta >= 0))
        return coh_err_set(err, COH_ERR_INVALID, "invalid (epsilon, delta)");
    if (!coh_rational_add(&total, b->spent, reduce(eps.num, eps.den)))
        return coh_err_set(err, COH_ERR_LIMIT, "epsilon arithmetic overflow; refused");
    if (coh_rational_cmp(total, b->eps) > 0)
        return coh_err_set(err, COH_ERR_LIMIT,
                           "refused: epsilon %.6g would exceed the request budget %.6g (spent "
                           "%.6g)",
                           rdouble(eps), rdouble(b->eps), rdouble(b->spent));
    /* says neither how much is left nor whose: remaining budgets are contributors' facts */
    if (b->has_cap && coh_rational_cmp(total, b->cap) > 0)
        return coh_err_set(err, COH_ERR_LIMIT,
                           "refused: the request's epsilon would exceed a contributor's remaining "
                           "lifetime budget");
    if (b->spent_delta + delta > b->delta * (1 + 1e-12))
        return coh_err_set(err, COH_ERR_LIMIT,
                           "refused: delta %.3g would exceed the request budget %.3g", delta,
                           b->delta);
    b->spent = total;
    b->spent_delta += delta;
    return 0;
}

coh_rational coh_dp_budget_spent_epsilon(const coh_dp_budget *b)
{
    return b->spent;
}

double coh_dp_budget_spent_delta(const coh_dp_budget *b)
{
    return b->spent_delta;
}
