//! `cnnc run`: check the model, bind its symbolic sizes from the inputs, check again with those
//! sizes, load or initialise the weights, run, and print or save the outputs.

use crate::inputs::{self, Inputs};
use crate::report::{print_diagnostics, read_source};
use crate::RunArgs;
use cnn_check::dim::Dim;
use cnn_check::{check_source, CheckOptions, CheckedModel};
use cnn_diag::SourceFile;
use cnn_io::HostTensor;
use cnn_ir::Graph;
use cnn_runtime::Weights;
use std::io::IsTerminal;

/// Exit codes: 1 for errors in the model (or its fit with the weights), 2 for unreadable or
/// malformed files and bad flags.
pub(crate) fn run(args: &RunArgs) -> u8 {
    match run_inner(args) {
        Ok(()) => 0,
        Err(RunFailure::Model) => 1,
        Err(RunFailure::Usage(message)) => {
            eprintln!("error: {message}");
            2
        }
    }
}

pub(crate) enum RunFailure {
    /// Diagnostics have been printed.
    Model,
    Usage(String),
}

impl From<String> for RunFailure {
    fn from(message: String) -> RunFailure {
        RunFailure::Usage(message)
    }
}

fn run_inner(args: &RunArgs) -> Result<(), RunFailure> {
    let color = args.color.enabled();
    let source = read_source(&args.model)?;
    let options = CheckOptions { bindings: args.dim.clone(), verify_fixes: true, ..CheckOptions::default() };
    let model = checked_model(&source, &options, args.model_name.as_deref(), color)?;
    let normalize = crate::preprocess::normalize(args)?;
    let inputs = inputs::collect(&args.input, &normalize.explicit)?;
    let weights_file = args.weights.as_deref().map(crate::weights::read_weight_file).transpose()?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads.unwrap_or(0))
        .build()
        .map_err(|e| format!("cannot start {} threads: {e}", args.threads.unwrap_or(0)))?;
    let (outputs, names) = match inputs {
        Inputs::Arrays(arrays) => {
            let mut bindings = args.dim.clone();
            let declared = declared_inputs(&model);
            if arrays.len() != declared.len() {
                return Err(RunFailure::Usage(format!(
                    "`{}` takes {} input{}, {} given",
                    model.name,
                    declared.len(),
                    if declared.len() == 1 { "" } else { "s" },
                    arrays.len()
                )));
            }
            for ((path, tensor), shape) in arrays.iter().zip(&declared) {
                inputs::bind_shape(shape, &tensor.shape, &format!("`{}`", path.display()), &mut bindings)?;
            }
            let graph = bound_graph(&source, &bindings, args.model_name.as_deref(), color)?;
            let weights = weights_for(&graph, weights_file.as_ref(), &source, &model, args.seed, color)?;
            let tensors: Vec<HostTensor> = arrays.into_iter().map(|(_, t)| t).collect();
            let outputs = pool.install(|| crate::engine::execute(&graph, &weights, &tensors, args.engine()))?;
            let names: Vec<String> =
                (0..outputs.first().map_or(0, |o| o.shape[0])).map(|i| format!("sample {i}")).collect();
            (outputs, names)
        }
        Inputs::Images(paths) => {
            let images =
                crate::batches::ImageRun { args, source: &source, model: &model, normalize: &normalize.images, color };
            let outputs = images.run(&paths, weights_file.as_ref(), &pool)?;
            (outputs, paths.iter().map(|p| p.display().to_string()).collect())
        }
    };
    crate::outputs::report(args, &model, &outputs, &names)?;
    Ok(())
}

/// Check the file and pick the model; print diagnostics; fail on errors.
pub(crate) fn checked_model(
    source: &SourceFile,
    options: &CheckOptions,
    name: Option<&str>,
    color: bool,
) -> Result<CheckedModel, RunFailure> {
    let result = check_source(source, options);
    print_diagnostics(source, &result.diagnostics, color);
    if result.has_errors() {
        return Err(RunFailure::Model);
    }
    let available: Vec<&str> = result.models.iter().map(|m| m.name.as_str()).collect();
    let chosen = match name {
        Some(name) => result.models.iter().find(|m| m.name == name),
        None => result.models.first(),
    };
    chosen.cloned().ok_or_else(|| match name {
        Some(name) => {
            RunFailure::Usage(format!("no model `{name}` in `{}`; it has {}", source.name(), available.join(", ")))
        }
        None => RunFailure::Usage(format!("`{}` has no model", source.name())),
    })
}

pub(crate) fn declared_inputs(model: &CheckedModel) -> Vec<Vec<Dim>> {
    model.inputs.iter().map(|t| model.tensors[*t].shape.clone().unwrap_or_default()).collect()
}

/// Check again with the input sizes bound, so an input that breaks a layer gets the same
/// diagnostics as `cnnc check`, then lower to the IR.
pub(crate) fn bound_graph(
    source: &SourceFile,
    bindings: &[(String, u64)],
    name: Option<&str>,
    color: bool,
) -> Result<Graph, RunFailure> {
    let options = CheckOptions { bindings: bindings.to_vec(), verify_fixes: true, ..CheckOptions::default() };
    let result = check_source(source, &options);
    let errors: Vec<_> = result.diagnostics.iter().filter(|d| d.is_error()).cloned().collect();
    if !errors.is_empty() {
        let shown: Vec<String> = bindings.iter().map(|(s, v)| format!("{s}={v}")).collect();
        eprintln!("with the input's sizes ({}):", shown.join(", "));
        print_diagnostics(source, &errors, color);
        return Err(RunFailure::Model);
    }
    let model = match name {
        Some(name) => result.models.iter().find(|m| m.name == name),
        None => result.models.first(),
    }
    .ok_or_else(|| RunFailure::Usage("the model disappeared on re-check".into()))?;
    let graph = cnn_check::lower(model).map_err(|e| RunFailure::Usage(format!("cannot run `{}`: {e}", model.name)))?;
    graph.verify().map_err(|e| RunFailure::Usage(format!("internal error, please report: {e}")))?;
    Ok(graph)
}

/// Weights from the file (after the preflight) or PyTorch's default initialisation.
pub(crate) fn weights_for(
    graph: &Graph,
    file: Option<&cnn_io::WeightFile>,
    source: &SourceFile,
    model: &CheckedModel,
    seed: u64,
    color: bool,
) -> Result<Weights, RunFailure> {
    match file {
        Some(file) => {
            let diagnostics = cnn_runtime::preflight(graph, file, &model.allow);
            if print_diagnostics(source, &diagnostics, color) > 0 {
                return Err(RunFailure::Model);
            }
            Weights::from_file(graph, file).map_err(|_| RunFailure::Model)
        }
        None => {
            if !graph.params.is_empty() {
                eprintln!(
                    "note: no --weights given: weights drawn from PyTorch's default initialisation (seed {seed}); outputs are not meaningful"
                );
            }
            Ok(Weights::init(graph, seed))
        }
    }
}

/// Whether to show progress: many images, and a terminal to show it on.
pub(crate) fn show_progress(total: usize, chunk: usize) -> bool {
    total > chunk && std::io::stderr().is_terminal()
}
