/*
 * migrate: applies sql/NNN_name.sql in version order. Each file runs in its own transaction
 * with its row in schema_migrations, so a failed file leaves nothing behind. A session
 * advisory lock serializes concurrent starters; the loser waits, then finds the work done.
 */
#include "db/db.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "cohort-migrations" as a 64-bit advisory lock key. */
#define MIGRATION_LOCK_KEY "7235907114152263473"

struct migration {
    int version;
    char name[256];
    char checksum[COH_HASH_BARE_HEX_SIZE]; /* SHA-256 hex of the file */
    char *sql;
};

static void migrations_free(struct migration *m, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(m[i].sql);
    free(m);
}

static int cmp_version(const void *a, const void *b)
{
    const struct migration *x = a, *y = b;
    return (x->version > y->version) - (x->version < y->version);
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 8192, n = 0;
    char *buf = malloc(cap);
    size_t r;
    while (buf && (r = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += r;
        if (n + 1 == cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) {
                free(buf);
                buf = NULL;
            }
            buf = nb;
        }
    }
    fclose(f);
    if (buf) {
        buf[n] = '\0';
        *len = n;
    }
    return buf;
}

/* Loads every NNN_*.sql of dir, sorted; duplicate versions are an error. */
static int load_dir(struct migration **out, size_t *n_out, const char *dir, coh_err *err)
{
    *out = NULL;
    *n_out = 0;
    DIR *d = opendir(dir);
    if (!d)
        return coh_err_set(err, COH_ERR_IO, "migrations: cannot open %s: %s", dir, strerror(errno));
    struct migration *m = NULL;
    size_t n = 0;
    int rc = 0;
    struct dirent *e;
    while (!rc && (e = readdir(d))) {
        size_t len = strlen(e->d_name);
        int version;
        char tail;
        if (len < 5 || strcmp(e->d_name + len - 4, ".sql") != 0 ||
            sscanf(e->d_name, "%d_%c", &version, &tail) != 2 || version <= 0)
            continue;
        struct migration *nm = realloc(m, (n + 1) * sizeof *m);
        if (!nm) {
            rc = coh_err_set(err, COH_ERR_NOMEM, "out of memory");
            break;
        }
        m = nm;
        memset(&m[n], 0, sizeof m[n]);
        m[n].version = version;
        snprintf(m[n].name, sizeof m[n].name, "%s", e->d_name);
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t sql_len = 0;
        if (!(m[n].sql = read_all(path, &sql_len))) {
            rc = coh_err_set(err, COH_ERR_IO, "migrations: cannot read %s", path);
            n++;
            break;
        }
        uint8_t h[crypto_hash_sha256_BYTES];
        crypto_hash_sha256(h, (const uint8_t *)m[n].sql, sql_len);
        coh_hex_encode(m[n].checksum, h, sizeof h, 0);
        n++;
    }
    closedir(d);
    if (!rc) {
        qsort(m, n, sizeof *m, cmp_version);
        for (size_t i = 1; i < n && !rc; i++)
            if (m[i].version == m[i - 1].version)
                rc = coh_err_set(err, COH_ERR_INVALID, "migrations: %s and %s share version %d",
                                 m[i - 1].name, m[i].name, m[i].version);
    }
    if (rc) {
        migrations_free(m, n);
        return rc;
    }
    *out = m;
    *n_out = n;
    return 0;
}

static const char *const create_table =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
    " applied_at timestamptz NOT NULL DEFAULT now())";

/*
 * Compares the database's record with the files. *next gets the index of the first file not
 * yet applied.
 */
static int check_applied(coh_db_conn *c, const struct migration *m, size_t n, size_t *next,
                         coh_err *err)
{
    PGresult *r = coh_db_exec(
        c, "SELECT version, name, checksum FROM schema_migrations ORDER BY version", 0, NULL, err);
    if (!r)
        return err->code;
    int rows = PQntuples(r), rc = 0;
    size_t j = 0;
    for (int i = 0; i < rows && !rc; i++) {
        int v = atoi(PQgetvalue(r, i, 0));
        if (j < n && m[j].version < v)
            rc = coh_err_set(err, COH_ERR_CONFLICT,
                             "migrations: %s is older than applied version %d but was never "
                             "applied",
                             m[j].name, v);
        else if (j == n || m[j].version != v)
            rc = coh_err_set(err, COH_ERR_CONFLICT,
                             "migrations: version %d (%s) is applied but has no file", v,
                             PQgetvalue(r, i, 1));
        else if (strcmp(m[j].checksum, PQgetvalue(r, i, 2)) != 0)
            rc = coh_err_set(err, COH_ERR_CONFLICT,
                             "migrations: %s was changed after it was applied (checksum "
                             "mismatch); add a new migration instead",
                             m[j].name);
        else
            j++;
    }
    PQclear(r);
    *next = j;
    return rc;
}

/* Whether this connection's role may create tables in the schema the migrations use. */
static int can_create(coh_db_conn *c)
{
    coh_err e;
    PGresult *r =
        coh_db_exec(c, "SELECT has_schema_privilege(current_schema(), 'CREATE')", 0, NULL, &e);
    int ok = !r || strcmp(PQgetvalue(r, 0, 0), "t") == 0; /* unknown: let the migration say */
    PQclear(r);
    return ok;
}

int coh_db_migrate(int *applied, coh_db_pool *p, const char *dir, coh_err *err)
{
    if (applied)
        *applied = 0;
    struct migration *m;
    size_t n;
    int rc = load_dir(&m, &n, dir, err);
    if (rc)
        return rc;
    coh_db_conn *c = coh_db_acquire(p, 10000, err);
    if (!c) {
        migrations_free(m, n);
        return COH_ERR_UNAVAILABLE;
    }
    const char *key[] = {MIGRATION_LOCK_KEY};
    PGresult *r = coh_db_exec(c, "SELECT pg_advisory_lock($1::bigint)", 1, key, err);
    if (!r) {
        coh_db_release(c);
        migrations_free(m, n);
        return err->code;
    }
    PQclear(r);
    size_t next = 0;
    /* Only when missing: the application role may check but has no CREATE on the schema. */
    r = coh_db_exec(c, "SELECT to_regclass('schema_migrations') IS NULL", 0, NULL, err);
    rc = r ? 0 : err->code;
    int fresh = !rc && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    int may_create = rc ? 0 : can_create(c);
    if (fresh && may_create)
        rc = coh_db_cmd(c, create_table, err);
    if (!rc && !fresh)
        rc = check_applied(c, m, n, &next, err);
    if (!rc && next < n && !may_create) {
        rc = coh_err_set(err, COH_ERR_FORBIDDEN,
                         "migrations: %s and %zu more are not applied, and this database role "
                         "cannot apply them: run cohortd --check with migrate_database_url (the "
                         "owner role, e.g. cohort_owner)",
                         m[next].name, n - next - 1);
    }
    for (size_t i = next; !rc && i < n; i++) {
        char version[16];
        snprintf(version, sizeof version, "%d", m[i].version);
        const char *params[] = {version, m[i].name, m[i].checksum};
        rc = coh_db_cmd(c, "BEGIN", err);
        if (!rc) {
            /* A multi-statement file needs the simple query protocol: no parameters here. */
            PGresult *x = PQexec(coh_db_pgconn(c), m[i].sql);
            if (PQresultStatus(x) != PGRES_COMMAND_OK && PQresultStatus(x) != PGRES_TUPLES_OK) {
                const char *msg = PQresultErrorField(x, PG_DIAG_MESSAGE_PRIMARY);
                rc = coh_err_set(err, COH_ERR_DB, "migrations: %s failed: %s", m[i].name,
                                 msg ? msg : "connection lost");
            }
            PQclear(x);
        }
        if (!rc) {
            PGresult *x = coh_db_exec(
                c, "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)", 3,
                params, err);
            rc = x ? 0 : err->code;
            PQclear(x);
        }
        if (!rc)
            rc = coh_db_cmd(c, "COMMIT", err);
        if (rc) {
            coh_err tmp;
            if (coh_db_cmd(c, "ROLLBACK", &tmp))
                coh_log_warn("migrations: rollback failed: %s", tmp.msg);
        } else {
            coh_log_info("migration applied: %s", m[i].name);
            if (applied)
                (*applied)++;
        }
    }
    coh_err tmp;
    r = coh_db_exec(c, "SELECT pg_advisory_unlock($1::bigint)", 1, key, &tmp);
    PQclear(r);
    coh_db_release(c);
    migrations_free(m, n);
    return rc;
}

/*
 * The files of the migrations directory, read and hashed once per process: /readyz asks on
 * every probe, and what matters is the set this binary started with. Kept for the process's
 * life (reachable, never freed).
 */
static pthread_mutex_t files_mu = PTHREAD_MUTEX_INITIALIZER;
static char *files_dir;
static struct migration *files;
static size_t files_n;

static int load_dir_once(const struct migration **m, size_t *n, const char *dir, coh_err *err)
{
    int rc = 0;
    pthread_mutex_lock(&files_mu);
    if (!files_dir || strcmp(files_dir, dir) != 0) {
        struct migration *fresh;
        size_t fresh_n;
        char *d = strdup(dir);
        rc = d ? load_dir(&fresh, &fresh_n, dir, err)
               : coh_err_set(err, COH_ERR_NOMEM, "out of memory");
        if (rc) {
            free(d);
        } else {
            /* A caller may still hold the old set: it is left allocated (the directory is fixed
             * by the configuration, so this happens at most once per process). */
            files = fresh;
            files_n = fresh_n;
            files_dir = d;
        }
    }
    *m = files;
    *n = files_n;
    pthread_mutex_unlock(&files_mu);
    return rc;
}

int coh_db_migrations_current(coh_db_pool *p, const char *dir, coh_err *err)
{
    const struct migration *m;
    size_t n;
    int rc = load_dir_once(&m, &n, dir, err);
    if (rc)
        return rc;
    coh_db_conn *c = coh_db_acquire(p, 2000, err);
    if (!c)
        return COH_ERR_UNAVAILABLE;
    size_t next = 0;
    rc = check_applied(c, m, n, &next, err);
    if (!rc && next < n)
        rc = coh_err_set(err, COH_ERR_CONFLICT, "migrations: %s not applied", m[next].name);
    coh_db_release(c);
    return rc;
}

int coh_db_role_check(struct coh_db_role *out, coh_db_pool *p, coh_err *err)
{
    memset(out, 0, sizeof *out);
    /* has_table_privilege counts privileges held through role membership too. */
    PGresult *r = coh_db_query(
        p,
        "SELECT current_user::text, r.rolsuper, "
        "coalesce(pg_has_role(current_user, c.relowner, 'USAGE'), false), "
        "coalesce(has_table_privilege(c.oid, 'UPDATE') OR has_table_privilege(c.oid, 'DELETE') "
        "OR has_table_privilege(c.oid, 'TRUNCATE'), false) "
        "FROM pg_roles r LEFT JOIN pg_class c ON c.oid = to_regclass('ledger_entries') "
        "WHERE r.rolname = current_user",
        0, NULL, err);
    if (!r)
        return err->code;
    int rc = 0;
    if (PQntuples(r) != 1) {
        rc = coh_err_set(err, COH_ERR_DB, "cannot read this connection's role");
    } else {
        snprintf(out->name, sizeof out->name, "%s", PQgetvalue(r, 0, 0));
        out->superuser = strcmp(PQgetvalue(r, 0, 1), "t") == 0;
        out->owns_ledger = strcmp(PQgetvalue(r, 0, 2), "t") == 0;
        out->may_rewrite_ledger = strcmp(PQgetvalue(r, 0, 3), "t") == 0;
    }
    PQclear(r);
    return rc;
}
