//! Window arithmetic for convolution and pooling: the one place where output sizes are
//! computed, padding is resolved, and windows that do not fit or do not tile are explained.
//!
//! Formula (PyTorch's), per spatial axis: `n' = ⌊(n + p_b + p_a − e)/s⌋ + 1` with the dilated
//! extent `e = d·(k − 1) + 1`; ceil mode per [`crate::dim::AxisWindow::output`]. Every sum and
//! product is checked.

use crate::dim::{AxisWindow, Dim};
use crate::ops::{Hw, Padding};
use cnn_diag::{Code, Diagnostic, Span};

/// What the caller knows about a windowed layer, for messages.
pub(crate) struct WindowLayer<'a> {
    pub(crate) op: &'a str,
    pub(crate) kernel: Hw,
    pub(crate) stride: Hw,
    pub(crate) dilation: Hw,
    pub(crate) ceil: bool,
    /// Where the kernel, stride and padding were written (the call if not written).
    pub(crate) kernel_span: Span,
    pub(crate) stride_span: Span,
    pub(crate) padding_span: Span,
}

pub(crate) const AXES: [&str; 2] = ["height", "width"];

/// `d·(k − 1) + 1`, or `None` on overflow.
pub(crate) fn extent(kernel: u64, dilation: u64) -> Option<u64> {
    dilation.checked_mul(kernel - 1)?.checked_add(1)
}

/// Resolve `padding` to `[top, bottom, left, right]`. `same` (stride 1 only) pads
/// `d·(k − 1)` in total per axis, the odd pixel after (bottom/right), as PyTorch does.
pub(crate) fn resolve_padding(
    layer: &WindowLayer<'_>,
    padding: Padding,
    input: [&Dim; 2],
) -> Result<[u64; 4], Diagnostic> {
    match padding {
        Padding::Explicit(pads) => Ok(pads),
        Padding::Same if layer.stride == [1, 1] => {
            let mut pads = [0; 4];
            for axis in 0..2 {
                let total =
                    extent(layer.kernel[axis], layer.dilation[axis]).ok_or_else(|| overflow(layer.kernel_span))? - 1;
                pads[2 * axis] = total / 2;
                pads[2 * axis + 1] = total - total / 2;
            }
            Ok(pads)
        }
        Padding::Same => Err(same_with_stride(layer, input)),
    }
}

fn same_with_stride(layer: &WindowLayer<'_>, input: [&Dim; 2]) -> Diagnostic {
    let mut diagnostic = Diagnostic::new(
        Code::SAME_STRIDED,
        format!("`padding=same` is not defined for a stride of {}", show_hw(layer.stride)),
        layer.padding_span,
        "`same` needs stride 1",
    )
    .with_secondary(layer.stride_span, "stride set here")
    .with_note("PyTorch refuses `padding='same'` for strided convolutions: no padding keeps the size when the stride skips pixels");
    // TensorFlow's "same" for a strided layer: output ⌈n/s⌉, padding chosen to reach it.
    if let (Some(h), Some(w)) = (input[0].known(), input[1].known()) {
        let mut pads = [0u64; 4];
        let mut ok = true;
        for (axis, n) in [h, w].into_iter().enumerate() {
            let (s, k, d) = (layer.stride[axis], layer.kernel[axis], layer.dilation[axis]);
            match extent(k, d).and_then(|e| (n.div_ceil(s) - 1).checked_mul(s)?.checked_add(e)) {
                Some(needed) => {
                    let total = needed.saturating_sub(n);
                    pads[2 * axis] = total / 2;
                    pads[2 * axis + 1] = total - total / 2;
                }
                None => ok = false,
            }
        }
        if ok {
            diagnostic = diagnostic.with_help(format!(
                "for a {h}×{w} input, `padding={}` gives the output ⌈n/s⌉ = {}×{}",
                padding_source(pads),
                h.div_ceil(layer.stride[0]),
                w.div_ceil(layer.stride[1])
            ));
        }
    }
    diagnostic
}

/// The shortest source spelling of a resolved padding.
pub(crate) fn padding_source(p: [u64; 4]) -> String {
    if p.iter().all(|v| *v == p[0]) {
        p[0].to_string()
    } else if p[0] == p[1] && p[2] == p[3] {
        format!("({}, {})", p[0], p[2])
    } else {
        format!("({}, {}, {}, {})", p[0], p[1], p[2], p[3])
    }
}

pub(crate) fn show_hw(v: Hw) -> String {
    if v[0] == v[1] {
        v[0].to_string()
    } else {
        format!("{}x{}", v[0], v[1])
    }
}

pub(crate) fn axis_window(layer: &WindowLayer<'_>, pads: [u64; 4], axis: usize) -> Option<AxisWindow> {
    Some(AxisWindow {
        pad_before: pads[2 * axis],
        pad_after: pads[2 * axis + 1],
        extent: extent(layer.kernel[axis], layer.dilation[axis])?,
        dilation: layer.dilation[axis],
        stride: layer.stride[axis],
        ceil: layer.ceil,
    })
}

/// `⌊(7 + 0 − 3)/2⌋ + 1 = 3`, the formula with this axis's numbers filled in.
pub(crate) fn arithmetic(n: u64, window: &AxisWindow) -> String {
    let pads = window.pad_before as i128 + window.pad_after as i128;
    let numerator = n as i128 + pads - window.extent as i128;
    let (open, close) = if window.ceil { ("⌈", "⌉") } else { ("⌊", "⌋") };
    let value = if numerator < 0 {
        // No window fits; show the exact (negative) quotient's floor to make the point.
        numerator.div_euclid(window.stride as i128) + 1
    } else {
        window.output(n).map(|v| v as i128).unwrap_or(0)
    };
    format!("{open}({n} + {pads} − {})/{}{close} + 1 = {value}", window.extent, window.stride)
}

/// The output size along one axis of a known input size, with the diagnostics that size earns:
/// an error if no window fits, warnings if the kernel exceeds the unpadded input or the windows
/// leave rows unread.
pub(crate) fn known_axis(
    layer: &WindowLayer<'_>,
    n: u64,
    window: &AxisWindow,
    axis: usize,
    warnings: &mut Vec<Diagnostic>,
) -> Result<u64, Diagnostic> {
    // `output` is also `None` on overflow: huge paddings are too large, not too small.
    let Some(padded) = n.checked_add(window.pad_before).and_then(|v| v.checked_add(window.pad_after)) else {
        return Err(overflow(layer.padding_span));
    };
    let Some(out) = window.output(n) else {
        let mut diagnostic = Diagnostic::new(
            Code::WINDOW_TOO_LARGE,
            format!(
                "the {} window ({}) is larger than the padded input {} ({n} + {} = {})",
                layer.op,
                extent_text(layer, axis, window),
                AXES[axis],
                padded - n,
                padded
            ),
            layer.kernel_span,
            format!("{} {} wide", AXES[axis], window.extent),
        )
        .with_note(arithmetic(n, window))
        .with_note(format!(
            "a window of {} needs at least {} input {}s, padding included",
            window.extent,
            window.extent,
            row_word(axis)
        ));
        diagnostic = diagnostic.with_help(format!(
            "pad by {} more in total, use a kernel of at most {padded} (+ padding), or feed a larger input",
            window.extent.saturating_sub(padded),
        ));
        return Err(diagnostic);
    };
    if n < window.extent {
        warnings.push(
            Diagnostic::new(
                Code::KERNEL_OVER_INPUT,
                format!(
                    "the {} window ({}) is larger than the unpadded input {} ({n})",
                    layer.op, window.extent, AXES[axis]
                ),
                layer.kernel_span,
                "most of every window reads padding",
            )
            .with_note(arithmetic(n, window)),
        );
    }
    if window.extent >= window.stride {
        let dropped = window.dropped_tail(n).unwrap_or(0);
        if dropped > 0 {
            warnings.push(untiled(layer, n, out, dropped, window, axis));
        }
    }
    Ok(out)
}

fn untiled(layer: &WindowLayer<'_>, n: u64, out: u64, dropped: u64, window: &AxisWindow, axis: usize) -> Diagnostic {
    let word = row_word(axis);
    let first = n - dropped;
    let which = if dropped == 1 { format!("{word} {first} is") } else { format!("{word}s {first}–{} are", n - 1) };
    let last_start = (out - 1) * window.stride;
    Diagnostic::new(
        Code::UNTILED,
        format!("the {} windows do not tile the input {}: {which} never read", layer.op, AXES[axis]),
        layer.stride_span,
        format!("stride {} over {n} {word}s", window.stride),
    )
    .with_note(arithmetic(n, window))
    .with_note(format!(
        "the last window starts at padded {word} {last_start} and ends at {}; the input ends at {}",
        last_start + window.extent - 1,
        n + window.pad_before - 1
    ))
    .with_help(if layer.ceil || layer.op == "conv" {
        format!(
            "pad the input by {} more {word}s at the end, or crop it",
            window.stride - (n + window.pad_before + window.pad_after - window.extent) % window.stride
        )
    } else {
        "`ceil=true` adds a last, partial window".to_string()
    })
}

fn extent_text(layer: &WindowLayer<'_>, axis: usize, window: &AxisWindow) -> String {
    if layer.dilation[axis] == 1 {
        format!("{}", window.extent)
    } else {
        format!("{}·({} − 1) + 1 = {}", layer.dilation[axis], layer.kernel[axis], window.extent)
    }
}

fn row_word(axis: usize) -> &'static str {
    if axis == 0 {
        "row"
    } else {
        "column"
    }
}

pub(crate) fn overflow(span: Span) -> Diagnostic {
    Diagnostic::new(Code::TOO_LARGE, "size arithmetic overflows", span, "too large")
}
