/*
 * chain: Ethereum wire formats and the node client for Cohort's anchoring and claims.
 *
 *   RLP (strict decoding: canonical lengths, no leading zeros, nothing trailing), the ABI
 *   subset our contracts use (uint256, uint64, address, bytes32, bool, bytes/string,
 *   bytes32[], selectors), EIP-1559 (type-2) transactions (build, sign, hash, decode and
 *   validate, recover the sender), the legacy EIP-155 signing hash, and a JSON-RPC client
 *   over libcurl (timeouts, retries with backoff, batches, node errors surfaced).
 *
 * Conventions: 0 on success, a negative code (enum coh_chain_err or COH_ERR_*) otherwise,
 * named by coh_chain_strerror(). Growable output goes to a coh_chain_buf whose allocation
 * failure is sticky (checked once at the end). uint256 values are 32-byte big-endian
 * arrays. Private keys are only read from coh_secbuf. Depends on core and crypto only.
 */
#ifndef COH_CHAIN_H
#define COH_CHAIN_H

#include "core/core.h"
#include "crypto/crypto.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

enum coh_chain_err {
    COH_CHAIN_ERLP = -200,       /* malformed or non-canonical RLP */
    COH_CHAIN_ETRAILING = -201,  /* bytes after the top-level item */
    COH_CHAIN_EDEPTH = -202,     /* nesting deeper than COH_CHAIN_RLP_MAX_DEPTH */
    COH_CHAIN_ETXTYPE = -203,    /* not a type-2 transaction */
    COH_CHAIN_ETXFIELD = -204,   /* a transaction field has the wrong shape */
    COH_CHAIN_EZEROS = -205,     /* integer with leading zero bytes */
    COH_CHAIN_EOVERFLOW = -206,  /* integer wider than its type */
    COH_CHAIN_EFEE = -207,       /* priority fee above max fee, or gas * fee > 2^256-1 */
    COH_CHAIN_EABI = -208,       /* ABI data malformed or out of bounds */
    COH_CHAIN_ERPC = -209,       /* the node answered with a JSON-RPC error */
    COH_CHAIN_ETRANSPORT = -210, /* HTTP failure, timeout, or a non-JSON-RPC answer */
};

const char *coh_chain_strerror(int code);

/* ---- growable byte buffer ----------------------------------------------------------------- */
typedef struct coh_chain_buf {
    uint8_t *data; /* malloc'd, NULL while empty */
    size_t len;    /* bytes used */
    size_t cap;    /* bytes allocated */
    int oom;       /* nonzero once an allocation failed; appends are then ignored */
} coh_chain_buf;

void coh_chain_buf_init(coh_chain_buf *b);
/* Frees the data (wiping it) and re-initializes b. */
void coh_chain_buf_clear(coh_chain_buf *b);
void coh_chain_buf_append(coh_chain_buf *b, const void *data, size_t len);

/* ---- RLP ------------------------------------------------------------------------------------ */
#define COH_CHAIN_RLP_MAX_DEPTH 64

/* Appends the encoding of a byte string. */
void coh_chain_rlp_bytes(coh_chain_buf *b, const uint8_t *data, size_t len);
/* Appends an unsigned big-endian integer, leading zeros stripped (0 encodes as 0x80). */
void coh_chain_rlp_uint(coh_chain_buf *b, const uint8_t *be, size_t len);
void coh_chain_rlp_u64(coh_chain_buf *b, uint64_t v);
/* Lists: mark = list_begin(b); append items; list_end(b, mark) inserts the header. */
size_t coh_chain_rlp_list_begin(const coh_chain_buf *b);
void coh_chain_rlp_list_end(coh_chain_buf *b, size_t mark);

/* A decoded item: points into the caller's input. */
typedef struct coh_chain_rlp_item {
    int is_list;
    const uint8_t *payload; /* string bytes, or the concatenated encodings of the children */
    size_t len;             /* payload length */
} coh_chain_rlp_item;

/*
 * Parses one item at the start of data[0..len); *used gets its encoded size. Strict: single
 * bytes < 0x80 must be self-encoded, long forms only for payloads > 55 bytes, lengths without
 * leading zeros, nothing past len. Children are not checked (see coh_chain_rlp_validate).
 */
COH_WUR int coh_chain_rlp_parse(coh_chain_rlp_item *out, size_t *used, const uint8_t *data,
                                size_t len);
/* Checks that data is exactly one item, recursively well formed, depth <= the maximum. */
COH_WUR int coh_chain_rlp_validate(const uint8_t *data, size_t len);
/* Iterates a list's children: *pos starts at 0; returns 1 with *out set, 0 at the end, or <0. */
COH_WUR int coh_chain_rlp_next(coh_chain_rlp_item *out, size_t *pos,
                               const coh_chain_rlp_item *list);
/* Reads a string item as an unsigned integer of at most out_len bytes, right-aligned in out.
 * Rejects lists, leading zeros (COH_CHAIN_EZEROS) and wider values (COH_CHAIN_EOVERFLOW). */
COH_WUR int coh_chain_rlp_to_uint(uint8_t *out, size_t out_len, const coh_chain_rlp_item *it);
COH_WUR int coh_chain_rlp_to_u64(uint64_t *out, const coh_chain_rlp_item *it);

/* ---- ABI --------------------------------------------------------------------------------- */
/* selector = keccak256(signature)[0:4], e.g. "claim(address,uint256,bytes32[])". */
void coh_chain_abi_selector(uint8_t out[4], const char *signature);

enum coh_chain_abi_type {
    COH_ABI_UINT256,       /* 32-byte big-endian value in word */
    COH_ABI_UINT64,        /* u64 */
    COH_ABI_ADDRESS,       /* 20 bytes in word[12..32) */
    COH_ABI_BYTES32,       /* word */
    COH_ABI_BOOL,          /* u64 != 0 */
    COH_ABI_BYTES,         /* dynamic: ptr/len (also for string) */
    COH_ABI_BYTES32_ARRAY, /* dynamic: ptr points at len * 32 bytes */
};

typedef struct coh_chain_abi_arg {
    enum coh_chain_abi_type type;
    uint8_t word[32];   /* static value, already laid out as its 32-byte word */
    uint64_t u64;       /* UINT64, BOOL */
    const uint8_t *ptr; /* BYTES, BYTES32_ARRAY; borrowed */
    size_t len;         /* bytes for BYTES, elements for BYTES32_ARRAY */
} coh_chain_abi_arg;

/* Convenience constructors. */
coh_chain_abi_arg coh_chain_abi_uint256(const uint8_t v[32]);
coh_chain_abi_arg coh_chain_abi_u64(uint64_t v);
coh_chain_abi_arg coh_chain_abi_address(const uint8_t a[20]);
coh_chain_abi_arg coh_chain_abi_bytes32(const uint8_t v[32]);
coh_chain_abi_arg coh_chain_abi_bool(int v);
coh_chain_abi_arg coh_chain_abi_bytes(const uint8_t *p, size_t len);
coh_chain_abi_arg coh_chain_abi_bytes32_array(const uint8_t *p, size_t n);

/* Appends the head/tail encoding of args (no selector). */
void coh_chain_abi_encode(coh_chain_buf *b, const coh_chain_abi_arg *args, size_t n);
/* Appends selector(signature) || encode(args). */
void coh_chain_abi_calldata(coh_chain_buf *b, const char *signature, const coh_chain_abi_arg *args,
                            size_t n);

/* Decoders over ABI data (return data or event data); index counts 32-byte head slots. */
COH_WUR int coh_chain_abi_get_word(uint8_t out[32], const uint8_t *data, size_t len, size_t index);
COH_WUR int coh_chain_abi_get_u64(uint64_t *out, const uint8_t *data, size_t len, size_t index);
COH_WUR int coh_chain_abi_get_address(uint8_t out[20], const uint8_t *data, size_t len,
                                      size_t index);
COH_WUR int coh_chain_abi_get_bool(int *out, const uint8_t *data, size_t len, size_t index);
/* Dynamic bytes/string at head slot index: *out points into data, *out_len its length. */
COH_WUR int coh_chain_abi_get_bytes(const uint8_t **out, size_t *out_len, const uint8_t *data,
                                    size_t len, size_t index);

/* ---- transactions ---------------------------------------------------------------------------- */
/* An EIP-1559 transaction with an empty access list. */
typedef struct coh_chain_tx {
    uint64_t chain_id;
    uint64_t nonce;
    uint8_t max_priority_fee[32]; /* wei per gas, uint256 */
    uint8_t max_fee[32];          /* wei per gas, uint256 */
    uint64_t gas_limit;
    int has_to; /* 0: contract creation */
    uint8_t to[20];
    uint8_t value[32];   /* wei, uint256 */
    const uint8_t *data; /* calldata; borrowed (owned by the caller) */
    size_t data_len;
} coh_chain_tx;

/* 0x02 || rlp([chainId, nonce, maxPriority, maxFee, gas, to, value, data, []]) */
void coh_chain_tx_encode_unsigned(coh_chain_buf *b, const coh_chain_tx *tx);
void coh_chain_tx_signing_hash(uint8_t out[32], const coh_chain_tx *tx);
/*
 * Signs tx with seckey and appends 0x02 || rlp([..., yParity, r, s]) to b; hash gets the
 * transaction hash (keccak256 of the signed bytes). sig (may be NULL) gets r || s || v(27/28).
 */
COH_WUR int coh_chain_tx_sign(coh_chain_buf *b, uint8_t hash[32], uint8_t sig[65],
                              const coh_chain_tx *tx, const coh_secbuf *seckey);
/*
 * Decodes and validates a signed type-2 transaction: strict RLP, integers without leading
 * zeros and within their widths, fees consistent (priority <= max, gas * max fee fits in
 * 256 bits), to empty or 20 bytes, access list a list, y_parity 0/1. tx->data points into
 * raw. sender (may be NULL) gets the recovered address; hash (may be NULL) the tx hash.
 */
COH_WUR int coh_chain_tx_decode(coh_chain_tx *tx, uint8_t sender[20], uint8_t hash[32],
                                const uint8_t *raw, size_t len);

/* A legacy transaction, for the EIP-155 signing hash (the published example). */
typedef struct coh_chain_legacy_tx {
    uint64_t nonce;
    uint8_t gas_price[32];
    uint64_t gas_limit;
    uint8_t to[20];
    uint8_t value[32];
    const uint8_t *data;
    size_t data_len;
    uint64_t chain_id;
} coh_chain_legacy_tx;

/* keccak256(rlp([nonce, gasPrice, gas, to, value, data, chainId, 0, 0])) */
void coh_chain_legacy_signing_hash(uint8_t out[32], const coh_chain_legacy_tx *tx);
/* Signs with v = 35 + 2 * chainId + yParity and appends the signed RLP to b. */
COH_WUR int coh_chain_legacy_sign(coh_chain_buf *b, const coh_chain_legacy_tx *tx,
                                  const coh_secbuf *seckey);

/* ---- quantities ---------------------------------------------------------------------------- */
/* "0x..." JSON-RPC quantity (no leading zeros, "0x0" for zero) of a uint256. */
void coh_chain_quantity_format(char out[COH_U256_QTY_SIZE], const uint8_t v[32]);
/* Parses a JSON-RPC quantity (0x-hex, up to 64 digits) into a uint256. */
COH_WUR int coh_chain_quantity_parse(uint8_t out[32], const char *text);
COH_WUR int coh_chain_quantity_u64(uint64_t *out, const char *text);

/* ---- JSON-RPC client ------------------------------------------------------------------------- */
typedef struct coh_chain_rpc coh_chain_rpc;

typedef struct coh_chain_rpc_opts {
    long timeout_ms; /* per attempt; default 10000 */
    int retries;     /* extra attempts on transport errors; default 3 */
    long backoff_ms; /* first backoff, doubled each retry; default 200 */
} coh_chain_rpc_opts;

/* url: http(s) endpoint. opts may be NULL for defaults. Returns NULL on OOM. */
coh_chain_rpc *coh_chain_rpc_new(const char *url, const coh_chain_rpc_opts *opts);
void coh_chain_rpc_free(coh_chain_rpc *rpc);

/*
 * Calls method with params (a JSON array; stolen: the reference is consumed, even on
 * failure). On success *result is a new reference to the "result" member. A node error is
 * COH_CHAIN_ERPC with "method: <node message>" in err (never retried); transport failures
 * are retried with backoff, then COH_CHAIN_ETRANSPORT. Thread-safe per rpc object.
 */
COH_WUR int coh_chain_rpc_call(coh_chain_rpc *rpc, json_t **result, const char *method,
                               json_t *params, coh_err *err);
/*
 * A batch: methods[i] with params[i] (each stolen). results[i] gets a new reference to the
 * result, or NULL when that call failed (its error message goes to err, the first one only,
 * and the function returns COH_CHAIN_ERPC after filling every slot it can).
 */
COH_WUR int coh_chain_rpc_batch(coh_chain_rpc *rpc, json_t **results, const char *const *methods,
                                json_t **params, size_t n, coh_err *err);

/* n bytes as a "0x"-prefixed lowercase hex JSON string, for parameters (NULL when out of memory).
 */
json_t *coh_chain_json_hex(const uint8_t *b, size_t n);

/* eth_* helpers over coh_chain_rpc_call. */
COH_WUR int coh_chain_rpc_u64(coh_chain_rpc *rpc, uint64_t *out, const char *method, json_t *params,
                              coh_err *err);
/* eth_call {to, data} at "latest"; *out malloc'd return data. */
COH_WUR int coh_chain_rpc_eth_call(coh_chain_rpc *rpc, uint8_t **out, size_t *out_len,
                                   const uint8_t to[20], const uint8_t *data, size_t len,
                                   coh_err *err);
/* The same at a block: "latest", "pending" or a 0x quantity (a block number). */
COH_WUR int coh_chain_rpc_eth_call_at(coh_chain_rpc *rpc, uint8_t **out, size_t *out_len,
                                      const uint8_t to[20], const uint8_t *data, size_t len,
                                      const char *block, coh_err *err);
/* eth_sendRawTransaction; hash gets what the node returned. */
COH_WUR int coh_chain_rpc_send_raw(coh_chain_rpc *rpc, uint8_t hash[32], const uint8_t *raw,
                                   size_t len, coh_err *err);

/* ---- sending one call (send.c) --------------------------------------------------------------- */
/* The node's fee suggestion: tip (eth_maxPriorityFeePerGas, 1 gwei if unsupported) and
 * max fee = 2 * the latest base fee + tip. */
COH_WUR int coh_chain_fees(coh_chain_rpc *rpc, uint8_t max_fee[32], uint8_t tip[32], coh_err *err);
/* Signs a call of `to` with data from key (its pending nonce, the node's chain id and fees)
 * and broadcasts it; hash gets the transaction hash. */
COH_WUR int coh_chain_send_call(uint8_t hash[32], coh_chain_rpc *rpc, const coh_secbuf *key,
                                const uint8_t to[20], const uint8_t *data, size_t len,
                                uint64_t gas_limit, coh_err *err);
/* Polls for the transaction's receipt up to timeout_ms: *ok = its status, *block its block. */
COH_WUR int coh_chain_wait_receipt(int *ok, uint64_t *block, coh_chain_rpc *rpc,
                                   const uint8_t hash[32], long timeout_ms, coh_err *err);

#endif
