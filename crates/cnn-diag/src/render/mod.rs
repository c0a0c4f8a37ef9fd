//! Renderers: the same [`crate::Diagnostic`] as terminal text or as JSON.
//!
//! The language server has its own conversion in `cnn-lsp`; all three read the same fields.

mod human;
mod json;

pub use human::{render_human, HumanOptions};
pub use json::{diagnostic_json, range_json};
