/* Unit tests for request keys at rest (reqkey.c) and the intake's cache of unwrapped keys: a
 * wrapped key opens only for the request it was wrapped for, and a shredded request's key is
 * forgotten. */
#include "crypto/crypto.h"
#include "market/market.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <string.h>

static const char *const id_a =
    "0x1111111111111111111111111111111111111111111111111111111111111111";
static const char *const id_b =
    "0x2222222222222222222222222222222222222222222222222222222222222222";

static coh_secbuf *key32(uint8_t fill)
{
    coh_secbuf *k = coh_secbuf_new(32);
    assert_non_null(k);
    memset(coh_secbuf_data(k), fill, 32);
    return k;
}

static void test_bound_to_its_request(void **state)
{
    (void)state;
    coh_secbuf *master = key32(7), *sk = key32(9), *out = NULL;
    uint8_t w[COH_MARKET_REQKEY_BYTES];
    assert_int_equal(coh_market_reqkey_wrap(w, master, id_a, sk), 0);
    assert_int_equal(coh_market_reqkey_unwrap(&out, master, id_a, w, sizeof w), 0);
    assert_memory_equal(coh_secbuf_data(out), coh_secbuf_data(sk), 32);
    coh_secbuf_free(out);
    /* The same blob moved to another request's row does not open there. */
    assert_int_equal(coh_market_reqkey_unwrap(&out, master, id_b, w, sizeof w),
                     COH_CRYPTO_EDECRYPT);
    assert_null(out);
    /* Nor with its version byte changed, a byte flipped, or cut short. */
    w[0] ^= 3;
    assert_int_equal(coh_market_reqkey_unwrap(&out, master, id_a, w, sizeof w),
                     COH_CRYPTO_EDECRYPT);
    w[0] ^= 3;
    w[20] ^= 1;
    assert_int_equal(coh_market_reqkey_unwrap(&out, master, id_a, w, sizeof w),
                     COH_CRYPTO_EDECRYPT);
    w[20] ^= 1;
    assert_int_equal(coh_market_reqkey_unwrap(&out, master, id_a, w, sizeof w - 1),
                     COH_CRYPTO_EDECRYPT);
    /* The id is read as hex, in either case; not-an-id is refused. */
    char upper[67];
    strcpy(upper, id_a);
    upper[1] = 'X';
    assert_int_equal(coh_market_reqkey_unwrap(&out, master, upper, w, sizeof w), 0);
    coh_secbuf_free(out);
    assert_int_equal(coh_market_reqkey_unwrap(&out, master, "0x12", w, sizeof w), COH_ERR_INVALID);
    /* A blob of the old format (no associated data) is not taken for a bound one. */
    uint8_t legacy[COH_MARKET_REQKEY_BYTES] = {0};
    assert_int_equal(coh_crypto_wrap(legacy + 1, master, "reqkey", coh_secbuf_data(sk), 32), 0);
    legacy[0] = 1;
    assert_int_equal(coh_market_reqkey_unwrap(&out, master, id_a, legacy, sizeof legacy),
                     COH_CRYPTO_EDECRYPT);
    assert_int_equal(coh_market_reqkey_unwrap(&out, master, id_a, legacy + 1, sizeof legacy - 1),
                     COH_CRYPTO_EDECRYPT);
    coh_secbuf_free(sk);
    coh_secbuf_free(master);
}

/* A schema of one integer field and a record sealed to pk. */
static coh_market_schema *schema(void)
{
    json_t *j = json_loads("{\"fields\":[{\"name\":\"age\",\"type\":\"integer\",\"min\":18,"
                           "\"max\":100,\"role\":\"quasi-identifier\"}]}",
                           0, NULL);
    coh_market_schema *s = NULL;
    coh_err err = {0};
    assert_int_equal(coh_market_schema_parse(&s, j, &err), 0);
    json_decref(j);
    return s;
}

static void test_intake_with_a_moved_key(void **state)
{
    (void)state;
    coh_secbuf *master = key32(5), *sk = NULL;
    uint8_t pk[32], w[COH_MARKET_REQKEY_BYTES];
    assert_int_equal(coh_crypto_box_keypair(pk, &sk), 0);
    assert_int_equal(coh_market_reqkey_wrap(w, master, id_a, sk), 0);
    coh_market_schema *s = schema();
    const char rec[] = "{\"age\":42}";
    uint8_t ct[sizeof rec - 1 + COH_CRYPTO_BOX_SEALBYTES];
    assert_int_equal(coh_crypto_box_seal(ct, (const uint8_t *)rec, sizeof rec - 1, pk), 0);
    coh_err err = {0};
    assert_int_equal(coh_market_intake_check(master, id_a, w, sizeof w, pk, s, ct, sizeof ct, &err),
                     0);
    /* Request B's row holding A's wrapped key and public key: the key does not open. */
    assert_int_equal(coh_market_intake_check(master, id_b, w, sizeof w, pk, s, ct, sizeof ct, &err),
                     COH_ERR_CONFLICT);
    assert_string_equal(err.msg, "the request's key is not available");

    /* A's key is cached now: under another master key it still serves A (no unwrap) until
     * A is shredded; then it must be unwrapped again, and fails. */
    coh_secbuf *other = key32(6);
    assert_int_equal(coh_market_intake_check(other, id_a, w, sizeof w, pk, s, ct, sizeof ct, &err),
                     0);
    char ids[64][67];
    assert_int_equal(coh_market_intake_cached(ids, 64), 1);
    assert_string_equal(ids[0], id_a);
    coh_market_intake_forget(id_a);
    assert_int_equal(coh_market_intake_cached(ids, 64), 0);
    assert_int_equal(coh_market_intake_check(other, id_a, w, sizeof w, pk, s, ct, sizeof ct, &err),
                     COH_ERR_CONFLICT);
    coh_secbuf_free(other);
    coh_market_schema_free(s);
    coh_secbuf_free(sk);
    coh_secbuf_free(master);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bound_to_its_request),
        cmocka_unit_test(test_intake_with_a_moved_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
