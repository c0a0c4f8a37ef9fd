//! Expansion: from the syntax tree of one model to a flat list of layers with hierarchical
//! names, resolved tensor references and typed ops. Blocks, groups, `seq` and repeats are
//! unfolded here; shapes are not looked at (that is [`crate::infer`]).
//!
//! A statement that cannot be bound still produces a layer marked `unbound`, whose output is
//! unknown, so later statements resolve their names and report only their own problems.

use crate::graph::{CheckedModel, Layer, LayerInfo, Tensor, TensorId};
use crate::ops::{self, bind_builtin, Op};
use crate::value::{eval_value, Env};
use cnn_diag::suggest::closest;
use cnn_diag::{Code, Diagnostic, Fix, Span};
use cnn_syntax::ast::{self, Attribute, ExprKind, StatementKind, ValueKind};
use std::collections::HashMap;

/// The most layers one model may expand to; nested repeats could otherwise multiply forever.
pub(crate) const MAX_LAYERS: usize = 100_000;
/// How deep blocks may instantiate blocks (each level is a stack frame of the expander).
pub(crate) const MAX_BLOCK_DEPTH: usize = 64;

pub(crate) struct Expander<'a> {
    blocks: HashMap<&'a str, &'a ast::Block>,
    pub(crate) model: CheckedModel,
    pub(crate) diagnostics: Vec<Diagnostic>,
    /// Input declarations, with their dimension declarations, for inference.
    pub(crate) input_decls: Vec<(TensorId, &'a ast::InputDecl)>,
    frames: Vec<Frame>,
    block_stack: Vec<(&'a str, Span)>,
    instantiated_at: Vec<Span>,
    allow: Vec<String>,
    too_many_layers: bool,
    /// "This layer has no input" is said once, not for every layer of an input-less model.
    reported_no_input: bool,
    /// Unknown layer names already reported, by where they are written.
    reported_unknown: std::collections::HashSet<Span>,
}

/// Names visible in one body. A block's frame is opaque: lookups stop there.
struct Frame {
    names: HashMap<String, (TensorId, Span)>,
    opaque: bool,
}

/// Where the statements of a body get their names from.
#[derive(Clone)]
struct BodyCtx<'e> {
    prefix: String,
    env: &'e Env,
    seq: bool,
}

impl<'a> Expander<'a> {
    pub(crate) fn new(file: &'a ast::File, model: &'a ast::Model) -> Expander<'a> {
        let blocks = file.blocks.iter().map(|b| (b.name.text.as_str(), b)).collect();
        let mut allow = attr_codes(&file.attrs);
        allow.extend(attr_codes(&model.attrs));
        Expander {
            blocks,
            model: CheckedModel {
                name: model.name.text.clone(),
                span: model.span,
                name_span: model.name.span,
                inputs: Vec::new(),
                outputs: Vec::new(),
                tensors: Vec::new(),
                layers: Vec::new(),
                accepted_sizes: Vec::new(),
                allow: allow.clone(),
            },
            diagnostics: Vec::new(),
            input_decls: Vec::new(),
            frames: vec![Frame { names: HashMap::new(), opaque: true }],
            block_stack: Vec::new(),
            instantiated_at: Vec::new(),
            allow,
            too_many_layers: false,
            reported_no_input: false,
            reported_unknown: std::collections::HashSet::new(),
        }
    }

    pub(crate) fn expand_model(&mut self, model: &'a ast::Model) {
        let env = Env::default();
        let ctx = BodyCtx { prefix: String::new(), env: &env, seq: false };
        let (last, outputs) = self.body(&model.body, None, &ctx, true);
        if self.model.inputs.is_empty() {
            self.diagnostics.push(
                Diagnostic::new(
                    Code::NO_INPUT,
                    format!("model `{}` has no input", model.name.text),
                    model.name.span,
                    "declared here",
                )
                .with_help("declare one, e.g. `input x: [N, 3, 224, 224]`"),
            );
        } else if self.model.layers.is_empty() {
            self.diagnostics.push(Diagnostic::new(
                Code::NO_INPUT,
                format!("model `{}` has no layers", model.name.text),
                model.name.span,
                "declared here",
            ));
        }
        self.model.outputs = match outputs {
            Some(named) => named,
            None => last.into_iter().collect(),
        };
    }

    /// Expand a body; returns the last output and, if the body has an `output` line, its tensors.
    fn body(
        &mut self,
        body: &'a ast::Body,
        input: Option<TensorId>,
        ctx: &BodyCtx<'_>,
        top_level: bool,
    ) -> (Option<TensorId>, Option<Vec<TensorId>>) {
        let mut prev = input;
        let mut outputs = None;
        let mut position = 0usize;
        for statement in &body.statements {
            let saved_allow = self.allow.len();
            self.allow.extend(attr_codes(&statement.attrs));
            match &statement.kind {
                StatementKind::Input(decl) => {
                    if top_level {
                        prev = Some(self.input(decl, statement.span));
                    } else {
                        self.diagnostics.push(Diagnostic::new(
                            Code::NAME_NOT_ALLOWED,
                            "`input` declarations belong in a model, not in a block or group",
                            statement.span,
                            "inputs of a block come from `in`",
                        ));
                    }
                }
                StatementKind::Output(names) => {
                    if !top_level && names.len() > 1 {
                        self.diagnostics.push(
                            Diagnostic::new(
                                Code::NAME_NOT_ALLOWED,
                                format!("a block or group returns one tensor, but `output` names {}", names.len()),
                                statement.span,
                                "several outputs",
                            )
                            .with_help("only a model can have several outputs; concatenate or add them first"),
                        );
                    }
                    let resolved: Vec<TensorId> = names.iter().filter_map(|n| self.resolve(n)).collect();
                    // Naming a tensor in `output` uses it, even where the line is rejected.
                    for id in &resolved {
                        self.model.tensors[*id].allow.push(Code::UNUSED.as_str().to_string());
                    }
                    if resolved.len() == names.len() {
                        outputs = Some(resolved);
                    }
                }
                StatementKind::Layer(layer) => {
                    let name = if ctx.seq {
                        if let Some(name) = &layer.name {
                            self.diagnostics.push(
                                Diagnostic::new(
                                    Code::NAME_NOT_ALLOWED,
                                    format!("statements in `seq` are named by position; this one is `{position}`"),
                                    name.span,
                                    "explicit name inside `seq`",
                                )
                                .with_help("remove the name, or use a plain group `{ ... }` to name members"),
                            );
                        }
                        Some(ast::Ident { text: position.to_string(), span: statement.span })
                    } else {
                        layer.name.clone()
                    };
                    position += 1;
                    if let Some(out) = self.layer_stmt(layer, name.as_ref(), prev, ctx, statement.span) {
                        prev = Some(out);
                    }
                }
            }
            self.allow.truncate(saved_allow);
        }
        (prev, outputs)
    }

    fn input(&mut self, decl: &'a ast::InputDecl, span: Span) -> TensorId {
        let id = self.new_tensor(Some(decl.name.text.clone()), None, span);
        self.model.tensors[id].allow = self.allow.clone();
        self.define(&decl.name, id);
        self.model.inputs.push(id);
        self.input_decls.push((id, decl));
        id
    }

    fn layer_stmt(
        &mut self,
        stmt: &'a ast::LayerStmt,
        name: Option<&ast::Ident>,
        prev: Option<TensorId>,
        ctx: &BodyCtx<'_>,
        span: Span,
    ) -> Option<TensorId> {
        if let Some(name) = name {
            if name.text == "in" {
                self.diagnostics.push(Diagnostic::new(
                    Code::NAME_NOT_ALLOWED,
                    "`in` is the name of the block's input and cannot be redefined",
                    name.span,
                    "choose another name",
                ));
            }
        }
        let source = match &stmt.from {
            Some(from) => Some(self.resolve(from)?),
            None => prev,
        };
        let Some(source) = source else {
            if std::mem::replace(&mut self.reported_no_input, true) {
                return None;
            }
            self.diagnostics.push(
                Diagnostic::new(Code::NO_INPUT, "this layer has no input", span, "nothing comes before it")
                    .with_help("declare an input first, e.g. `input x: [N, 3, 224, 224]`"),
            );
            return None;
        };
        let path = match name {
            Some(name) => join(&ctx.prefix, &name.text),
            None => ctx.prefix.clone(),
        };
        let out = match &stmt.op {
            ast::Operation::Group { seq, body } => {
                self.frames.push(Frame { names: HashMap::new(), opaque: false });
                let inner = BodyCtx { prefix: path, env: ctx.env, seq: *seq };
                let (last, outputs) = self.body(body, Some(source), &inner, false);
                self.frames.pop();
                match outputs {
                    Some(outs) if outs.len() == 1 => outs[0],
                    _ => last.unwrap_or(source),
                }
            }
            ast::Operation::Call(call) => self.call(call, name, &path, source, ctx, span),
        };
        if let Some(name) = name {
            self.model.tensors[out].name = Some(name.text.clone());
            self.model.tensors[out].span = span;
            self.define(name, out);
        }
        Some(out)
    }

    fn call(
        &mut self,
        call: &'a ast::Call,
        name: Option<&ast::Ident>,
        path: &str,
        source: TensorId,
        ctx: &BodyCtx<'_>,
        span: Span,
    ) -> TensorId {
        let Some((count, count_span)) = call.repeat else {
            return self.call_once(call, name.is_some(), path, source, ctx, span);
        };
        let count = match count {
            Some(n) if (1..=MAX_LAYERS as u64).contains(&n) => n,
            _ => {
                self.diagnostics.push(Diagnostic::new(
                    Code::BAD_VALUE,
                    format!("a repeat count must be between 1 and {MAX_LAYERS}"),
                    count_span,
                    "repeat count",
                ));
                return self.unbound(call, path, name.is_some(), source, span);
            }
        };
        let mut prev = source;
        for i in 0..count {
            if self.too_many_layers {
                break;
            }
            let member = join(path, &i.to_string());
            prev = self.call_once(call, true, &member, prev, ctx, span);
        }
        prev
    }

    fn call_once(
        &mut self,
        call: &'a ast::Call,
        named: bool,
        path: &str,
        source: TensorId,
        ctx: &BodyCtx<'_>,
        span: Span,
    ) -> TensorId {
        let callee = call.callee.text.as_str();
        if callee == "add" || callee == "concat" {
            let op = if callee == "add" { Op::Add } else { Op::Concat };
            return match self.tensor_args(call, source) {
                Some(inputs) => self.push_layer(op, inputs, path, named, call, span, Vec::new()),
                None => self.unbound(call, path, named, source, span),
            };
        }
        if ops::is_builtin(callee) {
            return match bind_builtin(call, ctx.env) {
                Ok((op, arg_spans)) => {
                    let mut spans: Vec<(&'static str, Span)> = arg_spans.into_iter().collect();
                    spans.sort_by_key(|(_, s)| s.start);
                    self.push_layer(op, vec![source], path, named, call, span, spans)
                }
                Err(diagnostics) => {
                    self.diagnostics.extend(diagnostics);
                    self.unbound(call, path, named, source, span)
                }
            };
        }
        if let Some(block) = self.blocks.get(callee).copied() {
            return self.instantiate(block, call, path, source, ctx, span);
        }
        // Repeats and block instances reach the same unknown name many times; say it once.
        if !self.reported_unknown.insert(call.callee.span) {
            return self.unbound(call, path, named, source, span);
        }
        let known = ops::BUILTIN_NAMES.iter().copied().chain(self.blocks.keys().copied());
        let mut diagnostic = Diagnostic::new(
            Code::UNKNOWN_OP,
            format!("unknown layer or block `{callee}`"),
            call.callee.span,
            "not a layer or block",
        );
        if let Some(best) = closest(callee, known) {
            diagnostic = diagnostic.with_fix(Fix::replace(format!("did you mean `{best}`?"), call.callee.span, best));
        } else {
            diagnostic = diagnostic.with_help("see docs/LANGUAGE.md for the built-in layers, or declare a `block`");
        }
        self.diagnostics.push(diagnostic);
        self.unbound(call, path, named, source, span)
    }

    /// The tensors `add`/`concat` read: named ones, plus the previous output if only one is named.
    fn tensor_args(&mut self, call: &ast::Call, source: TensorId) -> Option<Vec<TensorId>> {
        let mut inputs = Vec::new();
        let mut ok = true;
        for arg in &call.args {
            let name = match (&arg.name, &arg.value.kind) {
                (None, ValueKind::Expr(ast::Expr { kind: ExprKind::Name(name), span })) => {
                    ast::Ident { text: name.clone(), span: *span }
                }
                _ => {
                    self.diagnostics.push(Diagnostic::new(
                        Code::BAD_VALUE,
                        format!("`{}` takes tensor names", call.callee.text),
                        arg.span,
                        "not a tensor name",
                    ));
                    ok = false;
                    continue;
                }
            };
            match self.resolve(&name) {
                Some(id) => inputs.push(id),
                None => ok = false,
            }
        }
        if !ok {
            return None;
        }
        match inputs.len() {
            0 => {
                self.diagnostics.push(
                    Diagnostic::new(
                        Code::MISSING_ARG,
                        format!("`{}` needs the tensors to combine", call.callee.text),
                        call.span,
                        "no tensors named",
                    )
                    .with_help(format!("e.g. `{}(in)` combines the previous output with `in`", call.callee.text)),
                );
                None
            }
            1 => Some(vec![source, inputs[0]]),
            _ => Some(inputs),
        }
    }

    fn instantiate(
        &mut self,
        block: &'a ast::Block,
        call: &'a ast::Call,
        path: &str,
        source: TensorId,
        caller: &BodyCtx<'_>,
        span: Span,
    ) -> TensorId {
        if let Some(first) = self.block_stack.iter().position(|(name, _)| *name == block.name.text) {
            let mut diagnostic = Diagnostic::new(
                Code::RECURSIVE_BLOCK,
                format!("block `{}` instantiates itself", block.name.text),
                call.callee.span,
                "instantiated again here",
            )
            .with_secondary(block.name.span, "defined here");
            for (name, at) in &self.block_stack[first + 1..] {
                diagnostic = diagnostic.with_secondary(*at, format!("through `{name}`"));
            }
            self.diagnostics.push(diagnostic);
            return self.unbound(call, path, true, source, span);
        }
        if self.block_stack.len() >= MAX_BLOCK_DEPTH {
            self.diagnostics.push(Diagnostic::new(
                Code::TOO_LARGE,
                format!("blocks nest more than {MAX_BLOCK_DEPTH} deep here"),
                call.callee.span,
                "one block too many",
            ));
            return self.unbound(call, path, true, source, span);
        }
        let Some(env) = self.bind_block_args(block, call, caller.env) else {
            return self.unbound(call, path, true, source, span);
        };
        self.block_stack.push((block.name.text.as_str(), call.callee.span));
        self.instantiated_at.insert(0, span);
        let saved_allow = self.allow.len();
        self.allow.extend(attr_codes(&block.attrs));
        self.frames.push(Frame { names: HashMap::new(), opaque: true });
        let in_ident = ast::Ident { text: "in".to_string(), span: block.name.span };
        self.frames.last_mut().expect("frame just pushed").names.insert("in".to_string(), (source, in_ident.span));
        let ctx = BodyCtx { prefix: path.to_string(), env: &env, seq: false };
        let (last, outputs) = self.body(&block.body, Some(source), &ctx, false);
        self.frames.pop();
        self.allow.truncate(saved_allow);
        self.instantiated_at.remove(0);
        self.block_stack.pop();
        match outputs {
            Some(outs) if outs.len() == 1 => outs[0],
            _ => last.unwrap_or(source),
        }
    }

    /// Evaluate a block call's arguments in the caller's environment; defaults in the block's.
    fn bind_block_args(&mut self, block: &'a ast::Block, call: &ast::Call, caller: &Env) -> Option<Env> {
        let names: Vec<&str> = block.params.iter().map(|p| p.name.text.as_str()).collect();
        let (matched, diagnostics) = ops::match_args(call, &names, &format!("block `{}`", block.name.text));
        let mut ok = diagnostics.is_empty();
        self.diagnostics.extend(diagnostics);
        let mut env = Env::default();
        for param in &block.params {
            let (value, evaluated) = match (matched.get(param.name.text.as_str()), &param.default) {
                (Some(arg), _) => (&arg.value, eval_value(&arg.value, caller)),
                (None, Some(default)) => (default, eval_value(default, &env)),
                (None, None) => {
                    self.diagnostics.push(
                        Diagnostic::new(
                            Code::MISSING_ARG,
                            format!("block `{}` needs `{}`", block.name.text, param.name.text),
                            call.args_span.unwrap_or(call.callee.span),
                            format!("`{}` missing", param.name.text),
                        )
                        .with_secondary(param.span, "parameter declared here without a default"),
                    );
                    ok = false;
                    continue;
                }
            };
            match evaluated {
                Ok(val) => {
                    env.values.insert(param.name.text.clone(), (val, value.span));
                }
                Err(diagnostic) => {
                    self.diagnostics.push(diagnostic);
                    ok = false;
                }
            }
        }
        ok.then_some(env)
    }

    #[allow(clippy::too_many_arguments)]
    fn push_layer(
        &mut self,
        op: Op,
        inputs: Vec<TensorId>,
        path: &str,
        named: bool,
        call: &ast::Call,
        span: Span,
        arg_spans: Vec<(&'static str, Span)>,
    ) -> TensorId {
        if self.model.layers.len() >= MAX_LAYERS {
            if !self.too_many_layers {
                self.too_many_layers = true;
                self.diagnostics.push(Diagnostic::new(
                    Code::TOO_LARGE,
                    format!("the model expands to more than {MAX_LAYERS} layers"),
                    span,
                    "expansion stopped here",
                ));
            }
            return inputs[0];
        }
        let layer_id = self.model.layers.len();
        let output = self.new_tensor(None, Some(layer_id), span);
        self.model.layers.push(Layer {
            path: path.to_string(),
            named,
            op,
            inputs,
            output,
            span,
            callee_span: call.callee.span,
            args_span: call.args_span,
            arg_spans,
            instantiated_at: self.instantiated_at.clone(),
            allow: self.allow.clone(),
            unbound: false,
            info: LayerInfo::default(),
        });
        output
    }

    /// A stand-in for a statement that could not be bound: its output is unknown.
    fn unbound(&mut self, call: &ast::Call, path: &str, named: bool, source: TensorId, span: Span) -> TensorId {
        let out = self.push_layer(Op::Identity, vec![source], path, named, call, span, Vec::new());
        if let Some(layer) = self.model.layers.last_mut() {
            if layer.output == out {
                layer.unbound = true;
            }
        }
        out
    }

    fn new_tensor(&mut self, name: Option<String>, producer: Option<usize>, span: Span) -> TensorId {
        self.model.tensors.push(Tensor { name, shape: None, producer, span, receptive: None, allow: Vec::new() });
        self.model.tensors.len() - 1
    }

    fn define(&mut self, name: &ast::Ident, id: TensorId) {
        let frame = self.frames.last_mut().expect("there is always a frame");
        if let Some((_, first)) = frame.names.get(&name.text) {
            let first = *first;
            self.diagnostics.push(
                Diagnostic::new(
                    Code::DUPLICATE_NAME,
                    format!("`{}` is defined twice", name.text),
                    name.span,
                    "defined again here",
                )
                .with_secondary(first, "first defined here")
                .with_help("give each statement its own name"),
            );
            return;
        }
        frame.names.insert(name.text.clone(), (id, name.span));
    }

    fn resolve(&mut self, name: &ast::Ident) -> Option<TensorId> {
        let mut visible: Vec<String> = Vec::new();
        for frame in self.frames.iter().rev() {
            if let Some((id, _)) = frame.names.get(&name.text) {
                return Some(*id);
            }
            visible.extend(frame.names.keys().cloned());
            if frame.opaque {
                break;
            }
        }
        let mut diagnostic = Diagnostic::new(
            Code::UNKNOWN_TENSOR,
            format!("no tensor named `{}` here", name.text),
            name.span,
            "unknown name",
        );
        if let Some(best) = closest(&name.text, visible.iter().map(String::as_str)) {
            diagnostic = diagnostic.with_fix(Fix::replace(format!("did you mean `{best}`?"), name.span, best));
        } else if !self.block_stack.is_empty() {
            diagnostic = diagnostic.with_help("inside a block only its own names and `in` are visible");
        }
        self.diagnostics.push(diagnostic);
        None
    }
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

pub(crate) fn attr_codes(attrs: &[Attribute]) -> Vec<String> {
    attrs.iter().flat_map(|a| a.codes.iter().map(|c| c.text.to_ascii_uppercase())).collect()
}
