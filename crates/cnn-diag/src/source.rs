//! A source file's text with a line index, so spans can be shown as lines and columns.
//!
//! Columns are offered in UTF-8 bytes, in characters and in UTF-16 code units, because the
//! terminal, humans and LSP clients each count differently.

/// One `.cnn` file: its display name, its text, and where each line starts.
#[derive(Clone, Debug)]
pub struct SourceFile {
    name: String,
    text: String,
    line_starts: Vec<usize>,
}

/// A 0-based position. `utf16` is the column in UTF-16 code units (what LSP clients count by
/// default); `byte` is the column in bytes of UTF-8.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct LineCol {
    pub line: usize,
    pub byte: usize,
    pub utf16: usize,
}

impl SourceFile {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> SourceFile {
        let text = text.into();
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        SourceFile { name: name.into(), text, line_starts }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// The 0-based line and columns of a byte offset (clamped to the text and moved back to a
    /// character boundary, so any offset is safe to ask about).
    pub fn line_col(&self, offset: usize) -> LineCol {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.line_starts.partition_point(|&start| start <= offset) - 1;
        let start = self.line_starts[line];
        let prefix = &self.text[start..offset];
        LineCol { line, byte: offset - start, utf16: prefix.encode_utf16().count() }
    }

    /// The text of the 0-based line `line`, without its line break.
    pub fn line_text(&self, line: usize) -> &str {
        let Some(&start) = self.line_starts.get(line) else { return "" };
        let end = self.line_starts.get(line + 1).copied().unwrap_or(self.text.len());
        self.text[start..end].trim_end_matches(['\n', '\r'])
    }

    pub fn line_count(&self) -> usize {
        self.line_starts.len()
    }

    /// Byte offset of a 0-based line and UTF-16 column (as LSP clients send them); positions past
    /// the end of a line clamp to its end.
    pub fn offset_of_utf16(&self, line: usize, utf16_col: usize) -> usize {
        let Some(&start) = self.line_starts.get(line) else { return self.text.len() };
        let mut units = 0;
        for (i, ch) in self.line_text(line).char_indices() {
            if units >= utf16_col {
                return start + i;
            }
            units += ch.len_utf16();
        }
        start + self.line_text(line).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_columns_count_surrogate_pairs() {
        let file = SourceFile::new("t.cnn", "a\n// 𝔸é x\n");
        let x = file.text().find('x').unwrap();
        let pos = file.line_col(x);
        assert_eq!(pos.line, 1);
        assert_eq!(pos.byte, 3 + 4 + 2 + 1);
        assert_eq!(pos.utf16, 3 + 2 + 1 + 1);
        assert_eq!(file.offset_of_utf16(1, pos.utf16), x);
    }

    #[test]
    fn offsets_inside_a_character_are_safe() {
        let file = SourceFile::new("t.cnn", "é");
        assert_eq!(file.line_col(1).byte, 0);
        assert_eq!(file.line_col(99).byte, 2);
    }
}
