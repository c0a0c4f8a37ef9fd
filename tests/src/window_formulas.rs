//! Property tests: the output-size formula against a brute-force walk of window positions, and
//! symbolic composition of windows against evaluating the chain size by size.
//!
//! The brute force follows PyTorch's documented semantics rather than the formula: windows
//! start at 0, s, 2s, … in the padded input; in floor mode a window counts when it lies inside
//! the padded input; in ceil mode one more window is added when the input is not yet covered,
//! and no window may start in the right padding. Ceil mode is tested where PyTorch allows it,
//! with padding at most half the kernel.

use cnn_check::dim::{AxisWindow, Dim};
use proptest::prelude::*;

fn brute_force(
    n: u64,
    pad_before: u64,
    pad_after: u64,
    kernel: u64,
    stride: u64,
    dilation: u64,
    ceil: bool,
) -> Option<u64> {
    let padded = n + pad_before + pad_after;
    let extent = dilation * (kernel - 1) + 1;
    let mut count = 0;
    let mut start = 0;
    loop {
        if ceil && start >= n + pad_before {
            break;
        }
        if start + extent <= padded {
            count += 1;
            start += stride;
            continue;
        }
        let previous_reached_end = count > 0 && start - stride + extent >= padded;
        if ceil && count > 0 && !previous_reached_end && start < n + pad_before {
            count += 1;
        }
        break;
    }
    (count > 0).then_some(count)
}

fn window(pad_before: u64, pad_after: u64, kernel: u64, stride: u64, dilation: u64, ceil: bool) -> AxisWindow {
    AxisWindow { pad_before, pad_after, extent: dilation * (kernel - 1) + 1, dilation, stride, ceil }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn output_size_matches_window_positions(
        n in 1u64..80, pad_before in 0u64..4, pad_after in 0u64..4,
        kernel in 1u64..8, stride in 1u64..5, dilation in 1u64..4, ceil: bool,
    ) {
        // PyTorch allows ceil mode (pooling) only with padding at most half the kernel.
        let (pad_before, pad_after) = if ceil { (pad_before.min(kernel / 2), pad_after.min(kernel / 2)) } else { (pad_before, pad_after) };
        let w = window(pad_before, pad_after, kernel, stride, dilation, ceil);
        prop_assert_eq!(w.output(n), brute_force(n, pad_before, pad_after, kernel, stride, dilation, ceil));
    }

    #[test]
    fn dropped_rows_are_those_no_window_reads(
        n in 1u64..80, pad in 0u64..4, kernel in 1u64..8, stride in 1u64..5, dilation in 1u64..3,
    ) {
        let w = window(pad, pad, kernel, stride, dilation, false);
        if let Some(out) = w.output(n) {
            let mut read = vec![false; n as usize];
            for o in 0..out {
                for tap in 0..kernel {
                    let padded = o * stride + tap * dilation;
                    if padded >= pad && padded - pad < n {
                        read[(padded - pad) as usize] = true;
                    }
                }
            }
            let trailing = read.iter().rev().take_while(|r| !**r).count() as u64;
            prop_assert_eq!(w.dropped_tail(n), Some(trailing));
        }
    }

    #[test]
    fn symbolic_chains_evaluate_like_numeric_chains(
        layers in proptest::collection::vec((0u64..3, 1u64..6, 1u64..4, 1u64..3, any::<bool>()), 1..6),
        n in 1u64..300,
    ) {
        let mut symbolic = Dim::symbol("H");
        let mut numeric = Some(n);
        for (pad, kernel, stride, dilation, ceil) in layers {
            let ceil = ceil && pad <= kernel / 2;
            let w = window(pad, pad, kernel, stride, dilation, ceil);
            symbolic = symbolic.window(w).expect("small sizes do not overflow");
            numeric = numeric.and_then(|v| w.output(v));
            match numeric {
                // Where the chain is valid, the expression must give the same size.
                Some(expected) => prop_assert_eq!(symbolic.eval(&|_| Some(n)), Some(expected), "{}", symbolic),
                None => break,
            }
        }
    }
}

#[test]
fn brute_force_agrees_with_pytorch_on_known_cases() {
    // nn.MaxPool2d(3, 2, ceil_mode=True) on 10 → 5; floor → 4 (PyTorch documentation's formula).
    assert_eq!(brute_force(10, 0, 0, 3, 2, 1, true), Some(5));
    assert_eq!(brute_force(10, 0, 0, 3, 2, 1, false), Some(4));
    // nn.MaxPool2d(2, 2, padding=1, ceil_mode=True) on 5 → 3: the fourth window would start in
    // the right padding.
    assert_eq!(brute_force(5, 1, 1, 2, 2, 1, true), Some(3));
    // The lecture: 7 with 3×3, stride 2 → 3.
    assert_eq!(brute_force(7, 0, 0, 3, 2, 1, false), Some(3));
}
