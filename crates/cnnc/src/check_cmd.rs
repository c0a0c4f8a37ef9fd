//! `cnnc check`: read each file, check it, print diagnostics (stderr) and the summary (stdout),
//! or one JSON document with both.

use crate::{CheckArgs, ColorChoice, ExtraWarning, Format};
use cnn_check::{check_source, summary, CheckOptions};
use cnn_diag::render::{render_human, HumanOptions};
use cnn_diag::{Severity, SourceFile};
use std::io::IsTerminal;
use std::path::Path;

/// Files larger than this are refused rather than read (no model needs 16 MiB of text).
const MAX_FILE_BYTES: u64 = 16 << 20;

pub(crate) fn run(args: &CheckArgs) -> u8 {
    let options = CheckOptions {
        warn_aliasing: args.warn.contains(&ExtraWarning::Aliasing),
        bindings: args.dim.clone(),
        verify_fixes: true,
    };
    let color = match args.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    };
    let mut exit = 0;
    let mut documents = Vec::new();
    for path in &args.files {
        let source = match read_source(path) {
            Ok(source) => source,
            Err(message) => {
                eprintln!("error: {message}");
                exit = 2;
                continue;
            }
        };
        let result = check_source(&source, &options);
        if result.has_errors() && exit == 0 {
            exit = 1;
        }
        match args.format {
            Format::Json => documents.push(crate::json::document(&source, &result)),
            Format::Human => print_human(&source, &result, color, args.quiet),
        }
    }
    if args.format == Format::Json {
        // One file, one object; several files, an array (whether or not each could be read).
        let out = if args.files.len() == 1 && documents.len() == 1 {
            documents.remove(0)
        } else {
            serde_json::Value::Array(documents)
        };
        print_out(&serde_json::to_string_pretty(&out).unwrap_or_default());
    }
    exit
}

fn print_human(source: &SourceFile, result: &cnn_check::CheckResult, color: bool, quiet: bool) {
    let width = if color { terminal_width() } else { 100 };
    for diagnostic in &result.diagnostics {
        eprintln!("{}", render_human(diagnostic, source, HumanOptions { color, width }));
    }
    let errors = result.diagnostics.iter().filter(|d| d.severity == Severity::Error).count();
    let warnings = result.diagnostics.len() - errors;
    if !quiet {
        for model in &result.models {
            print_out(&summary::render_table(model));
        }
    }
    if errors + warnings > 0 {
        eprintln!("{}: {errors} error{}, {warnings} warning{}", source.name(), plural(errors), plural(warnings));
    }
}

/// Print to stdout, ignoring a closed pipe (`cnnc check … | head` must not panic).
fn print_out(text: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{text}");
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn terminal_width() -> usize {
    std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()).unwrap_or(100)
}

/// Read a `.cnn` file: it must exist, be at most 16 MiB and be UTF-8.
pub(crate) fn read_source(path: &Path) -> Result<SourceFile, String> {
    let shown = path.display();
    let metadata = std::fs::metadata(path).map_err(|e| format!("cannot read `{shown}`: {e}"))?;
    if metadata.is_dir() {
        return Err(format!("`{shown}` is a directory, not a .cnn file"));
    }
    if metadata.len() > MAX_FILE_BYTES {
        return Err(format!("`{shown}` is {} bytes; cnnc reads .cnn files of at most 16 MiB", metadata.len()));
    }
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read `{shown}`: {e}"))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        format!("`{shown}` is not UTF-8 text (invalid byte at offset {})", e.utf8_error().valid_up_to())
    })?;
    Ok(SourceFile::new(shown.to_string(), text))
}
