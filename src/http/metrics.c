/*
 * metrics: request counters and latency histograms keyed by (route pattern, method, status),
 * rendered in the Prometheus text format. Tens of series at most: a mutex and a linear scan
 * cost less than the HTTP parse around them.
 */
#include "db/db.h"
#include "http/http.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const double bucket_le[] = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
#define N_BUCKETS (sizeof bucket_le / sizeof bucket_le[0])

struct series {
    const char *route; /* static string from the route table */
    char method[8];
    int status;
    unsigned long count;
    double sum;
    unsigned long buckets[N_BUCKETS]; /* non-cumulative; summed at render */
};

struct coh_metrics {
    pthread_mutex_t mu;
    struct series *s;
    size_t n, cap;
};

struct coh_metrics *coh_metrics_new(void)
{
    struct coh_metrics *m = calloc(1, sizeof *m);
    if (m)
        pthread_mutex_init(&m->mu, NULL);
    return m;
}

void coh_metrics_free(struct coh_metrics *m)
{
    if (!m)
        return;
    pthread_mutex_destroy(&m->mu);
    free(m->s);
    free(m);
}

void coh_metrics_observe(struct coh_metrics *m, const char *route, const char *method, int status,
                         double seconds)
{
    pthread_mutex_lock(&m->mu);
    struct series *s = NULL;
    for (size_t i = 0; i < m->n && !s; i++)
        if (m->s[i].route == route && m->s[i].status == status &&
            strcmp(m->s[i].method, method) == 0)
            s = &m->s[i];
    if (!s && m->n < 4096) {
        if (m->n == m->cap) {
            size_t cap = m->cap ? m->cap * 2 : 64;
            struct series *ns = realloc(m->s, cap * sizeof *ns);
            if (ns) {
                m->s = ns;
                m->cap = cap;
            }
        }
        if (m->n < m->cap) {
            s = &m->s[m->n++];
            memset(s, 0, sizeof *s);
            s->route = route;
            snprintf(s->method, sizeof s->method, "%s", method);
            s->status = status;
        }
    }
    if (s) {
        s->count++;
        s->sum += seconds;
        for (size_t b = 0; b < N_BUCKETS; b++)
            if (seconds <= bucket_le[b]) {
                s->buckets[b]++;
                break;
            }
    }
    pthread_mutex_unlock(&m->mu);
}

/* A growable string for the exposition text. */
struct buf {
    char *p;
    size_t n, cap;
};

__attribute__((format(printf, 2, 3))) static void bprintf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int w = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (w < 0)
            return;
        if (b->p && b->n + (size_t)w < b->cap) {
            b->n += (size_t)w;
            return;
        }
        size_t cap = (b->cap ? b->cap : 4096) * 2 + (size_t)w;
        char *np = realloc(b->p, cap);
        if (!np)
            return;
        b->p = np;
        b->cap = cap;
    }
}

char *coh_metrics_render(struct coh_metrics *m, const struct coh_app *app)
{
    struct buf b = {0};
    bprintf(&b, "# HELP cohort_build_info Build information.\n# TYPE cohort_build_info gauge\n"
                "cohort_build_info{version=\"%s\"} 1\n",
            coh_version());
    bprintf(&b, "# HELP cohort_http_requests_total HTTP requests by route, method and status.\n"
                "# TYPE cohort_http_requests_total counter\n");
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; i < m->n; i++)
        bprintf(&b, "cohort_http_requests_total{route=\"%s\",method=\"%s\",status=\"%d\"} %lu\n",
                m->s[i].route, m->s[i].method, m->s[i].status, m->s[i].count);
    bprintf(&b, "# HELP cohort_http_request_duration_seconds Request latency.\n"
                "# TYPE cohort_http_request_duration_seconds histogram\n");
    for (size_t i = 0; i < m->n; i++) {
        const struct series *s = &m->s[i];
        unsigned long cum = 0;
        char labels[256];
        snprintf(labels, sizeof labels, "route=\"%s\",method=\"%s\",status=\"%d\"", s->route,
                 s->method, s->status);
        for (size_t k = 0; k < N_BUCKETS; k++) {
            cum += s->buckets[k];
            bprintf(&b, "cohort_http_request_duration_seconds_bucket{%s,le=\"%g\"} %lu\n", labels,
                    bucket_le[k], cum);
        }
        bprintf(&b, "cohort_http_request_duration_seconds_bucket{%s,le=\"+Inf\"} %lu\n", labels,
                s->count);
        bprintf(&b, "cohort_http_request_duration_seconds_sum{%s} %.6f\n", labels, s->sum);
        bprintf(&b, "cohort_http_request_duration_seconds_count{%s} %lu\n", labels, s->count);
    }
    pthread_mutex_unlock(&m->mu);
    struct coh_db_pool_stats ps;
    coh_db_pool_stats(app->db, &ps);
    bprintf(&b,
            "# HELP cohort_db_pool_connections Database pool connections by state.\n"
            "# TYPE cohort_db_pool_connections gauge\n"
            "cohort_db_pool_connections{state=\"max\"} %d\n"
            "cohort_db_pool_connections{state=\"open\"} %d\n"
            "cohort_db_pool_connections{state=\"in_use\"} %d\n"
            "# HELP cohort_db_pool_wait_timeouts_total Borrows that gave up waiting.\n"
            "# TYPE cohort_db_pool_wait_timeouts_total counter\n"
            "cohort_db_pool_wait_timeouts_total %lu\n",
            ps.size, ps.open, ps.in_use, ps.waits_timed_out);
    bprintf(&b,
            "# HELP cohort_chain_logs_ignored_total Logs the RPC endpoint returned for the deposit "
            "watcher that were not the rewards contract's Deposited or Claimed events.\n"
            "# TYPE cohort_chain_logs_ignored_total counter\n"
            "cohort_chain_logs_ignored_total %lu\n",
            coh_db_chain_logs_ignored());
    /* Whether this instance leads the chain worker (holds the chain lock; src/svc/anchorer.c):
     * absent when it runs none. */
    int leader = coh_db_chain_leader();
    if (leader >= 0)
        bprintf(&b,
                "# HELP cohort_chain_leader 1 when this instance runs anchoring and deposit "
                "watching (holds the chain lock), 0 when it stands by.\n"
                "# TYPE cohort_chain_leader gauge\n"
                "cohort_chain_leader %d\n",
                leader);
    /* The anchorer's health (chain_anchorer): state ok, not_anchorer, backoff or stopped. The
     * row is the leader's: a standby does not repeat it as its own. */
    coh_err aerr = {0};
    json_t *an = leader == 0 ? NULL : coh_db_chain_anchorer_json(app->db, &aerr);
    const char *st = json_string_value(json_object_get(an, "state"));
    if (st)
        bprintf(&b,
                "# HELP cohort_anchorer_state The anchorer's state (1 for the current one).\n"
                "# TYPE cohort_anchorer_state gauge\n"
                "cohort_anchorer_state{state=\"%s\"} 1\n"
                "# HELP cohort_anchorer_failures Anchoring failures in a row (reverts, errors).\n"
                "# TYPE cohort_anchorer_failures gauge\n"
                "cohort_anchorer_failures %d\n",
                st, (int)json_integer_value(json_object_get(an, "failures")));
    json_decref(an);
    return b.p;
}
