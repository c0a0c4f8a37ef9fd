//! A simple layered layout, top to bottom: a node's rank is one more than its deepest input;
//! a node continues the leftmost column of its inputs unless a sibling took it, and a branch
//! (a second consumer of a tensor) opens the next free column to the right.
//!
//! **Invariant:** two nodes never share a column at overlapping ranks, so boxes never overlap;
//! clusters get vertical room of their own at the rank where they start and end.

use crate::Diagram;

pub(crate) const BOX_H: f64 = 40.0;
/// Width of one character of the 12 px monospace font.
pub(crate) const CHAR_W: f64 = 7.3;
const GAP_Y: f64 = 34.0;
const GAP_X: f64 = 150.0;
const MARGIN_X: f64 = 50.0;
/// Room above a cluster's first box per nesting level (for its label) and around it.
const CLUSTER_TOP: f64 = 16.0;
const CLUSTER_SIDE: f64 = 6.0;

pub(crate) struct Rect {
    pub(crate) x: f64,
    pub(crate) y: f64,
    pub(crate) w: f64,
    pub(crate) h: f64,
}

pub(crate) struct Layout {
    pub(crate) box_w: f64,
    /// Top-left corner of each node's box.
    pub(crate) boxes: Vec<(f64, f64)>,
    /// The column of each node (read by the tests).
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) cols: Vec<usize>,
    /// One polyline per edge, from the producer's bottom to the consumer's top.
    pub(crate) edges: Vec<Vec<(f64, f64)>>,
    /// Where each node's output shape is written (left end of the text baseline).
    pub(crate) shape_at: Vec<(f64, f64)>,
    /// One rectangle per cluster (empty clusters get a zero rectangle).
    pub(crate) clusters: Vec<Rect>,
    pub(crate) width: f64,
    pub(crate) height: f64,
}

pub(crate) fn layout(diagram: &Diagram, top: f64) -> Layout {
    let widest = diagram.nodes.iter().map(|n| n.name.chars().count().max(n.op.chars().count())).max();
    let box_w = (widest.unwrap_or(0) as f64 * CHAR_W + 20.0).max(110.0);
    let (ranks, cols) = place(diagram);
    let n_ranks = ranks.iter().max().map_or(0, |r| r + 1);
    let n_cols = cols.iter().max().map_or(0, |c| c + 1);
    let spans = cluster_spans(diagram, &ranks, &cols);
    let levels = cluster_levels(diagram);
    let mut top_extra = vec![0.0f64; n_ranks];
    let mut bottom_extra = vec![0.0f64; n_ranks];
    for (span, level) in spans.iter().zip(&levels) {
        if let Some((r0, r1, _, _)) = span {
            top_extra[*r0] = top_extra[*r0].max(CLUSTER_TOP * *level as f64);
            bottom_extra[*r1] = bottom_extra[*r1].max(CLUSTER_SIDE * *level as f64);
        }
    }
    let mut row_y = Vec::with_capacity(n_ranks);
    let mut y = top;
    for rank in 0..n_ranks {
        y += top_extra[rank];
        row_y.push(y);
        y += BOX_H + bottom_extra[rank] + GAP_Y;
    }
    let col_x = |col: usize| MARGIN_X + col as f64 * (box_w + GAP_X);
    let boxes: Vec<(f64, f64)> = ranks.iter().zip(&cols).map(|(r, c)| (col_x(*c), row_y[*r])).collect();
    let shape_at: Vec<(f64, f64)> = ranks
        .iter()
        .zip(&boxes)
        .map(|(r, (x, y))| (x + box_w / 2.0 + 6.0, y + BOX_H + bottom_extra[*r] + 13.0))
        .collect();
    let clusters = spans
        .iter()
        .zip(&levels)
        .map(|(span, level)| match span {
            Some((r0, r1, c0, c1)) => {
                let side = CLUSTER_SIDE * *level as f64;
                let x = col_x(*c0) - side;
                let y = row_y[*r0] - CLUSTER_TOP * *level as f64 + 2.0;
                Rect { x, y, w: col_x(*c1) + box_w + side - x, h: row_y[*r1] + BOX_H + side - y }
            }
            None => Rect { x: 0.0, y: 0.0, w: 0.0, h: 0.0 },
        })
        .collect();
    let mut routing =
        Routing { box_w, boxes: &boxes, shape_at: &shape_at, ranks: &ranks, cols: &cols, lanes: vec![0; n_cols] };
    let edges = diagram.edges.iter().map(|e| routing.route(e.from, e.to)).collect();
    Layout {
        box_w,
        width: col_x(n_cols.max(1)) - GAP_X + MARGIN_X + 60.0,
        height: y,
        boxes,
        cols,
        edges,
        shape_at,
        clusters,
    }
}

/// Ranks and columns of every node.
fn place(diagram: &Diagram) -> (Vec<usize>, Vec<usize>) {
    let n = diagram.nodes.len();
    let mut inputs: Vec<Vec<usize>> = vec![Vec::new(); n];
    for edge in &diagram.edges {
        if edge.from < edge.to {
            inputs[edge.to].push(edge.from);
        }
    }
    let mut ranks = vec![0usize; n];
    let mut cols = vec![0usize; n];
    let mut handed_on = vec![false; n];
    // The highest rank placed in each column so far.
    let mut last_rank: Vec<Option<usize>> = Vec::new();
    for node in 0..n {
        let rank = inputs[node].iter().map(|i| ranks[*i] + 1).max().unwrap_or(0);
        ranks[node] = rank;
        let free =
            |col: usize, last_rank: &Vec<Option<usize>>| last_rank.get(col).copied().flatten().is_none_or(|l| l < rank);
        // A join (add, concat) goes back to the leftmost column it can take over.
        let inherited = inputs[node]
            .iter()
            .copied()
            .filter(|i| !handed_on[*i] && free(cols[*i], &last_rank))
            .min_by_key(|i| cols[*i]);
        let col = match inherited {
            Some(from) => {
                handed_on[from] = true;
                cols[from]
            }
            None => {
                let mut col = inputs[node].first().map_or(0, |i| cols[*i] + 1);
                while !free(col, &last_rank) {
                    col += 1;
                }
                col
            }
        };
        if last_rank.len() <= col {
            last_rank.resize(col + 1, None);
        }
        last_rank[col] = Some(rank);
        cols[node] = col;
    }
    (ranks, cols)
}

/// For each cluster: first and last rank, first and last column of its members (nested
/// clusters included); `None` for a cluster without nodes.
fn cluster_spans(diagram: &Diagram, ranks: &[usize], cols: &[usize]) -> Vec<Option<(usize, usize, usize, usize)>> {
    let mut spans: Vec<Option<(usize, usize, usize, usize)>> = vec![None; diagram.clusters.len()];
    for (node, info) in diagram.nodes.iter().enumerate() {
        let mut cluster = info.cluster;
        while let Some(c) = cluster {
            let (r, k) = (ranks[node], cols[node]);
            spans[c] = Some(match spans[c] {
                Some((r0, r1, c0, c1)) => (r0.min(r), r1.max(r), c0.min(k), c1.max(k)),
                None => (r, r, k, k),
            });
            cluster = diagram.clusters[c].parent;
        }
    }
    spans
}

/// Nesting level of each cluster counted from the inside: 1 for a cluster with no sub-clusters.
fn cluster_levels(diagram: &Diagram) -> Vec<usize> {
    let mut levels = vec![1usize; diagram.clusters.len()];
    // Children come after their parents, so a backward pass sees every child first.
    for c in (0..diagram.clusters.len()).rev() {
        if let Some(parent) = diagram.clusters[c].parent {
            levels[parent] = levels[parent].max(levels[c] + 1);
        }
    }
    levels
}

struct Routing<'a> {
    box_w: f64,
    boxes: &'a [(f64, f64)],
    shape_at: &'a [(f64, f64)],
    ranks: &'a [usize],
    cols: &'a [usize],
    /// Long edges already routed to the left of each column.
    lanes: Vec<usize>,
}

impl Routing<'_> {
    /// An edge goes straight (or diagonally) to the next rank; a longer one runs down an empty
    /// stretch of its source's or target's column, or else down a lane left of the columns.
    fn route(&mut self, from: usize, to: usize) -> Vec<(f64, f64)> {
        let (sx, sy) = (self.boxes[from].0 + self.box_w / 2.0, self.boxes[from].1 + BOX_H);
        let (tx, ty) = (self.boxes[to].0 + self.box_w / 2.0, self.boxes[to].1);
        let (r0, r1) = (self.ranks[from], self.ranks[to]);
        // Edges that turn do so below the source's shape label, so they never cross it.
        let below_source = self.shape_at[from].1 + 6.0;
        if r1 <= r0 + 1 {
            if (sx - tx).abs() < 0.5 {
                return vec![(sx, sy), (tx, ty)];
            }
            return vec![(sx, sy), (sx, below_source), (tx, ty)];
        }
        let above_target = ty - GAP_Y / 2.0;
        if self.column_empty(self.cols[from], r0 + 1, r1) {
            return vec![(sx, sy), (sx, above_target), (tx, ty)];
        }
        if self.column_empty(self.cols[to], r0 + 1, r1) {
            return vec![(sx, sy), (sx, below_source), (tx, below_source + 6.0), (tx, ty)];
        }
        let col = self.cols[from].min(self.cols[to]);
        let lane = self.lanes[col];
        self.lanes[col] += 1;
        let x = self.boxes[from].0.min(self.boxes[to].0) - 18.0 - 7.0 * (lane % 4) as f64;
        vec![(sx, sy), (sx, below_source), (x, below_source), (x, above_target), (tx, above_target), (tx, ty)]
    }

    /// Whether no box sits in `col` at ranks `from..to`.
    fn column_empty(&self, col: usize, from: usize, to: usize) -> bool {
        !self.ranks.iter().zip(self.cols).any(|(r, c)| *c == col && (from..to).contains(r))
    }
}
