/*
 * cmd_ledger: operator commands on the ledger, talking to PostgreSQL directly with the
 * config's database_url and master key.
 *
 *   cohort ledger deposit --address 0x.. --amount N [--key K] [--tx REF] [--config FILE]
 *     credits available:<address> from chain. Until the chain module reports confirmed
 *     on-chain deposits this is how a local test network gets funds, so it is refused unless
 *     chain_id is a local dev chain (31337 anvil/hardhat, 1337 ganache/geth --dev).
 *   cohort ledger rotate-key [--config FILE] [--guardian-key FILE [--rpc URL] [--contract 0x..]]
 *     replaces the ledger signing key, recorded as a key_rotation entry signed by the old key,
 *     and prints the guardian's transaction that makes the new key the rewards contract's
 *     anchorer (setAnchorer), or sends it when given the guardian key (docs/KEYS.md). Running
 *     cohortd processes refuse to post until restarted; their anchorer reloads the key and
 *     proposes with it once the chain has it.
 *
 * Settings: database_url, master_key_file, chain_id, chain_rpc_url, rewards_contract, read
 * with cohortd's own table (coh_settings_load): FILE and COHORT_<NAME> are accepted or refused
 * exactly as `cohortd --check` does, with the same one-line message.
 */
#include "chain/chain.h"
#include "cli/cli.h"
#include "crypto/crypto.h"
#include "svc/svc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Room for any value a config file line can hold (core/config.c reads lines of 4 KiB). */
struct settings {
    char database_url[4096];
    char master_key_file[4096];
    long chain_id;
    char chain_rpc_url[4096];
    char rewards_contract[64]; /* 42 characters or empty: the table's address type */
};

/* The settings this command uses, from cohortd's table: one error line and 1 on failure. */
static int load_settings(struct settings *s, const char *file)
{
    memset(s, 0, sizeof *s);
    coh_err err = {0};
    coh_config *cfg = NULL;
    if (coh_settings_load(&cfg, file, &err))
        return coh_cli_fail("ledger", "%s", err.msg);
    snprintf(s->database_url, sizeof s->database_url, "%s", coh_config_str(cfg, "database_url"));
    snprintf(s->master_key_file, sizeof s->master_key_file, "%s",
             coh_config_str(cfg, "master_key_file"));
    s->chain_id = coh_config_int(cfg, "chain_id");
    snprintf(s->chain_rpc_url, sizeof s->chain_rpc_url, "%s", coh_config_str(cfg, "chain_rpc_url"));
    snprintf(s->rewards_contract, sizeof s->rewards_contract, "%s",
             coh_config_str(cfg, "rewards_contract"));
    int too_long = strlen(coh_config_str(cfg, "database_url")) >= sizeof s->database_url ||
                   strlen(coh_config_str(cfg, "master_key_file")) >= sizeof s->master_key_file ||
                   strlen(coh_config_str(cfg, "chain_rpc_url")) >= sizeof s->chain_rpc_url;
    coh_config_free(cfg);
    if (too_long)
        return coh_cli_fail("ledger", "config: database_url, master_key_file or chain_rpc_url is "
                                      "longer than 4095 bytes");
    return 0;
}

/* Opens the pool and loads the master key and the ledger key. */
static int open_ledger(coh_db_pool **db, coh_secbuf **master, coh_secbuf **key, uint8_t addr[20],
                       const struct settings *s)
{
    coh_err err = {0};
    if (coh_master_key_load(master, s->master_key_file, 0, &err))
        return coh_cli_fail("ledger", "%s", err.msg);
    if (coh_db_pool_new(db, s->database_url, 2, 30000, &err))
        return coh_cli_fail("ledger", "database_url: %s", err.msg);
    if (coh_db_ledger_key_load(key, addr, *db, *master, 1, &err))
        return coh_cli_fail("ledger", "ledger key: %s", err.msg);
    return 0;
}

static int deposit(int argc, char **argv)
{
    const char *config = NULL, *address = NULL, *amount = NULL, *key = NULL, *tx = "";
    for (int i = 2; i < argc; i++) {
        const char **slot = strcmp(argv[i], "--config") == 0    ? &config
                            : strcmp(argv[i], "--address") == 0 ? &address
                            : strcmp(argv[i], "--amount") == 0  ? &amount
                            : strcmp(argv[i], "--key") == 0     ? &key
                            : strcmp(argv[i], "--tx") == 0      ? &tx
                                                                : NULL;
        if (!slot || i + 1 >= argc)
            return coh_cli_fail("ledger", "deposit: unknown or incomplete option '%s'", argv[i]);
        *slot = argv[++i];
    }
    if (!address || !amount)
        return coh_cli_fail("ledger", "deposit needs --address and --amount");
    struct settings s;
    if (load_settings(&s, config))
        return 1;
    uint8_t a[20], amt[32];
    char lower[COH_ADDR_HEX_SIZE];
    if (coh_crypto_address_parse(a, address) != 0)
        return coh_cli_fail("ledger", "--address '%s' is not a valid address", address);
    if (coh_u256_from_dec(amt, amount) != 0 || coh_u256_is_zero(amt))
        return coh_cli_fail("ledger", "--amount must be a positive integer of base units");
    coh_hex_encode(lower, a, 20, 1);
    coh_ledger_entry e;
    coh_db_pool *db = NULL;
    coh_secbuf *master = NULL, *lkey = NULL;
    uint8_t signer[20];
    int rc = open_ledger(&db, &master, &lkey, signer, &s);
    if (!rc) {
        coh_err err = {0};
        int replayed = 0;
        if (coh_svc_deposit_local(&e, &replayed, db, lkey, (uint64_t)s.chain_id, lower, amt, tx,
                                  key, &err)) {
            rc = coh_cli_fail("ledger", "%s%s",
                              err.code == COH_ERR_FORBIDDEN ? "" : "deposit: ", err.msg);
        } else {
            char hash[COH_HASH_HEX_SIZE];
            coh_hex_encode(hash, e.hash, 32, 1);
            printf("%s entry %llu: deposit %s to %s (hash %s)\n",
                   replayed ? "already posted as" : "posted", (unsigned long long)e.seq, amount,
                   e.credit, hash);
        }
    }
    coh_secbuf_free(lkey);
    coh_secbuf_free(master);
    coh_db_pool_free(db);
    return rc;
}

/*
 * The guardian's half of a rotation: setAnchorer(new) on the rewards contract, sent with the
 * guardian key in key_file and waited for. Returns 0 when mined successfully.
 */
static int send_set_anchorer(const char *key_file, const char *rpc_url, const uint8_t rewards[20],
                             const uint8_t *data, size_t len)
{
    coh_err err = {0};
    coh_secbuf *gkey = NULL;
    coh_chain_rpc *rpc = NULL;
    uint8_t hash[32];
    uint64_t block = 0;
    int ok = 0, rc;
    coh_chain_rpc_opts o = {10000, 2, 200};
    if ((rc = coh_key_file_read(&gkey, 32, key_file, "guardian key", &err)) == 0 &&
        !(rpc = coh_chain_rpc_new(rpc_url, &o)))
        rc = coh_err_set(&err, COH_ERR_NOMEM, "out of memory");
    if (rc == 0 &&
        (rc = coh_chain_send_call(hash, rpc, gkey, rewards, data, len, 100000, &err)) == 0)
        rc = coh_chain_wait_receipt(&ok, &block, rpc, hash, 60000, &err);
    char h[COH_HASH_HEX_SIZE];
    coh_hex_encode(h, hash, 32, 1);
    if (rc == 0 && !ok)
        rc = coh_err_set(&err, COH_CHAIN_ERPC,
                         "transaction %s reverted (is the key the "
                         "contract's guardian?)",
                         h);
    if (rc == 0)
        printf("guardian: setAnchorer mined in block %llu (transaction %s)\n",
               (unsigned long long)block, h);
    coh_chain_rpc_free(rpc);
    coh_secbuf_free(gkey);
    return rc ? coh_cli_fail("ledger",
                             "rotate-key: the guardian's setAnchorer: %s (send the "
                             "transaction above from the guardian)",
                             err.msg)
              : 0;
}

static int rotate_key(int argc, char **argv)
{
    const char *config = NULL, *guardian_key = NULL, *rpc_opt = NULL, *contract_opt = NULL;
    for (int i = 2; i < argc; i++) {
        const char **slot = strcmp(argv[i], "--config") == 0         ? &config
                            : strcmp(argv[i], "--guardian-key") == 0 ? &guardian_key
                            : strcmp(argv[i], "--rpc") == 0          ? &rpc_opt
                            : strcmp(argv[i], "--contract") == 0     ? &contract_opt
                                                                     : NULL;
        if (!slot || i + 1 >= argc)
            return coh_cli_fail("ledger", "rotate-key: unknown or incomplete option '%s'", argv[i]);
        *slot = argv[++i];
    }
    struct settings s;
    if (load_settings(&s, config))
        return 1;
    const char *rpc_url = rpc_opt ? rpc_opt : s.chain_rpc_url;
    const char *contract = contract_opt ? contract_opt : s.rewards_contract;
    uint8_t rewards[20];
    int have_contract = contract[0] && coh_crypto_address_parse(rewards, contract) == 0;
    if (contract[0] && !have_contract)
        return coh_cli_fail("ledger", "rotate-key: rewards contract '%s' is not an address",
                            contract);
    if (guardian_key && (!have_contract || !rpc_url[0]))
        return coh_cli_fail("ledger", "rotate-key: --guardian-key needs the rewards contract and "
                                      "the node (rewards_contract and chain_rpc_url, or --contract "
                                      "and --rpc)");
    coh_db_pool *db = NULL;
    coh_secbuf *master = NULL, *old = NULL, *fresh = NULL;
    uint8_t old_addr[20], new_addr[20];
    int rc = open_ledger(&db, &master, &old, old_addr, &s);
    if (!rc) {
        coh_err err = {0};
        if (coh_db_ledger_key_rotate(&fresh, new_addr, db, master, old, &err)) {
            rc = coh_cli_fail("ledger", "rotate-key: %s", err.msg);
        } else {
            char a[COH_ADDR_HEX_SIZE], b[COH_ADDR_HEX_SIZE], c[COH_ADDR_HEX_SIZE];
            coh_crypto_address_format(a, old_addr);
            coh_crypto_address_format(b, new_addr);
            printf("ledger key rotated: %s -> %s; restart cohortd to sign ledger entries with it\n",
                   a, b);
            coh_chain_buf data;
            coh_chain_buf_init(&data);
            coh_chain_abi_arg arg = coh_chain_abi_address(new_addr);
            coh_chain_abi_calldata(&data, "setAnchorer(address)", &arg, 1);
            char *hex = data.oom ? NULL : malloc(2 * data.len + 3);
            if (hex)
                coh_hex_encode(hex, data.data, data.len, 1);
            if (have_contract)
                coh_crypto_address_format(c, rewards);
            printf("guardian: setAnchorer(%s) on the rewards contract %s: to %s, data %s\n"
                   "fund %s with ETH for gas; cohortd proposes anchors with it once that "
                   "transaction is mined, and sends nothing until then\n",
                   b, have_contract ? c : "(rewards_contract)",
                   have_contract ? c : "(rewards_contract)", hex ? hex : "?", b);
            if (guardian_key && hex)
                rc = send_set_anchorer(guardian_key, rpc_url, rewards, data.data, data.len);
            free(hex);
            coh_chain_buf_clear(&data);
        }
    }
    coh_secbuf_free(fresh);
    coh_secbuf_free(old);
    coh_secbuf_free(master);
    coh_db_pool_free(db);
    return rc;
}

static int run(int argc, char **argv)
{
    if (argc < 2)
        return coh_cli_fail("ledger", "expected a subcommand: deposit or rotate-key");
    if (strcmp(argv[1], "deposit") == 0)
        return deposit(argc, argv);
    if (strcmp(argv[1], "rotate-key") == 0)
        return rotate_key(argc, argv);
    return coh_cli_fail("ledger", "unknown subcommand '%s' (deposit, rotate-key)", argv[1]);
}

const struct coh_cli_cmd coh_cli_cmd_ledger = {
    "ledger", "operator commands on the ledger (test deposits, key rotation)",
    "usage: cohort ledger deposit --address 0x.. --amount N [--key K] [--tx REF] [--config "
    "FILE]\n"
    "       cohort ledger rotate-key [--config FILE] [--guardian-key FILE [--rpc URL] "
    "[--contract 0x..]]\n\n"
    "deposit credits available:<address> with N token base units from 'chain'. It exists for\n"
    "local test networks only and is refused unless chain_id is 31337 or 1337. --key is the\n"
    "idempotency key: repeating a deposit with the same key posts it once.\n"
    "rotate-key replaces the ledger signing key; the change is recorded as a key_rotation\n"
    "entry signed by the old key. It prints the guardian's setAnchorer transaction that makes\n"
    "the new key the rewards contract's anchorer, or sends it with the guardian key in FILE.\n"
    "Restart cohortd afterwards; it proposes anchors with the new key once the chain has it\n"
    "(docs/KEYS.md).\n"
    "Settings database_url, master_key_file, chain_id, chain_rpc_url and rewards_contract come\n"
    "from FILE and COHORT_<NAME>, read exactly as cohortd reads them: a file cohortd --check\n"
    "refuses is refused here with the same message (docs/SETTINGS.md).\n",
    run};
