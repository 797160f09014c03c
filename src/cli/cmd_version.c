/* cmd_version: `cohort version`, the same as `cohort --version`. */
#include "cli/cli.h"
#include "core/core.h"

#include <stdio.h>

static int run(int argc, char **argv)
{
    (void)argv;
    if (argc > 1)
        return coh_cli_fail("version", "takes no arguments");
    printf("cohort %s\n", coh_version());
    return 0;
}

const struct coh_cli_cmd coh_cli_cmd_version = {
    "version", "print the version", "usage: cohort version\n\nPrints the version of cohort.\n", run};
