//! Positions: byte offsets inside cnnc, LSP positions (line and column) outside, with columns
//! counted in the encoding negotiated at start-up (UTF-8 when the client offers it, otherwise
//! UTF-16, LSP's default).

use cnn_diag::{SourceFile, Span};
use lsp_types::{Position, Range};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Utf8,
    Utf16,
}

impl Encoding {
    pub fn position(self, file: &SourceFile, offset: usize) -> Position {
        let at = file.line_col(offset);
        let character = match self {
            Encoding::Utf8 => at.byte,
            Encoding::Utf16 => at.utf16,
        };
        Position { line: at.line as u32, character: character as u32 }
    }

    pub fn range(self, file: &SourceFile, span: Span) -> Range {
        Range { start: self.position(file, span.start as usize), end: self.position(file, span.end as usize) }
    }

    /// The byte offset of an LSP position, clamped into the text.
    pub fn offset(self, file: &SourceFile, position: Position) -> usize {
        let line = position.line as usize;
        if line >= file.line_count() {
            return file.text().len();
        }
        match self {
            Encoding::Utf16 => file.offset_of_utf16(line, position.character as usize),
            Encoding::Utf8 => {
                let start = file.offset_of_utf16(line, 0);
                let text = file.line_text(line);
                let mut column = (position.character as usize).min(text.len());
                while !text.is_char_boundary(column) {
                    column -= 1;
                }
                start + column
            }
        }
    }
}
