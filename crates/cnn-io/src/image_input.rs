//! Images as network inputs: PNG or JPEG decoded to grayscale or RGB to match the declared
//! channels, optionally resized, as `[1, C, H, W]` f32 of the raw 0–255 values; [`Normalize`]
//! then applies `(x·scale − mean)/std` per channel.

use crate::{HostTensor, IoError};
use image::imageops::FilterType;

/// Decode an image to `[1, channels, H, W]` (channels 1 or 3), resized to `size` if given.
pub fn decode_image(bytes: &[u8], channels: usize, size: Option<[u32; 2]>) -> Result<HostTensor, IoError> {
    let image = image::load_from_memory(bytes).map_err(|e| match e {
        image::ImageError::Unsupported(u) => IoError::Unsupported { format: "image", detail: u.to_string() },
        other => IoError::Malformed { format: "image", detail: other.to_string() },
    })?;
    let image = match size {
        Some([h, w]) if (image.height(), image.width()) != (h, w) => image.resize_exact(w, h, FilterType::Triangle),
        _ => image,
    };
    let (width, height) = (image.width() as usize, image.height() as usize);
    let data: Vec<f32> = match channels {
        1 => image.to_luma8().into_raw().into_iter().map(f32::from).collect(),
        3 => {
            let rgb = image.to_rgb8().into_raw();
            let plane = width * height;
            let mut chw = vec![0.0; 3 * plane];
            for (i, px) in rgb.chunks_exact(3).enumerate() {
                for c in 0..3 {
                    chw[c * plane + i] = f32::from(px[c]);
                }
            }
            chw
        }
        other => {
            return Err(IoError::Unsupported {
                format: "image",
                detail: format!("the model takes {other} channels; images give 1 (grayscale) or 3 (RGB)"),
            })
        }
    };
    Ok(HostTensor::new(vec![1, channels, height, width], data))
}

/// `(x·scale − mean[c]) / std[c]` per channel (one value applies to every channel).
#[derive(Clone, Debug, PartialEq)]
pub struct Normalize {
    pub scale: f32,
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
}

impl Default for Normalize {
    fn default() -> Normalize {
        Normalize { scale: 1.0, mean: vec![0.0], std: vec![1.0] }
    }
}

impl Normalize {
    /// torchvision's ImageNet preprocessing: scale to [0, 1], then these means and deviations.
    pub fn imagenet() -> Normalize {
        Normalize { scale: 1.0 / 255.0, mean: vec![0.485, 0.456, 0.406], std: vec![0.229, 0.224, 0.225] }
    }

    /// Apply to an NCHW (or NC) tensor in place. Fails if the per-channel lists do not fit.
    pub fn apply(&self, tensor: &mut HostTensor) -> Result<(), String> {
        let channels = tensor.shape.get(1).copied().unwrap_or(1);
        for (what, list) in [("mean", &self.mean), ("std", &self.std)] {
            if list.len() != 1 && list.len() != channels {
                return Err(format!("--{what} has {} values but the input has {channels} channels", list.len()));
            }
        }
        if self.std.contains(&0.0) {
            return Err("--std must not be 0".to_string());
        }
        let plane: usize = tensor.shape.iter().skip(2).product();
        for (i, value) in tensor.data.iter_mut().enumerate() {
            let c = (i / plane.max(1)) % channels;
            let mean = self.mean[if self.mean.len() == 1 { 0 } else { c }];
            let std = self.std[if self.std.len() == 1 { 0 } else { c }];
            *value = (*value * self.scale - mean) / std;
        }
        Ok(())
    }
}
