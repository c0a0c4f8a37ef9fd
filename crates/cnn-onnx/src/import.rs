//! The import walk: decode the model, take initialisers as constants and graph inputs as the
//! model's inputs, then visit the nodes in order, folding those that only compute constants
//! and translating the rest to layers (`layers.rs`). Every node that cannot be translated is
//! collected, so the error lists all of them at once.
//!
//! Assumes nothing about the bytes: protobuf decoding is bounded by the input's length, tensor
//! data is checked against declared sizes, and a value read before it is computed is an error.

use crate::attrs::Attrs;
use crate::emit::{self, Statement};
use crate::fold::{self, Input};
use crate::layers::{self, Call, In};
use crate::proto::{tensor_proto::DataType, tensor_shape_proto::dimension, type_proto, ModelProto, NodeProto};
use crate::tensor::{decode, Const, Int};
use crate::{ImportError, UnsupportedNode};
use prost::Message;
use std::collections::HashMap;

/// An imported model: the `.cnn` text and the weights its layers read.
#[derive(Clone, Debug, PartialEq)]
pub struct Imported {
    pub text: String,
    /// In the order the layers read them; keys as `cnn_check::param_key` makes them.
    pub weights: Vec<NamedTensor>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct NamedTensor {
    pub key: String,
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
}

/// What a value name stands for during the walk.
#[derive(Clone, Debug)]
pub(crate) enum Value {
    Const(Const),
    /// A tensor computed at run time: a model input or a statement's output.
    Dynamic {
        shape: Vec<Int>,
        statement: Option<usize>,
    },
    /// The output of a node that could not be imported; nodes reading it are skipped silently.
    Poisoned,
}

/// A model input as the `.cnn` file declares it.
pub(crate) struct ModelInput {
    pub onnx_name: String,
    pub shape: Vec<Int>,
}

/// Import an ONNX model. `model_name` names the `.cnn` model (usually the file's stem).
pub fn import(bytes: &[u8], model_name: &str) -> Result<Imported, ImportError> {
    let model = ModelProto::decode(bytes).map_err(|e| ImportError::Malformed(format!("not ONNX protobuf: {e}")))?;
    let graph = model.graph.as_ref().ok_or_else(|| ImportError::Malformed("the model has no graph".into()))?;
    if graph.node.is_empty() && graph.input.is_empty() {
        return Err(ImportError::Malformed("the graph is empty (is this an ONNX model?)".into()));
    }
    let opset = model
        .opset_import
        .iter()
        .find(|o| matches!(o.domain.as_deref(), None | Some("") | Some("ai.onnx")))
        .and_then(|o| o.version)
        .unwrap_or(1);
    let mut walk = Walk { opset, values: HashMap::new(), statements: Vec::new(), unsupported: Vec::new() };
    for tensor in &graph.initializer {
        let value = decode(tensor).map_err(ImportError::Malformed)?;
        walk.values.insert(tensor.name.clone().unwrap_or_default(), Value::Const(value));
    }
    let mut inputs = Vec::new();
    for input in &graph.input {
        let name = input.name.clone().unwrap_or_default();
        if walk.values.contains_key(&name) {
            continue;
        }
        match input_shape(input) {
            Ok(shape) => {
                walk.values.insert(name.clone(), Value::Dynamic { shape: shape.clone(), statement: None });
                inputs.push(ModelInput { onnx_name: name, shape });
            }
            Err(reason) => {
                walk.values.insert(name.clone(), Value::Poisoned);
                walk.unsupported.push(UnsupportedNode { name, op_type: "graph input".into(), reason });
            }
        }
    }
    let uses = use_counts(&model);
    for (index, node) in graph.node.iter().enumerate() {
        walk.visit(index, node, &uses)?;
    }
    let mut outputs = Vec::new();
    for output in &graph.output {
        let name = output.name.clone().unwrap_or_default();
        match walk.values.get(&name) {
            Some(Value::Dynamic { statement: Some(_), .. }) => outputs.push(name),
            Some(Value::Poisoned) => {}
            Some(_) => walk.unsupported.push(UnsupportedNode {
                name,
                op_type: "graph output".into(),
                reason: "an output that is a constant or a model input is not a layer".into(),
            }),
            None => return Err(ImportError::Malformed(format!("graph output `{name}` is never computed"))),
        }
    }
    if !walk.unsupported.is_empty() {
        return Err(ImportError::Unsupported(walk.unsupported));
    }
    let header = format!(
        "// Imported by `cnnc import` from an ONNX model (opset {opset}{}).",
        model.producer_name.as_deref().filter(|p| !p.is_empty()).map(|p| format!(", made by {p}")).unwrap_or_default()
    );
    emit::emit(&header, model_name, &inputs, walk.statements, &outputs)
}

struct Walk {
    opset: i64,
    values: HashMap<String, Value>,
    statements: Vec<Statement>,
    unsupported: Vec<UnsupportedNode>,
}

impl Walk {
    fn visit(&mut self, index: usize, node: &NodeProto, uses: &HashMap<String, usize>) -> Result<(), ImportError> {
        let op = node.op_type.clone().unwrap_or_default();
        let name =
            node.name.clone().filter(|n| !n.is_empty()).unwrap_or_else(|| format!("{}_{index}", op.to_lowercase()));
        let mut inputs = Vec::with_capacity(node.input.len());
        let mut poisoned = false;
        for input in &node.input {
            if input.is_empty() {
                inputs.push(None);
                continue;
            }
            let value = self.values.get(input).ok_or_else(|| {
                ImportError::Malformed(format!("node `{name}` reads `{input}`, which nothing before it computes"))
            })?;
            poisoned |= matches!(value, Value::Poisoned);
            inputs.push(Some(value));
        }
        let domain = node.domain.as_deref().unwrap_or("");
        let result = if !domain.is_empty() && domain != "ai.onnx" {
            Err(format!("operator domain `{domain}` is not supported"))
        } else if poisoned {
            if layers::SUPPORTED.contains(&op.as_str()) || fold::FOLDABLE.contains(&op.as_str()) {
                Ok(None)
            } else {
                Err(layers::unsupported_reason(&op))
            }
        } else {
            self.translate(&op, &name, node, &inputs, uses).map(Some)
        };
        match result {
            Ok(Some(outcome)) => self.record(node, outcome),
            Ok(None) => self.poison(node),
            Err(reason) => {
                self.unsupported.push(UnsupportedNode { name, op_type: op, reason });
                self.poison(node);
            }
        }
        Ok(())
    }

    fn translate(
        &self,
        op: &str,
        name: &str,
        node: &NodeProto,
        inputs: &[Option<&Value>],
        uses: &HashMap<String, usize>,
    ) -> Result<Outcome, String> {
        let attrs = Attrs::new(node);
        let fold_inputs: Vec<Input<'_>> = inputs
            .iter()
            .map(|v| match v {
                Some(Value::Const(c)) => Input::Const(c),
                Some(Value::Dynamic { shape, .. }) => Input::Dynamic(Some(shape.as_slice())),
                _ => Input::Absent,
            })
            .collect();
        if let Some(folded) = fold::fold(op, &attrs, &fold_inputs) {
            return folded.map(Outcome::Const);
        }
        let layer_inputs: Vec<In<'_>> = inputs
            .iter()
            .zip(&node.input)
            .map(|(v, n)| match v {
                Some(Value::Const(c)) => In::Const(c),
                Some(Value::Dynamic { shape, .. }) => In::Dyn { name: n, shape },
                _ => In::Absent,
            })
            .collect();
        let used = |output: usize| node.output.get(output).and_then(|o| uses.get(o)).copied().unwrap_or(0) > 0;
        let ctx = layers::Ctx { opset: self.opset, attrs: &attrs, inputs: &layer_inputs, output_used: &used };
        // `MatMul` + `Add` (and `Gemm` without C + `Add`): the constant becomes the dense layer's bias.
        if op == "Add" {
            if let Some(outcome) = self.bias_add(node, inputs, uses)? {
                return Ok(outcome);
            }
        }
        let translated = layers::translate(op, &ctx)?;
        Ok(Outcome::Layer(Box::new(Statement::new(name, translated, node))))
    }

    /// `Add(dense without bias, constant)` where the dense output is read only here.
    fn bias_add(
        &self,
        node: &NodeProto,
        inputs: &[Option<&Value>],
        uses: &HashMap<String, usize>,
    ) -> Result<Option<Outcome>, String> {
        let (dynamic, constant) = match inputs {
            [Some(Value::Dynamic { statement: Some(s), .. }), Some(Value::Const(c))]
            | [Some(Value::Const(c)), Some(Value::Dynamic { statement: Some(s), .. })] => (*s, c),
            _ => return Ok(None),
        };
        let statement = &self.statements[dynamic];
        let Call::Dense { out, bias: false, .. } = statement.call else { return Ok(None) };
        if uses.get(&statement.output).copied().unwrap_or(0) != 1 {
            return Ok(None);
        }
        let dims_ok = matches!(constant.dims.as_slice(), [n] | [1, n] if *n == out);
        if !dims_ok {
            return Err(format!("adding a constant of shape {:?} to a dense output of width {out}", constant.dims));
        }
        let output = node.output.first().cloned().unwrap_or_default();
        Ok(Some(Outcome::Bias { statement: dynamic, values: constant.floats()?, output }))
    }

    fn record(&mut self, node: &NodeProto, outcome: Outcome) {
        let first = node.output.first().cloned().unwrap_or_default();
        match outcome {
            Outcome::Const(value) => {
                self.values.insert(first, Value::Const(value));
            }
            Outcome::Layer(statement) => {
                let shape = statement.shape.clone();
                self.values.insert(first, Value::Dynamic { shape, statement: Some(self.statements.len()) });
                self.statements.push(*statement);
            }
            Outcome::Bias { statement, values, output } => {
                let target = &mut self.statements[statement];
                if let Call::Dense { input, out, .. } = target.call {
                    target.call = Call::Dense { input, out, bias: true };
                    target.weights.push(("bias", vec![out], values));
                }
                let shape = target.shape.clone();
                target.output = output.clone();
                self.values.insert(output, Value::Dynamic { shape, statement: Some(statement) });
            }
        }
        // Secondary outputs (a dropout mask, pooling indices) are not computed.
        for extra in node.output.iter().skip(1) {
            self.values.insert(extra.clone(), Value::Poisoned);
        }
    }

    fn poison(&mut self, node: &NodeProto) {
        for output in &node.output {
            self.values.insert(output.clone(), Value::Poisoned);
        }
    }
}

enum Outcome {
    Const(Const),
    Layer(Box<Statement>),
    /// A constant added to a bias-free dense layer becomes its bias.
    Bias {
        statement: usize,
        values: Vec<f32>,
        output: String,
    },
}

/// How many times each value is read (by nodes or as a graph output).
fn use_counts(model: &ModelProto) -> HashMap<String, usize> {
    let mut uses = HashMap::new();
    if let Some(graph) = &model.graph {
        for name in
            graph.node.iter().flat_map(|n| n.input.iter()).chain(graph.output.iter().filter_map(|o| o.name.as_ref()))
        {
            *uses.entry(name.clone()).or_insert(0) += 1;
        }
    }
    uses
}

/// A graph input's shape: float, rank 4 or 2, channels known; a missing batch size is `N`.
fn input_shape(input: &crate::proto::ValueInfoProto) -> Result<Vec<Int>, String> {
    let Some(type_proto::Value::TensorType(tensor)) = input.r#type.as_ref().and_then(|t| t.value.as_ref()) else {
        return Err("only tensor inputs are supported".into());
    };
    let elem = tensor.elem_type.unwrap_or(0);
    if elem != DataType::Float as i32 {
        let name = DataType::try_from(elem).map(|d| d.as_str_name()).unwrap_or("an unknown type");
        return Err(format!("the input is {name}; cnnc models take float tensors"));
    }
    let dims = tensor.shape.as_ref().map(|s| s.dim.as_slice()).unwrap_or_default();
    if dims.len() != 4 && dims.len() != 2 {
        return Err(format!("the input has rank {}; cnnc models take [N, C, H, W] or [N, F]", dims.len()));
    }
    let mut shape = Vec::with_capacity(dims.len());
    for (i, dim) in dims.iter().enumerate() {
        let value = match &dim.value {
            Some(dimension::Value::DimValue(v)) if *v > 0 => Int::Known(*v),
            Some(dimension::Value::DimParam(p)) if !p.is_empty() && i != 1 => Int::Sym(emit::identifier(p)),
            None if i == 0 => Int::Sym("N".into()),
            _ => {
                return Err(format!("dimension {i} must be a positive size{}", if i == 1 { " (channels)" } else { "" }))
            }
        };
        shape.push(value);
    }
    Ok(shape)
}
