#!/usr/bin/env bash
# Regenerate the benchmark suite and copy its small models into tests/fixtures/bench/.
#
#   tools/bench_fixtures.sh            # from anywhere; paths are relative to the repo root
#
# What it does:
#   1. makes a Python venv with ../shared/bench/requirements.txt if it is missing
#      (default target/venv-bench, override with BENCH_VENV=DIR; PYTHON=python3.11 picks the
#      interpreter). If openvino or tract fail to install, the generator's own dependencies
#      (numpy, onnx, onnxruntime, safetensors) are installed alone: they are all it needs.
#   2. runs ../shared/bench/make_suite.py into target/bench-suite (deterministic: the same
#      bytes on every run). Every model stays there, resnet18_b1 and lenet5_b256 included,
#      for tests that use them when present.
#   3. copies weights.safetensors, input.npy, expected.npy, expected_f64.npy, meta.json and
#      model.onnx (for `cnnc import`'s tests) of the small models into tests/fixtures/bench/<model>/
#      and checks that each expected.npy has the shape in meta.json and agrees with
#      expected_f64.npy within the suite README's bound (3e-6 absolute).
#
# Small = every suite model except resnet18_b1 (90 MB), lenet5_b256 (same network as
# lenet5_b1 with a 256 batch) and mobilenet_block_b1 (11 MB of activations).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BENCH="${BENCH_DIR:-$ROOT/../shared/bench}"
VENV="${BENCH_VENV:-$ROOT/target/venv-bench}"
SUITE="$ROOT/target/bench-suite"
DEST="$ROOT/tests/fixtures/bench"
SMALL_MODELS=(lenet5_b1 vgg_block_b1 resnet_basic_b1 alexnet_conv1_b1 overhead_probe)
FILES=(weights.safetensors input.npy expected.npy expected_f64.npy meta.json model.onnx)

[ -f "$BENCH/make_suite.py" ] || { echo "error: $BENCH/make_suite.py not found (set BENCH_DIR)" >&2; exit 2; }

PY="$VENV/bin/python"
if ! { [ -x "$PY" ] && "$PY" -c 'import numpy, onnx, onnxruntime, safetensors' 2>/dev/null; }; then
  echo "== creating the venv $VENV" >&2
  rm -rf "$VENV"
  "${PYTHON:-python3}" -m venv "$VENV"
  if ! "$PY" -m pip install -q -r "$BENCH/requirements.txt"; then
    echo "== the full requirements failed; installing the generator's dependencies only" >&2
    grep -E '^(numpy|onnx|onnxruntime|safetensors)==' "$BENCH/requirements.txt" > "$VENV/generator-requirements.txt"
    "$PY" -m pip install -q -r "$VENV/generator-requirements.txt"
  fi
fi

echo "== make_suite.py -> $SUITE" >&2
"$PY" "$BENCH/make_suite.py" "$SUITE"

for m in "${SMALL_MODELS[@]}"; do
  rm -rf "${DEST:?}/$m"
  mkdir -p "$DEST/$m"
  for f in "${FILES[@]}"; do
    cp "$SUITE/$m/$f" "$DEST/$m/$f"
    chmod 644 "$DEST/$m/$f"   # safetensors writes its files 0600
  done
done

"$PY" - "$DEST" "${SMALL_MODELS[@]}" <<'EOF'
import json, sys
import numpy as np
dest, models = sys.argv[1], sys.argv[2:]
total = 0
for m in models:
    d = f"{dest}/{m}"
    meta = json.load(open(f"{d}/meta.json"))
    x, y, y64 = (np.load(f"{d}/{f}.npy") for f in ("input", "expected", "expected_f64"))
    assert list(x.shape) == meta["input_shape"] and x.dtype == np.float32, m
    assert list(y.shape) == meta["output_shape"] and y.dtype == np.float32, m
    assert y64.shape == y.shape and y64.dtype == np.float64, m
    err = float(np.max(np.abs(y.astype(np.float64) - y64)))
    assert err <= 3e-6, (m, err)
    size = sum(__import__("os").path.getsize(f"{d}/{f}") for f in __import__("os").listdir(d))
    total += size
    print(f"{m:18s} out={list(y.shape)} |expected - expected_f64| = {err:.2e}  {size / 1e6:.2f} MB")
print(f"tests/fixtures/bench: {total / 1e6:.2f} MB")
EOF
