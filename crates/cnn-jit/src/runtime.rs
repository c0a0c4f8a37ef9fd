//! The only place that touches raw memory: turning generated code into callable functions and
//! calling them on the arena, serially or split among rayon's threads.
//!
//! Soundness rests on three facts established before any call: (1) every kernel's extents
//! (the lowest and highest float offset it can touch in each buffer, computed from its spec when
//! it was compiled) lie inside the slices it is given, which [`call`] asserts; (2) the
//! destination slice does not overlap any source slice (it comes from [`crate::host::split`],
//! which checks it); (3) different tasks write different output rows, so threads that run
//! disjoint task ranges never write the same element.

#![allow(unsafe_code)]

use crate::codegen::{Extent, KernelFn};
use rayon::prelude::*;

/// The callable entry point of finalized code.
pub(crate) fn entry_point(code: *const u8) -> KernelFn {
    // SAFETY: `code` is the address of a function that `CodeCache` compiled with exactly the
    // `KernelFn` signature (five pointers, two i64, no return value, the platform's C calling
    // convention, which is Cranelift's default for the host ISA) and finalized; the module that
    // owns the code lives as long as the `Executable` holding the pointer.
    unsafe { std::mem::transmute::<*const u8, KernelFn>(code) }
}

/// A raw pointer that may cross to another thread (see the module docs for why that is sound).
#[derive(Clone, Copy)]
struct Shared<T>(T);
// SAFETY: only used for the destination pointer of one kernel call, whose task ranges write
// disjoint elements, and for read-only source pointers.
unsafe impl<T> Send for Shared<T> {}
// SAFETY: as above.
unsafe impl<T> Sync for Shared<T> {}

/// The buffers of one kernel call.
pub(crate) struct Buffers<'a> {
    pub(crate) src: &'a [f32],
    pub(crate) weight: &'a [f32],
    pub(crate) bias: &'a [f32],
    pub(crate) residual: Option<&'a [f32]>,
    pub(crate) dst: &'a mut [f32],
}

/// Run tasks `0..tasks` of `kernel`; split among threads when `parallel`.
pub(crate) fn call(kernel: KernelFn, extents: &[Extent; 5], tasks: usize, buffers: Buffers<'_>, parallel: bool) {
    let residual = buffers.residual.unwrap_or(&[]);
    let lens = [buffers.src.len(), buffers.weight.len(), buffers.bias.len(), residual.len(), buffers.dst.len()];
    for (extent, len) in extents.iter().zip(lens) {
        assert!(extent.max_end == 0 || extent.fits(len), "kernel extent {extent:?} outside a buffer of {len} floats");
    }
    let ptrs = Shared((
        buffers.src.as_ptr(),
        buffers.weight.as_ptr(),
        buffers.bias.as_ptr(),
        residual.as_ptr(),
        buffers.dst.as_mut_ptr(),
    ));
    let run = move |begin: usize, end: usize| {
        let p = ptrs;
        let (src, weight, bias, residual, dst) = p.0;
        // SAFETY: see the module docs: the extents were just checked against these slices, the
        // destination is disjoint from the sources, and `begin..end` is a sub-range of the
        // kernel's tasks whose writes no other concurrent call shares.
        unsafe { kernel(src, weight, bias, residual, dst, begin as u64, end as u64) }
    };
    let threads = rayon::current_num_threads();
    if !parallel || threads < 2 || tasks < 2 {
        run(0, tasks);
        return;
    }
    let chunks = tasks.min(threads * 4);
    (0..chunks).into_par_iter().for_each(|c| run(c * tasks / chunks, (c + 1) * tasks / chunks));
}

/// The 36 matrix products of a Winograd convolution as one parallel job: product `p` runs
/// `kernel` with source `src[p·stride..]`, weights `weights[p]` and destination
/// `dst[p·stride..]`, over all its tasks.
///
/// The destinations of different products interleave (product `p` writes row `p` of every
/// block of `[block][36][tiles][4]`), so they cannot be handed out as disjoint slices; the
/// argument is the kernel's write pattern instead: a product's kernel writes only row 0 of the
/// view it is given, i.e. row `p`, and its tasks write disjoint blocks of that row.
#[allow(clippy::too_many_arguments)] // the five buffers of a kernel call, plus how to split it
pub(crate) fn call_products(
    kernel: KernelFn,
    extents: &[Extent; 5],
    tasks: usize,
    src: &[f32],
    weights: &[Vec<f32>],
    bias: &[f32],
    dst: &mut [f32],
    stride: usize,
    parallel: bool,
) {
    for (p, weight) in weights.iter().enumerate() {
        let lens = [src.len() - p * stride, weight.len(), bias.len(), 0, dst.len() - p * stride];
        for (extent, len) in extents.iter().zip(lens) {
            assert!(
                extent.max_end == 0 || extent.fits(len),
                "kernel extent {extent:?} outside a buffer of {len} floats"
            );
        }
    }
    let base = Shared((src.as_ptr(), bias.as_ptr(), dst.as_mut_ptr()));
    let run = move |p: usize, begin: usize, end: usize| {
        let b = base;
        let (src, bias, dst) = b.0;
        // SAFETY: the extents of every product were checked above against the slices that
        // start at its offset; sources are read-only and disjoint from `dst`; product `p`'s
        // tasks `begin..end` write only row `p` of their blocks (see above), which no other
        // concurrent call writes.
        unsafe {
            kernel(
                src.add(p * stride),
                weights[p].as_ptr(),
                bias,
                std::ptr::null(),
                dst.add(p * stride),
                begin as u64,
                end as u64,
            )
        }
    };
    let threads = rayon::current_num_threads();
    if !parallel || threads < 2 {
        (0..weights.len()).for_each(|p| run(p, 0, tasks));
        return;
    }
    // Whole products per job, with tasks split only when there are fewer products than threads.
    let jobs = weights.len() * tasks.min(2);
    (0..jobs).into_par_iter().for_each(|j| {
        let (p, part) = (j / tasks.min(2), j % tasks.min(2));
        let parts = tasks.min(2);
        run(p, part * tasks / parts, (part + 1) * tasks / parts);
    });
}
