//! The emitter shared by all kernels: the function's parameters, counted loops, and loads and
//! stores that carry an explicit bounds check when asked to.
//!
//! Loops count an `i64` held in a frontend variable (the frontend builds the SSA form); the
//! header tests and the body jumps back, for the reason given in [`Emitter::counted`].

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types, InstBuilder, MemFlagsData, TrapCode, Value};
use cranelift_codegen::isa::TargetFrontendConfig;
use cranelift_frontend::FunctionBuilder;

/// The float offsets a kernel may touch in one buffer: `min..max_end` (end exclusive). An
/// unused buffer has `max_end == 0`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Extent {
    pub min: i64,
    pub max_end: i64,
}

impl Extent {
    pub(crate) const UNUSED: Extent = Extent { min: 0, max_end: 0 };

    pub(crate) fn span(min: i64, max: i64, width: i64) -> Extent {
        Extent { min, max_end: max + width }
    }

    /// Whether every touched offset lies in a buffer of `len` floats.
    pub(crate) fn fits(&self, len: usize) -> bool {
        self.min >= 0 && self.max_end <= len as i64
    }
}

/// Which kernel parameter a pointer belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Buf {
    Src = 0,
    Weight = 1,
    Bias = 2,
    Residual = 3,
    Dst = 4,
}

pub(crate) struct Emitter<'a> {
    pub(crate) b: FunctionBuilder<'a>,
    params: Vec<Value>,
    checks: bool,
    extents: [Extent; 5],
    exit: cranelift_codegen::ir::Block,
}

fn flags() -> MemFlagsData {
    MemFlagsData::new().with_notrap()
}

impl<'a> Emitter<'a> {
    pub(crate) fn new(mut b: FunctionBuilder<'a>, checks: bool, extents: [Extent; 5]) -> Self {
        let entry = b.create_block();
        b.append_block_params_for_function_params(entry);
        b.switch_to_block(entry);
        let params = b.block_params(entry).to_vec();
        let exit = b.create_block();
        Emitter { b, params, checks, extents, exit }
    }

    pub(crate) fn base(&self, buf: Buf) -> Value {
        self.params[buf as usize]
    }

    /// `(begin, end)` of the task range.
    pub(crate) fn task_range(&self) -> (Value, Value) {
        (self.params[5], self.params[6])
    }

    pub(crate) fn finish(mut self, config: TargetFrontendConfig) {
        self.b.ins().jump(self.exit, &[]);
        self.b.switch_to_block(self.exit);
        self.b.ins().return_(&[]);
        self.b.seal_all_blocks();
        self.b.finalize(config);
    }

    /// For each task in `begin..end`: `body(task)`. Returns when the range is empty.
    pub(crate) fn for_each_task(&mut self, body: impl FnOnce(&mut Self, Value)) {
        let (begin, end) = self.task_range();
        let start = self.b.create_block();
        let after = self.b.create_block();
        let empty = self.b.ins().icmp(IntCC::UnsignedGreaterThanOrEqual, begin, end);
        self.b.ins().brif(empty, after, &[], start, &[]);
        self.b.switch_to_block(start);
        let task = self.b.declare_var(types::I64);
        self.b.def_var(task, begin);
        let head = self.b.create_block();
        self.b.ins().jump(head, &[]);
        self.b.switch_to_block(head);
        let t = self.b.use_var(task);
        body(self, t);
        let next = self.b.ins().iadd_imm_s(t, 1);
        self.b.def_var(task, next);
        let more = self.b.ins().icmp(IntCC::UnsignedLessThan, next, end);
        self.b.ins().brif(more, head, &[], after, &[]);
        self.b.switch_to_block(after);
    }

    /// `body(i)` for `i` in `0..count`, as a loop (or inline when `count` is 1).
    pub(crate) fn counted(&mut self, count: usize, mut body: impl FnMut(&mut Self, Value)) {
        if count == 0 {
            return;
        }
        if count == 1 {
            let zero = self.b.ins().iconst(types::I64, 0);
            body(self, zero);
            return;
        }
        // A top-tested loop: the header branches into the body or out, and the body jumps back
        // to the header. Values computed in the body then have one use (the back edge), and the
        // code after the loop reads the header's block parameters. (Had the body branched on
        // both edges itself, its results would count as used twice, and x64 lowering would stop
        // folding each broadcast's load into `vbroadcastss mem`.)
        let var = self.b.declare_var(types::I64);
        let zero = self.b.ins().iconst(types::I64, 0);
        self.b.def_var(var, zero);
        let head = self.b.create_block();
        let body_block = self.b.create_block();
        let after = self.b.create_block();
        self.b.ins().jump(head, &[]);
        self.b.switch_to_block(head);
        let i = self.b.use_var(var);
        let more = self.b.ins().icmp_imm_s(IntCC::UnsignedLessThan, i, count as i64);
        self.b.ins().brif(more, body_block, &[], after, &[]);
        self.b.switch_to_block(body_block);
        body(self, i);
        let next = self.b.ins().iadd_imm_s(i, 1);
        self.b.def_var(var, next);
        self.b.ins().jump(head, &[]);
        self.b.switch_to_block(after);
    }

    /// `base + index·stride_floats·4 bytes`.
    pub(crate) fn advance(&mut self, base: Value, index: Value, stride_floats: usize) -> Value {
        if stride_floats == 0 {
            return base;
        }
        let scaled = self.b.ins().imul_imm_s(index, (stride_floats * 4) as i64);
        self.b.ins().iadd(base, scaled)
    }

    /// `base + floats·4 bytes` for a constant.
    pub(crate) fn offset(&mut self, base: Value, floats: i64) -> Value {
        if floats == 0 {
            return base;
        }
        self.b.ins().iadd_imm_s(base, floats * 4)
    }

    fn check(&mut self, buf: Buf, addr: Value, floats: i64, width: i64) {
        if !self.checks {
            return;
        }
        let extent = self.extents[buf as usize];
        let rel = self.b.ins().isub(addr, self.params[buf as usize]);
        let first = self.b.ins().iadd_imm_s(rel, floats * 4);
        let below = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, first, extent.min * 4);
        self.b.ins().trapnz(below, TrapCode::HEAP_OUT_OF_BOUNDS);
        let end = self.b.ins().iadd_imm_s(first, width * 4);
        let above = self.b.ins().icmp_imm_s(IntCC::SignedGreaterThan, end, extent.max_end * 4);
        self.b.ins().trapnz(above, TrapCode::HEAP_OUT_OF_BOUNDS);
    }

    /// `addr + floats` as an address and the immediate byte offset of a load or store: the
    /// offset itself when it fits the instruction's 32 bits, otherwise added to the address
    /// first (a huge tensor's block stride can exceed 2³¹ bytes; truncating it would move the
    /// access outside the extents that were checked).
    fn address(&mut self, addr: Value, floats: i64) -> (Value, i32) {
        match i32::try_from(floats * 4) {
            Ok(bytes) => (addr, bytes),
            Err(_) => (self.b.ins().iadd_imm_s(addr, floats * 4), 0),
        }
    }

    /// Load a vector (4 floats) at `addr + floats`, from buffer `buf`.
    pub(crate) fn load_vec(&mut self, buf: Buf, addr: Value, floats: i64) -> Value {
        self.check(buf, addr, floats, 4);
        let (addr, bytes) = self.address(addr, floats);
        self.b.ins().load(types::F32X4, flags(), addr, bytes)
    }

    /// Load one float and broadcast it to a vector.
    pub(crate) fn load_splat(&mut self, buf: Buf, addr: Value, floats: i64) -> Value {
        self.check(buf, addr, floats, 1);
        let (addr, bytes) = self.address(addr, floats);
        let x = self.b.ins().load(types::F32, flags().with_readonly(), addr, bytes);
        self.b.ins().splat(types::F32X4, x)
    }

    pub(crate) fn store_vec(&mut self, buf: Buf, value: Value, addr: Value, floats: i64) {
        self.check(buf, addr, floats, 4);
        let (addr, bytes) = self.address(addr, floats);
        self.b.ins().store(flags(), value, addr, bytes);
    }

    pub(crate) fn splat_const(&mut self, value: f32) -> Value {
        let x = self.b.ins().f32const(value);
        self.b.ins().splat(types::F32X4, x)
    }
}
