//! Direct convolution on channel-blocked tensors, register-blocked: each tile keeps
//! `ocb` blocks of four output channels × `rx` output pixels of one row in f32x4 accumulators.
//! For every input channel and kernel tap, the tile loads `ocb` weight vectors (packed at compile
//! time in exactly the order they are read), broadcasts `rx` input values, and issues
//! `ocb × rx` FMAs. The input has a zero halo as wide as the padding, so the loops have no
//! border cases; the input-channel and kernel-row loops run at run time, the kernel columns and
//! the four channels of a block are unrolled.
//!
//! Input channels need not fill whole blocks (an RGB image has 3): the last block's missing
//! lanes are simply not read. Grouped convolutions are compiled here when every group spans
//! whole blocks of input and output channels; depthwise ones have their own kernel.

use super::emit::{Buf, Emitter, Extent};
use super::KernelSpec;
use cnn_opt::{Blocked, LANES};
use cranelift_codegen::ir::{InstBuilder, Value};

/// What the epilogue does to each accumulator after the bias, in order.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum EpiOp {
    Relu,
    Relu6,
    Leaky(f32),
    /// Add the residual buffer's element at the same position.
    Residual,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ConvSpec {
    pub(crate) groups: usize,
    /// Input channels per group.
    pub(crate) in_per_group: usize,
    /// Output channel blocks per group (the last group's may include padding lanes).
    pub(crate) blocks_per_group: usize,
    pub(crate) kernel: [usize; 2],
    pub(crate) stride: [usize; 2],
    pub(crate) dilation: [usize; 2],
    /// Top and left padding (bottom and right padding are in the halo or never read).
    pub(crate) pad: [usize; 2],
    pub(crate) src: Blocked,
    pub(crate) dst: Blocked,
    pub(crate) res: Option<Blocked>,
    pub(crate) epilogue: Vec<EpiOp>,
    /// Output blocks per tile.
    pub(crate) ocb: usize,
    /// Output pixels per tile.
    pub(crate) rx: usize,
}

impl ConvSpec {
    /// Tiles of `ocb` blocks across all output blocks.
    pub(crate) fn block_tiles(&self) -> usize {
        self.dst.blocks() / self.ocb
    }

    /// One task per (sample, block tile, output row).
    pub(crate) fn tasks(&self) -> usize {
        self.dst.batch * self.block_tiles() * self.dst.height
    }

    /// Floats of packed weight per block tile.
    fn weights_per_tile(&self) -> usize {
        self.in_per_group * self.kernel[0] * self.kernel[1] * self.ocb * LANES
    }

    /// Pack OIHW weights (`[out, in/groups, kh, kw]`, `out_channels` real filters) into the
    /// order the kernel reads: `[tile][in][ky][kx][block in tile][lane]`, zero for padding lanes.
    pub(crate) fn pack_weights(&self, weight: &[f32], out_channels: usize) -> Vec<f32> {
        let [kh, kw] = self.kernel;
        let taps = kh * kw;
        use rayon::prelude::*;
        let mut packed = vec![0.0; self.block_tiles() * self.weights_per_tile()];
        packed.par_chunks_mut(self.weights_per_tile().max(1)).enumerate().for_each(|(tile, packed)| {
            for ic in 0..self.in_per_group {
                for tap in 0..taps {
                    for o in 0..self.ocb {
                        for lane in 0..LANES {
                            let oc = (tile * self.ocb + o) * LANES + lane;
                            if oc >= out_channels {
                                continue;
                            }
                            let at = ((ic * taps + tap) * self.ocb + o) * LANES + lane;
                            packed[at] = weight[(oc * self.in_per_group + ic) * taps + tap];
                        }
                    }
                }
            }
        });
        packed
    }

    /// Offset of the first input value read for output `(n, row oy, column ox)` of `group`, lane 0.
    fn src_origin(&self, n: usize, group_block: usize, oy: usize, ox: usize) -> i64 {
        self.src.offset(
            n,
            group_block,
            (oy * self.stride[0]) as isize - self.pad[0] as isize,
            (ox * self.stride[1]) as isize - self.pad[1] as isize,
        ) as i64
    }
}

/// Extent of an output-shaped buffer (destination or residual): whole vectors of every block.
pub(crate) fn output_extent(layout: &Blocked) -> Extent {
    let first = layout.offset(0, 0, 0, 0) as i64;
    let last =
        layout.offset(layout.batch - 1, layout.blocks() - 1, layout.height as isize - 1, layout.width as isize - 1);
    Extent::span(first, last as i64, LANES as i64)
}

impl KernelSpec for ConvSpec {
    fn key(&self) -> String {
        format!("{self:?}")
    }

    fn extents(&self) -> [Extent; 5] {
        let (n, oy, ox) = (self.dst.batch - 1, self.dst.height - 1, self.dst.width - 1);
        let last_channel = self.src.channels - 1;
        let max_src = self.src_origin(n, last_channel / LANES, oy, ox)
            + ((self.kernel[0] - 1) * self.dilation[0] * self.src.row_stride()) as i64
            + ((self.kernel[1] - 1) * self.dilation[1] * LANES) as i64
            + (last_channel % LANES) as i64;
        let src = Extent::span(self.src_origin(0, 0, 0, 0), max_src, 1);
        let weight = Extent { min: 0, max_end: (self.block_tiles() * self.weights_per_tile()) as i64 };
        let bias = Extent { min: 0, max_end: (self.dst.blocks() * LANES) as i64 };
        let res = self.res.as_ref().map_or(Extent::UNUSED, output_extent);
        [src, weight, bias, res, output_extent(&self.dst)]
    }

    fn emit(&self, e: &mut Emitter<'_>) {
        let (oh, ow) = (self.dst.height, self.dst.width);
        let tiles = self.block_tiles();
        let tiles_per_group = self.blocks_per_group / self.ocb;
        e.for_each_task(|e, t| {
            let per_sample = (tiles * oh) as i64;
            let n = e.b.ins().udiv_imm_u(t, per_sample);
            let rest = e.b.ins().urem_imm_u(t, per_sample);
            let tile = e.b.ins().udiv_imm_u(rest, oh as i64);
            let oy = e.b.ins().urem_imm_u(rest, oh as i64);
            // Input: sample n, the group's first block, row oy·stride − pad, column −pad.
            let group = if self.groups > 1 { Some(e.b.ins().udiv_imm_u(tile, tiles_per_group as i64)) } else { None };
            let mut src = e.base(Buf::Src);
            src = e.offset(src, self.src_origin(0, 0, 0, 0));
            src = e.advance(src, n, self.src.sample_stride());
            if let Some(g) = group {
                src = e.advance(src, g, self.in_per_group / LANES * self.src.block_stride());
            }
            src = e.advance(src, oy, self.stride[0] * self.src.row_stride());
            let weight = e.advance(e.base(Buf::Weight), tile, self.weights_per_tile());
            let bias = e.advance(e.base(Buf::Bias), tile, self.ocb * LANES);
            let out_row = |e: &mut Emitter<'_>, buf: Buf, layout: &Blocked| {
                let mut p = e.offset(e.base(buf), layout.offset(0, 0, 0, 0) as i64);
                p = e.advance(p, n, layout.sample_stride());
                p = e.advance(p, tile, self.ocb * layout.block_stride());
                e.advance(p, oy, layout.row_stride())
            };
            let dst = out_row(e, Buf::Dst, &self.dst);
            let res = self.res.as_ref().map(|r| out_row(e, Buf::Residual, r));
            let full = ow / self.rx;
            let row = Row { src, weight, bias, dst, res };
            e.counted(full, |e, x| {
                let src = e.advance(row.src, x, self.rx * self.stride[1] * LANES);
                let dst = e.advance(row.dst, x, self.rx * LANES);
                let res = row.res.map(|r| e.advance(r, x, self.rx * LANES));
                self.tile(e, self.rx, Row { src, dst, res, ..row });
            });
            let tail = ow % self.rx;
            if tail > 0 {
                let x0 = (full * self.rx) as i64;
                let src = e.offset(row.src, x0 * (self.stride[1] * LANES) as i64);
                let dst = e.offset(row.dst, x0 * LANES as i64);
                let res = row.res.map(|r| e.offset(r, x0 * LANES as i64));
                self.tile(e, tail, Row { src, dst, res, ..row });
            }
        });
    }
}

/// Pointers to the start of one tile (or row) in each buffer.
#[derive(Clone, Copy)]
struct Row {
    src: Value,
    weight: Value,
    bias: Value,
    dst: Value,
    res: Option<Value>,
}

impl ConvSpec {
    fn tile(&self, e: &mut Emitter<'_>, rx: usize, at: Row) {
        let [kh, kw] = self.kernel;
        let ocb = self.ocb;
        let mut acc = Vec::with_capacity(ocb * rx);
        for o in 0..ocb {
            let bias = e.load_vec(Buf::Bias, at.bias, (o * LANES) as i64);
            for _ in 0..rx {
                let var = e.b.declare_var(cranelift_codegen::ir::types::F32X4);
                e.b.def_var(var, bias);
                acc.push(var);
            }
        }
        let full_blocks = self.in_per_group / LANES;
        let tail_lanes = self.in_per_group % LANES;
        let per_channel = kh * kw * ocb * LANES;
        let taps = |e: &mut Emitter<'_>, src: Value, weight: Value, lanes: usize| {
            e.counted(kh, |e, ky| {
                let src = e.advance(src, ky, self.dilation[0] * self.src.row_stride());
                let weight = e.advance(weight, ky, kw * ocb * LANES);
                for kx in 0..kw {
                    for lane in 0..lanes {
                        let w_at = (lane * per_channel + kx * ocb * LANES) as i64;
                        let w: Vec<Value> =
                            (0..ocb).map(|o| e.load_vec(Buf::Weight, weight, w_at + (o * LANES) as i64)).collect();
                        for x in 0..rx {
                            let at = ((x * self.stride[1] + kx * self.dilation[1]) * LANES + lane) as i64;
                            for (o, &wv) in w.iter().enumerate() {
                                // One broadcast per use: x64 folds a load used once into
                                // `vbroadcastss mem`, and a value that dies at its FMA needs no
                                // copy for the FMA's tied operand: two instructions per FMA.
                                let v = e.load_splat(Buf::Src, src, at);
                                let var = acc[o * rx + x];
                                let sum = e.b.use_var(var);
                                let sum = e.b.ins().fma(v, wv, sum);
                                e.b.def_var(var, sum);
                            }
                        }
                    }
                }
            });
        };
        e.counted(full_blocks, |e, block| {
            let src = e.advance(at.src, block, self.src.block_stride());
            let weight = e.advance(at.weight, block, LANES * per_channel);
            taps(e, src, weight, LANES);
        });
        if tail_lanes > 0 {
            let src = e.offset(at.src, (full_blocks * self.src.block_stride()) as i64);
            let weight = e.offset(at.weight, (full_blocks * LANES * per_channel) as i64);
            taps(e, src, weight, tail_lanes);
        }
        for o in 0..ocb {
            for x in 0..rx {
                let value = e.b.use_var(acc[o * rx + x]);
                let res_at = self.res.map(|r| (o * r.block_stride() + x * LANES) as i64);
                let value = epilogue(e, &self.epilogue, value, at.res, res_at);
                e.store_vec(Buf::Dst, value, at.dst, (o * self.dst.block_stride() + x * LANES) as i64);
            }
        }
    }
}

/// Apply `ops` to one output vector; `res` and `res_at` locate the residual element.
pub(crate) fn epilogue(
    e: &mut Emitter<'_>,
    ops: &[EpiOp],
    mut value: Value,
    res: Option<Value>,
    res_at: Option<i64>,
) -> Value {
    for op in ops {
        value = match *op {
            EpiOp::Relu => {
                let zero = e.splat_const(0.0);
                e.b.ins().fmax(value, zero)
            }
            EpiOp::Relu6 => {
                let zero = e.splat_const(0.0);
                let six = e.splat_const(6.0);
                let low = e.b.ins().fmax(value, zero);
                e.b.ins().fmin(low, six)
            }
            EpiOp::Leaky(slope) => {
                let zero = e.splat_const(0.0);
                let s = e.splat_const(slope);
                let scaled = e.b.ins().fmul(value, s);
                let negative = e.b.ins().fcmp(cranelift_codegen::ir::condcodes::FloatCC::LessThan, value, zero);
                let mask = e.b.ins().bitcast(
                    cranelift_codegen::ir::types::F32X4,
                    cranelift_codegen::ir::MemFlagsData::new(),
                    negative,
                );
                e.b.ins().bitselect(mask, scaled, value)
            }
            EpiOp::Residual => {
                let (Some(res), Some(at)) = (res, res_at) else { continue };
                let r = e.load_vec(Buf::Residual, res, at);
                e.b.ins().fadd(value, r)
            }
        };
    }
    value
}
