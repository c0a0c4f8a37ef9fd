//! Convolution, dense layers and BlurPool, straight from their definitions.

use super::{per_output_pixel, per_sample};
use cnn_ir::Conv2d;

/// `y[n, o, i, j] = b[o] + Σ_{c, u, v} w[o, c, u, v] · x[n, g·C/G + c, i·s − p + u·d, j·s − p + v·d]`
/// over the channels `c` of output `o`'s group `g`; taps in the padding read 0. With `flip`,
/// the kernel is read rotated by 180° (`w[o, c, kh−1−u, kw−1−v]`), which makes it a true
/// convolution.
pub(super) fn conv2d(
    c: &Conv2d,
    x: &[f32],
    shape: &[usize],
    w: &[f32],
    b: Option<&[f32]>,
    out_shape: &[usize],
) -> Vec<f32> {
    let (batch, in_h, in_w) = (shape[0], shape[2] as isize, shape[3] as isize);
    let (out_c, out_h, out_w) = (out_shape[1], out_shape[2], out_shape[3]);
    let in_per_group = c.in_channels / c.groups;
    let out_per_group = c.out_channels / c.groups;
    let [kh, kw] = c.kernel;
    let mut out = vec![0.0f32; out_shape.iter().product()];
    per_sample(&mut out, batch, |n, y| {
        for o in 0..out_c {
            let group = o / out_per_group;
            for i in 0..out_h {
                for j in 0..out_w {
                    let mut sum = b.map_or(0.0, |b| f64::from(b[o]));
                    for ci in 0..in_per_group {
                        let channel = group * in_per_group + ci;
                        for u in 0..kh {
                            let row = (i * c.stride[0] + u * c.dilation[0]) as isize - c.pads[0] as isize;
                            if row < 0 || row >= in_h {
                                continue;
                            }
                            for v in 0..kw {
                                let col = (j * c.stride[1] + v * c.dilation[1]) as isize - c.pads[2] as isize;
                                if col < 0 || col >= in_w {
                                    continue;
                                }
                                let (wu, wv) = if c.flip { (kh - 1 - u, kw - 1 - v) } else { (u, v) };
                                let weight = w[((o * in_per_group + ci) * kh + wu) * kw + wv];
                                let input = x[((n * c.in_channels + channel) * shape[2] + row as usize) * shape[3]
                                    + col as usize];
                                sum += f64::from(weight) * f64::from(input);
                            }
                        }
                    }
                    y[(o * out_h + i) * out_w + j] = sum as f32;
                }
            }
        }
    });
    out
}

/// `y[n, o] = b[o] + Σ_i w[o, i] · x[n, i]` (PyTorch's `[out, in]` weight layout).
pub(super) fn dense(x: &[f32], batch: usize, inputs: usize, outputs: usize, w: &[f32], b: Option<&[f32]>) -> Vec<f32> {
    let mut out = vec![0.0f32; batch * outputs];
    per_sample(&mut out, batch, |n, y| {
        for (o, value) in y.iter_mut().enumerate() {
            let row = &w[o * inputs..(o + 1) * inputs];
            let sample = &x[n * inputs..(n + 1) * inputs];
            let sum: f64 = row.iter().zip(sample).map(|(a, b)| f64::from(*a) * f64::from(*b)).sum();
            *value = (sum + b.map_or(0.0, |b| f64::from(b[o]))) as f32;
        }
    });
    out
}

/// Binomial taps `C(f−1, k)` normalised to sum 1: `[1, 2, 1] / 4` for `f = 3`.
pub(crate) fn binomial(filter: usize) -> Vec<f64> {
    let mut row = vec![1.0f64];
    for _ in 1..filter {
        let mut next = vec![1.0; row.len() + 1];
        for k in 1..row.len() {
            next[k] = row[k - 1] + row[k];
        }
        row = next;
    }
    let sum: f64 = row.iter().sum();
    row.iter().map(|v| v / sum).collect()
}

/// Zhang (2019)'s BlurPool: reflect-pad, filter every channel with the outer product of the
/// binomial taps, subsample by `stride`.
pub(super) fn blurpool(
    filter: usize,
    stride: usize,
    pads: [usize; 4],
    x: &[f32],
    shape: &[usize],
    out_shape: &[usize],
) -> Vec<f32> {
    let taps = binomial(filter);
    let (in_h, in_w) = (shape[2], shape[3]);
    per_output_pixel(x, shape, out_shape, |plane, i, j| {
        let mut sum = 0.0f64;
        for (u, tu) in taps.iter().enumerate() {
            let row = reflect((i * stride + u) as isize - pads[0] as isize, in_h);
            for (v, tv) in taps.iter().enumerate() {
                let col = reflect((j * stride + v) as isize - pads[2] as isize, in_w);
                sum += tu * tv * f64::from(plane[row * in_w + col]);
            }
        }
        sum as f32
    })
}

/// Reflect padding's index: `-1 → 1`, `n → n − 2` (the border pixel is not repeated).
fn reflect(index: isize, len: usize) -> usize {
    let len = len as isize;
    if len == 1 {
        return 0;
    }
    let period = 2 * (len - 1);
    let mut i = index.rem_euclid(period);
    if i >= len {
        i = period - i;
    }
    i as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binomial_taps() {
        assert_eq!(binomial(3), vec![0.25, 0.5, 0.25]);
        assert_eq!(binomial(1), vec![1.0]);
        assert_eq!(binomial(4), vec![0.125, 0.375, 0.375, 0.125]);
    }

    #[test]
    fn reflection_skips_the_border() {
        let indices: Vec<usize> = (-2..6).map(|i| reflect(i, 4)).collect();
        assert_eq!(indices, vec![2, 1, 0, 1, 2, 3, 2, 1]);
    }
}
