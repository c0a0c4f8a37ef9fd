//! Weights for a graph: one f32 buffer per [`cnn_ir::Param`], either loaded from a weights file
//! after a preflight that explains every mismatch, or drawn from PyTorch's default
//! distributions with a seed.
//!
//! PyTorch's defaults: conv and dense weights use `kaiming_uniform_(a=√5)`, which is uniform on
//! `±1/√fan_in`; their biases are uniform on `±1/√fan_in`; batch-norm starts at γ = 1, β = 0,
//! running mean 0 and running variance 1.

use cnn_diag::{suggest, Code, Diagnostic, Span};
use cnn_io::{Dtype, WeightFile};
use cnn_ir::{ExpectedParam, Graph, ParamRole};

/// Parameter values, indexed like `graph.params`.
#[derive(Clone, Debug, PartialEq)]
pub struct Weights {
    pub values: Vec<Vec<f32>>,
}

impl Weights {
    /// Default values as PyTorch initialises a freshly built module, from a seeded generator.
    pub fn init(graph: &Graph, seed: u64) -> Weights {
        let mut rng = SplitMix64(seed);
        let values = graph
            .params
            .iter()
            .map(|param| {
                let count: usize = param.shape.iter().product();
                match param.role {
                    ParamRole::Weight | ParamRole::Bias => {
                        let bound = 1.0 / (param.fan_in.max(1) as f64).sqrt();
                        (0..count).map(|_| ((rng.next_unit() * 2.0 - 1.0) * bound) as f32).collect()
                    }
                    ParamRole::BnWeight | ParamRole::RunningVar => vec![1.0; count],
                    ParamRole::BnBias | ParamRole::RunningMean => vec![0.0; count],
                }
            })
            .collect();
        Weights { values }
    }

    /// The graph's parameters taken from `file` by key. Call [`preflight`] first: this fails
    /// (with the same diagnostics) if any parameter is missing or misshapen.
    pub fn from_file(graph: &Graph, file: &WeightFile) -> Result<Weights, Vec<Diagnostic>> {
        let diagnostics = preflight(graph, file, &[]);
        if diagnostics.iter().any(Diagnostic::is_error) {
            return Err(diagnostics);
        }
        let values =
            graph.params.iter().map(|p| file.get(&p.key).map(|t| t.values.clone()).unwrap_or_default()).collect();
        Ok(Weights { values })
    }

    /// Whether these weights fit `graph` (same parameters, same sizes).
    pub fn fits(&self, graph: &Graph) -> bool {
        self.values.len() == graph.params.len()
            && self.values.iter().zip(&graph.params).all(|(v, p)| v.len() == p.shape.iter().product::<usize>())
    }
}

/// [`preflight_expected`] for a lowered graph.
pub fn preflight(graph: &Graph, file: &WeightFile, allow: &[String]) -> Vec<Diagnostic> {
    preflight_expected(&graph.expected_params(), (&graph.name, graph.span), file, allow)
}

/// Compare a weights file with what a model needs: every missing tensor (with the closest
/// key the file has), every tensor of the wrong shape or dtype (saying when it looks
/// transposed or HWIO), and every tensor nothing uses, each on the layer's source span.
/// `model` is the model's name and where it is declared; `allow` silences warnings (the
/// model's `@allow` list).
pub fn preflight_expected(
    expected: &[ExpectedParam],
    model: (&str, Span),
    file: &WeightFile,
    allow: &[String],
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let needed: Vec<&str> = expected.iter().map(|p| p.key.as_str()).collect();
    let unused: Vec<&str> = file.tensors.iter().map(|t| t.key.as_str()).filter(|k| !needed.contains(k)).collect();
    let prefix = common_prefix_mismatch(&needed, &file.tensors.iter().map(|t| t.key.as_str()).collect::<Vec<_>>());
    // Missing tensors are reported once per layer, with the file's likely counterparts.
    let mut missing: Vec<(&ExpectedParam, Option<&str>)> = Vec::new();
    for param in expected {
        let span = param.span;
        let Some(tensor) = file.get(&param.key) else {
            missing.push((param, counterpart(param, file, &unused)));
            continue;
        };
        if matches!(tensor.dtype, Dtype::Other(_)) {
            out.push(
                Diagnostic::new(
                    Code::WEIGHT_DTYPE,
                    format!("`{}` is stored as {}, not as floating point", param.key, tensor.dtype.name()),
                    span,
                    format!("`{}` reads it", param.layer),
                )
                .with_help("save the weights as F32 (F16, BF16 and F64 are converted on load)"),
            );
        } else if tensor.shape != param.shape {
            out.push(wrong_shape(param, &tensor.shape, span));
        }
    }
    let mut layers: Vec<Span> = missing.iter().map(|(p, _)| p.span).collect();
    layers.dedup();
    for span in layers {
        let group: Vec<&(&ExpectedParam, Option<&str>)> = missing.iter().filter(|(p, _)| p.span == span).collect();
        out.push(missing_diagnostic(&group, prefix.as_deref()));
    }
    let explained: Vec<&str> = missing.iter().filter_map(|(_, c)| *c).collect();
    let unexplained: Vec<&str> =
        unused.iter().copied().filter(|k| !k.ends_with("num_batches_tracked") && !explained.contains(k)).collect();
    if !unexplained.is_empty() && !allow.iter().any(|c| c == Code::UNUSED_WEIGHT.as_str()) {
        let listed: Vec<String> = unexplained.iter().take(8).map(|k| format!("`{k}`")).collect();
        let more = if unexplained.len() > 8 { format!(" and {} more", unexplained.len() - 8) } else { String::new() };
        out.push(
            Diagnostic::new(
                Code::UNUSED_WEIGHT,
                format!("the weights file has tensors no layer reads: {}{more}", listed.join(", ")),
                model.1,
                format!("no layer of `{}` is named for them", model.0),
            )
            .with_help(
                "rename the layers they belong to, or `@allow(W0008)` on the model if they are left out on purpose",
            ),
        );
    }
    out
}

/// The unused tensor of the file most likely meant for `param`: same last key part and shape,
/// closest name; otherwise the closest name.
fn counterpart<'f>(param: &ExpectedParam, file: &'f WeightFile, unused: &[&'f str]) -> Option<&'f str> {
    let suffix = param.key.rsplit('.').next();
    let same_kind: Vec<&str> = unused
        .iter()
        .copied()
        .filter(|k| k.rsplit('.').next() == suffix && file.get(k).is_some_and(|t| t.shape == param.shape))
        .collect();
    match same_kind.as_slice() {
        [only] => Some(only),
        [] => suggest::closest(&param.key, unused.iter().copied()),
        many => suggest::closest(&param.key, many.iter().copied()).or(Some(many[0])),
    }
}

fn missing_diagnostic(group: &[&(&ExpectedParam, Option<&str>)], prefix: Option<&str>) -> Diagnostic {
    let first = group[0].0;
    let keys: Vec<String> = group.iter().map(|(p, _)| format!("`{}`", p.key)).collect();
    let mut d = Diagnostic::new(
        Code::MISSING_WEIGHT,
        format!("the weights file has no {}", keys.join(" or ")),
        first.span,
        format!("`{}` needs {}", first.layer, keys.join(", ")),
    );
    let counterparts: Vec<String> = group.iter().filter_map(|(_, c)| c.map(|c| format!("`{c}`"))).collect();
    if first.key.starts_with('(') {
        d = d.with_help(
            "this layer has no name, so it has no key to load: name it as in the PyTorch module (`conv1 = conv(...)`)",
        );
    } else if let Some(prefix) = prefix {
        d = d.with_help(format!("the file's keys start with `{prefix}`; save them without it"));
    } else if !counterparts.is_empty() {
        let layer = group.iter().find_map(|(_, c)| *c).and_then(|c| c.rsplit_once('.')).map(|(l, _)| l.to_string());
        d = d.with_help(format!(
            "the file has {} of the same shape{}",
            counterparts.join(", "),
            layer.map(|l| format!(": is this layer `{l}` in PyTorch?")).unwrap_or_default()
        ));
    }
    d
}

fn wrong_shape(param: &ExpectedParam, found: &[usize], span: Span) -> Diagnostic {
    let expected = &param.shape;
    let layer = &param.layer;
    let mut d = Diagnostic::new(
        Code::WEIGHT_SHAPE,
        format!("`{}` is {found:?} in the weights file, but `{layer}` needs {expected:?}", param.key),
        span,
        format!("needs {expected:?}"),
    );
    let mut sorted_found = found.to_vec();
    let mut sorted_expected = expected.to_vec();
    sorted_found.sort_unstable();
    sorted_expected.sort_unstable();
    if expected.len() == 2 && found == [expected[1], expected[0]] {
        d = d.with_note("it looks transposed: PyTorch stores dense weights as [out, in], TensorFlow as [in, out]");
    } else if expected.len() == 4 && found == [expected[2], expected[3], expected[1], expected[0]] {
        d = d.with_note(
            "it looks HWIO (TensorFlow's [kh, kw, in, out]); PyTorch convolutions are OIHW [out, in, kh, kw]",
        );
    } else if expected.len() == 4 && found == [expected[0], expected[2], expected[3], expected[1]] {
        d = d.with_note("it looks OHWI ([out, kh, kw, in]); PyTorch convolutions are OIHW [out, in, kh, kw]");
    } else if sorted_found == sorted_expected {
        d = d.with_note("it has the right sizes in another order: the layout differs");
    } else if param.role == ParamRole::Weight && expected.len() == 4 && found.len() == 4 {
        d = d.with_note(format!(
            "[out, in/groups, kh, kw]: the file's layer has {} filters of {}×{} over {} channels",
            found[0], found[2], found[3], found[1]
        ));
    }
    d
}

/// If the file's keys are the model's keys with a common prefix added (or removed), that prefix.
fn common_prefix_mismatch(needed: &[&str], present: &[&str]) -> Option<String> {
    let first = needed.iter().find(|k| !k.starts_with('('))?;
    let candidate = present.iter().find_map(|p| p.strip_suffix(first).filter(|pre| !pre.is_empty()))?;
    let matches = needed.iter().filter(|k| present.contains(&format!("{candidate}{k}").as_str())).count();
    (matches * 2 >= needed.len()).then(|| candidate.to_string())
}

/// A small, well-known generator (Vigna's SplitMix64): deterministic across platforms.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform on [0, 1).
    fn next_unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}
