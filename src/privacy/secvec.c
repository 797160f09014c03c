/*
 * secvec: growable byte vectors in sodium_malloc memory, the only storage the privacy
 * module uses for plaintext cells and anything derived from them. Growth copies into a new
 * guarded block and sodium_free wipes the old one, so no stale plaintext stays behind in the
 * heap. Blocks above the RLIMIT_MEMLOCK limit are not locked (libsodium ignores the mlock
 * failure) but are still wiped on free.
 */
#include "privacy/internal.h"

#include <sodium.h>
#include <string.h>

void *coh_sec_alloc(size_t n)
{
    void *p = sodium_malloc(n ? n : 1);
    if (p)
        memset(p, 0, n ? n : 1);
    return p;
}

void coh_sec_free(void *p)
{
    if (p)
        sodium_free(p);
}

int coh_svec_reserve(struct coh_svec *v, size_t extra)
{
    if (v->len + extra <= v->cap)
        return 0;
    size_t cap = v->cap ? v->cap : 256;
    while (cap < v->len + extra) {
        if (cap > SIZE_MAX / 2)
            return COH_ERR_NOMEM;
        cap *= 2;
    }
    uint8_t *p = sodium_malloc(cap);
    if (!p)
        return COH_ERR_NOMEM;
    if (v->len)
        memcpy(p, v->p, v->len);
    if (v->p)
        sodium_free(v->p);
    v->p = p;
    v->cap = cap;
    return 0;
}

int coh_svec_alloc(struct coh_svec *v, size_t n)
{
    coh_svec_free(v);
    v->p = coh_sec_alloc(n);
    if (!v->p)
        return COH_ERR_NOMEM;
    v->len = v->cap = n;
    return 0;
}

void coh_svec_free(struct coh_svec *v)
{
    if (v->p)
        sodium_free(v->p);
    v->p = NULL;
    v->len = v->cap = 0;
}
