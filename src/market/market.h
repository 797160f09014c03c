/*
 * market: the marketplace's rules, above the database. Request specifications (schema,
 * eligibility, privacy mode) and their validation; private matching of a profile against a
 * request; contributors' records parsed and validated in secure memory only; the release
 * computation over the privacy engine; and the release worker that closes requests, releases,
 * pays and refunds through the ledger, idempotently.
 */
#ifndef COH_MARKET_H
#define COH_MARKET_H

#include "core/core.h"
#include "crypto/crypto.h"
#include "ledger/ledger.h"
#include "privacy/privacy.h"

#include <jansson.h>

/* ---- request schemas (schema.c) ------------------------------------------------------- */
enum coh_market_field_type { COH_FIELD_INTEGER, COH_FIELD_DECIMAL, COH_FIELD_CATEGORY };
enum coh_market_field_role { COH_ROLE_QUASI, COH_ROLE_SENSITIVE, COH_ROLE_MEASURE };

typedef struct coh_market_schema coh_market_schema;

/*
 * Parses and validates a request schema {"fields":[{name, type, unit?, min?, max?, decimals?,
 * granularity?, categories?, role}]}. COH_ERR_INVALID with a message naming the member
 * ("schema.fields[2].min").
 */
COH_WUR int coh_market_schema_parse(coh_market_schema **out, const json_t *schema, coh_err *err);
void coh_market_schema_free(coh_market_schema *s);
size_t coh_market_schema_fields(const coh_market_schema *s);
const char *coh_market_schema_field_name(const coh_market_schema *s, size_t i);
enum coh_market_field_type coh_market_schema_field_type(const coh_market_schema *s, size_t i);
enum coh_market_field_role coh_market_schema_field_role(const coh_market_schema *s, size_t i);
const char *coh_market_schema_field_min(const coh_market_schema *s, size_t i);
const char *coh_market_schema_field_max(const coh_market_schema *s, size_t i);
/* Decimal fields: the most fraction digits a value may have (0 for integers). */
int coh_market_schema_field_decimals(const coh_market_schema *s, size_t i);
/* Numeric fields: the step of the grid k-anonymous intervals end on (the declared
 * `granularity`, else the default step over [min, max]); NULL for category fields. */
const char *coh_market_schema_field_granularity(const coh_market_schema *s, size_t i);
size_t coh_market_schema_field_categories(const coh_market_schema *s, size_t i,
                                          const char *const **out);
/* A new empty privacy table with one column per field, declared from the schema. */
COH_WUR int coh_market_schema_table(coh_table **out, const coh_market_schema *s, coh_err *err);

/* ---- records (record.c) ------------------------------------------------------------------ */
/*
 * Parses a flat JSON object held in secure memory (a decrypted contribution) and appends it
 * as one row to t, whose columns come from coh_market_schema_table. Every field is required,
 * unknown or duplicate members are refused, integers must be integers, and values must lie in
 * the schema's bounds or categories. Errors name the field, never its value. The plaintext is
 * only ever copied into secure memory.
 */
COH_WUR int coh_market_record_append(coh_table *t, const coh_market_schema *s, coh_secbuf *plain,
                                     coh_err *err);

/*
 * The same rules without a table, for the intake of one contribution: plain[0..len) is the
 * opened record, scratch (secure memory, at least len + 1 bytes) holds the parsed cells and
 * is wiped before returning. Bounds are compared exactly as decimals.
 */
COH_WUR int coh_market_record_check(const coh_market_schema *s, const uint8_t *plain, size_t len,
                                    uint8_t *scratch, size_t scratch_cap, coh_err *err);

/*
 * Opens a sealed contribution (crypto_box_seal to pk) with the request's secret key, wrapped
 * under master as `wrapped`, and checks the record against s. Keys are cached unwrapped in
 * secure memory; the plaintext lives in a per-thread secure buffer, wiped before returning.
 * COH_ERR_INVALID (does not open, or breaks the schema), COH_ERR_CONFLICT (key unavailable).
 */
COH_WUR int coh_market_intake_check(const coh_secbuf *master, const char *id,
                                    const uint8_t *wrapped, size_t wrapped_len,
                                    const uint8_t pk[32], const coh_market_schema *s,
                                    const uint8_t *ct, size_t ct_len, coh_err *err);

/*
 * Forgets the request's unwrapped key, if cached (the request was shredded). The release
 * worker of every process also asks which cached requests another process shredded.
 */
void coh_market_intake_forget(const char *id);
/* The ids of the requests whose keys are cached (at most max, of 64). */
size_t coh_market_intake_cached(char (*ids)[COH_HASH_HEX_SIZE], size_t max);

/* ---- request keys at rest (reqkey.c) ----------------------------------------------------- */
/* A wrapped request key: version byte, nonce, the 32-byte key and its tag. */
#define COH_MARKET_REQKEY_BYTES (1 + 32 + 40)
/*
 * Wraps the request's secret key under master, bound to its id ("0x" + 64 hex): it opens only
 * for that id. 0 or an error.
 */
COH_WUR int coh_market_reqkey_wrap(uint8_t out[COH_MARKET_REQKEY_BYTES], const coh_secbuf *master,
                                   const char *id, const coh_secbuf *sk);
/* Opens what coh_market_reqkey_wrap made for the same id; COH_CRYPTO_EDECRYPT otherwise. */
COH_WUR int coh_market_reqkey_unwrap(coh_secbuf **sk, const coh_secbuf *master, const char *id,
                                     const uint8_t *wrapped, size_t len);
/* The size of a key wrapped before keys were bound to their request. */
#define COH_MARKET_REQKEY_LEGACY_BYTES (COH_MARKET_REQKEY_BYTES - 1)
/* Opens a legacy wrapped key, checks it is pk's, and wraps it bound to id (reqkeys upgrade);
 * COH_CRYPTO_EDECRYPT when it does not open or is not pk's. */
COH_WUR int coh_market_reqkey_rewrap(uint8_t out[COH_MARKET_REQKEY_BYTES],
                                     const coh_secbuf *master, const char *id,
                                     const uint8_t *legacy, size_t len, const uint8_t pk[32]);

/* In k-anonymity a sensitive field is released as given (protected by l-diversity), so it must
 * be a category field of at most this many categories: a number or a zip code declared
 * "sensitive" would otherwise leave raw and identifying. */
#define COH_MARKET_SENSITIVE_MAX_CATEGORIES 32

/* ---- operator floors (floors.c) -------------------------------------------------------- */
/*
 * What no request can lower, set by the operator (cohortd.conf privacy_*). Checked when a
 * request is created or previewed and again when it is released, so a floor raised later
 * also holds for requests already open.
 */
typedef struct coh_market_floors {
    unsigned min_k;               /* privacy_min_k [5] */
    double min_l;                 /* l on every sensitive field [2] */
    coh_rational max_epsilon;     /* privacy_max_epsilon per request [1] */
    coh_rational max_delta;       /* privacy_max_delta [1e-6] */
    unsigned min_dp_contributors; /* privacy_min_dp_contributors [50] */
    uint8_t min_escrow[32];       /* request_min_escrow: least reward x max_contributors [0] */
} coh_market_floors;

/* The design's defaults. */
void coh_market_floors_default(coh_market_floors *f);
/*
 * Reads privacy_min_k, privacy_max_epsilon, privacy_max_delta and privacy_min_dp_contributors
 * from c, a configuration of cohortd's settings (coh_settings_load). An operator may only raise
 * the design's floors, never lower them below its hard limits (k >= 2, epsilon <= 10,
 * delta <= 0.001, at least 1 contributor): those are the settings' bounds in the table
 * (core/settings.c), so a value beyond them is refused at load, naming the setting.
 */
COH_WUR int coh_market_floors_from_config(coh_market_floors *f, const coh_config *c,
                                          coh_err *err);
/*
 * Does spec (coh_market_spec_validate's output) lock at least f->min_escrow (reward x
 * max_contributors)? A floor on what each request costs its researcher, so that burying other
 * requests under thousands of cheap ones costs real tokens. 0, or COH_ERR_INVALID with a
 * message naming request_min_escrow and both amounts.
 */
COH_WUR int coh_market_escrow_check(const json_t *spec, const coh_market_floors *f, coh_err *err);

/* ---- request specifications (spec.c) ---------------------------------------------------- */
/*
 * Validates a POST /v1/requests body against the rules (unknown field types, k < 2, epsilon
 * <= 0, reward <= 0, min > max, close time in the past ...) and returns the normalized stored
 * form in *out (caller owns): title, description, purpose, schema, eligibility, privacy,
 * reward, min_contributors, max_contributors, closes_at (RFC 3339), retention_days, epsilon,
 * enrollment ({"mode":"open"} or {"mode":"invite","codes":N}; the posted code hashes are read
 * again with coh_market_invite_hashes). COH_ERR_INVALID with a message that starts with the
 * offending member's name.
 */
COH_WUR int coh_market_spec_validate(json_t **out, const json_t *body, int64_t now_s,
                                     const coh_market_floors *floors, coh_err *err);
/*
 * Private matching: does profile (coh_db_profile_get's object) fit request (eligibility,
 * purpose, reward >= min_reward, epsilon <= remaining lifetime epsilon) and stay within the
 * contributor's own floors (k >= min_k, epsilon <= max_epsilon, no k-anonymity when
 * statistics_only)? Epsilons are compared exactly as rationals; a value that cannot be read
 * does not match.
 */
int coh_market_match(const json_t *request, const json_t *consent_profile);
/*
 * Is request within the operator's floors f (NULL: the defaults)? A request stored before a
 * floor was raised may not be (k below privacy_min_k; epsilon or delta above their floors, or
 * fewer possible contributors than privacy_min_dp_contributors): it is held to the floor or not
 * released at all, so the inbox no longer offers it.
 */
int coh_market_within_operator_floors(const json_t *request, const coh_market_floors *f);

/* ---- enrollment (spec.c validates, enrollment.c) --------------------------------------- */
/*
 * Who may contribute to a request (docs/PRIVACY.md, "Who may enrol"): the request's
 * `enrollment` is {"mode":"open"} (any signed-in wallet; the default) or {"mode":"invite",
 * "codes":N} (N one-time codes); coh_market_spec_validate checks the posted form ({"mode":
 * "invite","codes":N} or {"mode":"invite","code_hashes":[...]}) and stores the normalized one.
 * {"mode":"attested", ...} (attestations from listed issuers, below).
 */
#define COH_MARKET_INVITE_CODES_MAX 10000
#define COH_MARKET_INVITE_CODE_BYTES 15 /* 120 random bits */
#define COH_MARKET_INVITE_CODE_SIZE 30  /* 24 characters, 5 hyphens, NUL */
#define COH_MARKET_INVITE_CODE_MAX 128  /* characters of a code, hyphens and spaces aside */
/* A code as people read it: "7KQ2-M9XD-..." (Crockford base32 of raw, groups of four). */
void coh_market_invite_code_text(char out[COH_MARKET_INVITE_CODE_SIZE],
                                 const uint8_t raw[COH_MARKET_INVITE_CODE_BYTES]);
/*
 * The stored hash of a code: SHA-256 of its text with spaces and hyphens removed and letters
 * uppercased. COH_ERR_INVALID for an empty code, one longer than COH_MARKET_INVITE_CODE_MAX
 * or with a character outside printable ASCII.
 */
COH_WUR int coh_market_invite_code_hash(uint8_t out[32], const char *code);
/*
 * A list of code hashes (a researcher's own, enrollment.code_hashes; codes to revoke): 1 to
 * COH_MARKET_INVITE_CODES_MAX distinct "0x" + 64 hex; *out (malloc'd, *n entries) decoded.
 * COH_ERR_INVALID with a message naming member.
 */
COH_WUR int coh_market_invite_hashes(uint8_t (**out)[32], size_t *n, const json_t *list,
                                     const char *member, coh_err *err);
/* The request's enrollment mode: "open" (also when it has none), "invite" or "attested". */
const char *coh_market_enrollment_mode(const json_t *request);

/* ---- attested enrollment (attestation.c) ------------------------------------------------ */
/*
 * Validates a posted {"mode":"attested", issuers, schema, subject, resolver?, revocable?,
 * eligibility?, eas} and stores in *norm its normalized form: issuers lowercase, schema_uid
 * computed from the schema definition, resolver and revocable (as the EAS schema registry
 * does), eligibility {field: [accepted values]} ({} when none), eas {address, version,
 * chain_id}. COH_ERR_INVALID naming the member.
 */
COH_WUR int coh_market_attested_enrollment(json_t **norm, const json_t *e, coh_err *err);
/* The EAS domain an attested request's attestations are signed in; -1 when it has none. */
COH_WUR int coh_market_eas_domain(coh_crypto_eas_domain *d, const json_t *request);
/*
 * The attestation's data decoded by the request's schema, as {field: text}: uintN/intN in
 * decimal, address and bytesN/bytes in lowercase 0x hex, bool "true"/"false", string as is.
 * COH_ERR_INVALID when the data does not decode as the schema.
 */
COH_WUR int coh_market_attestation_values(json_t **values, const json_t *request,
                                          const uint8_t *data, size_t len, coh_err *err);
/* The first attested eligibility field whose value is not accepted, or NULL when all are. */
const char *coh_market_attested_mismatch(const json_t *request, const json_t *values);
/* Is signer one of the request's issuers? */
int coh_market_attestation_issuer(const json_t *request, const uint8_t signer[20]);
/* The stored form of a subject: HMAC-SHA256 under key (the service's, derived from the master
 * key) of the request's id and the value. */
void coh_market_subject_hash(uint8_t out[32], const uint8_t key[32], const char *request_id,
                             const char *subject_value);

/* ---- consent terms (terms.c) ----------------------------------------------------------- */
/*
 * The terms a version-2 consent signs, from a request as the API shows it: {schema, privacy,
 * eligibility, enrollment, retention_days, purpose}. enrollment is the word "open" when the
 * request has none or its mode is open (so requests stored before enrollment modes, and every
 * consent signed for them, keep their hash), else the request's enrollment object as stored
 * ({"mode":"invite","codes":N}). A new reference, or NULL and COH_ERR_INVALID when the request
 * lacks them.
 */
json_t *coh_market_terms(const json_t *request, coh_err *err);
/* termsHash: keccak256 of the terms' RFC 8785 canonical JSON. */
COH_WUR int coh_market_terms_hash(uint8_t out[32], const json_t *request, coh_err *err);
/*
 * The consent's privacy summary rendered from the terms, deterministically (malloc'd UTF-8):
 * "k-anonymity k=10, l=2 on diagnosis; encrypted records destroyed 30 days after release",
 * "differential privacy ε=1 (laplace): count, mean(steps); encrypted records ...".
 */
COH_WUR int coh_market_terms_summary(char **out, const json_t *request, coh_err *err);

/* ---- release computation (release.c) --------------------------------------------------- */
/*
 * Runs the privacy mode (the request's normalized privacy object) over the finished table t,
 * never below the operator's floors (a request stored before a floor was raised is held to
 * it too): *out = {mode, content_type, content, report}; *rows (malloc'd, *n_rows entries)
 * are the table rows whose values appear in the release (the others were suppressed; every
 * row is paid). remaining[r] is row r's contributor's remaining lifetime epsilon (DP only).
 * COH_ERR_LIMIT when k / l / the budget / a floor cannot be met: no release at all.
 */
COH_WUR int coh_market_release_compute(json_t **out, size_t **rows, size_t *n_rows,
                                       const coh_table *t, const coh_market_schema *s,
                                       const json_t *privacy, const coh_market_floors *floors,
                                       const coh_rational *remaining, coh_err *err);

/* Checks at creation that the privacy mode can run over this schema (DP queries, bounds and
 * lattices), so a request never fails at release for a reason known in advance. */
COH_WUR int coh_market_release_check(const coh_market_schema *s, const json_t *privacy,
                                     const coh_market_floors *floors, coh_err *err);


/* ---- vocabulary (vocab.c) ---------------------------------------------------------------- */
/* A lowercase slug: a-z, 0-9, '-', '_', 1 to 40 characters (purposes, data categories). */
int coh_market_slug_ok(const char *s);
/* Whether value (may be NULL) is valid for the coarse attribute name (age_band, sex, country):
 * 1 or 0; -1 when name is not a known attribute. */
int coh_market_attribute_ok(const char *name, const char *value);
/* What attribute name accepts, in words ("one of female, male, ..."). */
const char *coh_market_attribute_values(const char *name);

/* ---- profiles (profile.c) ------------------------------------------------------------------ */
/* A PUT /v1/me/profile body, checked; pointers into the body or into this struct. */
struct coh_market_profile_update {
    int researcher, contributor; /* -1: unchanged */
    const char *display_name;    /* NULL: unchanged */
    const json_t *categories, *attributes, *purposes; /* NULL: unchanged */
    const char *min_reward, *lifetime_epsilon;         /* NULL: unchanged */
    const char *min_k;          /* NULL: unchanged; "": no floor of one's own */
    const char *max_epsilon;    /* NULL: unchanged; "": none */
    int statistics_only;        /* -1: unchanged */
    const char *payout_address; /* NULL: unchanged; "": the sign-in address */
    char min_k_buf[8], payout_buf[43];
};
/* Checks every member of body (an unknown one is refused, naming it): COH_ERR_INVALID with
 * the reason in err. */
COH_WUR int coh_market_profile_parse(struct coh_market_profile_update *u, const json_t *body,
                                     coh_err *err);

/* ---- request preview (request_preview.c) ---------------------------------------------- */
/*
 * POST /v1/requests/preview: validates body exactly as creation does (floors NULL: the
 * defaults) and stores nothing. *out = {valid, terms (the normalized spec), escrow, floors,
 * expected_errors (DP: [{contributors, queries: [{query, expected_error_95, relative,
 * mostly_noise}]}] at min_contributors and max_contributors), warnings}. COH_ERR_INVALID
 * naming the member, as creation.
 */
COH_WUR int coh_market_request_preview(json_t **out, const json_t *body, int64_t now_s,
                                       const coh_market_floors *floors, coh_err *err);

/* ---- DP expected errors (preview.c) -------------------------------------------------- */
/*
 * For a normalized DP privacy object (as coh_market_spec_validate stores it) over schema s:
 * *out = [{query, expected_error_95, relative, mostly_noise}], one per query, for
 * n_contributors rows, from the same noise plans as the release (coh_dp_expected_error:
 * groups of equal size, values spread evenly over the field's bounds). expected_error_95 is
 * in the statistic's units (per group, per histogram bucket); relative = that error over a
 * plausible size of the statistic (count: rows per group; mean and quantiles: (max-min)/2;
 * sum: rows x max(|middle|, (max-min)/2); variance: (max-min)^2/12; bucket: rows / buckets);
 * mostly_noise = relative > 0.5. COH_ERR_INVALID when the privacy object is not DP or does
 * not fit the schema (as the release would fail).
 */
COH_WUR int coh_market_dp_expected_error(json_t **out, const coh_market_schema *s,
                                         const json_t *privacy, size_t n_contributors,
                                         coh_err *err);

#endif
