/*
 * cmd_sign_in: `cohort sign-in`, Sign-In with Ethereum from a shell. It asks the server for
 * a nonce, writes the EIP-4361 message a wallet would show, signs its EIP-191 hash with the
 * account key file and trades message and signature for a bearer token, printed alone on
 * stdout so that `TOKEN=$(cohort sign-in ...)` works.
 *
 * Like a wallet, it refuses to sign for a domain other than the one it is talking to: a
 * server could otherwise hand out a message valid on another site. The key file is read
 * first (a bad one fails before any network traffic); the private key stays in secure
 * memory and is freed as soon as the message is signed.
 *
 * The exchange itself (coh_cli_sign_in, declared in sign_in.h) is shared with the commands
 * that act as a signed-in user, such as `cohort contribute`.
 */
#include "cli/cli.h"
#include "cli/http_client.h"
#include "cli/sign_in.h"
#include "core/core.h"
#include "crypto/crypto.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CMD "sign-in"

static const char USAGE[] =
    "usage: cohort sign-in --url URL --key FILE [--statement TEXT]\n"
    "\n"
    "Signs in to the Cohort server at URL (e.g. http://127.0.0.1:8080) with Sign-In with\n"
    "Ethereum and prints the bearer token on stdout.\n"
    "--url        the server's base URL; its host:port must be the domain the server signs\n"
    "             in for.\n"
    "--key        an account key file made by `cohort keys new` (mode 0600).\n"
    "--statement  a one-line statement to include in the message.\n";

const struct coh_cli_cmd coh_cli_cmd_sign_in;

/* What GET /v1/auth/nonce answered. Strings point into json. */
struct nonce_info {
    json_t *json;
    const char *nonce, *domain, *uri;
    json_int_t chain_id, expires_in;
};

/* RFC 3339 UTC with milliseconds, as JavaScript's Date.toISOString() writes it. */
static void iso_time(char out[40], const struct timespec *ts, long add_s)
{
    time_t t = ts->tv_sec + add_s;
    struct tm tm;
    gmtime_r(&t, &tm);
    char sec[24];
    strftime(sec, sizeof sec, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, 40, "%.19s.%03dZ", sec, (int)(ts->tv_nsec / 1000000) % 1000);
}

/* The authority ("host:port") of url into out; "" if url has no "scheme://". */
static void url_authority(char *out, size_t cap, const char *url)
{
    const char *s = strstr(url, "://");
    if (!s) {
        out[0] = '\0';
        return;
    }
    s += 3;
    snprintf(out, cap, "%.*s", (int)strcspn(s, "/?#"), s);
}

static int fetch_nonce(struct nonce_info *ni, const char *cmd, const char *base)
{
    memset(ni, 0, sizeof *ni);
    char url[2048];
    snprintf(url, sizeof url, "%s/v1/auth/nonce", base);
    long status;
    coh_err err = {0};
    if (coh_cli_http_call(&ni->json, &status, url, NULL, NULL, &err))
        return coh_cli_fail(cmd, "%s%s", status ? "cannot get a nonce: " : "", err.msg);
    json_t *j = ni->json;
    ni->nonce = json_string_value(json_object_get(j, "nonce"));
    ni->domain = json_string_value(json_object_get(j, "domain"));
    ni->uri = json_string_value(json_object_get(j, "uri"));
    json_t *chain = json_object_get(j, "chain_id"), *ttl = json_object_get(j, "expires_in");
    if (!ni->nonce || !ni->domain || !ni->uri || !json_is_integer(chain) ||
        json_integer_value(chain) < 0 || !json_is_integer(ttl) || json_integer_value(ttl) <= 0 ||
        json_integer_value(ttl) > 86400) {
        json_decref(ni->json);
        ni->json = NULL;
        return coh_cli_fail(cmd,
                            "%s did not answer a nonce (expected JSON with nonce, domain, uri, "
                            "chain_id and expires_in)",
                            url);
    }
    ni->chain_id = json_integer_value(chain);
    ni->expires_in = json_integer_value(ttl);
    return 0;
}

/* Builds and signs the message; *message is malloc'd, sig_hex gets "0x" + 130 hex. */
static int sign_message(char **message, char sig_hex[COH_SIG_HEX_SIZE], const char *cmd,
                        const struct nonce_info *ni, const char *statement, const coh_secbuf *key)
{
    *message = NULL;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    char issued[40], expires[40];
    iso_time(issued, &now, 0);
    iso_time(expires, &now, (long)ni->expires_in);
    coh_crypto_siwe_msg m;
    memset(&m, 0, sizeof m);
    m.domain = ni->domain;
    m.statement = statement;
    m.uri = ni->uri;
    m.chain_id = (uint64_t)ni->chain_id;
    m.nonce = ni->nonce;
    m.issued_at = issued;
    m.expiration_time = expires;
    size_t len = 0;
    uint8_t hash[32], sig[65];
    int rc = coh_crypto_address_from_seckey(m.address, key);
    if (rc == 0)
        rc = coh_crypto_siwe_format(message, &len, &m);
    if (rc == 0) {
        coh_crypto_personal_hash(hash, *message, len);
        rc = coh_crypto_sign(sig, key, hash);
    }
    if (rc) {
        free(*message);
        *message = NULL;
        if (statement && (rc == COH_SIWE_ESTATEMENT || rc == COH_SIWE_EFORMAT))
            return coh_cli_fail(cmd, "--statement: %s", coh_crypto_strerror(rc));
        return coh_cli_fail(cmd, "cannot build the sign-in message: %s", coh_crypto_strerror(rc));
    }
    coh_hex_encode(sig_hex, sig, sizeof sig, 1);
    return 0;
}

/* Trades message and signature for a token; *token is malloc'd on success. */
static int post_siwe(char **token, const char *cmd, const char *base, const char *message,
                     const char *sig_hex)
{
    *token = NULL;
    char url[2048];
    snprintf(url, sizeof url, "%s/v1/auth/siwe", base);
    json_t *req = json_pack("{s:s,s:s}", "message", message, "signature", sig_hex);
    char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    if (!body)
        return coh_cli_fail(cmd, "out of memory");
    json_t *j = NULL;
    long status;
    coh_err err = {0};
    int rc = coh_cli_http_call(&j, &status, url, body, NULL, &err);
    free(body);
    if (rc)
        return coh_cli_fail(cmd, "%s%s", status ? "sign-in refused: " : "", err.msg);
    const char *t = json_string_value(json_object_get(j, "token"));
    if (!t || !*t || strpbrk(t, " \t\r\n")) {
        json_decref(j);
        return coh_cli_fail(cmd, "%s answered 200 without a token", url);
    }
    *token = strdup(t);
    json_decref(j);
    return *token ? 0 : coh_cli_fail(cmd, "out of memory");
}

int coh_cli_base_url(char *base, size_t base_cap, char *authority, size_t authority_cap,
                     const char *url)
{
    size_t n = strlen(url);
    while (n > 0 && url[n - 1] == '/')
        n--;
    if (n == 0 || n >= base_cap)
        return -1;
    memcpy(base, url, n);
    base[n] = '\0';
    url_authority(authority, authority_cap, base);
    return authority[0] ? 0 : -1;
}

int coh_cli_sign_in(char **token, const char *cmd, const char *base, const char *authority,
                    const coh_secbuf *key, const char *statement)
{
    *token = NULL;
    struct nonce_info ni;
    char *message = NULL, sig_hex[COH_SIG_HEX_SIZE];
    int rc = fetch_nonce(&ni, cmd, base);
    if (rc == 0 && strcmp(ni.domain, authority) != 0)
        rc = coh_cli_fail(cmd,
                          "the server at %s asks to sign in for domain '%s', not '%s'; refusing "
                          "to sign",
                          base, ni.domain, authority);
    if (rc == 0)
        rc = sign_message(&message, sig_hex, cmd, &ni, statement, key);
    json_decref(ni.json);
    if (rc == 0)
        rc = post_siwe(token, cmd, base, message, sig_hex);
    free(message);
    return rc;
}

static int run(int argc, char **argv)
{
    const char *url = NULL, *key = NULL, *statement = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--url") == 0 && i + 1 < argc)
            url = argv[++i];
        else if (strcmp(argv[i], "--key") == 0 && i + 1 < argc)
            key = argv[++i];
        else if (strcmp(argv[i], "--statement") == 0 && i + 1 < argc)
            statement = argv[++i];
        else
            return coh_cli_usage_error(&coh_cli_cmd_sign_in, "unexpected argument '%s'", argv[i]);
    }
    if (!url || !key)
        return coh_cli_usage_error(&coh_cli_cmd_sign_in, "--url URL and --key FILE are required");

    char base[1024], authority[512];
    if (strlen(url) == 0 || strlen(url) >= sizeof base)
        return coh_cli_usage_error(&coh_cli_cmd_sign_in, "bad --url '%s'", url);
    if (coh_cli_base_url(base, sizeof base, authority, sizeof authority, url) != 0)
        return coh_cli_usage_error(&coh_cli_cmd_sign_in,
                                   "--url must be an absolute URL such as http://host:port");

    coh_secbuf *seckey = NULL;
    coh_err err = {0};
    int rc = coh_crypto_seckey_load(&seckey, key, &err);
    if (rc)
        return coh_cli_fail(CMD, "%s", err.msg[0] ? err.msg : coh_crypto_strerror(rc));
    char *token = NULL;
    rc = coh_cli_sign_in(&token, CMD, base, authority, seckey, statement);
    coh_secbuf_free(seckey);
    if (rc)
        return rc;
    printf("%s\n", token);
    sodium_memzero(token, strlen(token));
    free(token);
    return fflush(stdout) == 0 ? 0 : coh_cli_fail(CMD, "cannot write the token");
}

const struct coh_cli_cmd coh_cli_cmd_sign_in = {
    CMD, "sign in with an account key (Sign-In with Ethereum) and print a bearer token", USAGE,
    run};
