//! Graphviz DOT output: one `digraph` per model, a `subgraph cluster_N` per group or block
//! instance (nested like the paths), boxes labelled name and operation, edges labelled with
//! the producer's output shape. Broken layers are red.
//!
//! **Invariant:** every string goes through [`quote`]; node ids are `n0`, `n1`, ... so names
//! never need to be valid DOT identifiers.

use crate::Diagram;
use std::fmt::Write;

pub(crate) fn render(diagram: &Diagram) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "digraph {} {{", quote(&diagram.title));
    out.push_str(
        "  rankdir=TB;\n  node [shape=box, style=\"rounded,filled\", fillcolor=\"#f4f6fa\", fontname=\"monospace\"];\n",
    );
    out.push_str("  edge [fontname=\"monospace\", fontsize=10];\n");
    // Nodes directly in each cluster, and clusters directly in each cluster.
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); diagram.clusters.len()];
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); diagram.clusters.len()];
    for (id, node) in diagram.nodes.iter().enumerate() {
        match node.cluster {
            Some(c) => members[c].push(id),
            None => write_node(&mut out, diagram, id, 1),
        }
    }
    for (c, cluster) in diagram.clusters.iter().enumerate() {
        if let Some(parent) = cluster.parent {
            children[parent].push(c);
        }
    }
    let tree = Tree { members: &members, children: &children };
    for (c, cluster) in diagram.clusters.iter().enumerate() {
        if cluster.parent.is_none() {
            write_cluster(&mut out, diagram, &tree, c, 1);
        }
    }
    for edge in &diagram.edges {
        let _ = writeln!(out, "  n{} -> n{} [label={}];", edge.from, edge.to, quote(&diagram.nodes[edge.from].shape));
    }
    out.push_str("}\n");
    out
}

struct Tree<'a> {
    members: &'a [Vec<usize>],
    children: &'a [Vec<usize>],
}

fn write_cluster(out: &mut String, diagram: &Diagram, tree: &Tree<'_>, cluster: usize, indent: usize) {
    let pad = "  ".repeat(indent);
    let _ = writeln!(out, "{pad}subgraph cluster_{cluster} {{");
    let _ = writeln!(out, "{pad}  label={}; style=dashed; color=\"#7f9fd6\";", quote(&diagram.clusters[cluster].label));
    for &node in &tree.members[cluster] {
        write_node(out, diagram, node, indent + 1);
    }
    for &child in &tree.children[cluster] {
        write_cluster(out, diagram, tree, child, indent + 1);
    }
    let _ = writeln!(out, "{pad}}}");
}

fn write_node(out: &mut String, diagram: &Diagram, id: usize, indent: usize) {
    let node = &diagram.nodes[id];
    let label = format!("{}\n{}", node.name, node.op);
    let colour = if node.broken { ", color=\"#d32f2f\", fontcolor=\"#b71c1c\", fillcolor=\"#fde8e8\"" } else { "" };
    let _ =
        writeln!(out, "{}n{id} [label={}, tooltip={}{colour}];", "  ".repeat(indent), quote(&label), quote(&node.path));
}

/// A DOT double-quoted string: backslashes and quotes escaped, newlines as centred line breaks.
pub(crate) fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
