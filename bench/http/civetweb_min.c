/* The baseline: the smallest civetweb server answering GET /healthz with a JSON body, with the
 * same thread and keep-alive settings as cohortd. Usage: bench_civetweb_min PORT THREADS */
#include <civetweb.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int handler(struct mg_connection *c, void *cb)
{
    (void)cb;
    const char body[] = "{\"status\":\"ok\",\"version\":\"0.1.0\"}";
    mg_printf(c,
              "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
              sizeof body - 1, body);
    return 200;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: bench_civetweb_min PORT THREADS\n");
        return 2;
    }
    char listen[64];
    snprintf(listen, sizeof listen, "127.0.0.1:%s", argv[1]);
    const char *opts[] = {"listening_ports", listen, "num_threads", argv[2], "enable_keep_alive",
                          "yes", "keep_alive_timeout_ms", "5000", NULL};
    struct mg_callbacks cb;
    memset(&cb, 0, sizeof cb);
    struct mg_context *ctx = mg_start(&cb, NULL, opts);
    if (!ctx)
        return 1;
    mg_set_request_handler(ctx, "/healthz", handler, NULL);
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGTERM);
    sigaddset(&s, SIGINT);
    sigprocmask(SIG_BLOCK, &s, NULL);
    int sig;
    sigwait(&s, &sig);
    mg_stop(ctx);
    return 0;
}
