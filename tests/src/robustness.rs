//! Robustness of the checker on broken and hostile text: `check_source` (with verified fixes)
//! must return normally — no panic, no hang, no huge allocation — whatever it is given, and
//! every diagnostic must point at text that exists.
//!
//! Three kinds of input:
//! - every prefix of every example and UI test file (half-typed files, as an editor sends them);
//! - a few thousand seeded pseudo-random mutations of those files (deleted characters,
//!   duplicated lines, swapped tokens, huge or negative numbers, stray punctuation);
//! - hand-written nasty inputs: deep nesting, exponential repeats, huge sizes, thousands of
//!   parameters, non-ASCII text, and regression inputs found by the fuzzer (`fuzz/`).
//!
//! A panic inside the checker is caught and reported with the input that caused it; a check
//! that takes longer than [`HANG`] counts as a hang. Inputs that could overflow the stack run
//! in a child process (this test binary again), so an overflow is reported as a failure with
//! its input instead of killing every other test.

use cnn_check::{check_source, CheckOptions, CheckResult};
use cnn_diag::render::{diagnostic_json, render_human, HumanOptions};
use cnn_diag::{Code, SourceFile, Span};
use cnnc_tests::{cnn_files, root};
use std::cell::{Cell, RefCell};
use std::fmt::Write as _;
use std::panic::{self, AssertUnwindSafe};
use std::path::PathBuf;
use std::process::Command;
use std::sync::Once;
use std::time::{Duration, Instant};

/// One check taking longer than this is a hang, not slowness (debug builds, shared cores).
const HANG: Duration = Duration::from_secs(5);

/// Files up to this size have every prefix checked; longer ones every line end plus a stride.
const ALL_PREFIXES_UP_TO: usize = 1500;
/// About this many byte-stride prefixes per large file, on top of its line ends.
const STRIDE_PREFIXES: usize = 250;
/// Mutants checked in total, spread over the seed files.
const MUTANTS: usize = 3000;

// ---------------------------------------------------------------------------------------------
// Running one check and judging the result
// ---------------------------------------------------------------------------------------------

thread_local! {
    /// Set while this thread runs the checker: the panic hook then records instead of printing.
    static QUIET: Cell<bool> = const { Cell::new(false) };
    /// What the hook recorded about the last panic: location, message, top frames.
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Install (once per process) a panic hook that stays silent for panics inside [`run_check`],
/// keeping their message and the checker's frames of the backtrace for the failure report,
/// and behaves as the default hook everywhere else (other tests' assertions still print).
fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !QUIET.with(Cell::get) {
                default(info);
                return;
            }
            let backtrace = std::backtrace::Backtrace::force_capture().to_string();
            let frames: Vec<&str> = backtrace
                .lines()
                .map(str::trim)
                .filter(|l| l.contains("cnn_") && !l.starts_with("at ") && !l.contains("robustness"))
                .take(8)
                .collect();
            let mut text = format!("{info}");
            if !frames.is_empty() {
                let _ = write!(text, "\n  top frames:\n    {}", frames.join("\n    "));
            }
            LAST_PANIC.with(|p| *p.borrow_mut() = Some(text));
        }));
    });
}

/// What went wrong with one input.
#[derive(Debug)]
struct Failure {
    what: String,
    input: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "{}", self.what)?;
        writeln!(f, "--- input ({} bytes) ---", self.input.len())?;
        writeln!(f, "{}", excerpt(&self.input))?;
        write!(f, "--- input as a Rust literal ---\n{}", literal(&self.input))
    }
}

/// Long inputs are shown by their start and end only.
fn excerpt(text: &str) -> String {
    const KEEP: usize = 1500;
    if text.len() <= 2 * KEEP {
        return text.to_string();
    }
    let head = floor_boundary(text, KEEP);
    let tail = ceil_boundary(text, text.len() - KEEP);
    format!("{}\n[... {} bytes ...]\n{}", &text[..head], tail - head, &text[tail..])
}

fn literal(text: &str) -> String {
    if text.len() > 4000 {
        return "(too long to show; see the excerpt above)".to_string();
    }
    format!("{text:?}")
}

/// Check `text` as `cnnc check` does, catching a panic and timing the check.
fn run_check(name: &str, text: &str) -> Result<(SourceFile, CheckResult), Failure> {
    install_hook();
    let source = SourceFile::new(name, text);
    let options = CheckOptions { verify_fixes: true, ..CheckOptions::default() };
    QUIET.with(|q| q.set(true));
    let start = Instant::now();
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| check_source(&source, &options)));
    let elapsed = start.elapsed();
    QUIET.with(|q| q.set(false));
    let fail = |what: String| Failure { what: format!("{name}: {what}"), input: text.to_string() };
    let result = match outcome {
        Ok(result) => result,
        Err(payload) => {
            let recorded = LAST_PANIC.with(|p| p.borrow_mut().take());
            let message = recorded.unwrap_or_else(|| payload_text(&*payload));
            return Err(fail(format!("the checker panicked: {message}")));
        }
    };
    if elapsed > HANG {
        return Err(fail(format!("one check took {elapsed:?} (a hang: the limit is {HANG:?})")));
    }
    Ok((source, result))
}

fn payload_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(non-string panic payload)".to_string()
    }
}

/// Every span a diagnostic carries (labels and fix edits) lies within the text, starts no
/// later than it ends, and cuts the text at character boundaries.
fn spans_are_valid(source: &SourceFile, result: &CheckResult) -> Result<(), String> {
    let text = source.text();
    let valid = |span: Span| {
        let (start, end) = (span.start as usize, span.end as usize);
        start <= end && end <= text.len() && text.is_char_boundary(start) && text.is_char_boundary(end)
    };
    for d in &result.diagnostics {
        let mut spans = vec![("primary label", d.primary.span)];
        spans.extend(d.secondary.iter().map(|l| ("secondary label", l.span)));
        spans.extend(d.fixes.iter().flat_map(|f| f.edits.iter().map(|e| ("fix edit", e.span))));
        for (what, span) in spans {
            if !valid(span) {
                return Err(format!(
                    "{} `{}`: {what} span {}..{} is not a valid range of the {}-byte text",
                    d.code,
                    d.message,
                    span.start,
                    span.end,
                    text.len()
                ));
            }
        }
    }
    Ok(())
}

/// Whether the parser alone rejects the text (then the check must report `E0001`).
fn parser_rejects(source: &SourceFile) -> bool {
    !cnn_syntax::parse(source).1.is_empty()
}

/// Check one input and apply the invariants every input must satisfy: no panic, no hang, valid
/// spans, a syntax error reported when the parser rejects the text, and renderers that cope.
fn check_input(name: &str, text: &str, render: bool) -> Result<CheckResult, Failure> {
    let (source, result) = run_check(name, text)?;
    let fail = |what: String| Failure { what: format!("{name}: {what}"), input: text.to_string() };
    spans_are_valid(&source, &result).map_err(fail)?;
    if result.has_errors() != result.diagnostics.iter().any(|d| d.is_error()) {
        return Err(fail("has_errors disagrees with the diagnostics".to_string()));
    }
    let syntax_reported = result.diagnostics.iter().any(|d| d.code == Code::SYNTAX);
    if parser_rejects(&source) && !syntax_reported {
        return Err(fail("the parser rejects the text but the check reports no E0001".to_string()));
    }
    if render {
        QUIET.with(|q| q.set(true));
        let rendered = panic::catch_unwind(AssertUnwindSafe(|| {
            for d in &result.diagnostics {
                render_human(d, &source, HumanOptions { color: false, width: 100 });
                diagnostic_json(d, &source);
            }
        }));
        QUIET.with(|q| q.set(false));
        if let Err(payload) = rendered {
            let message = LAST_PANIC.with(|p| p.borrow_mut().take()).unwrap_or_else(|| payload_text(&*payload));
            return Err(fail(format!("rendering a diagnostic panicked: {message}")));
        }
    }
    Ok(result)
}

/// Collects failures and ends the test with all of them (the first few in full).
#[derive(Default)]
struct Failures {
    list: Vec<Failure>,
    checks: usize,
}

impl Failures {
    fn record(&mut self, outcome: Result<CheckResult, Failure>) -> Option<CheckResult> {
        self.checks += 1;
        match outcome {
            Ok(result) => Some(result),
            Err(failure) => {
                // The same fault tends to repeat for neighbouring prefixes: keep one per message.
                let key = failure.what.split_once(": ").map_or(failure.what.as_str(), |(_, rest)| rest);
                let key = key.lines().next().unwrap_or(key).to_string();
                if !self.list.iter().any(|f| f.what.contains(&key)) {
                    self.list.push(failure);
                }
                None
            }
        }
    }

    fn finish(self, what: &str) {
        if self.list.is_empty() {
            eprintln!("{what}: {} checks, all fine", self.checks);
            return;
        }
        let mut report = format!("{what}: {} distinct failures in {} checks\n", self.list.len(), self.checks);
        for (i, failure) in self.list.iter().take(5).enumerate() {
            let _ = writeln!(report, "\n=== failure {} ===\n{failure}", i + 1);
        }
        panic!("{report}");
    }
}

// ---------------------------------------------------------------------------------------------
// Seed files
// ---------------------------------------------------------------------------------------------

/// Every `.cnn` file in examples/, examples/errors/ and tests/ui/ (which may not exist yet).
fn seed_files() -> Vec<(String, String)> {
    let root = root();
    let mut files: Vec<PathBuf> = Vec::new();
    for dir in ["examples", "examples/errors", "tests/ui"] {
        let dir = root.join(dir);
        if dir.is_dir() {
            files.extend(cnn_files(&dir));
        }
    }
    assert!(!files.is_empty(), "no .cnn files found under {}", root.display());
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (path.strip_prefix(&root).unwrap_or(&path).display().to_string(), text)
        })
        .collect()
}

fn floor_boundary(text: &str, mut i: usize) -> usize {
    i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_boundary(text: &str, mut i: usize) -> usize {
    i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i += 1;
    }
    i
}

/// Where to cut a file: every character boundary of a small file; for a large one every line
/// end (before and after the `\n`) plus about [`STRIDE_PREFIXES`] evenly spaced cuts.
fn cut_points(text: &str) -> Vec<usize> {
    let mut cuts: Vec<usize> = if text.len() <= ALL_PREFIXES_UP_TO {
        text.char_indices().map(|(i, _)| i).collect()
    } else {
        let stride = (text.len() / STRIDE_PREFIXES).max(1);
        let mut cuts: Vec<usize> = text.match_indices('\n').flat_map(|(i, _)| [i, i + 1]).collect();
        // An odd stride so the cuts drift across token boundaries instead of repeating a phase.
        cuts.extend((0..text.len()).step_by(stride | 1).map(|i| floor_boundary(text, i)));
        cuts
    };
    cuts.push(text.len());
    cuts.sort_unstable();
    cuts.dedup();
    cuts
}

// ---------------------------------------------------------------------------------------------
// (a) Prefixes
// ---------------------------------------------------------------------------------------------

#[test]
fn every_prefix_of_every_file_is_checked_without_panicking() {
    let mut failures = Failures::default();
    for (name, text) in seed_files() {
        let t0 = Instant::now();
        let ncuts = cut_points(&text).len();
        for cut in cut_points(&text) {
            let prefix = &text[..cut];
            let label = format!("{name} cut at byte {cut}");
            let outcome = check_input(&label, prefix, false).and_then(|result| {
                // A cut inside an item leaves broken text: it must be reported, not accepted.
                let unclosed = prefix.matches('{').count() > prefix.matches('}').count();
                if unclosed && result.diagnostics.is_empty() {
                    Err(Failure {
                        what: format!("{label}: an unclosed `{{` produced no diagnostic"),
                        input: prefix.to_string(),
                    })
                } else {
                    Ok(result)
                }
            });
            failures.record(outcome);
        }
        eprintln!("TIMING {name} {} bytes {ncuts} cuts {:?}", text.len(), t0.elapsed());
    }
    failures.finish("prefixes");
}

// ---------------------------------------------------------------------------------------------
// (b) Mutations
// ---------------------------------------------------------------------------------------------

/// xorshift64*: tiny, seeded, the same sequence on every machine.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform-ish in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// A character boundary of `text` chosen at random (`0..=len`).
fn random_boundary(rng: &mut Rng, text: &str) -> usize {
    floor_boundary(text, rng.below(text.len() + 1))
}

/// Rough tokens: words (identifiers and numbers) and single non-space characters.
fn tokens(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c.is_whitespace() {
            continue;
        }
        let mut end = i + c.len_utf8();
        if c.is_alphanumeric() || c == '_' {
            while let Some(&(j, d)) = chars.peek() {
                if !(d.is_alphanumeric() || d == '_' || d == '.') {
                    break;
                }
                end = j + d.len_utf8();
                chars.next();
            }
        }
        out.push((i, end));
    }
    out
}

/// Byte ranges of runs of ASCII digits.
fn numbers(text: &str) -> Vec<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_digit() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            out.push((start, i));
        } else {
            i += 1;
        }
    }
    out
}

const INSERTIONS: &[&str] = &["(", "{", "}", "x", "*", ",", "=", "@allow(", ")", "-", "/*", "//", "\n", "é", "×"];
const NUMBERS: &[&str] =
    &["99999999999999999999", "0", "18446744073709551615", "18446744073709551616", "4294967296", "1e999", "00"];

/// One mutation of `text`; returns the mutant and what was done (for the failure report).
fn mutate(rng: &mut Rng, text: &str) -> (String, String) {
    let mut out = text.to_string();
    match rng.below(8) {
        0 => {
            // Delete one character.
            if let Some((i, c)) = out.char_indices().nth(rng.below(out.chars().count().max(1))) {
                out.replace_range(i..i + c.len_utf8(), "");
                return (out, format!("deleted {c:?} at {i}"));
            }
        }
        1 => {
            // Duplicate a line.
            let lines: Vec<&str> = text.split_inclusive('\n').collect();
            if !lines.is_empty() {
                let n = rng.below(lines.len());
                let mut copy = lines.clone();
                copy.insert(n, lines[n]);
                return (copy.concat(), format!("duplicated line {}", n + 1));
            }
        }
        2 => {
            // Swap two tokens.
            let toks = tokens(text);
            if toks.len() >= 2 {
                let (mut a, mut b) = (*rng.pick(&toks), *rng.pick(&toks));
                if a.0 > b.0 {
                    std::mem::swap(&mut a, &mut b);
                }
                if a.1 <= b.0 {
                    let swapped = format!(
                        "{}{}{}{}{}",
                        &text[..a.0],
                        &text[b.0..b.1],
                        &text[a.1..b.0],
                        &text[a.0..a.1],
                        &text[b.1..]
                    );
                    return (swapped, format!("swapped {:?} and {:?}", &text[a.0..a.1], &text[b.0..b.1]));
                }
            }
        }
        3 => {
            // Replace a number with a huge one, zero, or another edge value.
            let nums = numbers(text);
            if !nums.is_empty() {
                let (s, e) = *rng.pick(&nums);
                let with = *rng.pick(NUMBERS);
                out.replace_range(s..e, with);
                return (out, format!("replaced {:?} at {s} with {with}", &text[s..e]));
            }
        }
        4 => {
            // Make a number negative.
            let nums = numbers(text);
            if !nums.is_empty() {
                let (s, _) = *rng.pick(&nums);
                out.insert(s, '-');
                return (out, format!("negated the number at {s}"));
            }
        }
        5 => {
            // Delete a whole token.
            let toks = tokens(text);
            if !toks.is_empty() {
                let (s, e) = *rng.pick(&toks);
                out.replace_range(s..e, "");
                return (out, format!("deleted token {:?} at {s}", &text[s..e]));
            }
        }
        _ => {}
    }
    // Insert a stray piece of syntax (also the fallback when the chosen mutation had no target).
    let at = random_boundary(rng, &out);
    let piece = *rng.pick(INSERTIONS);
    out.insert_str(at, piece);
    (out, format!("inserted {piece:?} at {at}"))
}

#[test]
fn thousands_of_mutants_are_checked_without_panicking() {
    let seeds = seed_files();
    let mut rng = Rng::new(0x00C0_FFEE_CAFE);
    let mut failures = Failures::default();
    for n in 0..MUTANTS {
        let (name, original) = rng.pick(&seeds);
        // Mostly one mutation, sometimes a few stacked.
        let rounds = 1 + rng.below(4) / 3 * (1 + rng.below(3));
        let mut text = original.clone();
        let mut steps = Vec::new();
        for _ in 0..rounds {
            let (mutant, step) = mutate(&mut rng, &text);
            text = mutant;
            steps.push(step);
        }
        let label = format!("mutant {n} of {name} ({})", steps.join("; "));
        failures.record(check_input(&label, &text, true));
    }
    failures.finish("mutants");
}

// ---------------------------------------------------------------------------------------------
// (c) Hand-written nasty inputs
// ---------------------------------------------------------------------------------------------

/// Check one hand-written input; `expect` lists codes that must be among the diagnostics.
fn nasty(failures: &mut Failures, name: &str, text: &str, expect: &[&str]) {
    let outcome = check_input(name, text, true).and_then(|result| {
        let missing: Vec<&&str> =
            expect.iter().filter(|code| !result.diagnostics.iter().any(|d| d.code.as_str() == **code)).collect();
        if missing.is_empty() {
            Ok(result)
        } else {
            let got: Vec<String> = result.diagnostics.iter().map(|d| format!("{} {}", d.code, d.message)).collect();
            Err(Failure {
                what: format!("{name}: expected {missing:?} among the diagnostics, got {got:#?}"),
                input: text.to_string(),
            })
        }
    });
    failures.record(outcome);
}

fn model_with(body: &str) -> String {
    format!("model net {{\n  input x: [1, 3, 32, 32]\n{body}\n}}\n")
}

#[test]
fn exponential_repeats_stop_early_with_e0109() {
    // b1 repeats b2 1000 times, b2 repeats b3 1000 times, b3 repeats relu 1000 times: 10^9
    // layers if expanded. The expansion must stop at the layer limit, quickly, with E0109.
    let text = "block b3() { r = relu * 1000 }\n\
                block b2() { x = b3() * 1000 }\n\
                block b1() { x = b2() * 1000 }\n\
                model net {\n  input x: [1, 3, 32, 32]\n  big = b1() * 1000\n}\n";
    let mut failures = Failures::default();
    nasty(&mut failures, "b1 = b2 * 1000 nested", text, &["E0109"]);
    // The same without parentheses on the block calls.
    let bare = text.replace("()", "");
    nasty(&mut failures, "b1 = b2 * 1000 nested, bare calls", &bare, &["E0109"]);
    // Repeat counts beyond any limit.
    nasty(&mut failures, "repeat 99999999999999999999", &model_with("  relu * 99999999999999999999"), &[]);
    nasty(&mut failures, "repeat 0", &model_with("  relu * 0"), &[]);
    nasty(&mut failures, "repeat 100000", &model_with("  r = relu * 100000"), &[]);
    failures.finish("exponential repeats");
}

#[test]
fn huge_numbers_are_reported_not_overflowed() {
    let mut failures = Failures::default();
    let cases: &[(&str, String, &[&str])] = &[
        (
            "huge input dims",
            "model net {\n  input x: [1, 3, 99999999999, 99999999999]\n  relu\n}\n".to_string(),
            &["E0109"],
        ),
        ("dims beyond u64", "model net {\n  input x: [1, 3, 99999999999999999999, 7]\n  relu\n}\n".to_string(), &[]),
        ("zero dims", "model net {\n  input x: [0, 0, 0, 0]\n  conv(8, 3)\n  flatten\n  dense(10)\n}\n".to_string(), &[]),
        ("huge conv", model_with("  conv(99999999999, 99999)"), &[]),
        ("huge conv, padded", model_with("  conv(99999999999, 99999, padding=99999999999)"), &[]),
        ("huge conv pair", model_with("  conv(64, 99999999999x99999999999, dilation=99999999999)"), &[]),
        ("huge maxpool stride", model_with("  maxpool(1, stride=99999999999)"), &[]),
        ("maxpool stride beyond u64", model_with("  maxpool(2, stride=99999999999999999999, ceil=true)"), &[]),
        ("huge avgpool", model_with("  avgpool(99999999999, padding=99999999999, ceil=true)"), &[]),
        ("huge groups", model_with("  conv(64, 3, groups=99999999999)"), &[]),
        ("huge depthwise", model_with("  depthwise(3, multiplier=99999999999)"), &[]),
        ("huge dense", model_with("  flatten\n  dense(99999999999)\n  dense(99999999999)"), &[]),
        ("huge adaptive", model_with("  adaptive_avgpool(99999999999x99999999999)\n  flatten\n  dense(10)"), &[]),
        ("huge blurpool", model_with("  blurpool(stride=99999999999, filter=99999999999)"), &[]),
        ("negative everything", model_with("  conv(-64, -3, stride=-2, padding=-1, dilation=-1, groups=-1)"), &[]),
        ("float where int", model_with("  conv(1e300, 3.5, stride=0.5)\n  dropout(p=1e999)"), &[]),
        ("softmax far dim", model_with("  softmax(dim=99999999999)\n  softmax(dim=-99999999999)"), &[]),
        (
            "block arithmetic overflow",
            "block b(c) { conv(c * c * c * c * c * c, 3) }\nmodel net {\n  input x: [1, 3, 32, 32]\n  \
             b(99999999999)\n  b(-99999999999)\n  b(0)\n}\n"
                .to_string(),
            &[],
        ),
        (
            "division by zero in a block",
            "block b(c) { conv(c / 0, 3 % 0) }\nmodel net {\n  input x: [1, 3, 32, 32]\n  b(0)\n}\n".to_string(),
            &[],
        ),
        ("huge symbolic binding", "model net {\n  input x: [N, 3, H, W]\n  conv(99999999999, 3, stride=99999999999)\n  flatten\n  dense(10)\n}\n".to_string(), &[]),
    ];
    for (name, text, expect) in cases {
        nasty(&mut failures, name, text, expect);
    }
    failures.finish("huge numbers");
}

#[test]
fn a_block_with_ten_thousand_parameters() {
    let params: Vec<String> = (0..10_000).map(|i| format!("p{i}")).collect();
    let args: Vec<String> = (0..10_000).map(|i| (i % 7 + 1).to_string()).collect();
    let text = format!(
        "block wide({}) {{\n  conv(p0, p1)\n  relu\n}}\nmodel net {{\n  input x: [1, 3, 32, 32]\n  w = wide({})\n}}\n",
        params.join(", "),
        args.join(", ")
    );
    let mut failures = Failures::default();
    nasty(&mut failures, "10,000 parameters", &text, &[]);
    // The same with every argument by name, and one call with an argument too many.
    let named: Vec<String> = (0..10_000).map(|i| format!("p{i}={}", i % 7 + 1)).collect();
    let by_name = text.replace(&args.join(", "), &named.join(", "));
    nasty(&mut failures, "10,000 named arguments", &by_name, &[]);
    let too_many = text.replace(&args.join(", "), &format!("{}, 1", args.join(", ")));
    nasty(&mut failures, "10,001 arguments for 10,000 parameters", &too_many, &[]);
    // 10,000 duplicate parameters and 10,000 arguments to a built-in layer.
    let dups = format!("block d({}) {{ relu }}\n{}", vec!["p"; 10_000].join(", "), model_with("  d(1)"));
    nasty(&mut failures, "10,000 duplicate parameters", &dups, &["E0008"]);
    nasty(&mut failures, "10,000 arguments to conv", &model_with(&format!("  conv({})", args.join(", "))), &[]);
    failures.finish("wide blocks");
}

#[test]
fn long_flat_inputs() {
    let mut failures = Failures::default();
    let relus = "  relu\n".repeat(20_000);
    nasty(&mut failures, "20,000 statements", &model_with(&relus), &[]);
    let ident = "a".repeat(100_000);
    nasty(
        &mut failures,
        "100,000-character name",
        &model_with(&format!("  {ident} = relu\n  {ident}x = from {ident} relu")),
        &[],
    );
    let sum = vec!["1"; 10_000].join(" + ");
    nasty(&mut failures, "10,000-term sum", &model_with(&format!("  conv({sum}, 3)")), &[]);
    let product = vec!["2"; 100].join(" * ");
    nasty(&mut failures, "2^100 product", &model_with(&format!("  conv({product}, 3)")), &[]);
    let names: Vec<String> = (0..5_000).map(|i| format!("t{i}")).collect();
    let defs: String = names.iter().map(|n| format!("  {n} = from x relu\n")).collect();
    nasty(&mut failures, "concat of 5,000 tensors", &model_with(&format!("{defs}  concat({})", names.join(", "))), &[]);
    let allows = format!("@allow({})\n{}", vec!["W9999"; 10_000].join(", "), model_with("  relu"));
    nasty(&mut failures, "10,000 unknown @allow codes", &allows, &["W0007"]);
    let models: String = (0..300).map(|i| format!("model m{i} {{ input x: [1, 3, 8, 8] conv(8, 9) }}\n")).collect();
    nasty(&mut failures, "300 broken models", &models, &["E0101"]);
    let chain: String = (0..500).map(|i| format!("block b{i}() {{ b{}() }}\n", i + 1)).collect::<String>()
        + "block b500() { relu }\n"
        + &model_with("  b0()");
    nasty(&mut failures, "a chain of 500 blocks", &chain, &[]);
    failures.finish("long flat inputs");
}

#[test]
fn non_ascii_text() {
    let mut failures = Failures::default();
    // Fine: non-ASCII only in comments, and `×` in kernel pairs.
    let comments = "// Ünïcödé 𝔸 🚀 中文 \u{202E}reversed\u{202C} \u{200D}\n\
                    /* 🚀 /* nested é */ 𝔸 */\n\
                    model net { // 😀\n  input x: [1, 3, 32, 32] // ∑\n  conv(8, 3×3) /* é */\n  relu\n}\n";
    nasty(&mut failures, "unicode in comments", comments, &[]);
    let bom = format!("\u{FEFF}{comments}");
    nasty(&mut failures, "leading byte-order mark", &bom, &[]);
    // Identifiers are ASCII: a non-ASCII name is a syntax error.
    for (name, text) in [
        ("accented model name", "model nét {\n  input x: [1, 3, 32, 32]\n  relu\n}\n".to_string()),
        ("accented layer name", model_with("  conv_é = conv(8, 3)")),
        ("Cyrillic layer name", model_with("  сonv = conv(8, 3)")),
        ("emoji layer name", model_with("  🚀 = relu")),
        ("astral-plane name", model_with("  𝔸 = relu\n  relu")),
        ("combining accent after a name", model_with("  e\u{301} = relu")),
        ("non-ASCII digit", "model net {\n  input x: [1, 3, ٣٢, 32]\n  relu\n}\n".to_string()),
        ("full-width parenthesis", model_with("  conv（8, 3)")),
        ("non-ASCII input name", "model net {\n  input 画像: [1, 3, 32, 32]\n  relu\n}\n".to_string()),
        ("non-ASCII at the very end", "model net {\n  input x: [1, 3, 32, 32]\n  relu\n}é".to_string()),
        ("lone multibyte char", "é".to_string()),
        ("non-ASCII allow code", "@allow(Wé01)\nmodel net {\n  input x: [1, 3, 32, 32]\n  relu\n}\n".to_string()),
    ] {
        nasty(&mut failures, name, &text, &["E0001"]);
    }
    // Odd but not errors of a particular kind: just must not panic.
    for (name, text) in [
        ("empty file", String::new()),
        ("only whitespace", " \t\r\n\u{FEFF}".to_string()),
        ("CRLF line ends", comments.replace('\n', "\r\n")),
        ("NUL bytes", "model net {\0\n  input x: [1, 3, 32, 32]\n  relu\0\n}\n".to_string()),
        ("unterminated block comment", "/* /* */ model net { }".to_string()),
        ("replacement chars", "\u{FFFD}\u{FFFD}model\u{FFFD}".to_string()),
        ("x pair next to a multibyte char", model_with("  conv(8, 3×é)")),
        ("× as a name", model_with("  × = relu")),
    ] {
        nasty(&mut failures, name, &text, &[]);
    }
    failures.finish("non-ASCII text");
}

/// Regression inputs found by the fuzzer in `fuzz/` (each once made the checker panic, hang or
/// exhaust memory).
const FUZZ_REGRESSIONS: &[(&str, &str)] = &[];

#[test]
fn fuzzer_regressions() {
    let mut failures = Failures::default();
    for (name, text) in FUZZ_REGRESSIONS {
        nasty(&mut failures, name, text, &[]);
    }
    failures.finish("fuzzer regressions");
}

// ---------------------------------------------------------------------------------------------
// Deep nesting, in a child process
// ---------------------------------------------------------------------------------------------

/// Inputs nested 10,000 deep. Recursive descent (pest, the AST builder, the expander) could
/// overflow the stack on them, which aborts the process; so the parent test runs each one in a
/// child process and reports an abort as a failure naming the input.
fn deep_inputs() -> Vec<(&'static str, String)> {
    const DEPTH: usize = 10_000;
    let groups = format!("{}{}", "g = {\n".repeat(DEPTH), "relu\n}\n".repeat(DEPTH));
    vec![
        ("`{` 10,000 deep, unclosed", model_with(&"{".repeat(DEPTH))),
        ("`{` 10,000 deep, closed", model_with(&format!("  g = {}relu{}", "{ ".repeat(DEPTH), " }".repeat(DEPTH)))),
        ("named groups 10,000 deep", model_with(&groups)),
        ("seq 10,000 deep", model_with(&format!("  s = {}relu{}", "seq { ".repeat(DEPTH), " }".repeat(DEPTH)))),
        (
            "`(` 10,000 deep in an argument",
            model_with(&format!("  conv({}8{}, 3)", "(".repeat(DEPTH), ")".repeat(DEPTH))),
        ),
        ("`(` 10,000 deep, unclosed", model_with(&format!("  conv({}", "(".repeat(DEPTH)))),
        ("`/*` 10,000 deep", format!("{}{}", "/*".repeat(DEPTH), "*/".repeat(DEPTH))),
        ("`/*` 10,000 deep, unclosed", "/*".repeat(DEPTH)),
        ("`[` 10,000 deep in a shape", format!("model net {{ input x: {} }}", "[".repeat(DEPTH))),
    ]
}

/// Set in the child process: which deep input to check.
const CHILD_ENV: &str = "CNNC_ROBUSTNESS_DEEP_INPUT";

#[test]
fn deeply_nested_input_in_child() {
    // Only does something inside the child process started by `deeply_nested_inputs`.
    let Ok(index) = std::env::var(CHILD_ENV) else { return };
    let index: usize = index.parse().expect("index of a deep input");
    let (name, text) = &deep_inputs()[index];
    let mut failures = Failures::default();
    nasty(&mut failures, name, text, &[]);
    failures.finish(name);
}

#[test]
fn deeply_nested_inputs() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let exe = std::env::current_exe().expect("the test binary");
    let mut problems = Vec::new();
    for (index, (name, text)) in deep_inputs().iter().enumerate() {
        let started = Instant::now();
        let output = Command::new(&exe)
            .args(["--exact", "deeply_nested_input_in_child", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, index.to_string())
            .output()
            .expect("run the test binary as a child");
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let stdout = String::from_utf8_lossy(&output.stdout);
            let why = if stderr.contains("overflowed its stack") {
                "STACK OVERFLOW (the process aborted)".to_string()
            } else {
                format!("the child failed ({})", output.status)
            };
            problems.push(format!(
                "{name} ({} bytes, {:?}): {why}\n{}\n{}",
                text.len(),
                started.elapsed(),
                excerpt(stderr.trim()),
                excerpt(stdout.trim())
            ));
        }
    }
    assert!(problems.is_empty(), "deeply nested inputs:\n\n{}", problems.join("\n\n"));
}
