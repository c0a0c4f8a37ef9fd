//! Shared helpers of the test runners: where the repository is, and how a `.cnn` file is
//! checked and rendered the way `cnnc check` shows it (no colour, fixed width), so snapshots
//! compare the same text a user sees.

use cnn_check::{check_source, summary, CheckOptions, CheckResult};
use cnn_diag::render::{diagnostic_json, render_human, HumanOptions};
use cnn_diag::SourceFile;
use std::path::{Path, PathBuf};

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ sits in the repository root").to_path_buf()
}

/// Options a test file asks for in a first-line comment `// cnnc-flags: --warn aliasing --dim H=32`.
pub fn options_from(text: &str) -> CheckOptions {
    let mut options = CheckOptions { verify_fixes: true, ..CheckOptions::default() };
    let Some(flags) = text.lines().find_map(|l| l.trim().strip_prefix("// cnnc-flags:")) else { return options };
    let mut words = flags.split_whitespace();
    while let Some(word) = words.next() {
        match (word, words.clone().next()) {
            ("--warn", Some("aliasing")) => {
                options.warn_aliasing = true;
                words.next();
            }
            ("--dim", Some(binding)) => {
                if let Some((name, value)) = binding.split_once('=') {
                    options.bindings.push((name.to_string(), value.parse().expect("--dim value in a test file")));
                }
                words.next();
            }
            _ => panic!("unknown flag in cnnc-flags: {word}"),
        }
    }
    options
}

/// Check a file as `cnnc check` does.
pub fn check_file(path: &Path) -> (SourceFile, CheckResult) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let name = path.strip_prefix(root()).unwrap_or(path).display().to_string();
    let source = SourceFile::new(name, text);
    let result = check_source(&source, &options_from(source.text()));
    (source, result)
}

/// Diagnostics as the terminal shows them without colour, at 100 columns.
pub fn render_diagnostics(source: &SourceFile, result: &CheckResult) -> String {
    result
        .diagnostics
        .iter()
        .map(|d| render_human(d, source, HumanOptions { color: false, width: 100 }))
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn diagnostics_json(source: &SourceFile, result: &CheckResult) -> serde_json::Value {
    serde_json::Value::Array(result.diagnostics.iter().map(|d| diagnostic_json(d, source)).collect())
}

pub fn render_tables(result: &CheckResult) -> String {
    result.models.iter().map(summary::render_table).collect::<Vec<_>>().join("\n")
}

/// Every `.cnn` file directly in `dir`, sorted.
pub fn cnn_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "cnn"))
        .collect();
    files.sort();
    files
}
