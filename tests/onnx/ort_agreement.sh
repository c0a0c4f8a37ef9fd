#!/usr/bin/env bash
# ONNX Runtime agreement: export every example with `cnnc export`, run it in ONNX Runtime and
# with `cnnc run`, and compare: max|y − e| ≤ 1e-4 · max(1, max|e|). Makes target/venv-onnx.
source "$(dirname "$0")/venv.sh"
"$PY" "$root/tests/onnx/ort_agreement.py" --cnnc "$CNNC" --root "$root"
