//! Turns pest's pairs into the [`crate::ast`]: one function per grammar rule, in grammar order.
//!
//! The grammar has already accepted the text, so the shapes of the pairs are known; a pair that
//! is not where the grammar puts it is a bug in this file, which the parser tests catch.

use crate::ast::*;
use crate::parse::Rule;
use cnn_diag::Span;
use pest::iterators::{Pair, Pairs};

type P<'i> = Pair<'i, Rule>;

/// The pair's span without trailing whitespace and comments. pest includes them when a rule
/// ends in an optional or repeated part that matched nothing (`relu  // note` as a call).
fn span(pair: &P<'_>) -> Span {
    let s = pair.as_span();
    Span::new(s.start(), tight_end(s.get_input(), s.start(), s.end()))
}

/// The end of the last token in `text[start..end]`, skipping comments and whitespace.
fn tight_end(text: &str, start: usize, end: usize) -> usize {
    let bytes = text.as_bytes();
    let mut i = start;
    let mut last = start;
    while i < end {
        if bytes[i..end].starts_with(b"//") {
            while i < end && bytes[i] != b'\n' {
                i += 1;
            }
        } else if bytes[i..end].starts_with(b"/*") {
            let mut depth = 0usize;
            while i < end {
                if bytes[i..end].starts_with(b"/*") {
                    depth += 1;
                    i += 2;
                } else if bytes[i..end].starts_with(b"*/") {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if bytes[i].is_ascii_whitespace() {
            i += 1;
        } else {
            i += 1;
            last = i;
        }
    }
    // `last` may sit inside a multi-byte character; move to its end.
    while last < end && !text.is_char_boundary(last) {
        last += 1;
    }
    last
}

/// The meaningful children of a pair: keyword tokens are dropped.
fn children<'i>(pair: P<'i>) -> impl Iterator<Item = P<'i>> {
    pair.into_inner().filter(|p| !is_keyword(p.as_rule()))
}

fn is_keyword(rule: Rule) -> bool {
    matches!(
        rule,
        Rule::kw_model
            | Rule::kw_block
            | Rule::kw_input
            | Rule::kw_output
            | Rule::kw_from
            | Rule::kw_seq
            | Rule::kw_true
            | Rule::kw_false
    )
}

pub(crate) fn file(mut pairs: Pairs<'_, Rule>) -> File {
    let mut out = File::default();
    let Some(file_pair) = pairs.next() else { return out };
    for item in children(file_pair) {
        match item.as_rule() {
            Rule::model => out.models.push(model(item)),
            Rule::block => out.blocks.push(block(item)),
            _ => {}
        }
    }
    // `@allow` before the first item applies to the whole file.
    let first_item = |attrs: &mut Vec<Attribute>| std::mem::take(attrs);
    let first_start = out.models.iter().map(|m| m.span.start).chain(out.blocks.iter().map(|b| b.span.start)).min();
    if let Some(first) = first_start {
        if let Some(model) = out.models.iter_mut().find(|m| m.span.start == first) {
            out.attrs = first_item(&mut model.attrs);
        } else if let Some(block) = out.blocks.iter_mut().find(|b| b.span.start == first) {
            out.attrs = first_item(&mut block.attrs);
        }
    }
    out
}

fn attributes(pair: P<'_>) -> Vec<Attribute> {
    children(pair).map(attribute).collect()
}

fn attribute(pair: P<'_>) -> Attribute {
    let span = span(&pair);
    let codes = children(pair)
        .flat_map(children)
        .map(|code| Ident { text: code.as_str().to_string(), span: self::span(&code) })
        .collect();
    Attribute { codes, span }
}

fn model(pair: P<'_>) -> Model {
    let span = span(&pair);
    let mut inner = children(pair);
    let attrs = attributes(inner.next().expect("model: attributes"));
    let name = ident(inner.next().expect("model: name"));
    let body = body(inner.next().expect("model: body"));
    Model { attrs, name, body, span }
}

fn block(pair: P<'_>) -> Block {
    let span = span(&pair);
    let mut inner = children(pair);
    let attrs = attributes(inner.next().expect("block: attributes"));
    let name = ident(inner.next().expect("block: name"));
    let params = children(inner.next().expect("block: params")).map(param).collect();
    let body = body(inner.next().expect("block: body"));
    Block { attrs, name, params, body, span }
}

fn param(pair: P<'_>) -> Param {
    let span = span(&pair);
    let mut inner = children(pair);
    let name = ident(inner.next().expect("param: name"));
    let default = inner.next().map(value);
    Param { name, default, span }
}

fn body(pair: P<'_>) -> Body {
    let span = span(&pair);
    Body { statements: children(pair).map(statement).collect(), span }
}

fn statement(pair: P<'_>) -> Statement {
    let span = span(&pair);
    let mut inner = children(pair);
    let attrs = attributes(inner.next().expect("statement: attributes"));
    let kind_pair = inner.next().expect("statement: kind");
    let kind = match kind_pair.as_rule() {
        Rule::input_decl => StatementKind::Input(input_decl(kind_pair)),
        Rule::output_decl => StatementKind::Output(children(kind_pair).map(ident).collect()),
        _ => StatementKind::Layer(layer_stmt(kind_pair)),
    };
    Statement { attrs, kind, span }
}

fn input_decl(pair: P<'_>) -> InputDecl {
    let mut inner = children(pair);
    let name = ident(inner.next().expect("input: name"));
    let shape = inner.next().expect("input: shape");
    let shape_span = span(&shape);
    let dims = children(shape).map(dim).collect();
    InputDecl { name, dims, shape_span }
}

fn dim(pair: P<'_>) -> DimDecl {
    let inner = children(pair).next().expect("dim: int or ident");
    match inner.as_rule() {
        Rule::int => DimDecl::Int(inner.as_str().parse().ok(), span(&inner)),
        _ => DimDecl::Symbol(ident(inner)),
    }
}

fn layer_stmt(pair: P<'_>) -> LayerStmt {
    let mut name = None;
    let mut from = None;
    let mut op = None;
    for child in children(pair) {
        match child.as_rule() {
            Rule::stmt_name => name = Some(ident(child)),
            Rule::from_clause => from = children(child).next().map(ident),
            Rule::operation => op = Some(operation(child)),
            _ => {}
        }
    }
    LayerStmt { name, from, op: op.expect("layer statement: operation") }
}

fn operation(pair: P<'_>) -> Operation {
    let inner = children(pair).next().expect("operation: alternative");
    match inner.as_rule() {
        Rule::seq_group => Operation::Group { seq: true, body: body(children(inner).next().expect("seq: body")) },
        Rule::group => Operation::Group { seq: false, body: body(children(inner).next().expect("group: body")) },
        _ => Operation::Call(call(inner)),
    }
}

fn call(pair: P<'_>) -> Call {
    let span = span(&pair);
    let mut inner = children(pair);
    let callee = ident(inner.next().expect("call: callee"));
    let mut out = Call { callee, args: Vec::new(), args_span: None, repeat: None, span };
    for child in inner {
        match child.as_rule() {
            Rule::args => {
                out.args_span = Some(self::span(&child));
                out.args = children(child).map(arg).collect();
            }
            Rule::repeat => {
                let count = children(child).next().expect("repeat: int");
                out.repeat = Some((count.as_str().parse().ok(), self::span(&count)));
            }
            _ => {}
        }
    }
    out
}

fn arg(pair: P<'_>) -> Arg {
    let span = span(&pair);
    let mut name = None;
    let mut val = None;
    for child in children(pair) {
        match child.as_rule() {
            Rule::arg_name => name = Some(ident(child)),
            _ => val = Some(value(child)),
        }
    }
    Arg { name, value: val.expect("arg: value"), span }
}

fn value(pair: P<'_>) -> Value {
    let span = span(&pair);
    let inner = children(pair).next().expect("value: alternative");
    let kind = match inner.as_rule() {
        Rule::pair => {
            let mut atoms = children(inner).filter(|p| p.as_rule() != Rule::times).map(atom);
            let height = atoms.next().expect("pair: height");
            let width = atoms.next().expect("pair: width");
            ValueKind::Pair(height, width)
        }
        Rule::tuple => ValueKind::Tuple(children(inner).map(expr).collect()),
        _ => ValueKind::Expr(expr(inner)),
    };
    Value { kind, span }
}

fn atom(pair: P<'_>) -> Expr {
    let span = span(&pair);
    let kind = match pair.as_rule() {
        Rule::number => ExprKind::Number(number(pair.as_str())),
        _ => ExprKind::Name(pair.as_str().to_string()),
    };
    Expr { kind, span }
}

fn expr(pair: P<'_>) -> Expr {
    binary_chain(pair, term)
}

fn term(pair: P<'_>) -> Expr {
    binary_chain(pair, factor)
}

/// `a op b op c`, as one flat chain (evaluated left to right).
fn binary_chain(pair: P<'_>, operand: fn(P<'_>) -> Expr) -> Expr {
    let mut inner = children(pair);
    let first = operand(inner.next().expect("binary: first operand"));
    let mut rest = Vec::new();
    while let (Some(op), Some(right)) = (inner.next(), inner.next()) {
        let op = match op.as_str() {
            "+" => BinOp::Add,
            "-" => BinOp::Sub,
            "*" => BinOp::Mul,
            "/" => BinOp::Div,
            _ => BinOp::Rem,
        };
        rest.push((op, operand(right)));
    }
    match rest.last() {
        None => first,
        Some((_, last)) => {
            let span = first.span.to(last.span);
            Expr { kind: ExprKind::Chain(Box::new(first), rest), span }
        }
    }
}

fn factor(pair: P<'_>) -> Expr {
    let span = span(&pair);
    let mut negate = false;
    let mut out = None;
    for child in children(pair) {
        match child.as_rule() {
            Rule::neg => negate = true,
            Rule::number => {
                out = Some(Expr { span: self::span(&child), kind: ExprKind::Number(number(child.as_str())) })
            }
            Rule::boolean => {
                out = Some(Expr { span: self::span(&child), kind: ExprKind::Bool(child.as_str() == "true") })
            }
            Rule::ident => {
                out = Some(Expr { span: self::span(&child), kind: ExprKind::Name(child.as_str().to_string()) })
            }
            _ => out = Some(expr(child)),
        }
    }
    let inner = out.expect("factor: operand");
    if negate {
        Expr { kind: ExprKind::Neg(Box::new(inner)), span }
    } else {
        inner
    }
}

fn number(text: &str) -> Number {
    let is_int = text.bytes().all(|b| b.is_ascii_digit());
    let int = if is_int { text.parse::<i64>().ok() } else { None };
    Number { int, float: text.parse::<f64>().unwrap_or(f64::INFINITY), overflow: is_int && int.is_none() }
}

fn ident(pair: P<'_>) -> Ident {
    Ident { text: pair.as_str().to_string(), span: span(&pair) }
}
