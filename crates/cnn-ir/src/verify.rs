//! The invariants a backend may rely on, checked: nodes in execution order, tensors and
//! parameters in range, parameter shapes as the op documents them, channel counts consistent.
//! Window output sizes are not recomputed here: they come from `cnn-check`'s `window.rs`.

use crate::{Graph, Op};
use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyError {
    pub node: Option<String>,
    pub message: String,
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.node {
            Some(node) => write!(f, "IR node `{node}`: {}", self.message),
            None => write!(f, "IR: {}", self.message),
        }
    }
}

impl std::error::Error for VerifyError {}

impl Graph {
    pub fn verify(&self) -> Result<(), VerifyError> {
        let mut defined = vec![false; self.tensors.len()];
        for &input in &self.inputs {
            *defined.get_mut(input).ok_or_else(|| err(None, "input out of range"))? = true;
        }
        for node in &self.nodes {
            let here = Some(node.name.as_str());
            for &input in &node.inputs {
                if !defined.get(input).copied().unwrap_or(false) {
                    return Err(err(here, "reads a tensor before it is produced"));
                }
            }
            if node.output >= self.tensors.len() || defined[node.output] {
                return Err(err(here, "output missing or produced twice"));
            }
            defined[node.output] = true;
            self.verify_node(node).map_err(|m| err(here, &m))?;
        }
        if self.outputs.iter().any(|o| !defined.get(*o).copied().unwrap_or(false)) {
            return Err(err(None, "an output is never produced"));
        }
        Ok(())
    }

    fn verify_node(&self, node: &crate::Node) -> Result<(), String> {
        let input = self.shape(node.inputs[0]);
        let output = self.shape(node.output);
        let params: Vec<&[usize]> = node.params.iter().map(|p| self.params[*p].shape.as_slice()).collect();
        let expect_params = |expected: Vec<Vec<usize>>| -> Result<(), String> {
            let got: Vec<Vec<usize>> = params.iter().map(|p| p.to_vec()).collect();
            if got == expected {
                Ok(())
            } else {
                Err(format!("parameters {got:?}, expected {expected:?}"))
            }
        };
        match node.op {
            Op::Conv2d(c) => {
                if input.len() != 4 || input[1] != c.in_channels || output[1] != c.out_channels {
                    return Err("channel counts disagree with the conv".into());
                }
                if c.groups == 0 || c.in_channels % c.groups != 0 || c.out_channels % c.groups != 0 {
                    return Err("groups do not divide the channels".into());
                }
                let mut expected = vec![vec![c.out_channels, c.in_channels / c.groups, c.kernel[0], c.kernel[1]]];
                if c.bias {
                    expected.push(vec![c.out_channels]);
                }
                expect_params(expected)
            }
            Op::Dense { in_features, out_features, bias } => {
                if input != [input[0], in_features] || output != [input[0], out_features] {
                    return Err("dense shapes disagree".into());
                }
                let mut expected = vec![vec![out_features, in_features]];
                if bias {
                    expected.push(vec![out_features]);
                }
                expect_params(expected)
            }
            Op::BatchNorm { .. } => expect_params(vec![vec![input[1]]; 4]),
            Op::Add => {
                if node.inputs.iter().any(|t| self.shape(*t) != output) {
                    return Err("added tensors differ in shape".into());
                }
                expect_params(vec![])
            }
            Op::Concat => {
                let channels: usize = node.inputs.iter().map(|t| self.shape(*t)[1]).sum();
                if channels != output[1] {
                    return Err("concat channel sum differs".into());
                }
                expect_params(vec![])
            }
            _ => expect_params(vec![]),
        }
    }
}

fn err(node: Option<&str>, message: &str) -> VerifyError {
    VerifyError { node: node.map(str::to_string), message: message.to_string() }
}
