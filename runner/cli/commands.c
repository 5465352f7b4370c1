/* The commands' usage lines, from the one table in commands.h. */
#include "runner/cli/commands.h"

#include <string.h>

static const struct {
    const char *name, *usage;
} usages[] = {
#define USAGE_ENTRY(name, usage, help) {#name, "usage: runner " usage},
    RUNNER_COMMANDS(USAGE_ENTRY)
#undef USAGE_ENTRY
};

const char *command_usage(const char *name)
{
    for (size_t i = 0; i < sizeof usages / sizeof usages[0]; i++)
        if (!strcmp(usages[i].name, name)) return usages[i].usage;
    return NULL;
}
