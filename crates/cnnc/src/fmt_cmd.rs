//! `cnnc fmt`: rewrite files in the canonical layout, or with `--check` report which are not.
//! A file that does not parse is never changed (exit 2, with its syntax errors).

use crate::report::{print_diagnostics, read_source};
use std::path::PathBuf;

pub(crate) fn run(files: &[PathBuf], check: bool) -> u8 {
    let mut exit = 0;
    for path in files {
        let source = match read_source(path) {
            Ok(source) => source,
            Err(message) => {
                eprintln!("error: {message}");
                exit = 2;
                continue;
            }
        };
        match cnn_syntax::format::format(source.text()) {
            Ok(formatted) if formatted == source.text() => {}
            Ok(_) if check => {
                eprintln!("{}: not in the canonical layout (cnnc fmt rewrites it)", path.display());
                exit = exit.max(1);
            }
            Ok(formatted) => {
                if let Err(e) = std::fs::write(path, formatted) {
                    eprintln!("error: cannot write `{}`: {e}", path.display());
                    exit = 2;
                }
            }
            Err(_) => {
                let (_, diagnostics) = cnn_syntax::parse(&source);
                print_diagnostics(&source, &diagnostics, crate::report::ColorChoice::Auto.enabled());
                eprintln!("{}: not formatted: it has syntax errors", path.display());
                exit = 2;
            }
        }
    }
    exit
}
