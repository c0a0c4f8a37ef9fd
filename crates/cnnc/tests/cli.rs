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
