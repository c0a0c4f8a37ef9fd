//! Weight files in the safetensors format, as PyTorch `state_dict`s are shared: every tensor
//! by key, with its dtype and shape, converted to f32 (f16 and bf16 are widened exactly).
//!
//! Integer tensors are kept as metadata only: a `state_dict` holds batch-norm's
//! `num_batches_tracked` (int64), which inference does not use.

use crate::{element_count, IoError};
use safetensors::{Dtype as StDtype, SafeTensors};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dtype {
    F32,
    F16,
    BF16,
    F64,
    /// Anything else (integers, bool, 8-bit floats), named as safetensors names it.
    Other(&'static str),
}

impl Dtype {
    pub fn name(self) -> &'static str {
        match self {
            Dtype::F32 => "F32",
            Dtype::F16 => "F16",
            Dtype::BF16 => "BF16",
            Dtype::F64 => "F64",
            Dtype::Other(name) => name,
        }
    }
}

/// One tensor of a weight file.
#[derive(Clone, Debug, PartialEq)]
pub struct WeightTensor {
    pub key: String,
    pub shape: Vec<usize>,
    pub dtype: Dtype,
    /// The values as f32; empty for non-float dtypes.
    pub values: Vec<f32>,
}

/// A parsed weight file, tensors in key order.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct WeightFile {
    pub tensors: Vec<WeightTensor>,
}

impl WeightFile {
    pub fn parse(bytes: &[u8]) -> Result<WeightFile, IoError> {
        let file = SafeTensors::deserialize(bytes)
            .map_err(|e| IoError::Malformed { format: "safetensors", detail: e.to_string() })?;
        let mut tensors = Vec::new();
        let mut names: Vec<String> = file.names().into_iter().map(|n| n.to_string()).collect();
        names.sort();
        for key in names {
            let view =
                file.tensor(&key).map_err(|e| IoError::Malformed { format: "safetensors", detail: e.to_string() })?;
            let shape = view.shape().to_vec();
            let count = element_count(&shape).ok_or_else(|| IoError::Malformed {
                format: "safetensors",
                detail: format!("the shape of `{key}` overflows"),
            })?;
            let data = view.data();
            let (dtype, values) = match view.dtype() {
                StDtype::F32 => {
                    (Dtype::F32, data.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
                }
                StDtype::F64 => (
                    Dtype::F64,
                    data.chunks_exact(8).map(|b| f64::from_le_bytes(b.try_into().unwrap_or([0; 8])) as f32).collect(),
                ),
                StDtype::F16 => {
                    (Dtype::F16, data.chunks_exact(2).map(|b| f16_to_f32(u16::from_le_bytes([b[0], b[1]]))).collect())
                }
                StDtype::BF16 => (
                    Dtype::BF16,
                    data.chunks_exact(2)
                        .map(|b| f32::from_bits(u32::from(u16::from_le_bytes([b[0], b[1]])) << 16))
                        .collect(),
                ),
                other => (Dtype::Other(other_name(other)), Vec::new()),
            };
            if matches!(dtype, Dtype::Other(_)) || values.len() == count {
                tensors.push(WeightTensor { key, shape, dtype, values });
            } else {
                return Err(IoError::Malformed {
                    format: "safetensors",
                    detail: format!("`{key}` declares {count} values but holds {}", values.len()),
                });
            }
        }
        Ok(WeightFile { tensors })
    }

    pub fn get(&self, key: &str) -> Option<&WeightTensor> {
        self.tensors.iter().find(|t| t.key == key)
    }
}

/// A safetensors file of f32 tensors `(key, shape, values)`, in the layout PyTorch's
/// `save_file` writes (keys sorted). Fails if a tensor's values do not match its shape.
pub fn write_safetensors(tensors: &[(String, Vec<usize>, Vec<f32>)]) -> Result<Vec<u8>, IoError> {
    let malformed = |detail: String| IoError::Malformed { format: "safetensors", detail };
    let bytes: Vec<(&str, &[usize], Vec<u8>)> = tensors
        .iter()
        .map(|(key, shape, values)| {
            (key.as_str(), shape.as_slice(), values.iter().flat_map(|v| v.to_le_bytes()).collect())
        })
        .collect();
    let mut views = Vec::with_capacity(bytes.len());
    for (key, shape, data) in &bytes {
        let view = safetensors::tensor::TensorView::new(StDtype::F32, shape.to_vec(), data)
            .map_err(|e| malformed(format!("`{key}`: {e}")))?;
        views.push((*key, view));
    }
    safetensors::serialize(views, None).map_err(|e| malformed(e.to_string()))
}

fn other_name(dtype: StDtype) -> &'static str {
    match dtype {
        StDtype::BOOL => "BOOL",
        StDtype::U8 => "U8",
        StDtype::I8 => "I8",
        StDtype::I16 => "I16",
        StDtype::U16 => "U16",
        StDtype::I32 => "I32",
        StDtype::U32 => "U32",
        StDtype::I64 => "I64",
        StDtype::U64 => "U64",
        _ => "an unsupported dtype",
    }
}

/// IEEE 754 half precision to single precision, exactly (subnormals, infinities and NaN kept).
fn f16_to_f32(bits: u16) -> f32 {
    let sign = u32::from(bits >> 15) << 31;
    let exponent = u32::from((bits >> 10) & 0x1f);
    let mantissa = u32::from(bits & 0x3ff);
    let value = match (exponent, mantissa) {
        (0, 0) => sign,
        (0, m) => {
            // Subnormal: value = m · 2^-24.
            let magnitude = m as f32 * (1.0 / 16_777_216.0);
            return if sign != 0 { -magnitude } else { magnitude };
        }
        (0x1f, m) => sign | 0x7f80_0000 | (m << 13),
        (e, m) => sign | ((e + 112) << 23) | (m << 13),
    };
    f32::from_bits(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_precision_values() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x7bff), 65504.0);
        assert_eq!(f16_to_f32(0x0001), 5.960_464_5e-8);
        assert!(f16_to_f32(0x7e00).is_nan());
        assert_eq!(f16_to_f32(0xfc00), f32::NEG_INFINITY);
    }

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        for bytes in [&b""[..], b"\xff\xff\xff\xff\xff\xff\xff\xff{}", b"\x02\x00\x00\x00\x00\x00\x00\x00{}"] {
            assert!(WeightFile::parse(bytes).is_err() || WeightFile::parse(bytes).is_ok_and(|w| w.tensors.is_empty()));
        }
    }
}
