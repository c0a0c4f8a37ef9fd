//! `cnnc`: the command line. It parses arguments, reads files, calls the library crates and
//! prints what they return; it is the only crate that touches the terminal or exits.
//!
//! Exit codes: 0 no errors (warnings allowed), 1 the model has errors (or does not fit its
//! weights or inputs' sizes; or, for `import` and `export`, cannot be translated), 2 a file
//! cannot be read or is malformed (including a malformed ONNX file), or the command line is
//! wrong.

mod batches;
mod bench_cmd;
mod check_cmd;
mod engine;
mod explain_cmd;
mod fmt_cmd;
mod graph_cmd;
mod inputs;
mod json;
mod onnx_cmd;
mod outputs;
mod preprocess;
mod report;
mod run_cmd;
mod weights;

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "cnnc",
    version,
    about = "A compiler for CNN architectures: checks shapes, explains errors, runs models"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// `run` has many flags; the enum is built once per process, so its size does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Type-check every tensor shape and print a per-layer summary.
    Check(CheckArgs),
    /// Run a model on .npy arrays or images (JIT-compiled, or with the reference backend).
    Run(RunArgs),
    /// Time a model: compile time, first run, median and p90 latency, GFLOP/s, per-layer times.
    Bench(bench_cmd::BenchArgs),
    /// Rewrite `.cnn` files in the canonical layout (comments kept).
    Fmt {
        /// The files to format in place.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Change nothing; exit 1 if a file is not in the canonical layout.
        #[arg(long)]
        check: bool,
    },
    /// Run the language server on stdin and stdout (for editors).
    Lsp {
        /// Accepted and ignored: some clients add it; stdio is the only transport.
        #[arg(long, hide = true)]
        stdio: bool,
    },
    /// Draw the architecture: boxes per layer, edges labelled with shapes, clusters per group.
    Graph {
        /// The `.cnn` file.
        model: PathBuf,
        /// Output format: SVG laid out by cnnc, or DOT for Graphviz.
        #[arg(long, value_enum, default_value_t = graph_cmd::GraphFormat::Svg)]
        format: graph_cmd::GraphFormat,
        /// Write the drawing here instead of stdout.
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// When to use colour in diagnostics.
        #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
        color: ColorChoice,
    },
    /// Translate an ONNX model into a `.cnn` file and a safetensors file of its weights.
    Import {
        /// The `.onnx` file.
        model: PathBuf,
        /// Where to write the `.cnn` file (default: the model's path with `.cnn`).
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// Where to write the weights (default: the `.cnn` path with `.safetensors`).
        #[arg(long)]
        weights_out: Option<PathBuf>,
    },
    /// Write a model as ONNX (opset 17), with its weights or PyTorch's default initialisation.
    Export {
        /// The `.cnn` file.
        model: PathBuf,
        /// The ONNX file to write.
        #[arg(long, required = true)]
        onnx: PathBuf,
        /// Weights (safetensors, PyTorch state_dict keys); without it, the seeded default
        /// initialisation `cnnc run` uses.
        #[arg(long, short)]
        weights: Option<PathBuf>,
        /// Seed of the default initialisation when no weights are given.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Which model of the file to export (default: the first).
        #[arg(long)]
        model_name: Option<String>,
        /// Give a symbolic dimension a value, e.g. `--dim H=224` (repeatable); the batch may
        /// stay symbolic.
        #[arg(long, value_parser = parse_binding)]
        dim: Vec<(String, u64)>,
        /// When to use colour in diagnostics.
        #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
        color: ColorChoice,
    },
    /// Print the long explanation of a diagnostic code, e.g. `cnnc explain E0101`.
    Explain {
        /// The code (`E0101`), or nothing to list every code.
        code: Option<String>,
    },
}

#[derive(clap::Args)]
pub(crate) struct CheckArgs {
    /// The `.cnn` files to check.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Extra warnings to turn on (`aliasing`: strided downsampling without a blur, W0004).
    #[arg(long, value_enum)]
    warn: Vec<ExtraWarning>,
    /// Give a symbolic dimension a value, e.g. `--dim H=224` (repeatable).
    #[arg(long, value_parser = parse_binding)]
    dim: Vec<(String, u64)>,
    /// When to use colour in human output.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
    /// Only print diagnostics, not the per-layer summary.
    #[arg(long, short)]
    quiet: bool,
    /// Also compare the model with this weights file (safetensors, PyTorch state_dict keys).
    #[arg(long)]
    weights: Option<PathBuf>,
}

#[derive(clap::Args)]
pub(crate) struct RunArgs {
    /// The `.cnn` file.
    model: PathBuf,
    /// Input `.npy` files (one per model input), or images / folders of images (PNG, JPEG).
    #[arg(long, short, required = true, num_args = 1..)]
    input: Vec<PathBuf>,
    /// Weights (safetensors with PyTorch state_dict keys); without it, PyTorch's default
    /// initialisation with `--seed`.
    #[arg(long, short)]
    weights: Option<PathBuf>,
    /// Write the outputs: `.npy` (one output) or `.npz` (any number).
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// For classifiers, print this many top classes per sample (0 for none).
    #[arg(long, default_value_t = 5)]
    top: usize,
    /// Class names, one per line, for the top classes.
    #[arg(long)]
    labels: Option<PathBuf>,
    /// Worker threads (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
    /// The backend that runs the model.
    #[arg(long, value_enum, default_value_t = Backend::Jit)]
    backend: Backend,
    /// Also run the reference backend and print, per JIT step, the largest error against it.
    #[arg(long)]
    verify: bool,
    /// Emit an explicit bounds check before every memory access of the generated code (slow;
    /// for debugging: an access outside its buffer stops the process).
    #[arg(long)]
    bounds_checks: bool,
    /// Seed of the default initialisation when no weights are given.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Multiply inputs by this first (`1/255`); images default to 1/255.
    #[arg(long)]
    scale: Option<String>,
    /// Subtract per channel after scaling, e.g. `0.485,0.456,0.406`.
    #[arg(long, value_delimiter = ',', allow_hyphen_values = true)]
    mean: Vec<f32>,
    /// Divide per channel after subtracting the mean.
    #[arg(long, value_delimiter = ',')]
    std: Vec<f32>,
    /// A named normalisation (`imagenet`: scale 1/255, torchvision's mean and std).
    #[arg(long, value_enum)]
    preset: Option<preprocess::Preset>,
    /// Resize images to the model's declared size, or to HxW.
    #[arg(long, num_args = 0..=1, default_missing_value = "model")]
    resize: Option<String>,
    /// Images per chunk when the batch size is symbolic (bounds memory for large folders).
    #[arg(long, default_value_t = 64)]
    batch_size: usize,
    /// Which model of the file to run (default: the first).
    #[arg(long)]
    model_name: Option<String>,
    /// Give a symbolic dimension a value, e.g. `--dim H=224` (repeatable).
    #[arg(long, value_parser = parse_binding)]
    dim: Vec<(String, u64)>,
    /// When to use colour in diagnostics.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
}

impl RunArgs {
    pub(crate) fn engine(&self) -> engine::Options {
        engine::Options { backend: self.backend, verify: self.verify, bounds_checks: self.bounds_checks }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Backend {
    /// Fused, shape-specialised kernels compiled with Cranelift.
    Jit,
    /// Plain loops that follow each op's definition: the oracle.
    Reference,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    Human,
    Json,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ExtraWarning {
    Aliasing,
}

use report::ColorChoice;

fn parse_binding(text: &str) -> Result<(String, u64), String> {
    let (name, value) = text.split_once('=').ok_or_else(|| format!("expected NAME=VALUE, got `{text}`"))?;
    let value: u64 = value.trim().parse().map_err(|_| format!("`{value}` is not a positive integer"))?;
    if value == 0 {
        return Err("a dimension must be at least 1".to_string());
    }
    Ok((name.trim().to_string(), value))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Check(args) => check_cmd::run(&args),
        Command::Run(args) => run_cmd::run(&args),
        Command::Bench(args) => bench_cmd::run(&args),
        Command::Fmt { files, check } => fmt_cmd::run(&files, check),
        Command::Lsp { .. } => match cnn_lsp::run_stdio() {
            Ok(()) => 0,
            Err(error) => {
                eprintln!("cnnc lsp: {error}");
                2
            }
        },
        Command::Graph { model, format, output, color } => {
            graph_cmd::run(&model, format, output.as_ref(), color.enabled())
        }
        Command::Import { model, output, weights_out } => {
            onnx_cmd::import(&model, output.as_deref(), weights_out.as_deref())
        }
        Command::Export { model, onnx, weights, seed, model_name, dim, color } => {
            onnx_cmd::export(&onnx_cmd::ExportArgs {
                model: &model,
                onnx: &onnx,
                weights: weights.as_ref(),
                model_name: model_name.as_deref(),
                dim: &dim,
                seed,
                color: color.enabled(),
            })
        }
        Command::Explain { code } => explain_cmd::run(code.as_deref()),
    };
    ExitCode::from(code)
}
