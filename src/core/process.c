/* process: hardening at start (no core dumps, no ptrace) and the master key file. */
#include "core/core.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

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

static int create_key_file(const char *path, coh_err *err)
{
    uint8_t key[32];
    char hex[65];
    randombytes_buf(key, sizeof key);
    coh_hex_encode(hex, key, sizeof key, 0);
    sodium_memzero(key, sizeof key);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        sodium_memzero(hex, sizeof hex);
        return coh_err_set(err, COH_ERR_IO, "master_key_file: cannot create %s: %s", path,
                           strerror(errno));
    }
    hex[64] = '\n';
    ssize_t w = write(fd, hex, 65);
    sodium_memzero(hex, sizeof hex);
    if (w != 65 || fsync(fd) != 0) {
        close(fd);
        unlink(path);
        return coh_err_set(err, COH_ERR_IO, "master_key_file: cannot write %s", path);
    }
    close(fd);
    return 0;
}

int coh_master_key_load(coh_secbuf **out, const char *path, int create, coh_err *err)
{
    *out = NULL;
    struct stat st;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT && create) {
            int rc = create_key_file(path, err);
            if (rc)
                return rc;
            if (stat(path, &st) != 0)
                return coh_err_set(err, COH_ERR_IO, "master_key_file: %s vanished", path);
        } else {
            return coh_err_set(err, COH_ERR_IO, "master_key_file: cannot read %s: %s", path,
                               strerror(errno));
        }
    }
    if (!S_ISREG(st.st_mode) || (st.st_mode & 0077) != 0)
        return coh_err_set(err, COH_ERR_INVALID,
                           "master_key_file: %s must be a regular file with mode 0600", path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return coh_err_set(err, COH_ERR_IO, "master_key_file: cannot open %s", path);
    coh_secbuf *text = coh_secbuf_new(80);
    coh_secbuf *key = coh_secbuf_new(32);
    if (!text || !key) {
        close(fd);
        coh_secbuf_free(text);
        coh_secbuf_free(key);
        return coh_err_set(err, COH_ERR_NOMEM, "master_key_file: out of memory");
    }
    char *t = (char *)coh_secbuf_data(text);
    ssize_t n = read(fd, t, 79);
    close(fd);
    while (n > 0 && (t[n - 1] == '\n' || t[n - 1] == '\r' || t[n - 1] == ' '))
        n--;
    int ok = n == 64;
    if (ok) {
        t[64] = '\0';
        ok = coh_hex_decode_exact(coh_secbuf_data(key), 32, t) == 0;
    }
    coh_secbuf_free(text);
    if (!ok) {
        coh_secbuf_free(key);
        return coh_err_set(err, COH_ERR_INVALID,
                           "master_key_file: %s must hold 64 hex characters", path);
    }
    *out = key;
    return 0;
}
