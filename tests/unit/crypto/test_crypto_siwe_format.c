/*
 * test_crypto_siwe_format: coh_crypto_siwe_format writes what the `siwe` library's
 * prepareMessage() writes. Messages of tests/vectors/ethereum.json (made by siwe) are rebuilt
 * from their params byte for byte; every positive case of the reference suite
 * (tests/vectors/siwe/parsing_positive.json) survives parse -> format unchanged; a message
 * built from scratch parses back to its fields, and bad fields are refused.
 */
#include "testutil.h"

#include <inttypes.h>

static const char *opt(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* Fields as a client fills them (siwe field names in p); the address is given as bytes.
 * res (room for 8) holds the resources. */
static void fields_from_params(coh_crypto_siwe_msg *m, const char *res[8], const json_t *p)
{
    memset(m, 0, sizeof *m);
    m->domain = vstr(p, "domain");
    assert_int_equal(coh_crypto_address_parse(m->address, vstr(p, "address")), 0);
    m->statement = opt(p, "statement");
    m->uri = vstr(p, "uri");
    m->version = vstr(p, "version");
    m->chain_id = (uint64_t)json_integer_value(json_object_get(p, "chainId"));
    m->nonce = vstr(p, "nonce");
    m->issued_at = vstr(p, "issuedAt");
    m->expiration_time = opt(p, "expirationTime");
    m->not_before = opt(p, "notBefore");
    m->request_id = opt(p, "requestId");
    json_t *r = json_object_get(p, "resources");
    if (json_is_array(r)) {
        assert_true(json_array_size(r) <= 8);
        for (size_t i = 0; i < json_array_size(r); i++)
            res[i] = json_string_value(json_array_get(r, i));
        m->resources = res;
        m->n_resources = json_array_size(r);
    }
}

static void test_matches_siwe_library(void **state)
{
    (void)state;
    json_t *vec = vec_load("ethereum.json");
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(json_object_get(vec, "siwe"), "valid"), i, c)
    {
        coh_crypto_siwe_msg m;
        const char *res[8];
        fields_from_params(&m, res, json_object_get(c, "params"));
        char *text = NULL;
        size_t len = 0;
        assert_int_equal(coh_crypto_siwe_format(&text, &len, &m), 0);
        assert_string_equal(text, vstr(c, "message"));
        assert_int_equal(len, strlen(text));
        /* Hence the same EIP-191 hash the wallet signed. */
        uint8_t h[32];
        coh_crypto_personal_hash(h, text, len);
        assert_hex(h, 32, vstr(c, "message_hash"));
        free(text);
    }
    assert_int_equal(i, 5);
    json_decref(vec);
}

static void test_round_trip_reference_suite(void **state)
{
    (void)state;
    json_t *pos = vec_load("siwe/parsing_positive.json");
    const char *name;
    json_t *c;
    size_t n = 0;
    json_object_foreach(pos, name, c)
    {
        const char *want = vstr(c, "message");
        coh_crypto_siwe_msg m;
        assert_int_equal(coh_crypto_siwe_parse(&m, want, strlen(want)), 0);
        char *text = NULL;
        int rc = coh_crypto_siwe_format(&text, NULL, &m);
        if (rc)
            fail_msg("'%s': %s", name, coh_crypto_strerror(rc));
        if (strcmp(text, want) != 0)
            fail_msg("'%s' formats as\n%s\ninstead of\n%s", name, text, want);
        free(text);
        coh_crypto_siwe_msg_clear(&m);
        n++;
    }
    assert_int_equal(n, 19);
    json_decref(pos);
}

/* A client's message (as `cohort sign-in` builds it) parses back to the same fields and
 * verifies once signed. */
static void test_build_parse_sign(void **state)
{
    (void)state;
    coh_secbuf *key = NULL;
    assert_int_equal(coh_crypto_seckey_generate(&key), 0);
    for (int with_statement = 0; with_statement < 2; with_statement++) {
        coh_crypto_siwe_msg in;
        memset(&in, 0, sizeof in);
        assert_int_equal(coh_crypto_address_from_seckey(in.address, key), 0);
        in.domain = "127.0.0.1:8080";
        in.statement = with_statement ? "Sign in to Cohort." : NULL;
        in.uri = "http://127.0.0.1:8080";
        in.chain_id = 31337;
        in.nonce = "0123456789abcdef0123456789abcdef";
        in.issued_at = "2025-06-01T00:00:00.000Z";
        in.expiration_time = "2025-06-01T00:05:00.000Z";
        char *text = NULL;
        size_t len = 0;
        assert_int_equal(coh_crypto_siwe_format(&text, &len, &in), 0);
        /* Without a statement the address is followed by three line feeds (EIP-4361 ABNF). */
        char addr[43], head[160];
        coh_crypto_address_format(addr, in.address);
        snprintf(head, sizeof head,
                 "127.0.0.1:8080 wants you to sign in with your Ethereum account:\n%s\n\n%s", addr,
                 with_statement ? "Sign in to Cohort.\n\nURI: " : "\nURI: ");
        assert_memory_equal(text, head, strlen(head));

        coh_crypto_siwe_msg out;
        assert_int_equal(coh_crypto_siwe_parse(&out, text, len), 0);
        assert_string_equal(out.domain, in.domain);
        assert_null(out.scheme);
        assert_string_equal(out.address_text, addr);
        if (with_statement)
            assert_string_equal(out.statement, in.statement);
        else
            assert_null(out.statement);
        assert_string_equal(out.uri, in.uri);
        assert_string_equal(out.version, "1");
        assert_int_equal(out.chain_id, 31337);
        assert_string_equal(out.nonce, in.nonce);
        assert_string_equal(out.issued_at, in.issued_at);
        assert_string_equal(out.expiration_time, in.expiration_time);
        assert_null(out.not_before);
        assert_null(out.request_id);
        assert_null(out.resources);

        uint8_t h[32], sig[65];
        coh_crypto_personal_hash(h, text, len);
        assert_int_equal(coh_crypto_sign(sig, key, h), 0);
        coh_crypto_siwe_expect e = {.domain = in.domain,
                                    .uri = in.uri,
                                    .chain_id = 31337,
                                    .now_ms = out.issued_at_ms + 1000,
                                    .skew_ms = 0,
                                    .check_issued_at = 1};
        assert_int_equal(coh_crypto_siwe_verify(&out, sig, 65, &e), 0);
        coh_crypto_siwe_msg_clear(&out);
        free(text);
    }
    coh_secbuf_free(key);
}

static void test_rejects(void **state)
{
    (void)state;
    coh_crypto_siwe_msg base;
    memset(&base, 0, sizeof base);
    base.domain = "example.com";
    base.uri = "https://example.com/login";
    base.chain_id = 1;
    base.nonce = "abcdefgh12";
    base.issued_at = "2025-06-01T00:00:00Z";
    char *text = (char *)"untouched";
    assert_int_equal(coh_crypto_siwe_format(&text, NULL, &base), 0);
    free(text);

    struct {
        const char **field;
        const char *value;
        int want;
    } cases[] = {
        {&base.statement, "one\nURI: https://evil.example", COH_SIWE_EFORMAT},
        {&base.statement, "carriage\rreturn", COH_SIWE_EFORMAT},
        {&base.statement, "no \"quotes\"", COH_SIWE_ESTATEMENT},
        {&base.domain, "exa mple.com", COH_SIWE_EDOMAIN},
        {&base.uri, "not a uri", COH_SIWE_EURI},
        {&base.version, "2", COH_SIWE_EVERSION},
        {&base.nonce, "short", COH_SIWE_ENONCE},
        {&base.nonce, "abcdefgh12\nExpiration Time: x", COH_SIWE_EFORMAT},
        {&base.issued_at, "yesterday", COH_SIWE_EISSUED_AT},
        {&base.expiration_time, "2025-13-01T00:00:00Z", COH_SIWE_EEXPIRATION},
        {&base.nonce, NULL, COH_ERR_INVALID},
        {&base.issued_at, NULL, COH_ERR_INVALID},
        {&base.uri, NULL, COH_ERR_INVALID},
        {&base.domain, NULL, COH_ERR_INVALID},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        coh_crypto_siwe_msg saved = base;
        *cases[i].field = cases[i].value;
        text = (char *)"untouched";
        size_t len = 7;
        int rc = coh_crypto_siwe_format(&text, &len, &base);
        if (rc != cases[i].want)
            fail_msg("case %zu: got %d (%s), want %d", i, rc, coh_crypto_strerror(rc),
                     cases[i].want);
        assert_null(text); /* outputs cleared on failure */
        assert_int_equal(len, 0);
        base = saved;
    }

    /* An empty statement is allowed by the ABNF (*( reserved / unreserved / " " )): its
     * line is there, empty, as siwe writes it for statement "". */
    base.statement = "";
    assert_int_equal(coh_crypto_siwe_format(&text, NULL, &base), 0);
    assert_non_null(
        strstr(text, "account:\n0x0000000000000000000000000000000000000000\n\n\n\nURI: "));
    coh_crypto_siwe_msg back;
    assert_int_equal(coh_crypto_siwe_parse(&back, text, strlen(text)), 0);
    assert_string_equal(back.statement, "");
    coh_crypto_siwe_msg_clear(&back);
    free(text);
    base.statement = NULL;

    /* Resources: a list (even empty) writes its line; entries must be URIs on one line. */
    const char *res[] = {"ipfs://bafybeiemxf5abjwjbikoz4mc3a3dla6ual3jsgpdr4cjr3oz3evfyavhwq/",
                         "https://example.com/a b"};
    base.resources = res;
    base.n_resources = 1;
    assert_int_equal(coh_crypto_siwe_format(&text, NULL, &base), 0);
    assert_non_null(strstr(text, "\nResources:\n- ipfs://"));
    free(text);
    base.n_resources = 0;
    assert_int_equal(coh_crypto_siwe_format(&text, NULL, &base), 0);
    assert_non_null(strstr(text, "\nResources:"));
    free(text);
    base.n_resources = 2;
    assert_int_equal(coh_crypto_siwe_format(&text, NULL, &base), COH_SIWE_ERESOURCES);
    base.resources = NULL;
    assert_int_equal(coh_crypto_siwe_format(&text, NULL, &base), COH_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_siwe_library),
        cmocka_unit_test(test_round_trip_reference_suite),
        cmocka_unit_test(test_build_parse_sign),
        cmocka_unit_test(test_rejects),
    };
    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
