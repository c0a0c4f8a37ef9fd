#!/usr/bin/env bash
# ONNX backend node tests for the supported operators (see node_tests.py). In CI: fail if a case
# in the pass list of docs/ONNX.md stops passing. `tests/onnx/node_tests.sh --write` refreshes
# that list. Makes target/venv-onnx.
source "$(dirname "$0")/venv.sh"
"$PY" "$root/tests/onnx/node_tests.py" --cnnc "$CNNC" --doc "$root/docs/ONNX.md" "${1:---check}"
