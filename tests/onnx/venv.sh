# Sourced by the scripts here: makes target/venv-onnx (pinned requirements) if missing, sets $PY
# and builds the release cnnc ($CNNC).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="$root/target/venv-onnx"
if [ ! -x "$venv/bin/python" ] || ! cmp -s "$root/tests/onnx/requirements.txt" "$venv/requirements.txt"; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$root/tests/onnx/requirements.txt"
  cp "$root/tests/onnx/requirements.txt" "$venv/requirements.txt"
fi
PY="$venv/bin/python"
(cd "$root" && cargo build --release --locked -q -p cnnc)
CNNC="$root/target/release/cnnc"
