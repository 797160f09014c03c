/*
 * siwe_format: writes Sign-In with Ethereum (EIP-4361) message text from its fields, byte for
 * byte as the reference `siwe` library's prepareMessage() does, so what a Cohort client signs
 * is what a browser wallet would sign. The result is parsed back before it is returned: a
 * field that would make the text invalid (or, holding a newline, change its structure) is
 * refused rather than signed. Used by `cohort sign-in`; a message or two per process.
 */
#include "crypto/crypto.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIWE_HEADER " wants you to sign in with your Ethereum account:\n"

/* A present field must be a single line. */
static int one_line(const char *s)
{
    return !s || !strpbrk(s, "\r\n");
}

/* Appends to a growing buffer; on overflow of cap, counts only (the caller sizes first). */
struct out {
    char *buf;
    size_t len, cap;
};

static void put(struct out *o, const char *a, const char *b)
{
    size_t na = strlen(a), nb = b ? strlen(b) : 0;
    if (o->buf && o->len + na + nb < o->cap) {
        memcpy(o->buf + o->len, a, na);
        memcpy(o->buf + o->len + na, b ? b : "", nb);
        o->buf[o->len + na + nb] = '\0';
    }
    o->len += na + nb;
}

/* Writes the message into o (counting only when o->buf is NULL). */
static void render(struct out *o, const coh_crypto_siwe_msg *m, const char *address)
{
    char chain[24];
    snprintf(chain, sizeof chain, "%" PRIu64, m->chain_id);
    if (m->scheme)
        put(o, m->scheme, "://");
    put(o, m->domain, SIWE_HEADER);
    put(o, address, "\n\n");
    if (m->statement)
        put(o, m->statement, "\n");
    put(o, "\nURI: ", m->uri);
    put(o, "\nVersion: ", m->version ? m->version : "1");
    put(o, "\nChain ID: ", chain);
    put(o, "\nNonce: ", m->nonce);
    put(o, "\nIssued At: ", m->issued_at);
    if (m->expiration_time)
        put(o, "\nExpiration Time: ", m->expiration_time);
    if (m->not_before)
        put(o, "\nNot Before: ", m->not_before);
    if (m->request_id)
        put(o, "\nRequest ID: ", m->request_id);
    if (m->resources) { /* an empty list still writes the line, as siwe does for [] */
        put(o, "\nResources:", NULL);
        for (size_t i = 0; i < m->n_resources; i++)
            put(o, "\n- ", m->resources[i]);
    }
}

int coh_crypto_siwe_format(char **out, size_t *out_len, const coh_crypto_siwe_msg *m)
{
    *out = NULL;
    if (out_len)
        *out_len = 0;
    if (!m || !m->domain || !m->uri || !m->nonce || !m->issued_at ||
        (m->n_resources && !m->resources))
        return COH_ERR_INVALID;
    int single = one_line(m->scheme) && one_line(m->domain) && one_line(m->statement) &&
                 one_line(m->uri) && one_line(m->version) && one_line(m->nonce) &&
                 one_line(m->issued_at) && one_line(m->expiration_time) &&
                 one_line(m->not_before) && one_line(m->request_id);
    for (size_t i = 0; i < m->n_resources; i++)
        single = single && m->resources[i] && one_line(m->resources[i]);
    if (!single)
        return COH_SIWE_EFORMAT;

    char address[COH_ADDR_HEX_SIZE];
    coh_crypto_address_format(address, m->address);
    struct out o = {0};
    render(&o, m, address);
    o.cap = o.len + 1;
    o.buf = malloc(o.cap);
    if (!o.buf)
        return COH_ERR_NOMEM;
    o.len = 0;
    render(&o, m, address);

    /* What we would sign must be a message any verifier accepts. */
    coh_crypto_siwe_msg check;
    int rc = coh_crypto_siwe_parse(&check, o.buf, o.len);
    coh_crypto_siwe_msg_clear(&check);
    if (rc) {
        free(o.buf);
        return rc;
    }
    *out = o.buf;
    if (out_len)
        *out_len = o.len;
    return 0;
}
