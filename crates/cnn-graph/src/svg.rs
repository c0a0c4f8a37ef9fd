//! SVG rendering of laid-out diagrams: cluster rectangles (outermost first), edges with
//! arrowheads, output shapes below each box, then the boxes with name and operation.
//!
//! **Invariant:** all text goes through [`escape`]; the document is well-formed XML.

use crate::layout::{layout, Layout, BOX_H, CHAR_W};
use crate::Diagram;
use std::fmt::Write;

const TITLE_H: f64 = 36.0;

pub(crate) fn render(diagrams: &[Diagram]) -> String {
    let mut body = String::new();
    let mut top = 10.0;
    let mut width: f64 = 300.0;
    for diagram in diagrams {
        let _ = writeln!(
            body,
            r#"<text x="20" y="{:.1}" class="title">model {}</text>"#,
            top + 20.0,
            escape(&diagram.title)
        );
        let laid = layout(diagram, top + TITLE_H);
        draw(&mut body, diagram, &laid);
        width = width.max(laid.width);
        top = laid.height + 10.0;
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{top:.0}" viewBox="0 0 {width:.0} {top:.0}" font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" font-size="12">"#
    );
    out.push_str(STYLE);
    let _ = writeln!(out, r#"<rect x="0" y="0" width="{width:.0}" height="{top:.0}" fill="white"/>"#);
    out.push_str(&body);
    out.push_str("</svg>\n");
    out
}

const STYLE: &str = r##"<defs>
<marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto"><path d="M0,1 L10,5 L0,9 z" fill="#555"/></marker>
</defs>
<style>
.title { font-size: 15px; font-weight: bold; fill: #222; }
.cluster rect { fill: #4a7bd0; fill-opacity: 0.05; stroke: #7f9fd6; stroke-dasharray: 4 2; }
.cluster text { font-size: 10px; fill: #3d64a8; }
.edge { fill: none; stroke: #555; stroke-width: 1.2; }
.shape { font-size: 10.5px; fill: #555; }
.node rect { fill: #f4f6fa; stroke: #333; }
.node .name { font-weight: bold; fill: #111; }
.node .op { fill: #333; }
.broken rect { fill: #fde8e8; stroke: #d32f2f; stroke-width: 2; }
.broken text { fill: #b71c1c; }
.input rect { fill: #e8f4e8; }
</style>
"##;

fn draw(out: &mut String, diagram: &Diagram, laid: &Layout) {
    // Outer clusters first so inner ones are painted on top.
    let mut order: Vec<usize> = (0..diagram.clusters.len()).collect();
    order.sort_by_key(|c| depth(diagram, *c));
    for c in order {
        let r = &laid.clusters[c];
        if r.w <= 0.0 {
            continue;
        }
        let _ = writeln!(
            out,
            r#"<g class="cluster"><rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" rx="6"/><text x="{:.1}" y="{:.1}">{}</text></g>"#,
            r.x,
            r.y,
            r.w,
            r.h,
            r.x + 6.0,
            r.y + 11.0,
            escape(&diagram.clusters[c].label)
        );
    }
    for points in &laid.edges {
        let list: Vec<String> = points.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
        let _ = writeln!(out, r#"<polyline class="edge" points="{}" marker-end="url(#arrow)"/>"#, list.join(" "));
    }
    for (node, (x, y)) in diagram.nodes.iter().zip(&laid.shape_at) {
        let _ = writeln!(out, r#"<text class="shape" x="{x:.1}" y="{y:.1}">{}</text>"#, escape(&node.shape));
    }
    for (node, (x, y)) in diagram.nodes.iter().zip(&laid.boxes) {
        let class = if node.broken {
            "node broken"
        } else if node.op == "input" && node.cluster.is_none() {
            "node input"
        } else {
            "node"
        };
        let cx = x + laid.box_w / 2.0;
        let _ = writeln!(
            out,
            r#"<g class="{class}"><title>{}</title><rect x="{x:.1}" y="{y:.1}" width="{:.1}" height="{BOX_H:.0}" rx="4"/><text class="name" x="{cx:.1}" y="{:.1}" text-anchor="middle">{}</text><text class="op" x="{cx:.1}" y="{:.1}" text-anchor="middle">{}</text></g>"#,
            escape(&node.path),
            laid.box_w,
            y + 16.0,
            escape(&fit(&node.name, laid.box_w)),
            y + 32.0,
            escape(&fit(&node.op, laid.box_w)),
        );
    }
}

fn depth(diagram: &Diagram, mut cluster: usize) -> usize {
    let mut depth = 0;
    while let Some(parent) = diagram.clusters[cluster].parent {
        depth += 1;
        cluster = parent;
    }
    depth
}

/// Shorten text that would not fit in a box (the box is sized for the widest text, so this
/// only guards against font differences).
fn fit(text: &str, box_w: f64) -> String {
    let max = ((box_w - 8.0) / CHAR_W) as usize;
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let mut short: String = text.chars().take(max.saturating_sub(1)).collect();
        short.push('…');
        short
    }
}

/// Escape text for XML character data and attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}
