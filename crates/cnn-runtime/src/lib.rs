//! Running a [`cnn_ir::Graph`]: binding weights to its parameters and executing it.
//!
//! - [`weights`]: a weights file matched against the graph (the preflight: every missing,
//!   unexpected or misshapen tensor as a diagnostic on the layer's source line), or default
//!   values drawn as PyTorch draws them.
//! - [`reference`]: the reference backend, plain loops that follow the definitions. It is the
//!   oracle every optimised kernel is tested against, so it favours clarity over speed; it
//!   accumulates in f64.

pub mod reference;
pub mod weights;

pub use cnn_io::HostTensor;
pub use weights::{preflight, preflight_expected, Weights};

use std::fmt;

/// Why a graph could not run on the given inputs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunError {
    /// The number of inputs differs from the graph's.
    InputCount { expected: usize, got: usize },
    /// An input's shape differs from the declared (bound) shape.
    InputShape { index: usize, expected: Vec<usize>, got: Vec<usize> },
    /// The weights were made for another graph.
    WeightsMismatch,
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::InputCount { expected, got } => write!(f, "the model takes {expected} inputs, {got} given"),
            RunError::InputShape { index, expected, got } => {
                write!(f, "input {index} has shape {got:?}, the model expects {expected:?}")
            }
            RunError::WeightsMismatch => write!(f, "the weights do not belong to this graph"),
        }
    }
}

impl std::error::Error for RunError {}
