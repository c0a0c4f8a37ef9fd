//! The execution plan: a list of steps over slots (activation buffers), built from a graph and
//! its weights for one concrete input shape.
//!
//! Fusion follows the graph from each convolution through the nodes that are its output's only
//! reader: batch-norm (folded into the weights and bias while no activation has been applied
//! yet), identity/dropout, ReLU, ReLU6 and leaky ReLU (applied in the kernel's epilogue), and one
//! two-input add (the other operand is read in the epilogue). The fused step runs where the last
//! absorbed node ran, so the add's other operand is ready by then. A dense layer absorbs the
//! activations after it. Ops without a dedicated step run as `Fallback` (the reference
//! implementation on plain NCHW copies), so every graph has a plan.

use crate::arena;
use crate::layout::{Blocked, Layout};
use cnn_ir::{Conv2d, Graph, NodeId, Op, Pool2d, TensorId};
use std::fmt;

pub type SlotId = usize;

/// An activation buffer in the arena.
#[derive(Clone, Debug, PartialEq)]
pub struct Slot {
    pub layout: Layout,
    /// Offset in the arena, in floats.
    pub offset: usize,
    /// The graph tensor it holds (the first one, when views share it).
    pub tensor: TensorId,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Act {
    Relu,
    Relu6,
    LeakyRelu(f32),
    Sigmoid,
    Tanh,
}

impl Act {
    fn of(op: &Op) -> Option<Act> {
        Some(match *op {
            Op::Relu => Act::Relu,
            Op::Relu6 => Act::Relu6,
            Op::LeakyRelu { slope } => Act::LeakyRelu(slope),
            Op::Sigmoid => Act::Sigmoid,
            Op::Tanh => Act::Tanh,
            _ => return None,
        })
    }

    /// Whether the convolution kernels apply it in their epilogue (a compare or two).
    pub fn is_piecewise_linear(&self) -> bool {
        matches!(self, Act::Relu | Act::Relu6 | Act::LeakyRelu(_))
    }

    #[inline]
    pub fn apply(&self, v: f32) -> f32 {
        match *self {
            Act::Relu => v.max(0.0),
            Act::Relu6 => v.clamp(0.0, 6.0),
            Act::LeakyRelu(slope) => {
                if v < 0.0 {
                    v * slope
                } else {
                    v
                }
            }
            Act::Sigmoid => 1.0 / (1.0 + (-v).exp()),
            Act::Tanh => v.tanh(),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Act::Relu => "relu",
            Act::Relu6 => "relu6",
            Act::LeakyRelu(_) => "leaky_relu",
            Act::Sigmoid => "sigmoid",
            Act::Tanh => "tanh",
        }
    }
}

/// What a convolution does to its sum after the bias, in order.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Epilogue {
    Act(Act),
    /// Add the same element of this slot (same shape as the output).
    Residual(SlotId),
}

#[derive(Clone, Debug, PartialEq)]
pub struct ConvStep {
    /// Padding and flip are resolved: `weight` is OIHW as cross-correlated, pads are the conv's.
    pub conv: Conv2d,
    pub src: SlotId,
    pub dst: SlotId,
    /// `[out, in/groups, kh, kw]`, batch-norm folded in, already flipped for true convolutions.
    pub weight: Vec<f32>,
    /// One per output channel (zeros when the layer has none).
    pub bias: Vec<f32>,
    pub epilogue: Vec<Epilogue>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct DenseStep {
    pub src: SlotId,
    pub dst: SlotId,
    pub in_features: usize,
    pub out_features: usize,
    /// `[out, in]`, inputs in NCHW flatten order.
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
    pub acts: Vec<Act>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PoolKind {
    Max,
    Avg { count_pad: bool },
}

#[derive(Clone, Debug, PartialEq)]
pub enum StepKind {
    /// Graph input `input` (plain NCHW or NF) into `dst`.
    Load {
        input: usize,
        dst: SlotId,
    },
    Conv(ConvStep),
    Dense(DenseStep),
    Pool {
        kind: PoolKind,
        pool: Pool2d,
        src: SlotId,
        dst: SlotId,
    },
    GlobalPool {
        max: bool,
        src: SlotId,
        dst: SlotId,
    },
    /// Unfused batch-norm: `y = x·scale[c] + shift[c]`.
    Affine {
        src: SlotId,
        dst: SlotId,
        scale: Vec<f32>,
        shift: Vec<f32>,
    },
    Activation {
        act: Act,
        src: SlotId,
        dst: SlotId,
    },
    Add {
        srcs: Vec<SlotId>,
        dst: SlotId,
    },
    Concat {
        srcs: Vec<SlotId>,
        dst: SlotId,
    },
    /// Softmax over the features of a flat tensor.
    Softmax {
        src: SlotId,
        dst: SlotId,
    },
    /// A blocked tensor copied out in NCHW flatten order.
    Flatten {
        src: SlotId,
        dst: SlotId,
    },
    /// The reference implementation of graph node `node`, on plain copies of `srcs`.
    Fallback {
        node: NodeId,
        srcs: Vec<SlotId>,
        dst: SlotId,
    },
    /// `src` copied out as graph output `output`.
    Store {
        output: usize,
        src: SlotId,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    pub kind: StepKind,
    /// The graph nodes this step computes, in order (empty for loads and stores).
    pub nodes: Vec<NodeId>,
    /// The graph tensor the step leaves in its destination.
    pub tensor: Option<TensorId>,
}

impl Step {
    /// Slots read.
    pub fn sources(&self) -> Vec<SlotId> {
        match &self.kind {
            StepKind::Load { .. } => vec![],
            StepKind::Conv(c) => {
                let mut s = vec![c.src];
                s.extend(c.epilogue.iter().filter_map(|e| match e {
                    Epilogue::Residual(r) => Some(*r),
                    Epilogue::Act(_) => None,
                }));
                s
            }
            StepKind::Dense(d) => vec![d.src],
            StepKind::Pool { src, .. }
            | StepKind::GlobalPool { src, .. }
            | StepKind::Affine { src, .. }
            | StepKind::Activation { src, .. }
            | StepKind::Softmax { src, .. }
            | StepKind::Flatten { src, .. }
            | StepKind::Store { src, .. } => vec![*src],
            StepKind::Add { srcs, .. } | StepKind::Concat { srcs, .. } | StepKind::Fallback { srcs, .. } => {
                srcs.clone()
            }
        }
    }

    /// The slot written, if any.
    pub fn destination(&self) -> Option<SlotId> {
        match &self.kind {
            StepKind::Store { .. } => None,
            StepKind::Load { dst, .. }
            | StepKind::Pool { dst, .. }
            | StepKind::GlobalPool { dst, .. }
            | StepKind::Affine { dst, .. }
            | StepKind::Activation { dst, .. }
            | StepKind::Add { dst, .. }
            | StepKind::Concat { dst, .. }
            | StepKind::Softmax { dst, .. }
            | StepKind::Flatten { dst, .. }
            | StepKind::Fallback { dst, .. } => Some(*dst),
            StepKind::Conv(c) => Some(c.dst),
            StepKind::Dense(d) => Some(d.dst),
        }
    }
}

/// A graph lowered for execution.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub slots: Vec<Slot>,
    pub steps: Vec<Step>,
    /// Floats in the arena.
    pub arena_len: usize,
    /// Floats all activations would take without sharing.
    pub unshared_len: usize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlanError {
    /// The weights do not have one buffer per graph parameter with the right size.
    WeightsMismatch,
    /// An activation is too large to address.
    TooLarge { tensor: String },
    /// A tensor of a rank the plan does not store.
    Rank { tensor: String, rank: usize },
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlanError::WeightsMismatch => write!(f, "the weights do not belong to this graph"),
            PlanError::TooLarge { tensor } => write!(f, "tensor `{tensor}` is too large to lay out in memory"),
            PlanError::Rank { tensor, rank } => {
                write!(f, "tensor `{tensor}` has rank {rank}; only 2 and 4 are planned")
            }
        }
    }
}

impl std::error::Error for PlanError {}

/// Lower `graph` (concrete sizes) with parameter values `weights` (indexed like `graph.params`).
pub fn build(graph: &Graph, weights: &[Vec<f32>]) -> Result<Plan, PlanError> {
    let fits = weights.len() == graph.params.len()
        && weights.iter().zip(&graph.params).all(|(w, p)| w.len() == p.shape.iter().product::<usize>());
    if !fits {
        return Err(PlanError::WeightsMismatch);
    }
    let mut builder = Builder::new(graph, weights);
    builder.lower()?;
    let Builder { mut slots, steps, .. } = builder;
    add_halos(&mut slots, &steps);
    for slot in &slots {
        if let Layout::Blocked(b) = slot.layout {
            if b.checked_len().is_none_or(|len| len > 1 << 40) {
                return Err(PlanError::TooLarge { tensor: tensor_name(graph, slot.tensor) });
            }
        }
    }
    let (arena_len, unshared_len) = arena::assign(&mut slots, &steps);
    Ok(Plan { slots, steps, arena_len, unshared_len })
}

fn tensor_name(graph: &Graph, tensor: TensorId) -> String {
    graph.tensors[tensor].name.clone().unwrap_or_else(|| format!("%{tensor}"))
}

struct Builder<'g> {
    graph: &'g Graph,
    weights: &'g [Vec<f32>],
    readers: Vec<Vec<NodeId>>,
    is_output: Vec<bool>,
    slot_of: Vec<Option<SlotId>>,
    slots: Vec<Slot>,
    steps: Vec<Step>,
    absorbed: Vec<bool>,
    /// Fused steps waiting for the node at whose position they run.
    pending: Vec<Option<Step>>,
}

impl<'g> Builder<'g> {
    fn new(graph: &'g Graph, weights: &'g [Vec<f32>]) -> Self {
        let mut readers = vec![Vec::new(); graph.tensors.len()];
        for (id, node) in graph.nodes.iter().enumerate() {
            for &input in &node.inputs {
                if !readers[input].contains(&id) {
                    readers[input].push(id);
                }
            }
        }
        let mut is_output = vec![false; graph.tensors.len()];
        for &t in &graph.outputs {
            is_output[t] = true;
        }
        Builder {
            graph,
            weights,
            readers,
            is_output,
            slot_of: vec![None; graph.tensors.len()],
            slots: Vec::new(),
            steps: Vec::new(),
            absorbed: vec![false; graph.nodes.len()],
            pending: vec![None; graph.nodes.len()],
        }
    }

    fn lower(&mut self) -> Result<(), PlanError> {
        for (index, &tensor) in self.graph.inputs.iter().enumerate() {
            let dst = self.new_slot(tensor)?;
            self.steps.push(Step { kind: StepKind::Load { input: index, dst }, nodes: vec![], tensor: Some(tensor) });
        }
        for id in 0..self.graph.nodes.len() {
            if !self.absorbed[id] {
                self.lower_node(id)?;
            }
            if let Some(step) = self.pending[id].take() {
                self.steps.push(step);
            }
        }
        for (output, &tensor) in self.graph.outputs.iter().enumerate() {
            let src = self.slot(tensor);
            self.steps.push(Step { kind: StepKind::Store { output, src }, nodes: vec![], tensor: Some(tensor) });
        }
        Ok(())
    }

    fn slot(&self, tensor: TensorId) -> SlotId {
        self.slot_of[tensor].expect("graph nodes are in execution order")
    }

    fn new_slot(&mut self, tensor: TensorId) -> Result<SlotId, PlanError> {
        let shape = &self.graph.tensors[tensor].shape;
        let layout = match shape[..] {
            [batch, channels, height, width] => {
                Layout::Blocked(Blocked { batch, channels, height, width, halo: [0; 4] })
            }
            [batch, features] => Layout::Flat { batch, features },
            _ => return Err(PlanError::Rank { tensor: tensor_name(self.graph, tensor), rank: shape.len() }),
        };
        self.slots.push(Slot { layout, offset: 0, tensor });
        let id = self.slots.len() - 1;
        self.slot_of[tensor] = Some(id);
        Ok(id)
    }

    /// The node that alone reads `tensor`, if exactly one node does and it is not an output.
    fn sole_reader(&self, tensor: TensorId) -> Option<NodeId> {
        match self.readers[tensor][..] {
            [reader] if !self.is_output[tensor] && !self.absorbed[reader] => {
                // An add reading the tensor twice is not a residual of it.
                let uses = self.graph.nodes[reader].inputs.iter().filter(|&&t| t == tensor).count();
                (uses == 1).then_some(reader)
            }
            _ => None,
        }
    }

    fn params(&self, node: NodeId) -> Vec<&'g [f32]> {
        self.graph.nodes[node].params.iter().map(|&p| self.weights[p].as_slice()).collect()
    }

    fn lower_node(&mut self, id: NodeId) -> Result<(), PlanError> {
        let node = &self.graph.nodes[id];
        let src = self.slot(node.inputs[0]);
        let simple = |kind| Step { kind, nodes: vec![id], tensor: Some(node.output) };
        let step = match node.op {
            Op::Conv2d(conv) => return self.lower_conv(id, conv),
            Op::Dense { in_features, out_features, bias } => {
                return self.lower_dense(id, in_features, out_features, bias)
            }
            Op::Identity => {
                self.slot_of[node.output] = Some(src);
                return Ok(());
            }
            Op::Flatten => {
                let view = matches!(self.slots[src].layout, Layout::Flat { .. })
                    || (!self.is_output[node.output]
                        && self.readers[node.output]
                            .iter()
                            .all(|&r| matches!(self.graph.nodes[r].op, Op::Dense { .. })));
                if view {
                    self.slot_of[node.output] = Some(src);
                    return Ok(());
                }
                simple(StepKind::Flatten { src, dst: self.new_slot(node.output)? })
            }
            Op::MaxPool(pool) if self.is_blocked(src) => {
                simple(StepKind::Pool { kind: PoolKind::Max, pool, src, dst: self.new_slot(node.output)? })
            }
            Op::AvgPool { pool, count_pad } if self.is_blocked(src) => simple(StepKind::Pool {
                kind: PoolKind::Avg { count_pad },
                pool,
                src,
                dst: self.new_slot(node.output)?,
            }),
            Op::GlobalAvgPool | Op::GlobalMaxPool if self.is_blocked(src) => simple(StepKind::GlobalPool {
                max: node.op == Op::GlobalMaxPool,
                src,
                dst: self.new_slot(node.output)?,
            }),
            Op::BatchNorm { eps } if self.is_blocked(src) => {
                let (scale, shift) = batch_norm_affine(&self.params(id), eps);
                simple(StepKind::Affine { src, dst: self.new_slot(node.output)?, scale, shift })
            }
            Op::Relu | Op::Relu6 | Op::LeakyRelu { .. } | Op::Sigmoid | Op::Tanh => {
                let act = Act::of(&node.op).expect("matched an activation");
                simple(StepKind::Activation { act, src, dst: self.new_slot(node.output)? })
            }
            Op::Add if self.all_same_layout(&node.inputs) => {
                let srcs = node.inputs.iter().map(|&t| self.slot(t)).collect();
                simple(StepKind::Add { srcs, dst: self.new_slot(node.output)? })
            }
            Op::Concat if node.inputs.iter().all(|&t| self.is_blocked(self.slot(t))) => {
                let srcs = node.inputs.iter().map(|&t| self.slot(t)).collect();
                simple(StepKind::Concat { srcs, dst: self.new_slot(node.output)? })
            }
            Op::Softmax { axis: 1 } if !self.is_blocked(src) => {
                simple(StepKind::Softmax { src, dst: self.new_slot(node.output)? })
            }
            _ => {
                let srcs = node.inputs.iter().map(|&t| self.slot(t)).collect();
                simple(StepKind::Fallback { node: id, srcs, dst: self.new_slot(node.output)? })
            }
        };
        self.steps.push(step);
        Ok(())
    }

    fn is_blocked(&self, slot: SlotId) -> bool {
        matches!(self.slots[slot].layout, Layout::Blocked(_))
    }

    fn all_same_layout(&self, tensors: &[TensorId]) -> bool {
        let layouts: Vec<_> =
            tensors.iter().map(|&t| std::mem::discriminant(&self.slots[self.slot(t)].layout)).collect();
        layouts.windows(2).all(|w| w[0] == w[1])
    }

    fn lower_conv(&mut self, id: NodeId, conv: Conv2d) -> Result<(), PlanError> {
        let params = self.params(id);
        let mut weight = params[0].to_vec();
        if conv.flip {
            let taps = conv.kernel[0] * conv.kernel[1];
            for filter in weight.chunks_exact_mut(taps) {
                filter.reverse();
            }
        }
        let mut bias = if conv.bias { params[1].to_vec() } else { vec![0.0; conv.out_channels] };
        let src = self.slot(self.graph.nodes[id].inputs[0]);
        let mut nodes = vec![id];
        let mut epilogue = Vec::new();
        let mut tensor = self.graph.nodes[id].output;
        while let Some(next) = self.sole_reader(tensor) {
            let node = &self.graph.nodes[next];
            match node.op {
                Op::BatchNorm { eps } if epilogue.is_empty() => {
                    let (scale, shift) = batch_norm_affine(&self.params(next), eps);
                    let per_filter = weight.len() / conv.out_channels.max(1);
                    for (o, filter) in weight.chunks_exact_mut(per_filter.max(1)).enumerate() {
                        filter.iter_mut().for_each(|w| *w = (f64::from(*w) * f64::from(scale[o])) as f32);
                        bias[o] = (f64::from(bias[o]) * f64::from(scale[o]) + f64::from(shift[o])) as f32;
                    }
                }
                Op::Identity => {}
                Op::Relu | Op::Relu6 | Op::LeakyRelu { .. } => {
                    epilogue.push(Epilogue::Act(Act::of(&node.op).expect("an activation")));
                }
                Op::Add if node.inputs.len() == 2 && !epilogue.iter().any(|e| matches!(e, Epilogue::Residual(_))) => {
                    let other = if node.inputs[0] == tensor { node.inputs[1] } else { node.inputs[0] };
                    if self.graph.tensors[other].shape != self.graph.tensors[tensor].shape {
                        break;
                    }
                    let Some(other_slot) = self.slot_of[other] else { break };
                    epilogue.push(Epilogue::Residual(other_slot));
                }
                _ => break,
            }
            self.absorbed[next] = true;
            nodes.push(next);
            tensor = node.output;
        }
        let dst = self.new_slot(tensor)?;
        let last = *nodes.last().expect("the conv itself");
        let step = Step {
            kind: StepKind::Conv(ConvStep { conv, src, dst, weight, bias, epilogue }),
            nodes,
            tensor: Some(tensor),
        };
        self.pending[last] = Some(step);
        Ok(())
    }

    fn lower_dense(
        &mut self,
        id: NodeId,
        in_features: usize,
        out_features: usize,
        has_bias: bool,
    ) -> Result<(), PlanError> {
        let params = self.params(id);
        let weight = params[0].to_vec();
        let bias = if has_bias { params[1].to_vec() } else { vec![0.0; out_features] };
        let src = self.slot(self.graph.nodes[id].inputs[0]);
        let mut nodes = vec![id];
        let mut acts = Vec::new();
        let mut tensor = self.graph.nodes[id].output;
        while let Some(next) = self.sole_reader(tensor) {
            let node = &self.graph.nodes[next];
            match Act::of(&node.op) {
                Some(act) => acts.push(act),
                None if node.op == Op::Identity => {}
                None => break,
            }
            self.absorbed[next] = true;
            nodes.push(next);
            tensor = node.output;
        }
        let dst = self.new_slot(tensor)?;
        let kind = StepKind::Dense(DenseStep { src, dst, in_features, out_features, weight, bias, acts });
        self.steps.push(Step { kind, nodes, tensor: Some(tensor) });
        Ok(())
    }
}

/// Batch-norm as a per-channel affine map, computed in f64: `scale = γ/√(var+ε)`,
/// `shift = β − mean·scale`.
fn batch_norm_affine(params: &[&[f32]], eps: f32) -> (Vec<f32>, Vec<f32>) {
    let (gamma, beta, mean, var) = (params[0], params[1], params[2], params[3]);
    let scale: Vec<f64> =
        gamma.iter().zip(var).map(|(&g, &v)| f64::from(g) / (f64::from(v) + f64::from(eps)).sqrt()).collect();
    let shift = beta.iter().zip(mean).zip(&scale).map(|((&b, &m), &s)| (f64::from(b) - f64::from(m) * s) as f32);
    (scale.iter().map(|&s| s as f32).collect(), shift.collect())
}

/// Give every blocked slot the zero border its convolution readers need.
fn add_halos(slots: &mut [Slot], steps: &[Step]) {
    for step in steps {
        let StepKind::Conv(c) = &step.kind else { continue };
        let Layout::Blocked(out) = slots[c.dst].layout else { continue };
        let Layout::Blocked(ref mut input) = slots[c.src].layout else { continue };
        let conv = &c.conv;
        let need = |pad_before: usize, out_len: usize, stride: usize, kernel: usize, dilation: usize, len: usize| {
            let last_read =
                (out_len.saturating_sub(1) * stride + (kernel - 1) * dilation) as isize - pad_before as isize;
            (last_read - (len as isize - 1)).max(0) as usize
        };
        let bottom = need(conv.pads[0], out.height, conv.stride[0], conv.kernel[0], conv.dilation[0], input.height);
        let right = need(conv.pads[2], out.width, conv.stride[1], conv.kernel[1], conv.dilation[1], input.width);
        let wanted = [conv.pads[0], bottom, conv.pads[2], right];
        for (have, want) in input.halo.iter_mut().zip(wanted) {
            *have = (*have).max(want);
        }
    }
}
