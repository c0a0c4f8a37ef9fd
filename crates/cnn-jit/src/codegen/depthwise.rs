//! Depthwise convolution (one filter per channel) on channel-blocked tensors: each output vector
//! is four channels of one pixel, the sum over kernel taps of an input vector times a weight
//! vector, so no broadcasts are needed. A tile holds `rx` output pixels of one row; all taps are
//! unrolled.

use super::conv::{epilogue, output_extent, EpiOp};
use super::emit::{Buf, Emitter, Extent};
use super::KernelSpec;
use cnn_opt::{Blocked, LANES};
use cranelift_codegen::ir::{InstBuilder, Value};

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct DepthwiseSpec {
    pub(crate) kernel: [usize; 2],
    pub(crate) stride: [usize; 2],
    pub(crate) dilation: [usize; 2],
    pub(crate) pad: [usize; 2],
    pub(crate) src: Blocked,
    pub(crate) dst: Blocked,
    pub(crate) res: Option<Blocked>,
    pub(crate) epilogue: Vec<EpiOp>,
    pub(crate) rx: usize,
}

impl DepthwiseSpec {
    pub(crate) fn tasks(&self) -> usize {
        self.dst.batch * self.dst.blocks() * self.dst.height
    }

    /// `[channels, 1, kh, kw]` weights into `[block][ky][kx][lane]`.
    pub(crate) fn pack_weights(&self, weight: &[f32], channels: usize) -> Vec<f32> {
        let taps = self.kernel[0] * self.kernel[1];
        let mut packed = vec![0.0; self.dst.blocks() * taps * LANES];
        for c in 0..channels {
            for tap in 0..taps {
                packed[((c / LANES) * taps + tap) * LANES + c % LANES] = weight[c * taps + tap];
            }
        }
        packed
    }

    fn src_origin(&self, n: usize, block: usize, oy: usize, ox: usize) -> i64 {
        self.src.offset(
            n,
            block,
            (oy * self.stride[0]) as isize - self.pad[0] as isize,
            (ox * self.stride[1]) as isize - self.pad[1] as isize,
        ) as i64
    }
}

impl KernelSpec for DepthwiseSpec {
    fn key(&self) -> String {
        format!("{self:?}")
    }

    fn extents(&self) -> [Extent; 5] {
        let d = &self.dst;
        let max_src = self.src_origin(d.batch - 1, d.blocks() - 1, d.height - 1, d.width - 1)
            + ((self.kernel[0] - 1) * self.dilation[0] * self.src.row_stride()) as i64
            + ((self.kernel[1] - 1) * self.dilation[1] * LANES) as i64;
        let taps = self.kernel[0] * self.kernel[1];
        [
            Extent::span(self.src_origin(0, 0, 0, 0), max_src, LANES as i64),
            Extent { min: 0, max_end: (d.blocks() * taps * LANES) as i64 },
            Extent { min: 0, max_end: (d.blocks() * LANES) as i64 },
            self.res.as_ref().map_or(Extent::UNUSED, output_extent),
            output_extent(d),
        ]
    }

    fn emit(&self, e: &mut Emitter<'_>) {
        let (oh, ow) = (self.dst.height, self.dst.width);
        let blocks = self.dst.blocks();
        let taps = self.kernel[0] * self.kernel[1];
        e.for_each_task(|e, t| {
            let per_sample = (blocks * oh) as i64;
            let n = e.b.ins().udiv_imm_u(t, per_sample);
            let rest = e.b.ins().urem_imm_u(t, per_sample);
            let block = e.b.ins().udiv_imm_u(rest, oh as i64);
            let oy = e.b.ins().urem_imm_u(rest, oh as i64);
            let mut src = e.offset(e.base(Buf::Src), self.src_origin(0, 0, 0, 0));
            src = e.advance(src, n, self.src.sample_stride());
            src = e.advance(src, block, self.src.block_stride());
            src = e.advance(src, oy, self.stride[0] * self.src.row_stride());
            let weight = e.advance(e.base(Buf::Weight), block, taps * LANES);
            let bias = e.advance(e.base(Buf::Bias), block, LANES);
            let out_row = |e: &mut Emitter<'_>, buf: Buf, layout: &Blocked| {
                let mut p = e.offset(e.base(buf), layout.offset(0, 0, 0, 0) as i64);
                p = e.advance(p, n, layout.sample_stride());
                p = e.advance(p, block, layout.block_stride());
                e.advance(p, oy, layout.row_stride())
            };
            let dst = out_row(e, Buf::Dst, &self.dst);
            let res = self.res.as_ref().map(|r| out_row(e, Buf::Residual, r));
            let full = ow / self.rx;
            e.counted(full, |e, x| {
                let s = e.advance(src, x, self.rx * self.stride[1] * LANES);
                let d = e.advance(dst, x, self.rx * LANES);
                let r = res.map(|r| e.advance(r, x, self.rx * LANES));
                self.tile(e, self.rx, [s, weight, bias, d], r);
            });
            let tail = ow % self.rx;
            if tail > 0 {
                let x0 = (full * self.rx) as i64;
                let s = e.offset(src, x0 * (self.stride[1] * LANES) as i64);
                let d = e.offset(dst, x0 * LANES as i64);
                let r = res.map(|r| e.offset(r, x0 * LANES as i64));
                self.tile(e, tail, [s, weight, bias, d], r);
            }
        });
    }
}

impl DepthwiseSpec {
    fn tile(&self, e: &mut Emitter<'_>, rx: usize, [src, weight, bias, dst]: [Value; 4], res: Option<Value>) {
        let [kh, kw] = self.kernel;
        let b = e.load_vec(Buf::Bias, bias, 0);
        let mut acc = vec![b; rx];
        for ky in 0..kh {
            for kx in 0..kw {
                let w = e.load_vec(Buf::Weight, weight, ((ky * kw + kx) * LANES) as i64);
                for (x, sum) in acc.iter_mut().enumerate() {
                    let at = (ky * self.dilation[0] * self.src.row_stride()
                        + (x * self.stride[1] + kx * self.dilation[1]) * LANES) as i64;
                    let v = e.load_vec(Buf::Src, src, at);
                    *sum = e.b.ins().fma(v, w, *sum);
                }
            }
        }
        for (x, &value) in acc.iter().enumerate() {
            let at = (x * LANES) as i64;
            let value = epilogue(e, &self.epilogue, value, res, Some(at));
            e.store_vec(Buf::Dst, value, dst, at);
        }
    }
}
