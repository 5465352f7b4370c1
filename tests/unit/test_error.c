/* Errors (graph/error.c): a message, its place and its kind kept apart, and the one text they make
 * (err_text, what runner/cli/main.c prints): context prepended to the message stays behind the
 * place, the innermost place wins, and a new error forgets the old one's place and kind. */
#include "graph/error.h"
#include "tests/unit/testutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

static void test_text(void **state)
{
    (void)state;
    Error err = {0};
    assert_int_equal(err_set(&err, "the dataset holds no examples"), -1);
    assert_string_equal(tu_err(&err), "error: the dataset holds no examples");
    assert_int_equal(err_set_at(&err, "x.yaml:3:7", "unknown key '%s'", "lyers"), -1);
    assert_string_equal(err.msg, "unknown key 'lyers'");
    assert_string_equal(tu_err(&err), "x.yaml:3:7: error: unknown key 'lyers'");
    assert_int_equal(err_internal(&err, "op '%s' is not registered", "scale"), -1);
    assert_int_equal(err.kind, ERR_INTERNAL);
    assert_string_equal(tu_err(&err), "internal error: op 'scale' is not registered");
    Error empty = {0};
    assert_string_equal(tu_err(&empty), "error: failed without a message");
}

static void test_context_and_place(void **state)
{
    (void)state;
    Error err = {0};
    err_set_at(&err, "nets/g.yaml:2:5", "bad value");
    assert_int_equal(err_prefix(&err, "while loading %s: ", "features"), -1);
    assert_string_equal(tu_err(&err), "nets/g.yaml:2:5: error: while loading features: bad value");
    /* The innermost place is the most precise: an outer one does not replace it. */
    assert_int_equal(err_locate(&err, "spec.yaml:9:1"), -1);
    assert_string_equal(err.where, "nets/g.yaml:2:5");
    err_set(&err, "'lr' expects a number");
    assert_string_equal(err.where, "");
    err_locate(&err, "--set optimizers.g.lr=abc");
    assert_string_equal(tu_err(&err), "--set optimizers.g.lr=abc: error: 'lr' expects a number");
    /* A kind survives context; a new error starts over. */
    err_internal(&err, "bad plan");
    err_prefix(&err, "node 'x': ");
    assert_string_equal(tu_err(&err), "internal error: node 'x': bad plan");
    err_set(&err, "plain");
    assert_int_equal(err.kind, ERR_FAILED);
}

TU_MAIN(NULL, NULL,
        cmocka_unit_test(test_text),
        cmocka_unit_test(test_context_and_place))
