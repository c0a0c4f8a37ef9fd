//! Export: a lowered [`cnn_ir::Graph`] and its parameter values as an ONNX model, opset 17.
//!
//! Node names are the layers' display names (`layer1.0.conv1`, `layer1.0.(relu)`), each
//! node's output is named after its node, and initialiser names are the weights' `state_dict`
//! keys. Assumes a verified graph with concrete shapes; the batch (dimension 0 of every tensor)
//! may be given a symbolic name, which becomes an ONNX `dim_param`. Every op maps to ONNX
//! exactly; the ones that cannot (blurpool, adaptive pooling with uneven windows) are errors.

use crate::proto::{
    tensor_proto::DataType, tensor_shape_proto::dimension, tensor_shape_proto::Dimension, type_proto, AttributeProto,
    GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorShapeProto, TypeProto, ValueInfoProto,
};
use crate::tensor::float_tensor;
use crate::ExportError;
use cnn_ir::{Graph, Node, Op, Pool2d};
use prost::Message;
use std::collections::HashSet;

/// The opset the exporter writes.
const OPSET: i64 = 17;
/// IR version 8 goes with opset 17.
const IR_VERSION: i64 = 8;

#[derive(Clone, Debug, Default)]
pub struct ExportOptions {
    /// The name of a symbolic batch size (`N`): dimension 0 of inputs and outputs becomes this
    /// `dim_param` instead of the graph's concrete batch.
    pub batch_symbol: Option<String>,
}

/// The ONNX model's bytes. `weights` are indexed like `graph.params`.
pub fn export(graph: &Graph, weights: &[Vec<f32>], options: &ExportOptions) -> Result<Vec<u8>, ExportError> {
    if weights.len() != graph.params.len()
        || weights.iter().zip(&graph.params).any(|(w, p)| w.len() != p.shape.iter().product::<usize>())
    {
        return Err(ExportError::WeightsMismatch);
    }
    let mut value_names = vec![String::new(); graph.tensors.len()];
    let mut used = HashSet::new();
    for &input in &graph.inputs {
        let base = graph.tensors[input].name.clone().unwrap_or_else(|| format!("input{input}"));
        value_names[input] = unique(&base, &mut used);
    }
    let mut nodes = Vec::new();
    let mut initializers = Vec::new();
    for node in &graph.nodes {
        let name = unique(&node.name, &mut used);
        value_names[node.output] = name.clone();
        let mut inputs: Vec<String> = node.inputs.iter().map(|t| value_names[*t].clone()).collect();
        for &param in &node.params {
            let p = &graph.params[param];
            let mut values = weights[param].clone();
            if let Op::Conv2d(conv) = node.op {
                if conv.flip && p.shape.len() == 4 {
                    values = rotate_kernels(&values, &p.shape);
                }
            }
            initializers.push(float_tensor(&p.key, &p.shape, &values));
            inputs.push(p.key.clone());
        }
        nodes.extend(node_protos(graph, node, &name, inputs)?);
    }
    let value_info = |tensor: usize| value_info(&value_names[tensor], &graph.tensors[tensor].shape, options);
    let model_graph = GraphProto {
        name: Some(graph.name.clone()),
        node: nodes,
        initializer: initializers,
        input: graph.inputs.iter().map(|t| value_info(*t)).collect(),
        output: graph.outputs.iter().map(|t| value_info(*t)).collect(),
        ..GraphProto::default()
    };
    let model = ModelProto {
        ir_version: Some(IR_VERSION),
        opset_import: vec![OperatorSetIdProto { domain: Some(String::new()), version: Some(OPSET) }],
        producer_name: Some("cnnc".into()),
        producer_version: Some(env!("CARGO_PKG_VERSION").into()),
        graph: Some(model_graph),
        ..ModelProto::default()
    };
    Ok(model.encode_to_vec())
}

fn unique(base: &str, used: &mut HashSet<String>) -> String {
    let mut name = base.to_string();
    let mut n = 2;
    while !used.insert(name.clone()) {
        name = format!("{base}~{n}");
        n += 1;
    }
    name
}

fn value_info(name: &str, shape: &[usize], options: &ExportOptions) -> ValueInfoProto {
    let dim = shape
        .iter()
        .enumerate()
        .map(|(i, d)| Dimension {
            value: Some(match (&options.batch_symbol, i) {
                (Some(symbol), 0) => dimension::Value::DimParam(symbol.clone()),
                _ => dimension::Value::DimValue(*d as i64),
            }),
            ..Dimension::default()
        })
        .collect();
    ValueInfoProto {
        name: Some(name.to_string()),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: Some(DataType::Float as i32),
                shape: Some(TensorShapeProto { dim }),
            })),
            ..TypeProto::default()
        }),
        ..ValueInfoProto::default()
    }
}

fn ints(name: &str, values: &[i64]) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(7), // INTS
        ints: values.to_vec(),
        ..AttributeProto::default()
    }
}

fn int(name: &str, value: i64) -> AttributeProto {
    AttributeProto { name: Some(name.into()), r#type: Some(2), i: Some(value), ..AttributeProto::default() }
}

fn float(name: &str, value: f32) -> AttributeProto {
    AttributeProto { name: Some(name.into()), r#type: Some(1), f: Some(value), ..AttributeProto::default() }
}

fn pair(v: [usize; 2]) -> [i64; 2] {
    [v[0] as i64, v[1] as i64]
}

/// `[top, bottom, left, right]` → ONNX's `[top, left, bottom, right]`.
fn onnx_pads(p: [usize; 4]) -> [i64; 4] {
    [p[0] as i64, p[2] as i64, p[1] as i64, p[3] as i64]
}

fn pool_attrs(pool: &Pool2d, with_dilation: bool) -> Vec<AttributeProto> {
    let mut attrs = vec![
        ints("kernel_shape", &pair(pool.kernel)),
        ints("strides", &pair(pool.stride)),
        ints("pads", &onnx_pads(pool.pads)),
        int("ceil_mode", i64::from(pool.ceil)),
    ];
    if with_dilation {
        attrs.push(ints("dilations", &pair(pool.dilation)));
    }
    attrs
}

fn proto(op: &str, name: &str, inputs: Vec<String>, output: &str, attribute: Vec<AttributeProto>) -> NodeProto {
    NodeProto {
        name: Some(name.to_string()),
        op_type: Some(op.to_string()),
        input: inputs,
        output: vec![output.to_string()],
        attribute,
        ..NodeProto::default()
    }
}

/// The ONNX nodes for one layer (usually one; ReLU6 adds its two bounds as `Constant`s).
fn node_protos(graph: &Graph, node: &Node, name: &str, inputs: Vec<String>) -> Result<Vec<NodeProto>, ExportError> {
    let unsupported = |reason: &str| ExportError::Unsupported { layer: node.name.clone(), reason: reason.into() };
    let one = |op: &str, attrs: Vec<AttributeProto>| Ok(vec![proto(op, name, inputs.clone(), name, attrs)]);
    match node.op {
        Op::Conv2d(c) => one(
            "Conv",
            vec![
                ints("kernel_shape", &pair(c.kernel)),
                ints("strides", &pair(c.stride)),
                ints("pads", &onnx_pads(c.pads)),
                ints("dilations", &pair(c.dilation)),
                int("group", c.groups as i64),
            ],
        ),
        Op::MaxPool(pool) => one("MaxPool", pool_attrs(&pool, true)),
        Op::AvgPool { pool, count_pad } => {
            if pool.dilation != [1, 1] {
                return Err(unsupported("average pooling with dilation"));
            }
            let mut attrs = pool_attrs(&pool, false);
            attrs.push(int("count_include_pad", i64::from(count_pad)));
            one("AveragePool", attrs)
        }
        Op::GlobalAvgPool => one("GlobalAveragePool", vec![]),
        Op::GlobalMaxPool => one("GlobalMaxPool", vec![]),
        Op::AdaptiveAvgPool { out } => {
            let input = graph.shape(node.inputs[0]);
            let (h, w) = (input[2], input[3]);
            if out == [1, 1] {
                return one("GlobalAveragePool", vec![]);
            }
            if out[0] == 0 || out[1] == 0 || h % out[0] != 0 || w % out[1] != 0 {
                return Err(unsupported(&format!(
                    "adaptive pooling from {h}×{w} to {}×{} has uneven windows, which ONNX cannot express",
                    out[0], out[1]
                )));
            }
            let kernel = [h / out[0], w / out[1]];
            let pool = Pool2d { kernel, stride: kernel, pads: [0; 4], dilation: [1, 1], ceil: false };
            let mut attrs = pool_attrs(&pool, false);
            attrs.push(int("count_include_pad", 0));
            one("AveragePool", attrs)
        }
        Op::BlurPool { .. } => Err(unsupported("blurpool has no ONNX operator (it would be a Pad and a Conv)")),
        Op::Relu => one("Relu", vec![]),
        Op::Relu6 => {
            let bound = |suffix: &str, value: f32| {
                let mut constant =
                    proto("Constant", &format!("{name}/{suffix}"), vec![], &format!("{name}/{suffix}"), vec![]);
                constant.attribute.push(AttributeProto {
                    name: Some("value".into()),
                    r#type: Some(4), // TENSOR
                    t: Some(float_tensor("", &[], &[value])),
                    ..AttributeProto::default()
                });
                constant
            };
            let clip_inputs = vec![inputs[0].clone(), format!("{name}/min"), format!("{name}/max")];
            Ok(vec![bound("min", 0.0), bound("max", 6.0), proto("Clip", name, clip_inputs, name, vec![])])
        }
        Op::LeakyRelu { slope } => one("LeakyRelu", vec![float("alpha", slope)]),
        Op::Sigmoid => one("Sigmoid", vec![]),
        Op::Tanh => one("Tanh", vec![]),
        Op::Identity => one("Identity", vec![]),
        Op::BatchNorm { eps } => one("BatchNormalization", vec![float("epsilon", eps)]),
        Op::Flatten => one("Flatten", vec![int("axis", 1)]),
        Op::Dense { .. } => one("Gemm", vec![int("transB", 1)]),
        Op::Softmax { axis } => one("Softmax", vec![int("axis", axis as i64)]),
        Op::Add if node.inputs.len() == 2 => one("Add", vec![]),
        // `Sum` adds all operands at once, as the reference backend does (a chain of `Add`s
        // would round after each).
        Op::Add => one("Sum", vec![]),
        Op::Concat => one("Concat", vec![int("axis", 1)]),
    }
}

/// Kernels rotated by 180°: a true convolution (`flip=true`) as ONNX's cross-correlation.
fn rotate_kernels(values: &[f32], shape: &[usize]) -> Vec<f32> {
    let (kh, kw) = (shape[2], shape[3]);
    let per = kh * kw;
    let mut out = values.to_vec();
    for (kernel, rotated) in values.chunks_exact(per).zip(out.chunks_exact_mut(per)) {
        for i in 0..per {
            rotated[i] = kernel[per - 1 - i];
        }
    }
    out
}
