//! Unit tests: DOT structure of a small branching model, well-formed SVG, boxes that never
//! overlap, every layer drawn once, broken models drawn with `?` and red boxes.

use crate::layout::{layout, BOX_H};
use crate::Diagram;
use cnn_check::{check_source, CheckOptions, CheckedModel};
use cnn_diag::SourceFile;

const BRANCHING: &str = "
block basic(channels, stride = 1) {
  conv1 = conv(channels, 3, stride=stride, padding=1, bias=false)
  bn1 = batchnorm
  relu
  conv2 = conv(channels, 3, padding=1, bias=false)
  bn2 = batchnorm
  shortcut = from in seq {
    conv(channels, 1, stride=stride, bias=false)
    batchnorm
  }
  add(bn2)
  relu
}

model tiny {
  input x: [N, 3, 32, 32]
  stem = conv(16, 3, padding=1)
  layer1 = basic(32, stride=2)
  a = from layer1 conv(8, 1)
  b = from layer1 maxpool(3, stride=1, padding=1)
  cat = concat(a, b)
}
";

fn models(text: &str) -> (Vec<CheckedModel>, bool) {
    let source = SourceFile::new("test.cnn", text);
    let result = check_source(&source, &CheckOptions::default());
    let errors = result.has_errors();
    (result.models, errors)
}

#[test]
fn dot_of_a_branching_model_has_its_nodes_edges_and_clusters() {
    let (models, errors) = models(BRANCHING);
    assert!(!errors);
    let dot = crate::to_dot(&models, BRANCHING);
    assert!(dot.starts_with("digraph \"tiny\" {"), "{dot}");
    assert!(dot.contains("subgraph cluster_0 {\n    label=\"layer1\";"), "{dot}");
    assert!(dot.contains("subgraph cluster_1 {\n      label=\"layer1.shortcut\";"), "{dot}");
    assert!(dot.contains("n0 [label=\"x\\ninput\""), "{dot}");
    assert!(dot.contains("n1 [label=\"stem\\nconv 3×3 p1\""), "{dot}");
    assert!(dot.contains("n0 -> n1 [label=\"[N, 3, 32, 32]\"];"), "{dot}");
    // The block input feeds conv1 and the shortcut; the add joins bn2 and the shortcut.
    let diagram = Diagram::build(&models[0], BRANCHING);
    let id = |path: &str| diagram.nodes.iter().position(|n| n.path == path).unwrap();
    let edge = |a: &str, b: &str| format!("n{} -> n{} [label=", id(a), id(b));
    for (a, b) in [
        ("stem", "layer1.conv1"),
        ("stem", "layer1.shortcut.0"),
        ("layer1.bn2", "layer1.(add)"),
        ("layer1.shortcut.1", "layer1.(add)"),
        ("a", "cat"),
        ("b", "cat"),
    ] {
        assert!(dot.contains(&edge(a, b)), "no edge {a} -> {b} in\n{dot}");
    }
    assert!(dot.contains(&format!("n{} -> n{} [label=\"[N, 8, 16, 16]\"]", id("a"), id("cat"))), "{dot}");
    assert_eq!(dot.matches(" -> ").count(), diagram.edges.len());
    assert_eq!(diagram.edges.len(), 15);
    assert_eq!(dot.matches('{').count(), dot.matches('}').count());
}

#[test]
fn svg_is_well_formed_and_draws_every_layer_once() {
    for text in [BRANCHING, RESNETISH] {
        let (models, _) = models(text);
        let svg = crate::to_svg(&models, text);
        check_xml(&svg);
        let diagram = Diagram::build(&models[0], text);
        assert_eq!(svg.matches("<g class=\"node").count(), diagram.nodes.len());
        for layer in models[0].layers.iter().filter(|l| l.named) {
            let title = format!("<title>{}</title>", layer.path);
            assert_eq!(svg.matches(&title).count(), 1, "{title}");
        }
    }
}

#[test]
fn boxes_never_overlap() {
    for text in [BRANCHING, RESNETISH] {
        let (models, _) = models(text);
        let diagram = Diagram::build(&models[0], text);
        let laid = layout(&diagram, 0.0);
        for (i, a) in laid.boxes.iter().enumerate() {
            for b in &laid.boxes[i + 1..] {
                let apart = (a.0 - b.0).abs() >= laid.box_w || (a.1 - b.1).abs() >= BOX_H;
                assert!(apart, "boxes at {a:?} and {b:?} overlap");
            }
        }
        // A chain stays in one column; the branches of the shortcut sit side by side.
        let col = |path: &str| laid.cols[diagram.nodes.iter().position(|n| n.path == path).unwrap()];
        if text == BRANCHING {
            assert_eq!(col("layer1.conv1"), col("layer1.conv2"));
            assert_ne!(col("layer1.conv1"), col("layer1.shortcut.0"));
            assert_ne!(col("a"), col("b"));
        }
    }
}

const RESNETISH: &str = "
block basic(channels) {
  conv1 = conv(channels, 3, padding=1)
  relu
  conv2 = conv(channels, 3, padding=1)
  add(in)
  relu
}
model r {
  input x: [N, 8, 16, 16]
  layer1 = basic(8) * 3
  basic(8)
  head = conv(4, 1)
}
";

#[test]
fn anonymous_block_instances_are_clusters_and_skip_edges_avoid_boxes() {
    let (models, _) = models(RESNETISH);
    let diagram = Diagram::build(&models[0], RESNETISH);
    let labels: Vec<&str> = diagram.clusters.iter().map(|c| c.label.as_str()).collect();
    assert_eq!(labels, ["layer1", "layer1.0", "layer1.1", "layer1.2", "(basic)"]);
    let laid = layout(&diagram, 0.0);
    // Every edge segment that is vertical passes no box it does not start or end at.
    for (edge, points) in diagram.edges.iter().zip(&laid.edges) {
        for pair in points.windows(2) {
            let ((x0, y0), (x1, y1)) = (pair[0], pair[1]);
            if (x0 - x1).abs() > 0.01 {
                continue;
            }
            for (id, (bx, by)) in laid.boxes.iter().enumerate() {
                if id == edge.from || id == edge.to {
                    continue;
                }
                let inside_x = *bx < x0 && x0 < bx + laid.box_w;
                let inside_y = y0.min(y1) < by + BOX_H && *by < y0.max(y1);
                assert!(!(inside_x && inside_y), "edge {}->{} crosses box {id}", edge.from, edge.to);
            }
        }
    }
}

#[test]
fn broken_models_are_drawn_with_unknown_shapes() {
    let text = "model m {\n  input x: [N, 3, 8, 8]\n  c1 = conv(4, 11)\n  c2 = conv(4, 3)\n}\n";
    let (models, errors) = models(text);
    assert!(errors);
    let svg = crate::to_svg(&models, text);
    check_xml(&svg);
    assert!(svg.contains("<g class=\"node broken\"><title>c1</title>"), "{svg}");
    assert!(svg.contains(">?</text>"));
    let dot = crate::to_dot(&models, text);
    assert!(dot.contains("color=\"#d32f2f\""));
    assert!(dot.contains("[label=\"?\"]"), "{dot}");
}

#[test]
fn text_is_escaped() {
    assert_eq!(crate::svg::escape("a<b & \"c\" ⌊H/2⌋"), "a&lt;b &amp; &quot;c&quot; ⌊H/2⌋");
    assert_eq!(crate::dot::quote("say \"hi\"\\\nnext"), "\"say \\\"hi\\\"\\\\\\nnext\"");
}

/// A small XML checker: tags balance and nest, attributes are quoted, `&` starts an entity.
fn check_xml(xml: &str) {
    let mut stack: Vec<&str> = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find('<') {
        check_text(&rest[..start]);
        let end = rest[start..].find('>').expect("unclosed tag") + start;
        let tag = &rest[start + 1..end];
        rest = &rest[end + 1..];
        assert!(!tag.contains('<'), "`<` inside a tag: {tag}");
        assert_eq!(tag.matches('"').count() % 2, 0, "unbalanced quotes: {tag}");
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(stack.pop(), Some(name.trim()), "mismatched </{name}>");
        } else if !tag.ends_with('/') {
            let name = tag.split_whitespace().next().unwrap_or("");
            stack.push(name);
        }
    }
    check_text(rest);
    assert!(stack.is_empty(), "unclosed: {stack:?}");
}

fn check_text(text: &str) {
    assert!(!text.contains('>'), "stray `>` in text: {text}");
    for (i, _) in text.match_indices('&') {
        let entity = &text[i..text[i..].find(';').map_or(text.len(), |e| i + e + 1)];
        assert!(["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"].contains(&entity), "bad entity {entity}");
    }
}
