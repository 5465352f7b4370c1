/* `runner ops`: the op reference as Markdown, from the registry itself (docs/SPEC.md holds a copy
 * that a test keeps identical). */
#include "graph/op.h"
#include "runner/cli/cmd_args.h"
#include "runner/cli/commands.h"
#include "runner/spec/spec_fields.h"

#include <stdio.h>
#include <string.h>

static const char *type_text(const AttrSchema *s, char *buf, size_t len)
{
    switch (s->type) {
    case ATTR_INT: return "integer";
    case ATTR_FLOAT: return "number";
    case ATTR_BOOL: return "true/false";
    case ATTR_STRING: return "word";
    case ATTR_INTS:
        if (s->count > 1)
            snprintf(buf, len, "integer or list of %d", s->count);
        else
            snprintf(buf, len, "list of integers");
        return buf;
    }
    return "?";
}

static void print_op(const Op *op)
{
    printf("### `%s`\n\n%s\n\n", op->name, op->summary ? op->summary : "");
    if (op->min_inputs == op->max_inputs)
        printf("Inputs: %d.", op->min_inputs);
    else
        printf("Inputs: %d to %d.", op->min_inputs, op->max_inputs);
    printf("%s\n\n", op->declare_params ? " Has parameters." : "");
    if (op->n_attrs == 0) {
        printf("No attributes.\n\n");
        return;
    }
    printf("| attribute | type | default | meaning |\n| --- | --- | --- | --- |\n");
    for (int i = 0; i < op->n_attrs; i++) {
        const AttrSchema *s = &op->attrs[i];
        char type[64], range[96] = "";
        if (s->choices) {
            size_t used = 0;
            range[0] = '\0';
            for (int c = 0; s->choices[c] && used < sizeof range; c++)
                used += (size_t)snprintf(range + used, sizeof range - used, "%s`%s`", c ? " \\| " : "; one of ", s->choices[c]);
        } else if (s->type != ATTR_BOOL && s->type != ATTR_STRING) {
            fields_range_text(s->min, s->max, range, sizeof range);
        }
        printf("| `%s` | %s%s | %s%s%s | %s |\n", s->name, type_text(s, type, sizeof type), range,
               s->default_text ? "`" : "", s->default_text ? s->default_text : "required", s->default_text ? "`" : "",
               s->doc ? s->doc : "");
    }
    printf("\n");
}

int cmd_ops(int argc, char **argv, Error *err)
{
    if (cmd_parse(argc, argv, NULL, 0, NULL, command_usage("ops"), err)) return -1;
    for (int i = 0; i < op_count(); i++)
        if (!(op_at(i)->flags & OP_INTERNAL)) print_op(op_at(i));
    return 0;
}
