//! Running a lowered graph with the chosen backend, and `--verify`: the JIT and the reference
//! backend side by side, with the error of every JIT step against the reference's value of the
//! same tensor.

use crate::Backend;
use cnn_io::HostTensor;
use cnn_ir::Graph;
use cnn_runtime::{reference, Weights};

/// How to run a model.
#[derive(Clone, Copy)]
pub(crate) struct Options {
    pub(crate) backend: Backend,
    /// Run the reference too and print each JIT step's error against it.
    pub(crate) verify: bool,
    /// Explicit bounds checks in the generated code.
    pub(crate) bounds_checks: bool,
}

/// Outputs of `graph` on `inputs`; with `verify`, also prints the per-step comparison to stderr.
pub(crate) fn execute(
    graph: &Graph,
    weights: &Weights,
    inputs: &[HostTensor],
    options: Options,
) -> Result<Vec<HostTensor>, String> {
    match options.backend {
        Backend::Reference => reference::run(graph, weights, inputs).map_err(|e| e.to_string()),
        Backend::Jit => {
            let mut exe = compile(graph, weights, options.bounds_checks)?;
            if !options.verify {
                return exe.run(inputs).map_err(|e| e.to_string());
            }
            let expected = reference::run_all(graph, weights, inputs).map_err(|e| e.to_string())?;
            let mut rows = Vec::new();
            let steps = exe.steps();
            let plan_tensors: Vec<_> = exe.plan().steps.iter().map(|s| s.tensor).collect();
            let outputs = exe
                .run_observed(inputs, |index, values| {
                    let Some(tensor) = plan_tensors[index] else { return };
                    let Some(want) = expected[tensor].as_deref() else { return };
                    rows.push((index, compare(&values(), want)));
                })
                .map_err(|e| e.to_string())?;
            print_verify(&steps, &rows);
            Ok(outputs)
        }
    }
}

pub(crate) fn compile(graph: &Graph, weights: &Weights, bounds_checks: bool) -> Result<cnn_jit::Executable, String> {
    cnn_jit::compile(graph, weights, cnn_jit::JitOptions { bounds_checks, ..cnn_jit::JitOptions::default() })
        .map_err(|e| format!("cannot compile `{}` for the JIT backend: {e}", graph.name))
}

/// (max absolute error, that relative to max(1, max |expected|)).
fn compare(got: &[f32], want: &[f32]) -> (f64, f64) {
    let scale = want.iter().fold(1.0f64, |m, &v| m.max(f64::from(v).abs()));
    let max_abs = got.iter().zip(want).fold(0.0f64, |m, (&g, &w)| {
        let d = (f64::from(g) - f64::from(w)).abs();
        if d.is_nan() {
            f64::INFINITY
        } else {
            m.max(d)
        }
    });
    (max_abs, max_abs / scale)
}

fn print_verify(steps: &[cnn_jit::StepInfo], rows: &[(usize, (f64, f64))]) {
    eprintln!("verify: each JIT step against the reference backend (f64 accumulation)");
    eprintln!("{:<44} {:<30} {:>11} {:>11}", "layers", "how", "max |err|", "rel. err");
    let mut worst = 0.0f64;
    for &(index, (abs, rel)) in rows {
        let step = &steps[index];
        let layers = if step.layers.is_empty() { "(input)".to_string() } else { step.layers.join(" + ") };
        eprintln!("{:<44} {:<30} {:>11.3e} {:>11.3e}", truncate(&layers, 44), truncate(&step.how, 30), abs, rel);
        worst = worst.max(rel);
    }
    let verdict = if worst <= 1e-4 { "within" } else { "OUTSIDE" };
    eprintln!("largest relative error {worst:.3e}: {verdict} the suite's rule max|y − e| ≤ 1e-4·max(1, max|e|)");
}

fn truncate(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        text.to_string()
    } else {
        let mut t: String = text.chars().take(width - 1).collect();
        t.push('…');
        t
    }
}
