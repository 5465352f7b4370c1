/* The registry: every op listed in graph/ops/ops.def, looked up by name. */
#include "graph/op.h"
#include "graph/suggest.h"
#include "kernels/activations.h" /* ops.def lists the activations from it */

#include <string.h>

#define OP(name) extern const Op op_##name;
#include "graph/ops/ops.def"
#undef OP

static const Op *const op_table[] = {
#define OP(name) &op_##name,
#include "graph/ops/ops.def"
#undef OP
    NULL,
};

int op_count(void) { return (int)(sizeof op_table / sizeof op_table[0]) - 1; }

const Op *op_at(int i) { return (i >= 0 && i < op_count()) ? op_table[i] : NULL; }

const Op *op_find(const char *name)
{
    for (int i = 0; i < op_count(); i++)
        if (strcmp(op_table[i]->name, name) == 0) return op_table[i];
    return NULL;
}

const char *op_suggest(const char *name)
{
    const char *names[256];
    int n = 0;
    for (int i = 0; i < op_count() && n < 256; i++)
        if (!(op_table[i]->flags & OP_INTERNAL)) names[n++] = op_table[i]->name;
    return suggest_word(name, names, n);
}
