//! Tensor dimensions: known integers, or expressions over the symbols of the input declaration.
//!
//! A symbolic spatial size stays in the canonical form `⌊(S + a)/m⌋ + b`: composing window
//! formulas without ceil mode keeps that form exactly (`⌊(⌊u/m⌋ + c)/s⌋ = ⌊(u + c·m)/(m·s)⌋`),
//! which keeps expressions short and comparisons structural. Ceil-mode pooling and flatten's
//! products are kept as trees. All arithmetic is checked; `None` means overflow.

use std::fmt;
use std::rc::Rc;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Dim {
    Known(u64),
    Sym(Rc<SymExpr>),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum SymExpr {
    /// `⌊(var + add)/div⌋ + plus`, with `div ≥ 1`.
    Affine { var: Rc<str>, add: i64, div: u64, plus: i64 },
    /// A ceil-mode window over `inner` (see [`crate::window`] for the rule).
    CeilWindow { inner: Dim, window: AxisWindow },
    /// A product of dimensions, at least one of them symbolic (flatten's `C·H·W`).
    Product(Vec<Dim>),
}

/// One spatial axis of a conv/pool window, everything in input pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AxisWindow {
    pub pad_before: u64,
    pub pad_after: u64,
    /// Dilated kernel extent: `d·(k − 1) + 1`.
    pub extent: u64,
    /// Distance between kernel taps (1 for a dense window).
    pub dilation: u64,
    pub stride: u64,
    pub ceil: bool,
}

impl AxisWindow {
    /// Output length for input length `n`, or `None` when the window does not fit
    /// (`n + pads < extent`) or on overflow.
    pub fn output(&self, n: u64) -> Option<u64> {
        let padded = n.checked_add(self.pad_before)?.checked_add(self.pad_after)?;
        let span = padded.checked_sub(self.extent)?;
        let mut out = if self.ceil { span.div_ceil(self.stride) } else { span / self.stride } + 1;
        // PyTorch: in ceil mode the last window must start inside the input or left padding.
        if self.ceil && (out - 1).checked_mul(self.stride)? >= n.checked_add(self.pad_before)? {
            out -= 1;
        }
        Some(out)
    }

    /// How many rows at the end of the input no window tap reads. `None` on overflow, or when
    /// finding out would take more than a few thousand steps (huge dilations); callers then
    /// stay silent.
    pub fn dropped_tail(&self, n: u64) -> Option<u64> {
        let out = self.output(n)?;
        let taps = (self.extent - 1) / self.dilation + 1;
        // Windows starting after the last real row read nothing real.
        let last_start = n.checked_add(self.pad_before)? - 1;
        let mut window = (out - 1).min(last_start / self.stride);
        let mut best: Option<u64> = None;
        let mut budget = 4096u64;
        loop {
            let start = window.checked_mul(self.stride)?;
            if best.is_some_and(|b| start + self.extent - 1 < b + self.pad_before) {
                break;
            }
            // The highest tap of this window that lands on a real row.
            let highest = (start + self.extent - 1).min(last_start);
            let tap = (highest - start) / self.dilation;
            for j in (0..=tap.min(taps - 1)).rev() {
                budget = budget.checked_sub(1)?;
                let row = start + j * self.dilation;
                if row >= self.pad_before {
                    best = Some(best.map_or(row - self.pad_before, |b| b.max(row - self.pad_before)));
                    break;
                }
            }
            if window == 0 {
                break;
            }
            window -= 1;
        }
        Some(match best {
            Some(last) => n - 1 - last,
            None => n,
        })
    }
}

impl Dim {
    /// `⌊(var + add)/div⌋ + plus` in canonical form: `0 ≤ add < div`, so equal expressions
    /// compare equal (`⌊(H − 2)/2⌋ + 1` is `⌊H/2⌋`).
    fn affine(var: Rc<str>, add: i64, div: u64, plus: i64) -> Option<Dim> {
        let m = i64::try_from(div).ok()?;
        let plus = plus.checked_add(add.div_euclid(m))?;
        let add = add.rem_euclid(m);
        if div == 1 {
            return Some(Dim::Sym(Rc::new(SymExpr::Affine { var, add: 0, div: 1, plus: plus.checked_add(add)? })));
        }
        Some(Dim::Sym(Rc::new(SymExpr::Affine { var, add, div, plus })))
    }

    pub fn symbol(name: &str) -> Dim {
        Dim::Sym(Rc::new(SymExpr::Affine { var: name.into(), add: 0, div: 1, plus: 0 }))
    }

    pub fn known(&self) -> Option<u64> {
        match self {
            Dim::Known(v) => Some(*v),
            Dim::Sym(_) => None,
        }
    }

    /// The window's output along this axis. Known sizes must already fit (checked by the
    /// caller); `None` only on overflow.
    pub fn window(&self, window: AxisWindow) -> Option<Dim> {
        match self {
            Dim::Known(n) => window.output(*n).map(Dim::Known),
            Dim::Sym(expr) => match (&**expr, window.ceil) {
                (SymExpr::Affine { var, add, div, plus }, false) => {
                    // ⌊(⌊(v + a)/m⌋ + b + p − e)/s⌋ + 1 = ⌊(v + a + (b + p − e)·m)/(m·s)⌋ + 1
                    let pads = i64::try_from(window.pad_before.checked_add(window.pad_after)?).ok()?;
                    let shift = plus.checked_add(pads)?.checked_sub(i64::try_from(window.extent).ok()?)?;
                    let add = add.checked_add(shift.checked_mul(i64::try_from(*div).ok()?)?)?;
                    let div = div.checked_mul(window.stride)?;
                    Some(Dim::affine(var.clone(), add, div, 1)?)
                }
                _ => Some(Dim::Sym(Rc::new(SymExpr::CeilWindow { inner: self.clone(), window }))),
            },
        }
    }

    /// The product of dimensions (flatten), folding known factors.
    pub fn product(dims: &[Dim]) -> Option<Dim> {
        let mut known: u64 = 1;
        let mut symbolic = Vec::new();
        for dim in dims {
            match dim {
                Dim::Known(v) => known = known.checked_mul(*v)?,
                Dim::Sym(_) => symbolic.push(dim.clone()),
            }
        }
        if symbolic.is_empty() {
            return Some(Dim::Known(known));
        }
        let mut factors = Vec::new();
        if known != 1 {
            factors.push(Dim::Known(known));
        }
        factors.extend(symbolic);
        if factors.len() == 1 {
            return factors.pop();
        }
        Some(Dim::Sym(Rc::new(SymExpr::Product(factors))))
    }

    /// The value for given symbol values; `None` if a window does not fit, or on overflow.
    pub fn eval(&self, lookup: &dyn Fn(&str) -> Option<u64>) -> Option<u64> {
        match self {
            Dim::Known(v) => Some(*v),
            Dim::Sym(expr) => match &**expr {
                SymExpr::Affine { var, add, div, plus } => {
                    let v = i64::try_from(lookup(var)?).ok()?;
                    let value = v.checked_add(*add)?.div_euclid(i64::try_from(*div).ok()?).checked_add(*plus)?;
                    u64::try_from(value).ok()
                }
                SymExpr::CeilWindow { inner, window } => window.output(inner.eval(lookup)?),
                SymExpr::Product(factors) => factors.iter().try_fold(1u64, |acc, f| acc.checked_mul(f.eval(lookup)?)),
            },
        }
    }

    /// The symbols this dimension depends on.
    pub fn symbols(&self) -> Vec<Rc<str>> {
        let mut out = Vec::new();
        self.collect_symbols(&mut out);
        out.sort();
        out.dedup();
        out
    }

    fn collect_symbols(&self, out: &mut Vec<Rc<str>>) {
        if let Dim::Sym(expr) = self {
            match &**expr {
                SymExpr::Affine { var, .. } => out.push(var.clone()),
                SymExpr::CeilWindow { inner, .. } => inner.collect_symbols(out),
                SymExpr::Product(factors) => factors.iter().for_each(|f| f.collect_symbols(out)),
            }
        }
    }

    /// Substitute known values for symbols.
    pub fn bind(&self, lookup: &dyn Fn(&str) -> Option<u64>) -> Dim {
        if self.symbols().iter().all(|s| lookup(s).is_some()) {
            if let Some(v) = self.eval(lookup) {
                return Dim::Known(v);
            }
        }
        self.clone()
    }

    /// Whether the text form needs parentheses as a factor of a product.
    fn is_compound(&self) -> bool {
        match self {
            Dim::Known(_) => false,
            Dim::Sym(expr) => match &**expr {
                SymExpr::Affine { add, div, plus, .. } => *plus != 0 || (*div == 1 && *add != 0),
                SymExpr::CeilWindow { .. } => true,
                SymExpr::Product(_) => false,
            },
        }
    }
}

fn signed(out: &mut fmt::Formatter<'_>, value: i64) -> fmt::Result {
    match value.cmp(&0) {
        std::cmp::Ordering::Greater => write!(out, " + {value}"),
        std::cmp::Ordering::Less => write!(out, " − {}", value.unsigned_abs()),
        std::cmp::Ordering::Equal => Ok(()),
    }
}

impl fmt::Display for Dim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dim::Known(v) => write!(f, "{v}"),
            Dim::Sym(expr) => match &**expr {
                SymExpr::Affine { var, add, div: 1, plus } => {
                    write!(f, "{var}")?;
                    signed(f, add.saturating_add(*plus))
                }
                SymExpr::Affine { var, add, div, plus } => {
                    if *add == 0 {
                        write!(f, "⌊{var}/{div}⌋")?;
                    } else if u64::try_from(*add).is_ok_and(|a| a + 1 == *div) {
                        write!(f, "⌈{var}/{div}⌉")?;
                    } else {
                        write!(f, "⌊({var}")?;
                        signed(f, *add)?;
                        write!(f, ")/{div}⌋")?;
                    }
                    signed(f, *plus)
                }
                SymExpr::CeilWindow { inner, window } => {
                    let shift =
                        i128::from(window.pad_before) + i128::from(window.pad_after) - i128::from(window.extent);
                    write!(f, "⌈({inner}")?;
                    signed(f, shift.clamp(i64::MIN as i128, i64::MAX as i128) as i64)?;
                    write!(f, ")/{}⌉ + 1", window.stride)
                }
                SymExpr::Product(factors) => {
                    for (i, factor) in factors.iter().enumerate() {
                        if i > 0 {
                            f.write_str("·")?;
                        }
                        if factor.is_compound() {
                            write!(f, "({factor})")?;
                        } else {
                            write!(f, "{factor}")?;
                        }
                    }
                    Ok(())
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(pad: u64, extent: u64, stride: u64) -> AxisWindow {
        AxisWindow { pad_before: pad, pad_after: pad, extent, dilation: 1, stride, ceil: false }
    }

    #[test]
    fn composed_windows_stay_affine_and_evaluate_like_the_chain() {
        let h = Dim::symbol("H");
        let stem = h.window(w(3, 7, 2)).unwrap();
        assert_eq!(stem.to_string(), "⌈H/2⌉");
        let pooled = stem.window(w(1, 3, 2)).unwrap();
        assert_eq!(pooled.to_string(), "⌈H/4⌉");
        for n in 1..200u64 {
            let chain = w(1, 3, 2).output(w(3, 7, 2).output(n).unwrap()).unwrap();
            assert_eq!(pooled.eval(&|_| Some(n)), Some(chain), "n = {n}");
        }
    }

    #[test]
    fn same_size_convolution_prints_the_symbol() {
        assert_eq!(Dim::symbol("W").window(w(1, 3, 1)).unwrap().to_string(), "W");
        assert_eq!(Dim::symbol("W").window(w(0, 5, 1)).unwrap().to_string(), "W − 4");
        assert_eq!(Dim::symbol("W").window(w(0, 2, 2)).unwrap().to_string(), "⌊W/2⌋");
        assert_eq!(Dim::symbol("W").window(w(0, 2, 3)).unwrap().to_string(), "⌊(W + 1)/3⌋");
    }

    #[test]
    fn ceil_mode_drops_a_window_starting_in_the_right_padding() {
        // PyTorch: MaxPool2d(2, 2, padding=1, ceil_mode=True) on 5 gives 3, not 4.
        let window = AxisWindow { pad_before: 1, pad_after: 1, extent: 2, dilation: 1, stride: 2, ceil: true };
        assert_eq!(window.output(5), Some(3));
        assert_eq!(window.output(6), Some(4));
    }

    #[test]
    fn products_fold_known_factors() {
        let h = Dim::symbol("H");
        let p = Dim::product(&[Dim::Known(16), h.clone(), Dim::Known(4)]).unwrap();
        assert_eq!(p.to_string(), "64·H");
        assert_eq!(p.eval(&|_| Some(5)), Some(320));
    }
}
