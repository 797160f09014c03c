/*
 * log: JSON lines on stderr. Each line is written with one write(2) so concurrent threads
 * never interleave. Callers must not pass secrets or plaintext; messages are escaped here.
 */
#include "core/core.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static _Atomic int log_level = COH_LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

void coh_log_set_level(enum coh_log_level level)
{
    log_level = level;
}

int coh_log_level_parse(enum coh_log_level *out, const char *name)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *out = (enum coh_log_level)i;
            return 0;
        }
    }
    return -1;
}

/*
 * Buffered mode (cohortd): lines collect in one buffer that a flusher thread writes every
 * 100 ms, or sooner when it fills, so a busy server makes one write(2) per batch rather than
 * per request. Warnings and errors flush at once. Without buffered mode every line is one
 * write(2), so concurrent threads never interleave within a line.
 */
static pthread_mutex_t buf_mu = PTHREAD_MUTEX_INITIALIZER;
static char buf[64 * 1024];
static size_t buf_len;
static _Atomic int buffered;
static pthread_t flusher;
static _Atomic int flusher_stop;

static void write_all(const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(STDERR_FILENO, p, n);
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

/* Caller holds buf_mu. */
static void flush_locked(void)
{
    write_all(buf, buf_len);
    buf_len = 0;
}

static void write_line(const char *s, int urgent)
{
    size_t len = strlen(s);
    if (atomic_load(&buffered) && len + 1 < sizeof buf) {
        pthread_mutex_lock(&buf_mu);
        if (buf_len + len + 1 > sizeof buf)
            flush_locked();
        memcpy(buf + buf_len, s, len);
        buf[buf_len + len] = '\n';
        buf_len += len + 1;
        if (urgent)
            flush_locked();
        pthread_mutex_unlock(&buf_mu);
        return;
    }
    char line[4096];
    if (len + 1 <= sizeof line) {
        memcpy(line, s, len);
        line[len] = '\n';
        write_all(line, len + 1);
    } else {
        write_all(s, len);
        write_all("\n", 1);
    }
}

void coh_log_flush(void)
{
    pthread_mutex_lock(&buf_mu);
    flush_locked();
    pthread_mutex_unlock(&buf_mu);
}

static void *flush_loop(void *arg)
{
    (void)arg;
    while (!atomic_load(&flusher_stop)) {
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
        coh_log_flush();
    }
    return NULL;
}

int coh_log_buffered_start(void)
{
    if (atomic_load(&buffered))
        return 0;
    atomic_store(&flusher_stop, 0);
    if (pthread_create(&flusher, NULL, flush_loop, NULL) != 0)
        return -1;
    atomic_store(&buffered, 1);
    return 0;
}

void coh_log_buffered_stop(void)
{
    if (!atomic_load(&buffered))
        return;
    atomic_store(&buffered, 0);
    atomic_store(&flusher_stop, 1);
    pthread_join(flusher, NULL);
    coh_log_flush();
}

void coh_log_json_line(const char *json)
{
    write_line(json, 0);
}

void coh_log_timestamp(char *out, size_t cap)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    /*
     * strftime and three digits by hand rather than one snprintf of eight ints: GCC 12 at -O2
     * cannot bound struct tm's fields and warns -Wformat-truncation for any buffer size.
     */
    char s[32];
    size_t n = strftime(s, sizeof s - 5, "%Y-%m-%dT%H:%M:%S", &tm);
    unsigned ms = (unsigned)(ts.tv_nsec / 1000000) % 1000u;
    s[n++] = '.';
    s[n++] = (char)('0' + ms / 100);
    s[n++] = (char)('0' + ms / 10 % 10);
    s[n++] = (char)('0' + ms % 10);
    s[n++] = 'Z';
    s[n] = '\0';
    if (cap == 0)
        return;
    if (n >= cap)
        n = cap - 1;
    memcpy(out, s, n);
    out[n] = '\0';
}

void coh_log(enum coh_log_level level, const char *fmt, ...)
{
    if ((int)level < log_level)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);

    char when[40];
    coh_log_timestamp(when, sizeof when);

    json_t *o = json_pack("{s:s,s:s,s:s}", "ts", when, "level", level_names[level], "msg", msg);
    if (!o)
        return;
    char *line = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (line) {
        write_line(line, level >= COH_LOG_WARN);
        free(line);
    }
}
