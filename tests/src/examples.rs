//! Every example model checks cleanly, and its counts equal published figures.
//!
//! Sources of the expected numbers (none is printed by cnnc):
//! - torchvision's model documentation (`num_params` of each weights enum), for the networks in
//!   `examples/`;
//! - `../shared/bench/README.md` (the suite's parameter, buffer and GFLOP columns, computed by
//!   its own generator with numpy), for `examples/bench/`; GFLOP there is 2·MACs of conv and
//!   dense layers, rounded to 4 significant digits.

use cnnc_tests::{check_file, cnn_files, root};
use std::collections::BTreeSet;

/// (file, parameters) from torchvision's documentation.
const PUBLISHED: &[(&str, u64)] = &[
    ("lenet5.cnn", 61_706),
    ("alexnet.cnn", 61_100_840),
    ("vgg16.cnn", 138_357_544),
    ("resnet18.cnn", 11_689_512),
    ("resnet50.cnn", 25_557_032),
    ("mobilenet_v2.cnn", 3_504_872),
    ("squeezenet1_1.cnn", 1_235_496),
    ("googlenet.cnn", 6_624_904),
];

/// (file, parameters, buffers, GFLOP as printed) from the benchmark suite's table.
const SUITE: &[(&str, u64, u64, &str)] = &[
    ("lenet5.cnn", 61_706, 0, "0.000833"),
    ("vgg_block.cnn", 73_856, 0, "0.4624"),
    ("resnet_basic.cnn", 73_984, 256, "0.4624"),
    ("mobilenet_block.cnn", 2_528, 192, "0.0586"),
    ("alexnet_conv1.cnn", 34_944, 0, "0.2108"),
    ("resnet18.cnn", 11_689_512, 9_600, "3.6281"),
    ("overhead_probe.cnn", 0, 0, "0"),
];

fn totals(path: &std::path::Path) -> cnn_check::summary::Totals {
    let (_, result) = check_file(path);
    assert!(result.diagnostics.is_empty(), "{}: {:?}", path.display(), result.diagnostics);
    assert_eq!(result.models.len(), 1, "{}", path.display());
    cnn_check::summary::totals(&result.models[0])
}

#[test]
fn every_example_checks_without_diagnostics() {
    for dir in ["examples", "examples/bench"] {
        for path in cnn_files(&root().join(dir)) {
            totals(&path);
        }
    }
}

#[test]
fn parameter_counts_equal_torchvision() {
    for (file, params) in PUBLISHED {
        let t = totals(&root().join("examples").join(file));
        assert_eq!(t.params, *params, "{file}");
    }
}

#[test]
fn suite_models_match_the_benchmark_table() {
    for (file, params, buffers, gflop) in SUITE {
        let t = totals(&root().join("examples/bench").join(file));
        assert_eq!((t.params, t.buffers), (*params, *buffers), "{file}");
        let macs = t.macs.expect("concrete spatial sizes");
        let ours = 2.0 * macs as f64 / 1e9;
        // Equal to the printed value when rounded to as many decimals as it shows.
        let decimals = gflop.split_once('.').map_or(0, |(_, d)| d.len()) as i32;
        let published: f64 = gflop.parse().expect("number");
        let half_unit = 0.5 * 10f64.powi(-decimals);
        assert!((ours - published).abs() <= half_unit, "{file}: {ours} GFLOP, published {gflop}");
    }
}

/// The suite's ResNet-18 weights hold torchvision's `state_dict` without
/// `num_batches_tracked`: 102 tensors, listed by pattern in the suite's README.
#[test]
fn resnet18_weight_keys_are_torchvisions() {
    let (_, result) = check_file(&root().join("examples/resnet18.cnn"));
    let model = &result.models[0];
    let keys: BTreeSet<String> = model
        .layers
        .iter()
        .flat_map(|l| l.info.weights.iter().map(move |(suffix, _)| format!("{}.{suffix}", l.path)))
        .collect();
    let mut expected = BTreeSet::new();
    let bn = |prefix: &str, out: &mut BTreeSet<String>| {
        for s in ["weight", "bias", "running_mean", "running_var"] {
            out.insert(format!("{prefix}.{s}"));
        }
    };
    expected.insert("conv1.weight".to_string());
    bn("bn1", &mut expected);
    for stage in 1..=4 {
        for block in 0..2 {
            let p = format!("layer{stage}.{block}");
            expected.insert(format!("{p}.conv1.weight"));
            expected.insert(format!("{p}.conv2.weight"));
            bn(&format!("{p}.bn1"), &mut expected);
            bn(&format!("{p}.bn2"), &mut expected);
        }
        if stage > 1 {
            expected.insert(format!("layer{stage}.0.downsample.0.weight"));
            bn(&format!("layer{stage}.0.downsample.1"), &mut expected);
        }
    }
    expected.insert("fc.weight".to_string());
    expected.insert("fc.bias".to_string());
    assert_eq!(expected.len(), 102);
    assert_eq!(keys, expected);
}

/// ResNet-18's receptive field, by hand with r' = r + (k − 1)·j, j' = j·s: conv1 7/2 → 7 (j 2);
/// maxpool 3/2 → 11 (j 4); layer1's four 3×3 → 43; layer2 → 51 (j 8), 67, 83, 99; layer3 → 115
/// (j 16), 147, 179, 211; layer4 → 243 (j 32), 307, 371, 435. The 1×1 shortcuts are narrower.
#[test]
fn resnet18_receptive_field() {
    let t = totals(&root().join("examples/resnet18.cnn"));
    let (receptive, _) = t.receptive.expect("spatial layers");
    assert_eq!(receptive.field, [435, 435]);
    assert_eq!(receptive.stride, [32, 32]);
}
