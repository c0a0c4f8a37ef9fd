//! The `.cnn` syntax: text in, syntax tree and syntax diagnostics out.
//!
//! `grammar/cnn.pest` defines the language; [`parse`] runs it and [`builder`] turns pest's pairs
//! into the typed [`ast`], every node carrying its [`cnn_diag::Span`]. pest's types never leave
//! this crate. Parsing never fails: a syntax error becomes an `E0001` diagnostic and an AST of
//! whatever could be read.

pub mod ast;
mod builder;
pub mod format;
mod parse;

pub use parse::parse;
