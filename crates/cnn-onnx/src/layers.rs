//! One ONNX node → one `.cnn` layer: the call as written in the file, the weights it reads
//! (under the suffixes `cnn_check` expects: `weight`, `bias`, `running_mean`, ...) and its
//! output shape, for later `Shape` nodes to fold.
//!
//! Assumes inputs are decoded (constants checked) and shapes are those of earlier layers.
//! Anything without an exact `.cnn` equivalent is an `Err` with the reason, never an
//! approximation: a pooling padding PyTorch would refuse, a `Clip` other than ReLU/ReLU6, an
//! `Add` with broadcasting.

use crate::attrs::Attrs;
use crate::emit::decimal;
use crate::tensor::{Const, Int};
use cnn_check::dim::AxisWindow;

/// Ops translated to layers (constant-only uses of them are folded first).
pub(crate) const SUPPORTED: &[&str] = &[
    "Conv",
    "MaxPool",
    "AveragePool",
    "GlobalAveragePool",
    "GlobalMaxPool",
    "Relu",
    "LeakyRelu",
    "Clip",
    "Sigmoid",
    "Tanh",
    "BatchNormalization",
    "Gemm",
    "MatMul",
    "Flatten",
    "Reshape",
    "Add",
    "Sum",
    "Concat",
    "Softmax",
    "Dropout",
    "Identity",
];

pub(crate) fn unsupported_reason(op: &str) -> String {
    format!("cnnc has no layer for `{op}`")
}

/// A node's input as the translation sees it.
pub(crate) enum In<'a> {
    Const(&'a Const),
    Dyn { name: &'a str, shape: &'a [Int] },
    Absent,
}

pub(crate) struct Ctx<'a> {
    pub opset: i64,
    pub attrs: &'a Attrs<'a>,
    pub inputs: &'a [In<'a>],
    /// Whether the node's output `i` is read by anything.
    pub output_used: &'a dyn Fn(usize) -> bool,
}

/// How the layer is written.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Call {
    /// A one-input layer, e.g. `conv(64, 3, padding=1, bias=false)`.
    Text(String),
    Dense {
        input: usize,
        out: usize,
        bias: bool,
    },
    Add,
    Concat,
}

pub(crate) type Weight = (&'static str, Vec<usize>, Vec<f32>);

pub(crate) struct Translated {
    pub kind: &'static str,
    pub call: Call,
    /// The ONNX names of the computed tensors it reads, in order.
    pub inputs: Vec<String>,
    pub weights: Vec<Weight>,
    pub shape: Vec<Int>,
}

pub(crate) fn translate(op: &str, ctx: &Ctx<'_>) -> Result<Translated, String> {
    for output in 1..4 {
        if (ctx.output_used)(output) {
            return Err(format!("its output {output} is used; only the first output of `{op}` is supported"));
        }
    }
    match op {
        "Conv" => conv(ctx),
        "MaxPool" | "AveragePool" => pool(op, ctx),
        "GlobalAveragePool" => simple(ctx, "global_avgpool", "global_avgpool", Some(4), true),
        "GlobalMaxPool" => simple(ctx, "global_maxpool", "global_maxpool", Some(4), true),
        "Relu" => simple(ctx, "relu", "relu", None, false),
        "Sigmoid" => simple(ctx, "sigmoid", "sigmoid", None, false),
        "Tanh" => simple(ctx, "tanh", "tanh", None, false),
        "Identity" => simple(ctx, "identity", "identity", None, false),
        "LeakyRelu" => {
            let alpha = ctx.attrs.float("alpha").unwrap_or(0.01);
            let text =
                if alpha == 0.01 { "leaky_relu".to_string() } else { format!("leaky_relu(slope={})", decimal(alpha)) };
            let mut t = simple(ctx, "leaky_relu", "", None, false)?;
            t.call = Call::Text(text);
            Ok(t)
        }
        "Clip" => clip(ctx),
        "BatchNormalization" => batchnorm(ctx),
        "Gemm" => gemm(ctx),
        "MatMul" => matmul(ctx),
        "Flatten" => flatten(ctx),
        "Reshape" => reshape(ctx),
        "Add" | "Sum" => add(ctx),
        "Concat" => concat(ctx),
        "Softmax" => softmax(ctx),
        "Dropout" => dropout(ctx),
        _ => Err(unsupported_reason(op)),
    }
}

/// The first input, which must be computed (not a constant).
fn data<'a>(ctx: &'a Ctx<'_>) -> Result<(&'a str, &'a [Int]), String> {
    match ctx.inputs.first() {
        Some(In::Dyn { name, shape }) => Ok((name, shape)),
        Some(In::Const(_)) => Err("its data input is a constant, not a computed tensor".into()),
        _ => Err("it has no data input".into()),
    }
}

fn constant<'a>(ctx: &'a Ctx<'_>, index: usize, what: &str) -> Result<Option<&'a Const>, String> {
    match ctx.inputs.get(index) {
        Some(In::Const(c)) => Ok(Some(c)),
        Some(In::Dyn { .. }) => Err(format!("its {what} is computed at run time; cnnc needs it constant")),
        _ => Ok(None),
    }
}

fn known(dim: &Int) -> Option<u64> {
    match dim {
        Int::Known(v) => u64::try_from(*v).ok(),
        Int::Sym(_) => None,
    }
}

fn simple(
    ctx: &Ctx<'_>,
    kind: &'static str,
    text: &str,
    rank: Option<usize>,
    global: bool,
) -> Result<Translated, String> {
    let (name, shape) = data(ctx)?;
    check_rank(shape, rank)?;
    let mut out = shape.to_vec();
    if global {
        out[2] = Int::Known(1);
        out[3] = Int::Known(1);
    }
    Ok(Translated { kind, call: Call::Text(text.into()), inputs: vec![name.into()], weights: vec![], shape: out })
}

fn check_rank(shape: &[Int], rank: Option<usize>) -> Result<(), String> {
    match rank {
        Some(r) if shape.len() != r => Err(format!("its input has rank {}, {r} is needed", shape.len())),
        _ if shape.len() != 2 && shape.len() != 4 => {
            Err(format!("its input has rank {}; cnnc tensors are [N, C, H, W] or [N, F]", shape.len()))
        }
        _ => Ok(()),
    }
}

/// Two non-negative integers from an attribute of two values, or the default.
fn pair(attrs: &Attrs<'_>, name: &str, default: u64) -> Result<[u64; 2], String> {
    match attrs.ints(name) {
        None => Ok([default; 2]),
        Some([a, b]) if *a >= 0 && *b >= 0 => Ok([*a as u64, *b as u64]),
        Some(other) => Err(format!("`{name}` = {other:?}: two non-negative values are needed (2-D only)")),
    }
}

/// Padding `[top, bottom, left, right]` from `pads` (ONNX order `[top, left, bottom, right]`)
/// or `auto_pad`.
fn padding(
    attrs: &Attrs<'_>,
    input: &[Int],
    kernel: [u64; 2],
    stride: [u64; 2],
    dilation: [u64; 2],
) -> Result<[u64; 4], String> {
    let auto = attrs.string("auto_pad").unwrap_or_default();
    match auto.as_str() {
        "" | "NOTSET" => match attrs.ints("pads") {
            None => Ok([0; 4]),
            Some([t, l, b, r]) if [t, l, b, r].iter().all(|p| **p >= 0) => {
                Ok([*t as u64, *b as u64, *l as u64, *r as u64])
            }
            Some(other) => Err(format!("`pads` = {other:?}: four non-negative values are needed")),
        },
        "VALID" => Ok([0; 4]),
        "SAME_UPPER" | "SAME_LOWER" => {
            let mut out = [0u64; 4];
            for axis in 0..2 {
                let n = known(&input[2 + axis]).ok_or("auto_pad SAME needs a known input size")?;
                let out_len = n.div_ceil(stride[axis].max(1));
                let extent = dilation[axis] * (kernel[axis].max(1) - 1) + 1;
                let total = ((out_len - 1) * stride[axis] + extent).saturating_sub(n);
                let small = total / 2;
                let (before, after) =
                    if auto == "SAME_UPPER" { (small, total - small) } else { (total - small, small) };
                out[axis * 2] = before;
                out[axis * 2 + 1] = after;
            }
            Ok(out)
        }
        other => Err(format!("auto_pad `{other}` is unknown")),
    }
}

fn size_arg(name: &str, value: [u64; 2], default: [u64; 2]) -> Option<String> {
    if value == default {
        return None;
    }
    Some(if value[0] == value[1] {
        format!("{name}={}", value[0])
    } else {
        format!("{name}={}x{}", value[0], value[1])
    })
}

fn padding_arg(p: [u64; 4]) -> Option<String> {
    match p {
        [0, 0, 0, 0] => None,
        [a, b, c, d] if a == b && b == c && c == d => Some(format!("padding={a}")),
        [a, b, c, d] if a == b && c == d => Some(format!("padding=({a}, {c})")),
        [a, b, c, d] => Some(format!("padding=({a}, {b}, {c}, {d})")),
    }
}

fn spatial(input: &[Int], window: [AxisWindow; 2]) -> Result<[Int; 2], String> {
    let mut out = [Int::Sym("?".into()), Int::Sym("?".into())];
    for axis in 0..2 {
        if let Some(n) = known(&input[2 + axis]) {
            let len = window[axis].output(n).ok_or_else(|| format!("the window does not fit the input's size {n}"))?;
            out[axis] = Int::Known(len as i64);
        }
    }
    Ok(out)
}

fn window(kernel: u64, stride: u64, dilation: u64, pads: [u64; 2], ceil: bool) -> AxisWindow {
    AxisWindow { pad_before: pads[0], pad_after: pads[1], extent: dilation * (kernel - 1) + 1, dilation, stride, ceil }
}

fn conv(ctx: &Ctx<'_>) -> Result<Translated, String> {
    let (name, shape) = data(ctx)?;
    check_rank(shape, Some(4))?;
    let weight = constant(ctx, 1, "weight")?.ok_or("it has no weight")?;
    let [out, per_group, kh, kw] = weight.dims[..] else { return Err("only 2-D convolutions are supported".into()) };
    let channels = known(&shape[1]).ok_or("the channel count is unknown")? as usize;
    let groups = ctx.attrs.int("group").unwrap_or(1);
    let groups = usize::try_from(groups).ok().filter(|g| *g >= 1).ok_or("`group` must be at least 1")?;
    if !channels.is_multiple_of(groups) || channels / groups != per_group || !out.is_multiple_of(groups) {
        return Err(format!("weight {:?} does not fit {channels} input channels in {groups} groups", weight.dims));
    }
    let kernel = [kh as u64, kw as u64];
    if kh == 0 || kw == 0 || ctx.attrs.ints("kernel_shape").is_some_and(|k| k != [kh as i64, kw as i64]) {
        return Err("`kernel_shape` disagrees with the weight".into());
    }
    let stride = pair(ctx.attrs, "strides", 1)?;
    let dilation = pair(ctx.attrs, "dilations", 1)?;
    if stride.contains(&0) || dilation.contains(&0) {
        return Err("strides and dilations must be at least 1".into());
    }
    let pads = padding(ctx.attrs, shape, kernel, stride, dilation)?;
    let mut weights = vec![("weight", weight.dims.clone(), weight.floats()?)];
    if let Some(bias) = constant(ctx, 2, "bias")? {
        if bias.len() != out {
            return Err(format!("the bias has {} values for {out} filters", bias.len()));
        }
        weights.push(("bias", vec![out], bias.floats()?));
    }
    let mut args = vec![out.to_string(), if kh == kw { kh.to_string() } else { format!("{kh}x{kw}") }];
    args.extend(size_arg("stride", stride, [1, 1]));
    args.extend(padding_arg(pads));
    args.extend(size_arg("dilation", dilation, [1, 1]));
    if groups != 1 {
        args.push(format!("groups={groups}"));
    }
    if weights.len() == 1 {
        args.push("bias=false".into());
    }
    let windows = [0, 1].map(|a| window(kernel[a], stride[a], dilation[a], [pads[a * 2], pads[a * 2 + 1]], false));
    let [h, w] = spatial(shape, windows)?;
    let out_shape = vec![shape[0].clone(), Int::Known(out as i64), h, w];
    Ok(Translated {
        kind: "conv",
        call: Call::Text(format!("conv({})", args.join(", "))),
        inputs: vec![name.into()],
        weights,
        shape: out_shape,
    })
}

fn pool(op: &str, ctx: &Ctx<'_>) -> Result<Translated, String> {
    let (name, shape) = data(ctx)?;
    check_rank(shape, Some(4))?;
    let kernel = match ctx.attrs.ints("kernel_shape") {
        Some([a, b]) if *a >= 1 && *b >= 1 => [*a as u64, *b as u64],
        _ => return Err("`kernel_shape` must be two sizes (2-D pooling)".into()),
    };
    let stride = pair(ctx.attrs, "strides", 1)?;
    let dilation = pair(ctx.attrs, "dilations", 1)?;
    if stride.contains(&0) || dilation.contains(&0) {
        return Err("strides and dilations must be at least 1".into());
    }
    let max = op == "MaxPool";
    if !max && dilation != [1, 1] {
        return Err("average pooling with dilation has no .cnn equivalent".into());
    }
    if ctx.attrs.int("storage_order").unwrap_or(0) != 0 {
        return Err("storage_order=1 (column-major indices) is not supported".into());
    }
    let pads = padding(ctx.attrs, shape, kernel, stride, dilation)?;
    if pads[0] > kernel[0] / 2 || pads[1] > kernel[0] / 2 || pads[2] > kernel[1] / 2 || pads[3] > kernel[1] / 2 {
        return Err(format!(
            "padding {pads:?} is more than half the kernel {kernel:?} (PyTorch's limit, which .cnn follows)"
        ));
    }
    let ceil = ctx.attrs.int("ceil_mode").unwrap_or(0) != 0;
    let mut args =
        vec![if kernel[0] == kernel[1] { kernel[0].to_string() } else { format!("{}x{}", kernel[0], kernel[1]) }];
    args.extend(size_arg("stride", stride, kernel));
    args.extend(padding_arg(pads));
    args.extend(size_arg("dilation", dilation, [1, 1]));
    if ceil {
        args.push("ceil=true".into());
    }
    if !max && ctx.attrs.int("count_include_pad").unwrap_or(0) == 0 && pads != [0; 4] {
        args.push("count_pad=false".into());
    }
    let windows = [0, 1].map(|a| window(kernel[a], stride[a], dilation[a], [pads[a * 2], pads[a * 2 + 1]], ceil));
    let [h, w] = spatial(shape, windows)?;
    let kind = if max { "maxpool" } else { "avgpool" };
    Ok(Translated {
        kind,
        call: Call::Text(format!("{kind}({})", args.join(", "))),
        inputs: vec![name.into()],
        weights: vec![],
        shape: vec![shape[0].clone(), shape[1].clone(), h, w],
    })
}

fn clip(ctx: &Ctx<'_>) -> Result<Translated, String> {
    let bound = |index: usize, attr: &str, default: f32| -> Result<f32, String> {
        if ctx.opset < 11 {
            return Ok(ctx.attrs.float(attr).unwrap_or(default));
        }
        match constant(ctx, index, attr)? {
            Some(c) => c.scalar(),
            None => Ok(default),
        }
    };
    let (min, max) = (bound(1, "min", f32::NEG_INFINITY)?, bound(2, "max", f32::INFINITY)?);
    let (kind, text) = match (min, max) {
        (0.0, 6.0) => ("relu6", "relu6"),
        (0.0, f32::INFINITY) => ("relu", "relu"),
        _ => return Err(format!("Clip to [{min}, {max}]: only [0, 6] (ReLU6) and [0, ∞) (ReLU) are layers")),
    };
    simple(ctx, kind, text, None, false)
}

fn batchnorm(ctx: &Ctx<'_>) -> Result<Translated, String> {
    if ctx.attrs.int("training_mode").unwrap_or(0) != 0 {
        return Err("training-mode batch normalisation is not supported".into());
    }
    let (_, shape) = data(ctx)?;
    let channels = known(shape.get(1).ok_or("its input has no channels")?).ok_or("unknown channels")? as usize;
    let mut weights = Vec::new();
    for (index, suffix) in [(1, "weight"), (2, "bias"), (3, "running_mean"), (4, "running_var")] {
        let value = constant(ctx, index, suffix)?.ok_or_else(|| format!("it has no {suffix}"))?;
        if value.len() != channels {
            return Err(format!("its {suffix} has {} values for {channels} channels", value.len()));
        }
        weights.push((suffix, vec![channels], value.floats()?));
    }
    let eps = ctx.attrs.float("epsilon").unwrap_or(1e-5);
    let text = if eps == 1e-5 { "batchnorm".to_string() } else { format!("batchnorm(eps={})", decimal(eps)) };
    let mut t = simple(ctx, "batchnorm", &text, None, false)?;
    t.weights = weights;
    Ok(t)
}

/// `[rows, cols]` values transposed.
fn transpose(values: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    (0..cols).flat_map(|c| (0..rows).map(move |r| values[r * cols + c])).collect()
}

fn dense(
    ctx: &Ctx<'_>,
    weight: Vec<f32>,
    out: usize,
    features: usize,
    bias: Option<Vec<f32>>,
) -> Result<Translated, String> {
    let (name, shape) = data(ctx)?;
    check_rank(shape, Some(2))?;
    if known(&shape[1]) != Some(features as u64) {
        return Err(format!("its input has {:?} features, the weight {features}", shape[1]));
    }
    let mut weights = vec![("weight", vec![out, features], weight)];
    let has_bias = bias.is_some();
    if let Some(bias) = bias {
        weights.push(("bias", vec![out], bias));
    }
    Ok(Translated {
        kind: "dense",
        call: Call::Dense { input: features, out, bias: has_bias },
        inputs: vec![name.into()],
        weights,
        shape: vec![shape[0].clone(), Int::Known(out as i64)],
    })
}

fn gemm(ctx: &Ctx<'_>) -> Result<Translated, String> {
    if ctx.attrs.int("transA").unwrap_or(0) != 0 {
        return Err("transA=1 is not supported".into());
    }
    let weight = constant(ctx, 1, "weight (B)")?.ok_or("it has no B")?;
    let [rows, cols] = weight.dims[..] else { return Err("B must be 2-D".into()) };
    let alpha = ctx.attrs.float("alpha").unwrap_or(1.0);
    let beta = ctx.attrs.float("beta").unwrap_or(1.0);
    let mut values = weight.floats()?;
    let (out, features) = if ctx.attrs.int("transB").unwrap_or(0) != 0 {
        (rows, cols)
    } else {
        values = transpose(&values, rows, cols);
        (cols, rows)
    };
    if alpha != 1.0 {
        values.iter_mut().for_each(|v| *v *= alpha);
    }
    let bias = match constant(ctx, 2, "C")? {
        None => None,
        Some(c) => {
            let v = c.floats()?;
            let v = match (c.dims.as_slice(), v.len()) {
                (_, 1) => vec![v[0]; out],
                ([n] | [1, n], _) if *n == out => v,
                (dims, _) => return Err(format!("C of shape {dims:?} is not a bias of width {out}")),
            };
            Some(v.into_iter().map(|b| b * beta).collect())
        }
    };
    dense(ctx, values, out, features, bias)
}

fn matmul(ctx: &Ctx<'_>) -> Result<Translated, String> {
    let weight = constant(ctx, 1, "second operand")?.ok_or("it has no second operand")?;
    let [features, out] = weight.dims[..] else { return Err("only a 2-D constant second operand is supported".into()) };
    dense(ctx, transpose(&weight.floats()?, features, out), out, features, None)
}

fn flatten_shape(shape: &[Int]) -> Vec<Int> {
    let features = shape[1..].iter().try_fold(1i64, |acc, d| match d {
        Int::Known(v) => acc.checked_mul(*v),
        Int::Sym(_) => None,
    });
    vec![shape[0].clone(), features.map_or_else(|| Int::Sym("?".into()), Int::Known)]
}

fn flatten(ctx: &Ctx<'_>) -> Result<Translated, String> {
    let (_, shape) = data(ctx)?;
    let axis = ctx.attrs.int("axis").unwrap_or(1);
    if axis != 1 && axis + shape.len() as i64 != 1 {
        return Err(format!("Flatten with axis {axis}: only axis 1 (keep the batch) is a layer"));
    }
    let mut t = simple(ctx, "flatten", "flatten", None, false)?;
    t.shape = flatten_shape(shape);
    Ok(t)
}

fn reshape(ctx: &Ctx<'_>) -> Result<Translated, String> {
    let (_, shape) = data(ctx)?;
    check_rank(shape, None)?;
    let target = constant(ctx, 1, "shape")?.ok_or("it has no shape")?.int_values()?;
    let flat = flatten_shape(shape);
    let batch_ok = |d: &Int| match d {
        Int::Known(0) => ctx.attrs.int("allowzero").unwrap_or(0) == 0,
        d => *d == shape[0],
    };
    let features_ok = |d: &Int| *d == Int::Known(-1) || (*d == flat[1] && matches!(d, Int::Known(_)));
    let ok = match target.as_slice() {
        [a, b] => {
            (batch_ok(a) && features_ok(b)) || (*a == Int::Known(-1) && *b == flat[1] && matches!(b, Int::Known(_)))
        }
        _ => false,
    };
    if !ok {
        return Err(format!(
            "Reshape to {target:?} is not a flatten to [batch, features]; only that reshape is a layer"
        ));
    }
    let mut t = simple(ctx, "flatten", "flatten", None, false)?;
    t.shape = flat;
    Ok(t)
}

fn operands(ctx: &Ctx<'_>, what: &str) -> Result<(Vec<String>, Vec<Int>), String> {
    let mut names = Vec::new();
    let mut first: Option<&[Int]> = None;
    for input in ctx.inputs {
        match input {
            In::Dyn { name, shape } => {
                check_rank(shape, None)?;
                names.push(name.to_string());
                first.get_or_insert(shape);
            }
            _ => return Err(format!("{what} of a constant has no .cnn layer")),
        }
    }
    Ok((names, first.ok_or("it has no operands")?.to_vec()))
}

fn add(ctx: &Ctx<'_>) -> Result<Translated, String> {
    let (names, shape) = operands(ctx, "adding")?;
    for input in ctx.inputs {
        if let In::Dyn { shape: other, .. } = input {
            if *other != shape.as_slice() {
                return Err(format!("operands of shapes {shape:?} and {other:?}: broadcasting is not a .cnn layer"));
            }
        }
    }
    if names.len() < 2 {
        let mut t = simple(ctx, "identity", "identity", None, false)?;
        t.kind = "identity";
        return Ok(t);
    }
    Ok(Translated { kind: "add", call: Call::Add, inputs: names, weights: vec![], shape })
}

fn concat(ctx: &Ctx<'_>) -> Result<Translated, String> {
    let (names, mut shape) = operands(ctx, "concatenating")?;
    let axis = ctx.attrs.int("axis").ok_or("Concat needs `axis`")?;
    if axis != 1 && axis + shape.len() as i64 != 1 {
        return Err(format!("Concat along axis {axis}: only channels (axis 1) is a layer"));
    }
    let mut channels = 0i64;
    for input in ctx.inputs {
        if let In::Dyn { shape: other, .. } = input {
            let same =
                other.len() == shape.len() && other.iter().zip(&shape).enumerate().all(|(i, (a, b))| i == 1 || a == b);
            let c = known(&other[1]).ok_or("unknown channels")?;
            if !same {
                return Err(format!("operands of shapes {shape:?} and {other:?} differ outside the channels"));
            }
            channels += c as i64;
        }
    }
    shape[1] = Int::Known(channels);
    Ok(Translated { kind: "concat", call: Call::Concat, inputs: names, weights: vec![], shape })
}

fn softmax(ctx: &Ctx<'_>) -> Result<Translated, String> {
    let (_, shape) = data(ctx)?;
    let rank = shape.len() as i64;
    let axis = ctx.attrs.int("axis").unwrap_or(if ctx.opset < 13 { 1 } else { -1 });
    let axis = if axis < 0 { axis + rank } else { axis };
    if !(0..rank).contains(&axis) {
        return Err(format!("axis {axis} is out of range"));
    }
    // Before opset 13, Softmax flattens everything from `axis` on into one axis.
    if ctx.opset < 13 && shape[(axis as usize + 1)..].iter().any(|d| *d != Int::Known(1)) {
        return Err("opset < 13 Softmax over several axes has no .cnn layer".into());
    }
    let text = if axis == 1 { "softmax".to_string() } else { format!("softmax(dim={axis})") };
    simple(ctx, "softmax", &text, None, false)
}

fn dropout(ctx: &Ctx<'_>) -> Result<Translated, String> {
    if let Some(training) = constant(ctx, 2, "training_mode")? {
        if training.known_ints()?.first().copied().unwrap_or(0) != 0 {
            return Err("training-mode dropout is random; only inference is supported".into());
        }
    }
    let ratio = match constant(ctx, 1, "ratio")? {
        Some(r) => r.scalar()?,
        None => ctx.attrs.float("ratio").unwrap_or(0.5),
    };
    if !(0.0..1.0).contains(&ratio) {
        return Err(format!("ratio {ratio} is outside [0, 1)"));
    }
    let text = if ratio == 0.5 { "dropout".to_string() } else { format!("dropout({})", decimal(ratio)) };
    simple(ctx, "dropout", &text, None, false)
}
