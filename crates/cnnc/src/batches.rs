//! Running a model over many images: the declared shape decides the image size and chunk
//! size, and images are loaded, run and dropped one chunk at a time (bounded memory), with a
//! progress line on a terminal.

use crate::inputs;
use crate::run_cmd::{bound_graph, declared_inputs, show_progress, weights_for, RunFailure};
use crate::RunArgs;
use cnn_check::dim::Dim;
use cnn_check::CheckedModel;
use cnn_diag::SourceFile;
use cnn_io::{HostTensor, Normalize, WeightFile};
use std::path::PathBuf;

pub(crate) struct ImageRun<'a> {
    pub(crate) args: &'a RunArgs,
    pub(crate) source: &'a SourceFile,
    pub(crate) model: &'a CheckedModel,
    pub(crate) normalize: &'a Normalize,
    pub(crate) color: bool,
}

impl ImageRun<'_> {
    /// Outputs for all images, concatenated along the batch.
    pub(crate) fn run(
        &self,
        paths: &[PathBuf],
        weights: Option<&WeightFile>,
        pool: &rayon::ThreadPool,
    ) -> Result<Vec<HostTensor>, RunFailure> {
        let declared = declared_inputs(self.model);
        let [shape] = declared.as_slice() else {
            return Err(RunFailure::Usage(format!(
                "images feed a model with one input; `{}` has {}",
                self.model.name,
                declared.len()
            )));
        };
        if shape.len() != 4 {
            return Err(RunFailure::Usage(format!(
                "images need a [N, C, H, W] input; the model declares {} dimensions",
                shape.len()
            )));
        }
        let channels = match shape[1] {
            Dim::Known(c @ (1 | 3)) => c as usize,
            ref other => {
                return Err(RunFailure::Usage(format!("images have 1 or 3 channels; the model declares {other}")))
            }
        };
        let size = self.image_size(shape, &paths[0], channels)?;
        let chunk = match shape[0] {
            Dim::Known(n) => n as usize,
            Dim::Sym(_) => self.args.batch_size.max(1),
        };
        if !paths.len().is_multiple_of(chunk) && shape[0].known().is_some() {
            return Err(RunFailure::Usage(format!(
                "the model takes batches of exactly {chunk}; {} images leave {} over",
                paths.len(),
                paths.len() % chunk
            )));
        }
        let mut bindings = self.args.dim.clone();
        let example = [chunk, channels, size[0] as usize, size[1] as usize];
        inputs::bind_shape(shape, &example, "the images", &mut bindings)?;
        let graph = bound_graph(self.source, &bindings, self.args.model_name.as_deref(), self.color)?;
        let weights = weights_for(&graph, weights, self.source, self.model, self.args.seed, self.color)?;
        let resize = self.args.resize.is_some().then_some(size);
        let progress = show_progress(paths.len(), chunk);
        let mut outputs: Vec<HostTensor> = Vec::new();
        for (done, group) in paths.chunks(chunk).enumerate() {
            let batch = inputs::load_image_batch(group, channels, resize, self.normalize)?;
            let graph = if group.len() == chunk { graph.clone() } else { graph.with_batch(group.len()) };
            let result = pool
                .install(|| crate::engine::execute(&graph, &weights, &[batch], self.args.engine()))
                .map_err(RunFailure::Usage)?;
            append(&mut outputs, result);
            if progress {
                eprint!("\r  {}/{} images", (done * chunk + group.len()).min(paths.len()), paths.len());
            }
        }
        if progress {
            eprintln!();
        }
        Ok(outputs)
    }

    /// `[H, W]` the images are used at: the declared size (resized to it with `--resize`, or
    /// required), `--resize HxW`, or the first image's size for symbolic dimensions.
    fn image_size(&self, shape: &[Dim], first: &std::path::Path, channels: usize) -> Result<[u32; 2], RunFailure> {
        let declared = [shape[2].known(), shape[3].known()];
        let explicit = match self.args.resize.as_deref() {
            Some(text) if !text.is_empty() && text != "model" => Some(parse_size(text)?),
            _ => None,
        };
        if let Some(size) = explicit {
            return Ok(size);
        }
        match declared {
            [Some(h), Some(w)] if self.args.resize.is_some() => Ok([h as u32, w as u32]),
            _ => {
                let actual = inputs::first_image_size(first, channels)?;
                Ok([actual[0] as u32, actual[1] as u32])
            }
        }
    }
}

fn parse_size(text: &str) -> Result<[u32; 2], RunFailure> {
    let (h, w) = text.split_once(['x', '×']).unwrap_or((text, text));
    let parse = |v: &str| v.trim().parse::<u32>().ok().filter(|v| (1..=65_536).contains(v));
    match (parse(h), parse(w)) {
        (Some(h), Some(w)) => Ok([h, w]),
        _ => Err(RunFailure::Usage(format!("--resize {text}: expected HxW such as 224x224"))),
    }
}

/// Append a chunk's outputs along the batch dimension.
fn append(outputs: &mut Vec<HostTensor>, chunk: Vec<HostTensor>) {
    if outputs.is_empty() {
        *outputs = chunk;
        return;
    }
    for (all, part) in outputs.iter_mut().zip(chunk) {
        all.shape[0] += part.shape[0];
        all.data.extend_from_slice(&part.data);
    }
}
