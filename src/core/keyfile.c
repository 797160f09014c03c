/*
 * keyfile: small secret files holding one key as hex plus a newline, mode 0600. Shared by
 * every key Cohort keeps on disk (account keys written by `cohort keys`, and the master
 * key, process.c), so the permission and parsing rules are in one place. Symlinks are not
 * followed: the file checked for mode 0600 is the file read.
 */
#include "core/core.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int coh_key_file_write(const char *path, const uint8_t *key, size_t len, const char *what,
                       coh_err *err)
{
    coh_secbuf *text = coh_secbuf_new(2 * len + 2);
    if (!text)
        return coh_err_set(err, COH_ERR_NOMEM, "%s: out of memory", what);
    char *t = (char *)coh_secbuf_data(text);
    coh_hex_encode(t, key, len, 0);
    t[2 * len] = '\n';
    /* O_EXCL: never replace an existing key, and never follow a planted symlink. */
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        int e = errno;
        coh_secbuf_free(text);
        if (e == EEXIST)
            return coh_err_set(err, COH_ERR_CONFLICT, "%s: %s already exists", what, path);
        return coh_err_set(err, COH_ERR_IO, "%s: cannot create %s: %s", what, path, strerror(e));
    }
    ssize_t w = write(fd, t, 2 * len + 1);
    coh_secbuf_free(text);
    if (w != (ssize_t)(2 * len + 1) || fsync(fd) != 0) {
        close(fd);
        unlink(path);
        return coh_err_set(err, COH_ERR_IO, "%s: cannot write %s", what, path);
    }
    if (close(fd) != 0) {
        unlink(path);
        return coh_err_set(err, COH_ERR_IO, "%s: cannot write %s", what, path);
    }
    return 0;
}

int coh_key_file_read(coh_secbuf **out, size_t len, const char *path, const char *what,
                      coh_err *err)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return coh_err_set(err, COH_ERR_IO, "%s: cannot open %s: %s", what, path, strerror(errno));
    /* fstat on the opened descriptor: the mode checked is the mode of what is read. */
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (st.st_mode & 0077) != 0) {
        close(fd);
        return coh_err_set(err, COH_ERR_INVALID, "%s: %s must be a regular file with mode 0600",
                           what, path);
    }
    size_t cap = 2 * len + 16;
    coh_secbuf *text = coh_secbuf_new(cap + 1);
    coh_secbuf *key = coh_secbuf_new(len);
    if (!text || !key) {
        close(fd);
        coh_secbuf_free(text);
        coh_secbuf_free(key);
        return coh_err_set(err, COH_ERR_NOMEM, "%s: out of memory", what);
    }
    char *t = (char *)coh_secbuf_data(text);
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, t + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
        if (n == cap)
            break;
    }
    close(fd);
    while (n > 0 && (t[n - 1] == '\n' || t[n - 1] == '\r' || t[n - 1] == ' '))
        n--;
    int ok = n == 2 * len;
    if (ok) {
        t[n] = '\0';
        ok = coh_hex_decode_exact(coh_secbuf_data(key), len, t) == 0;
    }
    coh_secbuf_free(text);
    if (!ok) {
        coh_secbuf_free(key);
        return coh_err_set(err, COH_ERR_INVALID, "%s: %s must hold %zu hex characters", what, path,
                           2 * len);
    }
    *out = key;
    return 0;
}
