//! Go to definition, find references and the document outline, for tensor names (scoped to
//! their model or block) and block names (file-wide); and whole-document formatting.

use crate::document::Document;
use crate::position::Encoding;
use lsp_types::{
    DocumentSymbol, DocumentSymbolResponse, GotoDefinitionResponse, Location, Position, SymbolKind, TextEdit,
};

pub(crate) fn definition(doc: &Document, encoding: Encoding, position: Position) -> Option<GotoDefinitionResponse> {
    let offset = encoding.offset(&doc.source, position);
    let name = doc.index.name_at(offset)?;
    let span = match doc.index.item_named(&name.text).filter(|i| i.is_block) {
        Some(block) => block.name_span,
        None => {
            let def = doc.index.defs.iter().find(|d| d.text == name.text && d.item == name.item)?;
            def.span
        }
    };
    Some(GotoDefinitionResponse::Scalar(Location { uri: doc.uri.clone(), range: encoding.range(&doc.source, span) }))
}

pub(crate) fn references(doc: &Document, encoding: Encoding, position: Position) -> Vec<Location> {
    let offset = encoding.offset(&doc.source, position);
    let Some(name) = doc.index.name_at(offset).cloned() else { return Vec::new() };
    let is_block = doc.index.item_named(&name.text).is_some_and(|i| i.is_block);
    let mut spans: Vec<cnn_diag::Span> = if is_block {
        let mut spans: Vec<_> = doc.index.callees.iter().filter(|c| c.text == name.text).map(|c| c.span).collect();
        spans.extend(doc.index.item_named(&name.text).map(|i| i.name_span));
        spans
    } else {
        doc.index
            .defs
            .iter()
            .chain(&doc.index.uses)
            .filter(|n| n.text == name.text && n.item == name.item)
            .map(|n| n.span)
            .collect()
    };
    spans.sort();
    spans.dedup();
    spans.into_iter().map(|span| Location { uri: doc.uri.clone(), range: encoding.range(&doc.source, span) }).collect()
}

#[allow(deprecated)] // `DocumentSymbol::deprecated` must still be written out.
pub(crate) fn symbols(doc: &Document, encoding: Encoding) -> DocumentSymbolResponse {
    let items = doc
        .index
        .items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let children: Vec<DocumentSymbol> = doc
                .index
                .statements
                .iter()
                .filter(|s| s.item == i)
                .filter_map(|s| {
                    let name = s.name.as_ref()?;
                    let detail = doc.statement_shape(s.span);
                    Some(DocumentSymbol {
                        name: name.text.clone(),
                        detail,
                        kind: SymbolKind::VARIABLE,
                        tags: None,
                        deprecated: None,
                        range: encoding.range(&doc.source, s.span),
                        selection_range: encoding.range(&doc.source, name.span),
                        children: None,
                    })
                })
                .collect();
            DocumentSymbol {
                name: item.name.clone(),
                detail: Some(if item.is_block { "block".to_string() } else { "model".to_string() }),
                kind: if item.is_block { SymbolKind::FUNCTION } else { SymbolKind::CLASS },
                tags: None,
                deprecated: None,
                range: encoding.range(&doc.source, item.span),
                selection_range: encoding.range(&doc.source, item.name_span),
                children: Some(children),
            }
        })
        .collect();
    DocumentSymbolResponse::Nested(items)
}

/// The whole document in canonical layout, or no edit if it does not parse or is canonical.
pub(crate) fn format(doc: &Document, encoding: Encoding) -> Option<Vec<TextEdit>> {
    let formatted = cnn_syntax::format::format(doc.source.text()).ok()?;
    if formatted == doc.source.text() {
        return Some(Vec::new());
    }
    let whole = cnn_diag::Span::new(0, doc.source.text().len());
    Some(vec![TextEdit { range: encoding.range(&doc.source, whole), new_text: formatted }])
}
