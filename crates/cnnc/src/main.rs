//! `cnnc`: the command line. It parses arguments, reads files, calls the library crates and
//! prints what they return; it is the only crate that touches the terminal or exits.
//!
//! Exit codes: 0 no errors (warnings allowed), 1 the model has errors, 2 a file cannot be read
//! or the command line is wrong.

mod check_cmd;
mod explain_cmd;
mod json;

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "cnnc", version, about = "A compiler for CNN architectures: checks shapes, explains errors")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Type-check every tensor shape and print a per-layer summary.
    Check(CheckArgs),
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

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ColorChoice {
    Auto,
    Always,
    Never,
}

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
        Command::Explain { code } => explain_cmd::run(code.as_deref()),
    };
    ExitCode::from(code)
}
