/*
 * own_database: what the C integration programs (ledger_stress, inbox_match, svc_flows,
 * chain_leader) share: a database
 * of their own, created beside COH_TEST_DATABASE_URL's and dropped after the run, and TAP-like
 * "ok"/"not ok" lines counted in g_pass and g_fail.
 */
#ifndef COH_IT_OWN_DATABASE_H
#define COH_IT_OWN_DATABASE_H

#include <libpq-fe.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int g_pass, g_fail;

#define CHECK(name, cond)                                                                          \
    do {                                                                                           \
        if (cond) {                                                                                \
            g_pass++;                                                                              \
            printf("ok - %s\n", name);                                                             \
        } else {                                                                                   \
            g_fail++;                                                                              \
            printf("not ok - %s (%s:%d)\n", name, __FILE__, __LINE__);                             \
        }                                                                                          \
    } while (0)

/* Runs "VERB name" (CREATE/DROP DATABASE) on the base database. */
static int it_admin(const char *base, const char *verb, const char *name)
{
    PGconn *pg = PQconnectdb(base);
    char sql[160];
    snprintf(sql, sizeof sql, "%s %s", verb, name); /* name is ours: <prefix>_<pid> */
    PGresult *r = PQstatus(pg) == CONNECTION_OK ? PQexec(pg, sql) : NULL;
    int ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        fprintf(stderr, "%s: %s", sql, PQerrorMessage(pg));
    PQclear(r);
    PQfinish(pg);
    return ok ? 0 : -1;
}

/* Creates <prefix>_<pid> beside COH_TEST_DATABASE_URL's database, calls run with its URL,
 * drops it; run's result, or 1 when the database could not be made. */
static int it_with_own_database(const char *prefix, int (*run)(const char *url))
{
    const char *base = getenv("COH_TEST_DATABASE_URL");
    if (!base)
        return fprintf(stderr, "COH_TEST_DATABASE_URL is not set\n"), 1;
    if (sodium_init() < 0)
        return 1;
    const char *p = strstr(base, "dbname=");
    if (!p)
        return fprintf(stderr, "COH_TEST_DATABASE_URL needs dbname=\n"), 1;
    char dbname[64], url[1024];
    snprintf(dbname, sizeof dbname, "%s_%d", prefix, (int)getpid());
    if (it_admin(base, "CREATE DATABASE", dbname) != 0)
        return 1;
    snprintf(url, sizeof url, "%.*sdbname=%s%s", (int)(p - base), base, dbname,
             p + strcspn(p, " "));
    int rc = run(url);
    /* FORCE: a program may leave a backend behind (chain_leader has one terminated). */
    char drop[96];
    snprintf(drop, sizeof drop, "%s WITH (FORCE)", dbname);
    it_admin(base, "DROP DATABASE", drop);
    return rc;
}

#endif
