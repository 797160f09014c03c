/*
 * studies: a contributor's own history (GET /v1/me/studies) and notices (GET /v1/me/inbox).
 * Both say what was actually paid, read from the ledger: a wave-2 credit counts once its reward
 * entry is posted (sql/011_private_credits.sql), a wave-1 reward entry is its own payment.
 * Served to the contributor alone: these rows link an address to a study, which no public
 * route may (docs/PRIVACY.md).
 */
#include "db/db.h"

#include <stdio.h>

/*
 * What member m (a release_members row, or NULLs) of request r was paid, as columns amount,
 * seq (of the paying entry) and paid_at. A payee shared by several members (the same person's
 * wallets with one payout address) has one credit for all of them: each is shown its share.
 * $2 is the wave-1 payable account prefix (src/ledger/accounts.c builds account names).
 */
#define PAID_SQL(r, m)                                                                             \
    "LEFT JOIN LATERAL (SELECT div(sum(u.amount), max(u.n)) AS amount, max(u.seq) AS seq, "        \
    "max(u.at) AS paid_at FROM (SELECT c.amount, e.seq, e.created_at AS at, (SELECT count(*) "     \
    "FROM release_members o WHERE o.request_id = " m ".request_id AND coalesce(o.payee, "          \
    "o.contributor) = coalesce(" m ".payee, " m ".contributor)) AS n FROM ledger_credits c "       \
    "JOIN ledger_entries e ON e.idempotency_key = c.entry_key AND e.kind = 'reward' WHERE "        \
    "c.address = coalesce(" m ".payee, " m ".contributor) AND c.request_id = '0x' || "             \
    "encode(" r ".id, 'hex') UNION ALL SELECT e.amount, e.seq, e.created_at, 1 FROM "              \
    "ledger_entries e WHERE e.kind = 'reward' AND e.ref_request = '0x' || encode(" r ".id, "       \
    "'hex') AND e.credit = $2::text || coalesce(" m ".payee, " m ".contributor)) u) paid ON true "

json_t *coh_db_notices(coh_db_pool *p, const char *address, coh_err *err)
{
    const char *params[] = {address, coh_ledger_account_prefix(COH_LEDGER_ACCOUNT_PAYABLE)};
    return coh_db_json(
        p,
        "SELECT coalesce(json_agg(json_build_object('id', n.id, 'kind', n.kind, 'request_id', "
        "'0x' || encode(n.request_id, 'hex'), 'request_title', r.title, 'amount', CASE WHEN "
        "n.kind = 'reward_paid' THEN paid.amount::text END, 'detail', n.detail, 'created_at', "
        "ts_json(n.created_at)) ORDER BY n.id DESC), '[]') FROM (SELECT * FROM notices WHERE "
        "address = $1 ORDER BY id DESC LIMIT 200) n LEFT JOIN requests r ON r.id = n.request_id "
        "LEFT JOIN release_members m ON m.request_id = n.request_id AND m.contributor = "
        "n.address " PAID_SQL("r", "m"),
        2, params, err);
}

json_t *coh_db_studies(coh_db_pool *p, const char *address, int limit, coh_err *err)
{
    char l[16];
    snprintf(l, sizeof l, "%d", limit);
    const char *params[] = {address, coh_ledger_account_prefix(COH_LEDGER_ACCOUNT_PAYABLE), l};
    /* One row per consent given (revoked ones too): the state is what happened last. Claimable
     * once an effective anchor covers the paying entry; claimable_at is when the first
     * confirmed anchor covering it is (or was) effective. */
    return coh_db_json(
        p,
        "SELECT coalesce(json_agg(s.j ORDER BY s.at DESC, s.id DESC), '[]') FROM (SELECT "
        "k.created_at AS at, r.id, json_build_object('request', json_build_object('id', '0x' "
        "|| encode(r.id, 'hex'), 'title', r.title, 'owner', r.owner, 'status', r.status, "
        "'reward', r.reward::text, 'closes_at', ts_json(r.closes_at), 'closed_at', "
        "ts_json(r.closed_at), 'released_at', ts_json(x.created_at)), 'consent', CASE WHEN "
        "k.revoked_at IS NULL THEN 'given' ELSE 'revoked' END, 'consented_at', "
        "ts_json(k.created_at), 'revoked_at', ts_json(k.revoked_at), 'contributed', "
        "c.request_id IS NOT NULL OR m.request_id IS NOT NULL, 'submitted_at', "
        "ts_json(c.submitted_at), 'in_release', m.released, 'state', CASE WHEN paid.amount IS "
        "NOT NULL THEN 'paid' WHEN k.revoked_at IS NOT NULL THEN 'revoked' WHEN r.status IN "
        "('cancelled', 'failed') THEN 'cancelled' WHEN m.request_id IS NOT NULL THEN 'released' "
        "WHEN c.request_id IS NOT NULL THEN 'submitted' WHEN r.status IN ('draft', 'open') THEN "
        "'consented' ELSE 'closed' END, 'paid_amount', paid.amount::text, 'paid_at', "
        "ts_json(paid.paid_at), 'claimable', EXISTS (SELECT 1 FROM chain_anchors e WHERE e.status "
        "= 'confirmed' AND e.effective_at "
        "<= now() AND e.last_seq >= paid.seq), 'claimable_at', ts_json(a.effective_at)) AS j "
        "FROM (SELECT * FROM consents WHERE contributor = $1 ORDER BY created_at DESC LIMIT "
        "$3::int) k JOIN requests r ON r.id = k.request_id LEFT JOIN contributions c ON "
        "c.request_id = k.request_id AND c.contributor = k.contributor LEFT JOIN releases x ON "
        "x.request_id = r.id LEFT JOIN release_members m ON m.request_id = r.id AND "
        "m.contributor = k.contributor " PAID_SQL(
            "r", "m") "LEFT JOIN LATERAL (SELECT "
                      "effective_at FROM chain_anchors WHERE status = 'confirmed' AND paid.seq IS "
                      "NOT NULL "
                      "AND last_seq >= paid.seq ORDER BY last_seq LIMIT 1) a ON true) s",
        3, params, err);
}

json_t *coh_db_anchoring_json(coh_db_pool *p, long interval_s, coh_err *err)
{
    char iv[24];
    snprintf(iv, sizeof iv, "%ld", interval_s);
    const char *params[] = {iv};
    /* The anchorer's schedule (coh_db_chain_anchor_create): the next batch is proposed once
     * the oldest waiting entry is interval_s old and no proposal is open or in its challenge
     * period (a proposal in flight is not counted: its confirmation time is unknown). next_at is
     * null when no entry waits. */
    return coh_db_json(
        p,
        "WITH prev AS (SELECT COALESCE(max(last_seq), 0) AS s, max(created_at) AS at FROM "
        "chain_anchors WHERE status <> 'vetoed'), w AS (SELECT e.created_at FROM "
        "ledger_entries e, prev WHERE e.seq = prev.s + 1), busy AS (SELECT max(effective_at) "
        "AS until FROM chain_anchors WHERE status = 'confirmed' AND effective_at > now()) "
        "SELECT json_build_object('interval_seconds', $1::bigint, 'last_at', ts_json(prev.at), "
        "'next_at', CASE WHEN w.created_at IS NOT NULL THEN ts_json(GREATEST(w.created_at + "
        "make_interval(secs => $1::bigint), busy.until, now())) END) FROM prev LEFT JOIN w ON "
        "true, busy",
        1, params, err);
}
