//! Lowering: a checked model whose shapes are all concrete becomes a [`cnn_ir::Graph`].
//!
//! Everything a backend needs is resolved here: padding (`same` → numbers), depthwise channel
//! counts, softmax axes, and the `state_dict` key and role of every parameter. The model must
//! have checked without errors; `lower` refuses anything else rather than guess.

use crate::dim::Dim;
use crate::graph::{CheckedModel, Layer};
use crate::ops::{ConvKind, Op};
use cnn_ir::{Conv2d, Graph, Node, Param, ParamRole, Pool2d, TensorInfo};

/// Why a model could not be lowered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LowerError {
    /// A layer has an error or an unknown shape.
    Broken { layer: String },
    /// A size is still symbolic; bind it (from the input, or `--dim`).
    Symbolic { tensor: String, shape: String },
    /// A size does not fit in this machine's `usize`.
    TooLarge,
}

impl std::fmt::Display for LowerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LowerError::Broken { layer } => write!(f, "layer `{layer}` has errors"),
            LowerError::Symbolic { tensor, shape } => write!(f, "`{tensor}` has the symbolic shape {shape}"),
            LowerError::TooLarge => write!(f, "a size does not fit in memory addresses"),
        }
    }
}

impl std::error::Error for LowerError {}

pub fn lower(model: &CheckedModel) -> Result<Graph, LowerError> {
    let mut tensors = Vec::with_capacity(model.tensors.len());
    for tensor in &model.tensors {
        let shape = tensor.shape.as_ref().ok_or_else(|| LowerError::Broken {
            layer: tensor.name.clone().unwrap_or_else(|| "an unnamed tensor".into()),
        })?;
        let concrete: Option<Vec<usize>> =
            shape.iter().map(|d| d.known().and_then(|v| usize::try_from(v).ok())).collect();
        let concrete = concrete.ok_or_else(|| LowerError::Symbolic {
            tensor: tensor.name.clone().unwrap_or_else(|| "a tensor".into()),
            shape: format!("[{}]", shape.iter().map(Dim::to_string).collect::<Vec<_>>().join(", ")),
        })?;
        tensors.push(TensorInfo { name: tensor.name.clone(), shape: concrete });
    }
    let mut graph = Graph {
        name: model.name.clone(),
        span: model.name_span,
        tensors,
        inputs: model.inputs.clone(),
        outputs: model.outputs.clone(),
        nodes: Vec::with_capacity(model.layers.len()),
        params: Vec::new(),
    };
    for layer in &model.layers {
        if !layer.info.ok {
            return Err(LowerError::Broken { layer: layer.display_name() });
        }
        let node_id = graph.nodes.len();
        let input_shape = graph.tensors[layer.inputs[0]].shape.clone();
        let op = lower_op(layer, &input_shape);
        let fan_in = match op {
            cnn_ir::Op::Conv2d(c) => c.in_channels / c.groups * c.kernel[0] * c.kernel[1],
            cnn_ir::Op::Dense { in_features, .. } => in_features,
            _ => 0,
        };
        let mut params = Vec::new();
        for (suffix, shape) in &layer.info.weights {
            let role = param_role(&layer.op, suffix);
            let shape: Option<Vec<usize>> = shape.iter().map(|v| usize::try_from(*v).ok()).collect();
            params.push(graph.params.len());
            graph.params.push(Param {
                key: param_key(layer, suffix),
                shape: shape.ok_or(LowerError::TooLarge)?,
                role,
                fan_in,
                node: node_id,
            });
        }
        graph.nodes.push(Node {
            name: layer.display_name(),
            op,
            inputs: layer.inputs.clone(),
            output: layer.output,
            params,
            span: layer.span,
        });
    }
    Ok(graph)
}

/// The weight tensors a model needs, with the layers that read them. Parameter shapes depend
/// only on channel counts, which are always concrete, so this works before input sizes are
/// bound (`cnnc check --weights`).
pub fn expected_params(model: &CheckedModel) -> Vec<cnn_ir::ExpectedParam> {
    let mut out = Vec::new();
    for layer in model.layers.iter().filter(|l| l.info.ok) {
        for (suffix, shape) in &layer.info.weights {
            out.push(cnn_ir::ExpectedParam {
                key: param_key(layer, suffix),
                shape: shape.iter().map(|v| u(*v)).collect(),
                role: param_role(&layer.op, suffix),
                layer: layer.display_name(),
                span: layer.span,
            });
        }
    }
    out
}

/// `layer2.0.conv1.weight`; an anonymous layer gets its display name, which no `state_dict`
/// holds (the weights preflight says so).
pub fn param_key(layer: &Layer, suffix: &str) -> String {
    if layer.path.is_empty() {
        format!("{}.{suffix}", layer.display_name())
    } else if layer.named {
        format!("{}.{suffix}", layer.path)
    } else {
        format!("{}.{suffix}", layer.display_name())
    }
}

/// What a layer's weight tensor is, from the layer and the key's last part.
pub fn param_role(op: &Op, suffix: &str) -> ParamRole {
    match (op, suffix) {
        (Op::BatchNorm { .. }, "weight") => ParamRole::BnWeight,
        (Op::BatchNorm { .. }, "bias") => ParamRole::BnBias,
        (_, "running_mean") => ParamRole::RunningMean,
        (_, "running_var") => ParamRole::RunningVar,
        (_, "bias") => ParamRole::Bias,
        _ => ParamRole::Weight,
    }
}

fn u(v: u64) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

fn hw(v: [u64; 2]) -> [usize; 2] {
    [u(v[0]), u(v[1])]
}

fn pads(layer: &Layer) -> [usize; 4] {
    layer.info.padding.map(|p| [u(p[0]), u(p[1]), u(p[2]), u(p[3])]).unwrap_or([0; 4])
}

fn lower_op(layer: &Layer, input: &[usize]) -> cnn_ir::Op {
    use cnn_ir::Op as Ir;
    match layer.op {
        Op::Conv(spec) => {
            let in_channels = input[1];
            let (out_channels, groups) = match spec.kind {
                ConvKind::Depthwise { multiplier } => (in_channels * u(multiplier), in_channels),
                _ => (u(spec.out), u(spec.groups)),
            };
            Ir::Conv2d(Conv2d {
                in_channels,
                out_channels,
                kernel: hw(spec.kernel),
                stride: hw(spec.stride),
                pads: pads(layer),
                dilation: hw(spec.dilation),
                groups,
                bias: spec.bias,
                flip: spec.flip,
            })
        }
        Op::MaxPool(spec) | Op::AvgPool(spec) => {
            let pool = Pool2d {
                kernel: hw(spec.kernel),
                stride: hw(spec.stride),
                pads: pads(layer),
                dilation: hw(spec.dilation),
                ceil: spec.ceil,
            };
            if matches!(layer.op, Op::MaxPool(_)) {
                Ir::MaxPool(pool)
            } else {
                Ir::AvgPool { pool, count_pad: spec.count_pad }
            }
        }
        Op::GlobalAvgPool => Ir::GlobalAvgPool,
        Op::GlobalMaxPool => Ir::GlobalMaxPool,
        Op::AdaptiveAvgPool(size) => Ir::AdaptiveAvgPool { out: hw(size) },
        Op::BlurPool { stride, filter } => Ir::BlurPool { filter: u(filter), stride: u(stride), pads: pads(layer) },
        Op::Relu => Ir::Relu,
        Op::Relu6 => Ir::Relu6,
        Op::LeakyRelu(slope) => Ir::LeakyRelu { slope: slope as f32 },
        Op::Sigmoid => Ir::Sigmoid,
        Op::Tanh => Ir::Tanh,
        Op::Identity | Op::Dropout(_) => Ir::Identity,
        Op::BatchNorm { eps, .. } => Ir::BatchNorm { eps: eps as f32 },
        Op::Flatten => Ir::Flatten,
        Op::Dense { out, bias, .. } => Ir::Dense { in_features: input[1], out_features: u(out), bias },
        Op::Softmax { dim } => {
            let rank = input.len() as i64;
            Ir::Softmax { axis: u(dim.rem_euclid(rank.max(1)) as u64) }
        }
        Op::Add => Ir::Add,
        Op::Concat => Ir::Concat,
    }
}
