//! Fuzz target: arbitrary bytes, read lossily as UTF-8 and capped at 64 KiB, go through the
//! whole checker (parse, expand, infer, lint, verified fix search). The checker must never
//! panic, hang or allocate hugely, and every diagnostic must point inside the text.
#![no_main]

use cnn_check::{check_source, CheckOptions};
use cnn_diag::SourceFile;
use libfuzzer_sys::fuzz_target;

const MAX_INPUT: usize = 64 * 1024;

fuzz_target!(|data: &[u8]| {
    let data = &data[..data.len().min(MAX_INPUT)];
    let text = String::from_utf8_lossy(data).into_owned();
    let source = SourceFile::new("fuzz.cnn", text);
    let result = check_source(&source, &CheckOptions { verify_fixes: true, ..CheckOptions::default() });
    let text = source.text();
    for d in &result.diagnostics {
        let (start, end) = (d.primary.span.start as usize, d.primary.span.end as usize);
        assert!(start <= end && end <= text.len(), "{}: span {start}..{end} outside {} bytes", d.code, text.len());
        assert!(
            text.is_char_boundary(start) && text.is_char_boundary(end),
            "{}: span {start}..{end} not on char boundaries",
            d.code
        );
    }
});
