//! NumPy `.npy` files (format versions 1–3): read f32, f64 and u8 arrays in C order, write f32.
//!
//! The header is a Python dict literal; only the three keys NumPy writes are read, with a small
//! parser that accepts exactly the forms NumPy produces.

use crate::{element_count, HostTensor, IoError};

const MAGIC: &[u8] = b"\x93NUMPY";

/// An array read from a `.npy` file, converted to f32, with the dtype it had.
#[derive(Clone, Debug, PartialEq)]
pub struct NpyArray {
    pub tensor: HostTensor,
    /// NumPy's `descr`, e.g. `<f4`, `|u1`.
    pub dtype: String,
}

fn malformed(detail: impl Into<String>) -> IoError {
    IoError::Malformed { format: ".npy", detail: detail.into() }
}

fn unsupported(detail: impl Into<String>) -> IoError {
    IoError::Unsupported { format: ".npy", detail: detail.into() }
}

pub fn read_npy(bytes: &[u8]) -> Result<NpyArray, IoError> {
    if !bytes.starts_with(MAGIC) {
        return Err(malformed("it does not start with the .npy magic bytes"));
    }
    let major = *bytes.get(6).ok_or_else(|| malformed("truncated before the version"))?;
    let (header_len, header_start) = match major {
        1 => (u16::from_le_bytes(get2(bytes, 8)?) as usize, 10usize),
        2 | 3 => (u32::from_le_bytes(get4(bytes, 8)?) as usize, 12),
        v => return Err(unsupported(format!("format version {v} (1 to 3 are known)"))),
    };
    let data_start = header_start.checked_add(header_len).ok_or_else(|| malformed("header length overflows"))?;
    let header = bytes.get(header_start..data_start).ok_or_else(|| malformed("truncated inside the header"))?;
    let header = std::str::from_utf8(header).map_err(|_| malformed("the header is not text"))?;
    let descr = dict_value(header, "descr").ok_or_else(|| malformed("the header has no 'descr'"))?;
    let descr = descr.trim_matches(|c| c == '\'' || c == '"').to_string();
    let fortran = dict_value(header, "fortran_order").ok_or_else(|| malformed("the header has no 'fortran_order'"))?;
    if fortran.trim() == "True" {
        return Err(unsupported("the array is in Fortran (column-major) order; save it with np.ascontiguousarray"));
    }
    let shape = parse_shape(dict_value(header, "shape").ok_or_else(|| malformed("the header has no 'shape'"))?)?;
    let count = element_count(&shape).ok_or_else(|| malformed(format!("the shape {shape:?} overflows")))?;
    let (itemsize, convert): (usize, fn(&[u8]) -> f32) = match descr.as_str() {
        "<f4" | "=f4" => (4, |b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        "<f8" | "=f8" => (8, |b| f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32),
        "|u1" | "<u1" | "=u1" => (1, |b| f32::from(b[0])),
        other => {
            return Err(unsupported(format!(
                "dtype '{other}'; cnnc reads float32 ('<f4'), float64 ('<f8') and uint8 ('|u1') in little-endian order"
            )))
        }
    };
    let data = &bytes[data_start..];
    let needed = count.checked_mul(itemsize).ok_or_else(|| malformed("the data size overflows"))?;
    if data.len() != needed {
        return Err(malformed(format!(
            "the shape {shape:?} of '{descr}' needs {needed} bytes of data, the file has {}",
            data.len()
        )));
    }
    let values = data.chunks_exact(itemsize).map(convert).collect();
    Ok(NpyArray { tensor: HostTensor::new(shape, values), dtype: descr })
}

fn get2(bytes: &[u8], at: usize) -> Result<[u8; 2], IoError> {
    bytes.get(at..at + 2).and_then(|b| b.try_into().ok()).ok_or_else(|| malformed("truncated header length"))
}

fn get4(bytes: &[u8], at: usize) -> Result<[u8; 4], IoError> {
    bytes.get(at..at + 4).and_then(|b| b.try_into().ok()).ok_or_else(|| malformed("truncated header length"))
}

/// The text after `'key':` up to the next top-level comma or closing brace.
fn dict_value<'h>(header: &'h str, key: &str) -> Option<&'h str> {
    let at = header.find(&format!("'{key}'")).or_else(|| header.find(&format!("\"{key}\"")))?;
    let rest = &header[at + key.len() + 2..];
    let rest = rest.trim_start().strip_prefix(':')?.trim_start();
    let mut depth = 0i32;
    for (i, ch) in rest.char_indices() {
        match ch {
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            ',' | '}' if depth == 0 => return Some(rest[..i].trim()),
            _ => {}
        }
    }
    None
}

fn parse_shape(text: &str) -> Result<Vec<usize>, IoError> {
    let inner = text
        .trim()
        .strip_prefix('(')
        .and_then(|t| t.strip_suffix(')'))
        .ok_or_else(|| malformed("'shape' is not a tuple"))?;
    inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.trim_end_matches('L').parse::<usize>().map_err(|_| malformed(format!("'{s}' in 'shape' is not a size")))
        })
        .collect()
}

/// A version-1 `.npy` file holding `tensor` as little-endian f32.
pub fn write_npy(tensor: &HostTensor) -> Vec<u8> {
    let dims: Vec<String> = tensor.shape.iter().map(usize::to_string).collect();
    let shape = match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}");
    // Pad with spaces so the data starts on a 64-byte boundary, ending in a newline.
    let unpadded = MAGIC.len() + 4 + header.len() + 1;
    header.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    header.push('\n');
    let mut out = Vec::with_capacity(MAGIC.len() + 4 + header.len() + 4 * tensor.data.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for value in &tensor.data {
        out.extend_from_slice(&value.to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_f32() {
        let tensor = HostTensor::new(vec![2, 3], vec![0.5, -1.0, 2.0, 3.25, 1e-7, -0.0]);
        let bytes = write_npy(&tensor);
        assert_eq!((bytes.len() - 6 * 4) % 64, 0, "data starts on a 64-byte boundary");
        let back = read_npy(&bytes).expect("own output reads back");
        assert_eq!(back.tensor, tensor);
        assert_eq!(back.dtype, "<f4");
    }

    #[test]
    fn refuses_lies_about_size() {
        let mut bytes = write_npy(&HostTensor::new(vec![2], vec![1.0, 2.0]));
        let text = String::from_utf8_lossy(&bytes).replace("(2,)", "(9,)");
        bytes = text.into_bytes();
        assert!(matches!(read_npy(&bytes), Err(IoError::Malformed { .. })));
        let huge = String::from_utf8_lossy(&write_npy(&HostTensor::new(vec![1], vec![1.0])))
            .replace("(1,)", "(99999999999999999999,)");
        assert!(read_npy(huge.as_bytes()).is_err());
    }
}
