//! Writing the imported model as `.cnn` text: one named statement per layer, `from` only where
//! the data flow branches, and the weights under the keys the checker derives from the names.
//!
//! Layer names come from the ONNX graph (the weight initialiser's key when it ends in
//! `.weight`, else the node name, PyTorch's `/layer1/layer1.0/conv1/Conv` shortened to
//! `layer1.0.conv1`), made into identifiers (`layer1_0_conv1`). Assumes statements are in
//! execution order. The text is checked before it is returned: anything the checker rejects,
//! or a weight key it would not look for, is an error rather than a file that does not load.

use crate::import::{ModelInput, NamedTensor};
use crate::layers::{Call, Translated, Weight};
use crate::proto::NodeProto;
use crate::tensor::Int;
use crate::{ImportError, Imported};
use cnn_check::{check_source, CheckOptions};
use cnn_diag::SourceFile;
use std::collections::{HashMap, HashSet};

const KEYWORDS: &[&str] = &["model", "block", "input", "output", "from", "seq", "true", "false", "in"];

/// A layer about to be written.
pub(crate) struct Statement {
    /// The layer's path in the ONNX graph (`layer1.0.conv1`), or the enclosing path of an
    /// anonymous layer exported by cnnc (`layer1.0.(relu)`).
    pub path: String,
    pub anonymous: bool,
    pub kind: &'static str,
    pub call: Call,
    pub inputs: Vec<String>,
    pub output: String,
    pub weights: Vec<Weight>,
    pub shape: Vec<Int>,
}

impl Statement {
    pub(crate) fn new(node_name: &str, translated: Translated, node: &NodeProto) -> Statement {
        let from_weight = node
            .input
            .get(1)
            .and_then(|w| w.strip_suffix(".weight"))
            .filter(|_| !translated.weights.is_empty())
            .map(str::to_string);
        let (path, anonymous) = match from_weight {
            Some(path) => (path, false),
            None => layer_path(node_name),
        };
        Statement {
            path,
            anonymous: anonymous && translated.weights.is_empty(),
            kind: translated.kind,
            call: translated.call,
            inputs: translated.inputs,
            output: node.output.first().cloned().unwrap_or_default(),
            weights: translated.weights,
            shape: translated.shape,
        }
    }
}

/// The layer path a node name stands for, and whether it names an anonymous layer.
fn layer_path(name: &str) -> (String, bool) {
    if let Some(stripped) = name.strip_suffix(')') {
        if let Some((prefix, _op)) = stripped.rsplit_once('(') {
            return (prefix.trim_end_matches('.').to_string(), true);
        }
    }
    if let Some(scoped) = name.strip_prefix('/') {
        // PyTorch's exporter: `/layer1/layer1.0/conv1/Conv`: scopes, then the op type.
        let mut parts: Vec<&str> = scoped.split('/').filter(|p| !p.is_empty()).collect();
        if parts.len() > 1 {
            parts.pop();
        }
        // A scope is either fully qualified (`layer1.0`) or one attribute name (`conv1`).
        return match parts.as_slice() {
            [.., parent, last] if last.starts_with(&format!("{parent}.")) => (last.to_string(), false),
            [.., parent, last] if parent.contains('.') || parts.len() == 2 => (format!("{parent}.{last}"), false),
            [.., last] => (last.to_string(), false),
            [] => (String::new(), false),
        };
    }
    (name.to_string(), false)
}

/// A path made into one identifier: `layer1.0.conv1` → `layer1_0_conv1`.
pub(crate) fn identifier(path: &str) -> String {
    let mut out = String::new();
    for c in path.chars() {
        let c = if c.is_ascii_alphanumeric() { c } else { '_' };
        if !(c == '_' && out.ends_with('_')) {
            out.push(c);
        }
    }
    let mut out = out.trim_matches('_').to_string();
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert_str(0, "layer_");
    }
    if KEYWORDS.contains(&out.as_str()) {
        out.push('_');
    }
    out
}

/// A number as the `.cnn` language writes decimals (`0.01`, `1e-5`, `1.0`).
pub(crate) fn decimal(value: f32) -> String {
    format!("{value:?}")
}

fn unique(base: &str, used: &mut HashSet<String>) -> String {
    let base = if base.is_empty() { "layer".to_string() } else { base.to_string() };
    let mut name = base.clone();
    let mut n = 2;
    while used.contains(&name) {
        name = format!("{base}_{n}");
        n += 1;
    }
    used.insert(name.clone());
    name
}

fn shape_text(shape: &[Int]) -> Option<String> {
    let dims: Option<Vec<String>> = shape
        .iter()
        .map(|d| match d {
            Int::Known(v) => Some(v.to_string()),
            Int::Sym(s) if s != "?" => Some(s.clone()),
            Int::Sym(_) => None,
        })
        .collect();
    dims.map(|d| format!("[{}]", d.join(", ")))
}

/// The whole file, checked; the weights in statement order.
pub(crate) fn emit(
    header: &str,
    model_name: &str,
    inputs: &[ModelInput],
    statements: Vec<Statement>,
    outputs: &[String],
) -> Result<Imported, ImportError> {
    let mut used: HashSet<String> = HashSet::new();
    let mut names: HashMap<String, String> = HashMap::new();
    let mut lines = vec![header.to_string(), String::new(), format!("model {} {{", identifier(model_name))];
    for input in inputs {
        // An input called `input` (PyTorch's default) cannot keep its name: `input` is a keyword.
        let base = identifier(&input.onnx_name);
        let base =
            if base.ends_with('_') && KEYWORDS.contains(&base.trim_end_matches('_')) { "x".into() } else { base };
        let name = unique(&base, &mut used);
        let shape = shape_text(&input.shape).unwrap_or_default();
        lines.push(format!("  input {name}: {shape}"));
        names.insert(input.onnx_name.clone(), name);
    }
    lines.push(String::new());
    let referenced = referenced(inputs, &statements, outputs);
    let mut rows: Vec<(String, String, String)> = Vec::new();
    let mut groups: Vec<String> = Vec::new();
    let mut weights = Vec::new();
    let mut prev = inputs.last().map(|i| i.onnx_name.clone()).unwrap_or_default();
    let mut prev_shape: Vec<Int> = inputs.last().map(|i| i.shape.clone()).unwrap_or_default();
    for statement in &statements {
        let named = !statement.anonymous || referenced.contains(&statement.output);
        let name = if named {
            let base = if statement.anonymous { statement.kind.to_string() } else { identifier(&statement.path) };
            unique(&base, &mut used)
        } else {
            String::new()
        };
        let reference = |onnx: &String| names.get(onnx).cloned().unwrap_or_else(|| onnx.clone());
        let call = match &statement.call {
            Call::Text(text) => text.clone(),
            Call::Dense { input, out, bias } => {
                format!("dense({out}, in={input}{})", if *bias { "" } else { ", bias=false" })
            }
            Call::Add | Call::Concat => {
                let op = if statement.call == Call::Add { "add" } else { "concat" };
                let ops = &statement.inputs;
                let listed: Vec<String> = match ops.as_slice() {
                    [a, b] if *a == prev => vec![reference(b)],
                    [a, b] if *b == prev && op == "add" => vec![reference(a)],
                    all => all.iter().map(reference).collect(),
                };
                format!("{op}({})", listed.join(", "))
            }
        };
        let from = match statement.call {
            Call::Add | Call::Concat => String::new(),
            _ if statement.inputs.first() == Some(&prev) => String::new(),
            _ => format!("from {} ", statement.inputs.first().map(reference).unwrap_or_default()),
        };
        let comment = shape_text(&statement.shape)
            .filter(|_| statement.shape != prev_shape)
            .map(|s| format!("// {s}"))
            .unwrap_or_default();
        rows.push((name.clone(), format!("{from}{call}"), comment));
        groups.push(group_of(&statement.path));
        for (suffix, shape, values) in &statement.weights {
            weights.push(NamedTensor { key: format!("{name}.{suffix}"), shape: shape.clone(), values: values.clone() });
        }
        if named {
            names.insert(statement.output.clone(), name);
        }
        prev = statement.output.clone();
        prev_shape = statement.shape.clone();
    }
    let width = rows.iter().map(|(n, _, _)| n.len()).max().unwrap_or(0).min(24);
    let call_width = rows.iter().map(|(_, c, _)| c.chars().count()).max().unwrap_or(0).min(56);
    for (index, (name, call, comment)) in rows.into_iter().enumerate() {
        if index > 0 && groups[index] != groups[index - 1] {
            lines.push(String::new());
        }
        let head = if name.is_empty() { format!("{:width$}   ", "") } else { format!("{name:width$} = ") };
        let line =
            if comment.is_empty() { format!("{head}{call}") } else { format!("{head}{call:call_width$}  {comment}") };
        lines.push(format!("  {}", line.trim_end()));
    }
    if outputs.len() != 1 || statements.last().map(|s| &s.output) != outputs.first() {
        let listed: Vec<String> = outputs.iter().map(|o| names.get(o).cloned().unwrap_or_else(|| o.clone())).collect();
        lines.push(format!("  output {}", listed.join(", ")));
    }
    lines.push("}".to_string());
    let text = lines.join("\n") + "\n";
    verify(&text, &weights)?;
    Ok(Imported { text, weights })
}

/// The block a layer belongs to, for blank lines between blocks: `layer1.0` for
/// `layer1.0.conv1` (a numbered module in a sequence), nothing for top-level layers.
fn group_of(path: &str) -> String {
    let parts: Vec<&str> = path.split('.').collect();
    match parts.as_slice() {
        [first, index, _, ..] if index.parse::<u32>().is_ok() => format!("{first}.{index}"),
        _ => String::new(),
    }
}

/// The ONNX values some statement refers to by name (not as the previous output).
fn referenced(inputs: &[ModelInput], statements: &[Statement], outputs: &[String]) -> HashSet<String> {
    let mut out = HashSet::new();
    let mut prev = inputs.last().map(|i| i.onnx_name.clone()).unwrap_or_default();
    for statement in statements {
        match (&statement.call, statement.inputs.as_slice()) {
            (Call::Add | Call::Concat, [a, b]) if *a == prev => {
                out.insert(b.clone());
            }
            (Call::Add, [a, b]) if *b == prev => {
                out.insert(a.clone());
            }
            (Call::Add | Call::Concat, all) => out.extend(all.iter().cloned()),
            (_, [first, ..]) if *first != prev => {
                out.insert(first.clone());
            }
            _ => {}
        }
        prev = statement.output.clone();
    }
    if outputs.len() != 1 || statements.last().map(|s| &s.output) != outputs.first() {
        out.extend(outputs.iter().cloned());
    }
    out
}

/// Check the text as `cnnc check` would and compare the weights it expects with ours.
fn verify(text: &str, weights: &[NamedTensor]) -> Result<(), ImportError> {
    let source = SourceFile::new("imported.cnn".to_string(), text.to_string());
    let result = check_source(&source, &CheckOptions::default());
    let errors: Vec<String> = result
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| format!("{}: {}", d.code.as_str(), d.message))
        .collect();
    if !errors.is_empty() {
        return Err(ImportError::Unrepresentable(errors));
    }
    let Some(model) = result.models.first() else {
        return Err(ImportError::Unrepresentable(vec!["the translation has no model".into()]));
    };
    let expected: Vec<(String, Vec<usize>)> =
        cnn_check::expected_params(model).into_iter().map(|p| (p.key, p.shape)).collect();
    let ours: Vec<(String, Vec<usize>)> = weights.iter().map(|w| (w.key.clone(), w.shape.clone())).collect();
    if expected != ours {
        return Err(ImportError::Unrepresentable(vec![format!(
            "internal error, please report: the layers expect weights {expected:?}, the import made {ours:?}"
        )]));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{identifier, layer_path};

    #[test]
    fn node_names_become_layer_paths() {
        assert_eq!(layer_path("/layer1/layer1.0/conv1/Conv"), ("layer1.0.conv1".to_string(), false));
        assert_eq!(layer_path("/conv1/Conv"), ("conv1".to_string(), false));
        assert_eq!(layer_path("/features/features.0/features.0.0/Conv"), ("features.0.0".to_string(), false));
        assert_eq!(layer_path("/layer1/layer1.0/Add"), ("layer1.0".to_string(), false));
        assert_eq!(layer_path("layer1.0.(relu)"), ("layer1.0".to_string(), true));
        assert_eq!(layer_path("(relu)"), (String::new(), true));
        assert_eq!(layer_path("fc1"), ("fc1".to_string(), false));
    }

    #[test]
    fn paths_become_identifiers() {
        assert_eq!(identifier("layer1.0.conv1"), "layer1_0_conv1");
        assert_eq!(identifier("0"), "layer_0");
        assert_eq!(identifier("input"), "input_");
        assert_eq!(identifier("onnx::Conv_12"), "onnx_Conv_12");
    }
}
