//! The built-in layers: their argument lists, defaults, and the typed [`Op`] a call binds to.
//!
//! Binding checks only what an argument is (an integer ≥ 1, a padding spelling, a probability);
//! whether it fits the input tensor is [`crate::infer`]'s job, since that needs shapes.

use crate::value::{eval_value, Env, Val};
use cnn_diag::{Code, Diagnostic, Fix, Span};
use cnn_syntax::ast::{Arg, Call};
use std::collections::HashMap;

/// Height and width of a kernel, stride or dilation.
pub type Hw = [u64; 2];

/// How a layer pads, as written. `Explicit` is `[top, bottom, left, right]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Padding {
    Explicit([u64; 4]),
    Same,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConvKind {
    Conv,
    Depthwise { multiplier: u64 },
    Pointwise,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ConvSpec {
    pub kind: ConvKind,
    /// Output channels; for depthwise, decided by the input (C·multiplier) and filled in by
    /// inference.
    pub out: u64,
    pub kernel: Hw,
    pub stride: Hw,
    pub padding: Padding,
    pub dilation: Hw,
    /// For depthwise, the input channel count (filled in by inference).
    pub groups: u64,
    pub bias: bool,
    /// True convolution: the kernel is rotated by 180° before cross-correlating.
    pub flip: bool,
    pub expect_in: Option<u64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolSpec {
    pub kernel: Hw,
    pub stride: Hw,
    pub padding: Padding,
    pub dilation: Hw,
    pub ceil: bool,
    /// Average pooling only: whether padded zeros count in the divisor.
    pub count_pad: bool,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Op {
    Conv(ConvSpec),
    MaxPool(PoolSpec),
    AvgPool(PoolSpec),
    GlobalAvgPool,
    GlobalMaxPool,
    AdaptiveAvgPool(Hw),
    /// Zhang (2019): binomial low-pass filter of `filter` taps, reflect padding, then stride.
    BlurPool {
        stride: u64,
        filter: u64,
    },
    Relu,
    Relu6,
    LeakyRelu(f64),
    Sigmoid,
    Tanh,
    Identity,
    BatchNorm {
        eps: f64,
        channels: Option<u64>,
    },
    Dropout(f64),
    Flatten,
    Dense {
        out: u64,
        expect_in: Option<u64>,
        bias: bool,
    },
    Softmax {
        dim: i64,
    },
    Add,
    Concat,
}

impl Op {
    pub fn name(&self) -> &'static str {
        match self {
            Op::Conv(spec) => match spec.kind {
                ConvKind::Conv => "conv",
                ConvKind::Depthwise { .. } => "depthwise",
                ConvKind::Pointwise => "pointwise",
            },
            Op::MaxPool(_) => "maxpool",
            Op::AvgPool(_) => "avgpool",
            Op::GlobalAvgPool => "global_avgpool",
            Op::GlobalMaxPool => "global_maxpool",
            Op::AdaptiveAvgPool(_) => "adaptive_avgpool",
            Op::BlurPool { .. } => "blurpool",
            Op::Relu => "relu",
            Op::Relu6 => "relu6",
            Op::LeakyRelu(_) => "leaky_relu",
            Op::Sigmoid => "sigmoid",
            Op::Tanh => "tanh",
            Op::Identity => "identity",
            Op::BatchNorm { .. } => "batchnorm",
            Op::Dropout(_) => "dropout",
            Op::Flatten => "flatten",
            Op::Dense { .. } => "dense",
            Op::Softmax { .. } => "softmax",
            Op::Add => "add",
            Op::Concat => "concat",
        }
    }

    /// Whether this op has learnable weights, and so needs a name for them.
    pub fn has_weights(&self) -> bool {
        matches!(self, Op::Conv(_) | Op::Dense { .. } | Op::BatchNorm { .. })
    }
}

/// What kind of value an argument takes.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    /// An integer ≥ 1.
    Count,
    /// An integer ≥ 1, or a pair `h x w`.
    Hw,
    Padding,
    Bool,
    /// A number in `[lo, hi]` (`hi_open`: strictly below `hi`).
    Real {
        lo: f64,
        hi: f64,
        hi_open: bool,
    },
    /// Any integer (softmax's dim).
    Int,
}

struct ParamSpec {
    name: &'static str,
    kind: Kind,
    required: bool,
}

const fn req(name: &'static str, kind: Kind) -> ParamSpec {
    ParamSpec { name, kind, required: true }
}
const fn opt(name: &'static str, kind: Kind) -> ParamSpec {
    ParamSpec { name, kind, required: false }
}

const PROBABILITY: Kind = Kind::Real { lo: 0.0, hi: 1.0, hi_open: false };
const NON_NEGATIVE: Kind = Kind::Real { lo: 0.0, hi: f64::MAX, hi_open: false };
const SLOPE: Kind = Kind::Real { lo: -1e30, hi: 1e30, hi_open: false };

/// Every built-in layer and its parameters in positional order.
fn signature(name: &str) -> Option<&'static [ParamSpec]> {
    use Kind::*;
    const CONV: &[ParamSpec] = &[
        req("out", Count),
        req("kernel", Hw),
        opt("stride", Hw),
        opt("padding", Padding),
        opt("dilation", Hw),
        opt("groups", Count),
        opt("bias", Bool),
        opt("flip", Bool),
        opt("in", Count),
    ];
    const DEPTHWISE: &[ParamSpec] = &[
        req("kernel", Hw),
        opt("stride", Hw),
        opt("padding", Padding),
        opt("dilation", Hw),
        opt("multiplier", Count),
        opt("bias", Bool),
        opt("flip", Bool),
    ];
    const POINTWISE: &[ParamSpec] = &[req("out", Count), opt("stride", Hw), opt("bias", Bool), opt("in", Count)];
    const MAXPOOL: &[ParamSpec] =
        &[req("kernel", Hw), opt("stride", Hw), opt("padding", Padding), opt("dilation", Hw), opt("ceil", Bool)];
    const AVGPOOL: &[ParamSpec] =
        &[req("kernel", Hw), opt("stride", Hw), opt("padding", Padding), opt("ceil", Bool), opt("count_pad", Bool)];
    const NONE: &[ParamSpec] = &[];
    const ADAPTIVE: &[ParamSpec] = &[req("size", Hw)];
    const BLURPOOL: &[ParamSpec] = &[opt("stride", Count), opt("filter", Count)];
    const LEAKY: &[ParamSpec] = &[opt("slope", SLOPE)];
    const BATCHNORM: &[ParamSpec] = &[opt("channels", Count), opt("eps", NON_NEGATIVE)];
    const DROPOUT: &[ParamSpec] = &[opt("p", PROBABILITY)];
    const DENSE: &[ParamSpec] = &[req("out", Count), opt("in", Count), opt("bias", Bool)];
    const SOFTMAX: &[ParamSpec] = &[opt("dim", Int)];
    Some(match name {
        "conv" => CONV,
        "depthwise" => DEPTHWISE,
        "pointwise" => POINTWISE,
        "maxpool" => MAXPOOL,
        "avgpool" => AVGPOOL,
        "global_avgpool" | "global_maxpool" | "relu" | "relu6" | "sigmoid" | "tanh" | "identity" | "flatten" => NONE,
        "adaptive_avgpool" => ADAPTIVE,
        "blurpool" => BLURPOOL,
        "leaky_relu" => LEAKY,
        "batchnorm" => BATCHNORM,
        "dropout" => DROPOUT,
        "dense" => DENSE,
        "softmax" => SOFTMAX,
        _ => return None,
    })
}

/// Names of every built-in layer, for "did you mean" suggestions and completion.
pub const BUILTIN_NAMES: &[&str] = &[
    "conv",
    "depthwise",
    "pointwise",
    "maxpool",
    "avgpool",
    "global_avgpool",
    "global_maxpool",
    "adaptive_avgpool",
    "blurpool",
    "relu",
    "relu6",
    "leaky_relu",
    "sigmoid",
    "tanh",
    "identity",
    "batchnorm",
    "dropout",
    "flatten",
    "dense",
    "softmax",
    "add",
    "concat",
];

pub(crate) fn is_builtin(name: &str) -> bool {
    BUILTIN_NAMES.contains(&name)
}

/// The names of a builtin's parameters, in positional order (for completion and hover).
pub fn parameter_names(op: &str) -> Vec<&'static str> {
    signature(op).map(|params| params.iter().map(|p| p.name).collect()).unwrap_or_default()
}

/// A bound argument: its value and where it was written.
#[derive(Clone, Debug)]
pub(crate) struct Bound {
    pub(crate) val: Val,
    pub(crate) span: Span,
}

/// Arguments of a call matched to parameter names: the generic part shared by built-in layers
/// and blocks. Reports unknown names (with a suggestion), duplicates and surplus positionals.
pub(crate) fn match_args<'a>(
    call: &'a Call,
    param_names: &[&str],
    what: &str,
) -> (HashMap<String, &'a Arg>, Vec<Diagnostic>) {
    let mut matched: HashMap<String, &Arg> = HashMap::new();
    let known: std::collections::HashSet<&str> = param_names.iter().copied().collect();
    let mut diagnostics = Vec::new();
    let mut position = 0;
    for arg in &call.args {
        let name = match &arg.name {
            Some(ident) => {
                if !known.contains(ident.text.as_str()) {
                    diagnostics.push(unknown_arg(&ident.text, ident.span, param_names, what));
                    continue;
                }
                ident.text.clone()
            }
            None => {
                let Some(name) = param_names.get(position) else {
                    diagnostics.push(Diagnostic::new(
                        Code::DUPLICATE_ARG,
                        format!("too many arguments for {what}: it takes at most {}", param_names.len()),
                        arg.span,
                        "surplus argument",
                    ));
                    continue;
                };
                position += 1;
                name.to_string()
            }
        };
        if let Some(previous) = matched.get(&name) {
            diagnostics.push(
                Diagnostic::new(Code::DUPLICATE_ARG, format!("`{name}` is given twice"), arg.span, "given again here")
                    .with_secondary(previous.span, "first given here"),
            );
            continue;
        }
        matched.insert(name, arg);
    }
    (matched, diagnostics)
}

fn unknown_arg(name: &str, span: Span, known: &[&str], what: &str) -> Diagnostic {
    let mut diagnostic =
        Diagnostic::new(Code::UNKNOWN_ARG, format!("{what} has no argument `{name}`"), span, "unknown argument");
    match cnn_diag::suggest::closest(name, known.iter().copied()) {
        Some(best) => {
            diagnostic = diagnostic.with_fix(Fix::replace(format!("did you mean `{best}`?"), span, best));
        }
        None if known.is_empty() => diagnostic = diagnostic.with_help(format!("{what} takes no arguments")),
        None => diagnostic = diagnostic.with_help(format!("its arguments are: {}", known.join(", "))),
    }
    diagnostic
}

/// Bind a call of a built-in layer to a typed [`Op`]. `add` and `concat` are handled by the
/// expander, since their arguments are tensors, not values.
pub(crate) fn bind_builtin(call: &Call, env: &Env) -> Result<(Op, HashMap<&'static str, Span>), Vec<Diagnostic>> {
    let name = call.callee.text.as_str();
    let params = signature(name).expect("bind_builtin is only called for builtins");
    let names: Vec<&str> = params.iter().map(|p| p.name).collect();
    let (matched, mut diagnostics) = match_args(call, &names, &format!("`{name}`"));
    let mut bound: HashMap<&'static str, Bound> = HashMap::new();
    for param in params {
        match matched.get(param.name) {
            Some(arg) => match eval_value(&arg.value, env).and_then(|val| check_kind(param, val, arg.value.span)) {
                Ok(val) => {
                    bound.insert(param.name, Bound { val, span: arg.value.span });
                }
                Err(diagnostic) => diagnostics.push(diagnostic),
            },
            None if param.required => diagnostics.push(missing_arg(call, name, param.name)),
            None => {}
        }
    }
    if !diagnostics.is_empty() {
        return Err(diagnostics);
    }
    let spans = bound.iter().map(|(name, b)| (*name, b.span)).collect();
    Ok((build_op(name, &bound), spans))
}

fn missing_arg(call: &Call, op: &str, param: &str) -> Diagnostic {
    let example = match param {
        "kernel" => "3",
        "out" => "64",
        "size" => "1",
        _ => "1",
    };
    let span = call.args_span.unwrap_or(call.callee.span);
    let mut diagnostic =
        Diagnostic::new(Code::MISSING_ARG, format!("`{op}` needs `{param}`"), span, format!("`{param}` missing"));
    diagnostic = diagnostic.with_help(format!("give it, e.g. `{param}={example}`"));
    diagnostic
}

fn check_kind(param: &ParamSpec, val: Val, span: Span) -> Result<Val, Diagnostic> {
    let bad = |what: String| {
        Diagnostic::new(Code::BAD_VALUE, format!("`{}` {what}", param.name), span, format!("{} here", val.describe()))
    };
    match (param.kind, &val) {
        (Kind::Count, Val::Int(v)) if *v >= 1 => Ok(val),
        (Kind::Count, Val::Int(_)) => Err(bad("must be at least 1".into())),
        (Kind::Hw, Val::Int(v)) if *v >= 1 => Ok(val),
        (Kind::Hw, Val::Pair(h, w)) if *h >= 1 && *w >= 1 => Ok(val),
        (Kind::Hw, Val::Tuple(items)) if items.len() == 2 && items.iter().all(|v| *v >= 1) => Ok(val),
        (Kind::Hw, Val::Int(_) | Val::Pair(..) | Val::Tuple(_)) => {
            Err(bad("must be at least 1 (an integer or `h x w`)".into()))
        }
        (Kind::Hw | Kind::Count, Val::Word(w)) => Err(unknown_word(param, w, span)),
        (Kind::Count, _) => Err(bad("must be an integer".into())),
        (Kind::Hw, _) => Err(bad("must be an integer or a pair `h x w`".into())),
        (Kind::Padding, Val::Int(v)) if *v >= 0 => Ok(val),
        (Kind::Padding, Val::Pair(h, w)) if *h >= 0 && *w >= 0 => Ok(val),
        (Kind::Padding, Val::Tuple(items)) if matches!(items.len(), 2 | 4) && items.iter().all(|v| *v >= 0) => Ok(val),
        (Kind::Padding, Val::Word(w)) if w == "same" || w == "valid" => Ok(val),
        (Kind::Padding, Val::Word(w)) => {
            Err(bad(format!("must be an integer, a pair, a 4-tuple, `same` or `valid`, not `{w}`")))
        }
        (Kind::Padding, _) => {
            Err(bad("must be ≥ 0: an integer, `(h, w)`, `(top, bottom, left, right)`, `same` or `valid`".into()))
        }
        (Kind::Bool, Val::Bool(_)) => Ok(val),
        (Kind::Bool, _) => Err(bad("must be `true` or `false`".into())),
        (Kind::Real { lo, hi, hi_open }, Val::Int(_) | Val::Float(_)) => {
            let v = match val {
                Val::Int(i) => i as f64,
                Val::Float(f) => f,
                _ => unreachable!(),
            };
            let above = if hi_open { v >= hi } else { v > hi };
            if v < lo || above || v.is_nan() {
                let range = if hi_open {
                    format!("in [{lo}, {hi})")
                } else if hi == f64::MAX {
                    "at least 0".to_string()
                } else {
                    format!("in [{lo}, {hi}]")
                };
                Err(bad(format!("must be {range}")))
            } else {
                Ok(Val::Float(v))
            }
        }
        (Kind::Real { .. }, _) => Err(bad("must be a number".into())),
        (Kind::Int, Val::Int(_)) => Ok(val),
        (Kind::Int, _) => Err(bad("must be an integer".into())),
    }
}

fn unknown_word(param: &ParamSpec, word: &str, span: Span) -> Diagnostic {
    Diagnostic::new(
        Code::UNKNOWN_TENSOR,
        format!("unknown name `{word}` as `{}`", param.name),
        span,
        "not a block parameter or a number",
    )
}

fn hw(bound: &HashMap<&'static str, Bound>, name: &str) -> Option<Hw> {
    bound.get(name).map(|b| match &b.val {
        Val::Int(v) => [*v as u64, *v as u64],
        Val::Pair(h, w) => [*h as u64, *w as u64],
        Val::Tuple(items) if items.len() == 2 => [items[0] as u64, items[1] as u64],
        _ => [1, 1],
    })
}

fn count(bound: &HashMap<&'static str, Bound>, name: &str) -> Option<u64> {
    match bound.get(name).map(|b| &b.val) {
        Some(Val::Int(v)) => Some(*v as u64),
        _ => None,
    }
}

fn flag(bound: &HashMap<&'static str, Bound>, name: &str, default: bool) -> bool {
    match bound.get(name).map(|b| &b.val) {
        Some(Val::Bool(v)) => *v,
        _ => default,
    }
}

fn real(bound: &HashMap<&'static str, Bound>, name: &str, default: f64) -> f64 {
    match bound.get(name).map(|b| &b.val) {
        Some(Val::Float(v)) => *v,
        Some(Val::Int(v)) => *v as f64,
        _ => default,
    }
}

fn padding(bound: &HashMap<&'static str, Bound>) -> Padding {
    match bound.get("padding").map(|b| &b.val) {
        Some(Val::Int(p)) => Padding::Explicit([*p as u64; 4]),
        Some(Val::Pair(h, w)) => Padding::Explicit([*h as u64, *h as u64, *w as u64, *w as u64]),
        Some(Val::Tuple(items)) if items.len() == 2 => {
            Padding::Explicit([items[0] as u64, items[0] as u64, items[1] as u64, items[1] as u64])
        }
        Some(Val::Tuple(items)) if items.len() == 4 => {
            Padding::Explicit([items[0] as u64, items[1] as u64, items[2] as u64, items[3] as u64])
        }
        Some(Val::Word(w)) if w == "same" => Padding::Same,
        _ => Padding::Explicit([0; 4]),
    }
}

fn build_op(name: &str, b: &HashMap<&'static str, Bound>) -> Op {
    let pool = |count_pad: bool| {
        let kernel = hw(b, "kernel").unwrap_or([1, 1]);
        PoolSpec {
            kernel,
            stride: hw(b, "stride").unwrap_or(kernel),
            padding: padding(b),
            dilation: hw(b, "dilation").unwrap_or([1, 1]),
            ceil: flag(b, "ceil", false),
            count_pad,
        }
    };
    let conv = |kind: ConvKind, out: u64, kernel: Hw| ConvSpec {
        kind,
        out,
        kernel,
        stride: hw(b, "stride").unwrap_or([1, 1]),
        padding: padding(b),
        dilation: hw(b, "dilation").unwrap_or([1, 1]),
        groups: count(b, "groups").unwrap_or(1),
        bias: flag(b, "bias", true),
        flip: flag(b, "flip", false),
        expect_in: count(b, "in"),
    };
    match name {
        "conv" => Op::Conv(conv(ConvKind::Conv, count(b, "out").unwrap_or(1), hw(b, "kernel").unwrap_or([1, 1]))),
        "depthwise" => {
            let multiplier = count(b, "multiplier").unwrap_or(1);
            Op::Conv(conv(ConvKind::Depthwise { multiplier }, 0, hw(b, "kernel").unwrap_or([1, 1])))
        }
        "pointwise" => Op::Conv(conv(ConvKind::Pointwise, count(b, "out").unwrap_or(1), [1, 1])),
        "maxpool" => Op::MaxPool(pool(false)),
        "avgpool" => Op::AvgPool(pool(flag(b, "count_pad", true))),
        "global_avgpool" => Op::GlobalAvgPool,
        "global_maxpool" => Op::GlobalMaxPool,
        "adaptive_avgpool" => Op::AdaptiveAvgPool(hw(b, "size").unwrap_or([1, 1])),
        "blurpool" => Op::BlurPool { stride: count(b, "stride").unwrap_or(2), filter: count(b, "filter").unwrap_or(3) },
        "relu" => Op::Relu,
        "relu6" => Op::Relu6,
        "leaky_relu" => Op::LeakyRelu(real(b, "slope", 0.01)),
        "sigmoid" => Op::Sigmoid,
        "tanh" => Op::Tanh,
        "identity" => Op::Identity,
        "batchnorm" => Op::BatchNorm { eps: real(b, "eps", 1e-5), channels: count(b, "channels") },
        "dropout" => Op::Dropout(real(b, "p", 0.5)),
        "flatten" => Op::Flatten,
        "dense" => {
            Op::Dense { out: count(b, "out").unwrap_or(1), expect_in: count(b, "in"), bias: flag(b, "bias", true) }
        }
        "softmax" => Op::Softmax {
            dim: match b.get("dim").map(|b| &b.val) {
                Some(Val::Int(v)) => *v,
                _ => 1,
            },
        },
        _ => Op::Identity,
    }
}
