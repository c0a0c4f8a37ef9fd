//! Winograd F(4×4, 3×3) for 3×3 stride-1 convolutions: each 4×4 block of outputs is computed
//! from a 6×6 input tile with 36 multiplications per input-output channel pair instead of 144.
//!
//! The three stages (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2016):
//! 1. input transform `V = Bᵀ d B` of every 6×6 tile, per channel block (here, in Rust);
//! 2. for each of the 36 tile positions, a matrix product over channels,
//!    `M[p] = V[p] · U[p]` with `U = G g Gᵀ` transformed once at compile time: this is where the
//!    work is, and it runs as a generated 1×1-convolution kernel over "pixels" that are tiles;
//! 3. output transform `Y = Aᵀ M A`, plus bias and the fused epilogue, written into the
//!    destination's blocked layout.
//!
//! Layouts: `V` is `[in block][36][tiles][4]` and `M` is `[out block][36][tiles][4]`, so the
//! matrix product for position `p` sees an ordinary blocked tensor (block stride `36·tiles·4`)
//! starting at `p·tiles·4`, and the transforms can work on one channel block per thread.
//!
//! Accuracy: the transforms multiply by constants up to 8 and add up to 36 terms; the error
//! bound used by the tests is stated there.

use cnn_opt::{Act, Blocked, Epilogue, LANES};
use rayon::prelude::*;

/// Output tile side, input tile side.
pub(crate) const M: usize = 4;
pub(crate) const T: usize = 6;

const G: [[f64; 3]; 6] = [
    [1.0 / 4.0, 0.0, 0.0],
    [-1.0 / 6.0, -1.0 / 6.0, -1.0 / 6.0],
    [-1.0 / 6.0, 1.0 / 6.0, -1.0 / 6.0],
    [1.0 / 24.0, 1.0 / 12.0, 1.0 / 6.0],
    [1.0 / 24.0, -1.0 / 12.0, 1.0 / 6.0],
    [0.0, 0.0, 1.0],
];

/// The geometry of one Winograd convolution.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Geometry {
    pub(crate) src: Blocked,
    pub(crate) dst: Blocked,
    /// Top and left padding.
    pub(crate) pad: [usize; 2],
    pub(crate) tiles_h: usize,
    pub(crate) tiles_w: usize,
}

impl Geometry {
    pub(crate) fn new(src: Blocked, dst: Blocked, pad: [usize; 2]) -> Geometry {
        Geometry { src, dst, pad, tiles_h: dst.height.div_ceil(M), tiles_w: dst.width.div_ceil(M) }
    }

    /// Tiles over the whole batch: the "pixels" of the matrix products.
    pub(crate) fn tiles(&self) -> usize {
        self.dst.batch * self.tiles_h * self.tiles_w
    }
}

/// `U = G g Gᵀ` of every filter, `[out][36][in]`: for each output channel (one task each),
/// `G g` (6×3) and then `(G g) Gᵀ` (6×6) per input channel, in f64.
pub(crate) fn transform_weights(weight: &[f32], out_channels: usize, in_channels: usize) -> Vec<f32> {
    let mut u = vec![0.0f32; out_channels * T * T * in_channels];
    u.par_chunks_mut(T * T * in_channels).enumerate().for_each(|(o, u)| {
        for i in 0..in_channels {
            let g = &weight[(o * in_channels + i) * 9..][..9];
            let mut gg = [[0.0f64; 3]; T];
            for (r, row) in gg.iter_mut().enumerate() {
                for (c, v) in row.iter_mut().enumerate() {
                    *v = G[r][0] * f64::from(g[c]) + G[r][1] * f64::from(g[3 + c]) + G[r][2] * f64::from(g[6 + c]);
                }
            }
            for r in 0..T {
                for c in 0..T {
                    let v = gg[r][0] * G[c][0] + gg[r][1] * G[c][1] + gg[r][2] * G[c][2];
                    u[(r * T + c) * in_channels + i] = v as f32;
                }
            }
        }
    });
    u
}

/// The 36 products' weights packed for `spec` from `[out][36][in]`, one position per task.
pub(crate) fn pack_products(u: &[f32], spec: &crate::codegen::conv::ConvSpec, out_channels: usize) -> Vec<Vec<f32>> {
    let in_channels = spec.in_per_group;
    (0..T * T)
        .into_par_iter()
        .map(|p| {
            let per_tile = in_channels * spec.ocb * LANES;
            let mut packed = vec![0.0f32; spec.block_tiles() * per_tile];
            for oc in 0..out_channels {
                let (tile, o, lane) = (oc / (spec.ocb * LANES), (oc / LANES) % spec.ocb, oc % LANES);
                let row = &u[(oc * T * T + p) * in_channels..][..in_channels];
                for (ic, &v) in row.iter().enumerate() {
                    packed[tile * per_tile + (ic * spec.ocb + o) * LANES + lane] = v;
                }
            }
            packed
        })
        .collect()
}

/// Four lanes with the arithmetic the transforms need, written so that the compiler emits one
/// SSE instruction per operation.
#[derive(Clone, Copy, Default)]
struct F4([f32; LANES]);

impl std::ops::Add for F4 {
    type Output = F4;
    #[inline(always)]
    fn add(self, o: F4) -> F4 {
        F4([self.0[0] + o.0[0], self.0[1] + o.0[1], self.0[2] + o.0[2], self.0[3] + o.0[3]])
    }
}

impl std::ops::Sub for F4 {
    type Output = F4;
    #[inline(always)]
    fn sub(self, o: F4) -> F4 {
        F4([self.0[0] - o.0[0], self.0[1] - o.0[1], self.0[2] - o.0[2], self.0[3] - o.0[3]])
    }
}

impl std::ops::Mul<f32> for F4 {
    type Output = F4;
    #[inline(always)]
    fn mul(self, k: f32) -> F4 {
        F4([self.0[0] * k, self.0[1] * k, self.0[2] * k, self.0[3] * k])
    }
}

impl F4 {
    #[inline(always)]
    fn load(data: &[f32], at: usize) -> F4 {
        F4(data[at..at + LANES].try_into().expect("four lanes"))
    }

    #[inline(always)]
    fn store(self, data: &mut [f32], at: usize) {
        data[at..at + LANES].copy_from_slice(&self.0);
    }
}

/// `Bᵀ d` for one column of six vectors (the rows of Bᵀ written out; a test compares them with
/// the matrix).
#[inline(always)]
fn input_column(d: &[F4; T]) -> [F4; T] {
    [
        d[0] * 4.0 - d[2] * 5.0 + d[4],
        d[3] + d[4] - (d[1] + d[2]) * 4.0,
        (d[1] - d[2]) * 4.0 + d[4] - d[3],
        (d[3] - d[1]) * 2.0 + d[4] - d[2],
        (d[1] - d[3]) * 2.0 + d[4] - d[2],
        d[1] * 4.0 - d[3] * 5.0 + d[5],
    ]
}

/// `Aᵀ m` for one column of six vectors (the rows of Aᵀ written out).
#[inline(always)]
fn output_column(m: &[F4; T]) -> [F4; M] {
    let (sum12, diff12, sum34, diff34) = (m[1] + m[2], m[1] - m[2], m[3] + m[4], m[3] - m[4]);
    [m[0] + sum12 + sum34, diff12 + diff34 * 2.0, sum12 + sum34 * 4.0, diff12 + diff34 * 8.0 + m[5]]
}

/// An activation on four lanes, with the match outside the lanes.
#[inline(always)]
fn activate(act: Act, v: F4) -> F4 {
    match act {
        Act::Relu => F4(v.0.map(|x| x.max(0.0))),
        Act::Relu6 => F4(v.0.map(|x| x.clamp(0.0, 6.0))),
        other => F4(v.0.map(|x| other.apply(x))),
    }
}

/// Stage 1: `v` (`[in block][36][tiles][4]`) from the source tensor.
pub(crate) fn transform_input(g: &Geometry, src: &[f32], v: &mut [f32]) {
    let tiles = g.tiles();
    let s = g.src;
    v.par_chunks_mut(T * T * tiles * LANES).enumerate().for_each(|(block, out)| {
        for n in 0..g.dst.batch {
            for ty in 0..g.tiles_h {
                let y0 = (ty * M) as isize - g.pad[0] as isize;
                for tx in 0..g.tiles_w {
                    let t = (n * g.tiles_h + ty) * g.tiles_w + tx;
                    let x0 = (tx * M) as isize - g.pad[1] as isize;
                    let inside = y0 >= 0
                        && x0 >= 0
                        && y0 + T as isize <= s.height as isize
                        && x0 + T as isize <= s.width as isize;
                    let mut d = [[F4::default(); T]; T];
                    if inside {
                        let origin = s.offset(n, block, y0, x0) as usize;
                        for (i, row) in d.iter_mut().enumerate() {
                            for (j, px) in row.iter_mut().enumerate() {
                                *px = F4::load(src, origin + i * s.row_stride() + j * LANES);
                            }
                        }
                    } else {
                        for (i, row) in d.iter_mut().enumerate() {
                            let y = y0 + i as isize;
                            for (j, px) in row.iter_mut().enumerate() {
                                let x = x0 + j as isize;
                                if (0..s.height as isize).contains(&y) && (0..s.width as isize).contains(&x) {
                                    *px = F4::load(src, s.offset(n, block, y, x) as usize);
                                }
                            }
                        }
                    }
                    // Bᵀ d B: columns first, then rows (row `i` gathers element `i` of every
                    // transformed column, hence the index loop).
                    let columns: [[F4; T]; T] =
                        std::array::from_fn(|j| input_column(&std::array::from_fn(|i| d[i][j])));
                    #[allow(clippy::needless_range_loop)]
                    for i in 0..T {
                        let row = input_column(&std::array::from_fn(|j| columns[j][i]));
                        for (j, value) in row.iter().enumerate() {
                            value.store(out, ((i * T + j) * tiles + t) * LANES);
                        }
                    }
                }
            }
        }
    });
}

/// Stage 3: the destination from `m` (`[out block][36][tiles][4]`), with bias and epilogue.
pub(crate) fn transform_output(
    g: &Geometry,
    m: &[f32],
    bias: &[f32],
    epilogue: &[Epilogue],
    residual: Option<(&[f32], &Blocked)>,
    dst: &mut [f32],
) {
    let tiles = g.tiles();
    let d = g.dst;
    for n in 0..d.batch {
        let sample = &mut dst[n * d.sample_stride()..(n + 1) * d.sample_stride()];
        sample.par_chunks_mut(d.block_stride()).enumerate().for_each(|(block, plane)| {
            let mb = &m[block * T * T * tiles * LANES..][..T * T * tiles * LANES];
            let b = F4::load(bias, block * LANES);
            for ty in 0..g.tiles_h {
                for tx in 0..g.tiles_w {
                    let t = (n * g.tiles_h + ty) * g.tiles_w + tx;
                    let read = |i: usize, j: usize| F4::load(mb, ((i * T + j) * tiles + t) * LANES);
                    let columns: [[F4; M]; T] =
                        std::array::from_fn(|j| output_column(&std::array::from_fn(|i| read(i, j))));
                    #[allow(clippy::needless_range_loop)] // row `i` gathers element `i` of every column
                    for i in 0..M {
                        let y = ty * M + i;
                        if y >= d.height {
                            break;
                        }
                        let values = output_column(&std::array::from_fn(|j| columns[j][i]));
                        for (j, value) in values.iter().enumerate() {
                            let x = tx * M + j;
                            if x >= d.width {
                                break;
                            }
                            let mut out = *value + b;
                            for op in epilogue {
                                match op {
                                    Epilogue::Act(act) => out = activate(*act, out),
                                    Epilogue::Residual(_) => {
                                        let (r, layout) = residual.expect("a residual epilogue has its buffer");
                                        out =
                                            out + F4::load(r, layout.offset(n, block, y as isize, x as isize) as usize);
                                    }
                                }
                            }
                            out.store(plane, ((y + d.halo[0]) * d.row_stride()) + (x + d.halo[2]) * LANES);
                        }
                    }
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BT: [[f64; 6]; 6] = [
        [4.0, 0.0, -5.0, 0.0, 1.0, 0.0],
        [0.0, -4.0, -4.0, 1.0, 1.0, 0.0],
        [0.0, 4.0, -4.0, -1.0, 1.0, 0.0],
        [0.0, -2.0, -1.0, 2.0, 1.0, 0.0],
        [0.0, 2.0, -1.0, -2.0, 1.0, 0.0],
        [0.0, 4.0, 0.0, -5.0, 0.0, 1.0],
    ];

    const AT: [[f64; 6]; 4] = [
        [1.0, 1.0, 1.0, 1.0, 1.0, 0.0],
        [0.0, 1.0, -1.0, 2.0, -2.0, 0.0],
        [0.0, 1.0, 1.0, 4.0, 4.0, 0.0],
        [0.0, 1.0, -1.0, 8.0, -8.0, 1.0],
    ];

    /// The written-out transforms are the matrices: column `k` of each is its image of the
    /// `k`-th unit vector.
    #[test]
    fn written_out_transforms_are_lavins_matrices() {
        for k in 0..T {
            let unit: [F4; T] = std::array::from_fn(|i| F4([if i == k { 1.0 } else { 0.0 }; LANES]));
            let b = input_column(&unit);
            let a = output_column(&unit);
            for r in 0..T {
                assert_eq!(f64::from(b[r].0[0]), BT[r][k], "Bᵀ[{r}][{k}]");
            }
            for r in 0..M {
                assert_eq!(f64::from(a[r].0[0]), AT[r][k], "Aᵀ[{r}][{k}]");
            }
        }
    }
}
