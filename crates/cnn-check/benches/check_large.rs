//! Benchmark (not a test): parse and check a generated 1,000-layer model, as `cnnc check` does
//! (with fix verification on, though the model has no errors). Prints the median and p90 over
//! repeated runs: `cargo bench -p cnn-check --bench check_large`.

use cnn_check::{check_source, CheckOptions};
use cnn_diag::SourceFile;
use std::time::{Duration, Instant};

/// 1,000 layers: 250 blocks of conv, batchnorm, relu and a residual add, in stages that
/// halve the resolution, with symbolic batch size.
fn generated_model() -> String {
    let mut text = String::from(
        "block unit(c) {\n  conv = conv(c, 3, padding=1, bias=false)\n  bn = batchnorm\n  relu\n  add(in)\n}\n\nmodel deep {\n  input x: [N, 64, 224, 224]\n",
    );
    for i in 0..250 {
        text.push_str(&format!("  u{i} = unit(64)\n"));
    }
    text.push_str("}\n");
    text
}

/// 1,000 plain statements on a symbolic input, so every window adds a condition to the
/// accepted-sizes analysis.
fn generated_symbolic_model() -> String {
    let mut text = String::from("model flat {\n  input x: [N, 3, H, W]\n  conv(32, 3, padding=1)\n");
    for i in 1..1000 {
        let line = match i % 4 {
            0 => "  conv(32, 3, padding=1)\n",
            1 => "  batchnorm\n",
            2 => "  relu\n",
            _ => "  maxpool(3, stride=1, padding=1)\n",
        };
        text.push_str(line);
    }
    text.push_str("}\n");
    text
}

fn main() {
    bench("blocks, concrete sizes", generated_model());
    bench("flat, symbolic H and W", generated_symbolic_model());
}

fn bench(what: &str, text: String) {
    let source = SourceFile::new("deep.cnn", text);
    let options = CheckOptions { verify_fixes: true, ..CheckOptions::default() };
    let first = check_source(&source, &options);
    let layers: usize = first.models.iter().map(|m| m.layers.len()).sum();
    assert_eq!(layers, 1000);
    assert!(first.diagnostics.is_empty(), "{:?}", first.diagnostics);
    let mut times: Vec<Duration> = (0..50)
        .map(|_| {
            let start = Instant::now();
            let result = check_source(&source, &options);
            let elapsed = start.elapsed();
            std::hint::black_box(result);
            elapsed
        })
        .collect();
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "check of a {layers}-layer model, {what} ({} bytes): median {:.2} ms, p90 {:.2} ms, min {:.2} ms over {} runs",
        source.text().len(),
        ms(times[times.len() / 2]),
        ms(times[times.len() * 9 / 10]),
        ms(times[0]),
        times.len()
    );
}
