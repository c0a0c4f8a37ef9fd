//! Steps that run as ordinary Rust on the arena: pooling, global pooling, dense layers,
//! unfused element-wise ops, layout conversions, and the reference fallback. They are cheap next
//! to the convolutions or rare; none of them needs generated code to be fast enough.
//!
//! Every step writes only the interior of its destination; the runtime zeroes the halo and the
//! padding lanes beforehand. Values are processed four lanes at a time where the layout allows,
//! padding lanes included (they are zero, and stay zero through max, average and add).

use cnn_ir::Pool2d;
use cnn_opt::{Act, Blocked, Epilogue, Layout, PoolKind, LANES};
use rayon::prelude::*;
use std::ops::Range;

/// The destination slice and source slices of one step, split out of the arena. Sources must
/// not overlap the destination (the arena planner guarantees it; this checks it).
pub(crate) fn split<'a>(
    arena: &'a mut [f32],
    dst: Range<usize>,
    srcs: &[Range<usize>],
) -> (&'a mut [f32], Vec<&'a [f32]>) {
    let (before, rest) = arena.split_at_mut(dst.start);
    let (out, after) = rest.split_at_mut(dst.len());
    let (before, after): (&'a [f32], &'a [f32]) = (before, after);
    let sources = srcs
        .iter()
        .map(|s| {
            if s.end <= dst.start {
                &before[s.clone()]
            } else {
                assert!(s.start >= dst.end, "a step's source overlaps its destination");
                &after[s.start - dst.end..s.end - dst.end]
            }
        })
        .collect();
    (out, sources)
}

pub(crate) fn pool(kind: PoolKind, p: &Pool2d, src: &[f32], s: &Blocked, dst: &mut [f32], d: &Blocked) {
    // The taps of a window that land inside the input, along one axis: `first..end` in tap
    // numbers (padding never wins a max and is only counted by `count_pad` averages).
    let taps = |o: usize, stride: usize, pad: usize, kernel: usize, dilation: usize, len: usize| {
        let start = (o * stride) as isize - pad as isize;
        let first = (0..kernel).find(|&u| start + (u * dilation) as isize >= 0).unwrap_or(kernel);
        let end = (0..kernel).rev().find(|&u| start + ((u * dilation) as isize) < len as isize).map_or(0, |u| u + 1);
        (start, first, end.max(first))
    };
    let rows: Vec<_> =
        (0..d.height).map(|o| taps(o, p.stride[0], p.pads[0], p.kernel[0], p.dilation[0], s.height)).collect();
    let cols: Vec<_> =
        (0..d.width).map(|o| taps(o, p.stride[1], p.pads[2], p.kernel[1], p.dilation[1], s.width)).collect();
    let max = kind == PoolKind::Max;
    // One output plane (sample, block) per task, in parallel when there is enough work.
    let work = |(plane, dst): (usize, &mut [f32])| {
        let (n, b) = (plane / d.blocks(), plane % d.blocks());
        {
            for (oy, &(h0, u0, u1)) in rows.iter().enumerate() {
                for (ox, &(w0, v0, v1)) in cols.iter().enumerate() {
                    let mut acc = if max { [f32::NEG_INFINITY; LANES] } else { [0.0; LANES] };
                    for u in u0..u1 {
                        // The window's row start may lie in the padding; the taps read do not.
                        let row = s.offset(n, b, h0 + (u * p.dilation[0]) as isize, w0);
                        for v in v0..v1 {
                            let at = (row + (v * p.dilation[1] * LANES) as isize) as usize;
                            let px: &[f32; LANES] = src[at..at + LANES].try_into().expect("four lanes");
                            if max {
                                for lane in 0..LANES {
                                    if px[lane] > acc[lane] || px[lane].is_nan() {
                                        acc[lane] = px[lane];
                                    }
                                }
                            } else {
                                for lane in 0..LANES {
                                    acc[lane] += px[lane];
                                }
                            }
                        }
                    }
                    if let PoolKind::Avg { count_pad } = kind {
                        let divisor = if count_pad {
                            let h1 = (h0 + p.kernel[0] as isize).min((s.height + p.pads[1]) as isize);
                            let w1 = (w0 + p.kernel[1] as isize).min((s.width + p.pads[3]) as isize);
                            ((h1 - h0) * (w1 - w0)).max(1) as f32
                        } else {
                            ((u1 - u0) * (v1 - v0)).max(1) as f32
                        };
                        acc.iter_mut().for_each(|a| *a /= divisor);
                    }
                    let at = d.offset(0, 0, oy as isize, ox as isize) as usize;
                    dst[at..at + LANES].copy_from_slice(&acc);
                }
            }
        }
    };
    let work_per_plane = d.height * d.width * p.kernel[0] * p.kernel[1];
    if d.batch * d.blocks() * work_per_plane < PARALLEL_WORK {
        dst[..d.len()].chunks_mut(d.block_stride()).enumerate().for_each(work);
    } else {
        dst[..d.len()].par_chunks_mut(d.block_stride()).enumerate().for_each(work);
    }
}

/// Host steps split among threads only above this many operations.
const PARALLEL_WORK: usize = 200_000;

pub(crate) fn global_pool(max: bool, src: &[f32], s: &Blocked, dst: &mut [f32], d: &Blocked) {
    let area = (s.height * s.width) as f32;
    for n in 0..s.batch {
        for b in 0..s.blocks() {
            let mut acc = if max { [f32::NEG_INFINITY; LANES] } else { [0.0; LANES] };
            for y in 0..s.height {
                let row = s.offset(n, b, y as isize, 0) as usize;
                for px in src[row..row + s.width * LANES].chunks_exact(LANES) {
                    for (a, &v) in acc.iter_mut().zip(px) {
                        if !max {
                            *a += v;
                        } else if v > *a || v.is_nan() {
                            *a = v;
                        }
                    }
                }
            }
            if !max {
                acc.iter_mut().for_each(|a| *a /= area);
            }
            let at = d.offset(n, b, 0, 0) as usize;
            dst[at..at + LANES].copy_from_slice(&acc);
        }
    }
}

/// Apply `f(block, pixel values)` to every interior pixel of `d`, reading the same pixel of
/// each source (all of `d`'s shape).
pub(crate) fn per_pixel(
    srcs: &[(&[f32], &Blocked)],
    dst: &mut [f32],
    d: &Blocked,
    f: impl Fn(usize, &mut [f32; LANES], &[&[f32]]),
) {
    for n in 0..d.batch {
        for b in 0..d.blocks() {
            for y in 0..d.height {
                for x in 0..d.width {
                    let inputs: Vec<&[f32]> = srcs
                        .iter()
                        .map(|(data, layout)| {
                            let at = layout.offset(n, b, y as isize, x as isize) as usize;
                            &data[at..at + LANES]
                        })
                        .collect();
                    let mut px = [0.0; LANES];
                    f(b, &mut px, &inputs);
                    let at = d.offset(n, b, y as isize, x as isize) as usize;
                    dst[at..at + LANES].copy_from_slice(&px);
                }
            }
        }
    }
}

/// Element-wise on a flat tensor or per pixel on a blocked one; `f(channel, value)`. Padding lanes
/// stay zero.
pub(crate) fn map(
    src: &[f32],
    src_layout: &Layout,
    dst: &mut [f32],
    dst_layout: &Layout,
    f: impl Fn(usize, f32) -> f32,
) {
    match (src_layout, dst_layout) {
        (Layout::Blocked(s), Layout::Blocked(d)) => per_pixel(&[(src, s)], dst, d, |b, px, inputs| {
            for lane in 0..LANES {
                let c = b * LANES + lane;
                if c < d.channels {
                    px[lane] = f(c, inputs[0][lane]);
                }
            }
        }),
        (Layout::Flat { features, .. }, Layout::Flat { .. }) => {
            for (i, (o, &v)) in dst.iter_mut().zip(src).enumerate() {
                *o = f(i % features, v);
            }
        }
        _ => unreachable!("element-wise steps keep the layout"),
    }
}

pub(crate) fn concat(srcs: &[(&[f32], &Blocked)], dst: &mut [f32], d: &Blocked) {
    let mut first = 0;
    for (data, s) in srcs {
        for n in 0..s.batch {
            for c in 0..s.channels {
                for y in 0..s.height {
                    for x in 0..s.width {
                        dst[d.index(n, first + c, y, x)] = data[s.index(n, c, y, x)];
                    }
                }
            }
        }
        first += s.channels;
    }
}

/// Softmax over each row of `[batch, features]`, with the maximum subtracted first.
pub(crate) fn softmax(src: &[f32], dst: &mut [f32], features: usize) {
    for (x, y) in src.chunks_exact(features).zip(dst.chunks_exact_mut(features)) {
        let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut sum = 0.0f64;
        for (o, &v) in y.iter_mut().zip(x) {
            *o = (v - max).exp();
            sum += f64::from(*o);
        }
        y.iter_mut().for_each(|o| *o = (f64::from(*o) / sum) as f32);
    }
}

/// A dense layer's weights transposed into the order its input is stored: row `k` holds the
/// weight of stored input element `k` for every output. For a blocked input the stored elements
/// are `[block][y][x][lane]` (rows are zero for padding lanes); for a flat one, the features.
pub(crate) fn pack_dense(weight: &[f32], out: usize, input: &Layout) -> Vec<f32> {
    match input {
        Layout::Blocked(s) => {
            let plane = s.height * s.width;
            let per_out = s.channels * plane;
            let mut packed = vec![0.0; s.blocks() * plane * LANES * out];
            for c in 0..s.channels {
                for p in 0..plane {
                    let k = ((c / LANES) * plane + p) * LANES + c % LANES;
                    for j in 0..out {
                        packed[k * out + j] = weight[j * per_out + c * plane + p];
                    }
                }
            }
            packed
        }
        Layout::Flat { features, .. } => {
            let mut packed = vec![0.0; features * out];
            for k in 0..*features {
                for j in 0..out {
                    packed[k * out + j] = weight[j * features + k];
                }
            }
            packed
        }
    }
}

/// `y = act(W x + b)` for each sample; `packed` from [`pack_dense`]. Each input element adds
/// its weight row to all outputs (`y += x_k · W[k]`): a loop over contiguous outputs that the
/// compiler vectorises, with no horizontal sums.
pub(crate) fn dense(src: &[f32], input: &Layout, packed: &[f32], bias: &[f32], acts: &[Act], dst: &mut [f32]) {
    let out = bias.len();
    let (batch, runs): (usize, Vec<(usize, usize)>) = match input {
        // (offset of a run of stored elements in the sample, its length)
        Layout::Blocked(s) => (
            s.batch,
            (0..s.blocks())
                .flat_map(|b| (0..s.height).map(move |y| (s.offset(0, b, y as isize, 0) as usize, s.width * LANES)))
                .collect(),
        ),
        Layout::Flat { batch, features } => (*batch, vec![(0, *features)]),
    };
    let sample_stride = match input {
        Layout::Blocked(s) => s.sample_stride(),
        Layout::Flat { features, .. } => *features,
    };
    for n in 0..batch {
        let y = &mut dst[n * out..(n + 1) * out];
        y.copy_from_slice(bias);
        let mut k = 0;
        for &(start, len) in &runs {
            for &x in &src[n * sample_stride + start..][..len] {
                let row = &packed[k * out..(k + 1) * out];
                if x != 0.0 {
                    y.iter_mut().zip(row).for_each(|(y, w)| *y += x * w);
                }
                k += 1;
            }
        }
        for act in acts {
            y.iter_mut().for_each(|v| *v = act.apply(*v));
        }
    }
}

/// A convolution the generated kernels do not cover (grouped with groups that split a block of
/// four channels), as plain loops over the blocked layouts.
#[allow(clippy::too_many_arguments)]
pub(crate) fn conv_generic(
    c: &cnn_ir::Conv2d,
    weight: &[f32],
    bias: &[f32],
    epilogue: &[Epilogue],
    src: &[f32],
    s: &Blocked,
    residual: Option<(&[f32], &Blocked)>,
    dst: &mut [f32],
    d: &Blocked,
) {
    let (in_g, out_g) = (c.in_channels / c.groups, c.out_channels / c.groups);
    let [kh, kw] = c.kernel;
    for n in 0..d.batch {
        for o in 0..c.out_channels {
            let g = o / out_g;
            for oy in 0..d.height {
                for ox in 0..d.width {
                    let mut sum = bias[o];
                    for i in 0..in_g {
                        let ic = g * in_g + i;
                        for u in 0..kh {
                            let y = (oy * c.stride[0] + u * c.dilation[0]) as isize - c.pads[0] as isize;
                            for v in 0..kw {
                                let x = (ox * c.stride[1] + v * c.dilation[1]) as isize - c.pads[2] as isize;
                                let at = s.offset(n, ic / LANES, y, x) as usize + ic % LANES;
                                sum += weight[((o * in_g + i) * kh + u) * kw + v] * src[at];
                            }
                        }
                    }
                    for op in epilogue {
                        match op {
                            Epilogue::Act(act) => sum = act.apply(sum),
                            Epilogue::Residual(_) => {
                                let (r, layout) = residual.expect("a residual epilogue has its buffer");
                                sum += r[layout.index(n, o, oy, ox)];
                            }
                        }
                    }
                    dst[d.index(n, o, oy, ox)] = sum;
                }
            }
        }
    }
}
