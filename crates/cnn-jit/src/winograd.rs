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

use cnn_opt::{Blocked, Epilogue, LANES};
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

/// `U[p]` for each of the 36 positions, as OIHW weights of a 1×1 convolution
/// (`[out][in]`), from `[out][in][3][3]` weights.
pub(crate) fn transform_weights(weight: &[f32], out_channels: usize, in_channels: usize) -> Vec<Vec<f32>> {
    let mut u = vec![vec![0.0f32; out_channels * in_channels]; T * T];
    for o in 0..out_channels {
        for i in 0..in_channels {
            let g = &weight[(o * in_channels + i) * 9..][..9];
            // G g Gᵀ in f64.
            let mut gg = [[0.0f64; 3]; 6];
            for (r, row) in gg.iter_mut().enumerate() {
                for (c, v) in row.iter_mut().enumerate() {
                    *v = (0..3).map(|k| G[r][k] * f64::from(g[k * 3 + c])).sum();
                }
            }
            for r in 0..T {
                for c in 0..T {
                    let v: f64 = (0..3).map(|k| gg[r][k] * G[c][k]).sum();
                    u[r * T + c][o * in_channels + i] = v as f32;
                }
            }
        }
    }
    u
}

type Vec4 = [f32; LANES];

#[inline(always)]
fn lanes(f: impl Fn(usize) -> f32) -> Vec4 {
    std::array::from_fn(f)
}

/// `Bᵀ d` for one column of six vectors (the rows of Bᵀ written out; a test compares them with
/// the matrix).
#[inline(always)]
fn input_column(d: &[Vec4; T]) -> [Vec4; T] {
    [
        lanes(|l| 4.0 * d[0][l] - 5.0 * d[2][l] + d[4][l]),
        lanes(|l| -4.0 * d[1][l] - 4.0 * d[2][l] + d[3][l] + d[4][l]),
        lanes(|l| 4.0 * d[1][l] - 4.0 * d[2][l] - d[3][l] + d[4][l]),
        lanes(|l| -2.0 * d[1][l] - d[2][l] + 2.0 * d[3][l] + d[4][l]),
        lanes(|l| 2.0 * d[1][l] - d[2][l] - 2.0 * d[3][l] + d[4][l]),
        lanes(|l| 4.0 * d[1][l] - 5.0 * d[3][l] + d[5][l]),
    ]
}

/// `Aᵀ m` for one column of six vectors (the rows of Aᵀ written out).
#[inline(always)]
fn output_column(m: &[Vec4; T]) -> [Vec4; M] {
    [
        lanes(|l| m[0][l] + m[1][l] + m[2][l] + m[3][l] + m[4][l]),
        lanes(|l| m[1][l] - m[2][l] + 2.0 * m[3][l] - 2.0 * m[4][l]),
        lanes(|l| m[1][l] + m[2][l] + 4.0 * m[3][l] + 4.0 * m[4][l]),
        lanes(|l| m[1][l] - m[2][l] + 8.0 * m[3][l] - 8.0 * m[4][l] + m[5][l]),
    ]
}

/// Stage 1: `v` (`[in block][36][tiles][4]`) from the source tensor.
pub(crate) fn transform_input(g: &Geometry, src: &[f32], v: &mut [f32]) {
    let tiles = g.tiles();
    let s = g.src;
    v.par_chunks_mut(T * T * tiles * LANES).enumerate().for_each(|(block, out)| {
        for n in 0..g.dst.batch {
            for ty in 0..g.tiles_h {
                for tx in 0..g.tiles_w {
                    let t = (n * g.tiles_h + ty) * g.tiles_w + tx;
                    let mut d = [[[0.0f32; LANES]; T]; T];
                    for (i, row) in d.iter_mut().enumerate() {
                        let y = (ty * M + i) as isize - g.pad[0] as isize;
                        if y < 0 || y >= s.height as isize {
                            continue;
                        }
                        for (j, px) in row.iter_mut().enumerate() {
                            let x = (tx * M + j) as isize - g.pad[1] as isize;
                            if x >= 0 && x < s.width as isize {
                                let at = s.offset(n, block, y, x) as usize;
                                px.copy_from_slice(&src[at..at + LANES]);
                            }
                        }
                    }
                    // Bᵀ d B: rows first, then columns.
                    let mut rows = [[[0.0f32; LANES]; T]; T];
                    for j in 0..T {
                        let column: [Vec4; T] = std::array::from_fn(|i| d[i][j]);
                        let transformed = input_column(&column);
                        for i in 0..T {
                            rows[i][j] = transformed[i];
                        }
                    }
                    for (i, row) in rows.iter().enumerate() {
                        let transformed = input_column(row);
                        for (j, value) in transformed.iter().enumerate() {
                            let at = ((i * T + j) * tiles + t) * LANES;
                            out[at..at + LANES].copy_from_slice(value);
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
            let b: Vec4 = std::array::from_fn(|lane| bias[block * LANES + lane]);
            for ty in 0..g.tiles_h {
                for tx in 0..g.tiles_w {
                    let t = (n * g.tiles_h + ty) * g.tiles_w + tx;
                    let read = |i: usize, j: usize| -> Vec4 {
                        let at = ((i * T + j) * tiles + t) * LANES;
                        std::array::from_fn(|lane| mb[at + lane])
                    };
                    let columns: [[Vec4; M]; T] = std::array::from_fn(|j| {
                        let column: [Vec4; T] = std::array::from_fn(|i| read(i, j));
                        output_column(&column)
                    });
                    let half: [[Vec4; T]; M] = std::array::from_fn(|i| std::array::from_fn(|j| columns[j][i]));
                    for (i, row) in half.iter().enumerate() {
                        let y = ty * M + i;
                        if y >= d.height {
                            break;
                        }
                        let values = output_column(row);
                        for (j, value) in values.iter().enumerate() {
                            let x = tx * M + j;
                            if x >= d.width {
                                break;
                            }
                            let mut out: Vec4 = std::array::from_fn(|lane| value[lane] + b[lane]);
                            for op in epilogue {
                                match op {
                                    Epilogue::Act(act) => out.iter_mut().for_each(|v| *v = act.apply(*v)),
                                    Epilogue::Residual(_) => {
                                        let (r, layout) = residual.expect("a residual epilogue has its buffer");
                                        let at = layout.offset(n, block, y as isize, x as isize) as usize;
                                        out.iter_mut().zip(&r[at..at + LANES]).for_each(|(v, r)| *v += r);
                                    }
                                }
                            }
                            let at = ((y + d.halo[0]) * d.row_stride()) + (x + d.halo[2]) * LANES;
                            plane[at..at + LANES].copy_from_slice(&out);
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
            let unit: [Vec4; T] = std::array::from_fn(|i| [if i == k { 1.0 } else { 0.0 }; LANES]);
            let b = input_column(&unit);
            let a = output_column(&unit);
            for r in 0..T {
                assert_eq!(f64::from(b[r][0]), BT[r][k], "Bᵀ[{r}][{k}]");
            }
            for r in 0..M {
                assert_eq!(f64::from(a[r][0]), AT[r][k], "Aᵀ[{r}][{k}]");
            }
        }
    }
}
