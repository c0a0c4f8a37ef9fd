//! Generates `crates/cnn-onnx/src/proto.rs` from the vendored `onnx.proto` with prost-build,
//! parsing the schema with protox (pure Rust), so no `protoc` is needed, not even here.
//! Run by `tools/gen_onnx_proto.sh`; the output is checked in.

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (proto, out_dir) = (&args[1], &args[2]);
    let include = std::path::Path::new(proto).parent().expect("the proto's folder");
    let files = protox::compile([proto], [include]).expect("onnx.proto compiles");
    let mut config = prost_build::Config::new();
    config.disable_comments(["."]);
    config.out_dir(out_dir);
    config.compile_fds(files).expect("prost-build generates");
}
