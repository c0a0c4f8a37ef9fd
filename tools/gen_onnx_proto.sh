#!/usr/bin/env bash
# Regenerates crates/cnn-onnx/src/proto.rs, the Rust types of ONNX's protobuf schema, from the
# vendored crates/cnn-onnx/proto/onnx.proto (copied from the `onnx` Python package, 1.23.2).
# prost-build writes the code and protox parses the schema, so no `protoc` is needed; the
# generator is a throwaway program (tools/onnx-proto-gen, its own workspace) and the output is
# checked in, so building cnnc needs neither.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
cargo run --release --quiet --manifest-path tools/onnx-proto-gen/Cargo.toml -- \
  crates/cnn-onnx/proto/onnx.proto "$out"
{
  echo "//! ONNX's protobuf messages (ModelProto, GraphProto, NodeProto, TensorProto, ...), generated"
  echo "//! by prost-build from the vendored \`proto/onnx.proto\` (ONNX 1.23.2, Apache-2.0, see"
  echo "//! \`proto/LICENSE\`). Do not edit: regenerate with \`tools/gen_onnx_proto.sh\`."
  echo
  echo "#![allow(clippy::all, clippy::pedantic, unreachable_pub, missing_docs)]"
  echo
  cat "$out/onnx.rs"
} > crates/cnn-onnx/src/proto.rs
rm -rf "$out"
rustfmt --edition 2021 crates/cnn-onnx/src/proto.rs   # the repository's rustfmt.toml (max_width 120)
echo "wrote crates/cnn-onnx/src/proto.rs ($(wc -l < crates/cnn-onnx/src/proto.rs) lines)"
