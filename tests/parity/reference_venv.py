"""The .venv that tools/setup.sh makes, with the field's own packages (diffusers, pytorch-fid,
torch-fidelity, safetensors) beside Debian's torch: make_fixtures.py runs under Debian's Python,
and a reference module whose package is missing there makes its fixtures under the .venv's
Python instead.  $VENV overrides the folder."""
import os
import subprocess
import sys

VENV = os.environ.get("VENV", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".venv"))
PYTHON = os.path.join(VENV, "bin", "python")


def make_there(script, out_dir, packages):
    """Runs `script OUT_DIR` under the .venv's Python, for a script that cannot import `packages`
    (words for the message) here; fails when they are missing there too."""
    name = os.path.basename(script)
    if not os.access(PYTHON, os.X_OK) or os.path.realpath(sys.prefix) == os.path.realpath(VENV):
        raise SystemExit(f"{name}: {packages} not installed here nor in {VENV}: run make setup")
    if subprocess.run([PYTHON, os.path.abspath(script), out_dir]).returncode != 0:
        raise SystemExit(f"{name} failed under {PYTHON}")
