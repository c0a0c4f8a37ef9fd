//! From a checked graph with concrete sizes to an execution plan: the stage between the IR and
//! code generation.
//!
//! - [`layout`]: how activations are stored. Image tensors use a channel-blocked layout (NCHW4c:
//!   four channels side by side, so one f32x4 vector holds one pixel of four channels) with a
//!   zero halo wide enough for every convolution that reads them, so kernels never branch on
//!   padding. Feature vectors are plain `[N, F]`.
//! - [`plan`]: the steps. Batch-norm is folded into the preceding convolution, dropout and
//!   identity disappear, a convolution absorbs its bias, batch-norm, activations and one
//!   residual add, and flatten is a view when only dense layers read it.
//! - [`arena`]: every activation gets an offset in one arena; buffers whose lifetimes do not
//!   overlap share memory.
//!
//! Nothing here generates code or touches raw memory: the plan is data that the JIT compiles and
//! that tests can inspect.

pub mod arena;
pub mod layout;
pub mod plan;

pub use layout::{Blocked, Layout, LANES};
pub use plan::{build, Act, ConvStep, DenseStep, Epilogue, Plan, PlanError, PoolKind, Slot, SlotId, Step, StepKind};
