/*
 * log: JSON lines on stderr. Each line is written with one write(2) so concurrent threads
 * never interleave. Callers must not pass secrets or plaintext; messages are escaped here.
 */
#include "core/core.h"

#include <jansson.h>
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

static void write_line(const char *s)
{
    size_t len = strlen(s);
    char buf[4096];
    if (len + 1 <= sizeof buf) {
        memcpy(buf, s, len);
        buf[len] = '\n';
        ssize_t w = write(STDERR_FILENO, buf, len + 1);
        (void)w;
    } else {
        ssize_t w = write(STDERR_FILENO, s, len);
        w = write(STDERR_FILENO, "\n", 1);
        (void)w;
    }
}

void coh_log_json_line(const char *json)
{
    write_line(json);
}

void coh_log_timestamp(char *out, size_t cap)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ts.tv_nsec / 1000000));
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
        write_line(line);
        free(line);
    }
}
