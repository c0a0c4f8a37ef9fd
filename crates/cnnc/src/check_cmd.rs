//! `cnnc check`: read each file, check it, print diagnostics (stderr) and the summary (stdout),
//! or one JSON document with both.

use crate::report::{print_diagnostics, print_out, read_source};
use crate::{CheckArgs, ExtraWarning, Format};
use cnn_check::{check_source, summary, CheckOptions};
use cnn_diag::SourceFile;

pub(crate) fn run(args: &CheckArgs) -> u8 {
    let options = CheckOptions {
        warn_aliasing: args.warn.contains(&ExtraWarning::Aliasing),
        bindings: args.dim.clone(),
        verify_fixes: true,
    };
    let color = args.color.enabled();
    let weights = match &args.weights {
        Some(path) => match crate::weights::read_weight_file(path) {
            Ok(file) => Some(file),
            Err(message) => {
                eprintln!("error: {message}");
                return 2;
            }
        },
        None => None,
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
        let mut result = check_source(&source, &options);
        if let Some(file) = &weights {
            if !result.has_errors() {
                for model in &result.models {
                    result.diagnostics.extend(crate::weights::preflight_model(model, file));
                }
            }
        }
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
    print_diagnostics(source, &result.diagnostics, color);
    if !quiet {
        for model in &result.models {
            print_out(&summary::render_table(model));
        }
    }
}
