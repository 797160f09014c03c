/*
 * test_chain_rpc: the JSON-RPC client against a small scripted HTTP server on 127.0.0.1 in
 * a thread: results and batches matched by id, node errors surfaced with their message and
 * not retried, 503s retried with backoff, a dead endpoint and a silent one reported as
 * transport errors, quantities and uint256 fee arithmetic; one contract call signed and sent
 * (send.c) to a scripted node: chain id, pending nonce and fees from the node, the bytes it
 * receives decode to that call from that key, and the receipt is waited for.
 */
#include "chain/chain.h"
#include "../crypto/testutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sodium.h>
#include <sys/socket.h>
#include <unistd.h>

static int listen_fd;
static int port;
static int flaky_left; /* answers 503 while > 0 */
static int hits;       /* requests served */
static int node_mode;  /* answers the eth_* methods send.c uses as a node would */
static char sent_raw[4096]; /* the last eth_sendRawTransaction parameter */

static json_t *node_answer(const char *m, json_t *params)
{
    if (strcmp(m, "eth_chainId") == 0)
        return json_string("0x7a69");
    if (strcmp(m, "eth_getTransactionCount") == 0)
        return json_string("0x5");
    if (strcmp(m, "eth_getBlockByNumber") == 0)
        return json_pack("{s:s}", "baseFeePerGas", "0x3b9aca00");
    if (strcmp(m, "eth_maxPriorityFeePerGas") == 0)
        return json_string("0x2");
    if (strcmp(m, "eth_sendRawTransaction") == 0) {
        snprintf(sent_raw, sizeof sent_raw, "%s", json_string_value(json_array_get(params, 0)));
        return json_string("0x" "00000000000000000000000000000000"
                           "00000000000000000000000000000000");
    }
    if (strcmp(m, "eth_getTransactionReceipt") == 0)
        return json_pack("{s:s, s:s}", "status", "0x1", "blockNumber", "0x10");
    return NULL;
}

/* Answers one request object: result = method name, or scripted errors. */
static json_t *answer(json_t *req)
{
    const char *m = json_string_value(json_object_get(req, "method"));
    json_t *id = json_object_get(req, "id");
    json_t *r = node_mode && m ? node_answer(m, json_object_get(req, "params")) : NULL;
    if (r)
        return json_pack("{s:s,s:O,s:o}", "jsonrpc", "2.0", "id", id, "result", r);
    if (m && strcmp(m, "fail") == 0)
        return json_pack("{s:s,s:O,s:{s:i,s:s}}", "jsonrpc", "2.0", "id", id, "error", "code",
                         -32000, "message", "nonce too low");
    return json_pack("{s:s,s:O,s:s}", "jsonrpc", "2.0", "id", id, "result", m ? m : "");
}

static void *serve(void *arg)
{
    (void)arg;
    for (;;) {
        int c = accept(listen_fd, NULL, NULL);
        if (c < 0)
            return NULL;
        char buf[65536];
        size_t got = 0;
        long clen = -1;
        char *body = NULL;
        while (got < sizeof buf - 1) {
            ssize_t r = read(c, buf + got, sizeof buf - 1 - got);
            if (r <= 0)
                break;
            got += (size_t)r;
            buf[got] = 0;
            char *h = strstr(buf, "\r\n\r\n");
            if (h && clen < 0) {
                char *cl = strcasestr(buf, "Content-Length:");
                clen = cl ? atol(cl + 15) : 0;
                body = h + 4;
            }
            if (body && (long)(got - (size_t)(body - buf)) >= clen)
                break;
        }
        hits++;
        if (body && strstr(body, "\"stop\"")) {
            close(c);
            return NULL;
        }
        if (body && strstr(body, "\"silent\"")) {
            usleep(400000);
            close(c);
            continue;
        }
        char *out = NULL;
        int status = 200;
        if (body && strstr(body, "\"flaky\"") && flaky_left > 0) {
            flaky_left--;
            status = 503;
            out = strdup("busy");
        } else {
            json_t *req = body ? json_loads(body, 0, NULL) : NULL;
            json_t *resp;
            if (json_is_array(req)) {
                resp = json_array();
                size_t i;
                json_t *x;
                /* answer in reverse order: the client must match by id */
                for (i = json_array_size(req); i-- > 0;) {
                    x = json_array_get(req, i);
                    json_array_append_new(resp, answer(x));
                }
            } else {
                resp = answer(req);
            }
            out = json_dumps(resp, JSON_COMPACT);
            json_decref(resp);
            json_decref(req);
        }
        char head[256];
        int hl = snprintf(head, sizeof head,
                          "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: "
                          "%zu\r\nConnection: close\r\n\r\n",
                          status, strlen(out));
        if (write(c, head, (size_t)hl) < 0 || write(c, out, strlen(out)) < 0)
            perror("write");
        free(out);
        close(c);
    }
}

static int setup(void **state)
{
    (void)state;
    listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(listen_fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t al = sizeof a;
    getsockname(listen_fd, (struct sockaddr *)&a, &al);
    port = ntohs(a.sin_port);
    assert_int_equal(listen(listen_fd, 16), 0);
    pthread_t t;
    pthread_create(&t, NULL, serve, NULL);
    pthread_detach(t);
    return 0;
}

static coh_chain_rpc *client(int retries, long timeout_ms)
{
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", port);
    coh_chain_rpc_opts o = {timeout_ms, retries, 10};
    coh_chain_rpc *rpc = coh_chain_rpc_new(url, &o);
    assert_non_null(rpc);
    return rpc;
}

static void test_call_and_error(void **state)
{
    (void)state;
    coh_chain_rpc *rpc = client(2, 2000);
    json_t *res;
    coh_err err = {0};
    assert_int_equal(coh_chain_rpc_call(rpc, &res, "eth_chainId", json_array(), &err), 0);
    assert_string_equal(json_string_value(res), "eth_chainId");
    json_decref(res);
    int before = hits;
    assert_int_equal(coh_chain_rpc_call(rpc, &res, "fail", NULL, &err), COH_CHAIN_ERPC);
    assert_null(res);
    assert_non_null(strstr(err.msg, "nonce too low"));
    assert_int_equal(hits - before, 1); /* node errors are not retried */
    coh_chain_rpc_free(rpc);
}

static void test_retry(void **state)
{
    (void)state;
    coh_chain_rpc *rpc = client(3, 2000);
    json_t *res;
    coh_err err = {0};
    flaky_left = 2;
    int before = hits;
    assert_int_equal(coh_chain_rpc_call(rpc, &res, "flaky", NULL, &err), 0);
    assert_int_equal(hits - before, 3);
    json_decref(res);
    flaky_left = 10;
    assert_int_equal(coh_chain_rpc_call(rpc, &res, "flaky", NULL, &err), COH_CHAIN_ETRANSPORT);
    assert_non_null(strstr(err.msg, "HTTP 503"));
    flaky_left = 0;
    coh_chain_rpc_free(rpc);
}

static void test_batch(void **state)
{
    (void)state;
    coh_chain_rpc *rpc = client(0, 2000);
    const char *methods[3] = {"eth_blockNumber", "fail", "eth_gasPrice"};
    json_t *params[3] = {json_array(), json_array(), NULL};
    json_t *res[3];
    coh_err err = {0};
    assert_int_equal(coh_chain_rpc_batch(rpc, res, methods, params, 3, &err), COH_CHAIN_ERPC);
    assert_string_equal(json_string_value(res[0]), "eth_blockNumber");
    assert_null(res[1]);
    assert_string_equal(json_string_value(res[2]), "eth_gasPrice");
    assert_non_null(strstr(err.msg, "fail: nonce too low"));
    json_decref(res[0]);
    json_decref(res[2]);
    coh_chain_rpc_free(rpc);
}

static void test_transport_failures(void **state)
{
    (void)state;
    coh_chain_rpc_opts o = {300, 1, 10};
    coh_chain_rpc *dead = coh_chain_rpc_new("http://127.0.0.1:1/", &o);
    json_t *res;
    coh_err err = {0};
    assert_int_equal(coh_chain_rpc_call(dead, &res, "eth_chainId", NULL, &err),
                     COH_CHAIN_ETRANSPORT);
    assert_non_null(strstr(err.msg, "after 2 attempts"));
    coh_chain_rpc_free(dead);
    coh_chain_rpc *rpc = client(0, 100);
    assert_int_equal(coh_chain_rpc_call(rpc, &res, "silent", NULL, &err), COH_CHAIN_ETRANSPORT);
    coh_chain_rpc_free(rpc);
}

static void test_quantities(void **state)
{
    (void)state;
    uint8_t v[32];
    char q[COH_U256_QTY_SIZE];
    assert_int_equal(coh_chain_quantity_parse(v, "0x0"), 0);
    coh_chain_quantity_format(q, v);
    assert_string_equal(q, "0x0");
    assert_int_equal(coh_chain_quantity_parse(v, "0x3b9aca00"), 0);
    coh_chain_quantity_format(q, v);
    assert_string_equal(q, "0x3b9aca00");
    uint64_t u;
    assert_int_equal(coh_chain_quantity_u64(&u, "0x7a69"), 0);
    assert_int_equal(u, 31337);
    assert_int_equal(coh_chain_quantity_u64(&u, "0x10000000000000000"), COH_CHAIN_EOVERFLOW);
    assert_int_not_equal(coh_chain_quantity_parse(v, "123"), 0);
    assert_int_not_equal(coh_chain_quantity_parse(v, "0x"), 0);
    assert_int_not_equal(coh_chain_quantity_parse(v, "0xzz"), 0);
}

static void test_send_call(void **state)
{
    (void)state;
    node_mode = 1;
    assert_true(sodium_init() >= 0); /* secure memory for the key */
    coh_chain_rpc *rpc = client(1, 2000);
    coh_secbuf *key = coh_secbuf_new(32);
    assert_non_null(key);
    memset(coh_secbuf_data(key), 0x11, 32);
    uint8_t from[20], to[20], data[4] = {0xde, 0xad, 0xbe, 0xef}, hash[32], max_fee[32], tip[32],
                                  want[32];
    assert_int_equal(coh_crypto_address_from_seckey(from, key), 0);
    memset(to, 0x42, 20);
    coh_err err = {0};
    /* fees: tip from the node, max = 2 * base (1 gwei) + tip */
    assert_int_equal(coh_chain_fees(rpc, max_fee, tip, &err), 0);
    coh_u256_from_u64(want, 2);
    assert_memory_equal(tip, want, 32);
    coh_u256_from_u64(want, 2000000002);
    assert_memory_equal(max_fee, want, 32);
    assert_int_equal(coh_chain_send_call(hash, rpc, key, to, data, 4, 100000, &err), 0);
    /* what the node received is that call, from that key, at its pending nonce */
    size_t n = (strlen(sent_raw) - 2) / 2;
    uint8_t raw[2048], sender[20], h2[32];
    assert_int_equal(coh_hex_decode_exact(raw, n, sent_raw + 2), 0);
    coh_chain_tx tx;
    assert_int_equal(coh_chain_tx_decode(&tx, sender, h2, raw, n), 0);
    assert_memory_equal(sender, from, 20);
    assert_memory_equal(h2, hash, 32);
    assert_int_equal(tx.chain_id, 31337);
    assert_int_equal(tx.nonce, 5);
    assert_int_equal(tx.gas_limit, 100000);
    assert_memory_equal(tx.to, to, 20);
    assert_int_equal(tx.data_len, 4);
    assert_memory_equal(tx.data, data, 4);
    assert_memory_equal(tx.max_fee, max_fee, 32);
    int ok = 0;
    uint64_t block = 0;
    assert_int_equal(coh_chain_wait_receipt(&ok, &block, rpc, hash, 1000, &err), 0);
    assert_int_equal(ok, 1);
    assert_int_equal(block, 16);
    coh_secbuf_free(key);
    coh_chain_rpc_free(rpc);
    node_mode = 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_call_and_error), cmocka_unit_test(test_retry),
        cmocka_unit_test(test_batch),          cmocka_unit_test(test_transport_failures),
        cmocka_unit_test(test_quantities),     cmocka_unit_test(test_send_call),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
