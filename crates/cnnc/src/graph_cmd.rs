//! `cnnc graph`: check a model and draw its architecture as SVG (laid out by cnnc itself) or
//! Graphviz DOT, to a file or stdout. Diagnostics go to stderr; a broken model is still drawn.

use crate::report::{print_diagnostics, print_out, read_source};
use clap::ValueEnum;
use cnn_check::{check_source, CheckOptions};
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum GraphFormat {
    Svg,
    Dot,
}

/// Exit code 0, 1 when the model has errors (the drawing is still written), 2 when a file
/// cannot be read or written.
pub(crate) fn run(model: &Path, format: GraphFormat, output: Option<&PathBuf>, color: bool) -> u8 {
    let source = match read_source(model) {
        Ok(source) => source,
        Err(message) => {
            eprintln!("error: {message}");
            return 2;
        }
    };
    let options = CheckOptions { verify_fixes: false, ..CheckOptions::default() };
    let result = check_source(&source, &options);
    print_diagnostics(&source, &result.diagnostics, color);
    let text = match format {
        GraphFormat::Svg => cnn_graph::to_svg(&result.models, source.text()),
        GraphFormat::Dot => cnn_graph::to_dot(&result.models, source.text()),
    };
    match output {
        Some(path) => {
            if let Err(error) = std::fs::write(path, &text) {
                eprintln!("error: cannot write `{}`: {error}", path.display());
                return 2;
            }
        }
        None => print_out(text.trim_end()),
    }
    u8::from(result.has_errors())
}
