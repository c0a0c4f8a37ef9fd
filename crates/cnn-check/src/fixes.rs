//! Repairs that have been checked: every candidate fix is applied to the source, the result is
//! checked again, and the fix is kept only if its diagnostic is gone and no new error appeared.
//!
//! Besides verifying the fixes diagnostics propose, this searches for a repair upstream when a
//! dense layer's declared width does not match: a padding on a convolution or pooling layer
//! before the flatten that makes the flattened width right.

use crate::graph::{CheckedModel, Layer};
use crate::ops::Op;
use crate::{check_source, CheckOptions, CheckResult};
use cnn_diag::{Code, Diagnostic, Fix, SourceFile, Span, TextEdit};

/// At most this many re-checks per run, so a file with many errors stays fast.
const MAX_CHECKS: usize = 48;
/// Above this many layers, no fixes are searched or verified.
const MAX_LAYERS_FOR_FIXES: usize = 2_000;

pub(crate) fn search_and_verify(source: &SourceFile, options: &CheckOptions, result: &mut CheckResult) {
    let inner = CheckOptions { verify_fixes: false, ..options.clone() };
    let baseline = Baseline { diagnostics: result.diagnostics.clone() };

    // Every re-check costs a full check; on a huge model a few seconds of searching would
    // stall the editor, so large models get their fixes unverified-and-dropped instead.
    let layers: usize = result.models.iter().map(|m| m.layers.len()).sum();
    let mut budget = if layers > MAX_LAYERS_FOR_FIXES { 0 } else { MAX_CHECKS };
    let models = result.models.clone();
    for diagnostic in &mut result.diagnostics {
        let proposed = std::mem::take(&mut diagnostic.fixes);
        for fix in proposed {
            if budget == 0 {
                break;
            }
            budget -= 1;
            if repairs(source, &inner, diagnostic, &fix, &baseline).is_some() {
                diagnostic.fixes.push(fix);
            }
        }
        if budget > 0 {
            match diagnostic.code {
                Code::DENSE_WIDTH => {
                    if let Some(fix) = padding_search(source, &inner, diagnostic, &models, &baseline, &mut budget) {
                        diagnostic.fixes.insert(0, fix);
                    }
                }
                Code::WINDOW_TOO_LARGE => {
                    if let Some(fix) = fitting_padding(source, &inner, diagnostic, &models, &baseline, &mut budget) {
                        diagnostic.fixes.insert(0, fix);
                    }
                }
                _ => {}
            }
        }
    }
}

/// Check the fixed text; `Some` with the new result if `diagnostic` is gone and the number of
/// errors went down (or, for a warning, no error appeared).
fn repairs(
    source: &SourceFile,
    options: &CheckOptions,
    diagnostic: &Diagnostic,
    fix: &Fix,
    baseline: &Baseline,
) -> Option<CheckResult> {
    let fixed = SourceFile::new(source.name(), fix.apply(source.text()));
    let result = check_source(&fixed, options);
    let errors = |ds: &[Diagnostic]| ds.iter().filter(|d| d.is_error()).count();
    let same_code = |ds: &[Diagnostic]| ds.iter().filter(|d| d.code == diagnostic.code).count();
    let gone = same_code(&result.diagnostics) < same_code(&baseline.diagnostics);
    let (after, before) = (errors(&result.diagnostics), errors(&baseline.diagnostics));
    let ok = if diagnostic.is_error() { after < before } else { after <= before };
    (gone && ok).then_some(result)
}

/// The diagnostics of the unedited file, to compare each candidate against.
struct Baseline {
    diagnostics: Vec<Diagnostic>,
}

/// The layer whose argument `span` a diagnostic points at, in any model.
fn layer_at(models: &[CheckedModel], span: Span) -> Option<(&CheckedModel, &Layer)> {
    models.iter().find_map(|m| {
        m.layers
            .iter()
            .find(|l| l.span.start <= span.start && span.end <= l.span.end && l.instantiated_at.is_empty())
            .map(|l| (m, l))
    })
}

/// Set (or add) `padding=value` on a layer.
fn padding_edit(layer: &Layer, value: &str) -> Option<TextEdit> {
    if let Some(span) = layer.arg_span("padding") {
        return Some(TextEdit { span, replacement: value.to_string() });
    }
    let args = layer.args_span?;
    let close = args.end as usize - 1;
    Some(TextEdit { span: Span::at(close), replacement: format!(", padding={value}") })
}

fn current_padding(layer: &Layer) -> u64 {
    layer.info.padding.map_or(0, |p| p[0])
}

fn padding_search(
    source: &SourceFile,
    options: &CheckOptions,
    diagnostic: &Diagnostic,
    models: &[CheckedModel],
    baseline: &Baseline,
    budget: &mut usize,
) -> Option<Fix> {
    let (model, dense) = layer_at(models, diagnostic.primary.span)?;
    // Walk back from the dense layer through single-input layers to the model input.
    let mut candidates = Vec::new();
    let mut tensor = dense.inputs[0];
    while let Some(producer) = model.tensors[tensor].producer {
        let layer = &model.layers[producer];
        if matches!(layer.op, Op::Conv(_) | Op::MaxPool(_) | Op::AvgPool(_)) && layer.instantiated_at.is_empty() {
            candidates.push(layer);
        }
        if layer.inputs.len() != 1 {
            break;
        }
        tensor = layer.inputs[0];
    }
    candidates.reverse();
    for layer in candidates {
        let kernel = match layer.op {
            Op::Conv(spec) => spec.kernel[0].max(spec.kernel[1]),
            Op::MaxPool(spec) | Op::AvgPool(spec) => spec.kernel[0].max(spec.kernel[1]) / 2,
            _ => continue,
        };
        let current = current_padding(layer);
        for value in 0..=kernel.min(8) {
            if value == current || *budget == 0 {
                continue;
            }
            *budget -= 1;
            let edit = padding_edit(layer, &value.to_string())?;
            let fix = Fix { title: String::new(), edits: vec![edit] };
            if let Some(result) = repairs(source, options, diagnostic, &fix, baseline) {
                let name = layer.display_name();
                let produced = flatten_text(&result).unwrap_or_default();
                let title = format!("`padding={value}` on `{name}` makes the flatten produce {produced}");
                return Some(Fix { title, ..fix });
            }
        }
    }
    None
}

/// `16×5×5 = 400`: the flatten feeding the first dense layer with an `in=` in the re-checked model.
fn flatten_text(result: &CheckResult) -> Option<String> {
    for model in &result.models {
        for layer in &model.layers {
            if layer.op != Op::Flatten {
                continue;
            }
            let shape = model.tensors[layer.inputs[0]].shape.as_ref()?;
            let dims: Vec<String> = shape[1..].iter().map(|d| d.to_string()).collect();
            let total = crate::dim::Dim::product(&shape[1..])?;
            return Some(format!("{} = {total}", dims.join("×")));
        }
    }
    None
}

fn fitting_padding(
    source: &SourceFile,
    options: &CheckOptions,
    diagnostic: &Diagnostic,
    models: &[CheckedModel],
    baseline: &Baseline,
    budget: &mut usize,
) -> Option<Fix> {
    let (_, layer) = layer_at(models, diagnostic.primary.span)?;
    let (kernel, limit) = match layer.op {
        Op::Conv(spec) => (spec.kernel[0].max(spec.kernel[1]), spec.kernel[0].max(spec.kernel[1])),
        Op::MaxPool(spec) | Op::AvgPool(spec) => {
            (spec.kernel[0].max(spec.kernel[1]), spec.kernel[0].min(spec.kernel[1]) / 2)
        }
        _ => return None,
    };
    let current = current_padding(layer);
    for value in current + 1..=limit.min(kernel) {
        if *budget == 0 {
            return None;
        }
        *budget -= 1;
        let edit = padding_edit(layer, &value.to_string())?;
        let fix = Fix { title: format!("`padding={value}` makes the window fit"), edits: vec![edit] };
        if repairs(source, options, diagnostic, &fix, baseline).is_some() {
            return Some(fix);
        }
    }
    None
}
