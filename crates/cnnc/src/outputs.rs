//! What `cnnc run` does with the outputs: write them (`.npy` for one, `.npz` for several) and,
//! for a classifier, print the top classes of every sample with their probabilities.

use crate::run_cmd::RunFailure;
use crate::RunArgs;
use cnn_check::ops::Op;
use cnn_check::CheckedModel;
use cnn_io::{write_npy, write_npz, HostTensor};
use std::fmt::Write;

pub(crate) fn report(
    args: &RunArgs,
    model: &CheckedModel,
    outputs: &[HostTensor],
    names: &[String],
) -> Result<(), RunFailure> {
    if let Some(path) = &args.output {
        let is_npz = path.extension().is_some_and(|e| e == "npz");
        let bytes = if is_npz {
            let entries: Vec<(String, HostTensor)> =
                outputs.iter().enumerate().map(|(i, t)| (output_name(model, i), t.clone())).collect();
            write_npz(&entries)
        } else if outputs.len() == 1 {
            write_npy(&outputs[0])
        } else {
            return Err(RunFailure::Usage(format!(
                "the model has {} outputs; write them to a .npz file (--output out.npz)",
                outputs.len()
            )));
        };
        std::fs::write(path, bytes)
            .map_err(|e| RunFailure::Usage(format!("cannot write `{}`: {e}", path.display())))?;
    }
    let labels = match &args.labels {
        Some(path) => Some(read_labels(path)?),
        None => None,
    };
    let mut text = String::new();
    for (i, output) in outputs.iter().enumerate() {
        match output.shape.as_slice() {
            [batch, classes] if *classes > 1 && args.top > 0 => {
                let probabilities = ends_in_softmax(model, i);
                for n in 0..*batch {
                    let row = &output.data[n * classes..(n + 1) * classes];
                    let name = names.get(n).map(String::as_str).unwrap_or("sample");
                    let _ = writeln!(text, "{name}: {}", top_k(row, args.top, probabilities, labels.as_deref()));
                }
                if !probabilities {
                    let _ = writeln!(text, "(probabilities are the softmax of the model's outputs)");
                }
            }
            shape if args.output.is_none() => {
                let _ = writeln!(text, "output `{}`: {shape:?}; save it with --output out.npy", output_name(model, i));
            }
            _ => {}
        }
    }
    crate::report::print_out(text.trim_end());
    Ok(())
}

fn output_name(model: &CheckedModel, index: usize) -> String {
    model.outputs.get(index).and_then(|t| model.tensors[*t].name.clone()).unwrap_or_else(|| format!("output{index}"))
}

/// Whether output `index` is produced by a softmax, so its values are already probabilities.
fn ends_in_softmax(model: &CheckedModel, index: usize) -> bool {
    let Some(&tensor) = model.outputs.get(index) else { return false };
    model.tensors[tensor].producer.is_some_and(|l| matches!(model.layers[l].op, Op::Softmax { .. }))
}

/// `7 (98.2%), 2 (1.1%), 3 (0.4%)`, or with labels `7 seven (98.2%)`.
fn top_k(row: &[f32], k: usize, probabilities: bool, labels: Option<&[String]>) -> String {
    let probs: Vec<f64> = if probabilities {
        row.iter().map(|v| f64::from(*v)).collect()
    } else {
        let max = row.iter().map(|v| f64::from(*v)).fold(f64::NEG_INFINITY, f64::max);
        let exps: Vec<f64> = row.iter().map(|v| (f64::from(*v) - max).exp()).collect();
        let sum: f64 = exps.iter().sum();
        exps.iter().map(|e| e / sum).collect()
    };
    let mut order: Vec<usize> = (0..row.len()).collect();
    order.sort_by(|a, b| probs[*b].total_cmp(&probs[*a]).then(a.cmp(b)));
    order
        .iter()
        .take(k)
        .map(|&c| match labels.and_then(|l| l.get(c)) {
            Some(label) => format!("{c} {label} ({:.1}%)", probs[c] * 100.0),
            None => format!("{c} ({:.1}%)", probs[c] * 100.0),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn read_labels(path: &std::path::Path) -> Result<Vec<String>, RunFailure> {
    let bytes = crate::report::read_limited(path, 64 << 20, "labels file")?;
    let text =
        String::from_utf8(bytes).map_err(|_| RunFailure::Usage(format!("`{}` is not UTF-8 text", path.display())))?;
    Ok(text.lines().map(|l| l.trim().to_string()).collect())
}
