//! The JIT backend: an execution plan ([`cnn_opt::Plan`]) compiled to machine code with
//! Cranelift, and run on one arena of activations.
//!
//! - [`codegen`]: kernel specifications and their Cranelift emitters (direct and depthwise
//!   convolution with fused epilogues), and the per-model cache that compiles each distinct
//!   kernel once.
//! - `host`: the steps that stay in Rust (pooling, dense, element-wise, conversions).
//! - `runtime`: the one module with `unsafe`: calling generated code on checked buffers.
//!
//! [`compile`] assumes a graph the checker accepted, with concrete sizes; [`Executable::run`]
//! checks its inputs like the reference backend does and gives the same outputs up to
//! floating-point rounding (the order of additions differs, and batch-norm is folded).

pub mod codegen;
mod host;
mod runtime;
mod winograd;

use cnn_io::HostTensor;
use cnn_ir::Graph;
use cnn_opt::{Blocked, Epilogue, Layout, Plan, PlanError, Step, StepKind, LANES};
use cnn_runtime::{reference, RunError, Weights};
use codegen::conv::{ConvSpec, EpiOp};
use codegen::depthwise::DepthwiseSpec;
use codegen::{CodeCache, CodegenError, CodegenOptions, Extent, KernelFn, KernelSpec};
use cranelift_module::FuncId;
use std::fmt;

pub use codegen::CodegenOptions as JitOptions;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JitError {
    Plan(PlanError),
    Codegen(CodegenError),
}

impl fmt::Display for JitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JitError::Plan(e) => e.fmt(f),
            JitError::Codegen(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for JitError {}

/// How one plan step is carried out.
enum Work {
    Kernel {
        func: FuncId,
        entry: Option<KernelFn>,
        tasks: usize,
        extents: [Extent; 5],
        weight: Vec<f32>,
        bias: Vec<f32>,
        macs: u64,
        what: String,
    },
    Winograd(Box<WinogradWork>),
    HostConv,
    Dense {
        packed: Vec<f32>,
    },
    Host,
}

/// A Winograd convolution: the 36 matrix products share one kernel; `v` and `m` are its
/// scratch buffers (transformed inputs and products).
struct WinogradWork {
    func: FuncId,
    entry: Option<KernelFn>,
    tasks: usize,
    extents: [Extent; 5],
    /// `U[p]`, packed for the kernel.
    packed: Vec<Vec<f32>>,
    zero_bias: Vec<f32>,
    bias: Vec<f32>,
    geometry: winograd::Geometry,
    v: Vec<f32>,
    m: Vec<f32>,
    macs: u64,
}

/// A compiled model: run it as often as needed.
pub struct Executable {
    graph: Graph,
    weights: Weights,
    plan: Plan,
    work: Vec<Work>,
    arena: Vec<f32>,
    /// Distinct kernels compiled, and layers that reused one.
    pub kernels_compiled: usize,
    pub kernels_reused: usize,
    /// Where compilation spent its time.
    pub phases: Vec<(&'static str, std::time::Duration)>,
    // Owns the generated code the entry points in `work` point into.
    _code: CodeCache,
}

/// Work that runs in parallel only above this many multiply-adds (below it, handing tasks to
/// other threads costs more than it saves).
const PARALLEL_MACS: u64 = 300_000;

/// Compile `graph` (concrete sizes, as the checker lowered it) with `weights`.
pub fn compile(graph: &Graph, weights: &Weights, options: CodegenOptions) -> Result<Executable, JitError> {
    let start = std::time::Instant::now();
    let plan = cnn_opt::build(graph, &weights.values).map_err(JitError::Plan)?;
    let planned = start.elapsed();
    let mut cache = CodeCache::new(options).map_err(JitError::Codegen)?;
    let mut work = Vec::with_capacity(plan.steps.len());
    for step in &plan.steps {
        let lowered = match &step.kind {
            StepKind::Conv(c) if options.winograd && winograd_fits(&c.conv) => lower_winograd(&plan, c, &mut cache),
            _ => lower_step(&plan, step, &mut cache),
        };
        work.push(lowered.map_err(JitError::Codegen)?);
    }
    let lowered = start.elapsed();
    let entries = cache.finalize().map_err(JitError::Codegen)?;
    for w in &mut work {
        match w {
            Work::Kernel { func, entry, .. } => *entry = entries.get(func).copied(),
            Work::Winograd(wino) => wino.entry = entries.get(&wino.func).copied(),
            _ => {}
        }
    }
    let arena = vec![0.0; plan.arena_len];
    let (kernels_compiled, kernels_reused) = (cache.misses, cache.hits);
    let phases = vec![
        ("plan (fold, fuse, lay out)", planned),
        ("weight packing", (lowered - planned).saturating_sub(cache.codegen_time)),
        ("code generation", cache.codegen_time),
        ("finalize code", start.elapsed() - lowered),
    ];
    Ok(Executable {
        phases,
        graph: graph.clone(),
        weights: weights.clone(),
        plan,
        work,
        arena,
        kernels_compiled,
        kernels_reused,
        _code: cache,
    })
}

fn blocked(plan: &Plan, slot: usize) -> Blocked {
    match plan.slots[slot].layout {
        Layout::Blocked(b) => b,
        Layout::Flat { .. } => unreachable!("convolutions read and write blocked tensors"),
    }
}

/// Output blocks and pixels per tile for a direct convolution: as many accumulators as fit the
/// sixteen vector registers next to the weights and the broadcast input.
fn tile_shape(blocks_per_group: usize) -> (usize, usize) {
    if blocks_per_group.is_multiple_of(3) {
        (3, 4)
    } else if blocks_per_group.is_multiple_of(2) {
        (2, 6)
    } else {
        (1, 8)
    }
}

/// 3×3, stride 1, no dilation, not grouped, and enough channels that the matrix products
/// dominate the transforms.
fn winograd_fits(conv: &cnn_ir::Conv2d) -> bool {
    conv.kernel == [3, 3]
        && conv.stride == [1, 1]
        && conv.dilation == [1, 1]
        && conv.groups == 1
        && conv.in_channels >= 16
        && conv.out_channels >= 16
}

fn lower_winograd(plan: &Plan, c: &cnn_opt::ConvStep, cache: &mut CodeCache) -> Result<Work, CodegenError> {
    let conv = &c.conv;
    let (src, dst) = (blocked(plan, c.src), blocked(plan, c.dst));
    let geometry = winograd::Geometry::new(src, dst, [conv.pads[0], conv.pads[2]]);
    let tiles = geometry.tiles();
    let positions = winograd::T * winograd::T;
    // One position's slice of V or M: a blocked tensor of one row of `tiles` pixels whose
    // block stride spans all 36 positions (expressed as 35 rows of bottom halo).
    let row = |channels: usize| Blocked { batch: 1, channels, height: 1, width: tiles, halo: [0, positions - 1, 0, 0] };
    let (gemm_src, gemm_dst) = (row(conv.in_channels), row(conv.out_channels));
    let (ocb, rx) = tile_shape(gemm_dst.blocks());
    let spec = ConvSpec {
        groups: 1,
        in_per_group: conv.in_channels,
        blocks_per_group: gemm_dst.blocks(),
        kernel: [1, 1],
        stride: [1, 1],
        dilation: [1, 1],
        pad: [0, 0],
        src: gemm_src,
        dst: gemm_dst,
        res: None,
        epilogue: Vec::new(),
        ocb,
        rx,
    };
    let u = winograd::transform_weights(&c.weight, conv.out_channels, conv.in_channels);
    let packed = winograd::pack_products(&u, &spec, conv.out_channels);
    let zero_bias = vec![0.0; gemm_dst.blocks() * LANES];
    let mut bias = c.bias.clone();
    bias.resize(dst.blocks() * LANES, 0.0);
    let v = vec![0.0; gemm_src.len()];
    let m = vec![0.0; gemm_dst.len()];
    // The last position's slices are the shortest.
    let last = (positions - 1) * tiles * LANES;
    let (func, extents) = cache.get(&spec, [v.len() - last, packed[0].len(), zero_bias.len(), 0, m.len() - last])?;
    let macs = (dst.batch * dst.height * dst.width * conv.out_channels * conv.in_channels * 9) as u64;
    let tasks = spec.tasks();
    Ok(Work::Winograd(Box::new(WinogradWork {
        func,
        entry: None,
        tasks,
        extents,
        packed,
        zero_bias,
        bias,
        geometry,
        v,
        m,
        macs,
    })))
}

fn lower_step(plan: &Plan, step: &Step, cache: &mut CodeCache) -> Result<Work, CodegenError> {
    match &step.kind {
        StepKind::Conv(c) => {
            let conv = &c.conv;
            let (src, dst) = (blocked(plan, c.src), blocked(plan, c.dst));
            let mut res = None;
            let epilogue: Vec<EpiOp> = c
                .epilogue
                .iter()
                .map(|e| match *e {
                    Epilogue::Act(cnn_opt::Act::Relu) => EpiOp::Relu,
                    Epilogue::Act(cnn_opt::Act::Relu6) => EpiOp::Relu6,
                    Epilogue::Act(cnn_opt::Act::LeakyRelu(s)) => EpiOp::Leaky(s),
                    Epilogue::Act(a) => unreachable!("the plan fuses only piecewise-linear activations, not {a:?}"),
                    Epilogue::Residual(slot) => {
                        res = Some(blocked(plan, slot));
                        EpiOp::Residual
                    }
                })
                .collect();
            let (in_g, out_g) = (conv.in_channels / conv.groups, conv.out_channels / conv.groups);
            let macs = (dst.batch * dst.height * dst.width * conv.out_channels * in_g * conv.kernel[0] * conv.kernel[1])
                as u64;
            let pad = [conv.pads[0], conv.pads[2]];
            let kernel: (Box<dyn KernelSpec>, usize, Vec<f32>, String) = if conv.groups > 1 && in_g == 1 && out_g == 1 {
                let spec = DepthwiseSpec {
                    kernel: conv.kernel,
                    stride: conv.stride,
                    dilation: conv.dilation,
                    pad,
                    src,
                    dst,
                    res,
                    epilogue,
                    rx: 4,
                };
                let packed = spec.pack_weights(&c.weight, conv.out_channels);
                (
                    Box::new(spec.clone()),
                    spec.tasks(),
                    packed,
                    format!("depthwise {}×{} (jit)", conv.kernel[0], conv.kernel[1]),
                )
            } else if conv.groups == 1 || (in_g % LANES == 0 && out_g % LANES == 0) {
                let blocks_per_group = dst.blocks() / conv.groups;
                let (ocb, rx) = tile_shape(blocks_per_group);
                let spec = ConvSpec {
                    groups: conv.groups,
                    in_per_group: in_g,
                    blocks_per_group,
                    kernel: conv.kernel,
                    stride: conv.stride,
                    dilation: conv.dilation,
                    pad,
                    src,
                    dst,
                    res,
                    epilogue,
                    ocb,
                    rx,
                };
                let packed = spec.pack_weights(&c.weight, conv.out_channels);
                let what = format!("conv {}×{} (jit, {}×{} tile)", conv.kernel[0], conv.kernel[1], ocb * LANES, rx);
                (Box::new(spec.clone()), spec.tasks(), packed, what)
            } else {
                return Ok(Work::HostConv);
            };
            let (spec, tasks, weight, what) = kernel;
            let mut bias = c.bias.clone();
            bias.resize(dst.blocks() * LANES, 0.0);
            let lens = [src.len(), weight.len(), bias.len(), res.map_or(0, |r| r.len()), dst.len()];
            let (func, extents) = cache.get(spec.as_ref(), lens)?;
            Ok(Work::Kernel { func, entry: None, tasks, extents, weight, bias, macs, what })
        }
        StepKind::Dense(d) => {
            Ok(Work::Dense { packed: host::pack_dense(&d.weight, d.out_features, &plan.slots[d.src].layout) })
        }
        _ => Ok(Work::Host),
    }
}

/// One step of a compiled model, for reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepInfo {
    /// The layers it computes, e.g. `layer1.0.conv2 + bn2 + add + relu`.
    pub layers: Vec<String>,
    /// How it runs, e.g. `conv 3×3 (jit, 8×6 tile)`.
    pub how: String,
    /// Multiply-adds of its convolution or dense layer.
    pub macs: u64,
}

impl Executable {
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// Bytes of the activation arena, and what the activations would take unshared.
    pub fn arena_bytes(&self) -> (usize, usize) {
        (self.plan.arena_len * 4, self.plan.unshared_len * 4)
    }

    pub fn steps(&self) -> Vec<StepInfo> {
        self.plan
            .steps
            .iter()
            .zip(&self.work)
            .map(|(step, work)| {
                let layers = step.nodes.iter().map(|&n| self.graph.nodes[n].name.clone()).collect();
                let (how, macs) = match (work, &step.kind) {
                    (Work::Kernel { what, macs, .. }, _) => (what.clone(), *macs),
                    (Work::HostConv, _) => ("conv (grouped, plain loops)".to_string(), 0),
                    (Work::Winograd(w), _) => ("conv 3×3 (Winograd F(4×4,3×3))".to_string(), w.macs),
                    (Work::Dense { .. }, StepKind::Dense(d)) => {
                        ("dense".to_string(), (d.in_features * d.out_features * self.batch()) as u64)
                    }
                    (_, kind) => (host_name(kind).to_string(), 0),
                };
                StepInfo { layers, how, macs }
            })
            .collect()
    }

    fn batch(&self) -> usize {
        self.graph.inputs.first().map_or(1, |&t| self.graph.tensors[t].shape[0])
    }

    pub fn run(&mut self, inputs: &[HostTensor]) -> Result<Vec<HostTensor>, RunError> {
        self.run_observed(inputs, |_, _| {})
    }

    /// Run, calling `observe(step, plain values)` after each step that computes a graph tensor
    /// (the values in NCHW / NF order), e.g. to compare layers with the reference backend or to
    /// time them. Values are only materialised when `observe` asks for them via the closure.
    pub fn run_observed(
        &mut self,
        inputs: &[HostTensor],
        mut observe: impl FnMut(usize, &dyn Fn() -> Vec<f32>),
    ) -> Result<Vec<HostTensor>, RunError> {
        if inputs.len() != self.graph.inputs.len() {
            return Err(RunError::InputCount { expected: self.graph.inputs.len(), got: inputs.len() });
        }
        for (index, (&id, tensor)) in self.graph.inputs.iter().zip(inputs).enumerate() {
            if tensor.shape != self.graph.tensors[id].shape {
                return Err(RunError::InputShape {
                    index,
                    expected: self.graph.tensors[id].shape.clone(),
                    got: tensor.shape.clone(),
                });
            }
        }
        let mut outputs = vec![HostTensor::new(vec![0], vec![]); self.graph.outputs.len()];
        for index in 0..self.plan.steps.len() {
            self.execute(index, inputs, &mut outputs);
            if let Some(dst) = self.plan.steps[index].destination() {
                let slot = &self.plan.slots[dst];
                let data = &self.arena[slot.offset..slot.offset + slot.layout.len()];
                observe(index, &|| slot.layout.to_plain(data));
            }
        }
        Ok(outputs)
    }

    fn execute(&mut self, index: usize, inputs: &[HostTensor], outputs: &mut [HostTensor]) {
        let step = &self.plan.steps[index];
        let slots = &self.plan.slots;
        let range = |s: usize| slots[s].offset..slots[s].offset + slots[s].layout.len();
        let srcs: Vec<_> = step.sources().into_iter().map(|s| (range(s), s)).collect();
        if let StepKind::Store { output, src } = step.kind {
            let t = self.graph.outputs[output];
            let data = slots[src].layout.to_plain(&self.arena[range(src)]);
            outputs[output] = HostTensor::new(self.graph.tensors[t].shape.clone(), data);
            return;
        }
        let dst_slot = step.destination().expect("every step but a store writes a slot");
        let dst_layout = slots[dst_slot].layout;
        let ranges: Vec<_> = srcs.iter().map(|(r, _)| r.clone()).collect();
        let (dst, src) = host::split(&mut self.arena, range(dst_slot), &ranges);
        if let Layout::Blocked(b) = dst_layout {
            // Kernels, pooling and element-wise steps write all four lanes of every interior
            // pixel (zeros in the padding lanes, since their inputs and weights are zero there);
            // the steps below write only the real channels.
            let writes_real_channels_only =
                matches!(step.kind, StepKind::Load { .. } | StepKind::Concat { .. } | StepKind::Fallback { .. })
                    || matches!(self.work[index], Work::HostConv);
            if writes_real_channels_only && b.channels % LANES != 0 {
                b.clear_border(dst);
            } else if b.halo != [0; 4] {
                b.clear_halo(dst);
            }
        }
        let layout = |s: usize| slots[s].layout;
        let blocked = |s: usize| match slots[s].layout {
            Layout::Blocked(b) => b,
            Layout::Flat { .. } => unreachable!("the plan gives this step blocked tensors"),
        };
        match (&step.kind, &mut self.work[index]) {
            (StepKind::Conv(c), Work::Kernel { entry, tasks, extents, weight, bias, macs, .. }) => {
                let entry = (*entry).expect("finalized");
                let residual = c.epilogue.iter().find_map(|e| match e {
                    Epilogue::Residual(_) => Some(src[1]),
                    Epilogue::Act(_) => None,
                });
                let buffers = runtime::Buffers { src: src[0], weight, bias, residual, dst };
                runtime::call(entry, extents, *tasks, buffers, *macs >= PARALLEL_MACS);
            }
            (StepKind::Conv(c), Work::Winograd(w)) => {
                let entry = w.entry.expect("finalized");
                let residual = (src.len() > 1).then(|| (src[1], blocked(srcs[1].1)));
                winograd::transform_input(&w.geometry, src[0], &mut w.v);
                let stride = w.geometry.tiles() * LANES;
                let parallel = w.macs / 4 >= PARALLEL_MACS;
                runtime::call_products(
                    entry,
                    &w.extents,
                    w.tasks,
                    &w.v,
                    &w.packed,
                    &w.zero_bias,
                    &mut w.m,
                    stride,
                    parallel,
                );
                let res = residual.as_ref().map(|(d, l)| (*d, l));
                winograd::transform_output(&w.geometry, &w.m, &w.bias, &c.epilogue, res, dst);
            }
            (StepKind::Conv(c), Work::HostConv) => {
                let residual = (src.len() > 1).then(|| (src[1], blocked(srcs[1].1)));
                let res = residual.as_ref().map(|(d, l)| (*d, l));
                host::conv_generic(
                    &c.conv,
                    &c.weight,
                    &c.bias,
                    &c.epilogue,
                    src[0],
                    &blocked(c.src),
                    res,
                    dst,
                    &blocked(c.dst),
                );
            }
            (StepKind::Dense(d), Work::Dense { packed }) => {
                host::dense(src[0], &layout(d.src), packed, &d.bias, &d.acts, dst);
            }
            (StepKind::Load { input, .. }, _) => dst_layout.write_plain(&inputs[*input].data, dst),
            (StepKind::Pool { kind, pool, src: s, .. }, _) => {
                host::pool(*kind, pool, src[0], &blocked(*s), dst, &blocked(dst_slot))
            }
            (StepKind::GlobalPool { max, src: s, .. }, _) => {
                host::global_pool(*max, src[0], &blocked(*s), dst, &blocked(dst_slot))
            }
            (StepKind::Affine { src: s, scale, shift, .. }, _) => {
                host::map(src[0], &layout(*s), dst, &dst_layout, |c, v| v * scale[c] + shift[c]);
            }
            (StepKind::Activation { act, src: s, .. }, _) => {
                host::map(src[0], &layout(*s), dst, &dst_layout, |_, v| act.apply(v))
            }
            (StepKind::Add { srcs: slots_in, .. }, _) => match dst_layout {
                Layout::Blocked(d) => {
                    let inputs: Vec<(&[f32], Blocked)> =
                        src.iter().zip(slots_in).map(|(data, &s)| (*data, blocked(s))).collect();
                    let refs: Vec<(&[f32], &Blocked)> = inputs.iter().map(|(d, l)| (*d, l)).collect();
                    host::per_pixel(&refs, dst, &d, |_, px, values| {
                        for v in values {
                            for (p, x) in px.iter_mut().zip(v.iter()) {
                                *p += x;
                            }
                        }
                    });
                }
                Layout::Flat { .. } => {
                    dst.fill(0.0);
                    for s in &src {
                        dst.iter_mut().zip(s.iter()).for_each(|(d, x)| *d += x);
                    }
                }
            },
            (StepKind::Concat { srcs: slots_in, .. }, _) => {
                let inputs: Vec<(&[f32], Blocked)> =
                    src.iter().zip(slots_in).map(|(data, &s)| (*data, blocked(s))).collect();
                let refs: Vec<(&[f32], &Blocked)> = inputs.iter().map(|(d, l)| (*d, l)).collect();
                host::concat(&refs, dst, &blocked(dst_slot));
            }
            (StepKind::Softmax { .. }, _) => {
                let Layout::Flat { features, .. } = dst_layout else { unreachable!("softmax steps are flat") };
                host::softmax(src[0], dst, features);
            }
            (StepKind::Flatten { src: s, .. }, _) => {
                let plain = layout(*s).to_plain(src[0]);
                dst[..plain.len()].copy_from_slice(&plain);
            }
            (StepKind::Fallback { node, srcs: slots_in, .. }, _) => {
                let node = &self.graph.nodes[*node];
                let plain: Vec<Vec<f32>> = src.iter().zip(slots_in).map(|(d, &s)| layout(s).to_plain(d)).collect();
                let args: Vec<(&[f32], &[usize])> =
                    plain.iter().zip(&node.inputs).map(|(d, &t)| (d.as_slice(), self.graph.shape(t))).collect();
                let params: Vec<&[f32]> = node.params.iter().map(|&p| self.weights.values[p].as_slice()).collect();
                let out = reference::eval(&node.op, &args, &params, self.graph.shape(node.output));
                dst_layout.write_plain(&out, dst);
            }
            (kind, _) => unreachable!("step {kind:?} has no matching work"),
        }
    }
}

fn host_name(kind: &StepKind) -> &'static str {
    match kind {
        StepKind::Load { .. } => "load input",
        StepKind::Store { .. } => "store output",
        StepKind::Pool { kind: cnn_opt::PoolKind::Max, .. } => "max pool",
        StepKind::Pool { .. } => "average pool",
        StepKind::GlobalPool { max: true, .. } => "global max pool",
        StepKind::GlobalPool { .. } => "global average pool",
        StepKind::Affine { .. } => "batch norm (unfused)",
        StepKind::Activation { .. } => "activation",
        StepKind::Add { .. } => "add",
        StepKind::Concat { .. } => "concat",
        StepKind::Softmax { .. } => "softmax",
        StepKind::Flatten { .. } => "flatten (copy)",
        StepKind::Fallback { .. } => "reference fallback",
        StepKind::Conv(_) | StepKind::Dense(_) => "",
    }
}
