//! Repairs that have been checked: every candidate fix is applied to the source, the result is
//! checked again, and the fix is kept only if its diagnostic is gone and no new error appeared.
//!
//! Besides verifying the fixes diagnostics propose, this searches for repairs itself: when a
//! dense layer's declared width does not match, a padding on a convolution or pooling layer
//! before the flatten that makes the flattened width right; when a window does not fit, the
//! smallest padding that makes it fit.

use crate::graph::{CheckedModel, Layer};
use crate::ops::Op;
use crate::{check_source, CheckOptions, CheckResult};
use cnn_diag::{Code, Diagnostic, Fix, SourceFile, Span, TextEdit};

/// At most this many re-checks per run, so a file with many errors stays fast.
const MAX_CHECKS: usize = 48;
/// Above this many layers, no fixes are searched or verified.
const MAX_LAYERS_FOR_FIXES: usize = 2_000;

pub(crate) fn search_and_verify(source: &SourceFile, options: &CheckOptions, result: &mut CheckResult) {
    // Every re-check costs a full check; on a huge model a few seconds of searching would
    // stall the editor, so large models get their fixes dropped (never shown unverified).
    let layers: usize = result.models.iter().map(|m| m.layers.len()).sum();
    let mut search = Search {
        source,
        options: CheckOptions { verify_fixes: false, ..options.clone() },
        baseline: result.diagnostics.clone(),
        budget: if layers > MAX_LAYERS_FOR_FIXES { 0 } else { MAX_CHECKS },
    };
    let models = result.models.clone();
    for diagnostic in &mut result.diagnostics {
        let proposed = std::mem::take(&mut diagnostic.fixes);
        for fix in proposed {
            if search.try_fix(diagnostic, &fix).is_some() {
                diagnostic.fixes.push(fix);
            }
        }
        let found = match diagnostic.code {
            Code::DENSE_WIDTH => search.padding_before_flatten(diagnostic, &models),
            Code::WINDOW_TOO_LARGE => search.fitting_padding(diagnostic, &models),
            _ => None,
        };
        if let Some(fix) = found {
            diagnostic.fixes.insert(0, fix);
        }
    }
}

/// What every candidate is checked against, and how many re-checks are left.
struct Search<'s> {
    source: &'s SourceFile,
    options: CheckOptions,
    /// The diagnostics of the unedited file.
    baseline: Vec<Diagnostic>,
    budget: usize,
}

impl Search<'_> {
    /// Check the fixed text; `Some` with the new result if `diagnostic` is gone and the number
    /// of errors went down (or, for a warning, no error appeared). `None` also when the budget
    /// is spent.
    fn try_fix(&mut self, diagnostic: &Diagnostic, fix: &Fix) -> Option<CheckResult> {
        self.budget = self.budget.checked_sub(1)?;
        let fixed = SourceFile::new(self.source.name(), fix.apply(self.source.text()));
        let result = check_source(&fixed, &self.options);
        let errors = |ds: &[Diagnostic]| ds.iter().filter(|d| d.is_error()).count();
        let same_code = |ds: &[Diagnostic]| ds.iter().filter(|d| d.code == diagnostic.code).count();
        let gone = same_code(&result.diagnostics) < same_code(&self.baseline);
        let (after, before) = (errors(&result.diagnostics), errors(&self.baseline));
        let ok = if diagnostic.is_error() { after < before } else { after <= before };
        (gone && ok).then_some(result)
    }

    /// A padding on a conv or pooling layer between the input and the flatten feeding this dense
    /// layer that makes the flattened width what the dense layer declares.
    fn padding_before_flatten(&mut self, diagnostic: &Diagnostic, models: &[CheckedModel]) -> Option<Fix> {
        let (model_index, dense_index) = layer_at(models, diagnostic.primary.span)?;
        let model = &models[model_index];
        // Walk back from the dense layer through single-input layers to the model input.
        let mut candidates = Vec::new();
        let mut tensor = model.layers[dense_index].inputs[0];
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
            let largest = match layer.op {
                Op::Conv(spec) => spec.kernel[0].max(spec.kernel[1]),
                Op::MaxPool(spec) | Op::AvgPool(spec) => spec.kernel[0].max(spec.kernel[1]) / 2,
                _ => continue,
            };
            let current = current_padding(layer);
            for value in (0..=largest.min(8)).filter(|v| *v != current) {
                let Some(edit) = padding_edit(layer, value) else { break };
                let fix = Fix { title: String::new(), edits: vec![edit] };
                if let Some(result) = self.try_fix(diagnostic, &fix) {
                    // Editing a number keeps the layer list, so the dense layer has the same index.
                    let produced = flatten_text(&result.models[model_index], dense_index).unwrap_or_default();
                    let title =
                        format!("`padding={value}` on `{}` makes the flatten produce {produced}", layer.display_name());
                    return Some(Fix { title, ..fix });
                }
                if self.budget == 0 {
                    return None;
                }
            }
        }
        None
    }

    /// The smallest padding that makes a window fit its input.
    fn fitting_padding(&mut self, diagnostic: &Diagnostic, models: &[CheckedModel]) -> Option<Fix> {
        let (model_index, layer_index) = layer_at(models, diagnostic.primary.span)?;
        let layer = &models[model_index].layers[layer_index];
        let limit = match layer.op {
            Op::Conv(spec) => spec.kernel[0].max(spec.kernel[1]),
            // PyTorch allows pooling padding of at most half the window.
            Op::MaxPool(spec) | Op::AvgPool(spec) => spec.kernel[0].min(spec.kernel[1]) / 2,
            _ => return None,
        };
        for value in current_padding(layer) + 1..=limit {
            let edit = padding_edit(layer, value)?;
            let fix = Fix { title: format!("`padding={value}` makes the window fit"), edits: vec![edit] };
            if self.try_fix(diagnostic, &fix).is_some() {
                return Some(fix);
            }
            if self.budget == 0 {
                return None;
            }
        }
        None
    }
}

/// The model and layer (as indices) whose argument `span` a diagnostic points at.
fn layer_at(models: &[CheckedModel], span: Span) -> Option<(usize, usize)> {
    models.iter().enumerate().find_map(|(m, model)| {
        model
            .layers
            .iter()
            .position(|l| l.span.start <= span.start && span.end <= l.span.end && l.instantiated_at.is_empty())
            .map(|l| (m, l))
    })
}

/// Set (or add) `padding=value` on a layer; `None` if the call has no argument list to edit.
fn padding_edit(layer: &Layer, value: u64) -> Option<TextEdit> {
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

/// `16×5×5 = 400`: the flatten feeding layer `dense` of `model`.
fn flatten_text(model: &CheckedModel, dense: usize) -> Option<String> {
    let producer = model.tensors[model.layers.get(dense)?.inputs[0]].producer?;
    let flatten = &model.layers[producer];
    if flatten.op != Op::Flatten {
        return None;
    }
    let shape = model.tensors[flatten.inputs[0]].shape.as_ref()?;
    let dims: Vec<String> = shape[1..].iter().map(|d| d.to_string()).collect();
    let total = crate::dim::Dim::product(&shape[1..])?;
    Some(format!("{} = {total}", dims.join("×")))
}
