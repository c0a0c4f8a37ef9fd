//! Completion: inside a call's parentheses, the layer's (or block's) parameter names; elsewhere,
//! layer names, block names and the tensors defined so far.

use crate::document::Document;
use crate::position::Encoding;
use lsp_types::{CompletionItem, CompletionItemKind, CompletionResponse, Position};

pub(crate) fn complete(doc: &Document, encoding: Encoding, position: Position) -> CompletionResponse {
    let offset = encoding.offset(&doc.source, position);
    let text = doc.source.text();
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let before = &text[line_start..offset];
    let mut items = Vec::new();
    if let Some(callee) = open_call(before) {
        let params: Vec<String> = match doc.index.item_named(&callee).filter(|i| i.is_block) {
            Some(block) => block_params(doc, block),
            None => cnn_check::ops::parameter_names(&callee).into_iter().map(str::to_string).collect(),
        };
        for param in params {
            items.push(CompletionItem {
                label: format!("{param}="),
                kind: Some(CompletionItemKind::FIELD),
                detail: Some(format!("argument of `{callee}`")),
                ..CompletionItem::default()
            });
        }
        return CompletionResponse::Array(items);
    }
    for name in cnn_check::ops::BUILTIN_NAMES {
        items.push(CompletionItem {
            label: name.to_string(),
            kind: Some(CompletionItemKind::FUNCTION),
            detail: Some("layer".into()),
            ..CompletionItem::default()
        });
    }
    for item in doc.index.items.iter().filter(|i| i.is_block) {
        items.push(CompletionItem {
            label: item.name.clone(),
            kind: Some(CompletionItemKind::MODULE),
            detail: Some("block".into()),
            ..CompletionItem::default()
        });
    }
    for def in doc.index.defs.iter().filter(|d| (d.span.end as usize) < offset) {
        if !items.iter().any(|i| i.label == def.text) {
            items.push(CompletionItem {
                label: def.text.clone(),
                kind: Some(CompletionItemKind::VARIABLE),
                detail: Some("tensor".into()),
                ..CompletionItem::default()
            });
        }
    }
    CompletionResponse::Array(items)
}

/// The callee of the innermost unclosed `name(` before the cursor on this line.
fn open_call(before: &str) -> Option<String> {
    let mut depth = 0i32;
    for (i, ch) in before.char_indices().rev() {
        match ch {
            ')' => depth += 1,
            '(' if depth > 0 => depth -= 1,
            '(' => {
                let name: String =
                    before[..i].chars().rev().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                let name: String = name.chars().rev().collect();
                return (!name.is_empty()).then_some(name);
            }
            _ => {}
        }
    }
    None
}

fn block_params(doc: &Document, block: &crate::syntax_index::Item) -> Vec<String> {
    let Some(header) = doc.source.text().get(block.span.range()).and_then(|t| t.split('{').next()) else {
        return Vec::new();
    };
    let Some(list) = header.split_once('(').and_then(|(_, rest)| rest.rsplit_once(')')).map(|(l, _)| l) else {
        return Vec::new();
    };
    list.split(',')
        .filter_map(|p| p.split('=').next())
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}
