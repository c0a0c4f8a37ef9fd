//! The JSON document of `cnnc check --format json` (documented in `docs/JSON.md`): the
//! diagnostics, then a summary of every model.

use cnn_check::{summary, CheckResult, CheckedModel};
use cnn_diag::render::{diagnostic_json, range_json};
use cnn_diag::SourceFile;
use serde_json::{json, Value};

pub(crate) fn document(source: &SourceFile, result: &CheckResult) -> Value {
    let diagnostics: Vec<Value> = result.diagnostics.iter().map(|d| diagnostic_json(d, source)).collect();
    let models: Vec<Value> = result.models.iter().map(|m| model_json(source, m)).collect();
    json!({
        "file": source.name(),
        "errors": result.diagnostics.iter().filter(|d| d.is_error()).count(),
        "warnings": result.diagnostics.iter().filter(|d| !d.is_error()).count(),
        "diagnostics": diagnostics,
        "models": models,
    })
}

fn model_json(source: &SourceFile, model: &CheckedModel) -> Value {
    let shape = |t: usize| -> Value {
        match &model.tensors[t].shape {
            Some(s) => {
                Value::Array(s.iter().map(|d| d.known().map_or_else(|| json!(d.to_string()), |v| json!(v))).collect())
            }
            None => Value::Null,
        }
    };
    let inputs: Vec<Value> =
        model.inputs.iter().map(|t| json!({ "name": model.tensors[*t].name, "shape": shape(*t) })).collect();
    let layers: Vec<Value> = model
        .layers
        .iter()
        .map(|layer| {
            let tensor = &model.tensors[layer.output];
            let weights: Vec<Value> = layer
                .info
                .weights
                .iter()
                .map(|(suffix, dims)| json!({ "key": format!("{}.{suffix}", layer.path), "shape": dims }))
                .collect();
            json!({
                "name": layer.display_name(),
                "path": layer.path,
                "named": layer.named,
                "op": layer.op.name(),
                "description": summary::describe_op(model, layer),
                "shape": shape(layer.output),
                "ok": layer.info.ok,
                "broken": layer.info.broken,
                "params": layer.info.params,
                "buffers": layer.info.buffers,
                "macs": layer.info.macs,
                "receptive_field": tensor.receptive.map(|r| json!({ "field": r.field, "stride": r.stride })),
                "weights": weights,
                "range": range_json(source, layer.span),
            })
        })
        .collect();
    let totals = summary::totals(model);
    let sizes: Vec<Value> = model
        .accepted_sizes
        .iter()
        .map(|s| json!({ "symbol": s.symbol, "accepted": s.accepted, "exact": s.exact }))
        .collect();
    json!({
        "name": model.name,
        "inputs": inputs,
        "layers": layers,
        "totals": {
            "params": totals.params,
            "buffers": totals.buffers,
            "macs": totals.macs,
            "flops": totals.macs.map(|m| m.saturating_mul(2)),
            "activation_bytes": totals.activation_bytes,
            "input_bytes": totals.input_bytes,
            "receptive_field": totals.receptive.map(|(r, at)| json!({ "field": r.field, "stride": r.stride, "at": at })),
        },
        "accepted_sizes": sizes,
    })
}
