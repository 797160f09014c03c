/*
 * sign_in: Sign-In with Ethereum from the command line, shared by `cohort sign-in` and the
 * commands that act as a signed-in user (`cohort contribute`). The code lives in
 * cmd_sign_in.c; this header is its interface for the other commands.
 *
 * Like a wallet, it refuses to sign for a domain other than the one it is talking to: a
 * server could otherwise hand out a message valid on another site.
 */
#ifndef COH_CLI_SIGN_IN_H
#define COH_CLI_SIGN_IN_H

#include "core/core.h"

#include <stddef.h>

/*
 * Normalizes a --url: base gets url without trailing slashes, authority its "host:port".
 * Returns 0, or -1 when url is empty, too long or not "scheme://authority[...]".
 */
COH_WUR int coh_cli_base_url(char *base, size_t base_cap, char *authority, size_t authority_cap,
                             const char *url);

/*
 * Signs in at base (as normalized by coh_cli_base_url) with the account key: GET
 * /v1/auth/nonce, EIP-4361 message, EIP-191 signature, POST /v1/auth/siwe.
 * Returns 0 with *token a malloc'd bearer token (the caller wipes and frees it), or 1 after
 * printing one line "cohort CMD: ..." on stderr; *token is NULL then.
 * Args: cmd names the command in error messages; statement may be NULL.
 */
COH_WUR int coh_cli_sign_in(char **token, const char *cmd, const char *base, const char *authority,
                            const coh_secbuf *key, const char *statement);

#endif
