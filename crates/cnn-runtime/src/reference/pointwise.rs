//! Element-wise ops, batch-norm (inference: running statistics), softmax, add and concat.

use cnn_ir::Op;

pub(super) fn activation(op: &Op, x: &[f32]) -> Vec<f32> {
    let f: Box<dyn Fn(f64) -> f64> = match *op {
        Op::Relu => Box::new(|v| v.max(0.0)),
        Op::Relu6 => Box::new(|v| v.clamp(0.0, 6.0)),
        Op::LeakyRelu { slope } => Box::new(move |v| if v >= 0.0 { v } else { v * f64::from(slope) }),
        Op::Sigmoid => Box::new(|v| 1.0 / (1.0 + (-v).exp())),
        Op::Tanh => Box::new(f64::tanh),
        _ => Box::new(|v| v),
    };
    x.iter().map(|v| if v.is_nan() { *v } else { f(f64::from(*v)) as f32 }).collect()
}

/// `y = (x − mean) / √(var + eps) · γ + β` per channel; params are γ, β, mean, var.
pub(super) fn batch_norm(x: &[f32], shape: &[usize], eps: f32, params: &[&[f32]]) -> Vec<f32> {
    let channels = shape[1];
    let plane: usize = shape[2..].iter().product();
    let (gamma, beta, mean, var) = (params[0], params[1], params[2], params[3]);
    x.iter()
        .enumerate()
        .map(|(i, v)| {
            let c = (i / plane.max(1)) % channels;
            let scale = f64::from(gamma[c]) / (f64::from(var[c]) + f64::from(eps)).sqrt();
            ((f64::from(*v) - f64::from(mean[c])) * scale + f64::from(beta[c])) as f32
        })
        .collect()
}

/// `exp(x − max) / Σ exp(x − max)` along `axis`.
pub(super) fn softmax(x: &[f32], shape: &[usize], axis: usize) -> Vec<f32> {
    let len = shape[axis];
    let inner: usize = shape[axis + 1..].iter().product();
    let outer: usize = shape[..axis].iter().product();
    let mut out = vec![0.0f32; x.len()];
    for o in 0..outer {
        for i in 0..inner {
            let at = |k: usize| (o * len + k) * inner + i;
            let max = (0..len).map(|k| f64::from(x[at(k)])).fold(f64::NEG_INFINITY, f64::max);
            let sum: f64 = (0..len).map(|k| (f64::from(x[at(k)]) - max).exp()).sum();
            for k in 0..len {
                out[at(k)] = ((f64::from(x[at(k)]) - max).exp() / sum) as f32;
            }
        }
    }
    out
}

pub(super) fn add(args: &[(&[f32], &[usize])]) -> Vec<f32> {
    (0..args[0].0.len()).map(|i| args.iter().map(|(x, _)| f64::from(x[i])).sum::<f64>() as f32).collect()
}

/// Stack along channels: for each sample, every input's `C_k·H·W` block in turn.
pub(super) fn concat(args: &[(&[f32], &[usize])]) -> Vec<f32> {
    let batch = args[0].1[0];
    let mut out = Vec::with_capacity(args.iter().map(|(x, _)| x.len()).sum());
    for n in 0..batch {
        for (x, shape) in args {
            let per: usize = shape[1..].iter().product();
            out.extend_from_slice(&x[n * per..(n + 1) * per]);
        }
    }
    out
}
