/*
 * verify: what `cohort verify` checks beyond the public walk of the chain (cmd_verify.c):
 * the holder's own private credits (verify_holder.c).
 */
#ifndef COH_CLI_VERIFY_H
#define COH_CLI_VERIFY_H

#include <jansson.h>

/*
 * --key FILE: signs in as the key's address at url and checks its private credits against
 * rewards (the walked wave-2 reward entries: {"<seq>": {request, count, root, amount}}), its
 * notices and its claims leaf. Prints a BROKEN line for each break; returns 0 or 1.
 */
int coh_cli_verify_holder(const char *url, const char *key_path, const json_t *rewards);

#endif
