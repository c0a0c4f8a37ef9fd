//! UI tests: every `.cnn` file in `tests/ui/` and `examples/errors/` is checked, its annotations
//! are verified, and its rendered diagnostics, JSON and summary table are snapshotted.
//!
//! Annotations are comments at the end of a line:
//! - `//~ E0101` — a diagnostic with this code has its primary span starting on this line; every
//!   diagnostic must be annotated, and every annotation matched (`//~ E0109 E0113` for two).
//! - `//~ shape [1, 8, 3, 3]` — a layer on this line outputs this shape.
//! - `//~ params 28` — the layers on this line have this many parameters in total.
//!
//! Expected codes, shapes and counts come from the rules (the lecture's worked examples, the
//! formulas), written by hand; the snapshots pin how the result is shown.

use cnn_check::CheckResult;
use cnn_diag::SourceFile;
use cnnc_tests::{check_file, diagnostics_json, render_diagnostics, render_tables, root};
use std::path::Path;

#[derive(Debug, PartialEq)]
enum Expect {
    Code(String),
    Shape(String),
    Params(u64),
}

fn annotations(source: &SourceFile) -> Vec<(usize, Expect)> {
    let mut out = Vec::new();
    for (line, text) in source.text().lines().enumerate() {
        let Some((_, rest)) = text.split_once("//~") else { continue };
        let rest = rest.trim();
        if let Some(shape) = rest.strip_prefix("shape") {
            out.push((line, Expect::Shape(shape.trim().to_string())));
        } else if let Some(params) = rest.strip_prefix("params") {
            out.push((line, Expect::Params(params.trim().replace(',', "").parse().expect("//~ params N"))));
        } else {
            // `//~ E0109 E0113`: several diagnostics start on this line.
            let codes = rest.split_whitespace().take_while(|w| w.len() == 5 && w.starts_with(['E', 'W']));
            out.extend(codes.map(|code| (line, Expect::Code(code.to_string()))));
        }
    }
    out
}

fn verify(source: &SourceFile, result: &CheckResult) -> Vec<String> {
    let mut problems = Vec::new();
    let expected = annotations(source);
    let mut found_codes: Vec<(usize, String)> = result
        .diagnostics
        .iter()
        .map(|d| (source.line_col(d.primary.span.start as usize).line, d.code.to_string()))
        .collect();
    for (line, expect) in &expected {
        match expect {
            Expect::Code(code) => match found_codes.iter().position(|(l, c)| l == line && c == code) {
                Some(i) => {
                    found_codes.remove(i);
                }
                None => problems.push(format!("line {}: expected {code}, not reported there", line + 1)),
            },
            Expect::Shape(shape) => {
                let shapes: Vec<String> = layers_on_line(source, result, *line)
                    .filter_map(|(model, layer)| model.tensors[layer.output].shape.as_ref().map(|s| show(s)))
                    .collect();
                if !shapes.contains(shape) {
                    problems.push(format!("line {}: expected shape {shape}, found {shapes:?}", line + 1));
                }
            }
            Expect::Params(count) => {
                let total: u64 = layers_on_line(source, result, *line).map(|(_, l)| l.info.params).sum();
                if total != *count {
                    problems.push(format!("line {}: expected {count} parameters, found {total}", line + 1));
                }
            }
        }
    }
    for (line, code) in found_codes {
        problems.push(format!("line {}: {code} reported but not annotated", line + 1));
    }
    problems
}

fn layers_on_line<'r>(
    source: &'r SourceFile,
    result: &'r CheckResult,
    line: usize,
) -> impl Iterator<Item = (&'r cnn_check::CheckedModel, &'r cnn_check::Layer)> + 'r {
    result.models.iter().flat_map(move |m| {
        m.layers.iter().filter(move |l| source.line_col(l.span.start as usize).line == line).map(move |l| (m, l))
    })
}

fn show(shape: &[cnn_check::dim::Dim]) -> String {
    format!("[{}]", shape.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", "))
}

fn check(path: &Path) {
    let (source, result) = check_file(path);
    let problems = verify(&source, &result);
    assert!(problems.is_empty(), "{}:\n{}", path.display(), problems.join("\n"));
    let rendered = format!(
        "----- SOURCE\n{}\n----- DIAGNOSTICS\n{}\n----- SUMMARY\n{}",
        source.text().trim_end(),
        render_diagnostics(&source, &result),
        render_tables(&result)
    );
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(root().join("tests/snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings.set_input_file(path);
    let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("unnamed").to_string();
    settings.bind(|| {
        insta::assert_snapshot!(format!("{name}.human"), rendered);
        insta::assert_json_snapshot!(format!("{name}.json"), diagnostics_json(&source, &result));
    });
}

#[test]
fn ui() {
    insta::glob!("..", "ui/*.cnn", check);
}

#[test]
fn error_examples() {
    insta::glob!("../..", "examples/errors/*.cnn", check);
}

#[test]
fn every_code_has_an_error_example() {
    let dir = root().join("examples/errors");
    let names: Vec<String> = cnnc_tests::cnn_files(&dir)
        .iter()
        .filter_map(|p| p.file_name().and_then(|n| n.to_str()).map(str::to_string))
        .collect();
    for info in cnn_diag::ALL_CODES {
        assert!(
            names.iter().any(|n| n.starts_with(info.code.as_str())),
            "no examples/errors/{}_*.cnn for {}",
            info.code,
            info.title
        );
    }
}

fn is_weights_code(code: cnn_diag::Code) -> bool {
    [
        cnn_diag::Code::MISSING_WEIGHT,
        cnn_diag::Code::WEIGHT_SHAPE,
        cnn_diag::Code::WEIGHT_DTYPE,
        cnn_diag::Code::UNUSED_WEIGHT,
    ]
    .contains(&code)
}

#[test]
fn every_explanation_example_triggers_its_code() {
    for info in cnn_diag::ALL_CODES {
        let example = info
            .explanation
            .split("```cnn")
            .nth(1)
            .and_then(|rest| rest.split("```").next())
            .unwrap_or_else(|| panic!("{} has no example", info.code));
        let flags = if info.code == cnn_diag::Code::ALIASING { "// cnnc-flags: --warn aliasing\n" } else { "" };
        let text = format!("{flags}{example}");
        let source = SourceFile::new(format!("explain/{}.md", info.code), text);
        let result = cnn_check::check_source(&source, &cnnc_tests::options_from(source.text()));
        if is_weights_code(info.code) {
            // The problem is in a weights file the example describes; the model itself checks.
            assert!(
                !result.has_errors(),
                "the example in `cnnc explain {}` should check: {:?}",
                info.code,
                result.diagnostics
            );
            continue;
        }
        assert!(
            result.diagnostics.iter().any(|d| d.code == info.code),
            "the example in `cnnc explain {}` does not report {}: {:?}",
            info.code,
            info.code,
            result.diagnostics.iter().map(|d| d.code.to_string()).collect::<Vec<_>>()
        );
    }
}
