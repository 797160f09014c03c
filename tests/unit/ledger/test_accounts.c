/*
 * test_accounts: the ledger's account names and idempotency keys (src/ledger/accounts.c).
 * Every builder's exact bytes (they are hashed into signed entries), a result one byte too
 * long refused rather than truncated, the parser splitting each kind and refusing malformed
 * names, and the prefixes SQL matches against.
 */
#include "ledger/ledger.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#define ADDR "0x1111111111111111111111111111111111111111"
#define ADDR2 "0xabcdef0123456789abcdef0123456789abcdef01"
#define REQ "0x2222222222222222222222222222222222222222222222222222222222222222"
#define TXH "0x3333333333333333333333333333333333333333333333333333333333333333"

static void test_account_builders(void **state)
{
    (void)state;
    char out[COH_LEDGER_STR_MAX + 1];
    coh_err err = {0};
    assert_int_equal(coh_ledger_account_available(out, sizeof out, ADDR, &err), 0);
    assert_string_equal(out, "available:" ADDR);
    assert_int_equal(coh_ledger_account_escrow(out, sizeof out, REQ, &err), 0);
    assert_string_equal(out, "escrow:" REQ);
    assert_int_equal(coh_ledger_account_payable(out, sizeof out, ADDR, &err), 0);
    assert_string_equal(out, "payable:" ADDR);
    assert_int_equal(coh_ledger_account_signer(out, sizeof out, ADDR2, &err), 0);
    assert_string_equal(out, "signer:" ADDR2);
    assert_int_equal(
        coh_ledger_account_build(out, sizeof out, COH_LEDGER_ACCOUNT_CHAIN, NULL, &err), 0);
    assert_string_equal(out, "chain");
    assert_int_equal(coh_ledger_account_build(out, sizeof out, COH_LEDGER_ACCOUNT_POOL, "", &err),
                     0);
    assert_string_equal(out, "payable");
    assert_string_equal(COH_LEDGER_CHAIN_ACCOUNT, "chain");
    assert_string_equal(COH_LEDGER_POOL_ACCOUNT, "payable");

    /* Prefixes, for SQL that matches every account of a kind. */
    assert_string_equal(coh_ledger_account_prefix(COH_LEDGER_ACCOUNT_AVAILABLE), "available:");
    assert_string_equal(coh_ledger_account_prefix(COH_LEDGER_ACCOUNT_ESCROW), "escrow:");
    assert_string_equal(coh_ledger_account_prefix(COH_LEDGER_ACCOUNT_PAYABLE), "payable:");
    assert_string_equal(coh_ledger_account_prefix(COH_LEDGER_ACCOUNT_SIGNER), "signer:");
    assert_null(coh_ledger_account_prefix(0));
    assert_null(coh_ledger_account_prefix(COH_LEDGER_ACCOUNT_KIND_MAX + 1));
    assert_true(coh_ledger_account_has_owner(COH_LEDGER_ACCOUNT_ESCROW));
    assert_false(coh_ledger_account_has_owner(COH_LEDGER_ACCOUNT_CHAIN));
    assert_false(coh_ledger_account_has_owner(99));

    /* Refused: an owner where there is none, none where one is needed, an unknown kind. */
    strcpy(out, "x");
    assert_int_equal(
        coh_ledger_account_build(out, sizeof out, COH_LEDGER_ACCOUNT_CHAIN, ADDR, &err),
        COH_ERR_INVALID);
    assert_string_equal(out, "");
    assert_int_equal(coh_ledger_account_available(out, sizeof out, "", &err), COH_ERR_INVALID);
    assert_int_equal(coh_ledger_account_escrow(out, sizeof out, NULL, &err), COH_ERR_INVALID);
    assert_int_equal(coh_ledger_account_build(out, sizeof out, 0, ADDR, &err), COH_ERR_INVALID);
    assert_int_equal(coh_ledger_account_build(out, sizeof out, 7, ADDR, NULL), COH_ERR_INVALID);
}

static void test_truncation_refused(void **state)
{
    (void)state;
    const char *want = "available:" ADDR; /* 52 bytes */
    char out[64];
    coh_err err = {0};
    /* Exactly enough room: 52 + NUL. */
    assert_int_equal(coh_ledger_account_available(out, 53, ADDR, &err), 0);
    assert_string_equal(out, want);
    /* One byte short: refused, and nothing half-written is left behind. */
    memset(out, 'z', sizeof out);
    assert_int_equal(coh_ledger_account_available(out, 52, ADDR, &err), COH_ERR_INVALID);
    assert_string_equal(out, "");
    assert_non_null(strstr(err.msg, "longer than"));
    assert_int_equal(coh_ledger_account_escrow(out, 10, REQ, NULL), COH_ERR_INVALID);
    assert_string_equal(out, "");
    assert_int_equal(coh_ledger_account_build(out, 5, COH_LEDGER_ACCOUNT_CHAIN, NULL, NULL),
                     COH_ERR_INVALID); /* "chain" needs 6 */
    assert_int_equal(coh_ledger_account_build(out, 6, COH_LEDGER_ACCOUNT_CHAIN, NULL, NULL), 0);
    assert_int_equal(coh_ledger_account_available(out, 0, ADDR, NULL), COH_ERR_INVALID);
    assert_int_equal(coh_ledger_account_available(NULL, 10, ADDR, NULL), COH_ERR_INVALID);

    /* Keys too: a client key making a withdrawal key over the entry's 128 bytes is refused. */
    char key[COH_LEDGER_STR_MAX + 1], client[80];
    memset(client, 'k', sizeof client - 1);
    client[sizeof client - 1] = '\0'; /* 11 + 42 + 1 + 79 = 133 > 128 */
    assert_int_equal(coh_ledger_idem_withdrawal(key, sizeof key, ADDR, client, &err),
                     COH_ERR_INVALID);
    assert_string_equal(key, "");
    client[74] = '\0'; /* 11 + 42 + 1 + 74 = 128: fits */
    assert_int_equal(coh_ledger_idem_withdrawal(key, sizeof key, ADDR, client, &err), 0);
    assert_int_equal(strlen(key), COH_LEDGER_STR_MAX);
    assert_int_equal(coh_ledger_idem_pool(key, 20, ADDR, "5", &err), COH_ERR_INVALID);
    assert_int_equal(coh_ledger_idem_key_rotation(key, 13, ADDR, &err), COH_ERR_INVALID);
    assert_int_equal(coh_ledger_idem_chain_event(key, 30, "deposit", TXH, 0, &err),
                     COH_ERR_INVALID);
    assert_int_equal(coh_ledger_idem_reward_wave1(key, 60, REQ, ADDR, &err), COH_ERR_INVALID);
    assert_int_equal(coh_ledger_idem_request(key, 8, COH_LEDGER_ESCROW, REQ, &err),
                     COH_ERR_INVALID);
    assert_int_equal(coh_ledger_idem_deposit(key, 9, "ab", &err), COH_ERR_INVALID);
}

static void test_idempotency_keys(void **state)
{
    (void)state;
    char k[COH_LEDGER_STR_MAX + 1];
    coh_err err = {0};
    assert_int_equal(coh_ledger_idem_request(k, sizeof k, COH_LEDGER_ESCROW, REQ, &err), 0);
    assert_string_equal(k, "escrow:" REQ);
    assert_int_equal(coh_ledger_idem_request(k, sizeof k, COH_LEDGER_REWARD, REQ, &err), 0);
    assert_string_equal(k, "reward:" REQ);
    assert_int_equal(coh_ledger_idem_request(k, sizeof k, COH_LEDGER_REFUND, REQ, &err), 0);
    assert_string_equal(k, "refund:" REQ);
    assert_int_equal(coh_ledger_idem_request(k, sizeof k, COH_LEDGER_CLAIM, REQ, &err),
                     COH_ERR_INVALID);
    assert_string_equal(k, "");
    assert_int_equal(coh_ledger_idem_reward_wave1(k, sizeof k, REQ, ADDR, &err), 0);
    assert_string_equal(k, "reward:" REQ ":" ADDR);
    assert_int_equal(coh_ledger_idem_withdrawal(k, sizeof k, ADDR, "client-1", &err), 0);
    assert_string_equal(k, "withdrawal:" ADDR ":client-1");
    assert_int_equal(coh_ledger_idem_pool(k, sizeof k, ADDR, "1000", &err), 0);
    assert_string_equal(k, "pool:" ADDR ":1000");
    assert_int_equal(coh_ledger_idem_key_rotation(k, sizeof k, ADDR2, &err), 0);
    assert_string_equal(k, "key-rotation:" ADDR2);
    assert_int_equal(coh_ledger_idem_chain_event(k, sizeof k, "deposit", TXH, 3, &err), 0);
    assert_string_equal(k, "deposit:" TXH "/3");
    assert_int_equal(coh_ledger_idem_chain_event(k, sizeof k, "claim", TXH, 12, &err), 0);
    assert_string_equal(k, "claim:" TXH "/12");
    assert_int_equal(coh_ledger_idem_deposit(k, sizeof k, "00ff", &err), 0);
    assert_string_equal(k, "deposit:00ff");
}

static void test_account_parse(void **state)
{
    (void)state;
    const struct {
        const char *account;
        int kind;
        const char *owner;
    } good[] = {
        {"chain", COH_LEDGER_ACCOUNT_CHAIN, ""},
        {"payable", COH_LEDGER_ACCOUNT_POOL, ""},
        {"available:" ADDR, COH_LEDGER_ACCOUNT_AVAILABLE, ADDR},
        {"escrow:" REQ, COH_LEDGER_ACCOUNT_ESCROW, REQ},
        {"payable:" ADDR2, COH_LEDGER_ACCOUNT_PAYABLE, ADDR2},
        {"signer:" ADDR, COH_LEDGER_ACCOUNT_SIGNER, ADDR},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        int kind = -1;
        const char *owner = NULL;
        assert_int_equal(coh_ledger_account_parse(good[i].account, &kind, &owner), 0);
        assert_int_equal(kind, good[i].kind);
        assert_string_equal(owner, good[i].owner);
        /* What the parser splits, the builder joins back byte for byte. */
        char back[COH_LEDGER_STR_MAX + 1];
        assert_int_equal(coh_ledger_account_build(back, sizeof back, kind, owner, NULL), 0);
        assert_string_equal(back, good[i].account);
    }
    assert_int_equal(coh_ledger_account_parse("escrow:" REQ, NULL, NULL), 0);

    const char *bad[] = {
        "",
        "chain:",
        "chainx",
        "Chain",
        "payable:",
        "available",
        "available:",
        "available:0x",
        "available:"
        "1111111111111111111111111111111111111111",              /* no 0x */
        "available:0x111111111111111111111111111111111111111",   /* 39 hex */
        "available:0x11111111111111111111111111111111111111111", /* 41 hex */
        "available:0xABCDEF0123456789ABCDEF0123456789ABCDEF01",  /* uppercase */
        "available:0x111111111111111111111111111111111111111g",
        "available:" ADDR " ",
        "escrow:" ADDR, /* a request id is 32 bytes */
        "payable:" REQ, /* an address is 20 */
        "signer:" REQ,
        "reward:" REQ, /* a key, not an account */
        "withdrawal:" ADDR ":k",
        " available:" ADDR,
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int kind = -1;
        const char *owner = NULL;
        assert_int_equal(coh_ledger_account_parse(bad[i], &kind, &owner), COH_ERR_INVALID);
        assert_int_equal(kind, 0);
        assert_string_equal(owner, "");
    }
    assert_int_equal(coh_ledger_account_parse(NULL, NULL, NULL), COH_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_account_builders),
        cmocka_unit_test(test_truncation_refused),
        cmocka_unit_test(test_idempotency_keys),
        cmocka_unit_test(test_account_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
