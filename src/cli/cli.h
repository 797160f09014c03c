/*
 * cli: the `cohort` command. Each subcommand lives in its own cmd_<name>.c and defines
 * `const struct coh_cli_cmd coh_cli_cmd_<name>`; the build collects them into the table.
 */
#ifndef COH_CLI_H
#define COH_CLI_H

struct coh_cli_cmd {
    const char *name;    /* as typed: "anonymize", "sign-in" */
    const char *summary; /* one line for `cohort --help` */
    const char *usage;   /* full text for `cohort NAME --help` */
    /* argv[0] is the subcommand name. Returns the process exit status. */
    int (*run)(int argc, char **argv);
};

/* Prints "cohort NAME: message" on stderr and returns 1 (or 2 for usage errors). */
int coh_cli_fail(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int coh_cli_usage_error(const struct coh_cli_cmd *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/*
 * Reads the option at argv[*i] ("--name value" or "--name=value") into opt (64 bytes) and
 * *value, advancing *i past what it used. Returns 0, or prints a usage error for cmd and
 * returns its exit status (2) when the value is missing.
 */
int coh_cli_option_next(const struct coh_cli_cmd *cmd, int argc, char **argv, int *i, char opt[64],
                        char **value);
/* True when argv holds -h or --help. */
int coh_cli_wants_help(int argc, char **argv);

#endif
