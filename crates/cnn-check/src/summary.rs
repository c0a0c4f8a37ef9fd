//! The per-layer summary `cnnc check` prints: output shape, parameters, MACs, memory and
//! receptive field for every layer, and the totals.
//!
//! What is counted: parameters are learnable values (conv and dense weights and biases,
//! batch-norm scale and shift); batch-norm running statistics are buffers, listed apart. MACs
//! are the multiply-accumulates of conv and dense layers for one sample (FLOPs = 2·MACs);
//! pooling, activations and batch-norm (folded into the conv at inference) count 0. Memory is
//! the size of each layer's output at batch 1 in f32, and the activation total sums them.

use crate::dim::Dim;
use crate::graph::{CheckedModel, Layer, Receptive};
use crate::infer::show_shape;
use crate::ops::{ConvKind, Op};
use crate::window::padding_source;

/// `3` for a square pair, `3×2` otherwise.
fn show_hw(v: [u64; 2]) -> String {
    if v[0] == v[1] {
        v[0].to_string()
    } else {
        format!("{}×{}", v[0], v[1])
    }
}
use std::fmt::Write;

/// Totals over a model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Totals {
    pub params: u64,
    pub buffers: u64,
    /// `None` when some layer's MACs depend on symbolic sizes, or a layer is broken.
    pub macs: Option<u64>,
    /// Sum of layer outputs at batch 1, in bytes (f32); `None` when symbolic.
    pub activation_bytes: Option<u64>,
    pub input_bytes: Option<u64>,
    /// The receptive field of the last spatial layer, and that layer.
    pub receptive: Option<(Receptive, String)>,
}

pub fn totals(model: &CheckedModel) -> Totals {
    let mut params = 0u64;
    let mut buffers = 0u64;
    let mut macs = Some(0u64);
    let mut activation = Some(0u64);
    let mut receptive = None;
    for layer in &model.layers {
        params = params.saturating_add(layer.info.params);
        buffers = buffers.saturating_add(layer.info.buffers);
        macs = match (macs, layer.info.macs, layer.info.ok) {
            (Some(total), Some(m), true) => total.checked_add(m),
            _ => None,
        };
        activation = match (activation, bytes_at_batch1(model.tensors[layer.output].shape.as_deref())) {
            (Some(total), Some(b)) => total.checked_add(b),
            _ => None,
        };
        if let Some(r) = model.tensors[layer.output].receptive {
            receptive = Some((r, layer.display_name()));
        }
    }
    let input_bytes = model
        .inputs
        .iter()
        .try_fold(0u64, |acc, t| acc.checked_add(bytes_at_batch1(model.tensors[*t].shape.as_deref())?));
    Totals { params, buffers, macs, activation_bytes: activation, input_bytes, receptive }
}

fn bytes_at_batch1(shape: Option<&[Dim]>) -> Option<u64> {
    let shape = shape?;
    shape.iter().skip(1).try_fold(4u64, |acc, d| acc.checked_mul(d.known()?))
}

/// The operation column: `conv 7×7/2 p3`, `dense 512→1000`, `maxpool 3×3/2 p1`.
pub fn describe_op(model: &CheckedModel, layer: &Layer) -> String {
    if layer.unbound {
        return "(not bound)".to_string();
    }
    let pad = |layer: &Layer| match layer.info.padding {
        Some(p) if p != [0; 4] => format!(" p{}", padding_source(p)),
        _ => String::new(),
    };
    let stride = |s: [u64; 2]| if s == [1, 1] { String::new() } else { format!("/{}", show_hw(s)) };
    let kernel = |k: [u64; 2]| format!("{}×{}", k[0], k[1]);
    match layer.op {
        Op::Conv(spec) => {
            let mut text = match spec.kind {
                ConvKind::Conv => format!("conv {}{}{}", kernel(spec.kernel), stride(spec.stride), pad(layer)),
                ConvKind::Depthwise { .. } => {
                    format!("depthwise {}{}{}", kernel(spec.kernel), stride(spec.stride), pad(layer))
                }
                ConvKind::Pointwise => format!("pointwise{}", stride(spec.stride)),
            };
            if spec.dilation != [1, 1] {
                let _ = write!(text, " d{}", show_hw(spec.dilation));
            }
            if spec.groups > 1 && spec.kind == ConvKind::Conv {
                let _ = write!(text, " g{}", spec.groups);
            }
            if spec.flip {
                text.push_str(" flipped");
            }
            text
        }
        Op::MaxPool(spec) | Op::AvgPool(spec) => {
            let ceil = if spec.ceil { " ceil" } else { "" };
            let dilation =
                if spec.dilation == [1, 1] { String::new() } else { format!(" d{}", show_hw(spec.dilation)) };
            format!("{} {}{}{}{dilation}{ceil}", layer.op.name(), kernel(spec.kernel), stride(spec.stride), pad(layer))
        }
        Op::AdaptiveAvgPool(size) => format!("adaptive_avgpool {}×{}", size[0], size[1]),
        Op::BlurPool { stride, filter } => format!("blurpool {filter}×{filter}/{stride}"),
        Op::LeakyRelu(slope) => format!("leaky_relu {slope}"),
        Op::Dropout(p) => format!("dropout {p}"),
        Op::Dense { out, .. } => {
            let width = model.tensors[layer.inputs[0]].shape.as_ref().filter(|s| s.len() == 2).map(|s| s[1].clone());
            match width {
                Some(w) => format!("dense {w}→{out}"),
                None => format!("dense →{out}"),
            }
        }
        _ => layer.op.name().to_string(),
    }
}

/// `1,234,567`.
pub fn thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// `1.5 MiB`.
pub fn bytes(value: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = value as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{value} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// `1.81 G`.
pub fn si(value: u64) -> String {
    let v = value as f64;
    match value {
        0..=9_999 => value.to_string(),
        10_000..=999_999 => format!("{:.1} K", v / 1e3),
        1_000_000..=999_999_999 => format!("{:.2} M", v / 1e6),
        _ => format!("{:.2} G", v / 1e9),
    }
}

/// The table and totals, as plain text (no colour).
pub fn render_table(model: &CheckedModel) -> String {
    let mut rows: Vec<[String; 7]> = vec![[
        "Layer".into(),
        "Op".into(),
        "Output".into(),
        "Params".into(),
        "MACs".into(),
        "Memory".into(),
        "RF / stride".into(),
    ]];
    for &input in &model.inputs {
        let tensor = &model.tensors[input];
        rows.push([
            tensor.name.clone().unwrap_or_default(),
            "input".into(),
            tensor.shape.as_deref().map(show_shape).unwrap_or_else(|| "?".into()),
            String::new(),
            String::new(),
            bytes_at_batch1(tensor.shape.as_deref()).map(bytes).unwrap_or_else(|| "?".into()),
            String::new(),
        ]);
    }
    for layer in &model.layers {
        let tensor = &model.tensors[layer.output];
        let marker = if layer.info.broken { "✗ " } else { "" };
        let shape = match (&tensor.shape, layer.info.broken) {
            (_, true) => "error".to_string(),
            (Some(s), _) => show_shape(s),
            (None, _) => "?".to_string(),
        };
        let known = layer.info.ok;
        rows.push([
            format!("{marker}{}", layer.display_name()),
            describe_op(model, layer),
            shape,
            if known && layer.info.params > 0 {
                thousands(layer.info.params)
            } else if known {
                "—".into()
            } else {
                "?".into()
            },
            match (known, layer.info.macs) {
                (true, Some(0)) => "—".into(),
                (true, Some(m)) => si(m),
                _ => "?".into(),
            },
            if known {
                bytes_at_batch1(tensor.shape.as_deref()).map(bytes).unwrap_or_else(|| "?".into())
            } else {
                "?".into()
            },
            match (known, tensor.receptive) {
                (true, Some(r)) => format!("{} / {}", show_hw(r.field), show_hw(r.stride)),
                (true, None) => "global".into(),
                _ => "?".into(),
            },
        ]);
    }
    let mut widths = [0usize; 7];
    for row in &rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let _ = writeln!(out, "model {}", model.name);
    for (r, row) in rows.iter().enumerate() {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            let pad = widths[i] - cell.chars().count();
            let right_aligned = (3..=5).contains(&i) && r > 0;
            if right_aligned {
                line.push_str(&" ".repeat(pad));
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.push_str(&" ".repeat(pad));
            }
            line.push_str("  ");
        }
        let _ = writeln!(out, "{}", line.trim_end());
        if r == 0 {
            let total: usize = widths.iter().sum::<usize>() + 2 * 6;
            let _ = writeln!(out, "{}", "─".repeat(total));
        }
    }
    out.push_str(&render_totals(model));
    out
}

fn render_totals(model: &CheckedModel) -> String {
    let t = totals(model);
    let broken = model.layers.iter().any(|l| l.info.broken);
    let mut out = String::new();
    let _ = writeln!(out);
    let partial = if broken { " (so far: some layers have errors)" } else { "" };
    let _ =
        writeln!(out, "Parameters:  {} ({} as f32){partial}", thousands(t.params), bytes(t.params.saturating_mul(4)));
    if t.buffers > 0 {
        let _ = writeln!(out, "Buffers:     {} (batch-norm running statistics)", thousands(t.buffers));
    }
    match t.macs {
        Some(m) => {
            let _ = writeln!(
                out,
                "MACs:        {} per sample (FLOPs = 2·MACs = {})",
                thousands(m),
                si(m.saturating_mul(2))
            );
        }
        None if broken => {
            let _ = writeln!(out, "MACs:        unknown until the errors are fixed");
        }
        None => {
            let _ = writeln!(out, "MACs:        depend on the symbolic input sizes (bind them with --dim H=224)");
        }
    }
    match (t.activation_bytes, t.input_bytes) {
        (Some(a), Some(i)) => {
            let _ = writeln!(out, "Activations: {} at batch 1 (all layer outputs, f32), input {}", bytes(a), bytes(i));
        }
        _ => {
            let _ = writeln!(out, "Activations: depend on the symbolic input sizes");
        }
    }
    if let Some((r, at)) = &t.receptive {
        let _ = writeln!(
            out,
            "Receptive field: {}×{} pixels, effective stride {} (at {at}, the last spatial layer)",
            r.field[0],
            r.field[1],
            show_hw(r.stride)
        );
    }
    for report in &model.accepted_sizes {
        let _ = write!(out, "Accepted sizes: {}", report.accepted);
        if let Some(exact) = &report.exact {
            if exact.starts_with("no ") {
                let _ = write!(out, "; every {} drops rows or columns somewhere", report.symbol);
            } else {
                let _ = write!(out, "; no row or column dropped when {exact}");
            }
        }
        out.push('\n');
    }
    out
}
