"""Writing a family of reference cases: each case's files under OUT/<family>/, and their names in
OUT/<family>/cases.txt, which the C tests read (tests/unit/testutil.c: tu_expect_fixture_cases) so
that a case the reference wrote but the test does not know fails the test."""
import os


def write_cases(out_dir, family, cases, run_case):
    family_dir = os.path.join(out_dir, family)
    os.makedirs(family_dir, exist_ok=True)
    with open(os.path.join(family_dir, "cases.txt"), "w") as f:
        for case in cases:
            run_case(family_dir, *case)
            f.write(case[0] + "\n")
