/*
 * fuzz_rpc: JSON-RPC responses from the EVM node, through the real client (libcurl reads the
 * input as the response body from a memfd by file:// URL, so the same code that parses a
 * node's answers parses it): a single call (quantity result), eth_call (hex result),
 * eth_sendRawTransaction (hash result), and a batch of three (ids, missing and duplicate
 * answers, a non-array answer).
 */
#include "chain/chain.h"
#include "fuzz.h"

#include <sys/mman.h>
#include <unistd.h>

static int g_fd = -1;
static char g_url[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (g_fd < 0) {
        g_fd = memfd_create("rpc", 0);
        FUZZ_CHECK(g_fd >= 0);
        snprintf(g_url, sizeof g_url, "file:///proc/self/fd/%d", g_fd);
    }
    FUZZ_CHECK(ftruncate(g_fd, 0) == 0);
    FUZZ_CHECK(size == 0 || pwrite(g_fd, data, size, 0) == (ssize_t)size);
    coh_chain_rpc_opts opts = {.timeout_ms = 1000, .retries = 0, .backoff_ms = 1};
    coh_chain_rpc *rpc = coh_chain_rpc_new(g_url, &opts);
    FUZZ_CHECK(rpc != NULL);
    coh_err err = {0};
    uint64_t u;
    FUZZ_IGNORE(coh_chain_rpc_u64(rpc, &u, "eth_blockNumber", NULL, &err));
    uint8_t to[20] = {1}, call[4] = {0x12, 0x34, 0x56, 0x78}, *out = NULL;
    size_t out_len = 0;
    if (coh_chain_rpc_eth_call(rpc, &out, &out_len, to, call, sizeof call, &err) == 0) {
        uint8_t word[32];
        FUZZ_IGNORE(coh_chain_abi_get_word(word, out, out_len, 0));
    }
    free(out);
    uint8_t hash[32];
    FUZZ_IGNORE(coh_chain_rpc_send_raw(rpc, hash, call, sizeof call, &err));
    const char *methods[3] = {"eth_blockNumber", "eth_getBlockByNumber", "eth_chainId"};
    json_t *params[3] = {NULL, json_pack("[s, b]", "latest", 0), NULL};
    json_t *results[3];
    if (coh_chain_rpc_batch(rpc, results, methods, params, 3, &err) == 0)
        for (int i = 0; i < 3; i++)
            FUZZ_CHECK(results[i] != NULL);
    for (int i = 0; i < 3; i++)
        json_decref(results[i]);
    coh_chain_rpc_free(rpc);
    return 0;
}
