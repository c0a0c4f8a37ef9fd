//! The reference backend: each op as the plain loops of its definition, accumulating in f64.
//!
//! Tensors are NCHW (or NF) f32 in C order. Intermediate results are dropped after their last
//! use. Work is split over the batch with rayon, one sample per task, so results do not
//! depend on the number of threads.

mod conv;
mod pointwise;
mod pool;

use crate::{HostTensor, RunError, Weights};
use cnn_ir::{Graph, Op};

/// Run `graph` on `inputs` (one per graph input, shapes as declared) and return its outputs.
pub fn run(graph: &Graph, weights: &Weights, inputs: &[HostTensor]) -> Result<Vec<HostTensor>, RunError> {
    let values = run_keeping(graph, weights, inputs, false)?;
    Ok(graph
        .outputs
        .iter()
        .map(|&t| HostTensor::new(graph.tensors[t].shape.clone(), values[t].clone().unwrap_or_default()))
        .collect())
}

/// Run `graph` and return the value of every tensor (indexed like `graph.tensors`), for
/// comparing another backend layer by layer.
pub fn run_all(graph: &Graph, weights: &Weights, inputs: &[HostTensor]) -> Result<Vec<Option<Vec<f32>>>, RunError> {
    run_keeping(graph, weights, inputs, true)
}

fn run_keeping(
    graph: &Graph,
    weights: &Weights,
    inputs: &[HostTensor],
    keep_all: bool,
) -> Result<Vec<Option<Vec<f32>>>, RunError> {
    if inputs.len() != graph.inputs.len() {
        return Err(RunError::InputCount { expected: graph.inputs.len(), got: inputs.len() });
    }
    if !weights.fits(graph) {
        return Err(RunError::WeightsMismatch);
    }
    let mut values: Vec<Option<Vec<f32>>> = vec![None; graph.tensors.len()];
    for (index, (&id, tensor)) in graph.inputs.iter().zip(inputs).enumerate() {
        if tensor.shape != graph.tensors[id].shape {
            return Err(RunError::InputShape {
                index,
                expected: graph.tensors[id].shape.clone(),
                got: tensor.shape.clone(),
            });
        }
        values[id] = Some(tensor.data.clone());
    }
    let mut remaining_uses = vec![0usize; graph.tensors.len()];
    for node in &graph.nodes {
        for &input in &node.inputs {
            remaining_uses[input] += 1;
        }
    }
    for &output in &graph.outputs {
        remaining_uses[output] += 1;
    }
    for node in &graph.nodes {
        let args: Vec<(&[f32], &[usize])> = node
            .inputs
            .iter()
            .map(|&t| (values[t].as_deref().expect("inputs are computed before use"), graph.shape(t)))
            .collect();
        let params: Vec<&[f32]> = node.params.iter().map(|&p| weights.values[p].as_slice()).collect();
        let out_shape = graph.shape(node.output);
        let result = eval(&node.op, &args, &params, out_shape);
        debug_assert_eq!(result.len(), out_shape.iter().product::<usize>(), "{}", node.name);
        values[node.output] = Some(result);
        for &input in &node.inputs {
            remaining_uses[input] -= 1;
            if remaining_uses[input] == 0 && !keep_all {
                values[input] = None;
            }
        }
    }
    Ok(values)
}

/// One op on its inputs (data and shape each) and parameters, producing `out_shape`.
pub fn eval(op: &Op, args: &[(&[f32], &[usize])], params: &[&[f32]], out_shape: &[usize]) -> Vec<f32> {
    let (x, shape) = args[0];
    match *op {
        Op::Conv2d(c) => conv::conv2d(&c, x, shape, params[0], params.get(1).copied(), out_shape),
        Op::Dense { in_features, out_features, .. } => {
            conv::dense(x, shape[0], in_features, out_features, params[0], params.get(1).copied())
        }
        Op::BlurPool { filter, stride, pads } => conv::blurpool(filter, stride, pads, x, shape, out_shape),
        Op::MaxPool(p) => pool::max_pool(&p, x, shape, out_shape),
        Op::AvgPool { pool: p, count_pad } => pool::avg_pool(&p, count_pad, x, shape, out_shape),
        Op::GlobalAvgPool => pool::adaptive_avg(x, shape, [1, 1]),
        Op::AdaptiveAvgPool { out } => pool::adaptive_avg(x, shape, out),
        Op::GlobalMaxPool => pool::global_max(x, shape),
        Op::BatchNorm { eps } => pointwise::batch_norm(x, shape, eps, params),
        Op::Softmax { axis } => pointwise::softmax(x, shape, axis),
        Op::Add => pointwise::add(args),
        Op::Concat => pointwise::concat(args),
        Op::Flatten | Op::Identity => x.to_vec(),
        Op::Relu | Op::Relu6 | Op::LeakyRelu { .. } | Op::Sigmoid | Op::Tanh => pointwise::activation(op, x),
    }
}

/// An `[N, C, H', W']` output where each value depends on one input plane (same sample and
/// channel): `f(plane, i, j)` gives output pixel `(i, j)` from the `H×W` input plane.
fn per_output_pixel(
    x: &[f32],
    shape: &[usize],
    out_shape: &[usize],
    f: impl Fn(&[f32], usize, usize) -> f32 + Sync,
) -> Vec<f32> {
    let (batch, channels, plane_len) = (shape[0], shape[1], shape[2] * shape[3]);
    let (out_h, out_w) = (out_shape[2], out_shape[3]);
    let mut out = vec![0.0f32; batch * channels * out_h * out_w];
    per_sample(&mut out, batch, |n, y| {
        for c in 0..channels {
            let plane = &x[(n * channels + c) * plane_len..][..plane_len];
            for i in 0..out_h {
                for j in 0..out_w {
                    y[(c * out_h + i) * out_w + j] = f(plane, i, j);
                }
            }
        }
    });
    out
}

/// Split `out` into one chunk per sample and fill each with `f(sample, chunk)` in parallel.
fn per_sample(out: &mut [f32], batch: usize, f: impl Fn(usize, &mut [f32]) + Sync) {
    use rayon::prelude::*;
    let per = out.len() / batch.max(1);
    if per == 0 {
        return;
    }
    out.par_chunks_mut(per).enumerate().for_each(|(n, chunk)| f(n, chunk));
}
