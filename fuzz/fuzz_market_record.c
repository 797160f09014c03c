/*
 * fuzz_market_record: decrypted contributions (flat JSON records in secure memory) appended
 * by coh_market_record_append to a table of the request's schema. The first input byte picks
 * one of two schemas; the rest is the record. Property: an error never echoes a value (see
 * check_no_echo).
 */
#include "fuzz.h"
#include "market/market.h"

#include <string.h>

static const char *const g_schemas[2] = {
    "{\"fields\":[{\"name\":\"age\",\"type\":\"integer\",\"min\":18,\"max\":100,"
    "\"role\":\"quasi-identifier\"},{\"name\":\"bmi\",\"type\":\"decimal\",\"min\":\"10\","
    "\"max\":\"60\",\"decimals\":1,\"role\":\"measure\"},{\"name\":\"sex\",\"type\":\"category\","
    "\"categories\":[\"f\",\"m\"],\"role\":\"sensitive\"}]}",
    "{\"fields\":[{\"name\":\"steps\",\"type\":\"integer\",\"min\":-5,\"max\":100000,"
    "\"role\":\"measure\"},{\"name\":\"hr\",\"type\":\"decimal\",\"min\":\"-1.25\","
    "\"max\":\"250\",\"decimals\":2,\"role\":\"measure\"},{\"name\":\"region\","
    "\"type\":\"category\",\"categories\":[\"north\",\"south\",\"\\u00e9st\"],"
    "\"role\":\"quasi-identifier\"}]}",
};
static coh_market_schema *g_parsed[2];

/* Member names are echoed by design ("'x' is not a field"): a token inside one is exempt. */
static int in_a_key(json_t *obj, const char *s)
{
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v)
    {
        if (strstr(k, s))
            return 1;
    }
    return 0;
}

/* Aborts if msg contains a string value (8+ chars: shorter ones occur in the messages' own
 * words, e.g. " no" in "is not") or an integer value (4+ digits) of the record that is
 * neither inside a member name of the record nor text of the schema. Byte offsets in
 * messages are numbers too, so messages naming an offset are checked for strings only. */
static void check_no_echo(const char *msg, const uint8_t *rec, size_t len, const char *schema)
{
    json_t *obj = json_loadb((const char *)rec, len, JSON_DECODE_ANY, NULL);
    if (!json_is_object(obj)) {
        json_decref(obj);
        return;
    }
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v)
    {
        char num[32];
        const char *tok = NULL;
        if (json_is_string(v) && json_string_length(v) >= 8)
            tok = json_string_value(v);
        else if (json_is_integer(v) && !strstr(msg, "at byte") &&
                 (json_integer_value(v) >= 1000 || json_integer_value(v) <= -1000)) {
            snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
            tok = num;
        }
        if (tok && !in_a_key(obj, tok) && !strstr(schema, tok) && strstr(msg, tok)) {
            fprintf(stderr, "error message echoes a value: %s\n", msg);
            abort();
        }
    }
    json_decref(obj);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned which = data[0] & 1;
    if (!g_parsed[which]) {
        json_t *j = json_loads(g_schemas[which], 0, NULL);
        coh_err e = {0};
        FUZZ_CHECK(j && coh_market_schema_parse(&g_parsed[which], j, &e) == 0);
        json_decref(j);
    }
    coh_table *t = NULL;
    coh_err err = {0};
    FUZZ_CHECK(coh_market_schema_table(&t, g_parsed[which], &err) == 0);
    coh_secbuf *plain = coh_secbuf_new(size - 1);
    FUZZ_CHECK(plain != NULL);
    if (size > 1)
        memcpy(coh_secbuf_data(plain), data + 1, size - 1);
    if (coh_market_record_append(t, g_parsed[which], plain, &err) != 0)
        check_no_echo(err.msg, data + 1, size - 1, g_schemas[which]);
    coh_secbuf_free(plain);
    coh_table_free(t);
    return 0;
}
