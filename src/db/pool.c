/*
 * pool: a fixed array of lazily opened connections guarded by one mutex and condition
 * variable. Expected load: one borrow per HTTP request or worker step, held for the length of
 * one transaction. A connection lost to a server restart is reset on its next borrow, so the
 * pool heals itself without a restart of cohortd.
 */
#include "db/db.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Statements prepared on one connection, found by the hash and text of their SQL. */
#define PREPARED_MAX 128
struct prepared {
    uint64_t hash;
    char *sql; /* malloc'd copy; NULL: free slot */
};

struct coh_db_conn {
    coh_db_pool *pool;
    PGconn *pg; /* NULL until first use */
    int busy;
    struct prepared prepared[PREPARED_MAX]; /* valid for pg only: cleared when it changes */
    int n_prepared;
};

struct coh_db_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char *url;
    char statement_timeout[32];
    int size;
    coh_db_conn *conns; /* size entries */
    unsigned long waits_timed_out;
};

/* Server notices ("relation already exists, skipping") are not errors; keep them out of stderr. */
static void notice_to_debug_log(void *arg, const char *message)
{
    (void)arg;
    coh_log_debug("postgres notice: %.*s", (int)strcspn(message, "\n"), message);
}

static void prepared_clear(coh_db_conn *c)
{
    for (int i = 0; i < c->n_prepared; i++)
        free(c->prepared[i].sql);
    c->n_prepared = 0;
}

static PGconn *connect_as(coh_db_pool *p, const char *application_name, int dedicated, coh_err *err)
{
    /* statement_timeout and connect_timeout as connection options keep every query bounded.
     * A dedicated connection also gets TCP keepalives and a user timeout, so a peer that
     * vanished without closing the socket is noticed within seconds, not hours (TCP only). */
    const char *keys[] = {"dbname",
                          "connect_timeout",
                          "options",
                          "application_name",
                          "keepalives",
                          "keepalives_idle",
                          "keepalives_interval",
                          "keepalives_count",
                          "tcp_user_timeout",
                          NULL};
    char opts[64];
    snprintf(opts, sizeof opts, "-c statement_timeout=%s", p->statement_timeout);
    const char *vals[] = {p->url, "3", opts, application_name, "1", "5", "2", "3", "10000", NULL};
    if (!dedicated)
        keys[4] = NULL;
    PGconn *pg = PQconnectdbParams(keys, vals, 1);
    if (!pg || PQstatus(pg) != CONNECTION_OK) {
        const char *m = pg ? PQerrorMessage(pg) : "out of memory";
        char line[200];
        snprintf(line, sizeof line, "%s", m);
        line[strcspn(line, "\n")] = '\0';
        coh_err_set(err, COH_ERR_UNAVAILABLE, "database unreachable: %s", line);
        PQfinish(pg);
        return NULL;
    }
    PQsetNoticeProcessor(pg, notice_to_debug_log, NULL);
    return pg;
}

static PGconn *connect_one(coh_db_pool *p, coh_err *err)
{
    return connect_as(p, "cohortd", 0, err);
}

PGconn *coh_db_connect_dedicated(coh_db_pool *p, const char *application_name, coh_err *err)
{
    return connect_as(p, application_name, 1, err);
}

int coh_db_pool_new(coh_db_pool **out, const char *url, int size, int statement_timeout_ms,
                    coh_err *err)
{
    *out = NULL;
    coh_db_pool *p = calloc(1, sizeof *p);
    if (!p || !(p->conns = calloc((size_t)size, sizeof *p->conns)) || !(p->url = strdup(url))) {
        if (p)
            free(p->conns);
        free(p);
        return coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->size = size;
    snprintf(p->statement_timeout, sizeof p->statement_timeout, "%d", statement_timeout_ms);
    for (int i = 0; i < size; i++)
        p->conns[i].pool = p;
    p->conns[0].pg = connect_one(p, err);
    if (!p->conns[0].pg) {
        coh_db_pool_free(p);
        return COH_ERR_UNAVAILABLE;
    }
    *out = p;
    return 0;
}

void coh_db_pool_free(coh_db_pool *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->size; i++) {
        PQfinish(p->conns[i].pg);
        prepared_clear(&p->conns[i]);
    }
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p->conns);
    free(p->url);
    free(p);
}

/*
 * Whether an idle pooled connection is still usable. An idle connection has nothing to read
 * unless the server spoke first: a FATAL before it closed (shutdown, restart, terminated
 * backend) or the close itself. One poll() per borrow finds that, so the first request after
 * a database restart gets a fresh connection instead of a 503 from a stale one.
 */
static int conn_alive(PGconn *pg)
{
    if (PQstatus(pg) != CONNECTION_OK || PQsocket(pg) < 0)
        return 0;
    for (int i = 0; i < 4; i++) {
        struct pollfd pfd = {.fd = PQsocket(pg), .events = POLLIN};
        if (poll(&pfd, 1, 0) <= 0)
            return 1; /* nothing pending (or EINTR: the query will tell) */
        if (!PQconsumeInput(pg) || PQstatus(pg) != CONNECTION_OK)
            return 0;
    }
    return PQstatus(pg) == CONNECTION_OK;
}

coh_db_conn *coh_db_acquire(coh_db_pool *p, int wait_ms, coh_err *err)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += wait_ms / 1000;
    deadline.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&p->mu);
    coh_db_conn *c = NULL;
    for (;;) {
        /* Prefer an already-open connection, then an unopened slot. */
        for (int i = 0; i < p->size && !c; i++)
            if (!p->conns[i].busy && p->conns[i].pg)
                c = &p->conns[i];
        for (int i = 0; i < p->size && !c; i++)
            if (!p->conns[i].busy)
                c = &p->conns[i];
        if (c)
            break;
        if (pthread_cond_timedwait(&p->cv, &p->mu, &deadline) == ETIMEDOUT) {
            p->waits_timed_out++;
            pthread_mutex_unlock(&p->mu);
            coh_err_set(err, COH_ERR_UNAVAILABLE, "database pool exhausted");
            return NULL;
        }
    }
    c->busy = 1;
    pthread_mutex_unlock(&p->mu);

    /* Connect or heal outside the lock: it can take up to connect_timeout. */
    if (c->pg && !conn_alive(c->pg)) {
        PQfinish(c->pg);
        c->pg = NULL;
    }
    if (!c->pg)
        prepared_clear(c);
    if (!c->pg) {
        PGconn *pg = connect_one(p, err);
        pthread_mutex_lock(&p->mu);
        c->pg = pg;
        if (!pg) {
            c->busy = 0;
            pthread_cond_signal(&p->cv);
        }
        pthread_mutex_unlock(&p->mu);
        if (!pg)
            return NULL;
    }
    return c;
}

void coh_db_release(coh_db_conn *c)
{
    if (!c)
        return;
    coh_db_pool *p = c->pool;
    if (c->pg && PQstatus(c->pg) == CONNECTION_OK && PQtransactionStatus(c->pg) != PQTRANS_IDLE) {
        PGresult *r = PQexec(c->pg, "ROLLBACK");
        PQclear(r);
    }
    pthread_mutex_lock(&p->mu);
    if (c->pg && PQstatus(c->pg) != CONNECTION_OK) {
        PQfinish(c->pg);
        c->pg = NULL;
    }
    c->busy = 0;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

PGconn *coh_db_pgconn(coh_db_conn *c)
{
    return c->pg;
}

void coh_db_pool_stats(const coh_db_pool *p, struct coh_db_pool_stats *out)
{
    coh_db_pool *mp = (coh_db_pool *)p;
    pthread_mutex_lock(&mp->mu);
    out->size = p->size;
    out->open = out->in_use = 0;
    for (int i = 0; i < p->size; i++) {
        out->open += p->conns[i].pg != NULL;
        out->in_use += p->conns[i].busy;
    }
    out->waits_timed_out = p->waits_timed_out;
    pthread_mutex_unlock(&mp->mu);
}

/*
 * Returns the name of sql prepared on this connection, preparing it on first use, or NULL
 * when it is not worth or not possible to prepare (then the caller uses PQexecParams).
 * Parsing and planning every call cost more than the execution of most of our statements.
 */
static const char *prepared_name(coh_db_conn *c, const char *sql, int n, char name[32])
{
    if (strncmp(sql, "SELECT", 6) && strncmp(sql, "INSERT", 6) && strncmp(sql, "UPDATE", 6) &&
        strncmp(sql, "DELETE", 6) && strncmp(sql, "WITH", 4))
        return NULL;
    uint64_t h = 1469598103934665603ULL;
    for (const unsigned char *q = (const unsigned char *)sql; *q; q++)
        h = (h ^ *q) * 1099511628211ULL;
    for (int i = 0; i < c->n_prepared; i++) {
        if (c->prepared[i].hash == h && strcmp(c->prepared[i].sql, sql) == 0) {
            snprintf(name, 32, "coh_p%d", i);
            return name;
        }
    }
    if (c->n_prepared == PREPARED_MAX)
        return NULL;
    int i = c->n_prepared;
    snprintf(name, 32, "coh_p%d", i);
    char *copy = strdup(sql);
    if (!copy)
        return NULL;
    PGresult *r = PQprepare(c->pg, name, sql, n, NULL);
    int ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok) {
        free(copy);
        return NULL;
    }
    c->prepared[i].hash = h;
    c->prepared[i].sql = copy;
    c->n_prepared++;
    return name;
}

PGresult *coh_db_exec_unprepared(coh_db_conn *c, const char *sql, int n, const char *const *params,
                                 coh_err *err)
{
    PGresult *r = PQexecParams(c->pg, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return r;
    coh_db_error_set(c, r, NULL, err);
    return NULL;
}

PGresult *coh_db_exec(coh_db_conn *c, const char *sql, int n, const char *const *params,
                      coh_err *err)
{
    char name[32];
    /* Inside a failed transaction a PREPARE would fail too: run it plainly to get the error. */
    const char *stmt =
        PQtransactionStatus(c->pg) == PQTRANS_INERROR ? NULL : prepared_name(c, sql, n, name);
    PGresult *r = stmt ? PQexecPrepared(c->pg, stmt, n, params, NULL, NULL, 0)
                       : PQexecParams(c->pg, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return r;
    coh_db_error_set(c, r, NULL, err);
    return NULL;
}

static const struct coh_db_sqlstate sqlstates[] = {
    {COH_DB_UNIQUE_VIOLATION, "23505", COH_ERR_CONFLICT, "unique violation"},
    {COH_DB_EXCLUSION_VIOLATION, "23P01", COH_ERR_CONFLICT, "exclusion violation"},
    {COH_DB_CHECK_VIOLATION, "23514", COH_ERR_CONFLICT, "check violation"},
    {COH_DB_SERIALIZATION_FAILURE, "40001", COH_ERR_CONFLICT, "serialization failure"},
    {COH_DB_DEADLOCK_DETECTED, "40P01", COH_ERR_CONFLICT, "deadlock detected"},
    {COH_DB_QUERY_CANCELED, "57014", COH_ERR_UNAVAILABLE, "statement timed out"},
};
static const struct coh_db_sqlstate sqlstate_other = {COH_DB_SQLSTATE_OTHER, "", COH_ERR_DB,
                                                      "database error"};

const struct coh_db_sqlstate *coh_db_sqlstate(const char *state)
{
    for (size_t i = 0; state && i < sizeof sqlstates / sizeof sqlstates[0]; i++)
        if (strcmp(state, sqlstates[i].state) == 0)
            return &sqlstates[i];
    return &sqlstate_other;
}

void coh_db_error_set(coh_db_conn *c, PGresult *r, char state_out[6], coh_err *err)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const struct coh_db_sqlstate *m = coh_db_sqlstate(state);
    if (state_out)
        snprintf(state_out, 6, "%s", state ? state : "");
    if (PQstatus(c->pg) != CONNECTION_OK) {
        coh_err_set(err, COH_ERR_UNAVAILABLE, "database connection lost");
    } else if (m->code == COH_ERR_CONFLICT) {
        coh_err_set(err, COH_ERR_CONFLICT, "conflict (%s)", state);
    } else if (m->code == COH_ERR_UNAVAILABLE) {
        coh_err_set(err, COH_ERR_UNAVAILABLE, "%s", m->phrase);
    } else {
        /* The primary message names the constraint or syntax at fault, never parameter values. */
        const char *m = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
        coh_err_set(err, COH_ERR_DB, "database error %s: %s", state ? state : "?",
                    m ? m : "unknown");
    }
    PQclear(r);
}

int coh_db_cmd(coh_db_conn *c, const char *sql, coh_err *err)
{
    PGresult *r = coh_db_exec(c, sql, 0, NULL, err);
    if (!r)
        return err ? err->code : COH_ERR_DB;
    PQclear(r);
    return 0;
}

PGresult *coh_db_query(coh_db_pool *p, const char *sql, int n, const char *const *params,
                       coh_err *err)
{
    coh_db_conn *c = coh_db_acquire(p, 2000, err);
    if (!c)
        return NULL;
    PGresult *r = coh_db_exec(c, sql, n, params, err);
    coh_db_release(c);
    return r;
}

int coh_db_run(coh_db_pool *p, const char *sql, int n, const char *const *params, coh_err *err)
{
    PGresult *r = coh_db_query(p, sql, n, params, err);
    if (!r)
        return err ? err->code : COH_ERR_DB;
    PQclear(r);
    return 0;
}

json_t *coh_db_conn_json(coh_db_conn *c, const char *sql, int n, const char *const *params,
                         coh_err *err)
{
    PGresult *r = coh_db_exec(c, sql, n, params, err);
    if (!r)
        return NULL;
    json_t *v = NULL;
    if (PQntuples(r) < 1 || PQnfields(r) < 1 || PQgetisnull(r, 0, 0)) {
        coh_err_set(err, COH_ERR_NOTFOUND, "not found");
    } else {
        json_error_t je;
        v = json_loads(PQgetvalue(r, 0, 0), JSON_DECODE_ANY, &je);
        if (!v)
            coh_err_set(err, COH_ERR_DB, "database returned malformed JSON: %s", je.text);
    }
    PQclear(r);
    return v;
}

json_t *coh_db_json(coh_db_pool *p, const char *sql, int n, const char *const *params, coh_err *err)
{
    coh_db_conn *c = coh_db_acquire(p, 2000, err);
    if (!c)
        return NULL;
    json_t *v = coh_db_conn_json(c, sql, n, params, err);
    coh_db_release(c);
    return v;
}

/* A text[] literal of strs[0..n) (n >= 1), every element quoted; malloc'd, NULL on OOM. */
char *coh_db_text_array(const char *const *strs, size_t n)
{
    size_t cap = 3;
    for (size_t i = 0; i < n; i++)
        cap += 2 * strlen(strs[i]) + 3;
    char *buf = malloc(cap), *o = buf;
    if (!buf)
        return NULL;
    *o++ = '{';
    for (size_t i = 0; i < n; i++) {
        if (i)
            *o++ = ',';
        *o++ = '"';
        for (const char *s = strs[i]; *s; s++) {
            if (*s == '"' || *s == '\\')
                *o++ = '\\';
            *o++ = *s;
        }
        *o++ = '"';
    }
    *o++ = '}';
    *o = '\0';
    return buf;
}
