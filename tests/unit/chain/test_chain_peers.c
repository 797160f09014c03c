/*
 * test_chain_peers: the ethereum/tests conformance suites copied into
 * tests/vectors/ethereum-tests (MIT, see LICENSE.ethereum-tests there): RLPTests/rlptest.json
 * (encode, then strictly decode and re-encode), RLPTests/invalidRLPTest.json (every case
 * rejected), RandomRLPTests, and TransactionTests/ttEIP1559 and ttWrongRLP (the valid
 * transaction decodes to its hash and sender, every other one is rejected).
 */
#include "chain/chain.h"
#include "../crypto/testutil.h"

#include <dirent.h>

/* Decimal text of any size to minimal big-endian bytes; returns the length. */
static size_t dec_to_be(uint8_t *out, size_t cap, const char *dec)
{
    size_t n = 0; /* out[cap-n .. cap) holds the value */
    for (const char *p = dec; *p; p++) {
        assert_true(*p >= '0' && *p <= '9');
        unsigned carry = (unsigned)(*p - '0');
        for (size_t i = 0; i < n; i++) {
            unsigned v = out[cap - 1 - i] * 10u + carry;
            out[cap - 1 - i] = (uint8_t)v;
            carry = v >> 8;
        }
        while (carry) {
            assert_true(n < cap);
            out[cap - 1 - n++] = (uint8_t)carry;
            carry >>= 8;
        }
    }
    memmove(out, out + cap - n, n);
    return n;
}

static void encode_in(coh_chain_buf *b, const json_t *v)
{
    if (json_is_array(v)) {
        size_t m = coh_chain_rlp_list_begin(b), i;
        json_t *x;
        json_array_foreach(v, i, x) encode_in(b, x);
        coh_chain_rlp_list_end(b, m);
    } else if (json_is_integer(v)) {
        coh_chain_rlp_u64(b, (uint64_t)json_integer_value(v));
    } else {
        const char *s = json_string_value(v);
        assert_non_null(s);
        if (s[0] == '#') {
            uint8_t be[64];
            size_t n = dec_to_be(be, sizeof be, s + 1);
            coh_chain_rlp_uint(b, be, n);
        } else {
            coh_chain_rlp_bytes(b, (const uint8_t *)s, json_string_length(v));
        }
    }
}

/* Re-encodes a decoded item from its parts. */
static void reencode(coh_chain_buf *b, const coh_chain_rlp_item *it)
{
    if (!it->is_list) {
        coh_chain_rlp_bytes(b, it->payload, it->len);
        return;
    }
    size_t m = coh_chain_rlp_list_begin(b), pos = 0;
    coh_chain_rlp_item c;
    int r;
    while ((r = coh_chain_rlp_next(&c, &pos, it)) == 1)
        reencode(b, &c);
    assert_int_equal(r, 0);
    coh_chain_rlp_list_end(b, m);
}

static void roundtrip(const uint8_t *enc, size_t len)
{
    assert_int_equal(coh_chain_rlp_validate(enc, len), 0);
    coh_chain_rlp_item it;
    size_t used;
    assert_int_equal(coh_chain_rlp_parse(&it, &used, enc, len), 0);
    coh_chain_buf b;
    coh_chain_buf_init(&b);
    reencode(&b, &it);
    assert_int_equal(b.len, len);
    assert_memory_equal(b.data, enc, len);
    coh_chain_buf_clear(&b);
}

static void test_rlptest(void **state)
{
    (void)state;
    char path[1024];
    snprintf(path, sizeof path, "%s/ethereum-tests/RLPTests/rlptest.json", COH_VECTORS_DIR);
    json_error_t je;
    json_t *root = json_load_file(path, JSON_ALLOW_NUL, &je); /* "bytestring00" is "\u0000" */
    if (!root)
        fail_msg("cannot load %s: %s", path, je.text);
    const char *name;
    json_t *c;
    int n = 0;
    json_object_foreach(root, name, c)
    {
        coh_chain_buf b;
        coh_chain_buf_init(&b);
        encode_in(&b, json_object_get(c, "in"));
        if (b.len == 0)
            fail_msg("%s: empty encoding", name);
        assert_hex(b.data, b.len, vstr(c, "out"));
        roundtrip(b.data, b.len);
        coh_chain_buf_clear(&b);
        n++;
    }
    assert_int_equal(n, 28);
    json_decref(root);
}

static void test_invalid_rlp(void **state)
{
    (void)state;
    json_t *root = vec_load("ethereum-tests/RLPTests/invalidRLPTest.json");
    const char *name;
    json_t *c;
    int n = 0;
    json_object_foreach(root, name, c)
    {
        const char *hex = vstr(c, "out");
        size_t cap = strlen(hex) / 2 + 1, len = 0;
        uint8_t *p = malloc(cap);
        long r = coh_hex_decode(p, cap, hex);
        assert_true(r >= 0);
        len = (size_t)r;
        int v = coh_chain_rlp_validate(p, len);
        if (v == 0)
            fail_msg("%s was accepted", name);
        assert_true(v == COH_CHAIN_ERLP || v == COH_CHAIN_ETRAILING || v == COH_CHAIN_EDEPTH);
        free(p);
        n++;
    }
    assert_int_equal(n, 26);
    json_decref(root);
}

static void test_random_rlp(void **state)
{
    (void)state;
    json_t *root = vec_load("ethereum-tests/RLPTests/RandomRLPTests/example.json");
    const char *name;
    json_t *c;
    int n = 0;
    json_object_foreach(root, name, c)
    {
        assert_string_equal(vstr(c, "in"), "VALID");
        size_t len;
        uint8_t *p = hexdup(vstr(c, "out"), &len);
        roundtrip(p, len);
        free(p);
        n++;
    }
    assert_true(n >= 1);
    json_decref(root);
}

/* Runs every file in a TransactionTests directory; returns the number of cases. */
static int run_tx_dir(const char *dir, int *n_valid)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", COH_VECTORS_DIR, dir);
    DIR *d = opendir(path);
    assert_non_null(d);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)) != NULL) {
        if (!strstr(e->d_name, ".json"))
            continue;
        char rel[512];
        snprintf(rel, sizeof rel, "%.200s/%.200s", dir, e->d_name);
        json_t *root = vec_load(rel);
        const char *name;
        json_t *c;
        json_object_foreach(root, name, c)
        {
            size_t len;
            uint8_t *raw = hexdup(vstr(c, "txbytes"), &len);
            json_t *res = json_object_get(json_object_get(c, "result"), "Prague");
            if (!res)
                res = json_object_get(json_object_get(c, "result"), "Cancun");
            if (!res)
                res = json_object_get(json_object_get(c, "result"), "Shanghai");
            assert_non_null(res);
            coh_chain_tx tx;
            uint8_t from[20], h[32];
            int r = coh_chain_tx_decode(&tx, from, h, raw, len);
            if (json_object_get(res, "exception")) {
                if (r == 0)
                    fail_msg("%s (%s) was accepted", name, vstr(res, "exception"));
            } else {
                if (r != 0)
                    fail_msg("%s rejected: %s", name, coh_chain_strerror(r));
                assert_hex(h, 32, vstr(res, "hash"));
                assert_hex(from, 20, vstr(res, "sender"));
                (*n_valid)++;
            }
            free(raw);
            n++;
        }
        json_decref(root);
    }
    closedir(d);
    return n;
}

static void test_tx_suites(void **state)
{
    (void)state;
    int valid = 0;
    int n = run_tx_dir("ethereum-tests/TransactionTests/ttEIP1559", &valid);
    assert_int_equal(n, 9);
    assert_int_equal(valid, 1);
    n = run_tx_dir("ethereum-tests/TransactionTests/ttWrongRLP", &valid);
    assert_int_equal(n, 2);
    assert_int_equal(valid, 1); /* unchanged: both are rejected (not type 2) */
}

/* Strictness beyond the suites: depth limit, trailing bytes, leading zeros in integers. */
static void test_rlp_strict_extra(void **state)
{
    (void)state;
    /* [[[...[]...]]] nested one level deeper than allowed, then exactly at the limit */
    for (int extra = 1; extra >= 0; extra--) {
        coh_chain_buf b;
        coh_chain_buf_init(&b);
        size_t marks[COH_CHAIN_RLP_MAX_DEPTH + 1];
        int depth = COH_CHAIN_RLP_MAX_DEPTH + extra;
        for (int i = 0; i < depth; i++)
            marks[i] = coh_chain_rlp_list_begin(&b);
        for (int i = depth - 1; i >= 0; i--)
            coh_chain_rlp_list_end(&b, marks[i]);
        assert_int_equal(coh_chain_rlp_validate(b.data, b.len), extra ? COH_CHAIN_EDEPTH : 0);
        coh_chain_buf_clear(&b);
    }
    static const uint8_t trailing[] = {0x83, 'd', 'o', 'g', 0x00};
    assert_int_equal(coh_chain_rlp_validate(trailing, sizeof trailing), COH_CHAIN_ETRAILING);
    static const uint8_t zero_int[] = {0x82, 0x00, 0x01};
    coh_chain_rlp_item it;
    size_t used;
    assert_int_equal(coh_chain_rlp_parse(&it, &used, zero_int, sizeof zero_int), 0);
    uint64_t v;
    assert_int_equal(coh_chain_rlp_to_u64(&v, &it), COH_CHAIN_EZEROS);
    static const uint8_t wide[] = {0x89, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    assert_int_equal(coh_chain_rlp_parse(&it, &used, wide, sizeof wide), 0);
    assert_int_equal(coh_chain_rlp_to_u64(&v, &it), COH_CHAIN_EOVERFLOW);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rlptest),          cmocka_unit_test(test_invalid_rlp),
        cmocka_unit_test(test_random_rlp),       cmocka_unit_test(test_tx_suites),
        cmocka_unit_test(test_rlp_strict_extra),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
