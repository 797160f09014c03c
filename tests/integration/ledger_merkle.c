/*
 * ledger_merkle: drives the ledger's claims tree (src/ledger/merkle.c) from outside C, for
 * tests/e2e/ledger-merkle.test.mjs, which compares its output with @openzeppelin/merkle-tree.
 *
 *   ledger_merkle --input FILE    (FILE "-" reads stdin)
 *
 * Input:  {"trees": [{"values": [["0x<address>", "<uint256 decimal>"], ...],
 *                     "sort": true}, ...]}            ("sort" defaults to true, as in
 *                                                      StandardMerkleTree.of)
 * Output: {"trees": [{"root": "0x..", "values": [{"leaf": "0x..", "treeIndex": n,
 *                     "proof": ["0x..", ...]}, ...]}, ...]}   one line, values in input order
 *
 * Each value's leaf is coh_ledger_claim_leaf(address, amount); treeIndex and proof are those
 * of its leaf's position in the tree; every proof is also checked with
 * coh_ledger_merkle_verify before it is printed. Exit status 0, or 1 with a message on stderr.
 */
#include "crypto/crypto.h"
#include "ledger/ledger.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const char *fmt, const char *arg)
{
    fprintf(stderr, "ledger_merkle: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n");
    return 1;
}

static json_t *hex32(const uint8_t h[32])
{
    char s[67];
    coh_hex_encode(s, h, 32, 1);
    return json_string(s);
}

/* One tree: its root and, per value in input order, leaf, tree index and proof. */
static json_t *one_tree(const json_t *spec, char *why, size_t cap)
{
    const json_t *values = json_object_get(spec, "values");
    const json_t *sort_v = json_object_get(spec, "sort");
    int sort = sort_v ? json_is_true(sort_v) : 1;
    size_t n = json_array_size(values);
    if (!json_is_array(values) || n == 0) {
        snprintf(why, cap, "each tree needs a non-empty \"values\" array");
        return NULL;
    }
    uint8_t(*leaves)[32] = malloc(n * 32);
    if (!leaves) {
        snprintf(why, cap, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *v = json_array_get(values, i);
        const char *addr = json_string_value(json_array_get(v, 0));
        const char *amount = json_string_value(json_array_get(v, 1));
        uint8_t a[20], amt[32];
        if (json_array_size(v) != 2 || !addr || !amount || coh_hex_decode_exact(a, 20, addr) != 0 ||
            coh_u256_from_dec(amt, amount) != 0) {
            snprintf(why, cap, "value %zu is not [\"0x<address>\", \"<uint256 decimal>\"]", i);
            free(leaves);
            return NULL;
        }
        coh_ledger_claim_leaf(leaves[i], a, amt);
    }
    coh_ledger_merkle *t = NULL;
    if (coh_ledger_merkle_new(&t, (const uint8_t(*)[32])leaves, n, sort)) {
        snprintf(why, cap, "cannot build the tree");
        free(leaves);
        return NULL;
    }
    uint8_t root[32], proof[64][32];
    coh_ledger_merkle_root(root, t);
    json_t *out = json_object(), *vals = json_array();
    json_object_set_new(out, "root", hex32(root));
    json_object_set_new(out, "values", vals);
    for (size_t i = 0; i < n && out; i++) {
        /* Unsorted trees keep input order; sorted ones are searched (duplicates: the first). */
        long pos = sort ? coh_ledger_merkle_find(t, leaves[i]) : (long)i;
        size_t np = 0;
        if (pos < 0 || coh_ledger_merkle_proof(proof, 64, &np, t, (size_t)pos) != 0 ||
            !coh_ledger_merkle_verify(root, leaves[i], (const uint8_t(*)[32])proof, np)) {
            snprintf(why, cap, "no valid proof for value %zu", i);
            json_decref(out);
            out = NULL;
            break;
        }
        json_t *p = json_array();
        for (size_t k = 0; k < np; k++)
            json_array_append_new(p, hex32(proof[k]));
        json_array_append_new(
            vals, json_pack("{s:o, s:I, s:o}", "leaf", hex32(leaves[i]), "treeIndex",
                            (json_int_t)coh_ledger_merkle_tree_index(t, (size_t)pos), "proof", p));
    }
    coh_ledger_merkle_free(t);
    free(leaves);
    return out;
}

int main(int argc, char **argv)
{
    const char *input = NULL;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--input") == 0 && i + 1 < argc)
            input = argv[++i];
    if (!input)
        return fail("%s", "usage: ledger_merkle --input FILE|-");
    json_error_t je;
    json_t *in =
        strcmp(input, "-") == 0 ? json_loadf(stdin, 0, &je) : json_load_file(input, 0, &je);
    if (!in)
        return fail("cannot parse the input: %s", je.text);
    const json_t *trees = json_object_get(in, "trees");
    if (!json_is_array(trees)) {
        json_decref(in);
        return fail("%s", "the input needs a \"trees\" array");
    }
    json_t *outs = json_array();
    char why[160] = "";
    int rc = 0;
    for (size_t i = 0; i < json_array_size(trees) && !rc; i++) {
        json_t *t = one_tree(json_array_get(trees, i), why, sizeof why);
        if (!t) {
            fprintf(stderr, "ledger_merkle: tree %zu: %s\n", i, why);
            rc = 1;
        } else {
            json_array_append_new(outs, t);
        }
    }
    json_t *out = json_pack("{s:o}", "trees", outs);
    if (!rc && json_dumpf(out, stdout, JSON_COMPACT) != 0)
        rc = fail("%s", "cannot write the output");
    if (!rc)
        putchar('\n');
    json_decref(out);
    json_decref(in);
    return rc;
}
