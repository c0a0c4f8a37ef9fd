//! The checked model: blocks expanded, names resolved, every layer with its hierarchical name,
//! its typed op, its input tensors and (after inference) its output shape and costs.
//!
//! This is what later stages consume. Shapes are `None` where the checker could not know them
//! (a broken layer upstream); every layer with a shape passed all its checks.

use crate::dim::Dim;
use crate::ops::Op;
use cnn_diag::Span;

pub type TensorId = usize;
pub type LayerId = usize;

/// A tensor shape, outermost dimension first (NCHW or NF).
pub type Shape = Vec<Dim>;

#[derive(Clone, Debug)]
pub struct CheckedModel {
    pub name: String,
    /// The whole `model { ... }` item.
    pub span: Span,
    /// The model's name where it is declared.
    pub name_span: Span,
    pub inputs: Vec<TensorId>,
    pub outputs: Vec<TensorId>,
    pub tensors: Vec<Tensor>,
    pub layers: Vec<Layer>,
    /// Input sizes the network accepts, one line per symbol (e.g. `H ≥ 32 and H ≡ 0 (mod 32)`).
    pub accepted_sizes: Vec<SizeReport>,
    /// Warning codes silenced for the whole model (file and model `@allow`).
    pub allow: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct Tensor {
    /// The name it can be referred to by (statement name or input name), if any.
    pub name: Option<String>,
    pub shape: Option<Shape>,
    pub producer: Option<LayerId>,
    /// Where it is defined: the input declaration or the statement.
    pub span: Span,
    /// Receptive field of one output element (height, width) and the effective stride, in input
    /// pixels; `None` when it covers the whole input (after flatten or global pooling).
    pub receptive: Option<Receptive>,
    /// For inputs: warning codes silenced by `@allow` on the declaration.
    pub allow: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Receptive {
    pub field: [u64; 2],
    pub stride: [u64; 2],
}

#[derive(Clone, Debug)]
pub struct Layer {
    /// The `state_dict` prefix (`layer2.0.downsample.0`); for anonymous layers, the prefix of
    /// the enclosing group or block instance (possibly empty) and `named` is false.
    pub path: String,
    pub named: bool,
    pub op: Op,
    pub inputs: Vec<TensorId>,
    pub output: TensorId,
    /// The whole statement.
    pub span: Span,
    /// The layer name in the call (`conv`).
    pub callee_span: Span,
    /// The parenthesised argument list, if written.
    pub args_span: Option<Span>,
    /// Where each argument was written, by parameter name.
    pub arg_spans: Vec<(&'static str, Span)>,
    /// Block instantiations this layer came from, innermost first: where each was written.
    pub instantiated_at: Vec<Span>,
    /// Warning codes silenced for this layer by `@allow` on it or anything enclosing it.
    pub allow: Vec<String>,
    /// The call could not be bound (bad arguments); the op is a stand-in and the output unknown.
    pub unbound: bool,
    /// Filled in by inference.
    pub info: LayerInfo,
}

/// What inference learned about a layer.
#[derive(Clone, Debug, Default)]
pub struct LayerInfo {
    /// False when this layer has an error or an input of unknown shape.
    pub ok: bool,
    /// Whether this layer itself has an error (as opposed to an unknown input).
    pub broken: bool,
    /// Resolved padding `[top, bottom, left, right]` for conv and pooling layers.
    pub padding: Option<[u64; 4]>,
    pub params: u64,
    /// Running statistics of batch-norm (not trained, but stored in a `state_dict`).
    pub buffers: u64,
    /// Multiply-accumulates for one sample; `None` when it depends on symbolic sizes.
    pub macs: Option<u64>,
    /// The weight tensors this layer expects, `(suffix, shape)`, e.g. `("weight", [64, 3, 7, 7])`.
    pub weights: Vec<(&'static str, Vec<u64>)>,
}

impl Layer {
    pub fn arg_span(&self, name: &str) -> Option<Span> {
        self.arg_spans.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
    }

    /// The name shown in tables: the path, plus the op for anonymous layers.
    pub fn display_name(&self) -> String {
        if self.named {
            self.path.clone()
        } else if self.path.is_empty() {
            format!("({})", self.op.name())
        } else {
            format!("{}.({})", self.path, self.op.name())
        }
    }
}

/// The accepted input sizes for one symbol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SizeReport {
    pub symbol: String,
    /// Sizes for which every layer is valid, e.g. `H ≥ 32`.
    pub accepted: String,
    /// Sizes for which additionally no window drops rows, if that is a narrower set.
    pub exact: Option<String>,
}
