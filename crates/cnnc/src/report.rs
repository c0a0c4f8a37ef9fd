//! What every command shares: reading a `.cnn` file, printing diagnostics in colour or not,
//! and printing to stdout without panicking on a closed pipe.

use cnn_diag::render::{render_human, HumanOptions};
use cnn_diag::{Diagnostic, Severity, SourceFile};
use std::io::{IsTerminal, Write};
use std::path::Path;

/// Files larger than this are refused rather than read (no model needs 16 MiB of text).
const MAX_SOURCE_BYTES: u64 = 16 << 20;

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ColorChoice {
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    /// Colour on stderr: when asked, or when stderr is a terminal and `NO_COLOR` is unset.
    pub(crate) fn enabled(self) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            }
        }
    }
}

/// Print diagnostics to stderr, then a count line if there were any. Returns the error count.
pub(crate) fn print_diagnostics(source: &SourceFile, diagnostics: &[Diagnostic], color: bool) -> usize {
    let width = if color { std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()).unwrap_or(100) } else { 100 };
    for diagnostic in diagnostics {
        eprintln!("{}", render_human(diagnostic, source, HumanOptions { color, width }));
    }
    let errors = diagnostics.iter().filter(|d| d.severity == Severity::Error).count();
    let warnings = diagnostics.len() - errors;
    if errors + warnings > 0 {
        eprintln!("{}: {errors} error{}, {warnings} warning{}", source.name(), plural(errors), plural(warnings));
    }
    errors
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// Print to stdout, ignoring a closed pipe (`cnnc check … | head` must not panic).
pub(crate) fn print_out(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{text}");
}

/// Read a `.cnn` file: it must exist, be at most 16 MiB and be UTF-8.
pub(crate) fn read_source(path: &Path) -> Result<SourceFile, String> {
    let shown = path.display();
    let bytes = read_limited(path, MAX_SOURCE_BYTES, ".cnn file")?;
    let text = String::from_utf8(bytes).map_err(|e| {
        format!("`{shown}` is not UTF-8 text (invalid byte at offset {})", e.utf8_error().valid_up_to())
    })?;
    Ok(SourceFile::new(shown.to_string(), text))
}

/// Read a whole file of at most `limit` bytes, with messages that name the file.
pub(crate) fn read_limited(path: &Path, limit: u64, what: &str) -> Result<Vec<u8>, String> {
    let shown = path.display();
    let metadata = std::fs::metadata(path).map_err(|e| format!("cannot read `{shown}`: {e}"))?;
    if metadata.is_dir() {
        return Err(format!("`{shown}` is a directory, not a {what}"));
    }
    if metadata.len() > limit {
        return Err(format!(
            "`{shown}` is {} bytes; cnnc reads a {what} of at most {} MiB",
            metadata.len(),
            limit >> 20
        ));
    }
    std::fs::read(path).map_err(|e| format!("cannot read `{shown}`: {e}"))
}
