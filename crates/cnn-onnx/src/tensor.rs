//! Constant tensors: ONNX `TensorProto`s decoded to f32 or integer values, and back.
//!
//! Assumes nothing about the file: every declared dimension is checked (non-negative, product
//! without overflow, at most [`MAX_CONST_ELEMENTS`]) and compared with the data actually present
//! before anything is allocated. Integer values may be symbolic (a batch size `N` read by a
//! `Shape` node), so that shape arithmetic can be folded without knowing the batch.

use crate::proto::{tensor_proto::DataType, TensorProto};

/// The largest constant cnnc builds (2^28 values, 1 GiB of f32): larger ones are refused.
pub(crate) const MAX_CONST_ELEMENTS: usize = 1 << 28;

/// An integer that may be a named symbolic size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Int {
    Known(i64),
    Sym(String),
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Data {
    Float(Vec<f32>),
    Int(Vec<Int>),
}

/// A constant tensor, C order.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Const {
    pub dims: Vec<usize>,
    pub data: Data,
}

impl Const {
    pub(crate) fn ints(values: Vec<Int>) -> Const {
        Const { dims: vec![values.len()], data: Data::Int(values) }
    }

    pub(crate) fn len(&self) -> usize {
        match &self.data {
            Data::Float(v) => v.len(),
            Data::Int(v) => v.len(),
        }
    }

    /// The values as f32 (integers converted; symbolic ones are an error).
    pub(crate) fn floats(&self) -> Result<Vec<f32>, String> {
        match &self.data {
            Data::Float(v) => Ok(v.clone()),
            Data::Int(v) => v
                .iter()
                .map(|i| match i {
                    Int::Known(k) => Ok(*k as f32),
                    Int::Sym(s) => Err(format!("the value depends on the symbolic size `{s}`")),
                })
                .collect(),
        }
    }

    /// The values as integers (floats must be whole).
    pub(crate) fn int_values(&self) -> Result<Vec<Int>, String> {
        match &self.data {
            Data::Int(v) => Ok(v.clone()),
            Data::Float(v) => v
                .iter()
                .map(|f| {
                    if f.fract() == 0.0 && f.abs() < 9.0e15 {
                        Ok(Int::Known(*f as i64))
                    } else {
                        Err(format!("{f} is not an integer"))
                    }
                })
                .collect(),
        }
    }

    /// The values as known integers.
    pub(crate) fn known_ints(&self) -> Result<Vec<i64>, String> {
        self.int_values()?
            .into_iter()
            .map(|i| match i {
                Int::Known(k) => Ok(k),
                Int::Sym(s) => Err(format!("the value depends on the symbolic size `{s}`")),
            })
            .collect()
    }

    /// The single value of a one-element tensor, as f32.
    pub(crate) fn scalar(&self) -> Result<f32, String> {
        match self.floats()?.as_slice() {
            [v] => Ok(*v),
            other => Err(format!("expected one value, found {}", other.len())),
        }
    }
}

/// Product of dimensions, checked against overflow and the size limit.
pub(crate) fn element_count(dims: &[usize]) -> Result<usize, String> {
    let count = dims
        .iter()
        .try_fold(1usize, |acc, d| acc.checked_mul(*d))
        .ok_or_else(|| format!("the dimensions {dims:?} overflow"))?;
    if count > MAX_CONST_ELEMENTS {
        return Err(format!("{count} elements ({dims:?}) is more than cnnc accepts ({MAX_CONST_ELEMENTS})"));
    }
    Ok(count)
}

/// Decode a `TensorProto` (an initialiser or a `Constant`'s value).
pub(crate) fn decode(tensor: &TensorProto) -> Result<Const, String> {
    let name = tensor.name.as_deref().unwrap_or("");
    let what = |detail: String| format!("tensor `{name}`: {detail}");
    if tensor.data_location == Some(1) || !tensor.external_data.is_empty() {
        return Err(what("its data is stored in an external file, which cnnc does not read".into()));
    }
    let dims: Vec<usize> = tensor
        .dims
        .iter()
        .map(|d| usize::try_from(*d).map_err(|_| what(format!("dimension {d} is negative"))))
        .collect::<Result<_, _>>()?;
    let count = element_count(&dims).map_err(what)?;
    let raw = tensor.raw_data.as_deref().filter(|r| !r.is_empty());
    let data_type = tensor.data_type.unwrap_or(0);
    let data = match DataType::try_from(data_type).unwrap_or(DataType::Undefined) {
        DataType::Float => Data::Float(match raw {
            Some(raw) => fixed::<4, _>(raw, count, f32::from_le_bytes).map_err(what)?,
            None => exact(tensor.float_data.clone(), count).map_err(what)?,
        }),
        DataType::Double => Data::Float(match raw {
            Some(raw) => fixed::<8, _>(raw, count, |b| f64::from_le_bytes(b) as f32).map_err(what)?,
            None => exact(tensor.double_data.iter().map(|v| *v as f32).collect(), count).map_err(what)?,
        }),
        DataType::Float16 => Data::Float(match raw {
            Some(raw) => fixed::<2, _>(raw, count, |b| f16_to_f32(u16::from_le_bytes(b))).map_err(what)?,
            None => exact(tensor.int32_data.iter().map(|v| f16_to_f32(*v as u16)).collect(), count).map_err(what)?,
        }),
        DataType::Int64 => Data::Int(match raw {
            Some(raw) => fixed::<8, _>(raw, count, |b| Int::Known(i64::from_le_bytes(b))).map_err(what)?,
            None => exact(tensor.int64_data.iter().map(|v| Int::Known(*v)).collect(), count).map_err(what)?,
        }),
        DataType::Int32 => Data::Int(match raw {
            Some(raw) => fixed::<4, _>(raw, count, |b| Int::Known(i64::from(i32::from_le_bytes(b)))).map_err(what)?,
            None => {
                exact(tensor.int32_data.iter().map(|v| Int::Known(i64::from(*v))).collect(), count).map_err(what)?
            }
        }),
        DataType::Int8 | DataType::Uint8 | DataType::Bool => {
            let signed = DataType::try_from(data_type) == Ok(DataType::Int8);
            Data::Int(match raw {
                Some(raw) => fixed::<1, _>(raw, count, |b| {
                    Int::Known(if signed { i64::from(b[0] as i8) } else { i64::from(b[0]) })
                })
                .map_err(what)?,
                None => {
                    exact(tensor.int32_data.iter().map(|v| Int::Known(i64::from(*v))).collect(), count).map_err(what)?
                }
            })
        }
        other => return Err(what(format!("data type {} is not supported", other.as_str_name()))),
    };
    Ok(Const { dims, data })
}

/// Values of a fixed byte width from `raw_data`, whose length must match the dimensions.
fn fixed<const W: usize, T>(raw: &[u8], count: usize, convert: impl Fn([u8; W]) -> T) -> Result<Vec<T>, String> {
    if raw.len() != count.saturating_mul(W) {
        return Err(format!("{count} values of {W} bytes declared, {} bytes present", raw.len()));
    }
    Ok(raw.chunks_exact(W).map(|c| convert(c.try_into().unwrap_or([0; W]))).collect())
}

fn exact<T>(values: Vec<T>, count: usize) -> Result<Vec<T>, String> {
    if values.len() != count {
        return Err(format!("{count} values declared, {} present", values.len()));
    }
    Ok(values)
}

/// An f32 initialiser with raw little-endian data, as the exporter writes them.
pub(crate) fn float_tensor(name: &str, dims: &[usize], values: &[f32]) -> TensorProto {
    TensorProto {
        name: Some(name.to_string()),
        dims: dims.iter().map(|d| *d as i64).collect(),
        data_type: Some(DataType::Float as i32),
        raw_data: Some(values.iter().flat_map(|v| v.to_le_bytes()).collect()),
        ..TensorProto::default()
    }
}

/// IEEE 754 half precision to single precision, exactly.
fn f16_to_f32(bits: u16) -> f32 {
    let sign = if bits >> 15 == 1 { -1.0 } else { 1.0 };
    let exponent = i32::from((bits >> 10) & 0x1f);
    let mantissa = f32::from(bits & 0x3ff);
    match exponent {
        0 => sign * mantissa * 2f32.powi(-24),
        0x1f if mantissa == 0.0 => sign * f32::INFINITY,
        0x1f => f32::NAN,
        e => sign * (1.0 + mantissa / 1024.0) * 2f32.powi(e - 15),
    }
}
