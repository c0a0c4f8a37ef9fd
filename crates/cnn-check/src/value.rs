//! Argument values: evaluating the expressions written in calls and block parameter defaults.
//!
//! Block parameters are bound in an [`Env`]; any other bare word evaluates to [`Val::Word`]
//! (`padding=same`), and it is the consumer's job to accept or reject it. Integer arithmetic is
//! checked: overflow and division by zero are diagnostics, never panics.

use cnn_diag::{Code, Diagnostic, Span};
use cnn_syntax::ast::{BinOp, Expr, ExprKind, Value, ValueKind};
use std::collections::HashMap;

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Val {
    Int(i64),
    Float(f64),
    Bool(bool),
    /// `3x3`.
    Pair(i64, i64),
    Tuple(Vec<i64>),
    Word(String),
}

impl Val {
    pub(crate) fn describe(&self) -> String {
        match self {
            Val::Int(v) => format!("the integer {v}"),
            Val::Float(v) => format!("the number {v}"),
            Val::Bool(v) => format!("`{v}`"),
            Val::Pair(h, w) => format!("the pair {h}x{w}"),
            Val::Tuple(items) => format!("a {}-tuple", items.len()),
            Val::Word(w) => format!("the word `{w}`"),
        }
    }
}

/// Values bound to names while a block body is expanded: its parameters.
#[derive(Clone, Debug, Default)]
pub(crate) struct Env {
    pub(crate) values: HashMap<String, (Val, Span)>,
}

impl Env {
    pub(crate) fn get(&self, name: &str) -> Option<&Val> {
        self.values.get(name).map(|(val, _)| val)
    }
}

pub(crate) fn eval_value(value: &Value, env: &Env) -> Result<Val, Diagnostic> {
    match &value.kind {
        ValueKind::Expr(expr) => eval_expr(expr, env),
        ValueKind::Pair(h, w) => Ok(Val::Pair(eval_int(h, env)?, eval_int(w, env)?)),
        ValueKind::Tuple(items) => {
            items.iter().map(|item| eval_int(item, env)).collect::<Result<_, _>>().map(Val::Tuple)
        }
    }
}

fn eval_int(expr: &Expr, env: &Env) -> Result<i64, Diagnostic> {
    match eval_expr(expr, env)? {
        Val::Int(v) => Ok(v),
        Val::Word(word) => Err(Diagnostic::new(
            Code::UNKNOWN_TENSOR,
            format!("unknown name `{word}`"),
            expr.span,
            "not a block parameter or a number",
        )),
        other => Err(Diagnostic::new(
            Code::BAD_VALUE,
            format!("expected an integer, found {}", other.describe()),
            expr.span,
            "not an integer",
        )),
    }
}

pub(crate) fn eval_expr(expr: &Expr, env: &Env) -> Result<Val, Diagnostic> {
    match &expr.kind {
        ExprKind::Number(number) if number.overflow => {
            Err(Diagnostic::new(Code::TOO_LARGE, "integer literal too large", expr.span, "does not fit in 64 bits"))
        }
        ExprKind::Number(number) => Ok(number.int.map(Val::Int).unwrap_or(Val::Float(number.float))),
        ExprKind::Bool(b) => Ok(Val::Bool(*b)),
        ExprKind::Name(name) => Ok(env.get(name).cloned().unwrap_or_else(|| Val::Word(name.clone()))),
        ExprKind::Neg(inner) => match eval_expr(inner, env)? {
            Val::Int(v) => v.checked_neg().map(Val::Int).ok_or_else(|| overflow(expr.span)),
            Val::Float(v) => Ok(Val::Float(-v)),
            other => Err(not_arithmetic(&other, inner.span)),
        },
        ExprKind::Chain(first, rest) => {
            let mut value = eval_expr(first, env)?;
            let mut span = first.span;
            for (op, right) in rest {
                let r = eval_expr(right, env)?;
                let whole = span.to(right.span);
                value = binary(*op, &value, &r, span, right.span, whole)?;
                span = whole;
            }
            Ok(value)
        }
    }
}

fn binary(op: BinOp, l: &Val, r: &Val, l_span: Span, r_span: Span, span: Span) -> Result<Val, Diagnostic> {
    match (l, r) {
        (Val::Int(a), Val::Int(b)) => {
            let (a, b) = (*a, *b);
            if matches!(op, BinOp::Div | BinOp::Rem) && b == 0 {
                return Err(Diagnostic::new(Code::BAD_VALUE, "division by zero", r_span, "this is 0"));
            }
            let result = match op {
                BinOp::Add => a.checked_add(b),
                BinOp::Sub => a.checked_sub(b),
                BinOp::Mul => a.checked_mul(b),
                BinOp::Div => floor_div(a, b),
                BinOp::Rem => floor_div(a, b).and_then(|q| a.checked_sub(q.checked_mul(b)?)),
            };
            result.map(Val::Int).ok_or_else(|| overflow(span))
        }
        (Val::Int(_) | Val::Float(_), Val::Int(_) | Val::Float(_)) => {
            let a = as_float(l);
            let b = as_float(r);
            Ok(Val::Float(match op {
                BinOp::Add => a + b,
                BinOp::Sub => a - b,
                BinOp::Mul => a * b,
                BinOp::Div => a / b,
                BinOp::Rem => a % b,
            }))
        }
        (Val::Int(_) | Val::Float(_), other) => Err(not_arithmetic(other, r_span)),
        (other, _) => Err(not_arithmetic(other, l_span)),
    }
}

/// Division rounding towards −∞, like Python's `//` (so `%` takes the divisor's sign).
fn floor_div(a: i64, b: i64) -> Option<i64> {
    let q = a.checked_div(b)?;
    if a % b != 0 && ((a < 0) != (b < 0)) {
        q.checked_sub(1)
    } else {
        Some(q)
    }
}

fn as_float(v: &Val) -> f64 {
    match v {
        Val::Int(i) => *i as f64,
        Val::Float(f) => *f,
        _ => f64::NAN,
    }
}

fn overflow(span: Span) -> Diagnostic {
    Diagnostic::new(Code::TOO_LARGE, "arithmetic overflow", span, "the result does not fit in 64 bits")
}

fn not_arithmetic(val: &Val, span: Span) -> Diagnostic {
    let label = match val {
        Val::Word(w) => format!("`{w}` is not a parameter of this block"),
        _ => "not a number".to_string(),
    };
    let code = if matches!(val, Val::Word(_)) { Code::UNKNOWN_TENSOR } else { Code::BAD_VALUE };
    Diagnostic::new(code, format!("cannot do arithmetic on {}", val.describe()), span, label)
}
