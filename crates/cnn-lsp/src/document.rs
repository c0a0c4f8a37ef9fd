//! An open file: its text, the latest check of it, and the conversions that requests need.

use crate::position::Encoding;
use crate::syntax_index::SyntaxIndex;
use cnn_check::{check_source, CheckOptions, CheckResult};
use cnn_diag::{Severity, SourceFile};
use lsp_types::{DiagnosticRelatedInformation, Location, NumberOrString, Uri};

pub struct Document {
    pub uri: Uri,
    pub version: i32,
    pub source: SourceFile,
    pub result: CheckResult,
    pub index: SyntaxIndex,
}

impl Document {
    /// Check `text` exactly as `cnnc check` does.
    pub fn new(uri: Uri, version: i32, text: String) -> Document {
        let source = SourceFile::new(uri.as_str().to_string(), text);
        let result = check_source(&source, &CheckOptions { verify_fixes: true, ..CheckOptions::default() });
        let index = SyntaxIndex::new(&source);
        Document { uri, version, source, result, index }
    }

    /// The diagnostics in LSP form: code, severity, message with the notes and help appended
    /// (editors show one text), related locations for the secondary labels.
    pub fn lsp_diagnostics(&self, encoding: Encoding) -> Vec<lsp_types::Diagnostic> {
        self.result
            .diagnostics
            .iter()
            .map(|d| {
                let mut message = d.message.clone();
                for note in &d.notes {
                    message.push_str(&format!("\nnote: {note}"));
                }
                if let Some(help) = &d.help {
                    message.push_str(&format!("\nhelp: {help}"));
                }
                for fix in &d.fixes {
                    message.push_str(&format!("\nfix: {}", fix.title));
                }
                let related: Vec<DiagnosticRelatedInformation> = d
                    .secondary
                    .iter()
                    .map(|label| DiagnosticRelatedInformation {
                        location: Location { uri: self.uri.clone(), range: encoding.range(&self.source, label.span) },
                        message: if label.message.is_empty() { "here".to_string() } else { label.message.clone() },
                    })
                    .collect();
                lsp_types::Diagnostic {
                    range: encoding.range(&self.source, d.primary.span),
                    severity: Some(match d.severity {
                        Severity::Error => lsp_types::DiagnosticSeverity::ERROR,
                        Severity::Warning => lsp_types::DiagnosticSeverity::WARNING,
                    }),
                    code: Some(NumberOrString::String(d.code.to_string())),
                    source: Some("cnnc".to_string()),
                    message,
                    related_information: (!related.is_empty()).then_some(related),
                    ..lsp_types::Diagnostic::default()
                }
            })
            .collect()
    }
}

impl Document {
    /// The layers a statement produced: directly (one per block instance it sits in), or,
    /// for a block instance or group, the layers inside it (last one last).
    pub fn layers_of(&self, span: cnn_diag::Span) -> Vec<(&cnn_check::CheckedModel, &cnn_check::Layer)> {
        let direct: Vec<_> = self
            .result
            .models
            .iter()
            .flat_map(|m| m.layers.iter().filter(move |l| l.span == span).map(move |l| (m, l)))
            .collect();
        if !direct.is_empty() {
            return direct;
        }
        self.result
            .models
            .iter()
            .flat_map(|m| {
                m.layers
                    .iter()
                    .filter(move |l| {
                        l.instantiated_at.contains(&span)
                            || (span.start <= l.span.start && l.span.end <= span.end && l.instantiated_at.is_empty())
                    })
                    .map(move |l| (m, l))
            })
            .collect()
    }

    /// The shape a statement outputs. Inside a block used several times it can differ per
    /// instance: then the first and last are shown (`[N, 64, 56, 56] … [N, 512, 7, 7]`).
    pub fn statement_shape(&self, span: cnn_diag::Span) -> Option<String> {
        let direct = self
            .result
            .models
            .iter()
            .flat_map(|m| m.layers.iter().filter(move |l| l.span == span).map(move |l| (m, l)));
        let mut shapes: Vec<String> = direct.filter_map(|(m, l)| shape_text(m, l.output)).collect();
        if shapes.is_empty() {
            let inside = self.layers_of(span);
            let (model, last) = inside.last()?;
            shapes.push(shape_text(model, last.output)?);
        }
        let mut distinct: Vec<String> = Vec::new();
        for shape in shapes {
            if !distinct.contains(&shape) {
                distinct.push(shape);
            }
        }
        match distinct.len() {
            1 => distinct.pop(),
            2 => Some(format!("{} | {}", distinct[0], distinct[1])),
            _ => Some(format!("{} … {}", distinct[0], distinct[distinct.len() - 1])),
        }
    }
}

pub(crate) fn shape_text(model: &cnn_check::CheckedModel, tensor: usize) -> Option<String> {
    let shape = model.tensors[tensor].shape.as_ref()?;
    Some(format!("[{}]", shape.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ")))
}
