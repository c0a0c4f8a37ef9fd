//! ONNX interchange: [`import`] turns an ONNX model into a readable `.cnn` file plus the weights
//! its layers expect, and [`export`] turns a lowered [`cnn_ir::Graph`] and its weights into an
//! ONNX model (opset 17) that ONNX Runtime runs.
//!
//! - [`proto`]: ONNX's protobuf messages, generated once from the vendored schema.
//! - `tensor`: constant tensors (initialisers, folded values), decoded with every declared size
//!   checked against the bytes present before anything is allocated.
//! - `fold`: nodes that only compute constants (`Constant`, `Shape` → `Gather` → `Concat`, ...).
//! - `import` and `layers`: the graph walk and the node → layer translation.
//! - `emit`: the `.cnn` text, verified by checking it before it is returned.
//! - `export`: the IR graph as ONNX nodes and initialisers.
//!
//! Nothing here reads files or prints: callers pass bytes and get bytes or text back. Bad input
//! is an error value, never a panic.

mod attrs;
mod emit;
mod export;
mod fold;
mod import;
mod layers;
pub mod proto;
mod tensor;

pub use export::{export, ExportOptions};
pub use import::{import, Imported, NamedTensor};

use std::fmt;

/// Why an ONNX file could not be imported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImportError {
    /// The bytes are not an ONNX model, or the model is inconsistent (a missing initialiser, a
    /// tensor whose data does not match its dimensions, a value used before it is computed).
    Malformed(String),
    /// Nodes cnnc has no layer for, every one of them.
    Unsupported(Vec<UnsupportedNode>),
    /// The translation does not check as a `.cnn` model (a limit of the language, such as
    /// pooling padding above half the kernel); the checker's messages.
    Unrepresentable(Vec<String>),
}

/// One node that cannot be imported, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnsupportedNode {
    pub name: String,
    pub op_type: String,
    pub reason: String,
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImportError::Malformed(detail) => write!(f, "not a valid ONNX model: {detail}"),
            ImportError::Unsupported(nodes) => {
                let plural = if nodes.len() == 1 { "" } else { "s" };
                write!(f, "{} node{plural} cannot be imported:", nodes.len())?;
                for node in nodes {
                    write!(f, "\n  - `{}` ({}): {}", node.name, node.op_type, node.reason)?;
                }
                Ok(())
            }
            ImportError::Unrepresentable(messages) => {
                write!(f, "the model cannot be written as a .cnn file:")?;
                for message in messages {
                    write!(f, "\n  - {message}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for ImportError {}

/// Why a graph could not be exported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExportError {
    /// A layer ONNX has no exact equivalent for; says which and why.
    Unsupported { layer: String, reason: String },
    /// The weights do not belong to the graph.
    WeightsMismatch,
}

impl fmt::Display for ExportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExportError::Unsupported { layer, reason } => write!(f, "cannot export `{layer}`: {reason}"),
            ExportError::WeightsMismatch => write!(f, "the weights do not belong to this model"),
        }
    }
}

impl std::error::Error for ExportError {}
