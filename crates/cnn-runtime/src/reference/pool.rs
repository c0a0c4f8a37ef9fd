//! Pooling: max and average windows (PyTorch's padding, ceil-mode and divisor rules), global and
//! adaptive average, global max.

use super::per_output_pixel;
use cnn_ir::Pool2d;

/// The window of output `o` along one axis, in input coordinates (may reach outside).
fn window_start(o: usize, stride: usize, pad_before: usize) -> isize {
    (o * stride) as isize - pad_before as isize
}

/// Maximum over each window's taps that land inside the input (padding never wins).
pub(super) fn max_pool(p: &Pool2d, x: &[f32], shape: &[usize], out_shape: &[usize]) -> Vec<f32> {
    let (in_h, in_w) = (shape[2] as isize, shape[3] as isize);
    per_output_pixel(x, shape, out_shape, |plane, i, j| {
        let mut best = f32::NEG_INFINITY;
        for u in 0..p.kernel[0] {
            let row = window_start(i, p.stride[0], p.pads[0]) + (u * p.dilation[0]) as isize;
            for v in 0..p.kernel[1] {
                let col = window_start(j, p.stride[1], p.pads[2]) + (v * p.dilation[1]) as isize;
                if (0..in_h).contains(&row) && (0..in_w).contains(&col) {
                    let value = plane[row as usize * shape[3] + col as usize];
                    if value > best || value.is_nan() {
                        best = value;
                    }
                }
            }
        }
        best
    })
}

/// Average over each window. PyTorch's divisor: the window clipped to the padded input
/// (`count_pad`), or to the input itself (`count_pad = false`).
pub(super) fn avg_pool(p: &Pool2d, count_pad: bool, x: &[f32], shape: &[usize], out_shape: &[usize]) -> Vec<f32> {
    let (in_h, in_w) = (shape[2] as isize, shape[3] as isize);
    per_output_pixel(x, shape, out_shape, |plane, i, j| {
        let h0 = window_start(i, p.stride[0], p.pads[0]);
        let w0 = window_start(j, p.stride[1], p.pads[2]);
        let h1 = (h0 + p.kernel[0] as isize).min(in_h + p.pads[1] as isize);
        let w1 = (w0 + p.kernel[1] as isize).min(in_w + p.pads[3] as isize);
        let padded_area = (h1 - h0) * (w1 - w0);
        let (rh0, rw0, rh1, rw1) = (h0.max(0), w0.max(0), h1.min(in_h), w1.min(in_w));
        let mut sum = 0.0f64;
        for row in rh0..rh1 {
            for col in rw0..rw1 {
                sum += f64::from(plane[row as usize * shape[3] + col as usize]);
            }
        }
        let divisor = if count_pad { padded_area } else { (rh1 - rh0) * (rw1 - rw0) };
        (sum / divisor.max(1) as f64) as f32
    })
}

/// PyTorch's adaptive average pooling: output `i` of `o` averages input rows
/// `⌊i·n/o⌋ ..< ⌈(i+1)·n/o⌉`.
pub(super) fn adaptive_avg(x: &[f32], shape: &[usize], size: [usize; 2]) -> Vec<f32> {
    let (in_h, in_w) = (shape[2], shape[3]);
    let [out_h, out_w] = size;
    per_output_pixel(x, shape, &[shape[0], shape[1], out_h, out_w], |plane, i, j| {
        let (h0, h1) = (i * in_h / out_h, ((i + 1) * in_h).div_ceil(out_h));
        let (w0, w1) = (j * in_w / out_w, ((j + 1) * in_w).div_ceil(out_w));
        let mut sum = 0.0f64;
        for row in h0..h1 {
            for col in w0..w1 {
                sum += f64::from(plane[row * in_w + col]);
            }
        }
        (sum / ((h1 - h0) * (w1 - w0)) as f64) as f32
    })
}

pub(super) fn global_max(x: &[f32], shape: &[usize]) -> Vec<f32> {
    let plane = shape[2] * shape[3];
    x.chunks(plane.max(1))
        .map(|p| p.iter().copied().fold(f32::NEG_INFINITY, |a, b| if b > a || b.is_nan() { b } else { a }))
        .collect()
}
