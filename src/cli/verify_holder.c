/*
 * verify_holder: `cohort verify --url URL --key FILE`, what only a credit's holder can check.
 * Signed in as the key's address, it reads the address's private credits (GET /v1/me/credits)
 * and proves each against the root its public reward entry carries (the entry was walked and
 * its signature checked before); then it proves the address's claims leaf against the
 * anchored claims root and checks that the leaf's cumulative is exactly the credits it
 * includes, and that every "reward paid" notice has its credit. A tampered credit, a tampered
 * root or a missing credit each print one BROKEN line naming it.
 */
#include "cli/cli.h"
#include "cli/http_client.h"
#include "cli/sign_in.h"
#include "cli/verify.h"
#include "crypto/crypto.h"
#include "ledger/ledger.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static json_t *get_json(const char *base, const char *path, const char *token)
{
    char url[512];
    snprintf(url, sizeof url, "%s%s", base, path);
    struct coh_cli_http_resp r = {0};
    coh_err err = {0};
    if (coh_cli_http_request(&r, url, NULL, token, &err) != 0) {
        coh_cli_fail("verify", "%s", err.msg);
        return NULL;
    }
    json_t *j = r.status == 200 ? json_loads(r.body, 0, NULL) : NULL;
    if (!j && r.status != 404)
        coh_cli_fail("verify", "GET %s answered %ld", path, r.status);
    coh_cli_http_resp_clear(&r);
    return j;
}

static int proof_of(uint8_t (**sib)[32], size_t *n, const json_t *proof)
{
    *n = json_array_size(proof);
    *sib = malloc((*n + 1) * 32);
    if (!*sib || *n > 64)
        return -1;
    for (size_t i = 0; i < *n; i++)
        if (coh_hex_decode_exact((*sib)[i], 32, json_string_value(json_array_get(proof, i))) != 0)
            return -1;
    return 0;
}

/* One wave-2 credit against its walked reward entry; adds its amount to *sum. */
static int check_credit(const json_t *c, const uint8_t addr[20], const json_t *rewards,
                        uint8_t sum[32])
{
    json_int_t seq = json_integer_value(json_object_get(c, "seq"));
    const char *request = json_string_value(json_object_get(c, "request"));
    char key[24];
    snprintf(key, sizeof key, "%lld", (long long)seq);
    const json_t *entry = json_object_get(rewards, key);
    uint8_t amount[32], salt[32], leaf[32], want_root[32], root[32];
    if (!entry) {
        printf("BROKEN: your credit at entry %lld names no reward entry of the ledger\n",
               (long long)seq);
        return 1;
    }
    if (coh_u256_from_dec(amount, json_string_value(json_object_get(c, "amount"))) ||
        coh_hex_decode_exact(salt, 32, json_string_value(json_object_get(c, "salt"))) ||
        coh_hex_decode_exact(want_root, 32, json_string_value(json_object_get(entry, "root")))) {
        printf("BROKEN: your credit at entry %lld is malformed\n", (long long)seq);
        return 1;
    }
    coh_ledger_credit_leaf(leaf, addr, amount, salt);
    uint8_t(*sib)[32] = NULL;
    size_t n = 0;
    int bad = proof_of(&sib, &n, json_object_get(c, "proof"));
    if (!bad)
        coh_ledger_merkle_process(root, leaf, (const uint8_t(*)[32])sib, n);
    free(sib);
    if (bad || memcmp(root, want_root, 32) != 0) {
        printf("BROKEN: your credit of %s at entry %lld (request %s): its proof does not lead to "
               "the root that reward entry publishes (the credit or the entry's root was "
               "altered)\n",
               json_string_value(json_object_get(c, "amount")), (long long)seq,
               request ? request : "?");
        return 1;
    }
    const char *er = json_string_value(json_object_get(entry, "request"));
    if (request && er && strcmp(request, er) != 0) {
        printf("BROKEN: your credit at entry %lld says request %s, the entry pays %s\n",
               (long long)seq, request, er);
        return 1;
    }
    if (coh_u256_add(sum, sum, amount) != 0) {
        printf("BROKEN: your credits add up beyond a uint256 at entry %lld\n", (long long)seq);
        return 1;
    }
    return 0;
}

int coh_cli_verify_holder(const char *url, const char *key_path, const json_t *rewards)
{
    char base[256], authority[256];
    if (coh_cli_base_url(base, sizeof base, authority, sizeof authority, url) != 0)
        return coh_cli_fail("verify", "--url must be an absolute URL such as http://host:port");
    coh_secbuf *key = NULL;
    coh_err err = {0};
    if (coh_crypto_seckey_load(&key, key_path, &err) != 0)
        return coh_cli_fail("verify", "%s", err.msg);
    uint8_t addr[20];
    char lower[COH_ADDR_HEX_SIZE];
    char *token = NULL;
    int rc = coh_crypto_address_from_seckey(addr, key) != 0;
    if (!rc)
        rc = coh_cli_sign_in(&token, "verify", base, authority, key, NULL);
    coh_secbuf_free(key);
    if (rc)
        return 1;
    coh_hex_encode(lower, addr, 20, 1);
    json_t *credits = get_json(base, "/v1/me/credits", token);
    json_t *list = json_object_get(credits, "credits");
    rc = credits ? 0 : 1;
    /* Every wave-2 credit against its entry's root; sums of all credits up to any seq. */
    size_t i;
    json_t *c;
    int n_checked = 0;
    json_array_foreach(list, i, c)
    {
        uint8_t ignore[32] = {0};
        if (json_is_true(json_object_get(c, "wave1")))
            continue;
        rc |= check_credit(c, addr, rewards, ignore);
        n_checked++;
    }
    /* Every reward notice has its credit (payouts to this address itself). */
    json_t *inbox = rc ? NULL : get_json(base, "/v1/me/inbox", token);
    json_t *profile = rc ? NULL : get_json(base, "/v1/me/profile", token);
    const char *payout = json_string_value(
        json_object_get(json_object_get(profile, "consent_profile"), "payout_address"));
    if (inbox && (!payout || strcasecmp(payout, lower) == 0)) {
        json_t *n;
        json_array_foreach(json_object_get(inbox, "notices"), i, n)
        {
            if (strcmp(json_string_value(json_object_get(n, "kind")), "reward_paid") != 0)
                continue;
            const char *req = json_string_value(json_object_get(n, "request_id"));
            int found = 0;
            size_t j;
            json_t *x;
            json_array_foreach(list, j, x)
            {
                const char *xr = json_string_value(json_object_get(x, "request"));
                found |= xr && req && strcmp(xr, req) == 0;
            }
            if (!found) {
                printf("BROKEN: you were told your reward for request %s was paid, but no "
                       "credit of yours pays it (a credit is missing)\n",
                       req ? req : "?");
                rc = 1;
            }
        }
    }
    /* The claims leaf: its proof to the anchored claims root, and exactly the credits it
     * includes (those of entries up to the anchor's last entry). */
    char path[80];
    snprintf(path, sizeof path, "/v1/claims/%s", lower);
    json_t *claim = rc ? NULL : get_json(base, path, token);
    if (claim) {
        json_int_t last = json_integer_value(
            json_object_get(json_object_get(claim, "anchor"), "last_seq"));
        uint8_t sum[32] = {0}, cum[32], leaf[32], root[32], want[32];
        int sum_over = 0;
        json_array_foreach(list, i, c)
        {
            uint8_t a[32];
            if (json_integer_value(json_object_get(c, "seq")) <= last &&
                coh_u256_from_dec(a, json_string_value(json_object_get(c, "amount"))) == 0)
                sum_over |= coh_u256_add(sum, sum, a) != 0;
        }
        const char *cs = json_string_value(json_object_get(claim, "cumulative_amount"));
        uint8_t(*sib)[32] = NULL;
        size_t np = 0;
        int bad = !cs || coh_u256_from_dec(cum, cs) != 0 ||
                  coh_hex_decode_exact(want, 32,
                                       json_string_value(json_object_get(claim, "claims_root"))) ||
                  proof_of(&sib, &np, json_object_get(claim, "proof")) != 0;
        if (!bad) {
            coh_ledger_claim_leaf(leaf, addr, cum);
            coh_ledger_merkle_process(root, leaf, (const uint8_t(*)[32])sib, np);
        }
        free(sib);
        char sum_s[COH_U256_DEC_SIZE];
        coh_u256_to_dec(sum_s, sum);
        if (bad || memcmp(root, want, 32) != 0) {
            printf("BROKEN: your claims leaf (%s) does not lead to the anchored claims root\n",
                   cs ? cs : "?");
            rc = 1;
        } else if (sum_over) {
            printf("BROKEN: your credits up to entry %lld add up beyond a uint256\n",
                   (long long)last);
            rc = 1;
        } else if (coh_u256_cmp(sum, cum) != 0) {
            printf("BROKEN: the anchored claims leaf credits you %s, but your credits up to entry "
                   "%lld add up to %s (a credit is missing or altered)\n",
                   cs, (long long)last, sum_s);
            rc = 1;
        } else {
            printf("claims: your leaf of %s proves against the anchored claims root (anchor up to "
                   "entry %lld)\n",
                   cs, (long long)last);
        }
        json_decref(claim);
    }
    if (!rc)
        printf("credits: %d private credit(s) of %s prove against their reward entries\n",
               n_checked, lower);
    json_decref(inbox);
    json_decref(profile);
    json_decref(credits);
    if (token) {
        sodium_memzero(token, strlen(token));
        free(token);
    }
    return rc;
}
