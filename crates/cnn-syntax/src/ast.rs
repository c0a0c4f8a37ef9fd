//! The syntax tree of a `.cnn` file: exactly what was written, with spans, nothing inferred.
//!
//! Meaning (which op a name refers to, what an argument is worth) is decided by `cnn-check`.

use cnn_diag::Span;

/// A name as written, with where it was written.
#[derive(Clone, Debug, PartialEq)]
pub struct Ident {
    pub text: String,
    pub span: Span,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct File {
    /// `@allow(...)` lines before the first item: they apply to the whole file.
    pub attrs: Vec<Attribute>,
    pub models: Vec<Model>,
    pub blocks: Vec<Block>,
}

/// `@allow(W0001, ...)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Attribute {
    pub codes: Vec<Ident>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    pub attrs: Vec<Attribute>,
    pub name: Ident,
    pub body: Body,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Block {
    pub attrs: Vec<Attribute>,
    pub name: Ident,
    pub params: Vec<Param>,
    pub body: Body,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    pub name: Ident,
    pub default: Option<Value>,
    pub span: Span,
}

/// `{ statements }`.
#[derive(Clone, Debug, PartialEq)]
pub struct Body {
    pub statements: Vec<Statement>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Statement {
    pub attrs: Vec<Attribute>,
    pub kind: StatementKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum StatementKind {
    Input(InputDecl),
    Output(Vec<Ident>),
    Layer(LayerStmt),
}

/// `input x: [N, 3, 224, 224]`.
#[derive(Clone, Debug, PartialEq)]
pub struct InputDecl {
    pub name: Ident,
    pub dims: Vec<DimDecl>,
    pub shape_span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum DimDecl {
    /// An integer; `None` when it does not fit in 64 bits.
    Int(Option<u64>, Span),
    Symbol(Ident),
}

impl DimDecl {
    pub fn span(&self) -> Span {
        match self {
            DimDecl::Int(_, span) => *span,
            DimDecl::Symbol(ident) => ident.span,
        }
    }
}

/// `[name =] [from source] operation`.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerStmt {
    pub name: Option<Ident>,
    pub from: Option<Ident>,
    pub op: Operation,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Operation {
    Call(Call),
    /// `{ ... }` (`seq: false`) or `seq { ... }` (`seq: true`).
    Group {
        seq: bool,
        body: Body,
    },
}

/// `conv(64, 3, stride=2) * 2`.
#[derive(Clone, Debug, PartialEq)]
pub struct Call {
    pub callee: Ident,
    pub args: Vec<Arg>,
    /// The parenthesised argument list, if written; fixes insert new arguments before its `)`.
    pub args_span: Option<Span>,
    pub repeat: Option<(Option<u64>, Span)>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Arg {
    pub name: Option<Ident>,
    pub value: Value,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Value {
    pub kind: ValueKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ValueKind {
    /// `3x3`: height × width.
    Pair(Expr, Expr),
    /// `(1, 2)`.
    Tuple(Vec<Expr>),
    Expr(Expr),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    Number(Number),
    Bool(bool),
    Name(String),
    Neg(Box<Expr>),
    /// `a op b op c …`, evaluated left to right. Kept flat (not a nested tree) so a sum of
    /// ten thousand terms is no deeper than a sum of two.
    Chain(Box<Expr>, Vec<(BinOp, Expr)>),
}

/// A numeric literal. `int` is set for literals written without `.` or exponent that fit in
/// an `i64`; `overflow` records an integer literal too large for that.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Number {
    pub int: Option<i64>,
    pub float: f64,
    pub overflow: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}
