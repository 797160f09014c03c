/*
 * fuzz_abi: ABI decoding of eth_call return data and event data. The first input byte picks
 * how many head slots to read; every getter runs on each slot. Property: dynamic bytes
 * returned by get_bytes lie inside the data.
 */
#include "chain/chain.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t slots = data[0] % 16;
    data++;
    size--;
    for (size_t i = 0; i < slots; i++) {
        uint8_t word[32], addr[20];
        uint64_t u;
        int b;
        const uint8_t *p;
        size_t n;
        FUZZ_IGNORE(coh_chain_abi_get_word(word, data, size, i));
        FUZZ_IGNORE(coh_chain_abi_get_u64(&u, data, size, i));
        FUZZ_IGNORE(coh_chain_abi_get_address(addr, data, size, i));
        FUZZ_IGNORE(coh_chain_abi_get_bool(&b, data, size, i));
        if (coh_chain_abi_get_bytes(&p, &n, data, size, i) == 0)
            FUZZ_CHECK(p >= data && n <= size && p + n <= data + size);
    }
    /* Huge indexes must not wrap around. */
    uint8_t word[32];
    const uint8_t *p;
    size_t n;
    FUZZ_CHECK(coh_chain_abi_get_word(word, data, size, SIZE_MAX / 32 + 1) != 0);
    FUZZ_CHECK(coh_chain_abi_get_bytes(&p, &n, data, size, SIZE_MAX) != 0);
    return 0;
}
