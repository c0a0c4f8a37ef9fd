//! ONNX tests: export then import of every example, imports of the benchmark suite's ONNX
//! models against ONNX Runtime's outputs, and import errors from `tests/fixtures/onnx/`.
//!
//! - Round trip: every `examples/*.cnn` and `examples/bench/*.cnn`, exported with the seeded
//!   default weights and imported again, must lower to the same computation node for node
//!   (ops, data flow, per-layer shapes, parameters bitwise), and the models up to 1 GMAC must
//!   run (reference backend, batch 1) to bitwise the same outputs.
//! - The suite: `tests/fixtures/bench/*/model.onnx` (and `target/bench-suite/{resnet18_b1,
//!   mobilenet_block_b1}` when `tools/bench_fixtures.sh` has made them) imported and run must
//!   give ONNX Runtime's `expected.npy` within `max|y − e| ≤ 1e-4 · max(1, max|e|)`.
//! - Robustness: every prefix and thousands of one-byte mutations of two small models import
//!   without panicking.
//! - Errors: each `tests/fixtures/onnx/*.onnx` (made by `make_fixtures.py` there) has a
//!   `.expected` file: `malformed`, or `unsupported` and one `name (OpType)` line per node the
//!   error must list, in order.

use cnn_check::{check_source, CheckOptions};
use cnn_diag::SourceFile;
use cnn_io::HostTensor;
use cnn_ir::Graph;
use cnn_onnx::{ExportOptions, ImportError, Imported};
use cnn_runtime::{reference, Weights};
use cnnc_tests::{cnn_files, read_npy, relative_error, root};
use std::path::Path;

const TOLERANCE: f64 = 1e-4;

/// Check `text` with the batch bound to `batch`, and lower it.
fn lower(name: &str, text: &str, batch: u64) -> Graph {
    let source = SourceFile::new(name.to_string(), text.to_string());
    let unbound = check_source(&source, &CheckOptions::default());
    assert!(!unbound.has_errors(), "{name}: {:?}\n{text}", unbound.diagnostics);
    let model = &unbound.models[0];
    let mut bindings = Vec::new();
    for input in &model.inputs {
        if let Some(first) = model.tensors[*input].shape.as_ref().and_then(|s| s.first()) {
            if first.known().is_none() {
                bindings.push((first.to_string(), batch));
            }
        }
    }
    let bound = check_source(&source, &CheckOptions { bindings, ..CheckOptions::default() });
    assert!(!bound.has_errors(), "{name}: {:?}", bound.diagnostics);
    cnn_check::lower(&bound.models[0]).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Weights of an imported model, by key.
fn imported_weights(graph: &Graph, imported: &Imported) -> Weights {
    let values = graph
        .params
        .iter()
        .map(|p| {
            let tensor = imported.weights.iter().find(|w| w.key == p.key).unwrap_or_else(|| panic!("no {}", p.key));
            assert_eq!(tensor.shape, p.shape, "{}", p.key);
            tensor.values.clone()
        })
        .collect();
    Weights { values }
}

/// Seeded values in [-1, 1) (SplitMix64), one tensor per graph input.
fn random_inputs(graph: &Graph) -> Vec<HostTensor> {
    let mut state = 0x5eed_u64;
    graph
        .inputs
        .iter()
        .map(|t| {
            let shape = graph.shape(*t).to_vec();
            let data = (0..shape.iter().product::<usize>())
                .map(|_| {
                    state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
                    let mut z = state;
                    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
                    ((z ^ (z >> 31)) >> 40) as f32 / (1u64 << 23) as f32 - 1.0
                })
                .collect();
            HostTensor::new(shape, data)
        })
        .collect()
}

/// Where a tensor comes from: graph input `i` or node `i`; names differ after a round trip.
fn origin(graph: &Graph, tensor: usize) -> (bool, usize) {
    match graph.inputs.iter().position(|t| *t == tensor) {
        Some(i) => (true, i),
        None => (false, graph.nodes.iter().position(|n| n.output == tensor).unwrap_or(usize::MAX)),
    }
}

/// Ops that the reference backend computes with the same code: an adaptive pooling to 1×1 is a
/// global pooling (`reference/mod.rs` runs both as `adaptive_avg(.., [1, 1])`).
fn normalised(op: cnn_ir::Op) -> cnn_ir::Op {
    match op {
        cnn_ir::Op::AdaptiveAvgPool { out: [1, 1] } => cnn_ir::Op::GlobalAvgPool,
        other => other,
    }
}

/// The imported graph computes what the original does, node for node: same ops, same data
/// flow, same shapes, and parameters bitwise equal. The reference backend is deterministic, so
/// this means bitwise the same outputs; `round_trip` also runs the smaller models to show it.
/// Returns how many nodes differ only as allowed (adaptive pooling with 1-pixel windows
/// exported as a 1×1 average pooling).
fn same_computation(name: &str, original: &Graph, ow: &Weights, again: &Graph, aw: &Weights) -> usize {
    assert_eq!(original.nodes.len(), again.nodes.len(), "{name}: node count");
    let mut rewritten = 0;
    for (a, b) in original.nodes.iter().zip(&again.nodes) {
        let at = format!("{name}: node `{}` / `{}`", a.name, b.name);
        let (op_a, op_b) = (normalised(a.op), normalised(b.op));
        if op_a != op_b {
            let one_pixel =
                matches!(op_a, cnn_ir::Op::AdaptiveAvgPool { out } if out[..] == original.shape(a.inputs[0])[2..]);
            let unit_pool =
                matches!(op_b, cnn_ir::Op::AvgPool { pool, .. } if pool.kernel == [1, 1] && pool.stride == [1, 1]);
            assert!(one_pixel && unit_pool, "{at}: {op_a:?} became {op_b:?}");
            rewritten += 1;
        }
        let from_a: Vec<_> = a.inputs.iter().map(|t| origin(original, *t)).collect();
        let from_b: Vec<_> = b.inputs.iter().map(|t| origin(again, *t)).collect();
        assert_eq!(from_a, from_b, "{at}: inputs");
        assert_eq!(original.shape(a.output), again.shape(b.output), "{at}: output shape");
        assert_eq!(a.params.len(), b.params.len(), "{at}: parameters");
        for (pa, pb) in a.params.iter().zip(&b.params) {
            assert_eq!(original.params[*pa].shape, again.params[*pb].shape, "{at}: parameter shape");
            let same = ow.values[*pa].iter().zip(&aw.values[*pb]).all(|(x, y)| x.to_bits() == y.to_bits());
            assert!(same, "{at}: parameter values");
        }
    }
    rewritten
}

/// Models up to this many multiply-accumulates also run both ways (the reference backend is
/// slow by design; larger ones are covered by `same_computation`).
const RUN_MACS: u64 = 1_000_000_000;

fn macs(graph: &Graph) -> u64 {
    graph
        .nodes
        .iter()
        .map(|n| match n.op {
            cnn_ir::Op::Conv2d(c) => {
                let out: usize = graph.shape(n.output).iter().product();
                (out * c.in_channels / c.groups * c.kernel[0] * c.kernel[1]) as u64
            }
            cnn_ir::Op::Dense { in_features, out_features, .. } => (in_features * out_features) as u64,
            _ => 0,
        })
        .sum()
}

fn round_trip(path: &Path) {
    let name = path.strip_prefix(root()).unwrap_or(path).display().to_string();
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{name}: {e}"));
    let original = lower(&name, &text, 1);
    let weights = Weights::init(&original, 0);
    let batch_symbol = Some("N".to_string());
    let bytes = cnn_onnx::export(&original, &weights.values, &ExportOptions { batch_symbol })
        .unwrap_or_else(|e| panic!("{name}: export: {e}"));
    let imported = cnn_onnx::import(&bytes, "round_trip").unwrap_or_else(|e| panic!("{name}: import: {e}"));
    let again = lower(&format!("{name} (imported)"), &imported.text, 1);
    let again_weights = imported_weights(&again, &imported);
    let rewritten = same_computation(&name, &original, &weights, &again, &again_weights);
    let mut ran = "not run (large)";
    if macs(&original) <= RUN_MACS {
        let inputs = random_inputs(&original);
        let expected = reference::run(&original, &weights, &inputs).expect("the original runs");
        let outputs = reference::run(&again, &again_weights, &inputs).expect("the import runs");
        assert_eq!(expected.len(), outputs.len(), "{name}: outputs");
        for (e, r) in expected.iter().zip(&outputs) {
            assert_eq!(e.shape, r.shape, "{name}: output shape");
            let same = e.data.iter().zip(&r.data).all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(same, "{name}: outputs differ after the round trip");
        }
        ran = "ran to bitwise identical outputs";
    }
    println!("{name}: {} layers identical ({rewritten} adaptive pools as 1×1 average pools); {ran}", again.nodes.len());
}

#[test]
fn every_example_round_trips_bitwise() {
    let mut files = cnn_files(&root().join("examples"));
    files.extend(cnn_files(&root().join("examples/bench")));
    assert!(files.len() >= 10, "the examples are missing");
    for file in files {
        round_trip(&file);
    }
}

fn import_file(path: &Path) -> Result<Imported, ImportError> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    cnn_onnx::import(&bytes, "imported")
}

/// Import a suite model and run it on the suite's input; the error against ONNX Runtime.
fn suite_model_error(dir: &Path) -> f64 {
    let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
    let imported = import_file(&dir.join("model.onnx")).unwrap_or_else(|e| panic!("{name}: {e}"));
    let input = read_npy(&dir.join("input.npy"));
    let graph = lower(&name, &imported.text, input.shape[0] as u64);
    let weights = imported_weights(&graph, &imported);
    let outputs = reference::run(&graph, &weights, &[input]).unwrap_or_else(|e| panic!("{name}: {e}"));
    let error = relative_error(&outputs[0], &read_npy(&dir.join("expected.npy")));
    println!("{name}: imported from ONNX, relative error {error:e} against ONNX Runtime");
    assert!(error <= TOLERANCE, "{name}: {error:e}");
    error
}

#[test]
fn suite_models_import_and_match_onnx_runtime() {
    let mut dirs: Vec<_> = std::fs::read_dir(root().join("tests/fixtures/bench"))
        .expect("tests/fixtures/bench")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("model.onnx").exists())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 4, "the bench fixtures' model.onnx files are missing");
    for dir in dirs {
        suite_model_error(&dir);
    }
    for large in ["resnet18_b1", "mobilenet_block_b1"] {
        let dir = root().join("target/bench-suite").join(large);
        if dir.join("model.onnx").exists() && dir.join("expected.npy").exists() {
            suite_model_error(&dir);
        } else {
            println!("skipped {large}: run tools/bench_fixtures.sh to generate target/bench-suite/{large}");
        }
    }
}

/// The committed import of the suite's ResNet-18 is what `cnnc import` writes today.
#[test]
fn imported_resnet18_is_current_when_generated() {
    let onnx = root().join("target/bench-suite/resnet18_b1/model.onnx");
    if !onnx.exists() {
        println!("skipped: run tools/bench_fixtures.sh to generate target/bench-suite/resnet18_b1");
        return;
    }
    let bytes = std::fs::read(&onnx).expect("model.onnx");
    let imported = cnn_onnx::import(&bytes, "resnet18_from_onnx").expect("ResNet-18 imports");
    let committed = std::fs::read_to_string(root().join("examples/imported/resnet18_from_onnx.cnn"))
        .expect("examples/imported/resnet18_from_onnx.cnn");
    assert_eq!(committed, imported.text, "regenerate with the command in examples/imported/README.md");
}

#[test]
fn import_errors_name_every_problem() {
    let dir = root().join("tests/fixtures/onnx");
    let mut cases: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/fixtures/onnx")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "onnx"))
        .collect();
    cases.sort();
    assert!(cases.len() >= 5, "the ONNX error fixtures are missing");
    for case in cases {
        let expected = std::fs::read_to_string(case.with_extension("expected")).expect("a .expected file");
        let mut lines = expected.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#'));
        let kind = lines.next().expect("a kind line").trim();
        let name = case.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        match (kind, import_file(&case)) {
            ("malformed", Err(ImportError::Malformed(_))) => {}
            ("unrepresentable", Err(ImportError::Unrepresentable(_))) => {}
            ("unsupported", Err(ImportError::Unsupported(nodes))) => {
                let found: Vec<String> = nodes.iter().map(|n| format!("{} ({})", n.name, n.op_type)).collect();
                let wanted: Vec<String> = lines.map(|l| l.trim().to_string()).collect();
                assert_eq!(found, wanted, "{name}: the unsupported nodes listed");
            }
            ("ok", Ok(_)) => {}
            (kind, result) => panic!("{name}: expected {kind}, got {:?}", result.map(|i| i.text)),
        }
    }
}

/// Bad bytes are an error, never a panic: every prefix of two small models, and each of their
/// bytes changed in turn.
#[test]
fn truncated_and_mutated_models_never_panic() {
    for fixture in ["shape_chain_flatten.onnx", "unsupported_ops.onnx"] {
        let bytes = std::fs::read(root().join("tests/fixtures/onnx").join(fixture)).expect("fixture");
        for end in 0..bytes.len() {
            let _ = cnn_onnx::import(&bytes[..end], "prefix");
        }
        for position in 0..bytes.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut mutated = bytes.clone();
                mutated[position] ^= flip;
                let _ = cnn_onnx::import(&mutated, "mutated");
            }
        }
    }
}
