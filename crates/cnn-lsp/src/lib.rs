//! The language server (`cnnc lsp`): the checker's diagnostics, shapes, arithmetic, fixes and
//! refactorings in any LSP editor.
//!
//! One [`Document`] per open file holds its text and the latest [`cnn_check::CheckResult`];
//! every change re-checks the whole file (a few milliseconds even for ResNet-50) and publishes
//! diagnostics built from the same `Diagnostic` values `cnnc check` prints. Requests are
//! answered from the latest result, one module per request kind. A panic in a handler is
//! caught and answered with an error; the server keeps running.

mod actions;
mod completion;
mod document;
mod hover;
mod inlay;
mod navigation;
mod position;
mod server;
mod syntax_index;

pub use document::Document;
pub use position::Encoding;
pub use server::{run_stdio, serve};
