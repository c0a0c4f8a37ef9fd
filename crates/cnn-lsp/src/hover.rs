//! Hover: on a layer, its shapes, the window arithmetic with numbers, the parameter formula,
//! MACs and receptive field; on a tensor name, its shape; on a block name, its signature.

use crate::document::{shape_text, Document};
use crate::position::Encoding;
use lsp_types::{Hover, HoverContents, MarkupContent, MarkupKind, Position};

pub(crate) fn hover(doc: &Document, encoding: Encoding, position: Position) -> Option<Hover> {
    let offset = encoding.offset(&doc.source, position);
    let text = if let Some(name) = doc.index.name_at(offset).filter(|n| !is_layer_name(doc, &n.text)) {
        name_hover(doc, &name.text)?
    } else {
        let statement = doc.index.statement_at(offset)?;
        let layers = doc.layers_of(statement.span);
        let (model, layer) = layers.first()?;
        let mut text = cnn_check::explain::layer_report(model, layer);
        if layers.len() > 1 && layers.iter().all(|(_, l)| l.span == statement.span) {
            text.push_str(&format!("\n_{} instances; the first is shown._\n", layers.len()));
        }
        text
    };
    Some(Hover {
        contents: HoverContents::Markup(MarkupContent { kind: MarkupKind::Markdown, value: text }),
        range: None,
    })
}

fn is_layer_name(doc: &Document, text: &str) -> bool {
    cnn_check::ops::BUILTIN_NAMES.contains(&text) && doc.index.item_named(text).is_none()
}

fn name_hover(doc: &Document, text: &str) -> Option<String> {
    if let Some(item) = doc.index.item_named(text).filter(|i| i.is_block) {
        let header = doc.source.text().get(item.span.range())?.lines().next()?.trim_end_matches('{').trim();
        return Some(format!("```cnn\n{header}\n```"));
    }
    for model in &doc.result.models {
        if let Some(id) = model.tensors.iter().position(|t| t.name.as_deref() == Some(text)) {
            let shape = shape_text(model, id).unwrap_or_else(|| "unknown".to_string());
            return Some(format!("**{text}**: `{shape}`"));
        }
    }
    None
}
