//! Run tests: both backends (the reference, and the JIT with and without bounds checks in its
//! code) against outputs computed by other engines.
//!
//! - `tests/fixtures/ops/*`: one layer or a small model each, expected outputs from PyTorch in
//!   float64 (`tools/make_op_fixtures.py`).
//! - `tests/fixtures/bench/*`: the benchmark suite's small models with ONNX Runtime's outputs
//!   (`tools/bench_fixtures.sh`); `target/bench-suite/resnet18_b1` too when it was generated.
//! - `tests/fixtures/digits`: the trained LeNet-5 on 500 held-out digits; its predictions must
//!   be PyTorch's, and its accuracy the trainer's.
//!
//! Tolerance: the suite's rule, `max|y − e| ≤ 1e-4 · max(1, max|e|)`; the largest error seen is
//! printed (run with `--nocapture`).

use cnnc_tests::{read_npy, relative_error, root, run_model_on, Backend, BACKENDS};
use std::path::Path;

const TOLERANCE: f64 = 1e-4;

fn case_dirs(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut dirs: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

#[test]
fn operators_match_pytorch() {
    let mut worst = (0.0f64, String::new());
    let cases = case_dirs(&root().join("tests/fixtures/ops"));
    assert!(cases.len() >= 40, "the op fixtures are missing");
    let mut failures = Vec::new();
    for case in &cases {
        for backend in BACKENDS {
            let input = read_npy(&case.join("input.npy"));
            let expected = read_npy(&case.join("expected.npy"));
            let ran = run_model_on(backend, &case.join("model.cnn"), &case.join("weights.safetensors"), vec![input]);
            let error = relative_error(&ran.outputs[0], &expected);
            let name = case.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
            let name = format!("{name} ({backend:?})");
            if error > TOLERANCE {
                failures.push(format!("{name}: relative error {error:e}"));
            }
            if error > worst.0 {
                worst = (error, name);
            }
        }
    }
    println!("{} operator cases; largest relative error {:e} ({})", cases.len(), worst.0, worst.1);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn check_suite_model(dir: &Path) -> f64 {
    let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    let model = name.rsplit_once("_b").map_or(name, |(m, _)| m);
    let expected = read_npy(&dir.join("expected.npy"));
    let mut worst = 0.0f64;
    for backend in BACKENDS {
        let input = read_npy(&dir.join("input.npy"));
        let model = root().join(format!("examples/bench/{model}.cnn"));
        let ran = run_model_on(backend, &model, &dir.join("weights.safetensors"), vec![input]);
        let error = relative_error(&ran.outputs[0], &expected);
        let exact = relative_error(&ran.outputs[0], &read_npy(&dir.join("expected_f64.npy")));
        println!("{name} ({backend:?}): relative error {error:e} against ONNX Runtime, {exact:e} against float64");
        assert!(error <= TOLERANCE, "{name} ({backend:?}): {error:e}");
        worst = worst.max(error);
    }
    worst
}

/// Work is split among threads by output rows; every element is computed by the same code
/// whatever the split, so one thread and two give identical bits.
#[test]
fn one_thread_and_two_give_the_same_bits() {
    for dir in case_dirs(&root().join("tests/fixtures/bench")) {
        let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        let model =
            root().join(format!("examples/bench/{}.cnn", name.rsplit_once("_b").map_or(name.as_str(), |(m, _)| m)));
        let outputs: Vec<Vec<u32>> = [1, 2]
            .iter()
            .map(|&threads| {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("thread pool");
                let input = read_npy(&dir.join("input.npy"));
                let ran =
                    pool.install(|| run_model_on(Backend::Jit, &model, &dir.join("weights.safetensors"), vec![input]));
                ran.outputs[0].data.iter().map(|v| v.to_bits()).collect()
            })
            .collect();
        assert!(outputs[0] == outputs[1], "{name}: 1 and 2 threads differ");
    }
}

#[test]
fn benchmark_suite_matches_onnx_runtime() {
    let dirs = case_dirs(&root().join("tests/fixtures/bench"));
    assert!(dirs.len() >= 4, "the bench fixtures are missing");
    for dir in dirs {
        check_suite_model(&dir);
    }
}

/// ResNet-18's fixture is too large to commit; `tools/bench_fixtures.sh` generates it.
#[test]
fn resnet18_matches_onnx_runtime_when_generated() {
    let dir = root().join("target/bench-suite/resnet18_b1");
    if dir.join("expected.npy").exists() {
        check_suite_model(&dir);
    } else {
        println!("skipped: run tools/bench_fixtures.sh to generate target/bench-suite/resnet18_b1");
    }
}

#[test]
fn trained_lenet_predicts_like_pytorch() {
    let dir = root().join("tests/fixtures/digits");
    let images = read_npy(&dir.join("images.npy"));
    let torch = read_npy(&dir.join("torch_logits.npy"));
    let labels = read_npy_labels(&dir.join("labels.npy"));
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).expect("expected.json"))
            .expect("json");
    for backend in [Backend::Reference, Backend::Jit] {
        let images = images.clone();
        let ran = run_model_on(
            backend,
            &root().join("examples/lenet5.cnn"),
            &root().join("examples/lenet5.safetensors"),
            vec![images],
        );
        check_digits(&ran.outputs[0], &torch, &labels, &expected);
    }
}

fn check_digits(
    probabilities: &cnn_io::HostTensor,
    torch: &cnn_io::HostTensor,
    labels: &[i64],
    expected: &serde_json::Value,
) {
    let classes = 10;
    let argmax = |row: &[f32]| (0..row.len()).max_by(|a, b| row[*a].total_cmp(&row[*b])).unwrap_or(0);
    let mut correct = 0;
    for (n, label) in labels.iter().enumerate() {
        let ours = argmax(&probabilities.data[n * classes..(n + 1) * classes]);
        let theirs = argmax(&torch.data[n * classes..(n + 1) * classes]);
        assert_eq!(ours, theirs, "image {n}: cnnc says {ours}, PyTorch {theirs}");
        correct += usize::from(ours as i64 == *label);
    }
    assert_eq!(correct as u64, expected["correct"].as_u64().expect("correct"));
    println!("LeNet-5 on {} held-out digits: {correct} correct, as PyTorch", labels.len());
}

/// `labels.npy` is int64, which `cnn_io::read_npy` does not take; read it directly.
fn read_npy_labels(path: &Path) -> Vec<i64> {
    let bytes = std::fs::read(path).expect("labels.npy");
    let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    bytes[10 + header_len..].chunks_exact(8).map(|b| i64::from_le_bytes(b.try_into().expect("8 bytes"))).collect()
}
