//! Activation layouts. A [`Blocked`] tensor stores `[N, ⌈C/4⌉, H + halo, W + halo, 4]`: the
//! channel dimension is split into blocks of [`LANES`] that sit innermost, so a 128-bit vector
//! load reads one pixel of four channels. Missing channels of the last block are zero, as is the
//! halo around each plane; the code that writes a tensor writes only its interior.

/// Channels per block: the f32 lanes of one 128-bit vector.
pub const LANES: usize = 4;

/// A channel-blocked image tensor with a zero border.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Blocked {
    pub batch: usize,
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    /// Zero rows and columns around each plane: `[top, bottom, left, right]`.
    pub halo: [usize; 4],
}

impl Blocked {
    pub fn blocks(&self) -> usize {
        self.channels.div_ceil(LANES)
    }

    /// Floats from one pixel to the next in a row.
    pub fn pixel_stride(&self) -> usize {
        LANES
    }

    pub fn row_stride(&self) -> usize {
        (self.width + self.halo[2] + self.halo[3]) * LANES
    }

    pub fn block_stride(&self) -> usize {
        (self.height + self.halo[0] + self.halo[1]) * self.row_stride()
    }

    pub fn sample_stride(&self) -> usize {
        self.blocks() * self.block_stride()
    }

    /// Floats in the whole tensor, or `None` if that does not fit a `usize`.
    pub fn checked_len(&self) -> Option<usize> {
        let padded_w = self.width.checked_add(self.halo[2])?.checked_add(self.halo[3])?;
        let padded_h = self.height.checked_add(self.halo[0])?.checked_add(self.halo[1])?;
        padded_w.checked_mul(LANES)?.checked_mul(padded_h)?.checked_mul(self.blocks())?.checked_mul(self.batch)
    }

    pub fn len(&self) -> usize {
        self.batch * self.sample_stride()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Offset of interior element `(n, c, y, x)`.
    pub fn index(&self, n: usize, c: usize, y: usize, x: usize) -> usize {
        n * self.sample_stride()
            + (c / LANES) * self.block_stride()
            + (y + self.halo[0]) * self.row_stride()
            + (x + self.halo[2]) * LANES
            + c % LANES
    }

    /// Offset of the (possibly halo) position `(y, x)` given relative to the interior origin,
    /// for sample `n`, block `block`, lane 0. `y` and `x` may be negative down to minus the halo.
    pub fn offset(&self, n: usize, block: usize, y: isize, x: isize) -> isize {
        (n * self.sample_stride() + block * self.block_stride()) as isize
            + (y + self.halo[0] as isize) * self.row_stride() as isize
            + (x + self.halo[2] as isize) * LANES as isize
    }

    /// The interior of an NCHW tensor's worth of values, in NCHW order, read out of `data`.
    pub fn to_nchw(&self, data: &[f32]) -> Vec<f32> {
        let mut out = Vec::with_capacity(self.batch * self.channels * self.height * self.width);
        for n in 0..self.batch {
            for c in 0..self.channels {
                for y in 0..self.height {
                    let row = self.index(n, c, y, 0);
                    out.extend((0..self.width).map(|x| data[row + x * LANES]));
                }
            }
        }
        out
    }

    /// Write NCHW values into the interior of `data` (the halo and padding lanes are untouched).
    pub fn write_nchw(&self, nchw: &[f32], data: &mut [f32]) {
        let mut values = nchw.iter();
        for n in 0..self.batch {
            for c in 0..self.channels {
                for y in 0..self.height {
                    let row = self.index(n, c, y, 0);
                    for x in 0..self.width {
                        data[row + x * LANES] = *values.next().expect("the NCHW tensor has the layout's size");
                    }
                }
            }
        }
    }

    /// Zero everything but the interior's real channels: the halo, and the padding lanes of the
    /// last block (kernels read both and rely on them being zero).
    pub fn clear_border(&self, data: &mut [f32]) {
        self.clear(data, true);
    }

    /// Zero the halo only, for steps that write all four lanes of every interior pixel.
    pub fn clear_halo(&self, data: &mut [f32]) {
        self.clear(data, false);
    }

    fn clear(&self, data: &mut [f32], lanes: bool) {
        let rs = self.row_stride();
        let (top, bottom, left) = (self.halo[0], self.halo[1], self.halo[2]);
        let padded_h = self.height + top + bottom;
        for n in 0..self.batch {
            for b in 0..self.blocks() {
                let plane = &mut data[n * self.sample_stride() + b * self.block_stride()..][..self.block_stride()];
                for y in 0..padded_h {
                    let row = &mut plane[y * rs..][..rs];
                    if y < top || y >= top + self.height {
                        row.fill(0.0);
                        continue;
                    }
                    row[..left * LANES].fill(0.0);
                    row[(left + self.width) * LANES..].fill(0.0);
                    let used = self.channels - b * LANES;
                    if lanes && used < LANES {
                        for px in row[left * LANES..(left + self.width) * LANES].chunks_exact_mut(LANES) {
                            px[used..].fill(0.0);
                        }
                    }
                }
            }
        }
    }
}

/// How one activation is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Layout {
    /// `[N, C, H, W]` tensors.
    Blocked(Blocked),
    /// `[N, F]` tensors, row-major.
    Flat { batch: usize, features: usize },
}

impl Layout {
    pub fn len(&self) -> usize {
        match self {
            Layout::Blocked(b) => b.len(),
            Layout::Flat { batch, features } => batch * features,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The NCHW / NF values of a tensor stored with this layout.
    pub fn to_plain(&self, data: &[f32]) -> Vec<f32> {
        match self {
            Layout::Blocked(b) => b.to_nchw(data),
            Layout::Flat { .. } => data[..self.len()].to_vec(),
        }
    }

    /// Store plain NCHW / NF values into `data`.
    pub fn write_plain(&self, plain: &[f32], data: &mut [f32]) {
        match self {
            Layout::Blocked(b) => b.write_nchw(plain, data),
            Layout::Flat { .. } => data[..plain.len()].copy_from_slice(plain),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nchw_round_trip_through_a_haloed_layout() {
        let layout = Blocked { batch: 2, channels: 5, height: 3, width: 2, halo: [1, 2, 0, 1] };
        let nchw: Vec<f32> = (0..2 * 5 * 3 * 2).map(|v| v as f32 + 1.0).collect();
        let mut data = vec![7.0; layout.len()];
        layout.write_nchw(&nchw, &mut data);
        layout.clear_border(&mut data);
        assert_eq!(layout.to_nchw(&data), nchw);
        // Everything outside the interior's real channels is zero: the sum is the values' sum.
        assert_eq!(data.iter().sum::<f32>(), nchw.iter().sum::<f32>());
        assert_eq!(layout.len(), 2 * 2 * (3 + 3) * (2 + 1) * 4);
    }
}
