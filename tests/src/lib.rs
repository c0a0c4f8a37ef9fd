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

/// Check a file as `cnnc check` does; with a `<stem>.safetensors` beside it, as
/// `cnnc check --weights` does.
pub fn check_file(path: &Path) -> (SourceFile, CheckResult) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let name = path.strip_prefix(root()).unwrap_or(path).display().to_string();
    let source = SourceFile::new(name, text);
    let mut result = check_source(&source, &options_from(source.text()));
    let weights = path.with_extension("safetensors");
    if weights.exists() && !result.has_errors() {
        let bytes = std::fs::read(&weights).unwrap_or_else(|e| panic!("{}: {e}", weights.display()));
        let file = cnn_io::WeightFile::parse(&bytes).unwrap_or_else(|e| panic!("{}: {e}", weights.display()));
        for model in &result.models {
            let expected = cnn_check::expected_params(model);
            let found = cnn_runtime::preflight_expected(&expected, (&model.name, model.name_span), &file, &model.allow);
            result.diagnostics.extend(found);
        }
    }
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

/// The outcome of running a `.cnn` model on arrays with the reference backend.
pub struct Ran {
    pub outputs: Vec<cnn_io::HostTensor>,
    pub graph: cnn_ir::Graph,
}

/// Check `model` with its symbolic sizes bound from `inputs`, lower it, load `weights` (which
/// must pass the preflight without errors) and run the reference backend: the library path
/// `cnnc run` takes.
pub fn run_model(model: &Path, weights: &Path, inputs: Vec<cnn_io::HostTensor>) -> Ran {
    run_model_on(Backend::Reference, model, weights, inputs)
}

/// The backends a run test can use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Reference,
    Jit,
    /// The JIT with explicit bounds checks in the generated code.
    JitChecked,
}

pub const BACKENDS: [Backend; 3] = [Backend::Reference, Backend::Jit, Backend::JitChecked];

/// [`run_model`] on the given backend.
pub fn run_model_on(backend: Backend, model: &Path, weights: &Path, inputs: Vec<cnn_io::HostTensor>) -> Ran {
    let text = std::fs::read_to_string(model).unwrap_or_else(|e| panic!("{}: {e}", model.display()));
    let source = SourceFile::new(model.display().to_string(), text);
    let unbound = check_source(&source, &CheckOptions::default());
    assert!(!unbound.has_errors(), "{}: {:?}", model.display(), unbound.diagnostics);
    let declared = &unbound.models[0];
    let mut bindings: Vec<(String, u64)> = Vec::new();
    for (tensor, input) in declared.inputs.iter().zip(&inputs) {
        let shape = declared.tensors[*tensor].shape.as_ref().expect("input shape");
        assert_eq!(shape.len(), input.shape.len(), "{}: input rank", model.display());
        for (dim, actual) in shape.iter().zip(&input.shape) {
            match dim.known() {
                Some(v) => assert_eq!(v, *actual as u64, "{}: declared size", model.display()),
                None => bindings.push((dim.to_string(), *actual as u64)),
            }
        }
    }
    let bound = check_source(&source, &CheckOptions { bindings, ..CheckOptions::default() });
    assert!(!bound.has_errors(), "{}: {:?}", model.display(), bound.diagnostics);
    let graph = cnn_check::lower(&bound.models[0]).expect("lowering a checked model");
    graph.verify().expect("lowered graphs verify");
    let bytes = std::fs::read(weights).unwrap_or_else(|e| panic!("{}: {e}", weights.display()));
    let file = cnn_io::WeightFile::parse(&bytes).expect("weights parse");
    let preflight = cnn_runtime::preflight(&graph, &file, &[]);
    assert!(preflight.is_empty(), "{}: {:?}", model.display(), preflight);
    let weights = cnn_runtime::Weights::from_file(&graph, &file).expect("weights bind");
    let outputs = match backend {
        Backend::Reference => cnn_runtime::reference::run(&graph, &weights, &inputs).expect("runs"),
        Backend::Jit | Backend::JitChecked => {
            let options = cnn_jit::JitOptions { bounds_checks: backend == Backend::JitChecked, ..Default::default() };
            let mut exe = cnn_jit::compile(&graph, &weights, options).expect("compiles");
            exe.run(&inputs).expect("runs")
        }
    };
    Ran { outputs, graph }
}

/// A `.npy` file as f32.
pub fn read_npy(path: &Path) -> cnn_io::HostTensor {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    cnn_io::read_npy(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display())).tensor
}

/// The suite's rule: `max|y − e| / max(1, max|e|)`.
pub fn relative_error(actual: &cnn_io::HostTensor, expected: &cnn_io::HostTensor) -> f64 {
    assert_eq!(actual.shape, expected.shape, "output shape");
    let scale = expected.data.iter().fold(1.0f64, |m, v| m.max(f64::from(v.abs())));
    let worst = actual.data.iter().zip(&expected.data).fold(0.0f64, |m, (a, e)| {
        let d = (f64::from(*a) - f64::from(*e)).abs();
        if d.is_nan() {
            f64::INFINITY
        } else {
            m.max(d)
        }
    });
    worst / scale
}
