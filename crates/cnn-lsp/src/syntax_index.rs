//! What the editor features need from the syntax tree, flattened: every statement with its
//! item and call, every name defined and used (for definition and references), every model and
//! block (for the outline).

use cnn_diag::{SourceFile, Span};
use cnn_syntax::ast::{self, ExprKind, Operation, StatementKind, ValueKind};

#[derive(Clone, Debug, Default)]
pub struct SyntaxIndex {
    pub items: Vec<Item>,
    pub statements: Vec<Statement>,
    /// Tensor names where they are defined (statement names, inputs), per item.
    pub defs: Vec<Name>,
    /// Tensor names where they are used (`from`, `add`, `concat`, `output`).
    pub uses: Vec<Name>,
    /// Calls of blocks or layers by name: `basic(64)` → `basic`.
    pub callees: Vec<Name>,
}

#[derive(Clone, Debug)]
pub struct Item {
    pub name: String,
    pub name_span: Span,
    pub span: Span,
    pub is_block: bool,
}

#[derive(Clone, Debug)]
pub struct Name {
    pub text: String,
    pub span: Span,
    /// Index into `items`.
    pub item: usize,
}

#[derive(Clone, Debug)]
pub struct Statement {
    pub span: Span,
    pub item: usize,
    pub name: Option<ast::Ident>,
    pub from: Option<ast::Ident>,
    pub call: Option<ast::Call>,
    pub is_group: bool,
}

impl SyntaxIndex {
    pub fn new(source: &SourceFile) -> SyntaxIndex {
        let (file, _) = cnn_syntax::parse(source);
        let mut index = SyntaxIndex::default();
        for model in &file.models {
            let item = index.items.len();
            index.items.push(Item {
                name: model.name.text.clone(),
                name_span: model.name.span,
                span: model.span,
                is_block: false,
            });
            index.body(&model.body, item);
        }
        for block in &file.blocks {
            let item = index.items.len();
            index.items.push(Item {
                name: block.name.text.clone(),
                name_span: block.name.span,
                span: block.span,
                is_block: true,
            });
            index.body(&block.body, item);
        }
        index
    }

    fn body(&mut self, body: &ast::Body, item: usize) {
        for statement in &body.statements {
            match &statement.kind {
                StatementKind::Input(decl) => self.defs.push(name(&decl.name, item)),
                StatementKind::Output(names) => self.uses.extend(names.iter().map(|n| name(n, item))),
                StatementKind::Layer(layer) => {
                    if let Some(n) = &layer.name {
                        self.defs.push(name(n, item));
                    }
                    if let Some(from) = &layer.from {
                        self.uses.push(name(from, item));
                    }
                    let (call, is_group) = match &layer.op {
                        Operation::Call(call) => {
                            self.callees.push(name(&call.callee, item));
                            if call.callee.text == "add" || call.callee.text == "concat" {
                                for arg in &call.args {
                                    if let ValueKind::Expr(ast::Expr { kind: ExprKind::Name(text), span }) =
                                        &arg.value.kind
                                    {
                                        self.uses.push(Name { text: text.clone(), span: *span, item });
                                    }
                                }
                            }
                            (Some(call.clone()), false)
                        }
                        Operation::Group { body, .. } => {
                            self.body(body, item);
                            (None, true)
                        }
                    };
                    self.statements.push(Statement {
                        span: statement.span,
                        item,
                        name: layer.name.clone(),
                        from: layer.from.clone(),
                        call,
                        is_group,
                    });
                }
            }
        }
    }

    /// The innermost statement containing `offset`.
    pub fn statement_at(&self, offset: usize) -> Option<&Statement> {
        self.statements
            .iter()
            .filter(|s| (s.span.start as usize) <= offset && offset <= s.span.end as usize)
            .min_by_key(|s| s.span.len())
    }

    /// The name (defined, used, or called) under `offset`.
    pub fn name_at(&self, offset: usize) -> Option<&Name> {
        self.defs
            .iter()
            .chain(&self.uses)
            .chain(&self.callees)
            .find(|n| (n.span.start as usize) <= offset && offset <= n.span.end as usize)
    }

    pub fn item_named(&self, text: &str) -> Option<&Item> {
        self.items.iter().find(|i| i.name == text)
    }
}

fn name(ident: &ast::Ident, item: usize) -> Name {
    Name { text: ident.text.clone(), span: ident.span, item }
}
