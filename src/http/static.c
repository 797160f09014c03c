/*
 * static: serves the web app's files from app->web_dir. Paths come from civetweb already
 * decoded and cleaned; anything with "..", a backslash or a NUL is refused anyway, and only
 * regular files under web_dir are read. "/" and unknown non-file paths under the app give
 * index.html, so client-side routes work on reload.
 */
#include "http/http.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *content_type(const char *path)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"}, {".css", "text/css; charset=utf-8"},
        {".json", "application/json"},         {".svg", "image/svg+xml"},
        {".png", "image/png"},                 {".ico", "image/x-icon"},
        {".wasm", "application/wasm"},         {".yaml", "application/yaml"},
        {".txt", "text/plain; charset=utf-8"}, {".gpx", "application/gpx+xml"},
    };
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].type;
    return "application/octet-stream";
}

int coh_http_send_file(struct coh_http_req *req, const char *path, const char *extra_headers)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > 64 * 1024 * 1024) {
        close(fd);
        return 0;
    }
    char *buf = malloc((size_t)st.st_size + 1);
    ssize_t n = buf ? read(fd, buf, (size_t)st.st_size) : -1;
    close(fd);
    if (n != st.st_size) {
        free(buf);
        return 0;
    }
    coh_http_send_raw(req, 200, content_type(path), extra_headers, buf, (size_t)n);
    free(buf);
    return 1;
}

int coh_http_static(struct coh_http_req *req)
{
    const char *p = req->path;
    if (strstr(p, "..") || strchr(p, '\\') || p[0] != '/')
        return 0;
    char path[4096];
    /* 'wasm-unsafe-eval' lets libsodium-wrappers compile its WebAssembly (records are sealed in
     * the browser); it allows no JavaScript eval. */
    const char *csp = "Content-Security-Policy: default-src 'self'; "
                      "script-src 'self' 'wasm-unsafe-eval'; connect-src 'self'; "
                      "img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
                      "frame-ancestors 'none'\r\nX-Frame-Options: DENY\r\n";
    if (strcmp(p, "/") != 0) {
        snprintf(path, sizeof path, "%s%s", req->app->web_dir, p);
        if (coh_http_send_file(req, path, csp))
            return 1;
        if (strchr(strrchr(p, '/'), '.'))
            return 0; /* a missing asset is a 404, not the app shell */
    }
    snprintf(path, sizeof path, "%s/index.html", req->app->web_dir);
    return coh_http_send_file(req, path, csp);
}
