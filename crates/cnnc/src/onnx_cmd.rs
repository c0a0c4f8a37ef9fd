//! `cnnc import` (ONNX → `.cnn` + safetensors) and `cnnc export` (`.cnn` → ONNX): file
//! handling around `cnn_onnx`, which does the translation.
//!
//! Exit codes: 0 success; 1 the model cannot be translated (unsupported ONNX nodes, every one
//! listed; a `.cnn` model with errors or a layer ONNX cannot express); 2 a file cannot be read,
//! written or is malformed (not ONNX, truncated, inconsistent), or the command line is wrong.

use crate::report::{read_limited, read_source};
use crate::run_cmd::{bound_graph, checked_model, weights_for, RunFailure};
use cnn_check::dim::Dim;
use cnn_check::CheckOptions;
use cnn_onnx::{ExportOptions, ImportError};
use std::path::{Path, PathBuf};

/// ONNX files above this size are refused (ResNet-50 is about 100 MiB).
const MAX_ONNX_BYTES: u64 = 2 << 30;

pub(crate) fn import(model: &Path, output: Option<&Path>, weights_out: Option<&Path>) -> u8 {
    let bytes = match read_limited(model, MAX_ONNX_BYTES, "ONNX model") {
        Ok(bytes) => bytes,
        Err(message) => return fail(2, &message),
    };
    // The model is named after the file written, or else the file read.
    let stem = output.unwrap_or(model).file_stem().and_then(|s| s.to_str()).unwrap_or("imported");
    let imported = match cnn_onnx::import(&bytes, stem) {
        Ok(imported) => imported,
        Err(error @ ImportError::Malformed(_)) => return fail(2, &format!("`{}`: {error}", model.display())),
        Err(error) => return fail(1, &format!("`{}`: {error}", model.display())),
    };
    let cnn_path = output.map_or_else(|| model.with_extension("cnn"), Path::to_path_buf);
    let weights_path = weights_out.map_or_else(|| cnn_path.with_extension("safetensors"), Path::to_path_buf);
    let tensors: Vec<(String, Vec<usize>, Vec<f32>)> =
        imported.weights.into_iter().map(|w| (w.key, w.shape, w.values)).collect();
    let safetensors = match cnn_io::write_safetensors(&tensors) {
        Ok(bytes) => bytes,
        Err(error) => return fail(2, &format!("cannot write the weights: {error}")),
    };
    if let Err(message) = write(&cnn_path, imported.text.as_bytes()).and_then(|()| write(&weights_path, &safetensors)) {
        return fail(2, &message);
    }
    eprintln!("wrote `{}` and `{}` ({} weight tensors)", cnn_path.display(), weights_path.display(), tensors.len());
    0
}

pub(crate) struct ExportArgs<'a> {
    pub model: &'a Path,
    pub onnx: &'a Path,
    pub weights: Option<&'a PathBuf>,
    pub model_name: Option<&'a str>,
    pub dim: &'a [(String, u64)],
    pub seed: u64,
    pub color: bool,
}

pub(crate) fn export(args: &ExportArgs<'_>) -> u8 {
    match export_inner(args) {
        Ok(()) => 0,
        Err(RunFailure::Model) => 1,
        Err(RunFailure::Usage(message)) => fail(2, &message),
    }
}

fn export_inner(args: &ExportArgs<'_>) -> Result<(), RunFailure> {
    let source = read_source(args.model)?;
    let options = CheckOptions { bindings: args.dim.to_vec(), verify_fixes: true, ..CheckOptions::default() };
    let model = checked_model(&source, &options, args.model_name, args.color)?;
    // The batch stays symbolic (an ONNX dim_param); every other symbol needs a value.
    let mut bindings = args.dim.to_vec();
    let mut batch_symbol = None;
    let mut unbound = Vec::new();
    for &input in &model.inputs {
        for (axis, dim) in model.tensors[input].shape.iter().flatten().enumerate() {
            if let Dim::Sym(_) = dim {
                let symbol = dim.to_string();
                if axis == 0 && batch_symbol.as_ref().is_none_or(|b| *b == symbol) {
                    batch_symbol = Some(symbol.clone());
                    if !bindings.iter().any(|(s, _)| *s == symbol) {
                        bindings.push((symbol, 1));
                    }
                } else if !bindings.iter().any(|(s, _)| *s == symbol) && !unbound.contains(&symbol) {
                    unbound.push(symbol);
                }
            }
        }
    }
    if let Some(batch) = &batch_symbol {
        if unbound.contains(batch) || args.dim.iter().any(|(s, _)| s == batch) {
            batch_symbol = None;
        }
    }
    if !unbound.is_empty() {
        return Err(RunFailure::Usage(format!(
            "ONNX needs concrete sizes for {}: give them with --dim (e.g. --dim {}=224); only the batch stays symbolic",
            unbound.join(", "),
            unbound[0]
        )));
    }
    let graph = bound_graph(&source, &bindings, args.model_name, args.color)?;
    let weights_file = args.weights.map(|p| crate::weights::read_weight_file(p)).transpose()?;
    let weights = weights_for(&graph, weights_file.as_ref(), &source, &model, args.seed, args.color)?;
    let bytes = cnn_onnx::export(&graph, &weights.values, &ExportOptions { batch_symbol }).map_err(|e| {
        eprintln!("error: {e}");
        RunFailure::Model
    })?;
    write(args.onnx, &bytes)?;
    eprintln!("wrote `{}` ({} nodes, {} initialisers)", args.onnx.display(), graph.nodes.len(), graph.params.len());
    Ok(())
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    std::fs::write(path, bytes).map_err(|e| format!("cannot write `{}`: {e}", path.display()))
}

fn fail(code: u8, message: &str) -> u8 {
    eprintln!("error: {message}");
    code
}
