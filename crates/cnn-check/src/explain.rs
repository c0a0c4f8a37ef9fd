//! A layer explained for a person (the language server's hover): its shapes, the window
//! arithmetic with the numbers filled in, the parameter formula, MACs and receptive field.

use crate::dim::{AxisWindow, Dim};
use crate::graph::{CheckedModel, Layer};
use crate::infer::show_shape;
use crate::ops::Op;
use crate::summary::{describe_op, si, thousands};
use crate::window::{arithmetic, extent, AXES};
use std::fmt::Write;

/// Markdown describing `layer` of `model`.
pub fn layer_report(model: &CheckedModel, layer: &Layer) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "**{}** — `{}`\n", layer.display_name(), describe_op(model, layer));
    let inputs: Vec<String> = layer
        .inputs
        .iter()
        .map(|t| model.tensors[*t].shape.as_deref().map(show_shape).unwrap_or_else(|| "?".to_string()))
        .collect();
    let output = model.tensors[layer.output].shape.as_deref().map(show_shape).unwrap_or_else(|| "?".to_string());
    let _ = writeln!(out, "`{}` → `{output}`\n", inputs.join(" + "));
    if !layer.info.ok {
        out.push_str("This layer has an error or an input of unknown shape.\n");
        return out;
    }
    let input = model.tensors[layer.inputs[0]].shape.clone().unwrap_or_default();
    for line in window_lines(layer, &input) {
        let _ = writeln!(out, "- {line}");
    }
    if let Some(line) = parameter_line(layer, &input) {
        let _ = writeln!(out, "- {line}");
    }
    if let Some(macs) = layer.info.macs.filter(|m| *m > 0) {
        let _ = writeln!(out, "- MACs: {} ({}) per sample", thousands(macs), si(macs));
    }
    match model.tensors[layer.output].receptive {
        Some(r) => {
            let _ = writeln!(
                out,
                "- receptive field {}×{}, effective stride {}×{}",
                r.field[0], r.field[1], r.stride[0], r.stride[1]
            );
        }
        None => out.push_str("- receptive field: the whole input\n"),
    }
    out
}

fn window_lines(layer: &Layer, input: &[Dim]) -> Vec<String> {
    let (kernel, stride, dilation, ceil) = match layer.op {
        Op::Conv(spec) => (spec.kernel, spec.stride, spec.dilation, false),
        Op::MaxPool(spec) | Op::AvgPool(spec) => (spec.kernel, spec.stride, spec.dilation, spec.ceil),
        Op::BlurPool { stride, filter } => ([filter; 2], [stride; 2], [1, 1], false),
        _ => return Vec::new(),
    };
    let Some(pads) = layer.info.padding else { return Vec::new() };
    (0..2)
        .filter_map(|axis| {
            let n = input.get(2 + axis)?.known()?;
            let window = AxisWindow {
                pad_before: pads[2 * axis],
                pad_after: pads[2 * axis + 1],
                extent: extent(kernel[axis], dilation[axis])?,
                dilation: dilation[axis],
                stride: stride[axis],
                ceil,
            };
            Some(format!("{}: {}", AXES[axis], arithmetic(n, &window)))
        })
        .collect()
}

fn parameter_line(layer: &Layer, input: &[Dim]) -> Option<String> {
    let c_in = input.get(1)?.known()?;
    match layer.op {
        Op::Conv(_) => {
            let shape = &layer.info.weights.first()?.1;
            let (out, per_group, kh, kw) = (shape[0], shape[1], shape[2], shape[3]);
            let bias = u64::from(layer.info.weights.len() > 1);
            Some(format!(
                "parameters: {out}·({kh}·{kw}·{per_group}{}) = {} ({} per filter over {c_in} input channels)",
                if bias == 1 { " + 1" } else { "" },
                thousands(layer.info.params),
                kh * kw * per_group + bias
            ))
        }
        Op::Dense { out, bias, .. } => Some(format!(
            "parameters: {out}·({c_in}{}) = {}",
            if bias { " + 1" } else { "" },
            thousands(layer.info.params)
        )),
        Op::BatchNorm { .. } => Some(format!(
            "parameters: 2·{c_in} = {} (+ {} running statistics)",
            thousands(layer.info.params),
            thousands(layer.info.buffers)
        )),
        _ => None,
    }
}
