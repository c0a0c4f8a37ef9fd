//! Code actions: every fix the checker proposes for a diagnostic in range (already verified by
//! a re-check), and the refactorings the lecture teaches, each previewing the change in
//! parameters, MACs and receptive field, and offered only if the rewritten model checks with
//! the same output shapes:
//! - a 5×5 convolution into two 3×3 with a ReLU between (same receptive field, 18 instead of
//!   25 weights per channel pair);
//! - a k×k convolution into k×1 then 1×k (2k instead of k² weights; exact for separable filters);
//! - a wide convolution behind a 1×1 bottleneck (a quarter of the input channels);
//! - a strided convolution or max-pool into its anti-aliased form (stride 1, then BlurPool).

use crate::document::Document;
use crate::position::Encoding;
use crate::syntax_index::Statement;
use cnn_check::ops::{ConvKind, Op};
use cnn_check::summary::{si, thousands, totals, Totals};
use cnn_check::{check_source, CheckOptions, CheckResult};
use cnn_diag::{SourceFile, Span};
use cnn_syntax::ast::Call;
use lsp_types::{CodeAction, CodeActionKind, CodeActionOrCommand, Range, TextEdit, WorkspaceEdit};
use std::collections::HashMap;

pub(crate) fn actions(doc: &Document, encoding: Encoding, range: Range) -> Vec<CodeActionOrCommand> {
    let start = encoding.offset(&doc.source, range.start);
    let end = encoding.offset(&doc.source, range.end);
    let mut out = Vec::new();
    for diagnostic in &doc.result.diagnostics {
        let span = diagnostic.primary.span;
        if (span.end as usize) < start || (span.start as usize) > end {
            continue;
        }
        for fix in &diagnostic.fixes {
            let edits = fix.edits.iter().map(|e| (e.span, e.replacement.clone())).collect();
            out.push(action(
                doc,
                encoding,
                &format!("{}: {}", diagnostic.code, fix.title),
                CodeActionKind::QUICKFIX,
                edits,
            ));
        }
    }
    if let Some(statement) = doc.index.statement_at(start) {
        for (title, replacement) in refactorings(doc, statement) {
            if let Some(preview) = preview(doc, statement.span, &replacement) {
                out.push(action(
                    doc,
                    encoding,
                    &format!("{title} ({preview})"),
                    CodeActionKind::REFACTOR_REWRITE,
                    vec![(statement.span, replacement)],
                ));
            }
        }
    }
    out
}

fn action(
    doc: &Document,
    encoding: Encoding,
    title: &str,
    kind: CodeActionKind,
    edits: Vec<(Span, String)>,
) -> CodeActionOrCommand {
    let edits: Vec<TextEdit> = edits
        .into_iter()
        .map(|(span, new_text)| TextEdit { range: encoding.range(&doc.source, span), new_text })
        .collect();
    // lsp-types' `Uri` caches its parse inside, which clippy flags as a mutable key; the map
    // is built once and never mutated through its keys.
    #[allow(clippy::mutable_key_type)]
    let mut changes = HashMap::new();
    changes.insert(doc.uri.clone(), edits);
    CodeActionOrCommand::CodeAction(CodeAction {
        title: title.to_string(),
        kind: Some(kind),
        edit: Some(WorkspaceEdit { changes: Some(changes), ..WorkspaceEdit::default() }),
        ..CodeAction::default()
    })
}

/// Candidate rewrites of the statement, as (title, new statement text).
fn refactorings(doc: &Document, statement: &Statement) -> Vec<(String, String)> {
    let Some(call) = &statement.call else { return Vec::new() };
    let layers = doc.layers_of(statement.span);
    let Some((_, layer)) = layers.iter().find(|(_, l)| l.span == statement.span && l.info.ok) else {
        return Vec::new();
    };
    let text = doc.source.text();
    let name = statement.name.as_ref().map(|n| n.text.clone());
    let named = name.as_ref().map(|n| format!("{n} = ")).unwrap_or_default();
    let from = statement.from.as_ref().map(|f| format!("from {} ", f.text)).unwrap_or_default();
    let mut out = Vec::new();
    match layer.op {
        Op::Conv(spec)
            if spec.kind == ConvKind::Conv && spec.stride == [1, 1] && spec.dilation == [1, 1] && spec.groups == 1 =>
        {
            let out_c = spec.out;
            let rest = other_args(text, call, &["out", "kernel", "padding", "stride", "dilation"]);
            let pad = layer.info.padding.unwrap_or([0; 4]);
            let symmetric = pad[0] == pad[1] && pad[2] == pad[3] && pad[0] == pad[2];
            if spec.kernel == [5, 5] && symmetric && pad[0] <= 2 {
                let (p1, p2) = (pad[0].min(1), pad[0] - pad[0].min(1));
                let first = format!("conv({out_c}, 3, padding={p1}{rest})");
                let second = format!("conv({out_c}, 3, padding={p2}{rest})");
                let body = match &name {
                    Some(_) => format!("{named}{from}{{ a = {first}  relu  b = {second} }}"),
                    None => format!("{from}{first}  relu  {second}"),
                };
                out.push(("Split the 5×5 convolution into two 3×3".to_string(), body));
            }
            let [kh, kw] = spec.kernel;
            if kh == kw && kh >= 3 && symmetric {
                let p = pad[0];
                let first = format!("conv({out_c}, {kh}x1, padding=({p}, 0){rest})");
                let second = format!("conv({out_c}, 1x{kw}, padding=(0, {p}){rest})");
                let body = match &name {
                    Some(_) => format!("{named}{from}{{ col = {first}  row = {second} }}"),
                    None => format!("{from}{first}  {second}"),
                };
                out.push((format!("Factorise the {kh}×{kw} convolution into {kh}×1 then 1×{kw}"), body));
            }
            let c_in =
                doc.result.models.iter().find_map(|m| {
                    m.tensors[layer.inputs[0]].shape.as_ref().and_then(|s| s.get(1)).and_then(|d| d.known())
                });
            if let Some(c_in) = c_in.filter(|c| *c >= 64 && kh * kw > 1) {
                let squeeze = c_in / 4;
                let original = &text[call.span.range()];
                let body = match &name {
                    Some(_) => format!(
                        "{named}{from}{{ squeeze = pointwise({squeeze}, bias=false)  relu  conv = {original} }}"
                    ),
                    None => format!("{from}pointwise({squeeze}, bias=false)  relu  {original}"),
                };
                out.push((format!("Put a 1×1 bottleneck ({c_in} → {squeeze} channels) before the convolution"), body));
            }
        }
        Op::Conv(spec) if spec.stride.iter().any(|s| *s > 1) && spec.stride[0] == spec.stride[1] => {
            if let Some(body) = with_stride_one(text, call, (&named, &from), spec.stride[0], 2) {
                out.push(("Anti-alias: stride 1, then BlurPool (Zhang 2019)".to_string(), body));
            }
        }
        Op::MaxPool(spec) if spec.stride.iter().any(|s| *s > 1) && spec.stride[0] == spec.stride[1] => {
            if let Some(body) = with_stride_one(text, call, (&named, &from), spec.stride[0], 1) {
                out.push(("Anti-alias: max-pool with stride 1, then BlurPool (Zhang 2019)".to_string(), body));
            }
        }
        _ => {}
    }
    out
}

/// `, bias=false` etc.: the named arguments other than `skip`, as written.
fn other_args(text: &str, call: &Call, skip: &[&str]) -> String {
    call.args
        .iter()
        .filter_map(|arg| {
            let name = arg.name.as_ref()?;
            (!skip.contains(&name.text.as_str())).then(|| format!(", {}", &text[arg.span.range()]))
        })
        .collect()
}

/// The call with `stride=1` (replacing the stride where it was written, or adding it),
/// followed by `blurpool(stride=s)`; the statement's name moves to the blur, so later uses
/// still see the subsampled tensor. `position` is the stride's positional index in the call.
fn with_stride_one(
    text: &str,
    call: &Call,
    (named, from): (&str, &str),
    stride: u64,
    position: usize,
) -> Option<String> {
    let args_span = call.args_span?;
    let inner_start = args_span.start as usize + 1;
    let mut inner = text[inner_start..args_span.end as usize - 1].to_string();
    let stride_named = call.args.iter().find(|a| a.name.as_ref().is_some_and(|n| n.text == "stride"));
    let positional = call.args.iter().filter(|a| a.name.is_none()).nth(position);
    match stride_named.or(positional) {
        Some(arg) => {
            let range = arg.value.span.start as usize - inner_start..arg.value.span.end as usize - inner_start;
            inner.replace_range(range, "1");
        }
        None => inner.push_str(", stride=1"),
    }
    Some(format!("{from}{}({inner})  {named}blurpool(stride={stride})", call.callee.text))
}

/// `params 6,400 → 4,608, MACs 6.55 M → 4.72 M, receptive field 5×5 unchanged`, if the
/// rewritten file checks without new errors and the model outputs keep their shapes.
fn preview(doc: &Document, span: Span, replacement: &str) -> Option<String> {
    let mut text = doc.source.text().to_string();
    text.replace_range(span.range(), replacement);
    let after = check_source(&SourceFile::new("refactoring", text), &CheckOptions::default());
    let errors = |r: &CheckResult| r.diagnostics.iter().filter(|d| d.is_error()).count();
    if errors(&after) > errors(&doc.result) || after.models.len() != doc.result.models.len() {
        return None;
    }
    let model = doc.result.models.iter().position(|m| m.span.start <= span.start && span.end <= m.span.end)?;
    let (before_model, after_model) = (&doc.result.models[model], &after.models[model]);
    let outputs =
        |m: &cnn_check::CheckedModel| m.outputs.iter().map(|t| m.tensors[*t].shape.clone()).collect::<Vec<_>>();
    if outputs(before_model) != outputs(after_model) {
        return None;
    }
    let (b, a) = (totals(before_model), totals(after_model));
    Some(describe_change(&b, &a))
}

fn describe_change(before: &Totals, after: &Totals) -> String {
    let macs = match (before.macs, after.macs) {
        (Some(b), Some(a)) => format!(", MACs {} → {}", si(b), si(a)),
        _ => String::new(),
    };
    let field = |t: &Totals| t.receptive.as_ref().map(|(r, _)| format!("{}×{}", r.field[0], r.field[1]));
    let receptive = match (field(before), field(after)) {
        (Some(b), Some(a)) if a == b => format!(", receptive field {b} unchanged"),
        (Some(b), Some(a)) => format!(", receptive field {b} → {a}"),
        _ => String::new(),
    };
    format!("params {} → {}{macs}{receptive}", thousands(before.params), thousands(after.params))
}
