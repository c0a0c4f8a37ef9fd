//! Tensor file formats: NumPy `.npy` (read and write) and `.npz` (write), safetensors weight
//! files (read and write), and PNG/JPEG images, all to and from plain f32 [`HostTensor`]s.
//!
//! Everything here parses bytes the caller has read; nothing opens files. Every size that a
//! file declares is checked against the bytes actually present before anything is allocated,
//! so a header claiming a huge tensor is an error, not an allocation.

mod image_input;
mod npy;
mod npz;
mod weights;

pub use image_input::{decode_image, Normalize};
pub use npy::{read_npy, write_npy, NpyArray};
pub use npz::write_npz;
pub use weights::{write_safetensors, Dtype, WeightFile, WeightTensor};

use std::fmt;

/// A dense f32 tensor in C order.
#[derive(Clone, Debug, PartialEq)]
pub struct HostTensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

impl HostTensor {
    pub fn new(shape: Vec<usize>, data: Vec<f32>) -> HostTensor {
        debug_assert_eq!(shape.iter().product::<usize>(), data.len());
        HostTensor { shape, data }
    }
}

/// What went wrong reading or writing a file's contents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IoError {
    /// The bytes are not a file of this format; says what was wrong and where.
    Malformed { format: &'static str, detail: String },
    /// A valid file, but of a kind cnnc does not take (a dtype, an order, an image colour).
    Unsupported { format: &'static str, detail: String },
}

impl fmt::Display for IoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IoError::Malformed { format, detail } => write!(f, "not a valid {format} file: {detail}"),
            IoError::Unsupported { format, detail } => write!(f, "unsupported {format} file: {detail}"),
        }
    }
}

impl std::error::Error for IoError {}

/// Product of dimensions with overflow checked.
fn element_count(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |acc, d| acc.checked_mul(*d))
}
