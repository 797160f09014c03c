/*
 * cmd_contribute: `cohort contribute`, what a contributor's device does for one data request:
 * sign in (or use --token), fetch the request, give the EIP-712 consent if none is live yet,
 * seal the record to the request's X25519 public key with crypto_box_seal and submit the
 * ciphertext. The server opens it in guarded memory and validates it against the schema; its
 * answer (naming the offending field, never a value) is printed on one line.
 *
 * The record is plaintext personal data: it is read straight from the file into secure
 * memory (coh_secbuf), and checked to be a JSON object by jansson running on a wiping
 * allocator, so no copy of a value outlives the check on the ordinary heap. The consent is
 * signed over the typed data the server publishes, after checking that it is the version-2
 * consent to this request: its id, purpose, and the termsHash and privacy summary computed
 * here from the request as fetched, so a server cannot have it sign terms other than those
 * the request shows. The summary is printed with the result.
 */
#include "cli/cli.h"
#include "cli/http_client.h"
#include "cli/sign_in.h"
#include "core/core.h"
#include "crypto/crypto.h"
#include "market/market.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CMD "contribute"
/* The server takes sealed records of 49..65536 bytes: plaintext up to 65536 - 48. */
#define MAX_RECORD (65536 - COH_CRYPTO_BOX_SEALBYTES)

static const char USAGE[] =
    "usage: cohort contribute --request ID --record FILE --url URL (--key FILE | --token T)\n"
    "                         [--code CODE] [--attestation FILE]\n"
    "\n"
    "Contributes one record to a data request: signs in with the key (unless --token is\n"
    "given), gives the request's EIP-712 consent if none is live yet, seals the record to the\n"
    "request's public key (crypto_box_seal) and submits it. Prints one line on success.\n"
    "--request  the request id, 0x followed by 64 hex digits.\n"
    "--record   a file holding the record: one JSON object {\"field\": value, ...} that the\n"
    "           server checks against the request's schema.\n"
    "--url      the server's base URL, e.g. http://127.0.0.1:8080.\n"
    "--key      the account key file made by `cohort keys new` (mode 0600); it signs in and\n"
    "           signs the consent.\n"
    "--token    a bearer token from `cohort sign-in`, instead of signing in again (a consent\n"
    "           still needs --key).\n"
    "--code     the invite code the researcher gave you, for a request by invitation; sent\n"
    "           with the consent.\n"
    "--attestation  the EAS off-chain attestation file an issuer gave you (JSON, as easscan\n"
    "           or the EAS SDK export it), for an attested request; sent with the consent.\n";

const struct coh_cli_cmd coh_cli_cmd_contribute;

/* ---- a jansson allocator that wipes what it frees --------------------------------------- */
/* Each block carries its size in a header aligned like malloc's, so free can wipe it. */
typedef union {
    size_t size;
    max_align_t align;
} wipe_hdr;

static void *wipe_malloc(size_t n)
{
    if (n > SIZE_MAX - sizeof(wipe_hdr))
        return NULL;
    wipe_hdr *h = malloc(sizeof *h + n);
    if (!h)
        return NULL;
    h->size = n;
    return h + 1;
}

static void wipe_free(void *p)
{
    if (!p)
        return;
    wipe_hdr *h = (wipe_hdr *)p - 1;
    sodium_memzero(p, h->size);
    free(h);
}

/* 1 when buf holds exactly one JSON object; err gets jansson's complaint otherwise. */
static int is_json_object(const uint8_t *buf, size_t len, char *why, size_t why_cap)
{
    json_malloc_t saved_malloc;
    json_free_t saved_free;
    json_get_alloc_funcs(&saved_malloc, &saved_free);
    json_set_alloc_funcs(wipe_malloc, wipe_free);
    json_error_t jerr;
    json_t *j = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &jerr);
    int ok = json_is_object(j);
    if (!j)
        snprintf(why, why_cap, "not JSON (line %d, column %d: %s)", jerr.line, jerr.column,
                 jerr.text);
    else if (!ok)
        snprintf(why, why_cap, "not a JSON object {\"field\": value, ...}");
    json_decref(j);
    sodium_memzero(&jerr, sizeof jerr); /* its source excerpt may quote the record */
    json_set_alloc_funcs(saved_malloc, saved_free);
    return ok;
}

/* Reads path into new secure memory, exactly its size. 0, or 1 after a message. */
static int record_read(coh_secbuf **out, const char *path)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return coh_cli_fail(CMD, "--record: cannot open %s: %s", path, strerror(errno));
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        rc = coh_cli_fail(CMD, "--record: %s is not a regular file", path);
    else if (st.st_size == 0 || st.st_size > MAX_RECORD)
        rc = coh_cli_fail(CMD, "--record: %s must hold 1 to %d bytes, not %lld", path, MAX_RECORD,
                          (long long)st.st_size);
    coh_secbuf *b = rc ? NULL : coh_secbuf_new((size_t)st.st_size);
    if (!rc && !b)
        rc = coh_cli_fail(CMD, "out of secure memory");
    size_t got = 0;
    while (!rc && got < (size_t)st.st_size) {
        ssize_t n = read(fd, coh_secbuf_data(b) + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            rc = coh_cli_fail(CMD, "--record: cannot read %s: %s", path,
                              n < 0 ? strerror(errno) : "file shrank while reading");
        else
            got += (size_t)n;
    }
    close(fd);
    char why[200];
    if (!rc && !is_json_object(coh_secbuf_data(b), coh_secbuf_len(b), why, sizeof why))
        rc = coh_cli_fail(CMD, "--record: %s is %s", path, why);
    if (rc)
        coh_secbuf_free(b);
    else
        *out = b;
    return rc;
}

/* What the command works with; strings are owned. */
struct session {
    char base[1024], authority[512];
    char id[COH_HASH_HEX_SIZE];
    char *token;     /* bearer; wiped on free */
    json_t *request; /* GET /v1/requests/{id} */
    uint8_t pk[32];  /* its public_key, decoded once by fetch_request */
};

/* GET or POST base + path as the signed-in user; *out the JSON answer. 0, or 1 after a message
 * "cohort contribute: WHAT: HTTP 4xx: detail". */
static int call(json_t **out, const struct session *s, const char *what, const char *path,
                const char *body)
{
    char url[2048];
    snprintf(url, sizeof url, "%s%s", s->base, path);
    long status = 0;
    coh_err err = {0};
    if (coh_cli_http_call(out, &status, url, body, s->token, &err) != 0)
        return status ? coh_cli_fail(CMD, "%s: %s", what, err.msg)
                      : coh_cli_fail(CMD, "%s", err.msg);
    return 0;
}

static int fetch_request(struct session *s)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/requests/%s", s->id);
    if (call(&s->request, s, "cannot get the request", path, NULL))
        return 1;
    const char *status = json_string_value(json_object_get(s->request, "status"));
    const char *pk = json_string_value(json_object_get(s->request, "public_key"));
    if (!status || !pk || coh_hex_decode_exact(s->pk, sizeof s->pk, pk) != 0)
        return coh_cli_fail(CMD, "%s%s did not answer a request with status and public_key",
                            s->base, path);
    if (strcmp(status, "open") != 0)
        return coh_cli_fail(CMD, "request %s is %s, not open for contributions", s->id, status);
    return 0;
}

/* Checks that typed data is this request's version-2 consent, terms and all, before signing
 * it; *summary (malloc'd) gets the privacy summary the signature agrees to. */
static int typed_data_check(char **summary, const struct session *s, const json_t *td)
{
    const json_t *msg = json_object_get(td, "message");
    const char *rid = json_string_value(json_object_get(msg, "requestId"));
    const char *purpose = json_string_value(json_object_get(msg, "purpose"));
    const char *want = json_string_value(json_object_get(s->request, "purpose"));
    const char *version = json_string_value(json_object_get(json_object_get(td, "domain"), "version"));
    const char *terms_hash = json_string_value(json_object_get(msg, "termsHash"));
    const char *privacy = json_string_value(json_object_get(msg, "privacy"));
    if (!json_is_object(td) || !rid || strcasecmp(rid, s->id) != 0 || !purpose || !want ||
        strcmp(purpose, want) != 0)
        return coh_cli_fail(CMD,
                            "the consent the server asks to sign is not for request %s and "
                            "its purpose; refusing to sign",
                            s->id);
    if (!version || strcmp(version, "2") != 0 || !terms_hash || !privacy)
        return coh_cli_fail(CMD,
                            "the consent the server asks to sign is not a version-2 consent "
                            "(terms hash and privacy summary); refusing to sign");
    uint8_t mine[32], theirs[32];
    coh_err err = {0};
    int rc = 0;
    if (coh_market_terms_hash(mine, s->request, &err) != 0 ||
        coh_market_terms_summary(summary, s->request, &err) != 0)
        rc = coh_cli_fail(CMD, "cannot compute the terms of request %s: %s", s->id, err.msg);
    else if (coh_hex_decode_exact(theirs, 32, terms_hash) != 0 || memcmp(mine, theirs, 32) != 0 ||
             strcmp(*summary, privacy) != 0)
        rc = coh_cli_fail(CMD,
                          "the consent the server asks to sign names other terms than request "
                          "%s shows (terms hash or privacy summary differ); refusing to sign",
                          s->id);
    if (rc) {
        free(*summary);
        *summary = NULL;
    }
    return rc;
}

/* Gives consent unless a live one exists (key may be NULL until one is needed). *given is
 * the privacy summary (malloc'd) when one was signed now, else NULL. */
static int consent_ensure(char **given, const struct session *s, const coh_secbuf *key,
                          const char *code, const json_t *attestation)
{
    *given = NULL;
    char *summary = NULL;
    char path[160];
    snprintf(path, sizeof path, "/v1/requests/%s/consents/me", s->id);
    json_t *me = NULL;
    if (call(&me, s, "cannot get the consent", path, NULL))
        return 1;
    const char *state = json_string_value(json_object_get(me, "status"));
    if (state && strcmp(state, "given") == 0) {
        json_decref(me);
        return 0;
    }
    int rc = 0;
    if (!key)
        rc = coh_cli_fail(CMD, "giving the consent for request %s needs --key", s->id);
    const json_t *td = json_object_get(me, "typed_data");
    if (!rc)
        rc = typed_data_check(&summary, s, td);
    uint8_t digest[32], raw_sig[65];
    coh_err err = {0};
    if (!rc && coh_crypto_eip712_hash(digest, NULL, NULL, td, &err) != 0)
        rc = coh_cli_fail(CMD, "cannot hash the consent's typed data: %s", err.msg);
    json_decref(me);
    if (!rc && coh_crypto_sign(raw_sig, key, digest) != 0)
        rc = coh_cli_fail(CMD, "cannot sign the consent");
    if (rc) {
        free(summary);
        return rc;
    }
    char sig_hex[COH_SIG_HEX_SIZE];
    coh_hex_encode(sig_hex, raw_sig, sizeof raw_sig, 1);
    json_t *msg = json_pack("{s:s,s:s?,s:O?}", "signature", sig_hex, "code", code,
                            "attestation", attestation);
    char *body = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
    json_decref(msg);
    if (!body) {
        free(summary);
        return coh_cli_fail(CMD, "out of memory");
    }
    snprintf(path, sizeof path, "/v1/requests/%s/consents", s->id);
    json_t *stored = NULL;
    rc = call(&stored, s, "consent refused", path, body);
    free(body);
    if (rc) {
        free(summary);
        return 1;
    }
    json_decref(stored);
    *given = summary;
    return 0;
}

/* Seals the record and submits it; *sealed_len gets the ciphertext size. */
static int submit(size_t *sealed_len, const struct session *s, const coh_secbuf *record)
{
    size_t len = coh_secbuf_len(record) + COH_CRYPTO_BOX_SEALBYTES;
    uint8_t *ct = malloc(len);
    if (!ct)
        return coh_cli_fail(CMD, "out of memory");
    int rc = coh_crypto_box_seal(ct, coh_secbuf_data((coh_secbuf *)record), coh_secbuf_len(record),
                                 s->pk);
    /* docs/API.md: byte strings are 0x hex. */
    char *body = rc ? NULL : malloc(2 * len + 20);
    if (body) {
        memcpy(body, "{\"sealed\":\"", 11);
        coh_hex_encode(body + 11, ct, len, 1);
        strcat(body, "\"}");
    }
    free(ct);
    if (rc) {
        free(body);
        return coh_cli_fail(CMD, "cannot seal the record: %s", coh_crypto_strerror(rc));
    }
    if (!body)
        return coh_cli_fail(CMD, "out of memory");
    char path[160];
    snprintf(path, sizeof path, "/v1/requests/%s/contributions", s->id);
    json_t *ans = NULL;
    rc = call(&ans, s, "contribution refused", path, body);
    free(body);
    if (rc)
        return rc;
    json_t *bytes = json_object_get(ans, "bytes");
    *sealed_len = json_is_integer(bytes) ? (size_t)json_integer_value(bytes) : len;
    json_decref(ans);
    return 0;
}

static int run(int argc, char **argv)
{
    const char *request = NULL, *record_path = NULL, *url = NULL, *key_path = NULL, *token = NULL,
               *code = NULL, *attestation_path = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **slot = strcmp(a, "--request") == 0  ? &request
                            : strcmp(a, "--record") == 0 ? &record_path
                            : strcmp(a, "--url") == 0    ? &url
                            : strcmp(a, "--key") == 0    ? &key_path
                            : strcmp(a, "--token") == 0  ? &token
                            : strcmp(a, "--code") == 0   ? &code
                            : strcmp(a, "--attestation") == 0 ? &attestation_path
                                                         : NULL;
        if (!slot || i + 1 >= argc)
            return coh_cli_usage_error(&coh_cli_cmd_contribute, "unexpected argument '%s'", a);
        *slot = argv[++i];
    }
    if (!request || !record_path || !url || (!key_path && !token))
        return coh_cli_usage_error(&coh_cli_cmd_contribute,
                                   "--request ID, --record FILE, --url URL and --key FILE (or "
                                   "--token T) are required");
    struct session s;
    memset(&s, 0, sizeof s);
    uint8_t raw_id[32];
    if (strncmp(request, "0x", 2) != 0 || coh_hex_decode_exact(raw_id, 32, request) != 0)
        return coh_cli_usage_error(&coh_cli_cmd_contribute,
                                   "--request must be 0x followed by 64 hex digits");
    coh_hex_encode(s.id, raw_id, 32, 1);
    if (coh_cli_base_url(s.base, sizeof s.base, s.authority, sizeof s.authority, url) != 0)
        return coh_cli_usage_error(&coh_cli_cmd_contribute,
                                   "--url must be an absolute URL such as http://host:port");
    if (token && (!*token || strlen(token) > 400 || strpbrk(token, " \t\r\n")))
        return coh_cli_usage_error(&coh_cli_cmd_contribute, "--token is not a bearer token");

    /* Local inputs first: a bad record or key fails before any network traffic. */
    coh_secbuf *record = NULL, *key = NULL;
    coh_err err = {0};
    int rc = record_read(&record, record_path);
    if (rc == 0 && key_path && coh_crypto_seckey_load(&key, key_path, &err) != 0)
        rc = coh_cli_fail(CMD, "%s", err.msg[0] ? err.msg : "cannot load the key");
    json_t *attestation = NULL;
    json_error_t je;
    if (rc == 0 && attestation_path &&
        !(attestation = json_load_file(attestation_path, JSON_REJECT_DUPLICATES, &je)))
        rc = coh_cli_fail(CMD, "--attestation: %s is not a JSON attestation file: %s",
                          attestation_path, je.text);
    else if (rc == 0 && attestation && !json_is_object(attestation))
        rc = coh_cli_fail(CMD, "--attestation: %s must hold one JSON object", attestation_path);
    if (rc == 0 && !token) {
        rc = coh_cli_sign_in(&s.token, CMD, s.base, s.authority, key, NULL);
    } else if (rc == 0) {
        s.token = strdup(token);
        if (!s.token)
            rc = coh_cli_fail(CMD, "out of memory");
    }
    char *given = NULL;
    size_t sealed_len = 0;
    if (rc == 0)
        rc = fetch_request(&s);
    if (rc == 0)
        rc = consent_ensure(&given, &s, key, code, attestation);
    json_decref(attestation);
    coh_secbuf_free(key); /* the key signs nothing after the consent */
    if (rc == 0)
        rc = submit(&sealed_len, &s, record);
    coh_secbuf_free(record);
    if (s.token) {
        sodium_memzero(s.token, strlen(s.token));
        free(s.token);
    }
    json_decref(s.request);
    if (rc) {
        free(given);
        return rc;
    }
    printf("contributed to %s (%zu bytes sealed%s%s)\n", s.id, sealed_len,
           given ? ", consent given: " : "", given ? given : "");
    free(given);
    return fflush(stdout) == 0 ? 0 : coh_cli_fail(CMD, "cannot write to stdout");
}

const struct coh_cli_cmd coh_cli_cmd_contribute = {
    CMD, "seal a record to a data request and submit it (gives the consent if needed)", USAGE, run};
