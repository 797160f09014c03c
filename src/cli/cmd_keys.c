/*
 * cmd_keys: `cohort keys new|show`, account keys for operators and tests. The private key
 * only ever exists in secure memory and in a 0600 file created with O_EXCL, so an existing
 * key is never overwritten and a world-readable key file is refused rather than used.
 */
#include "cli/cli.h"
#include "core/core.h"
#include "crypto/crypto.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_CHAIN_ID 31337 /* the local development chain (anvil) */

static const char USAGE[] =
    "usage: cohort keys new --out FILE [--chain-id N]\n"
    "       cohort keys show --key FILE [--chain-id N]\n"
    "\n"
    "new   creates a secp256k1 account key in FILE (64 hex chars, mode 0600; an existing\n"
    "      file is never overwritten) and prints its EIP-55 address.\n"
    "show  prints the address and did:pkh of the key in FILE, which must have mode 0600.\n"
    "--chain-id  chain of the DID (default 31337).\n";

const struct coh_cli_cmd coh_cli_cmd_keys;

static int parse_chain(uint64_t *out, const char *s)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-')
        return -1;
    *out = v;
    return 0;
}

static int run(int argc, char **argv)
{
    if (argc < 2)
        return coh_cli_usage_error(&coh_cli_cmd_keys, "missing subcommand 'new' or 'show'");
    const char *sub = argv[1];
    const char *file = NULL;
    uint64_t chain = DEFAULT_CHAIN_ID;
    const char *file_flag = strcmp(sub, "new") == 0 ? "--out" : "--key";
    if (strcmp(sub, "new") != 0 && strcmp(sub, "show") != 0)
        return coh_cli_usage_error(&coh_cli_cmd_keys, "unknown subcommand '%s'", sub);
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], file_flag) == 0 && i + 1 < argc)
            file = argv[++i];
        else if (strcmp(argv[i], "--chain-id") == 0 && i + 1 < argc) {
            if (parse_chain(&chain, argv[++i]) != 0)
                return coh_cli_usage_error(&coh_cli_cmd_keys, "bad --chain-id '%s'", argv[i]);
        } else
            return coh_cli_usage_error(&coh_cli_cmd_keys, "unexpected argument '%s'", argv[i]);
    }
    if (!file)
        return coh_cli_usage_error(&coh_cli_cmd_keys, "%s FILE is required", file_flag);

    coh_secbuf *key = NULL;
    coh_err err = {0};
    int rc;
    if (strcmp(sub, "new") == 0) {
        rc = coh_crypto_seckey_generate(&key);
        if (rc)
            return coh_cli_fail("keys", "cannot generate a key: %s", coh_crypto_strerror(rc));
        rc = coh_crypto_seckey_save(file, key, &err);
    } else {
        rc = coh_crypto_seckey_load(&key, file, &err);
    }
    if (rc) {
        coh_secbuf_free(key);
        return coh_cli_fail("keys", "%s", err.msg[0] ? err.msg : coh_crypto_strerror(rc));
    }
    uint8_t addr[20];
    rc = coh_crypto_address_from_seckey(addr, key);
    coh_secbuf_free(key);
    if (rc)
        return coh_cli_fail("keys", "%s", coh_crypto_strerror(rc));
    char text[COH_ADDR_HEX_SIZE], did[COH_CRYPTO_DID_MAX];
    coh_crypto_address_format(text, addr);
    if (strcmp(sub, "new") == 0) {
        printf("%s\n", text);
    } else {
        coh_crypto_did_format(did, chain, addr);
        printf("address %s\ndid %s\n", text, did);
    }
    return 0;
}

const struct coh_cli_cmd coh_cli_cmd_keys = {"keys", "create or show an account key (secp256k1)",
                                             USAGE, run};
