/*
 * cmd_ledger: operator commands on the ledger, talking to PostgreSQL directly with the
 * config's database_url and master key.
 *
 *   cohort ledger deposit --address 0x.. --amount N [--key K] [--tx REF] [--config FILE]
 *     credits available:<address> from chain. Until the chain module reports confirmed
 *     on-chain deposits this is how a local test network gets funds, so it is refused unless
 *     chain_id is a local dev chain (31337 anvil/hardhat, 1337 ganache/geth --dev).
 *   cohort ledger rotate-key [--config FILE]
 *     replaces the ledger signing key, recorded as a key_rotation entry signed by the old key.
 *     Running cohortd processes refuse to post until restarted.
 *
 * Settings: database_url, master_key_file, chain_id from FILE ("name = value" lines; other
 * names are ignored here because they belong to cohortd), overridden by COHORT_<NAME>.
 */
#include "cli/cli.h"
#include "crypto/crypto.h"
#include "db/ledger_db.h"

#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct settings {
    char database_url[1024];
    char master_key_file[1024];
    long chain_id;
};

static void trim(char *s)
{
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    size_t i = 0;
    while (isspace((unsigned char)s[i]))
        i++;
    memmove(s, s + i, strlen(s + i) + 1);
}

static int load_settings(struct settings *s, const char *file)
{
    memset(s, 0, sizeof *s);
    s->chain_id = 31337;
    char chain[32] = "";
    struct {
        const char *name;
        char *out;
        size_t cap;
    } keys[] = {{"database_url", s->database_url, sizeof s->database_url},
                {"master_key_file", s->master_key_file, sizeof s->master_key_file},
                {"chain_id", chain, sizeof chain}};
    if (file) {
        FILE *f = fopen(file, "r");
        if (!f)
            return coh_cli_fail("ledger", "cannot read config file %s", file);
        char line[2048];
        while (fgets(line, sizeof line, f)) {
            char *hash = strchr(line, '#'), *eq = strchr(line, '=');
            if (hash)
                *hash = '\0';
            if (!eq)
                continue;
            *eq = '\0';
            trim(line);
            trim(eq + 1);
            for (size_t i = 0; i < 3; i++)
                if (strcmp(line, keys[i].name) == 0)
                    snprintf(keys[i].out, keys[i].cap, "%s", eq + 1);
        }
        fclose(f);
    }
    const char *env[] = {"COHORT_DATABASE_URL", "COHORT_MASTER_KEY_FILE", "COHORT_CHAIN_ID"};
    for (size_t i = 0; i < 3; i++)
        if (getenv(env[i]))
            snprintf(keys[i].out, keys[i].cap, "%s", getenv(env[i]));
    if (chain[0]) {
        char *end;
        s->chain_id = strtol(chain, &end, 10);
        if (*end || s->chain_id < 1)
            return coh_cli_fail("ledger", "config: setting 'chain_id' must be a positive integer");
    }
    if (!s->database_url[0])
        return coh_cli_fail("ledger", "config: setting 'database_url' is required");
    if (!s->master_key_file[0])
        return coh_cli_fail("ledger", "config: setting 'master_key_file' is required");
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
    if (s.chain_id != 31337 && s.chain_id != 1337)
        return coh_cli_fail("ledger",
                            "deposit refused: chain_id %ld is not a local test network (31337 or "
                            "1337); real deposits are credited from confirmed on-chain events",
                            s.chain_id);
    coh_ledger_entry e;
    memset(&e, 0, sizeof e);
    e.kind = COH_LEDGER_DEPOSIT;
    uint8_t a[20];
    char lower[43], random_key[8 + 32 + 1]; /* "deposit:" + 32 hex + NUL */
    if (coh_crypto_address_parse(a, address) != 0)
        return coh_cli_fail("ledger", "--address '%s' is not a valid address", address);
    if (coh_crypto_uint256_from_dec(e.amount, amount) != 0 || coh_ledger_u256_is_zero(e.amount))
        return coh_cli_fail("ledger", "--amount must be a positive integer of base units");
    coh_hex_encode(lower, a, 20, 1);
    snprintf(e.debit, sizeof e.debit, "chain");
    snprintf(e.credit, sizeof e.credit, "available:%s", lower);
    snprintf(e.ref_tx, sizeof e.ref_tx, "%s", tx);
    if (!key) {
        uint8_t r[16];
        randombytes_buf(r, sizeof r);
        memcpy(random_key, "deposit:", 8);
        coh_hex_encode(random_key + 8, r, sizeof r, 0);
        key = random_key;
    }
    snprintf(e.idempotency_key, sizeof e.idempotency_key, "%s", key);
    coh_db_pool *db = NULL;
    coh_secbuf *master = NULL, *lkey = NULL;
    uint8_t signer[20];
    int rc = open_ledger(&db, &master, &lkey, signer, &s);
    if (!rc) {
        coh_err err = {0};
        int replayed = 0;
        if (coh_db_ledger_post(&e, &replayed, db, lkey, &err)) {
            rc = coh_cli_fail("ledger", "deposit: %s", err.msg);
        } else {
            char hash[67];
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

static int rotate_key(int argc, char **argv)
{
    const char *config = NULL;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--config") != 0 || i + 1 >= argc)
            return coh_cli_fail("ledger", "rotate-key: unknown option '%s'", argv[i]);
        config = argv[++i];
    }
    struct settings s;
    if (load_settings(&s, config))
        return 1;
    coh_db_pool *db = NULL;
    coh_secbuf *master = NULL, *old = NULL, *fresh = NULL;
    uint8_t old_addr[20], new_addr[20];
    int rc = open_ledger(&db, &master, &old, old_addr, &s);
    if (!rc) {
        coh_err err = {0};
        if (coh_db_ledger_key_rotate(&fresh, new_addr, db, master, old, &err)) {
            rc = coh_cli_fail("ledger", "rotate-key: %s", err.msg);
        } else {
            char a[43], b[43];
            coh_crypto_address_format(a, old_addr);
            coh_crypto_address_format(b, new_addr);
            printf("ledger key rotated: %s -> %s; restart cohortd to sign with it\n", a, b);
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
    "       cohort ledger rotate-key [--config FILE]\n\n"
    "deposit credits available:<address> with N token base units from 'chain'. It exists for\n"
    "local test networks only and is refused unless chain_id is 31337 or 1337. --key is the\n"
    "idempotency key: repeating a deposit with the same key posts it once.\n"
    "rotate-key replaces the ledger signing key; the change is recorded as a key_rotation\n"
    "entry signed by the old key. Restart cohortd afterwards.\n"
    "Settings database_url, master_key_file and chain_id come from FILE and COHORT_<NAME>.\n",
    run};
