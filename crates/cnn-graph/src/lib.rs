//! Architecture diagrams of checked models: every layer a box (name and operation), every
//! edge labelled with the tensor shape it carries, layers of one group or block instance
//! inside a cluster.
//!
//! [`to_svg`] lays the graph out itself ([`layout`]: one column per chain, branches side by
//! side) and needs no Graphviz; [`to_dot`] writes Graphviz input. Both draw broken models as
//! far as they are known: broken layers in red, unknown shapes as `?`.
//! Nothing here reads files or prints; the text is returned to the caller.

mod dot;
mod layout;
mod svg;

use cnn_check::{summary, CheckedModel};

/// Render every model of a checked file as one SVG document (models stacked vertically).
/// `source` is the file's text, used to name anonymous block instances.
pub fn to_svg(models: &[CheckedModel], source: &str) -> String {
    let diagrams: Vec<Diagram> = models.iter().map(|m| Diagram::build(m, source)).collect();
    svg::render(&diagrams)
}

/// Render every model of a checked file as Graphviz DOT (one `digraph` per model).
pub fn to_dot(models: &[CheckedModel], source: &str) -> String {
    models.iter().map(|m| dot::render(&Diagram::build(m, source))).collect::<Vec<_>>().join("\n")
}

/// A model as boxes, edges and clusters, independent of how it is drawn.
pub(crate) struct Diagram {
    pub(crate) title: String,
    /// Model inputs first, then layers in the model's (topological) order.
    pub(crate) nodes: Vec<Node>,
    pub(crate) edges: Vec<Edge>,
    /// Parents come before their children.
    pub(crate) clusters: Vec<Cluster>,
}

pub(crate) struct Node {
    /// The full path (`layer2.0.conv1`, `layer2.0.(relu)`), unique for named layers.
    pub(crate) path: String,
    /// What the box shows: the last path segment, or `(op)` for anonymous layers.
    pub(crate) name: String,
    /// The operation with its key parameters (`conv 7×7/2 p3`).
    pub(crate) op: String,
    /// The shape of the output tensor (`[N, 64, 56, 56]`), `?` when unknown.
    pub(crate) shape: String,
    pub(crate) broken: bool,
    /// The innermost cluster holding this node.
    pub(crate) cluster: Option<usize>,
}

/// An edge from a producer to a consumer; its label is the producer's output shape.
pub(crate) struct Edge {
    pub(crate) from: usize,
    pub(crate) to: usize,
}

pub(crate) struct Cluster {
    pub(crate) label: String,
    pub(crate) parent: Option<usize>,
}

impl Diagram {
    pub(crate) fn build(model: &CheckedModel, source: &str) -> Diagram {
        let mut diagram =
            Diagram { title: model.name.clone(), nodes: Vec::new(), edges: Vec::new(), clusters: Vec::new() };
        let mut cluster_keys: Vec<String> = Vec::new();
        // The node that produces each tensor: an input node or a layer node.
        let mut node_of_tensor = vec![None; model.tensors.len()];
        for &input in &model.inputs {
            let tensor = &model.tensors[input];
            let name = tensor.name.clone().unwrap_or_else(|| "input".to_string());
            node_of_tensor[input] = Some(diagram.nodes.len());
            diagram.nodes.push(Node {
                path: name.clone(),
                name,
                op: "input".to_string(),
                shape: show_shape(tensor.shape.as_deref()),
                broken: false,
                cluster: None,
            });
        }
        for layer in &model.layers {
            let id = diagram.nodes.len();
            for &tensor in &layer.inputs {
                if let Some(from) = node_of_tensor.get(tensor).copied().flatten() {
                    diagram.edges.push(Edge { from, to: id });
                }
            }
            let (prefix, name) = split_path(layer);
            let mut cluster = None;
            let mut key = String::new();
            for segment in prefix.split('.').filter(|s| !s.is_empty()) {
                if !key.is_empty() {
                    key.push('.');
                }
                key.push_str(segment);
                cluster = Some(diagram.cluster(&mut cluster_keys, key.clone(), key.clone(), cluster));
            }
            // An anonymous block instance adds no path segment; its instantiation tells it apart.
            if prefix.is_empty() {
                if let Some(at) = layer.instantiated_at.first() {
                    let label = instance_label(source, at.range());
                    let key = format!("@{}:{}", at.start, at.end);
                    cluster = Some(diagram.cluster(&mut cluster_keys, key, label, None));
                }
            }
            let tensor = &model.tensors[layer.output];
            node_of_tensor[layer.output] = Some(id);
            diagram.nodes.push(Node {
                path: layer.display_name(),
                name,
                op: summary::describe_op(model, layer),
                shape: if layer.info.broken { "?".to_string() } else { show_shape(tensor.shape.as_deref()) },
                broken: layer.info.broken || layer.unbound,
                cluster,
            });
        }
        diagram
    }

    fn cluster(&mut self, keys: &mut Vec<String>, key: String, label: String, parent: Option<usize>) -> usize {
        if let Some(found) = keys.iter().position(|k| *k == key) {
            return found;
        }
        keys.push(key);
        self.clusters.push(Cluster { label, parent });
        self.clusters.len() - 1
    }
}

/// The group prefix of a layer and the name its box shows.
fn split_path(layer: &cnn_check::Layer) -> (String, String) {
    if !layer.named {
        return (layer.path.clone(), format!("({})", layer.op.name()));
    }
    match layer.path.rsplit_once('.') {
        Some((prefix, last)) => (prefix.to_string(), last.to_string()),
        None => (String::new(), layer.path.clone()),
    }
}

/// The block name of an anonymous instance (`basic(64)` → `basic`), from its source text.
fn instance_label(source: &str, range: std::ops::Range<usize>) -> String {
    let text = source.get(range).unwrap_or("");
    let text = match text.split_once('=') {
        Some((_, rest)) => rest,
        None => text,
    };
    let name: String = text.trim_start().chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
    if name.is_empty() {
        "(block)".to_string()
    } else {
        format!("({name})")
    }
}

fn show_shape(shape: Option<&[cnn_check::dim::Dim]>) -> String {
    match shape {
        Some(dims) => format!("[{}]", dims.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")),
        None => "?".to_string(),
    }
}

#[cfg(test)]
mod tests;
