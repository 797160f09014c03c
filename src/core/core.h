/*
 * core: the bottom layer of Cohort. Errors, logging, hex/base64, secure buffers over
 * sodium_malloc, configuration (file + COHORT_* environment), and process hardening.
 * Depends only on libsodium, jansson and libc.
 */
#ifndef COH_CORE_H
#define COH_CORE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define COH_WUR __attribute__((warn_unused_result))

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

/* ---- configuration ------------------------------------------------------------------ */
typedef struct coh_config coh_config;

/*
 * A setting: its name in the file ("database_url") and in the environment
 * ("COHORT_DATABASE_URL"), its kind and default. Settings with no default are required.
 */
enum coh_config_kind { COH_CFG_STRING, COH_CFG_INT, COH_CFG_BOOL };

typedef struct coh_config_spec {
    const char *name;
    enum coh_config_kind kind;
    const char *default_value; /* NULL: required */
    long min, max;             /* for COH_CFG_INT */
} coh_config_spec;

/*
 * Builds a configuration from the specs: defaults, then file (may be NULL), then the
 * environment (COHORT_<NAME upper-cased>). Unknown keys in the file, malformed values and
 * missing required settings fail with one line naming the setting in err.
 */
COH_WUR int coh_config_load(coh_config **out, const coh_config_spec *specs, size_t n_specs,
                            const char *file, coh_err *err);
void coh_config_free(coh_config *c);
const char *coh_config_str(const coh_config *c, const char *name);
long coh_config_int(const coh_config *c, const char *name);
int coh_config_bool(const coh_config *c, const char *name);

#endif
