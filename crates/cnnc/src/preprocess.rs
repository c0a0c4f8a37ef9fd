//! Input preprocessing flags: `--scale`, `--mean`, `--std` and `--preset imagenet`.
//!
//! Images default to `--scale 1/255` (pixels to [0, 1], like torchvision's `ToTensor`);
//! arrays are used as they are unless a flag is given.

use crate::RunArgs;
use cnn_io::Normalize;

pub(crate) struct Preprocessing {
    /// For `.npy` inputs: only what the flags ask for.
    pub(crate) explicit: Option<Normalize>,
    /// For images: the flags, with the scale defaulting to 1/255.
    pub(crate) images: Normalize,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Preset {
    /// Scale to [0, 1], mean 0.485,0.456,0.406, std 0.229,0.224,0.225 (torchvision).
    Imagenet,
}

pub(crate) fn normalize(args: &RunArgs) -> Result<Preprocessing, String> {
    let scale = args.scale.as_deref().map(parse_scale).transpose()?;
    let base = match args.preset {
        Some(Preset::Imagenet) => Normalize::imagenet(),
        None => Normalize::default(),
    };
    let mean = if args.mean.is_empty() { base.mean.clone() } else { args.mean.clone() };
    let std = if args.std.is_empty() { base.std.clone() } else { args.std.clone() };
    if std.iter().any(|s| *s == 0.0 || !s.is_finite()) {
        return Err("--std values must be finite and not 0".to_string());
    }
    let asked = scale.is_some() || args.preset.is_some() || !args.mean.is_empty() || !args.std.is_empty();
    let explicit =
        asked.then(|| Normalize { scale: scale.unwrap_or(base.scale), mean: mean.clone(), std: std.clone() });
    let default_image_scale = if args.preset.is_some() { base.scale } else { 1.0 / 255.0 };
    let images = Normalize { scale: scale.unwrap_or(default_image_scale), mean, std };
    Ok(Preprocessing { explicit, images })
}

/// `0.5`, `1/255`.
fn parse_scale(text: &str) -> Result<f32, String> {
    let value = match text.split_once('/') {
        Some((a, b)) => {
            let a: f64 = a.trim().parse().map_err(|_| format!("--scale: `{a}` is not a number"))?;
            let b: f64 = b.trim().parse().map_err(|_| format!("--scale: `{b}` is not a number"))?;
            a / b
        }
        None => text.trim().parse().map_err(|_| format!("--scale: `{text}` is not a number (e.g. 1/255)"))?,
    };
    if value.is_finite() && value != 0.0 {
        Ok(value as f32)
    } else {
        Err(format!("--scale {text} is not a usable factor"))
    }
}
