//! Inputs for `cnnc run`: NumPy files (one per model input) or images (a batch for a model with
//! one image input), checked against the declared shape, which binds its symbols.
//!
//! A size that does not fit is an error naming the dimension and by how much. Images are read
//! chunk by chunk, so a folder of ten thousand runs in bounded memory.

use cnn_check::dim::Dim;
use cnn_io::{decode_image, read_npy, HostTensor, Normalize};
use std::path::{Path, PathBuf};

/// `.npy` files above this size are refused (4 GiB).
const MAX_NPY_BYTES: u64 = 4 << 30;
/// Image files above this size are refused.
const MAX_IMAGE_BYTES: u64 = 256 << 20;

const AXIS_NAMES: [&str; 4] = ["batch", "channels", "height", "width"];

/// What the user gave as inputs.
pub(crate) enum Inputs {
    /// One tensor per model input.
    Arrays(Vec<(PathBuf, HostTensor)>),
    /// Image files, in order, for the model's single input.
    Images(Vec<PathBuf>),
}

pub(crate) fn is_image(path: &Path) -> bool {
    let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    matches!(ext.as_deref(), Some("png" | "jpg" | "jpeg"))
}

/// Sort out the `--input` arguments: all `.npy`, or all images and folders of images.
pub(crate) fn collect(paths: &[PathBuf], normalize: &Option<Normalize>) -> Result<Inputs, String> {
    let mut images = Vec::new();
    let mut arrays = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|e| format!("cannot read the folder `{}`: {e}", path.display()))?
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .filter(|p| is_image(p))
                .collect();
            found.sort();
            if found.is_empty() {
                return Err(format!("the folder `{}` holds no .png, .jpg or .jpeg files", path.display()));
            }
            images.extend(found);
        } else if is_image(path) {
            images.push(path.clone());
        } else if path.extension().is_some_and(|e| e == "npy") {
            let bytes = crate::report::read_limited(path, MAX_NPY_BYTES, ".npy file")?;
            let array = read_npy(&bytes).map_err(|e| format!("`{}`: {e}", path.display()))?;
            let mut tensor = array.tensor;
            if let Some(normalize) = normalize {
                normalize.apply(&mut tensor).map_err(|e| format!("`{}`: {e}", path.display()))?;
            }
            arrays.push((path.clone(), tensor));
        } else {
            return Err(format!(
                "`{}`: inputs are .npy arrays or .png/.jpg images (or folders of images)",
                path.display()
            ));
        }
    }
    match (arrays.is_empty(), images.is_empty()) {
        (false, true) => Ok(Inputs::Arrays(arrays)),
        (true, false) => Ok(Inputs::Images(images)),
        _ => Err("give either .npy inputs or images, not both".to_string()),
    }
}

/// Bind the declared shape's symbols to an actual shape, or say which dimension does not fit.
pub(crate) fn bind_shape(
    declared: &[Dim],
    actual: &[usize],
    what: &str,
    bindings: &mut Vec<(String, u64)>,
) -> Result<(), String> {
    if declared.len() != actual.len() {
        return Err(format!(
            "{what} has {} dimensions {actual:?}, but the model declares {} ({})",
            actual.len(),
            declared.len(),
            show(declared)
        ));
    }
    for (axis, (dim, &size)) in declared.iter().zip(actual).enumerate() {
        let name = if declared.len() == 4 { AXIS_NAMES[axis] } else { ["batch", "features"][axis.min(1)] };
        match dim {
            Dim::Known(v) if *v != size as u64 => {
                let diff = size as i128 - *v as i128;
                let by = if diff > 0 { format!("{diff} too many") } else { format!("{} too few", -diff) };
                return Err(format!(
                    "{what}: dimension {axis} ({name}) is {size}, but the model declares {v} ({by}){}",
                    if axis >= 2 { "; for images, --resize scales them to the declared size" } else { "" }
                ));
            }
            Dim::Known(_) => {}
            Dim::Sym(_) => {
                let symbol = dim.to_string();
                match bindings.iter().find(|(s, _)| *s == symbol) {
                    Some((_, bound)) if *bound != size as u64 => {
                        return Err(format!(
                            "{what}: dimension {axis} ({name}) is {size}, but `{symbol}` is already {bound} from another input"
                        ))
                    }
                    Some(_) => {}
                    None => bindings.push((symbol, size as u64)),
                }
            }
        }
    }
    Ok(())
}

fn show(dims: &[Dim]) -> String {
    format!("[{}]", dims.iter().map(Dim::to_string).collect::<Vec<_>>().join(", "))
}

/// Load images as one `[n, C, H, W]` batch, converted to the declared channels, resized to
/// `size` if given (otherwise every image must already have the same size), normalised.
pub(crate) fn load_image_batch(
    paths: &[PathBuf],
    channels: usize,
    size: Option<[u32; 2]>,
    normalize: &Normalize,
) -> Result<HostTensor, String> {
    let mut batch: Option<HostTensor> = None;
    for path in paths {
        let bytes = crate::report::read_limited(path, MAX_IMAGE_BYTES, "image")?;
        let mut image = decode_image(&bytes, channels, size).map_err(|e| format!("`{}`: {e}", path.display()))?;
        normalize.apply(&mut image).map_err(|e| format!("`{}`: {e}", path.display()))?;
        match &mut batch {
            None => batch = Some(image),
            Some(b) => {
                if b.shape[1..] != image.shape[1..] {
                    return Err(format!(
                        "`{}` is {}×{} but earlier images are {}×{}; --resize HxW makes them one size",
                        path.display(),
                        image.shape[2],
                        image.shape[3],
                        b.shape[2],
                        b.shape[3]
                    ));
                }
                b.shape[0] += 1;
                b.data.extend_from_slice(&image.data);
            }
        }
    }
    batch.ok_or_else(|| "no images".to_string())
}

/// The size of the first image, `[height, width]`.
pub(crate) fn first_image_size(path: &Path, channels: usize) -> Result<[usize; 2], String> {
    let bytes = crate::report::read_limited(path, MAX_IMAGE_BYTES, "image")?;
    let image = decode_image(&bytes, channels, None).map_err(|e| format!("`{}`: {e}", path.display()))?;
    Ok([image.shape[2], image.shape[3]])
}
