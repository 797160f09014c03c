/*
 * process: hardening at start (no core dumps, no ptrace) and the master key file, which is
 * an ordinary key file (keyfile.c: 64 hex chars, mode 0600) created on first start.
 */
#include "core/core.h"

#include <errno.h>
#include <sodium.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#ifndef COH_VERSION
#define COH_VERSION "0.0.0"
#endif

const char *coh_version(void)
{
    return COH_VERSION;
}

int coh_process_harden(void)
{
    if (sodium_init() < 0)
        return -1;
    struct rlimit rl = {0, 0};
    if (setrlimit(RLIMIT_CORE, &rl) != 0)
        return -1;
    /* Not dumpable: no core files even if a limit is raised later, no ptrace by peers. */
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
        return -1;
    return 0;
}

/* A fresh random key written as path (mode 0600, never over an existing file). */
static int create_key_file(const char *path, coh_err *err)
{
    coh_secbuf *key = coh_secbuf_new(32);
    if (!key)
        return coh_err_set(err, COH_ERR_NOMEM, "master_key_file: out of memory");
    randombytes_buf(coh_secbuf_data(key), 32);
    int rc = coh_key_file_write(path, coh_secbuf_data(key), 32, "master_key_file", err);
    coh_secbuf_free(key);
    return rc;
}

int coh_master_key_load(coh_secbuf **out, const char *path, int create, coh_err *err)
{
    *out = NULL;
    struct stat st;
    if (create && lstat(path, &st) != 0 && errno == ENOENT) {
        int rc = create_key_file(path, err);
        /* Another process creating it first is fine: its key is read below. */
        if (rc && rc != COH_ERR_CONFLICT)
            return rc;
    }
    return coh_key_file_read(out, 32, path, "master_key_file", err);
}

void coh_crash_point(const char *step)
{
    const char *at = getenv("COHORT_TEST_CRASH_AT");
    if (at && strcmp(at, step) == 0) {
        coh_log_warn("crash point '%s': killing this process (COHORT_TEST_CRASH_AT)", step);
        raise(SIGKILL);
    }
}
