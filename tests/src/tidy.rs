//! Tidy: the habits the code base keeps, checked (after rust-analyzer's `tidy.rs`).
//! Every Rust file opens with a `//!` comment saying what it is for; no file grows past 1000
//! lines; `unsafe` appears only in the crates allowed to use it.

use cnnc_tests::root;
use std::path::{Path, PathBuf};

/// The only crates where `unsafe` may appear (the JIT runtime), relative to the root.
const UNSAFE_ALLOWED: &[&str] = &["crates/cnn-jit/", "crates/cnn-runtime/"];
const MAX_LINES: usize = 1000;
/// Spelt in two halves so this file does not match itself.
const UNSAFE: &str = concat!("uns", "afe");

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if path.is_dir() && name != "target" && !name.starts_with('.') {
            rust_files(&path, out);
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
}

fn all_rust_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in ["crates", "tests/src", "fuzz/fuzz_targets"] {
        rust_files(&root().join(dir), &mut files);
    }
    files
}

#[test]
fn every_file_says_what_it_is_for() {
    let missing: Vec<String> = all_rust_files()
        .into_iter()
        .filter(|p| !std::fs::read_to_string(p).unwrap_or_default().trim_start().starts_with("//!"))
        .map(|p| p.display().to_string())
        .collect();
    assert!(missing.is_empty(), "files without a `//!` header:\n{}", missing.join("\n"));
}

#[test]
fn files_stay_small() {
    let big: Vec<String> = all_rust_files()
        .into_iter()
        .filter_map(|p| {
            let lines = std::fs::read_to_string(&p).unwrap_or_default().lines().count();
            (lines > MAX_LINES).then(|| format!("{} ({lines} lines)", p.display()))
        })
        .collect();
    assert!(big.is_empty(), "split these along a seam:\n{}", big.join("\n"));
}

#[test]
fn unsafe_lives_in_the_jit_runtime_only() {
    let root = root();
    let offenders: Vec<String> = all_rust_files()
        .into_iter()
        .filter(|p| {
            let relative = p.strip_prefix(&root).unwrap_or(p).to_string_lossy().replace('\\', "/");
            !UNSAFE_ALLOWED.iter().any(|allowed| relative.starts_with(allowed))
        })
        .filter(|p| {
            std::fs::read_to_string(p)
                .unwrap_or_default()
                .lines()
                .map(|l| l.split("//").next().unwrap_or_default())
                .any(|code| code.contains(&format!("{UNSAFE} ")) || code.contains(&format!("{UNSAFE}{{")))
        })
        .map(|p| p.display().to_string())
        .collect();
    assert!(offenders.is_empty(), "`unsafe` outside the JIT runtime:\n{}", offenders.join("\n"));
}
