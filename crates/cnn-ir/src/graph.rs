//! The graph types: tensors with concrete shapes, nodes with fully resolved ops, and the
//! parameters (weights) each node reads.

use cnn_diag::Span;

pub type TensorId = usize;
pub type NodeId = usize;
pub type ParamId = usize;

#[derive(Clone, Debug, PartialEq)]
pub struct Graph {
    pub name: String,
    /// The model's name in the source, for diagnostics about the model as a whole.
    pub span: Span,
    pub tensors: Vec<TensorInfo>,
    pub inputs: Vec<TensorId>,
    pub outputs: Vec<TensorId>,
    /// In execution order: every node's inputs are graph inputs or earlier nodes' outputs.
    pub nodes: Vec<Node>,
    pub params: Vec<Param>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorInfo {
    /// The name in the source, if it has one (inputs and named statements).
    pub name: Option<String>,
    /// Outermost dimension first: `[N, C, H, W]` or `[N, F]`.
    pub shape: Vec<usize>,
}

impl TensorInfo {
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// The layer's display name (its `state_dict` prefix when named).
    pub name: String,
    pub op: Op,
    pub inputs: Vec<TensorId>,
    pub output: TensorId,
    /// The parameters the op reads, in the order documented on [`Op`].
    pub params: Vec<ParamId>,
    /// The statement this node came from.
    pub span: Span,
}

/// What a parameter is, so a weights file can be matched and default values drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ParamRole {
    /// Conv `[out, in/groups, kh, kw]` or dense `[out, in]`.
    Weight,
    Bias,
    /// Batch-norm scale γ.
    BnWeight,
    /// Batch-norm shift β.
    BnBias,
    RunningMean,
    RunningVar,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    /// The `state_dict` key, e.g. `layer1.0.conv1.weight`.
    pub key: String,
    pub shape: Vec<usize>,
    pub role: ParamRole,
    /// Inputs feeding each output of the layer that owns it (PyTorch's `fan_in`), for the
    /// default initialisation.
    pub fan_in: usize,
    pub node: NodeId,
}

/// A parameter as a weights file must provide it, with the layer that reads it: what the
/// weights preflight compares a file against (available before sizes are bound).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpectedParam {
    pub key: String,
    pub shape: Vec<usize>,
    pub role: ParamRole,
    /// The layer's display name, and its statement.
    pub layer: String,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2d {
    pub in_channels: usize,
    pub out_channels: usize,
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    /// `[top, bottom, left, right]`.
    pub pads: [usize; 4],
    pub dilation: [usize; 2],
    pub groups: usize,
    pub bias: bool,
    /// True convolution: the kernel is used rotated by 180°.
    pub flip: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool2d {
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    /// `[top, bottom, left, right]`.
    pub pads: [usize; 4],
    pub dilation: [usize; 2],
    pub ceil: bool,
}

/// A fully resolved operation. Parameters (in [`Node::params`]) are: `Conv2d` weight then bias
/// (if `bias`); `Dense` weight then bias (if `bias`); `BatchNorm` γ, β, running mean, running
/// variance. Other ops have none.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Op {
    Conv2d(Conv2d),
    MaxPool(Pool2d),
    /// `count_pad`: padded zeros count in the divisor (PyTorch's `count_include_pad`).
    AvgPool {
        pool: Pool2d,
        count_pad: bool,
    },
    GlobalAvgPool,
    GlobalMaxPool,
    AdaptiveAvgPool {
        out: [usize; 2],
    },
    /// Binomial low-pass filter of `filter` taps per axis, reflect padding `pads`, then stride.
    BlurPool {
        filter: usize,
        stride: usize,
        pads: [usize; 4],
    },
    Relu,
    Relu6,
    LeakyRelu {
        slope: f32,
    },
    Sigmoid,
    Tanh,
    /// Identity and dropout (inference).
    Identity,
    BatchNorm {
        eps: f32,
    },
    Flatten,
    Dense {
        in_features: usize,
        out_features: usize,
        bias: bool,
    },
    /// Over the given axis (non-negative).
    Softmax {
        axis: usize,
    },
    Add,
    /// Along channels (axis 1).
    Concat,
}

impl Op {
    pub fn name(&self) -> &'static str {
        match self {
            Op::Conv2d(_) => "conv2d",
            Op::MaxPool(_) => "maxpool",
            Op::AvgPool { .. } => "avgpool",
            Op::GlobalAvgPool => "global_avgpool",
            Op::GlobalMaxPool => "global_maxpool",
            Op::AdaptiveAvgPool { .. } => "adaptive_avgpool",
            Op::BlurPool { .. } => "blurpool",
            Op::Relu => "relu",
            Op::Relu6 => "relu6",
            Op::LeakyRelu { .. } => "leaky_relu",
            Op::Sigmoid => "sigmoid",
            Op::Tanh => "tanh",
            Op::Identity => "identity",
            Op::BatchNorm { .. } => "batchnorm",
            Op::Flatten => "flatten",
            Op::Dense { .. } => "dense",
            Op::Softmax { .. } => "softmax",
            Op::Add => "add",
            Op::Concat => "concat",
        }
    }
}

impl Graph {
    pub fn shape(&self, tensor: TensorId) -> &[usize] {
        &self.tensors[tensor].shape
    }

    /// The parameters with the layers that read them, for the weights preflight.
    pub fn expected_params(&self) -> Vec<ExpectedParam> {
        self.params
            .iter()
            .map(|p| ExpectedParam {
                key: p.key.clone(),
                shape: p.shape.clone(),
                role: p.role,
                layer: self.nodes[p.node].name.clone(),
                span: self.nodes[p.node].span,
            })
            .collect()
    }

    /// The graph with the batch dimension of every tensor replaced (inputs and activations all
    /// carry the batch first). Parameters do not depend on it.
    pub fn with_batch(&self, batch: usize) -> Graph {
        let mut graph = self.clone();
        for tensor in &mut graph.tensors {
            if let Some(first) = tensor.shape.first_mut() {
                *first = batch;
            }
        }
        graph
    }
}
