//! Inlay hints: the output shape at the end of every statement (`→ [N, 64, 56, 56]`), and the
//! parameter count of layers with weights.

use crate::document::Document;
use crate::position::Encoding;
use lsp_types::{InlayHint, InlayHintKind, InlayHintLabel, Range};

pub(crate) fn hints(doc: &Document, encoding: Encoding, range: Range) -> Vec<InlayHint> {
    let first = range.start.line;
    let last = range.end.line;
    let mut out = Vec::new();
    for statement in &doc.index.statements {
        let end = encoding.position(&doc.source, statement.span.end as usize);
        if end.line < first || end.line > last {
            continue;
        }
        let Some(shape) = doc.statement_shape(statement.span) else { continue };
        let params: u64 = doc
            .layers_of(statement.span)
            .iter()
            .filter(|(_, l)| l.span == statement.span)
            .take(1)
            .map(|(_, l)| l.info.params)
            .sum();
        let label = if params > 0 && !statement.is_group {
            format!("→ {shape}  {} params", cnn_check::summary::thousands(params))
        } else {
            format!("→ {shape}")
        };
        out.push(InlayHint {
            position: end,
            label: InlayHintLabel::String(label),
            kind: Some(InlayHintKind::TYPE),
            text_edits: None,
            tooltip: None,
            padding_left: Some(true),
            padding_right: None,
            data: None,
        });
    }
    out
}
