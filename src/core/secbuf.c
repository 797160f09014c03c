/*
 * secbuf: the only place plaintext and keys live. sodium_malloc gives guard pages, mlock and
 * canaries; sodium_free wipes before releasing.
 */
#include "core/core.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

struct coh_secbuf {
    uint8_t *data; /* sodium_malloc'd, len bytes (at least 1 allocated) */
    size_t len;
};

coh_secbuf *coh_secbuf_new(size_t len)
{
    coh_secbuf *b = malloc(sizeof *b);
    if (!b)
        return NULL;
    b->data = sodium_malloc(len ? len : 1);
    if (!b->data) {
        free(b);
        return NULL;
    }
    memset(b->data, 0, len ? len : 1);
    b->len = len;
    return b;
}

void coh_secbuf_free(coh_secbuf *b)
{
    if (!b)
        return;
    sodium_free(b->data);
    free(b);
}

uint8_t *coh_secbuf_data(coh_secbuf *b)
{
    return b->data;
}

size_t coh_secbuf_len(const coh_secbuf *b)
{
    return b->len;
}
