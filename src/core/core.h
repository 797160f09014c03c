/*
 * core: the bottom layer of Cohort. Errors, logging, hex/base64, named string sizes, uint256
 * arithmetic (u256.c), secure buffers over sodium_malloc, configuration (file + COHORT_*
 * environment), and process hardening.
 * Depends only on libsodium, jansson and libc.
 */
#ifndef COH_CORE_H
#define COH_CORE_H

#include <assert.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define COH_WUR __attribute__((warn_unused_result))

/*
 * Internal invariants, as SQLite does it: assert() states what cannot happen and is checked in
 * the debug and sanitizer build every test runs under (scripts/build.sh); COH_NEVER(x) is for
 * a condition that cannot be true yet has a safe branch, asserted there and taken in release.
 * Neither checks input: input gets an error.
 */
#ifdef NDEBUG
#define COH_NEVER(x) (x)
#else
#define COH_NEVER(x) (assert(!(x)), (x))
#endif

/* ---- errors: 0 ok, negative code on failure ---------------------------------------- */
enum coh_err_code {
    COH_OK = 0,
    COH_ERR_NOMEM = -1,
    COH_ERR_INVALID = -2, /* bad input from outside */
    COH_ERR_NOTFOUND = -3,
    COH_ERR_IO = -4,
    COH_ERR_CRYPTO = -5,
    COH_ERR_CONFLICT = -6,
    COH_ERR_DB = -7,
    COH_ERR_UNAVAILABLE = -8,
    COH_ERR_FORBIDDEN = -9,
    COH_ERR_LIMIT = -10,
};

/* An error with a message meant for the caller; never holds secrets or plaintext. */
typedef struct coh_err {
    int code;
    char msg[256];
    /* Optionally, which refusal precisely (a problem slug of src/http/problems.h, such as
     * "consent-revoked"); coh_err_set clears it, coh_err_reason sets it. */
    const char *reason;
} coh_err;

/* coh_err_set: records code and a printf-style message in err (if non-NULL); returns code. */
int coh_err_set(coh_err *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
const char *coh_strerror(int code);
/* Names the refusal err records (a static string); returns err->code (0 when err is NULL). */
int coh_err_reason(coh_err *err, const char *reason);

/* ---- logging: one JSON object per line on stderr ----------------------------------- */
enum coh_log_level { COH_LOG_DEBUG, COH_LOG_INFO, COH_LOG_WARN, COH_LOG_ERROR };

void coh_log_set_level(enum coh_log_level level);
/* Returns 0 and sets *out for "debug", "info", "warn", "error"; -1 otherwise. */
int coh_log_level_parse(enum coh_log_level *out, const char *name);
void coh_log(enum coh_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Writes a pre-built JSON object (one line) to the log; used by the access log. */
void coh_log_json_line(const char *json);
/*
 * Buffered logging for servers: lines are batched and written by a flusher thread every
 * 100 ms (warnings and errors at once). coh_log_buffered_stop flushes and stops it.
 */
COH_WUR int coh_log_buffered_start(void);
void coh_log_buffered_stop(void);
void coh_log_flush(void);
/* Formats the current UTC time as RFC 3339 with milliseconds into out (>= 32 bytes). */
void coh_log_timestamp(char *out, size_t cap);

#define coh_log_debug(...) coh_log(COH_LOG_DEBUG, __VA_ARGS__)
#define coh_log_info(...) coh_log(COH_LOG_INFO, __VA_ARGS__)
#define coh_log_warn(...) coh_log(COH_LOG_WARN, __VA_ARGS__)
#define coh_log_error(...) coh_log(COH_LOG_ERROR, __VA_ARGS__)

/* ---- hex and base64 ---------------------------------------------------------------- */
/* Writes lowercase hex of bin (2*len+1 bytes incl. NUL; +2 with prefix) into out. */
void coh_hex_encode(char *out, const uint8_t *bin, size_t len, int with_0x);
/*
 * Decodes hex (optional 0x prefix) into out. Returns the byte count, or -1 if the text is
 * not hex, has odd length, or does not fit in out_cap.
 */
COH_WUR long coh_hex_decode(uint8_t *out, size_t out_cap, const char *hex);
/* Decodes exactly out_len bytes; returns 0 or -1. */
COH_WUR int coh_hex_decode_exact(uint8_t *out, size_t out_len, const char *hex);
/* Standard base64 with padding. Returns malloc'd string or NULL. */
char *coh_base64_encode(const uint8_t *bin, size_t len);
/* Returns decoded length or -1. Accepts standard base64 with padding. */
COH_WUR long coh_base64_decode(uint8_t *out, size_t out_cap, const char *b64);

/* ---- string sizes: a buffer that holds exactly one of these, with its NUL ---------- */
#define COH_ADDR_HEX_SIZE 43      /* an address: "0x" + 40 hex digits + NUL */
#define COH_HASH_HEX_SIZE 67      /* 32 bytes (hash, id, root, salt): "0x" + 64 hex + NUL */
#define COH_HASH_BARE_HEX_SIZE 65 /* the same 32 bytes without "0x": 64 hex digits + NUL */
#define COH_SIG_HEX_SIZE 133      /* a 65-byte signature (r, s, v): "0x" + 130 hex + NUL */
#define COH_U256_DEC_SIZE 79      /* a uint256 in decimal: at most 78 digits + NUL */
#define COH_U256_QTY_SIZE 67      /* a JSON-RPC quantity: "0x" + at most 64 hex digits + NUL */

/* ---- uint256: 32 bytes, big-endian (the ABI word, ledger amounts, wei) -----------------
 * One overflow convention: the checked operations return 0 on success and -1 when the
 * result does not fit (overflow, underflow, text that is not a uint256), and then leave out
 * unchanged. out may alias an input. */
/* Strict decimal: one or more ASCII digits and nothing else (no sign, space, "0x"), value
 * <= 2^256-1. Leading zeros are accepted ("007" is 7): the bound is on the value. */
COH_WUR int coh_u256_from_dec(uint8_t out[32], const char *text);
/* Decimal without leading zeros ("0" for zero). */
void coh_u256_to_dec(char out[COH_U256_DEC_SIZE], const uint8_t in[32]);
void coh_u256_from_u64(uint8_t out[32], uint64_t v);
/* *out = v when v <= 2^64-1; -1 (and *out unchanged) otherwise. */
COH_WUR int coh_u256_to_u64(uint64_t *out, const uint8_t v[32]);
/* -1, 0 or 1 as a <, == or > b. */
COH_WUR int coh_u256_cmp(const uint8_t a[32], const uint8_t b[32]);
/* 1 when a is zero, 0 otherwise. */
COH_WUR int coh_u256_is_zero(const uint8_t a[32]);
/* out = a + b; -1 on overflow. */
COH_WUR int coh_u256_add(uint8_t out[32], const uint8_t a[32], const uint8_t b[32]);
/* out = a - b; -1 when b > a. */
COH_WUR int coh_u256_sub(uint8_t out[32], const uint8_t a[32], const uint8_t b[32]);
/* out = a * m; -1 on overflow. */
COH_WUR int coh_u256_mul_u64(uint8_t out[32], const uint8_t a[32], uint64_t m);
/* out = floor(a * num / den) (exact: the product has 288 bits); -1 when den is 0 or the
 * quotient exceeds 2^256-1. For fee bumps (num/den = 112/100). */
COH_WUR int coh_u256_scale(uint8_t out[32], const uint8_t a[32], uint32_t num, uint32_t den);

/* ---- secure buffers: sodium_malloc'd, mlocked, guard pages, wiped on free ------- */
typedef struct coh_secbuf coh_secbuf;

/* Returns a zeroed secure buffer of len bytes (len may be 0), or NULL. */
coh_secbuf *coh_secbuf_new(size_t len);
/* Wipes and frees; NULL is a no-op. */
void coh_secbuf_free(coh_secbuf *b);
uint8_t *coh_secbuf_data(coh_secbuf *b);
size_t coh_secbuf_len(const coh_secbuf *b);

/* ---- process hardening ------------------------------------------------------------- */
/* Initializes libsodium, disables core dumps and ptrace attach. Returns 0 or -1. */
COH_WUR int coh_process_harden(void);
/*
 * Crash point for the crash-consistency and fault tests: when COHORT_TEST_CRASH_AT equals step,
 * the process SIGKILLs itself, as a power cut would. Unset in production; reading it has no
 * other effect. Steps: stored, rewarded, refunded (release worker), anchor-recorded (anchorer).
 */
void coh_crash_point(const char *step);

/*
 * Loads a 32-byte master key from a key file (coh_key_file_read: a regular file, not a
 * symlink, of mode 0600 or stricter, holding 64 hex chars). With create != 0, a missing
 * file is created with a fresh random key. On success *out owns the key in secure memory.
 * Error messages start with "master_key_file:".
 */
COH_WUR int coh_master_key_load(coh_secbuf **out, const char *path, int create, coh_err *err);

/*
 * Key files: 2*len hex chars and a newline. coh_key_file_write creates path with mode 0600
 * (O_EXCL: an existing file is COH_ERR_CONFLICT, never overwritten). coh_key_file_read
 * requires a regular file of mode 0600 or stricter and returns the key in secure memory.
 * what names the key in error messages ("key_file").
 */
COH_WUR int coh_key_file_write(const char *path, const uint8_t *key, size_t len, const char *what,
                               coh_err *err);
COH_WUR int coh_key_file_read(coh_secbuf **out, size_t len, const char *path, const char *what,
                              coh_err *err);

const char *coh_version(void);

/* ---- background workers: one thread calling a step ------------------------------- */
typedef struct coh_worker coh_worker;
/* One unit of work: > 0 when there may be more (called again at once), else 0. */
typedef int (*coh_worker_step_fn)(void *arg);
/* Starts a thread calling step(arg), then again after period_ms (at once while it returns > 0). */
COH_WUR int coh_worker_start(coh_worker **out, long period_ms, coh_worker_step_fn step, void *arg,
                             coh_err *err);
/* Cuts the current sleep short: the next step runs now. */
void coh_worker_wake(coh_worker *w);
/* Stops the thread (waiting for the step in progress) and frees w; NULL is a no-op. */
void coh_worker_stop(coh_worker *w);

/* ---- configuration ------------------------------------------------------------------ */
typedef struct coh_config coh_config;

/*
 * A setting: its name in the file ("database_url") and in the environment
 * ("COHORT_DATABASE_URL"), its type, default, bounds and one line of documentation. Settings
 * with no default are required. Every value is checked against its type at load; the typed
 * getters below then cannot fail.
 */
enum coh_config_kind {
    COH_CFG_STRING,      /* any text; min: least length when not empty (0: none) */
    COH_CFG_INT,         /* decimal integer in [min, max] */
    COH_CFG_BOOL,        /* true, false, 1 or 0 */
    COH_CFG_DURATION_MS, /* integer milliseconds in [min, max] */
    COH_CFG_DURATION_S,  /* integer seconds in [min, max] */
    COH_CFG_DECIMAL,     /* digits with at most 6 fraction digits; [min, max] in millionths */
    COH_CFG_ENUM,        /* one of the words of choices ("debug|info|warn|error") */
    COH_CFG_ADDRESS,     /* 0x and 40 hex digits (a mixed-case checksum is checked where used) */
    COH_CFG_HASH,        /* 0x and 64 hex digits (a keccak256 digest) */
    COH_CFG_URL,         /* http:// or https:// and a host */
    COH_CFG_LISTEN,      /* civetweb listening ports: comma-separated [ip:]port[s|r] */
    COH_CFG_PATH,        /* a file or directory path, not empty */
    COH_CFG_CONNINFO,    /* a libpq connection string or URI, not empty */
    COH_CFG_AMOUNT,      /* a token amount in base units: decimal digits, at most 2^256-1 */
};

enum coh_config_flags {
    COH_CFG_SECRET = 1u << 0,      /* never echoed in messages or listings (passwords, tokens) */
    COH_CFG_OPTIONAL = 1u << 1,    /* empty is allowed and means off (ADDRESS, URL, LISTEN...) */
    COH_CFG_SOURCE_PATH = 1u << 2, /* the default is a data file: source tree or install */
};

typedef struct coh_config_spec {
    const char *name;
    enum coh_config_kind kind;
    const char *default_value; /* NULL: required */
    long min, max;             /* see the kinds */
    unsigned flags;            /* enum coh_config_flags */
    const char *doc;           /* one line, for --help and docs/SETTINGS.md */
    const char *choices;       /* COH_CFG_ENUM: the words, separated by '|' */
} coh_config_spec;

/*
 * Builds a configuration from the specs: defaults, then file (may be NULL), then the
 * environment (COHORT_<NAME upper-cased>). Lines are "name = value"; blank lines and lines
 * starting with '#' are ignored (a '#' later in a line is part of the value). Unknown names,
 * lines without '=' or too long, malformed values and missing required settings fail with
 * one line in err naming the setting and where its value came from ("FILE:LINE" or
 * "COHORT_NAME"); a secret's value is never echoed.
 */
COH_WUR int coh_config_load(coh_config **out, const coh_config_spec *specs, size_t n_specs,
                            const char *file, coh_err *err);
void coh_config_free(coh_config *c);
const char *coh_config_str(const coh_config *c, const char *name);
long coh_config_int(const coh_config *c, const char *name);
int coh_config_bool(const coh_config *c, const char *name);
/* A COH_CFG_DECIMAL setting in millionths ("0.5" -> 500000). */
long coh_config_micros(const coh_config *c, const char *name);
/* Where a setting's value came from: "FILE:LINE", "COHORT_NAME" or "default". */
const char *coh_config_origin(const coh_config *c, const char *name);
/* Checks one value against its spec; 0 or COH_ERR_INVALID with the message in err. */
COH_WUR int coh_config_check_value(const coh_config_spec *s, const char *value, const char *origin,
                                   coh_err *err);
/* The type of a spec as shown to operators ("int", "duration (ms)", "address"...). */
const char *coh_config_kind_name(const coh_config_spec *s);
/* Writes the specs as a text list (markdown 0) or a markdown table (markdown 1) to f. */
void coh_config_describe(FILE *f, const coh_config_spec *specs, size_t n_specs, int markdown);

/*
 * cohortd's settings (settings.c): the one table that cohortd and the CLI commands reading
 * cohortd.conf (cohort ledger) both load, so a file is accepted or refused the same way.
 * coh_settings_load loads it and then applies the rules across settings (a metrics listener
 * off loopback needs metrics_token); messages start "config: ".
 */
extern const coh_config_spec coh_settings[];
extern const size_t coh_settings_count;
COH_WUR int coh_settings_load(coh_config **out, const char *file, coh_err *err);
/* 1 when every civetweb listening port in listen is on 127.x or [::1]; 0 otherwise. */
int coh_listen_is_loopback(const char *listen);
/*
 * The defaults of sql_dir, web_dir and openapi_path (data_dir.c): the source tree for the
 * build tree's binaries, PREFIX/share/cohort for installed ones. Each executable links one of
 * the two builds of data_dir.c; an installed one fills these before main runs.
 */
extern char coh_settings_default_sql_dir[];
extern char coh_settings_default_web_dir[];
extern char coh_settings_default_openapi_path[];

#endif
