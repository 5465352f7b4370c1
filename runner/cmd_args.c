/* Option values shared by the subcommands' argument parsers (see cmd_args.h). */
#include "runner/cmd_args.h"

#include <stdlib.h>

int cmd_parse_int(const char *flag, const char *v, long long min, long long max, long long *out, Error *err)
{
    char *end;
    long long x = v ? strtoll(v, &end, 10) : 0;
    if (!v || *end || x < min || x > max)
        return err_set(err, "error: %s expects an integer in %lld..%lld, got '%s'", flag, min, max, v ? v : "");
    *out = x;
    return 0;
}
