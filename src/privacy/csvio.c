/*
 * csvio: one-pass CSV loading into a table (libcsv) and buffered CSV writing.
 *
 * Plaintext never touches the ordinary heap: the read buffer is sodium_malloc'd and libcsv's
 * field buffer is routed through a realloc hook onto sodium_malloc as well; the writer's
 * buffer is secure and goes straight to write(2), bypassing stdio's heap buffers. libcsv's
 * whitespace trimming is disabled so unquoted cells keep their exact text.
 */
#include "privacy/internal.h"

#include <csv.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define COH_CSV_RBUF (1u << 20)
#define COH_CSV_WBUF (1u << 20)

/* libcsv's buffer in secure memory: a 16-byte header keeps the block size for realloc. */
static void *sec_realloc(void *p, size_t n)
{
    uint8_t *q = sodium_malloc(n + 16);
    if (!q)
        return NULL;
    memcpy(q, &n, sizeof n);
    if (p) {
        size_t old;
        memcpy(&old, (uint8_t *)p - 16, sizeof old);
        memcpy(q + 16, p, old < n ? old : n);
        sodium_free((uint8_t *)p - 16);
    }
    return q + 16;
}

static void sec_free(void *p)
{
    if (p)
        sodium_free((uint8_t *)p - 16);
}

static int no_space(unsigned char c)
{
    (void)c;
    return 0;
}

struct load_ctx {
    const coh_table_schema *schema;
    coh_table *t;
    char **header; /* header cells while reading row 1 */
    size_t n_header;
    int *map; /* CSV column -> table column, or -1 (skipped) */
    size_t field, row_no;
    int rc;
    coh_err *err;
};

static int header_add(struct load_ctx *x, const char *s, size_t len)
{
    char **h = realloc(x->header, (x->n_header + 1) * sizeof *h);
    if (!h)
        return COH_ERR_NOMEM;
    x->header = h;
    if (!(h[x->n_header] = strndup(s, len)))
        return COH_ERR_NOMEM;
    x->n_header++;
    return 0;
}

static const coh_col_decl *decl_find(const coh_table_schema *s, const char *name)
{
    for (size_t i = 0; s && i < s->n_cols; i++)
        if (strcmp(s->cols[i].name, name) == 0)
            return &s->cols[i];
    return NULL;
}

/* Builds the table from the header once row 1 is complete. */
static int header_done(struct load_ctx *x)
{
    const coh_table_schema *s = x->schema;
    for (size_t i = 0; s && i < s->n_cols; i++) {
        size_t j = 0;
        while (j < x->n_header && strcmp(x->header[j], s->cols[i].name) != 0)
            j++;
        if (j == x->n_header)
            return coh_err_set(x->err, COH_ERR_INVALID, "column '%s' not found in the header",
                               s->cols[i].name);
    }
    coh_col_decl *decls = calloc(x->n_header, sizeof *decls);
    if (!decls || !(x->map = calloc(x->n_header, sizeof *x->map))) {
        free(decls);
        return coh_err_set(x->err, COH_ERR_NOMEM, "out of memory");
    }
    size_t n = 0;
    for (size_t j = 0; j < x->n_header; j++) {
        const coh_col_decl *d = decl_find(s, x->header[j]);
        if (!d && s && s->only_declared) {
            x->map[j] = -1;
            continue;
        }
        if (d)
            decls[n] = *d;
        decls[n].name = x->header[j];
        x->map[j] = (int)n++;
    }
    int rc = n ? coh_table_new(&x->t, decls, n, x->err)
               : coh_err_set(x->err, COH_ERR_INVALID, "no columns to load");
    free(decls);
    return rc;
}

static void on_field(void *data, size_t len, void *vx)
{
    struct load_ctx *x = vx;
    if (x->rc)
        return;
    const char *s = data ? data : "";
    if (x->row_no == 1) {
        if (header_add(x, s, len) != 0)
            x->rc = coh_err_set(x->err, COH_ERR_NOMEM, "out of memory");
    } else if (x->field >= x->n_header) {
        x->rc = coh_err_set(x->err, COH_ERR_INVALID, "row %zu: more than %zu fields", x->row_no,
                            x->n_header);
    } else if (x->map[x->field] >= 0) {
        x->rc = coh_table_cell_push(x->t, (size_t)x->map[x->field], s, len, x->row_no, x->err);
    }
    x->field++;
}

static void on_row(int c, void *vx)
{
    (void)c;
    struct load_ctx *x = vx;
    if (x->rc)
        return;
    if (x->row_no == 1) {
        x->rc = header_done(x);
    } else if (x->field != x->n_header) {
        x->rc = coh_err_set(x->err, COH_ERR_INVALID, "row %zu: %zu fields, header has %zu",
                            x->row_no, x->field, x->n_header);
    } else {
        x->t->nrows++;
    }
    x->field = 0;
    x->row_no++;
}

int coh_table_csv_load(coh_table **out, const char *path, const coh_table_schema *schema,
                       coh_privacy_progress_fn progress, void *progress_ctx, coh_err *err)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return coh_err_set(err, COH_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    struct stat st;
    uint64_t total = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
    uint8_t *buf = coh_sec_alloc(COH_CSV_RBUF);
    struct csv_parser p;
    if (!buf || csv_init(&p, CSV_STRICT | CSV_STRICT_FINI) != 0) {
        coh_sec_free(buf);
        close(fd);
        return coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    }
    csv_set_realloc_func(&p, sec_realloc);
    csv_set_free_func(&p, sec_free);
    csv_set_space_func(&p, no_space);
    csv_set_blk_size(&p, 4096);
    struct load_ctx x = {.schema = schema, .row_no = 1, .err = err};
    uint64_t done = 0, next_report = 0;
    for (;;) {
        ssize_t n = read(fd, buf, COH_CSV_RBUF);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            x.rc = coh_err_set(err, COH_ERR_IO, "cannot read '%s': %s", path, strerror(errno));
            break;
        }
        if (n == 0) {
            if (csv_fini(&p, on_field, on_row, &x) != 0 && !x.rc)
                x.rc = coh_err_set(err, COH_ERR_INVALID, "row %zu: malformed CSV (%s)", x.row_no,
                                   csv_strerror(csv_error(&p)));
            break;
        }
        if (csv_parse(&p, buf, (size_t)n, on_field, on_row, &x) != (size_t)n && !x.rc)
            x.rc = coh_err_set(err, COH_ERR_INVALID, "row %zu: malformed CSV (%s)", x.row_no,
                               csv_strerror(csv_error(&p)));
        if (x.rc)
            break;
        done += (uint64_t)n;
        if (progress && done >= next_report) {
            progress(progress_ctx, "reading", done, total);
            next_report = done + (8u << 20);
        }
    }
    csv_free(&p);
    coh_sec_free(buf);
    close(fd);
    if (!x.rc && !x.t)
        x.rc = coh_err_set(err, COH_ERR_INVALID, "'%s' has no header row", path);
    if (!x.rc)
        x.rc = coh_table_finish(x.t, err);
    if (progress && !x.rc)
        progress(progress_ctx, "reading", total ? total : done, total);
    for (size_t i = 0; i < x.n_header; i++)
        free(x.header[i]);
    free(x.header);
    free(x.map);
    if (x.rc) {
        coh_table_free(x.t);
        return x.rc;
    }
    *out = x.t;
    return 0;
}

/* ---- writer --------------------------------------------------------------------------- */

int coh_csv_writer_open(struct coh_csv_writer *w, const char *path, coh_err *err)
{
    memset(w, 0, sizeof *w);
    if (strcmp(path, "-") == 0) {
        w->fd = STDOUT_FILENO;
    } else {
        w->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (w->fd < 0)
            return coh_err_set(err, COH_ERR_IO, "cannot create '%s': %s", path, strerror(errno));
        w->close_fd = true;
    }
    if (!(w->buf = coh_sec_alloc(COH_CSV_WBUF))) {
        if (w->close_fd)
            close(w->fd);
        return coh_err_set(err, COH_ERR_NOMEM, "out of memory");
    }
    return 0;
}

static void wflush(struct coh_csv_writer *w)
{
    size_t off = 0;
    while (off < w->len && !w->failed) {
        ssize_t n = write(w->fd, w->buf + off, w->len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            w->failed = true;
        else
            off += (size_t)n;
    }
    w->len = 0;
}

static inline void wbyte(struct coh_csv_writer *w, uint8_t c)
{
    if (w->len == COH_CSV_WBUF)
        wflush(w);
    w->buf[w->len++] = c;
}

void coh_csv_writer_field(struct coh_csv_writer *w, const char *s, size_t len, bool first)
{
    if (!first)
        wbyte(w, ',');
    bool quote = false;
    for (size_t i = 0; i < len && !quote; i++)
        quote = s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r';
    if (!quote && w->len + len <= COH_CSV_WBUF) {
        memcpy(w->buf + w->len, s, len);
        w->len += len;
        return;
    }
    if (quote)
        wbyte(w, '"');
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '"')
            wbyte(w, '"');
        wbyte(w, (uint8_t)s[i]);
    }
    if (quote)
        wbyte(w, '"');
}

void coh_csv_writer_eol(struct coh_csv_writer *w)
{
    wbyte(w, '\n');
}

int coh_csv_writer_close(struct coh_csv_writer *w, coh_err *err)
{
    wflush(w);
    int failed = w->failed;
    if (w->close_fd && close(w->fd) != 0)
        failed = 1;
    coh_sec_free(w->buf);
    w->buf = NULL;
    if (failed)
        return coh_err_set(err, COH_ERR_IO, "cannot write the output: %s", strerror(errno));
    return 0;
}
