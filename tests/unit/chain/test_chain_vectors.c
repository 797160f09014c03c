/*
 * test_chain_vectors: RLP, EIP-1559 and ABI against every case of tests/vectors/ethereum.json
 * (sections rlp, eip1559, abi), the published EIP-155 example, and an EIP-1559 example
 * checked end to end (sign, decode, recover).
 */
#include "chain/chain.h"
#include "../crypto/testutil.h"

/* ethers 6.17.0: Transaction.from({...}) signed with the same key (see test_eip1559_example). */
#define EIP1559_EXAMPLE_SIGNED                                                                     \
    "0x02f8730180847735940085174876e800825208943535353535353535353535353535353535353535880de0b6b3" \
    "a764000080c001a02dac77a2d9f4030446de720eb215e93ae4a6ab6dadb4dd4d1a7d14ce32d24739a07b194879fc" \
    "997aa4296c58deafea6c0c7083d2595768e4476176d716bd70bd26"
#define EIP1559_EXAMPLE_HASH "0x2e775228833603a64070ca4a183a384223683c3d8b41b8fdf8dce5517da07672"

/* Encodes a JSON value of the vector format (hex leaves, nested arrays) as RLP. */
static void encode_json(coh_chain_buf *b, const json_t *v)
{
    if (json_is_array(v)) {
        size_t m = coh_chain_rlp_list_begin(b);
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) encode_json(b, x);
        coh_chain_rlp_list_end(b, m);
        return;
    }
    size_t n;
    uint8_t *p = hexdup(json_string_value(v), &n);
    coh_chain_rlp_bytes(b, p, n);
    free(p);
}

/* Decoded item back to the vector's JSON form. */
static json_t *item_json(const coh_chain_rlp_item *it)
{
    if (!it->is_list) {
        char *h = malloc(2 * it->len + 3);
        coh_hex_encode(h, it->payload, it->len, 1);
        json_t *s = json_string(h);
        free(h);
        return s;
    }
    json_t *a = json_array();
    size_t pos = 0;
    coh_chain_rlp_item c;
    int r;
    while ((r = coh_chain_rlp_next(&c, &pos, it)) == 1)
        json_array_append_new(a, item_json(&c));
    assert_int_equal(r, 0);
    return a;
}

static void test_rlp(void **state)
{
    (void)state;
    json_t *root = vec_load("ethereum.json");
    json_t *cases = json_object_get(root, "rlp");
    assert_true(json_array_size(cases) >= 30);
    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c)
    {
        const char *type = vstr(c, "value_type");
        coh_chain_buf b;
        coh_chain_buf_init(&b);
        json_t *in = json_object_get(c, "input");
        if (strcmp(type, "uint") == 0) {
            uint8_t v[32];
            assert_int_equal(coh_u256_from_dec(v, vstr(c, "uint")), 0);
            coh_chain_rlp_uint(&b, v, 32);
        } else {
            encode_json(&b, in);
        }
        assert_false(b.oom);
        assert_hex(b.data, b.len, vstr(c, "encoded"));
        assert_int_equal((long)b.len,
                         (long)json_integer_value(json_object_get(c, "encoded_length")));
        /* decode: strict validation, then the same structure */
        assert_int_equal(coh_chain_rlp_validate(b.data, b.len), 0);
        coh_chain_rlp_item it;
        size_t used;
        assert_int_equal(coh_chain_rlp_parse(&it, &used, b.data, b.len), 0);
        assert_int_equal(used, b.len);
        json_t *back = item_json(&it);
        if (!json_equal(back, in)) {
            char *s = json_dumps(back, 0);
            print_error("case %zu decoded to %s\n", i, s);
            free(s);
            fail();
        }
        json_decref(back);
        coh_chain_buf_clear(&b);
    }
    json_decref(root);
}

static void tx_from_json(coh_chain_tx *tx, const json_t *j, uint8_t **data)
{
    memset(tx, 0, sizeof *tx);
    uint8_t v[32];
    assert_int_equal(coh_u256_from_dec(v, vstr(j, "chainId")), 0);
    tx->chain_id = strtoull(vstr(j, "chainId"), NULL, 10);
    tx->nonce = strtoull(vstr(j, "nonce"), NULL, 10);
    tx->gas_limit = strtoull(vstr(j, "gasLimit"), NULL, 10);
    assert_int_equal(coh_u256_from_dec(tx->max_priority_fee, vstr(j, "maxPriorityFeePerGas")), 0);
    assert_int_equal(coh_u256_from_dec(tx->max_fee, vstr(j, "maxFeePerGas")), 0);
    assert_int_equal(coh_u256_from_dec(tx->value, vstr(j, "value")), 0);
    tx->has_to = 1;
    assert_int_equal(coh_crypto_address_parse(tx->to, vstr(j, "to")), 0);
    size_t n;
    *data = hexdup(vstr(j, "data"), &n);
    tx->data = *data;
    tx->data_len = n;
}

static void test_eip1559(void **state)
{
    (void)state;
    json_t *root = vec_load("ethereum.json");
    json_t *accounts = json_object_get(root, "accounts");
    json_t *cases = json_object_get(root, "eip1559");
    assert_true(json_array_size(cases) >= 10);
    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c)
    {
        coh_chain_tx tx;
        uint8_t *data;
        tx_from_json(&tx, json_object_get(c, "tx"), &data);
        coh_chain_buf b;
        coh_chain_buf_init(&b);
        coh_chain_tx_encode_unsigned(&b, &tx);
        assert_hex(b.data, b.len, vstr(c, "unsigned_serialized"));
        coh_chain_buf_clear(&b);
        uint8_t h[32];
        coh_chain_tx_signing_hash(h, &tx);
        assert_hex(h, 32, vstr(c, "signing_hash"));

        json_t *acct = json_array_get(
            accounts, (size_t)json_integer_value(json_object_get(c, "account_index")));
        coh_secbuf *key;
        assert_int_equal(coh_crypto_seckey_from_hex(&key, vstr(acct, "private_key")), 0);
        uint8_t txh[32], sig[65];
        assert_int_equal(coh_chain_tx_sign(&b, txh, sig, &tx, key), 0);
        coh_secbuf_free(key);
        assert_hex(b.data, b.len, vstr(c, "signed_serialized"));
        assert_hex(txh, 32, vstr(c, "tx_hash"));
        json_t *s = json_object_get(c, "signature");
        assert_hex(sig, 32, vstr(s, "r"));
        assert_hex(sig + 32, 32, vstr(s, "s"));
        assert_int_equal(sig[64] - 27, json_integer_value(json_object_get(s, "y_parity")));

        /* decode the signed bytes back: same fields, sender and hash */
        coh_chain_tx d;
        uint8_t from[20], dh[32];
        assert_int_equal(coh_chain_tx_decode(&d, from, dh, b.data, b.len), 0);
        assert_hex(from, 20, vstr(c, "from"));
        assert_hex(dh, 32, vstr(c, "tx_hash"));
        assert_true(d.nonce == tx.nonce && d.chain_id == tx.chain_id &&
                    d.gas_limit == tx.gas_limit);
        assert_memory_equal(d.value, tx.value, 32);
        assert_int_equal(d.data_len, tx.data_len);
        if (d.data_len)
            assert_memory_equal(d.data, tx.data, d.data_len);
        coh_chain_buf_clear(&b);
        free(data);
    }
    json_decref(root);
}

static coh_chain_abi_arg arg_from(const char *type, const json_t *v, uint8_t **keep)
{
    uint8_t w[32];
    if (strcmp(type, "bytes32") == 0) {
        hex32(w, json_string_value(v));
        return coh_chain_abi_bytes32(w);
    }
    if (strcmp(type, "uint256") == 0) {
        assert_int_equal(coh_u256_from_dec(w, json_string_value(v)), 0);
        return coh_chain_abi_uint256(w);
    }
    if (strcmp(type, "uint64") == 0)
        return coh_chain_abi_u64(strtoull(json_string_value(v), NULL, 10));
    if (strcmp(type, "address") == 0) {
        uint8_t a[20];
        assert_int_equal(coh_crypto_address_parse(a, json_string_value(v)), 0);
        return coh_chain_abi_address(a);
    }
    assert_string_equal(type, "bytes32[]");
    size_t n = json_array_size(v);
    *keep = malloc(32 * n + 1);
    for (size_t i = 0; i < n; i++)
        hex32(*keep + 32 * i, json_string_value(json_array_get(v, i)));
    return coh_chain_abi_bytes32_array(*keep, n);
}

static void test_abi(void **state)
{
    (void)state;
    json_t *root = vec_load("ethereum.json");
    json_t *cases = json_object_get(root, "abi");
    assert_true(json_array_size(cases) >= 15);
    size_t i;
    json_t *c;
    int n_calldata = 0, n_decode = 0;
    json_array_foreach(cases, i, c)
    {
        if (strcmp(vstr(c, "kind"), "calldata") == 0) {
            n_calldata++;
            uint8_t sel[4];
            coh_chain_abi_selector(sel, vstr(c, "signature"));
            assert_hex(sel, 4, vstr(c, "selector"));
            json_t *types = json_object_get(c, "arg_types"), *args = json_object_get(c, "args");
            coh_chain_abi_arg a[8];
            uint8_t *keep[8] = {0};
            size_t n = json_array_size(types);
            for (size_t k = 0; k < n; k++)
                a[k] = arg_from(json_string_value(json_array_get(types, k)),
                                json_array_get(args, k), &keep[k]);
            coh_chain_buf b;
            coh_chain_buf_init(&b);
            coh_chain_abi_encode(&b, a, n);
            assert_hex(b.data, b.len, vstr(c, "encoded_args"));
            coh_chain_buf_clear(&b);
            coh_chain_abi_calldata(&b, vstr(c, "signature"), a, n);
            assert_hex(b.data, b.len, vstr(c, "calldata"));
            coh_chain_buf_clear(&b);
            for (size_t k = 0; k < n; k++)
                free(keep[k]);
            continue;
        }
        n_decode++;
        size_t len;
        uint8_t *rd = hexdup(vstr(c, "return_data"), &len);
        const char *type = vstr(c, "type");
        json_t *want = json_object_get(c, "decoded");
        uint8_t w[32];
        if (strcmp(type, "uint256") == 0) {
            char dec[79];
            assert_int_equal(coh_chain_abi_get_word(w, rd, len, 0), 0);
            coh_u256_to_dec(dec, w);
            assert_string_equal(dec, json_string_value(want));
        } else if (strcmp(type, "bool") == 0) {
            int bv;
            assert_int_equal(coh_chain_abi_get_bool(&bv, rd, len, 0), 0);
            assert_int_equal(bv, json_is_true(want));
        } else if (strcmp(type, "bytes32") == 0) {
            assert_int_equal(coh_chain_abi_get_word(w, rd, len, 0), 0);
            assert_hex(w, 32, json_string_value(want));
        } else {
            assert_string_equal(type, "string");
            const uint8_t *p;
            size_t pl;
            assert_int_equal(coh_chain_abi_get_bytes(&p, &pl, rd, len, 0), 0);
            assert_int_equal(pl, strlen(json_string_value(want)));
            assert_memory_equal(p, json_string_value(want), pl);
            /* truncated data must be refused, never read past the end */
            assert_int_equal(coh_chain_abi_get_bytes(&p, &pl, rd, len - 32, 0), COH_CHAIN_EABI);
        }
        free(rd);
    }
    assert_int_equal(n_calldata, 10);
    assert_int_equal(n_decode, 5);
    json_decref(root);
}

/* EIP-155's published example. */
static void test_eip155_example(void **state)
{
    (void)state;
    coh_chain_legacy_tx tx = {.nonce = 9, .gas_limit = 21000, .chain_id = 1};
    coh_u256_from_u64(tx.gas_price, 20000000000ull);
    coh_u256_from_u64(tx.value, 1000000000000000000ull);
    memset(tx.to, 0x35, 20);
    uint8_t h[32];
    coh_chain_legacy_signing_hash(h, &tx);
    assert_hex(h, 32, "0xdaf5a779ae972f972197303d7b574746c7ef83eadac0f2791ad23db92e4c8e53");
    coh_secbuf *key;
    assert_int_equal(coh_crypto_seckey_from_hex(
                         &key, "4646464646464646464646464646464646464646464646464646464646464646"),
                     0);
    coh_chain_buf b;
    coh_chain_buf_init(&b);
    assert_int_equal(coh_chain_legacy_sign(&b, &tx, key), 0);
    coh_secbuf_free(key);
    assert_hex(b.data, b.len,
               "0xf86c098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a7640"
               "0008025a0"
               "28ef61340bd939bc2195fe537567866003e1a15d3c71ff63e1590620aa636276a067cbe9d8997f761ae"
               "cb703304b"
               "3800ccf555c9f3dc64214b297fb1966a3b6d83");
    coh_chain_buf_clear(&b);
}

/*
 * An EIP-1559 example with the same key: chain 1, nonce 0, tip 2 gwei, max fee 100 gwei,
 * 21000 gas, to 0x3535..35, 1 ether. Checked by round trip (sign, strict decode, recover the
 * key's address) and against the values ethers 6.17.0 computes for the same transaction.
 */
static void test_eip1559_example(void **state)
{
    (void)state;
    coh_chain_tx tx = {.chain_id = 1, .nonce = 0, .gas_limit = 21000, .has_to = 1};
    coh_u256_from_u64(tx.max_priority_fee, 2000000000ull);
    coh_u256_from_u64(tx.max_fee, 100000000000ull);
    coh_u256_from_u64(tx.value, 1000000000000000000ull);
    memset(tx.to, 0x35, 20);
    coh_secbuf *key;
    assert_int_equal(coh_crypto_seckey_from_hex(
                         &key, "4646464646464646464646464646464646464646464646464646464646464646"),
                     0);
    uint8_t addr[20];
    assert_int_equal(coh_crypto_address_from_seckey(addr, key), 0);
    assert_hex(addr, 20, "0x9d8a62f656a8d1615c1294fd71e9cfb3e4855a4f");
    coh_chain_buf b;
    coh_chain_buf_init(&b);
    uint8_t h[32];
    assert_int_equal(coh_chain_tx_sign(&b, h, NULL, &tx, key), 0);
    coh_secbuf_free(key);
    coh_chain_tx d;
    uint8_t from[20], dh[32];
    assert_int_equal(coh_chain_tx_decode(&d, from, dh, b.data, b.len), 0);
    assert_memory_equal(from, addr, 20);
    assert_memory_equal(dh, h, 32);
    assert_hex(b.data, b.len, EIP1559_EXAMPLE_SIGNED);
    assert_hex(h, 32, EIP1559_EXAMPLE_HASH);
    coh_chain_buf_clear(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rlp),
        cmocka_unit_test(test_eip1559),
        cmocka_unit_test(test_abi),
        cmocka_unit_test(test_eip155_example),
        cmocka_unit_test(test_eip1559_example),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
