//! Which input sizes a network with symbolic spatial dimensions accepts.
//!
//! Inference records a condition for every window over a symbolic size and every comparison
//! of two symbolic sizes. Each condition depends on one symbol, so the accepted set of each
//! symbol is found by evaluating its conditions for every size up to [`SEARCH_LIMIT`], and
//! then described as `H ≥ a` or `H ≥ a and H ≡ r (mod m)` when it has that form (checked over
//! the whole range, not assumed).

use crate::dim::Dim;
use crate::graph::SizeReport;
use crate::infer::SizeConstraint;
use cnn_diag::{Code, Diagnostic, Span};
use std::rc::Rc;

/// Sizes tried for each symbol.
pub(crate) const SEARCH_LIMIT: u64 = 4096;

pub(crate) fn analyse(
    constraints: &[(SizeConstraint, Span)],
    spatial: &[Rc<str>],
) -> (Vec<SizeReport>, Vec<Diagnostic>) {
    let mut reports = Vec::new();
    let mut diagnostics = Vec::new();
    // A deep stack of same-size layers repeats one condition many times; test each once.
    let mut seen = std::collections::HashSet::new();
    let unique: Vec<(&SizeConstraint, Span, Vec<Rc<str>>)> =
        constraints.iter().filter(|(c, _)| seen.insert(c)).map(|(c, span)| (c, *span, involves(c))).collect();
    for symbol in spatial {
        let relevant: Vec<(&SizeConstraint, Span)> = unique
            .iter()
            .filter(|(_, _, symbols)| !symbols.is_empty() && symbols.iter().all(|s| s == symbol))
            .map(|(c, span, _)| (*c, *span))
            .collect();
        let mut accepted = Vec::new();
        let mut exact = Vec::new();
        for n in 1..=SEARCH_LIMIT {
            let lookup = |_: &str| Some(n);
            let valid = relevant.iter().all(|(c, _)| holds(c, &lookup, false));
            accepted.push(valid);
            exact.push(valid && relevant.iter().all(|(c, _)| holds(c, &lookup, true)));
        }
        if !accepted.contains(&true) {
            let span = relevant.first().map(|(_, s)| *s).unwrap_or_default();
            let mut d = Diagnostic::new(
                Code::NO_VALID_SIZE,
                format!("no input size {symbol} up to {SEARCH_LIMIT} makes every layer fit"),
                span,
                "the first condition on it",
            );
            for (_, span) in relevant.iter().skip(1).take(3) {
                d = d.with_secondary(*span, "another condition");
            }
            diagnostics.push(d);
            continue;
        }
        let accepted_text = describe(symbol, &accepted);
        let exact_text = describe(symbol, &exact);
        reports.push(SizeReport {
            symbol: symbol.to_string(),
            exact: (exact != accepted).then_some(exact_text),
            accepted: accepted_text,
        });
    }
    (reports, diagnostics)
}

fn involves(constraint: &SizeConstraint) -> Vec<Rc<str>> {
    match constraint {
        SizeConstraint::Window { input, .. } | SizeConstraint::Above(input, _) => input.symbols(),
        SizeConstraint::Equal(a, b) => {
            let mut all = a.symbols();
            all.extend(b.symbols());
            all.sort();
            all.dedup();
            all
        }
    }
}

fn holds(constraint: &SizeConstraint, lookup: &dyn Fn(&str) -> Option<u64>, exact: bool) -> bool {
    match constraint {
        SizeConstraint::Window { input, window, exact: tiles } => match input.eval(lookup) {
            Some(n) => window.output(n).is_some() && (!exact || !tiles || window.dropped_tail(n) == Some(0)),
            None => false,
        },
        SizeConstraint::Equal(a, b) => matches!((a.eval(lookup), b.eval(lookup)), (Some(x), Some(y)) if x == y),
        SizeConstraint::Above(dim, pad) => dim.eval(lookup).is_some_and(|n| n > *pad),
    }
}

/// Describe the set `{n : member[n − 1]}` within `1..=SEARCH_LIMIT`.
fn describe(symbol: &str, member: &[bool]) -> String {
    let Some(first) = member.iter().position(|m| *m) else { return format!("no {symbol} up to {SEARCH_LIMIT}") };
    let start = first as u64 + 1;
    if member[first..].iter().all(|m| *m) {
        return format!("{symbol} ≥ {start}");
    }
    let tail = &member[first..];
    let max_period = tail.len() / 4;
    for period in 2..=max_period {
        if (period..tail.len()).all(|i| tail[i] == tail[i - period]) {
            let residues: Vec<u64> =
                (0..period).filter(|i| tail[*i]).map(|i| (start + i as u64) % period as u64).collect();
            let mut sorted = residues.clone();
            sorted.sort_unstable();
            return if sorted.len() == 1 {
                format!("{symbol} ≥ {start} and {symbol} ≡ {} (mod {period})", sorted[0])
            } else {
                let list: Vec<String> = sorted.iter().map(u64::to_string).collect();
                format!("{symbol} ≥ {start} and {symbol} mod {period} ∈ {{{}}}", list.join(", "))
            };
        }
    }
    let listed: Vec<String> =
        member.iter().enumerate().filter(|(_, m)| **m).take(6).map(|(i, _)| (i + 1).to_string()).collect();
    format!("{symbol} ∈ {{{}, …}} (no simple pattern)", listed.join(", "))
}

/// The symbols used as spatial sizes (H, W) of rank-4 inputs.
pub(crate) fn spatial_symbols(shapes: &[&[Dim]]) -> Vec<Rc<str>> {
    let mut out: Vec<Rc<str>> =
        shapes.iter().filter(|s| s.len() == 4).flat_map(|s| s[2..].iter().flat_map(Dim::symbols)).collect();
    let mut seen = Vec::new();
    out.retain(|s| {
        let new = !seen.contains(s);
        seen.push(s.clone());
        new
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(f: impl Fn(u64) -> bool) -> Vec<bool> {
        (1..=SEARCH_LIMIT).map(f).collect()
    }

    #[test]
    fn describes_thresholds_and_congruences() {
        assert_eq!(describe("H", &set(|n| n >= 32)), "H ≥ 32");
        assert_eq!(describe("H", &set(|n| n >= 32 && n % 32 == 0)), "H ≥ 32 and H ≡ 0 (mod 32)");
        assert_eq!(describe("W", &set(|n| n >= 5 && n % 4 == 1)), "W ≥ 5 and W ≡ 1 (mod 4)");
        assert_eq!(describe("H", &set(|n| n % 6 == 1 || n % 6 == 3)), "H ≥ 1 and H mod 6 ∈ {1, 3}");
    }
}
