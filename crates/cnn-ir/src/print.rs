//! A stable text form of a graph, one node per line, for snapshots and `--emit ir`.

use crate::{Graph, Op};
use std::fmt;

impl fmt::Display for Graph {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shape = |t: usize| format!("{:?}", self.tensors[t].shape);
        writeln!(f, "graph {}", self.name)?;
        for &input in &self.inputs {
            writeln!(f, "  %{input} = input {}", shape(input))?;
        }
        for node in &self.nodes {
            let args: Vec<String> = node.inputs.iter().map(|t| format!("%{t}")).collect();
            let params: Vec<&str> = node.params.iter().map(|p| self.params[*p].key.as_str()).collect();
            write!(f, "  %{} = {}({})", node.output, describe(&node.op), args.join(", "))?;
            if !params.is_empty() {
                write!(f, " [{}]", params.join(", "))?;
            }
            writeln!(f, " -> {}  // {}", shape(node.output), node.name)?;
        }
        let outputs: Vec<String> = self.outputs.iter().map(|t| format!("%{t}")).collect();
        writeln!(f, "  return {}", outputs.join(", "))
    }
}

fn describe(op: &Op) -> String {
    match op {
        Op::Conv2d(c) => format!(
            "conv2d k={:?} s={:?} p={:?} d={:?} g={}{}",
            c.kernel,
            c.stride,
            c.pads,
            c.dilation,
            c.groups,
            if c.flip { " flip" } else { "" }
        ),
        Op::MaxPool(p) => format!(
            "maxpool k={:?} s={:?} p={:?} d={:?}{}",
            p.kernel,
            p.stride,
            p.pads,
            p.dilation,
            if p.ceil { " ceil" } else { "" }
        ),
        Op::AvgPool { pool: p, count_pad } => {
            format!(
                "avgpool k={:?} s={:?} p={:?}{}{}",
                p.kernel,
                p.stride,
                p.pads,
                if p.ceil { " ceil" } else { "" },
                if *count_pad { "" } else { " exclude_pad" }
            )
        }
        Op::AdaptiveAvgPool { out } => format!("adaptive_avgpool {out:?}"),
        Op::BlurPool { filter, stride, pads } => format!("blurpool f={filter} s={stride} p={pads:?}"),
        Op::LeakyRelu { slope } => format!("leaky_relu {slope}"),
        Op::BatchNorm { eps } => format!("batchnorm eps={eps}"),
        Op::Dense { in_features, out_features, .. } => format!("dense {in_features}->{out_features}"),
        Op::Softmax { axis } => format!("softmax axis={axis}"),
        other => other.name().to_string(),
    }
}
