/*
 * fuzz_config: cohortd.conf as read by cohortd and the CLI (core/config.c over cohortd's
 * table, core/settings.c), and every setting's type check over the input as a value.
 * Properties: a refusal is one line starting "config: "; an accepted file's values each pass
 * their check again, and integers are within their bounds.
 */
#include "core/core.h"
#include "fuzz.h"

#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *value = malloc(size + 1);
    if (!value)
        return 0;
    memcpy(value, data, size);
    value[size] = '\0';
    coh_err err = {0};
    for (size_t i = 0; i < coh_settings_count; i++)
        if (coh_config_check_value(&coh_settings[i], value, "fuzz", &err) != 0)
            FUZZ_CHECK(strncmp(err.msg, "config: fuzz: ", 14) == 0);
    free(value);

    int fd = memfd_create("cohortd.conf", 0);
    if (fd < 0)
        return 0;
    if (write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return 0;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    coh_config *c = NULL;
    if (coh_settings_load(&c, path, &err) != 0) {
        FUZZ_CHECK(c == NULL);
        FUZZ_CHECK(strncmp(err.msg, "config: ", 8) == 0 && !strchr(err.msg, '\n'));
    } else {
        for (size_t i = 0; i < coh_settings_count; i++) {
            const coh_config_spec *s = &coh_settings[i];
            const char *v = coh_config_str(c, s->name);
            FUZZ_CHECK(v && coh_config_check_value(s, v, "again", &err) == 0);
            if (s->kind == COH_CFG_INT || s->kind == COH_CFG_DURATION_MS ||
                s->kind == COH_CFG_DURATION_S) {
                long n = coh_config_int(c, s->name);
                FUZZ_CHECK(n >= s->min && n <= s->max);
            }
        }
        coh_config_free(c);
    }
    close(fd);
    return 0;
}
