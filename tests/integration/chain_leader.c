/*
 * chain_leader: the chain leader's lock (src/db/chain.c, coh_db_leader_*) against the real
 * PostgreSQL (COH_TEST_DATABASE_URL), in a database of its own. Two handles stand for two
 * cohortd: one takes the lock, the other does not and cannot record an anchor transaction; the
 * holder keeps it across polls without stacking it; its backend terminated by the database, it
 * sees the loss at its next poll and the other takes over; a holder that closes its handle hands
 * the lock on at the other's next poll. Prints "ok"/"not ok" lines and "N passed, N failed".
 */
#include "db/db.h"
#include "own_database.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The first column of the first row of sql, as text ("" when none). */
static void query1(coh_db_pool *db, const char *sql, char *out, size_t cap)
{
    coh_err err = {0};
    out[0] = '\0';
    coh_db_conn *c = coh_db_acquire(db, 5000, &err);
    PGresult *r = c ? coh_db_exec(c, sql, 0, NULL, &err) : NULL;
    if (r && PQntuples(r) > 0)
        snprintf(out, cap, "%s", PQgetvalue(r, 0, 0));
    else if (!r)
        printf("# %s: %s\n", sql, err.msg);
    PQclear(r);
    coh_db_release(c);
}

#define HOLDER_SQL                                                                                 \
    "SELECT a.application_name || ' ' || l.pid FROM pg_locks l JOIN pg_stat_activity a USING "     \
    "(pid) WHERE l.locktype = 'advisory' AND l.classid = 1668245618 AND l.objid = 1 AND "          \
    "l.objsubid = 2 AND l.granted"

/* Polls l every 20 ms for up to 3 s until it holds the lock; the last *held. */
static int try_until_held(coh_db_leader *l)
{
    int held = 0;
    for (int i = 0; i < 150 && !held; i++) {
        coh_err err = {0};
        if (coh_db_leader_try(l, &held, &err) != 0)
            held = 0;
        if (!held)
            nanosleep(&(struct timespec){0, 20000000L}, NULL);
    }
    return held;
}

static struct coh_db_chain_tx a_tx(uint8_t fill)
{
    static uint8_t raw[8];
    struct coh_db_chain_tx tx = {.nonce = 7, .raw = raw, .raw_len = sizeof raw, .block_number = -1};
    memset(tx.hash, fill, 32);
    return tx;
}

static void run(coh_db_pool *db)
{
    coh_err err = {0};
    coh_db_leader *a = NULL, *b = NULL;
    CHECK("two leader handles", coh_db_leader_new(&a, db, "chain_leader test A", &err) == 0 &&
                                    coh_db_leader_new(&b, db, "chain_leader test B", &err) == 0);
    CHECK("a process with a handle and no poll yet stands by", coh_db_chain_leader() == 0);
    int held = -1;
    int rc = coh_db_leader_try(a, &held, &err);
    CHECK("A takes the lock (a new term)", rc == 0 && held == 2);
    CHECK("this process reports itself the leader", coh_db_chain_leader() == 1);
    rc = coh_db_leader_try(b, &held, &err);
    CHECK("B does not get it", rc == 0 && held == 0);
    rc = coh_db_leader_try(a, &held, &err);
    CHECK("A still holds it at its next poll (the same term)", rc == 0 && held == 1);
    char holder[200];
    query1(db, HOLDER_SQL, holder, sizeof holder);
    CHECK("pg_locks names A, on its own connection, as the one holder",
          strncmp(holder, "chain_leader test A ", 20) == 0);
    query1(db,
           "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = 1668245618 "
           "AND objid = 1 AND objsubid = 2",
           holder, sizeof holder);
    CHECK("polling does not stack holds or make B wait", strcmp(holder, "1") == 0);

    /* The fence: only the holder's session records an anchor transaction. */
    char id[32];
    query1(db,
           "INSERT INTO chain_anchors (first_seq, last_seq, ledger_root, claims_root, n_claims, "
           "status) VALUES (1, 1, decode(repeat('11', 32), 'hex'), decode(repeat('22', 32), "
           "'hex'), 0, 'pending') RETURNING id",
           id, sizeof id);
    long long anchor = atoll(id);
    struct coh_db_chain_tx t1 = a_tx(0xb1), t2 = a_tx(0xa1);
    rc = coh_db_chain_tx_record(db, b, anchor, &t1, &err);
    CHECK("B, not the leader, cannot record an anchor transaction", rc == COH_ERR_CONFLICT);
    rc = coh_db_chain_tx_record(db, a, anchor, &t2, &err);
    if (rc)
        printf("# %s\n", err.msg);
    CHECK("A records it on its own connection", rc == 0);
    char n[32];
    query1(db, "SELECT count(*) || ' ' || min(encode(tx_hash, 'hex')) FROM chain_anchor_txs", n,
           sizeof n);
    CHECK("exactly A's transaction is recorded", strncmp(n, "1 a1a1", 6) == 0);
    query1(db, "SELECT status FROM chain_anchors", n, sizeof n);
    CHECK("and the anchor is sent", strcmp(n, "sent") == 0);

    /* The database ends A's session (as a restart or a terminated backend would). */
    query1(db,
           "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND "
           "classid = 1668245618 AND objid = 1 AND objsubid = 2 AND granted",
           n, sizeof n);
    CHECK("A's backend is terminated", strcmp(n, "t") == 0);
    nanosleep(&(struct timespec){0, 200000000L}, NULL);
    memset(&err, 0, sizeof err);
    rc = coh_db_leader_try(a, &held, &err);
    printf("# A's poll after the termination: %s\n", err.msg);
    CHECK("A sees the loss at its next poll", rc != 0 && held == 0);
    CHECK("and this process no longer reports itself the leader", coh_db_chain_leader() == 0);
    struct coh_db_chain_tx t3 = a_tx(0xa2);
    CHECK("A can no longer record",
          coh_db_chain_tx_record(db, a, anchor, &t3, &err) == COH_ERR_CONFLICT);
    CHECK("B takes over", try_until_held(b) == 2);
    rc = coh_db_leader_try(a, &held, &err);
    CHECK("A reconnects and stands by", rc == 0 && held == 0);
    query1(db, HOLDER_SQL, holder, sizeof holder);
    CHECK("pg_locks names B", strncmp(holder, "chain_leader test B ", 20) == 0);

    /* B closes its handle (cohortd stopping): A leads at its next poll. */
    coh_db_leader_free(b);
    CHECK("A takes over from a leader that stopped", try_until_held(a) == 2);
    coh_db_leader_free(a);
    CHECK("a process without a handle runs no chain worker", coh_db_chain_leader() == -1);
}

static int run_on(const char *url)
{
    coh_db_pool *db = NULL;
    coh_err err = {0};
    int applied = 0, rc = 1;
    if (coh_db_pool_new(&db, url, 2, 30000, &err) != 0 ||
        coh_db_migrate(&applied, db, COH_SOURCE_DIR "/sql", &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
    } else {
        run(db);
        rc = 0;
    }
    coh_db_pool_free(db);
    return rc;
}

int main(void)
{
    int rc = it_with_own_database("coh_leader_it", run_on);
    printf("%d passed, %d failed\n", g_pass, g_fail);
    return rc || g_fail ? 1 : 0;
}
