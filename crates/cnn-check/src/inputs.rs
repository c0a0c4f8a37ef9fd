//! Input declarations become shapes: rank and dimension checks, channel counts that must be
//! concrete, symbols bound from the command line, and the size limit.

use crate::dim::Dim;
use crate::graph::{CheckedModel, Receptive, TensorId};
use crate::infer::MAX_ELEMENTS;
use cnn_diag::{Code, Diagnostic};
use cnn_syntax::ast::{DimDecl, InputDecl};

pub(crate) fn declare(
    model: &mut CheckedModel,
    decls: &[(TensorId, &InputDecl)],
    bindings: &[(String, u64)],
) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    for (id, decl) in decls {
        match shape(decl, bindings) {
            Ok(shape) => {
                let receptive = (shape.len() == 4).then_some(Receptive { field: [1, 1], stride: [1, 1] });
                model.tensors[*id].shape = Some(shape);
                model.tensors[*id].receptive = receptive;
            }
            Err(d) => diagnostics.push(d),
        }
    }
    diagnostics
}

fn shape(decl: &InputDecl, bindings: &[(String, u64)]) -> Result<Vec<Dim>, Diagnostic> {
    let rank = decl.dims.len();
    if rank != 2 && rank != 4 {
        return Err(Diagnostic::new(
            Code::BAD_INPUT,
            format!("inputs have 2 dimensions ([N, features]) or 4 ([N, C, H, W]), not {rank}"),
            decl.shape_span,
            format!("{rank} dimensions"),
        )
        .with_help("cnnc uses NCHW: batch, channels, height, width"));
    }
    let mut dims = Vec::new();
    for (axis, dim) in decl.dims.iter().enumerate() {
        let value = match dim {
            DimDecl::Int(None, span) => {
                return Err(Diagnostic::new(Code::TOO_LARGE, "dimension too large", *span, "does not fit in 64 bits"))
            }
            DimDecl::Int(Some(0), span) => {
                return Err(Diagnostic::new(Code::BAD_INPUT, "a dimension of 0 makes an empty tensor", *span, "0 here"))
            }
            DimDecl::Int(Some(v), _) => Dim::Known(*v),
            DimDecl::Symbol(ident) => match bindings.iter().find(|(name, _)| *name == ident.text) {
                Some((_, 0)) => {
                    return Err(Diagnostic::new(
                        Code::BAD_INPUT,
                        format!("`{}` is bound to 0", ident.text),
                        ident.span,
                        "empty",
                    ))
                }
                Some((_, v)) => Dim::Known(*v),
                None if axis == 1 => {
                    return Err(Diagnostic::new(
                        Code::BAD_INPUT,
                        format!(
                            "the {} must be a number, not the symbol `{}`",
                            if rank == 4 { "channel count" } else { "feature count" },
                            ident.text
                        ),
                        ident.span,
                        "must be concrete",
                    )
                    .with_help("layers need to know their input channels to have weights; write e.g. `3`"))
                }
                None => Dim::symbol(&ident.text),
            },
        };
        dims.push(value);
    }
    let per_sample = dims[1..].iter().try_fold(1u64, |acc, d| match d {
        Dim::Known(v) => acc.checked_mul(*v),
        Dim::Sym(_) => Some(acc),
    });
    let total = per_sample.and_then(|p| p.checked_mul(dims[0].known().unwrap_or(1)));
    match total {
        Some(t) if t <= MAX_ELEMENTS => Ok(dims),
        _ => Err(Diagnostic::new(
            Code::TOO_LARGE,
            format!("this input has more than 2^40 elements ({})", element_count(&dims)),
            decl.shape_span,
            "too large to describe",
        )
        .with_note("cnnc refuses tensors above 2^40 elements (4 TiB of f32): they are reported, never allocated")),
    }
}

fn element_count(dims: &[Dim]) -> String {
    let product = dims.iter().filter_map(Dim::known).map(|v| v as f64).product::<f64>();
    format!("about {product:.1e}")
}
