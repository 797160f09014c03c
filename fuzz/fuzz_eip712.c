/*
 * fuzz_eip712: eth_signTypedData_v4 JSON ({types, primaryType, domain, message}) as a wallet
 * or the CLI hands it over, hashed by coh_crypto_eip712_hash; also encodeType of the primary
 * type and of every declared type (recursive, cyclic and undeclared references).
 */
#include "crypto/crypto.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *v = json_loadb((const char *)data, size, 0, NULL);
    if (!v)
        return 0;
    uint8_t digest[32], ds[32], sh[32];
    coh_err err = {0};
    FUZZ_IGNORE(coh_crypto_eip712_hash(digest, ds, sh, v, &err));
    json_t *types = json_object_get(v, "types");
    const char *name;
    json_t *def;
    size_t n = 0;
    json_object_foreach(types, name, def)
    {
        if (n++ == 8)
            break;
        char *enc = NULL;
        if (coh_crypto_eip712_encode_type(&enc, types, name, &err) == 0)
            FUZZ_CHECK(enc != NULL);
        free(enc);
    }
    json_decref(v);
    return 0;
}
