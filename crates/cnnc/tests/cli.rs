//! The `cnnc` binary end to end: exit codes, output streams and formats, as a user or an
//! editor sees them.

use std::path::PathBuf;
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn cnnc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cnnc"))
        .args(args)
        .current_dir(root())
        .env_remove("NO_COLOR")
        .output()
        .expect("cnnc runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn a_good_model_exits_0_and_prints_its_table() {
    let out = cnnc(&["check", "examples/lenet5.cnn"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("Parameters:  61,706"), "{stdout}");
    assert!(stdout.contains("conv1"), "{stdout}");
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
}

#[test]
fn a_broken_model_exits_1_without_colour_when_piped() {
    let out = cnnc(&["check", "examples/errors/E0101_kernel_larger_than_input.cnn"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("E0101"), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "no escape codes when stderr is not a terminal");
    let coloured = cnnc(&["check", "--color", "always", "examples/errors/E0101_kernel_larger_than_input.cnn"]);
    assert!(text(&coloured.stderr).contains('\u{1b}'));
}

#[test]
fn unreadable_files_and_bad_flags_exit_2() {
    let missing = cnnc(&["check", "no/such/file.cnn"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(text(&missing.stderr).contains("no/such/file.cnn"));
    assert_eq!(cnnc(&["check", "examples"]).status.code(), Some(2));
    assert_eq!(cnnc(&["check", "--format", "yaml", "examples/lenet5.cnn"]).status.code(), Some(2));
    assert_eq!(cnnc(&["check", "--dim", "H", "examples/lenet5.cnn"]).status.code(), Some(2));
    assert_eq!(cnnc(&["explain", "E9999"]).status.code(), Some(2));
    let binary = std::env::temp_dir().join("cnnc-cli-test-not-utf8.cnn");
    std::fs::write(&binary, [0x6d, 0xff, 0xfe]).expect("temp file");
    let out = cnnc(&["check", binary.to_str().expect("utf-8 temp path")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("not UTF-8"), "{}", text(&out.stderr));
}

#[test]
fn json_output_is_one_document_with_lsp_positions() {
    let out = cnnc(&["check", "--format", "json", "examples/errors/E0107_lenet_missing_padding.cnn"]);
    assert_eq!(out.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    let diagnostic = &doc["diagnostics"][0];
    assert_eq!(diagnostic["code"], "E0107");
    assert_eq!(diagnostic["severity"], "error");
    assert!(diagnostic["range"]["start"]["line"].is_u64());
    assert!(diagnostic["range"]["start"]["character"].is_u64());
    let fixes = diagnostic["fixes"].as_array().expect("fixes");
    assert!(
        fixes.iter().any(|f| f["edits"][0]["newText"].as_str().is_some_and(|t| t.contains("padding=2"))),
        "{fixes:?}"
    );
    assert!(doc["models"][0]["layers"].as_array().is_some_and(|l| !l.is_empty()));
}

#[test]
fn explain_prints_the_long_text() {
    let out = cnnc(&["explain", "e0101"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).starts_with("# E0101"));
    let list = cnnc(&["explain"]);
    assert!(text(&list.stdout).lines().count() >= 30);
}

const LENET: [&str; 8] =
    ["run", "examples/lenet5.cnn", "--weights", "examples/lenet5.safetensors", "--mean", "0.1307", "--std", "0.3081"];

fn run_lenet(extra: &[&str]) -> Output {
    let mut args: Vec<&str> = LENET.to_vec();
    args.extend_from_slice(extra);
    cnnc(&args)
}

#[test]
fn the_trained_lenet_reads_every_digit_image() {
    let out = run_lenet(&["--input", "examples/digits", "--top", "1"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 10, "{stdout}");
    for line in lines {
        // `examples/digits/7.png: 7 (99.7%)`: the file is named after its digit.
        let (path, prediction) = line.split_once(": ").expect("name: prediction");
        let digit = path.trim_end_matches(".png").rsplit('/').next().expect("file name");
        assert!(prediction.starts_with(&format!("{digit} (")), "{line}");
    }
}

#[test]
fn run_writes_npy_outputs_and_rejects_inputs_of_the_wrong_size() {
    let dir = std::env::temp_dir().join(format!("cnnc-cli-run-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let output = dir.join("probabilities.npy");
    let out = run_lenet(&[
        "--input",
        "tests/fixtures/digits/images.npy",
        "--output",
        output.to_str().expect("path"),
        "--top",
        "0",
    ]);
    // The fixture is already normalised; --mean/--std apply to arrays only when given, so this
    // normalises twice and still runs: what matters here is the file.
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let written = std::fs::read(&output).expect("output written");
    assert!(written.starts_with(b"\x93NUMPY"));
    assert!(String::from_utf8_lossy(&written[..128]).contains("(500, 10)"));

    let wrong = dir.join("wrong.npy");
    std::fs::write(&wrong, npy_f32(&[1, 1, 30, 28])).expect("write");
    let out = run_lenet(&["--input", wrong.to_str().expect("path")]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("dimension 2 (height) is 30") && stderr.contains("2 too many"), "{stderr}");

    let garbage = dir.join("garbage.npy");
    std::fs::write(&garbage, b"\x93NUMPY\x01\x00\xff\xff{'descr'").expect("write");
    let out = run_lenet(&["--input", garbage.to_str().expect("path")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("garbage.npy"), "{}", text(&out.stderr));
}

#[test]
fn run_without_weights_initialises_and_says_so() {
    let dir = std::env::temp_dir().join(format!("cnnc-cli-init-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let input = dir.join("x.npy");
    std::fs::write(&input, npy_f32(&[2, 1, 28, 28])).expect("write");
    let out = cnnc(&["run", "examples/lenet5.cnn", "--input", input.to_str().expect("path"), "--seed", "7"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("default initialisation (seed 7)"));
    assert_eq!(text(&out.stdout).lines().filter(|l| l.starts_with("sample")).count(), 2);
}

#[test]
fn weights_that_do_not_fit_exit_1_with_diagnostics() {
    let out = cnnc(&[
        "check",
        "examples/errors/E0201_missing_weight.cnn",
        "--weights",
        "examples/errors/E0201_missing_weight.safetensors",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("E0201"));
    let out = cnnc(&["check", "examples/lenet5.cnn", "--weights", "examples/lenet5.cnn"]);
    assert_eq!(out.status.code(), Some(2), "a .cnn file is not a weights file");
}

/// A `.npy` file of zeros with the given shape (f32).
fn npy_f32(shape: &[usize]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({}), }}", dims.join(", "));
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend(std::iter::repeat_n(0u8, 4 * shape.iter().product::<usize>()));
    bytes
}

#[test]
fn onnx_import_and_export_exit_codes() {
    let dir = std::env::temp_dir().join("cnnc-cli-test-onnx");
    std::fs::create_dir_all(&dir).expect("temp dir");
    let out_cnn = dir.join("m.cnn");
    let out_cnn = out_cnn.to_str().expect("utf-8 temp path");
    let malformed = cnnc(&["import", "tests/fixtures/onnx/not_protobuf.onnx", "-o", out_cnn]);
    assert_eq!(malformed.status.code(), Some(2), "{}", text(&malformed.stderr));
    let unsupported = cnnc(&["import", "tests/fixtures/onnx/unsupported_ops.onnx", "-o", out_cnn]);
    assert_eq!(unsupported.status.code(), Some(1));
    let stderr = text(&unsupported.stderr);
    assert!(stderr.contains("`norm` (LRN)") && stderr.contains("`upsample` (Resize)"), "{stderr}");
    let imported = cnnc(&["import", "tests/fixtures/bench/lenet5_b1/model.onnx", "-o", out_cnn]);
    assert_eq!(imported.status.code(), Some(0), "{}", text(&imported.stderr));
    let checked = cnnc(&["check", out_cnn, "--weights", dir.join("m.safetensors").to_str().expect("utf-8")]);
    assert_eq!(checked.status.code(), Some(0), "{}", text(&checked.stderr));
    let onnx = dir.join("m.onnx");
    let exported = cnnc(&["export", "examples/lenet5.cnn", "--onnx", onnx.to_str().expect("utf-8")]);
    assert_eq!(exported.status.code(), Some(0), "{}", text(&exported.stderr));
    let broken = cnnc(&["export", "examples/errors/E0101_kernel_larger_than_input.cnn", "--onnx", "unused.onnx"]);
    assert_eq!(broken.status.code(), Some(1));
}
