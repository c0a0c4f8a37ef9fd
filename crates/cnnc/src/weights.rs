//! Weights files on the command line: reading a safetensors file, and the preflight of a
//! checked model against it (`cnnc check --weights`), which needs no input sizes.

use cnn_check::CheckedModel;
use cnn_diag::Diagnostic;
use cnn_io::WeightFile;
use std::path::Path;

/// Weight files above this size are refused (ResNet-50 in f32 is about 100 MiB).
const MAX_WEIGHTS_BYTES: u64 = 4 << 30;

pub(crate) fn read_weight_file(path: &Path) -> Result<WeightFile, String> {
    let bytes = crate::report::read_limited(path, MAX_WEIGHTS_BYTES, "weights file")?;
    WeightFile::parse(&bytes).map_err(|e| format!("`{}`: {e}", path.display()))
}

pub(crate) fn preflight_model(model: &CheckedModel, file: &WeightFile) -> Vec<Diagnostic> {
    let expected = cnn_check::expected_params(model);
    cnn_runtime::preflight_expected(&expected, (&model.name, model.name_span), file, &model.allow)
}
