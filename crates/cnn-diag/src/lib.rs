//! Diagnostics for cnnc: where in a `.cnn` file something is, and what is wrong there.
//!
//! Every stage before code generation reports problems as plain [`Diagnostic`] values; nothing
//! here prints or exits. The renderers in [`render`] turn the same data into terminal text
//! (miette), JSON (for tools) and, in the language server, LSP diagnostics.

mod codes;
mod diagnostic;
pub mod render;
mod source;
mod span;
pub mod suggest;

pub use codes::{Code, CodeInfo, ALL_CODES};
pub use diagnostic::{Diagnostic, Fix, Label, Severity, TextEdit};
pub use source::{LineCol, SourceFile};
pub use span::Span;
