/*
 * bench_sink: the response body of a libcurl call gathered in memory, NUL-terminated; shared by
 * the benchmarks that talk HTTP to cohortd (bench/market, bench/inbox).
 */
#ifndef COH_BENCH_SINK_H
#define COH_BENCH_SINK_H

#include <stdlib.h>
#include <string.h>

struct sink {
    char *buf;
    size_t len;
};

/* CURLOPT_WRITEFUNCTION with CURLOPT_WRITEDATA a struct sink (zeroed at first; free buf). */
static inline size_t sink_write(char *d, size_t sz, size_t n, void *u)
{
    struct sink *s = u;
    char *b = realloc(s->buf, s->len + sz * n + 1);
    if (!b)
        return 0;
    memcpy(b + s->len, d, sz * n);
    s->buf = b;
    s->len += sz * n;
    s->buf[s->len] = '\0';
    return sz * n;
}

#endif
