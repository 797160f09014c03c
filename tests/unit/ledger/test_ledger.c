/*
 * test_ledger: the ledger library without a database. Merkle roots, tree indices and proofs
 * against tests/vectors/ethereum.json "merkle" (made with @openzeppelin/merkle-tree 1.0.8),
 * the canonical encoding (layout and a pinned hash), seal/verify, JSON round trip, the money
 * model's account rules, uint256 arithmetic, and the chain walk detecting each kind of break.
 */
#include "crypto/crypto.h"
#include "ledger/ledger.h"

#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *g_vec;

static int setup(void **state)
{
    (void)state;
    assert_true(sodium_init() >= 0);
    char path[1024];
    snprintf(path, sizeof path, "%s/ethereum.json", COH_VECTORS_DIR);
    json_error_t e;
    g_vec = json_load_file(path, 0, &e);
    assert_non_null(g_vec);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    json_decref(g_vec);
    return 0;
}

static void hex32(uint8_t out[32], const char *hex)
{
    assert_int_equal(coh_hex_decode_exact(out, 32, hex), 0);
}

static void u256(uint8_t out[32], const char *dec)
{
    assert_int_equal(coh_u256_from_dec(out, dec), 0);
}

/* ---- Merkle ---------------------------------------------------------------------------- */

static void test_merkle_vectors(void **state)
{
    (void)state;
    json_t *trees = json_object_get(g_vec, "merkle"), *tree;
    size_t ti;
    assert_true(json_array_size(trees) >= 8);
    json_array_foreach(trees, ti, tree)
    {
        json_t *values = json_object_get(tree, "values");
        size_t n = json_array_size(values);
        uint8_t(*leaves)[32] = malloc(n * 32);
        assert_non_null(leaves);
        for (size_t i = 0; i < n; i++) {
            json_t *v = json_array_get(values, i);
            uint8_t addr[20], amt[32];
            assert_int_equal(
                coh_crypto_address_parse(addr, json_string_value(json_array_get(v, 0))), 0);
            u256(amt, json_string_value(json_array_get(v, 1)));
            coh_ledger_claim_leaf(leaves[i], addr, amt);
        }
        coh_ledger_merkle *t = NULL;
        assert_int_equal(coh_ledger_merkle_new(&t, (const uint8_t(*)[32])leaves, n, 1), 0);
        uint8_t root[32], want[32];
        coh_ledger_merkle_root(root, t);
        hex32(want, json_string_value(json_object_get(tree, "root")));
        assert_memory_equal(root, want, 32);
        json_t *sample;
        size_t si;
        json_array_foreach(json_object_get(tree, "samples"), si, sample)
        {
            size_t vi = (size_t)json_integer_value(json_object_get(sample, "value_index"));
            uint8_t lh[32];
            hex32(lh, json_string_value(json_object_get(sample, "leaf_hash")));
            assert_memory_equal(leaves[vi], lh, 32);
            long pos = coh_ledger_merkle_find(t, lh);
            assert_true(pos >= 0);
            assert_int_equal(coh_ledger_merkle_tree_index(t, (size_t)pos),
                             json_integer_value(json_object_get(sample, "tree_index")));
            uint8_t proof[64][32];
            size_t np;
            assert_int_equal(coh_ledger_merkle_proof(proof, 64, &np, t, (size_t)pos), 0);
            json_t *wp = json_object_get(sample, "proof");
            assert_int_equal(np, json_array_size(wp));
            for (size_t k = 0; k < np; k++) {
                hex32(want, json_string_value(json_array_get(wp, k)));
                assert_memory_equal(proof[k], want, 32);
            }
            assert_true(coh_ledger_merkle_verify(root, lh, (const uint8_t(*)[32])proof, np));
            if (np) {
                proof[0][0] ^= 1;
                assert_false(coh_ledger_merkle_verify(root, lh, (const uint8_t(*)[32])proof, np));
            }
        }
        size_t np;
        uint8_t proof[1][32];
        assert_int_equal(coh_ledger_merkle_proof(proof, 1, &np, t, n), COH_ERR_INVALID);
        coh_ledger_merkle_free(t);
        free(leaves);
    }
}

/* Every leaf of unsorted trees of 1..70 leaves proves against the root. */
static void test_merkle_all_sizes(void **state)
{
    (void)state;
    uint8_t leaves[70][32];
    for (size_t i = 0; i < 70; i++)
        coh_crypto_keccak256(leaves[i], &i, sizeof i);
    for (size_t n = 1; n <= 70; n++) {
        coh_ledger_merkle *t = NULL;
        assert_int_equal(coh_ledger_merkle_new(&t, (const uint8_t(*)[32])leaves, n, 0), 0);
        uint8_t root[32], proof[64][32];
        coh_ledger_merkle_root(root, t);
        if (n == 1)
            assert_memory_equal(root, leaves[0], 32);
        for (size_t i = 0; i < n; i++) {
            size_t np;
            assert_int_equal(coh_ledger_merkle_find(t, leaves[i]), (long)i);
            assert_int_equal(coh_ledger_merkle_proof(proof, 64, &np, t, i), 0);
            assert_true(coh_ledger_merkle_verify(root, leaves[i], (const uint8_t(*)[32])proof, np));
        }
        coh_ledger_merkle_free(t);
    }
    coh_ledger_merkle *t = (coh_ledger_merkle *)1;
    assert_int_equal(coh_ledger_merkle_new(&t, NULL, 0, 1), COH_ERR_INVALID);
    assert_null(t);
    coh_ledger_merkle_free(NULL);
}

/* ---- entries --------------------------------------------------------------------------- */

static const char *ADDR_A = "0x1111111111111111111111111111111111111111";
static const char *REQ = "0x2222222222222222222222222222222222222222222222222222222222222222";

static coh_ledger_entry make(uint64_t seq, int kind, const char *debit, const char *credit,
                             const char *amount, const char *key)
{
    coh_ledger_entry e;
    memset(&e, 0, sizeof e);
    e.seq = seq;
    e.kind = kind;
    e.created_us = 1700000000123456LL;
    snprintf(e.debit, sizeof e.debit, "%s", debit);
    snprintf(e.credit, sizeof e.credit, "%s", credit);
    u256(e.amount, amount);
    snprintf(e.idempotency_key, sizeof e.idempotency_key, "%s", key);
    return e;
}

static void test_encoding_layout(void **state)
{
    (void)state;
    char credit[80];
    snprintf(credit, sizeof credit, "available:%s", ADDR_A);
    coh_ledger_entry e = make(1, COH_LEDGER_DEPOSIT, "chain", credit, "1000", "dep-1");
    uint8_t buf[COH_LEDGER_ENCODING_MAX];
    size_t n;
    assert_int_equal(coh_ledger_entry_encode(buf, &n, &e), 0);
    assert_int_equal(n, 89 + 2 + 5 + 2 + strlen(credit) + 2 * 4 + 2 + 5);
    assert_memory_equal(buf, "COHLEDG1", 8);
    assert_int_equal(buf[15], 1);         /* seq, big-endian */
    assert_int_equal(buf[16], 1);         /* kind deposit */
    assert_int_equal(buf[25 + 30], 0x03); /* 1000 = 0x03e8 */
    assert_int_equal(buf[25 + 31], 0xe8);
    assert_int_equal(buf[89], 0);
    assert_int_equal(buf[90], 5);
    assert_memory_equal(buf + 91, "chain", 5);
    uint8_t h[32], h2[32];
    assert_int_equal(coh_ledger_entry_hash(h, &e), 0);
    coh_crypto_keccak256(h2, buf, n);
    assert_memory_equal(h, h2, 32);
    /* Every field is covered by the hash. */
    coh_ledger_entry f = e;
    f.created_us++;
    assert_int_equal(coh_ledger_entry_hash(h2, &f), 0);
    assert_memory_not_equal(h, h2, 32);
    f = e;
    snprintf(f.ref_tx, sizeof f.ref_tx, "x");
    assert_int_equal(coh_ledger_entry_hash(h2, &f), 0);
    assert_memory_not_equal(h, h2, 32);
    /* Moving a byte between adjacent strings changes the hash (length prefixes). */
    coh_ledger_entry g = e, k = e;
    snprintf(g.ref_request, sizeof g.ref_request, "ab");
    snprintf(k.ref_request, sizeof k.ref_request, "a");
    snprintf(k.ref_contribution, sizeof k.ref_contribution, "b");
    assert_int_equal(coh_ledger_entry_hash(h, &g), 0);
    assert_int_equal(coh_ledger_entry_hash(h2, &k), 0);
    assert_memory_not_equal(h, h2, 32);
}

static void test_seal_verify_json(void **state)
{
    (void)state;
    coh_secbuf *key = NULL;
    assert_int_equal(coh_crypto_seckey_generate(&key), 0);
    char credit[80];
    snprintf(credit, sizeof credit, "available:%s", ADDR_A);
    coh_ledger_entry e =
        make(7, COH_LEDGER_DEPOSIT, "chain", credit,
             "115792089237316195423570985008687907853269984665640564039457584007913"
             "129639935",
             "k");
    snprintf(e.ref_tx, sizeof e.ref_tx, "0xabc");
    assert_int_equal(coh_ledger_entry_seal(&e, key), 0);
    coh_err err = {0};
    assert_int_equal(coh_ledger_entry_verify(&e, &err), 0);
    json_t *j = coh_ledger_entry_to_json(&e);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "created_at")),
                        "2023-11-14T22:13:20.123456Z");
    assert_true(json_is_null(json_object_get(json_object_get(j, "refs"), "request")));
    coh_ledger_entry back;
    assert_int_equal(coh_ledger_entry_from_json(&back, j, &err), 0);
    assert_memory_equal(&back, &e, sizeof e);
    json_decref(j);
    /* ref_contribution is published as what it holds and read back to the signed string. */
    static const char *const refs[][2] = {
        {"0x00000000000000000000000000000000000000aa", "address"},
        {"20:0x00000000000000000000000000000000000000000000000000000000000000bb", "credits"},
        {"something-else", "contribution"}};
    for (size_t i = 0; i < 3; i++) {
        coh_ledger_entry r = e;
        snprintf(r.ref_contribution, sizeof r.ref_contribution, "%s", refs[i][0]);
        j = coh_ledger_entry_to_json(&r);
        json_t *jr = json_object_get(j, "refs");
        assert_non_null(json_object_get(jr, refs[i][1]));
        assert_false(json_is_null(json_object_get(jr, refs[i][1])));
        if (i == 1)
            assert_int_equal(
                json_integer_value(json_object_get(json_object_get(jr, "credits"), "count")), 20);
        assert_int_equal(coh_ledger_entry_from_json(&back, j, &err), 0);
        assert_string_equal(back.ref_contribution, refs[i][0]);
        json_decref(j);
    }
    coh_ledger_entry t = e;
    t.amount[31] ^= 1;
    assert_int_equal(coh_ledger_entry_verify(&t, &err), COH_ERR_CRYPTO);
    assert_non_null(strstr(err.msg, "hash mismatch"));
    t = e;
    t.signer[0] ^= 1;
    assert_int_equal(coh_ledger_entry_verify(&t, &err), COH_ERR_CRYPTO);
    assert_non_null(strstr(err.msg, "forged"));
    json_t *bad = json_pack("{s:I,s:s}", "seq", (json_int_t)1, "kind", "deposit");
    assert_int_equal(coh_ledger_entry_from_json(&back, bad, &err), COH_ERR_INVALID);
    json_decref(bad);
    coh_secbuf_free(key);
}

static void test_account_rules(void **state)
{
    (void)state;
    char avail[80], pay[80], esc[80], other_pay[80];
    snprintf(avail, sizeof avail, "available:%s", ADDR_A);
    snprintf(pay, sizeof pay, "payable:%s", ADDR_A);
    snprintf(other_pay, sizeof other_pay, "payable:0x3333333333333333333333333333333333333333");
    snprintf(esc, sizeof esc, "escrow:%s", REQ);
    coh_err err = {0};
    coh_ledger_entry ok[] = {
        make(1, COH_LEDGER_DEPOSIT, "chain", avail, "1", "a"),
        make(1, COH_LEDGER_ESCROW, avail, esc, "1", "a"),
        make(1, COH_LEDGER_REWARD, esc, other_pay, "1", "a"),
        make(1, COH_LEDGER_REFUND, esc, avail, "1", "a"),
        make(1, COH_LEDGER_WITHDRAWAL, avail, pay, "1", "a"),
        make(1, COH_LEDGER_CLAIM, pay, "chain", "1", "a"),
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        assert_int_equal(coh_ledger_entry_check(&ok[i], &err), 0);
    coh_ledger_entry bad[] = {
        make(1, COH_LEDGER_DEPOSIT, "chain", avail, "0", "a"),
        make(1, COH_LEDGER_DEPOSIT, "chain", avail, "1", ""),
        make(1, COH_LEDGER_DEPOSIT, avail, "chain", "1", "a"),
        make(1, COH_LEDGER_WITHDRAWAL, avail, other_pay, "1", "a"),
        make(1, COH_LEDGER_REWARD, esc, "payable:0xABCDEF0000000000000000000000000000000000", "1",
             "a"),
        make(1, COH_LEDGER_CLAIM, pay, "chain", "1", "a\n"),
        make(1, 99, pay, "chain", "1", "a"),
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(coh_ledger_entry_check(&bad[i], &err), COH_ERR_INVALID);
    assert_int_equal(coh_ledger_kind_parse("reward"), COH_LEDGER_REWARD);
    assert_int_equal(coh_ledger_kind_parse("nope"), 0);
    assert_null(coh_ledger_kind_name(0));
}

/* ---- chain walk ------------------------------------------------------------------------ */

#define N_CHAIN 6
static void build_chain(coh_ledger_entry *es, coh_secbuf *key)
{
    char avail[80], esc[80], pay[80];
    snprintf(avail, sizeof avail, "available:%s", ADDR_A);
    snprintf(esc, sizeof esc, "escrow:%s", REQ);
    snprintf(pay, sizeof pay, "payable:0x3333333333333333333333333333333333333333");
    es[0] = make(1, COH_LEDGER_DEPOSIT, "chain", avail, "100", "k1");
    es[1] = make(2, COH_LEDGER_ESCROW, avail, esc, "60", "k2");
    es[2] = make(3, COH_LEDGER_REWARD, esc, pay, "25", "k3");
    es[3] = make(4, COH_LEDGER_REWARD, esc, pay, "25", "k4");
    es[4] = make(5, COH_LEDGER_REFUND, esc, avail, "10", "k5");
    es[5] = make(6, COH_LEDGER_CLAIM, pay, "chain", "30", "k6");
    uint8_t prev[32] = {0};
    for (int i = 0; i < N_CHAIN; i++) {
        memcpy(es[i].prev_hash, prev, 32);
        assert_int_equal(coh_ledger_entry_seal(&es[i], key), 0);
        memcpy(prev, es[i].hash, 32);
    }
}

/* Walks es[0..n); returns the error code of the first failure (0 if none) with err. */
static int walk(const coh_ledger_entry *es, size_t n, const uint8_t signer[20], coh_err *err)
{
    coh_ledger_walk *w = NULL;
    assert_int_equal(coh_ledger_walk_new(&w, signer), 0);
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++)
        rc = coh_ledger_walk_add(w, &es[i], err);
    if (!rc)
        rc = coh_ledger_walk_finish(w, err);
    coh_ledger_walk_free(w);
    return rc;
}

static void test_walk(void **state)
{
    (void)state;
    coh_secbuf *key = NULL, *other = NULL;
    assert_int_equal(coh_crypto_seckey_generate(&key), 0);
    assert_int_equal(coh_crypto_seckey_generate(&other), 0);
    uint8_t signer[20];
    assert_int_equal(coh_crypto_address_from_seckey(signer, key), 0);
    coh_ledger_entry es[N_CHAIN], t[N_CHAIN];
    build_chain(es, key);
    coh_err err = {0};

    coh_ledger_walk *w = NULL;
    assert_int_equal(coh_ledger_walk_new(&w, signer), 0);
    for (int i = 0; i < N_CHAIN; i++)
        assert_int_equal(coh_ledger_walk_add(w, &es[i], &err), 0);
    assert_int_equal(coh_ledger_walk_finish(w, &err), 0);
    uint8_t bal[32], cr[32], db[32];
    int neg;
    char dec[79];
    assert_int_equal(coh_ledger_walk_account(w, "chain", bal, &neg, cr, db), 0);
    coh_u256_to_dec(dec, bal);
    assert_true(neg);
    assert_string_equal(dec, "70"); /* 100 deposited, 30 claimed */
    assert_int_equal(coh_ledger_walk_account(w, "nope", bal, &neg, cr, db), COH_ERR_NOTFOUND);
    assert_int_equal(coh_ledger_walk_count(w), N_CHAIN);
    coh_ledger_walk_free(w);

    /* tampered amount */
    memcpy(t, es, sizeof es);
    u256(t[2].amount, "26");
    assert_int_equal(walk(t, N_CHAIN, signer, &err), COH_ERR_CRYPTO);
    assert_non_null(strstr(err.msg, "break at seq 3: hash mismatch"));
    /* removed entry */
    memcpy(t, es, sizeof es);
    memmove(&t[3], &t[4], 2 * sizeof t[0]);
    assert_int_equal(walk(t, N_CHAIN - 1, signer, &err), COH_ERR_CRYPTO);
    assert_non_null(strstr(err.msg, "break at seq 4: expected entry seq 4 here but found seq 5"));
    /* re-ordered entries */
    memcpy(t, es, sizeof es);
    t[2] = es[3];
    t[3] = es[2];
    assert_int_equal(walk(t, N_CHAIN, signer, &err), COH_ERR_CRYPTO);
    assert_non_null(strstr(err.msg, "break at seq 3"));
    /* forged signature: re-signed by another key */
    memcpy(t, es, sizeof es);
    assert_int_equal(coh_ledger_entry_seal(&t[4], other), 0);
    assert_int_equal(walk(t, N_CHAIN, signer, &err), COH_ERR_CRYPTO);
    assert_non_null(strstr(err.msg, "break at seq 5: signed by"));
    /* forged signature bytes with the stored signer kept */
    memcpy(t, es, sizeof es);
    t[1].signature[10] ^= 0x40;
    assert_int_equal(walk(t, N_CHAIN, signer, &err), COH_ERR_CRYPTO);
    assert_non_null(strstr(err.msg, "break at seq 2: signature"));
    /* the whole ledger signed by a key that is not the published one */
    uint8_t wrong[20];
    assert_int_equal(coh_crypto_address_from_seckey(wrong, other), 0);
    assert_int_equal(walk(es, N_CHAIN, wrong, &err), COH_ERR_CRYPTO);
    assert_non_null(strstr(err.msg, "not by the published ledger address"));
    /* a consistent re-signed chain overdrawing an account is still refused */
    memcpy(t, es, sizeof es);
    u256(t[5].amount, "51");
    uint8_t prev[32];
    memcpy(prev, t[4].hash, 32);
    memcpy(t[5].prev_hash, prev, 32);
    assert_int_equal(coh_ledger_entry_seal(&t[5], key), 0);
    assert_int_equal(walk(t, N_CHAIN, signer, &err), COH_ERR_CRYPTO);
    assert_non_null(strstr(err.msg, "goes negative"));
    coh_secbuf_free(key);
    coh_secbuf_free(other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_merkle_vectors),  cmocka_unit_test(test_merkle_all_sizes),
        cmocka_unit_test(test_encoding_layout), cmocka_unit_test(test_seal_verify_json),
        cmocka_unit_test(test_account_rules),   cmocka_unit_test(test_walk),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
