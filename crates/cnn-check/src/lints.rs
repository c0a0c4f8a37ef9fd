//! Warnings about models that are valid but probably not what was meant: unused names, softmax
//! and dropout in odd places, and (on request) downsampling that aliases.
//!
//! Window-tiling and oversized-kernel warnings need shapes and live in [`crate::window`].

use crate::graph::{CheckedModel, LayerId, TensorId};
use crate::ops::Op;
use cnn_diag::{Code, Diagnostic};

pub(crate) fn lint(model: &CheckedModel, warn_aliasing: bool) -> Vec<Diagnostic> {
    let consumers = consumers(model);
    let mut out: Vec<(Option<LayerId>, Diagnostic)> = Vec::new();
    unused(model, &consumers, &mut out);
    for (id, layer) in model.layers.iter().enumerate() {
        let used_by: Vec<&Op> = consumers[layer.output].iter().map(|l| &model.layers[*l].op).collect();
        match layer.op {
            Op::Softmax { .. } if !used_by.is_empty() => out.push((
                Some(id),
                Diagnostic::new(
                    Code::SOFTMAX_PLACE,
                    "softmax feeds another layer",
                    layer.callee_span,
                    "not at the output",
                )
                .with_note("softmax turns scores into probabilities; layers after it see squashed values")
                .with_help(
                    "move softmax to the end, or drop it and train on logits (CrossEntropyLoss applies it itself)",
                ),
            )),
            Op::Dropout(_) => {
                if let Some(reason) = dropout_oddity(model, layer.inputs[0], layer.output, &used_by) {
                    out.push((
                        Some(id),
                        Diagnostic::new(
                            Code::DROPOUT_PLACE,
                            format!("dropout {reason}"),
                            layer.callee_span,
                            "dropout here",
                        )
                        .with_note(
                            "dropout is the identity at inference; during training it regularises the layers after it",
                        ),
                    ));
                }
            }
            Op::MaxPool(spec) if warn_aliasing && spec.stride.iter().any(|s| *s > 1) => {
                out.push((Some(id), aliasing(layer, "max-pooling")))
            }
            Op::Conv(spec) if warn_aliasing && spec.stride.iter().any(|s| *s > 1) => {
                out.push((Some(id), aliasing(layer, "a strided convolution")))
            }
            _ => {}
        }
    }
    out.into_iter()
        .filter(|(layer, d)| {
            let allow = match layer {
                Some(l) => &model.layers[*l].allow,
                None => &model.allow,
            };
            !allow.iter().any(|c| c == d.code.as_str())
        })
        .map(|(_, d)| d)
        .collect()
}

fn aliasing(layer: &crate::graph::Layer, what: &str) -> Diagnostic {
    let span = layer.arg_span("stride").unwrap_or(layer.callee_span);
    let fix = match layer.op {
        Op::MaxPool(spec) => format!(
            "keep the max but take it densely, then blur and subsample: `maxpool({}, stride=1)` followed by `blurpool(stride={})`",
            crate::window::show_hw(spec.kernel),
            spec.stride[0]
        ),
        _ => "run the convolution with stride 1, then `blurpool(stride=…)` with the original stride".to_string(),
    };
    Diagnostic::new(
        Code::ALIASING,
        format!("{what} subsamples without a low-pass filter first, so small shifts of the input can change its output a lot"),
        span,
        "subsamples here",
    )
    .with_note("sampling below the Nyquist rate aliases: max-pooling 0,0,1,1,0,0,1,1 (window 2, stride 2) gives 0,1,0,1; shifted by one it gives 1,1,1,1")
    .with_help(format!("{fix} (Zhang 2019, \"Making Convolutional Networks Shift-Invariant Again\")"))
}

fn dropout_oddity(model: &CheckedModel, input: TensorId, output: TensorId, used_by: &[&Op]) -> Option<&'static str> {
    if model.inputs.contains(&input) {
        Some("directly on the model input drops raw input values")
    } else if model.outputs.contains(&output) || used_by.is_empty() {
        Some("as the last layer changes nothing the network learns")
    } else if used_by.iter().any(|op| matches!(op, Op::Softmax { .. })) {
        Some("right before softmax only perturbs the output")
    } else if used_by.iter().any(|op| matches!(op, Op::BatchNorm { .. })) {
        Some("right before batch-norm shifts the statistics batch-norm learns (the variance shift)")
    } else {
        None
    }
}

fn unused(model: &CheckedModel, consumers: &[Vec<LayerId>], out: &mut Vec<(Option<LayerId>, Diagnostic)>) {
    for (id, tensor) in model.tensors.iter().enumerate() {
        let Some(name) = &tensor.name else { continue };
        if !consumers[id].is_empty() || model.outputs.contains(&id) {
            continue;
        }
        // A broken layer has its own error; "unused" would only add noise.
        if tensor.producer.is_some_and(|l| model.layers[l].info.broken) {
            continue;
        }
        // A parameter-free named layer (an activation named after torchvision's module) is
        // still reported: nothing reads its output.
        if tensor.allow.iter().any(|c| c == Code::UNUSED.as_str()) {
            continue;
        }
        let d = Diagnostic::new(Code::UNUSED, format!("`{name}` is never used"), tensor.span, "defined here")
            .with_help("use it (`from`, `add`, `concat`, `output`), or remove it");
        out.push((tensor.producer, d));
    }
}

/// For each tensor, the layers that read it.
pub(crate) fn consumers(model: &CheckedModel) -> Vec<Vec<LayerId>> {
    let mut out = vec![Vec::new(); model.tensors.len()];
    for (id, layer) in model.layers.iter().enumerate() {
        for input in &layer.inputs {
            out[*input].push(id);
        }
    }
    out
}
