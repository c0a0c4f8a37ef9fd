//! Benchmark (not a test): from a keystroke to diagnostics ready to publish, for every example
//! model: re-check the whole text, rebuild the syntax index, convert the diagnostics. One
//! character is appended in a comment each time, as typing would.
//! `cargo bench -p cnn-lsp --bench keystroke`.

use cnn_lsp::{Document, Encoding};
use std::time::{Duration, Instant};

fn main() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut files: Vec<_> = std::fs::read_dir(&root)
        .expect("examples")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "cnn"))
        .collect();
    files.sort();
    let uri: lsp_types::Uri = "file:///bench.cnn".parse().expect("uri");
    for file in files {
        let text = std::fs::read_to_string(&file).expect("readable");
        let mut times: Vec<Duration> = (0..40)
            .map(|i| {
                let typed = format!("{text}// {}\n", "x".repeat(i));
                let start = Instant::now();
                let doc = Document::new(uri.clone(), i as i32, typed);
                let diagnostics = doc.lsp_diagnostics(Encoding::Utf16);
                let elapsed = start.elapsed();
                std::hint::black_box(diagnostics);
                elapsed
            })
            .collect();
        times.sort();
        println!(
            "{:<22} median {:>6.2} ms  p90 {:>6.2} ms",
            file.file_name().and_then(|n| n.to_str()).unwrap_or_default(),
            times[times.len() / 2].as_secs_f64() * 1e3,
            times[times.len() * 9 / 10].as_secs_f64() * 1e3
        );
    }
}
