//! JSON rendering of diagnostics, for editors and scripts. The format is documented in
//! `docs/JSON.md`; positions are 0-based lines with UTF-16 columns (`character`, as LSP counts)
//! and UTF-8 byte columns (`byte`).

use crate::{Diagnostic, SourceFile, Span};
use serde_json::{json, Value};

/// `{"start": {...}, "end": {...}}` for a span.
pub fn range_json(file: &SourceFile, span: Span) -> Value {
    let position = |offset: usize| {
        let at = file.line_col(offset);
        json!({ "line": at.line, "character": at.utf16, "byte": at.byte, "offset": offset })
    };
    json!({ "start": position(span.start as usize), "end": position(span.end as usize) })
}

pub fn diagnostic_json(diagnostic: &Diagnostic, file: &SourceFile) -> Value {
    let related: Vec<Value> = diagnostic
        .secondary
        .iter()
        .map(|label| json!({ "range": range_json(file, label.span), "message": label.message }))
        .collect();
    let fixes: Vec<Value> = diagnostic
        .fixes
        .iter()
        .map(|fix| {
            let edits: Vec<Value> = fix
                .edits
                .iter()
                .map(|edit| json!({ "range": range_json(file, edit.span), "newText": edit.replacement }))
                .collect();
            json!({ "title": fix.title, "edits": edits })
        })
        .collect();
    json!({
        "severity": diagnostic.severity,
        "code": diagnostic.code.as_str(),
        "message": diagnostic.message,
        "file": file.name(),
        "range": range_json(file, diagnostic.primary.span),
        "label": diagnostic.primary.message,
        "related": related,
        "notes": diagnostic.notes,
        "help": diagnostic.help,
        "fixes": fixes,
    })
}
