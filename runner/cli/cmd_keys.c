/* `runner keys`: the spec key reference as Markdown, from the validation tables themselves
 * (docs/SPEC.md holds a copy that a test keeps identical). */
#include "runner/cli/cmd_args.h"
#include "runner/cli/commands.h"
#include "runner/spec/spec.h"

#include <stdio.h>

int cmd_keys(int argc, char **argv, Error *err)
{
    if (cmd_parse(argc, argv, NULL, 0, NULL, command_usage("keys"), err)) return -1;
    spec_keys_markdown(stdout);
    return 0;
}
