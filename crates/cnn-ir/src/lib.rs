//! The tensor IR: what a backend runs. A [`Graph`] is a checked model with every dimension
//! concrete, every padding resolved and every weight tensor listed by its `state_dict` key.
//!
//! It knows nothing of syntax; nodes keep the [`cnn_diag::Span`] of the statement they came
//! from only so that later problems (a weight of the wrong shape) can point at the source.
//! [`Graph::verify`] checks the invariants backends rely on.

mod graph;
mod print;
mod verify;

pub use graph::{
    Conv2d, ExpectedParam, Graph, Node, NodeId, Op, Param, ParamId, ParamRole, Pool2d, TensorId, TensorInfo,
};
pub use verify::VerifyError;
