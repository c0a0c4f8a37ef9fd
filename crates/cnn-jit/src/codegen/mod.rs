//! Cranelift code generation: one function per distinct kernel specification, in one JIT module
//! per compiled model.
//!
//! Every kernel has the same signature, `(src, weight, bias, residual, dst, begin, end)`: five
//! buffer pointers and a range of tasks (a task is one output row of one block of output
//! channels of one sample), so the runtime can split the work among threads without knowing
//! what the kernel computes. Shapes, strides and offsets are constants baked into the code.
//!
//! Before emitting anything, each kernel's spec computes the lowest and highest float offset it
//! can touch in each buffer ([`Extent`]); compilation fails if those are outside the buffers the
//! plan gives it, and the runtime checks the buffers against the same extents before each
//! call. With [`CodegenOptions::bounds_checks`], every load and store additionally carries an
//! explicit check in the generated code that traps when its address leaves its buffer.

pub(crate) mod conv;
pub(crate) mod depthwise;
mod emit;

use cranelift_codegen::ir::{types, AbiParam};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{FuncId, Linkage, Module};
use std::collections::HashMap;
use std::fmt;

pub(crate) use emit::Extent;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CodegenOptions {
    /// Emit an explicit bounds check before every memory access of every kernel.
    pub bounds_checks: bool,
    /// Compute 3×3 stride-1 convolutions with Winograd F(4×4, 3×3) (4× fewer multiplications,
    /// slightly larger rounding error) where they have enough channels to profit.
    pub winograd: bool,
}

impl Default for CodegenOptions {
    fn default() -> Self {
        CodegenOptions { bounds_checks: false, winograd: true }
    }
}

/// Why a kernel could not be generated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CodegenError {
    /// The host ISA could not be set up.
    Isa(String),
    /// Cranelift rejected the function (a bug in the emitter).
    Cranelift(String),
    /// A kernel would touch memory outside a buffer (a bug in the plan or the emitter).
    OutOfBounds { kernel: String, buffer: &'static str, extent: Extent, len: usize },
}

impl fmt::Display for CodegenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CodegenError::Isa(e) => write!(f, "cannot set up code generation for this CPU: {e}"),
            CodegenError::Cranelift(e) => write!(f, "code generation failed: {e}"),
            CodegenError::OutOfBounds { kernel, buffer, extent, len } => write!(
                f,
                "kernel {kernel} would access {buffer}[{}..{}] of a buffer of {len} floats",
                extent.min, extent.max_end
            ),
        }
    }
}

impl std::error::Error for CodegenError {}

/// The signature every kernel has (see the module docs).
pub(crate) type KernelFn = unsafe extern "C" fn(*const f32, *const f32, *const f32, *const f32, *mut f32, u64, u64);

/// A kernel specification that can be compiled: its cache key is the spec itself.
pub(crate) trait KernelSpec: fmt::Debug {
    fn key(&self) -> String;
    /// Float extents touched in (src, weight, bias, residual, dst).
    fn extents(&self) -> [Extent; 5];
    fn emit(&self, e: &mut emit::Emitter<'_>);
}

/// A JIT module with a cache of compiled kernels.
pub(crate) struct CodeCache {
    module: JITModule,
    compiled: HashMap<String, FuncId>,
    options: CodegenOptions,
    /// Distinct kernels compiled, and requests served from the cache.
    pub(crate) misses: usize,
    pub(crate) hits: usize,
    /// Time spent generating code.
    pub(crate) codegen_time: std::time::Duration,
}

impl CodeCache {
    pub(crate) fn new(options: CodegenOptions) -> Result<CodeCache, CodegenError> {
        let mut flags = settings::builder();
        flags.set("opt_level", "none").map_err(|e| CodegenError::Isa(e.to_string()))?;
        let isa_builder = cranelift_native::builder().map_err(|e| CodegenError::Isa(e.to_string()))?;
        let isa = isa_builder.finish(settings::Flags::new(flags)).map_err(|e| CodegenError::Isa(e.to_string()))?;
        let module = JITModule::new(JITBuilder::with_isa(isa, cranelift_module::default_libcall_names()));
        Ok(CodeCache {
            module,
            compiled: HashMap::new(),
            options,
            misses: 0,
            hits: 0,
            codegen_time: std::time::Duration::ZERO,
        })
    }

    /// The function for `spec`, compiled now unless an identical one was, with its extents,
    /// after checking them against buffers of `lens` floats (src, weight, bias, residual, dst).
    pub(crate) fn get(
        &mut self,
        spec: &dyn KernelSpec,
        lens: [usize; 5],
    ) -> Result<(FuncId, [Extent; 5]), CodegenError> {
        let extents = spec.extents();
        for ((extent, len), buffer) in extents.iter().zip(lens).zip(["src", "weight", "bias", "residual", "dst"]) {
            if extent.max_end != 0 && !extent.fits(len) {
                return Err(CodegenError::OutOfBounds { kernel: spec.key(), buffer, extent: *extent, len });
            }
        }
        Ok((self.compile(spec)?, extents))
    }

    fn compile(&mut self, spec: &dyn KernelSpec) -> Result<FuncId, CodegenError> {
        let key = spec.key();
        if let Some(&id) = self.compiled.get(&key) {
            self.hits += 1;
            return Ok(id);
        }
        self.misses += 1;
        let start = std::time::Instant::now();
        let ptr = self.module.target_config().pointer_type();
        let mut ctx = self.module.make_context();
        for _ in 0..5 {
            ctx.func.signature.params.push(AbiParam::new(ptr));
        }
        ctx.func.signature.params.push(AbiParam::new(types::I64));
        ctx.func.signature.params.push(AbiParam::new(types::I64));
        let mut builder_ctx = cranelift_frontend::FunctionBuilderContext::new();
        {
            let builder = cranelift_frontend::FunctionBuilder::new(&mut ctx.func, &mut builder_ctx);
            let mut emitter = emit::Emitter::new(builder, self.options.bounds_checks, spec.extents());
            spec.emit(&mut emitter);
            emitter.finish(self.module.isa().frontend_config());
        }
        let name = format!("k{}", self.compiled.len());
        let id = self
            .module
            .declare_function(&name, Linkage::Local, &ctx.func.signature)
            .map_err(|e| CodegenError::Cranelift(e.to_string()))?;
        let disasm = std::env::var_os("CNNC_JIT_DISASM").is_some();
        ctx.set_disasm(disasm);
        self.module.define_function(id, &mut ctx).map_err(|e| CodegenError::Cranelift(format!("{key}: {e:?}")))?;
        if disasm {
            let code = ctx.compiled_code().and_then(|c| c.vcode.clone()).unwrap_or_default();
            eprintln!("; {key}\n{code}");
        }
        self.module.clear_context(&mut ctx);
        self.compiled.insert(key, id);
        self.codegen_time += start.elapsed();
        Ok(id)
    }

    /// Make every compiled function callable; returns their entry points.
    pub(crate) fn finalize(&mut self) -> Result<HashMap<FuncId, KernelFn>, CodegenError> {
        self.module.finalize_definitions().map_err(|e| CodegenError::Cranelift(e.to_string()))?;
        let mut entries = HashMap::new();
        for &id in &self.compiled.values().copied().collect::<Vec<_>>() {
            let code = self.module.get_finalized_function(id);
            entries.insert(id, crate::runtime::entry_point(code));
        }
        Ok(entries)
    }
}
