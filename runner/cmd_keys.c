/* `runner keys`: the spec key reference as Markdown, from the validation tables themselves
 * (docs/SPEC.md holds a copy that a test keeps identical). */
#include "runner/commands.h"
#include "runner/spec.h"

#include <stdio.h>

int cmd_keys(int argc, char **argv, Error *err)
{
    if (argc > 0) return err_set(err, "error: 'keys' takes no arguments, found '%s'", argv[0]);
    spec_keys_markdown(stdout);
    return 0;
}
