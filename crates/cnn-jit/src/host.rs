//! Steps that run as ordinary Rust on the arena: pooling, global pooling, dense layers,
//! unfused element-wise ops, layout conversions, and the reference fallback. They are cheap next
//! to the convolutions or rare; none of them needs generated code to be fast enough.
//!
//! Every step writes only the interior of its destination; the runtime zeroes the halo and the
//! padding lanes beforehand. Values are processed four lanes at a time where the layout allows,
//! padding lanes included (they are zero, and stay zero through max, average and add).

use cnn_ir::Pool2d;
use cnn_opt::{Act, Blocked, Epilogue, Layout, PoolKind, LANES};
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
    let (in_h, in_w) = (s.height as isize, s.width as isize);
    for n in 0..d.batch {
        for b in 0..d.blocks() {
            for oy in 0..d.height {
                let h0 = (oy * p.stride[0]) as isize - p.pads[0] as isize;
                for ox in 0..d.width {
                    let w0 = (ox * p.stride[1]) as isize - p.pads[2] as isize;
                    let mut acc = match kind {
                        PoolKind::Max => [f32::NEG_INFINITY; LANES],
                        PoolKind::Avg { .. } => [0.0; LANES],
                    };
                    let mut count = 0usize;
                    for u in 0..p.kernel[0] {
                        let y = h0 + (u * p.dilation[0]) as isize;
                        if !(0..in_h).contains(&y) {
                            continue;
                        }
                        for v in 0..p.kernel[1] {
                            let x = w0 + (v * p.dilation[1]) as isize;
                            if !(0..in_w).contains(&x) {
                                continue;
                            }
                            let at = s.offset(n, b, y, x) as usize;
                            let px = &src[at..at + LANES];
                            count += 1;
                            for (a, &value) in acc.iter_mut().zip(px) {
                                match kind {
                                    PoolKind::Max if value > *a || value.is_nan() => *a = value,
                                    PoolKind::Max => {}
                                    PoolKind::Avg { .. } => *a += value,
                                }
                            }
                        }
                    }
                    if let PoolKind::Avg { count_pad } = kind {
                        let divisor = if count_pad {
                            let h1 = (h0 + p.kernel[0] as isize).min(in_h + p.pads[1] as isize);
                            let w1 = (w0 + p.kernel[1] as isize).min(in_w + p.pads[3] as isize);
                            ((h1 - h0) * (w1 - w0)).max(1) as f32
                        } else {
                            count.max(1) as f32
                        };
                        acc.iter_mut().for_each(|a| *a /= divisor);
                    }
                    let at = d.offset(n, b, oy as isize, ox as isize) as usize;
                    dst[at..at + LANES].copy_from_slice(&acc);
                }
            }
        }
    }
}

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

/// A dense layer's weights in the order its input is stored: for a blocked input
/// `[out][block][y][x][lane]` (zero for padding lanes), for a flat one unchanged.
pub(crate) fn pack_dense(weight: &[f32], out: usize, input: &Layout) -> Vec<f32> {
    let Layout::Blocked(s) = input else { return weight.to_vec() };
    let per_out = s.blocks() * s.height * s.width * LANES;
    let plane = s.height * s.width;
    let mut packed = vec![0.0; out * per_out];
    for j in 0..out {
        for c in 0..s.channels {
            for p in 0..plane {
                packed[j * per_out + ((c / LANES) * plane + p) * LANES + c % LANES] =
                    weight[j * s.channels * plane + c * plane + p];
            }
        }
    }
    packed
}

/// `y = act(W x + b)` for each sample; `packed` from [`pack_dense`].
pub(crate) fn dense(src: &[f32], input: &Layout, packed: &[f32], bias: &[f32], acts: &[Act], dst: &mut [f32]) {
    let out = bias.len();
    let per_out = packed.len() / out.max(1);
    let batch = match input {
        Layout::Blocked(s) => s.batch,
        Layout::Flat { batch, .. } => *batch,
    };
    for n in 0..batch {
        // The input as contiguous runs, paired with where they start in a packed weight row.
        let runs: Vec<(&[f32], usize)> = match input {
            Layout::Blocked(s) => (0..s.blocks())
                .flat_map(|b| (0..s.height).map(move |y| (b, y)))
                .map(|(b, y)| {
                    let at = s.offset(n, b, y as isize, 0) as usize;
                    (&src[at..at + s.width * LANES], (b * s.height + y) * s.width * LANES)
                })
                .collect(),
            Layout::Flat { features, .. } => vec![(&src[n * features..(n + 1) * features], 0)],
        };
        for j in 0..out {
            let row = &packed[j * per_out..(j + 1) * per_out];
            let sum: f32 = runs.iter().map(|&(x, start)| dot(x, &row[start..start + x.len()])).sum();
            let mut v = sum + bias[j];
            for act in acts {
                v = act.apply(v);
            }
            dst[n * out + j] = v;
        }
    }
}

/// A dot product with eight independent partial sums (so the compiler can keep them in vector
/// registers), then the tail. Plain multiply and add: `mul_add` is a library call on CPUs the
/// binary is not compiled for FMA on.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (a8, b8) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (a8.remainder(), b8.remainder());
    for (x, y) in a8.zip(b8) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    let mut sum = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (x, y) in ra.iter().zip(rb) {
        sum += x * y;
    }
    sum
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
