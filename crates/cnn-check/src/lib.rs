//! The checker: from a parsed `.cnn` file to checked models and diagnostics.
//!
//! Pipeline, per model: [`expand`] unfolds blocks, groups and repeats into named layers;
//! input declarations become shapes; [`infer`] computes every output shape, parameter count,
//! MAC count and receptive field, explaining each layer that does not fit (window arithmetic in
//! [`window`], symbolic sizes in [`dim`]); [`sizes`] works out which input sizes are accepted;
//! [`lints`] adds warnings; [`fixes`] searches for and verifies repairs. The checker never
//! fails: everything wrong is a [`cnn_diag::Diagnostic`], and models are returned even when
//! broken, with unknown shapes where the checker could not know them.

// Errors here are whole diagnostics (labels, notes, fixes): large, but returned only on the
// cold path of a layer that does not fit, where clarity beats boxing.
#![allow(clippy::result_large_err)]

pub mod dim;
mod expand;
pub mod explain;
mod fixes;
pub mod graph;
mod infer;
mod inputs;
mod lints;
mod lower;
pub mod ops;
mod sizes;
pub mod summary;
mod value;
mod window;

pub use graph::{CheckedModel, Layer, LayerInfo, Receptive, Shape, SizeReport, Tensor};
pub use infer::MAX_ELEMENTS;
pub use lower::{expected_params, lower, param_key, param_role, LowerError};

use cnn_diag::{Code, Diagnostic, SourceFile};
use cnn_syntax::ast;
use std::collections::HashSet;

/// What the caller can change about a check.
#[derive(Clone, Debug, Default)]
pub struct CheckOptions {
    /// Warn about strided downsampling without a low-pass filter (W0004).
    pub warn_aliasing: bool,
    /// Values for symbolic dimensions (`--dim H=224`).
    pub bindings: Vec<(String, u64)>,
    /// Search for repairs and keep only fixes that a re-check confirms. Off inside the
    /// verification itself.
    pub verify_fixes: bool,
}

#[derive(Clone, Debug)]
pub struct CheckResult {
    pub models: Vec<CheckedModel>,
    /// Sorted by position; each problem once, even when a block repeats it.
    pub diagnostics: Vec<Diagnostic>,
}

impl CheckResult {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Parse and check a source file.
pub fn check_source(source: &SourceFile, options: &CheckOptions) -> CheckResult {
    let (file, mut diagnostics) = cnn_syntax::parse(source);
    let mut result = check(source, &file, options);
    diagnostics.append(&mut result.diagnostics);
    result.diagnostics = diagnostics;
    if options.verify_fixes {
        fixes::search_and_verify(source, options, &mut result);
    }
    result
}

/// Check a parsed file.
pub fn check(source: &SourceFile, file: &ast::File, options: &CheckOptions) -> CheckResult {
    let mut diagnostics = definitions(file);
    let mut models = Vec::new();
    for model_ast in &file.models {
        let mut expander = expand::Expander::new(file, model_ast);
        expander.expand_model(model_ast);
        let mut model_diagnostics = std::mem::take(&mut expander.diagnostics);
        let decls = std::mem::take(&mut expander.input_decls);
        let mut model = expander.model;
        model_diagnostics.extend(inputs::declare(&mut model, &decls, &options.bindings));
        let mut inference = infer::Inference {
            source: source.text(),
            model: &mut model,
            diagnostics: Vec::new(),
            constraints: Vec::new(),
        };
        inference.run();
        let constraints = std::mem::take(&mut inference.constraints);
        model_diagnostics.append(&mut inference.diagnostics);
        let input_shapes: Vec<&[dim::Dim]> =
            model.inputs.iter().filter_map(|t| model.tensors[*t].shape.as_deref()).collect();
        let spatial = sizes::spatial_symbols(&input_shapes);
        let (reports, size_errors) = sizes::analyse(&constraints, &spatial);
        model.accepted_sizes = reports;
        model_diagnostics.extend(size_errors);
        model_diagnostics.extend(lints::lint(&model, options.warn_aliasing));
        // A name defined twice already explains its clashing weights.
        let clashes: Vec<Diagnostic> = duplicate_weight_names(&model)
            .into_iter()
            .filter(|d| {
                !model_diagnostics
                    .iter()
                    .any(|m| m.code == Code::DUPLICATE_NAME && m.primary.span.start == d.primary.span.start)
            })
            .collect();
        model_diagnostics.extend(clashes);
        diagnostics.extend(model_diagnostics);
        models.push(model);
    }
    if file.models.is_empty() && !file.blocks.is_empty() {
        let first = &file.blocks[0];
        diagnostics.push(
            Diagnostic::new(
                Code::NO_INPUT,
                "the file declares blocks but no model",
                first.name.span,
                "a block alone is not run",
            )
            .with_help("add `model NAME { input x: [N, C, H, W] ... }` that uses the blocks"),
        );
    }
    CheckResult { models, diagnostics: tidy(diagnostics) }
}

/// Problems with the top-level declarations: duplicate names, blocks named like built-in
/// layers, duplicate parameters, and unknown codes in `@allow`.
fn definitions(file: &ast::File) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut seen: Vec<&ast::Ident> = Vec::new();
    let names = file.models.iter().map(|m| &m.name).chain(file.blocks.iter().map(|b| &b.name));
    for name in names {
        if let Some(first) = seen.iter().find(|n| n.text == name.text) {
            out.push(
                Diagnostic::new(
                    Code::DUPLICATE_NAME,
                    format!("`{}` is defined twice", name.text),
                    name.span,
                    "defined again here",
                )
                .with_secondary(first.span, "first defined here"),
            );
        }
        seen.push(name);
    }
    for block in &file.blocks {
        if ops::BUILTIN_NAMES.contains(&block.name.text.as_str()) {
            out.push(Diagnostic::new(
                Code::DUPLICATE_NAME,
                format!("block `{}` has the name of a built-in layer", block.name.text),
                block.name.span,
                "choose another name",
            ));
        }
        let mut params: std::collections::HashMap<&str, &ast::Ident> = std::collections::HashMap::new();
        for param in &block.params {
            if let Some(first) = params.get(param.name.text.as_str()) {
                out.push(
                    Diagnostic::new(
                        Code::DUPLICATE_NAME,
                        format!("parameter `{}` is declared twice", param.name.text),
                        param.name.span,
                        "again here",
                    )
                    .with_secondary(first.span, "first here"),
                );
            }
            params.entry(&param.name.text).or_insert(&param.name);
        }
    }
    let mut attrs: Vec<&ast::Attribute> = file.attrs.iter().collect();
    attrs.extend(file.models.iter().flat_map(|m| m.attrs.iter().chain(body_attrs(&m.body))));
    attrs.extend(file.blocks.iter().flat_map(|b| b.attrs.iter().chain(body_attrs(&b.body))));
    for code in attrs.iter().flat_map(|a| &a.codes) {
        if Code::parse(&code.text).is_none() {
            let known: Vec<&str> = cnn_diag::ALL_CODES.iter().map(|c| c.code.as_str()).collect();
            let mut d = Diagnostic::new(
                Code::UNKNOWN_ALLOW,
                format!("`@allow` names an unknown code `{}`", code.text),
                code.span,
                "no such code",
            );
            if let Some(best) = cnn_diag::suggest::closest(&code.text.to_ascii_uppercase(), known) {
                d = d.with_fix(cnn_diag::Fix::replace(format!("did you mean `{best}`?"), code.span, best));
            }
            out.push(d);
        }
    }
    out
}

fn body_attrs(body: &ast::Body) -> Vec<&ast::Attribute> {
    let mut out = Vec::new();
    for statement in &body.statements {
        out.extend(statement.attrs.iter());
        if let ast::StatementKind::Layer(ast::LayerStmt { op: ast::Operation::Group { body, .. }, .. }) =
            &statement.kind
        {
            out.extend(body_attrs(body));
        }
    }
    out
}

/// Two layers whose weights would have the same `state_dict` keys (two unnamed instances of
/// a block, or a name that a `seq` position also produces): weights could not be told apart.
fn duplicate_weight_names(model: &CheckedModel) -> Vec<Diagnostic> {
    let mut first: std::collections::HashMap<&str, &Layer> = std::collections::HashMap::new();
    let mut out = Vec::new();
    for layer in model.layers.iter().filter(|l| l.op.has_weights() && !l.path.is_empty() && !l.unbound) {
        match first.get(layer.path.as_str()) {
            Some(earlier) if earlier.span != layer.span || earlier.instantiated_at != layer.instantiated_at => {
                let mut d = Diagnostic::new(
                    Code::DUPLICATE_NAME,
                    format!("two layers would have the same weight names `{}.weight`", layer.path),
                    layer.instantiated_at.last().copied().unwrap_or(layer.span),
                    "this layer's weights",
                )
                .with_secondary(earlier.instantiated_at.last().copied().unwrap_or(earlier.span), "clash with this one")
                .with_help("give the statements (or block instances) different names");
                if layer.instantiated_at.is_empty() {
                    d.primary.span = layer.span;
                }
                out.push(d);
            }
            Some(_) => {}
            None => {
                first.insert(&layer.path, layer);
            }
        }
    }
    out
}

/// Sort by position and report each problem once: a block instantiated eight times with the
/// same fault yields one diagnostic.
fn tidy(mut diagnostics: Vec<Diagnostic>) -> Vec<Diagnostic> {
    let mut seen = HashSet::new();
    diagnostics.retain(|d| seen.insert((d.code, d.primary.span, d.message.clone())));
    let mut seen_site = HashSet::new();
    diagnostics.retain(|d| seen_site.insert((d.code, d.primary.span)));
    diagnostics.sort_by_key(|d| (d.primary.span.start, d.severity, d.code));
    diagnostics
}
