"""diffusers' own functions for the op cases (tests/parity/cases_*.py), whose fixtures
make_fixtures.py writes under Debian's Python, which has torch but not diffusers.

`call(name, *tensors, **kwargs)` returns diffusers' function `name` (one of FUNCTIONS) applied to
the tensors: in this process when diffusers is importable, otherwise in one worker process that
runs this file under the .venv's Python (tools/setup.sh makes it; $VENV overrides its place),
started on first use.  Tensors travel as JSON lists of floats, which carry float32 and float64
values exactly.  Without diffusers in either place the fixtures are not written: run make setup.
"""
import atexit
import json
import os
import subprocess
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
VENV = os.environ.get("VENV", os.path.join(HERE, "..", "..", ".venv"))
VENV_PYTHON = os.path.join(VENV, "bin", "python")


def functions():
    from diffusers.models.embeddings import get_timestep_embedding
    return {"get_timestep_embedding": get_timestep_embedding}


try:
    FUNCTIONS = functions()
except ImportError:
    FUNCTIONS = None

_worker = None


def encode(t):
    return {"dtype": str(t.dtype).replace("torch.", ""), "shape": list(t.shape), "values": t.detach().flatten().tolist()}


def decode(d):
    return torch.tensor(d["values"], dtype=getattr(torch, d["dtype"])).reshape(d["shape"])


def stop_worker():
    if _worker is not None:
        _worker.stdin.close()
        _worker.wait()


def start_worker():
    global _worker
    if not os.access(VENV_PYTHON, os.X_OK):
        raise SystemExit(f"diffusers_call.py: diffusers is not installed here nor in {VENV}: run make setup")
    _worker = subprocess.Popen([VENV_PYTHON, os.path.abspath(__file__), "--worker"], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
    atexit.register(stop_worker)


def call(name, *tensors, **kwargs):
    if FUNCTIONS is not None:
        return FUNCTIONS[name](*tensors, **kwargs)
    if _worker is None:
        start_worker()
    _worker.stdin.write(json.dumps({"name": name, "tensors": [encode(t) for t in tensors], "kwargs": kwargs}) + "\n")
    _worker.stdin.flush()
    line = _worker.stdout.readline()
    if not line:
        raise SystemExit(f"diffusers_call.py: the worker under {VENV_PYTHON} stopped (see its message above)")
    return decode(json.loads(line))


def serve():
    """The worker: one request per line on stdin, one result per line on stdout."""
    if FUNCTIONS is None:
        sys.exit(f"diffusers_call.py: diffusers is not importable by {sys.executable}: run make setup")
    for line in sys.stdin:
        req = json.loads(line)
        out = FUNCTIONS[req["name"]](*[decode(t) for t in req["tensors"]], **req["kwargs"])
        print(json.dumps(encode(out)), flush=True)


if __name__ == "__main__" and sys.argv[1:] == ["--worker"]:
    serve()
