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
//! that takes longer than [`HANG`] of CPU time counts as a hang, and a watchdog ends the
//! process (naming the input) if one never returns. The hand-written inputs run in
//! child processes (this test binary again), so a stack overflow is reported as a failure with
//! its input instead of killing every other test. `CNNC_ROBUSTNESS_VERBOSE=1` prints timings
//! and the diagnostics of each hand-written input.

use cnn_check::{check_source, CheckOptions, CheckResult};
use cnn_diag::render::{diagnostic_json, render_human, HumanOptions};
use cnn_diag::{Code, SourceFile, Span};
use cnnc_tests::{cnn_files, root};
use std::cell::{Cell, RefCell};
use std::fmt::Write as _;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, Once};
use std::time::{Duration, Instant};

/// One check taking longer than this is a hang, not slowness. Measured in CPU time of the
/// checking thread where Linux tells it (so a busy shared machine does not make a slow check
/// look like a hang), else in wall time.
const HANG: Duration = Duration::from_secs(5);
/// A check taking longer than this in wall time is a hang whatever its CPU time.
const HANG_WALL: Duration = Duration::from_secs(60);

/// Files up to this size have every prefix checked; longer ones every line end plus a stride.
const ALL_PREFIXES_UP_TO: usize = 1000;
/// About this many byte-stride prefixes per large file, on top of its line ends.
const STRIDE_PREFIXES: usize = 100;
/// At most this many prefixes in all (about 1 ms each in a debug build, more for large files).
const MAX_PREFIX_CHECKS: usize = 16_000;
/// Mutants checked in total, spread over the seed files.
const MUTANTS: usize = 3000;
/// Diagnostics of one input passed through the renderers (the first ones; rendering is not
/// what is tested, only that it copes with what the checker reports).
const RENDERED: usize = 20;
/// A check still running after this much CPU time (or [`HANG_WALL`]) is stopped by the
/// watchdog, which ends the whole process: a hang must fail the test, not stall it forever.
const HANG_ABORT: Duration = Duration::from_secs(15);

// ----- Running one check and judging the result ---------------------------------------------------

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
            // Numbered frame lines (`  12: cnn_check::infer::...`) outside the standard library,
            // the panic machinery and this file.
            let frames: Vec<&str> = backtrace
                .lines()
                .map(str::trim)
                .filter(|l| l.split_once(": ").is_some_and(|(n, _)| n.parse::<u32>().is_ok()))
                .filter(|l| {
                    !["std::", "core::", "alloc::", "__rustc", "rust_begin_unwind", "robustness::"].iter().any(|skip| {
                        l.split_once(": ")
                            .is_some_and(|(_, f)| f.starts_with(skip) || f.starts_with(&format!("<{skip}")))
                    })
                })
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
        let (what, input) = (&self.what, &self.input);
        writeln!(f, "{what}\n--- input ({} bytes) ---\n{}", input.len(), excerpt(input))?;
        match input.len() {
            0..=4000 => write!(f, "--- input as a Rust literal ---\n{input:?}"),
            _ => write!(f, "(too long to show as a literal)"),
        }
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

/// Check `text` as `cnnc check` does, catching a panic and timing the check.
fn run_check(name: &str, text: &str) -> Result<(SourceFile, CheckResult), Failure> {
    install_hook();
    let source = SourceFile::new(name, text);
    let options = CheckOptions { verify_fixes: true, ..CheckOptions::default() };
    let watching = watch(name, text);
    QUIET.with(|q| q.set(true));
    let start = Instant::now();
    let cpu_start = thread_cpu_time();
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| check_source(&source, &options)));
    drop(watching);
    let wall = start.elapsed();
    let cpu = cpu_start.zip(thread_cpu_time()).map(|(before, after)| after.saturating_sub(before));
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
    if cpu.unwrap_or(wall) > HANG || wall > HANG_WALL {
        return Err(fail(format!(
            "one check took {wall:?} ({cpu:?} of CPU): a hang, the limit is {HANG:?} of CPU time"
        )));
    }
    Ok((source, result))
}

/// What the watchdog prints before it ends a process; the parent of a child looks for it.
const WATCHDOG: &str = "robustness watchdog";

/// A check in progress, as the watchdog sees it.
struct Watched {
    id: u64,
    /// The checking thread's `/proc/<pid>/task/<tid>/schedstat`.
    schedstat: PathBuf,
    cpu_start: Option<Duration>,
    wall_start: Instant,
    name: String,
    excerpt: String,
}

static WATCHED: Mutex<Vec<Watched>> = Mutex::new(Vec::new());

/// Ends a watch when dropped.
struct Unwatch(u64);

impl Drop for Unwatch {
    fn drop(&mut self) {
        WATCHED.lock().unwrap_or_else(|e| e.into_inner()).retain(|w| w.id != self.0);
    }
}

/// Watch the current thread while it checks `text`, until the guard is dropped. A background
/// thread (started once) ends the process when one check exceeds [`HANG_ABORT`] of CPU time
/// or [`HANG_WALL`] of wall time, after printing which input it was.
fn watch(name: &str, text: &str) -> Unwatch {
    static START: Once = Once::new();
    static NEXT_ID: AtomicU64 = AtomicU64::new(0);
    START.call_once(|| {
        std::thread::spawn(|| loop {
            std::thread::sleep(Duration::from_millis(250));
            for w in WATCHED.lock().unwrap_or_else(|e| e.into_inner()).iter() {
                let cpu = w.cpu_start.zip(cpu_time(&w.schedstat)).map(|(a, b)| b.saturating_sub(a));
                let wall = w.wall_start.elapsed();
                if cpu.is_some_and(|c| c > HANG_ABORT) || wall > HANG_WALL {
                    eprintln!("{WATCHDOG}: HANG: {} still running after {wall:?} ({cpu:?} of CPU)", w.name);
                    eprintln!("--- input ---\n{}", w.excerpt);
                    std::process::exit(101);
                }
            }
        });
    });
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let schedstat = std::fs::read_link("/proc/thread-self").map(|t| Path::new("/proc").join(t).join("schedstat"));
    let schedstat = schedstat.unwrap_or_default();
    let cpu_start = cpu_time(&schedstat);
    let (name, excerpt) = (name.to_string(), excerpt(text));
    let watched = Watched { id, schedstat, cpu_start, wall_start: Instant::now(), name, excerpt };
    WATCHED.lock().unwrap_or_else(|e| e.into_inner()).push(watched);
    Unwatch(id)
}

/// CPU time a thread has used so far, from its `schedstat` file (Linux; the first field is
/// nanoseconds on the CPU); `None` where that cannot be read.
fn cpu_time(schedstat: &Path) -> Option<Duration> {
    let stat = std::fs::read_to_string(schedstat).ok()?;
    Some(Duration::from_nanos(stat.split_whitespace().next()?.parse().ok()?))
}

/// CPU time the current thread has used so far (Linux: `/proc/thread-self/schedstat`, whose
/// first field is nanoseconds on the CPU); `None` where that cannot be read.
fn thread_cpu_time() -> Option<Duration> {
    cpu_time(Path::new("/proc/thread-self/schedstat"))
}

fn payload_text(payload: &(dyn std::any::Any + Send)) -> String {
    let text = payload.downcast_ref::<&str>().map(|s| s.to_string());
    text.or_else(|| payload.downcast_ref::<String>().cloned()).unwrap_or_else(|| "(non-string panic)".into())
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
    let syntax_reported = result.diagnostics.iter().any(|d| d.code == Code::SYNTAX);
    if parser_rejects(&source) && !syntax_reported {
        return Err(fail("the parser rejects the text but the check reports no E0001".to_string()));
    }
    if render {
        QUIET.with(|q| q.set(true));
        let rendered = panic::catch_unwind(AssertUnwindSafe(|| {
            for d in result.diagnostics.iter().take(RENDERED) {
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
    fn record(&mut self, outcome: Result<CheckResult, Failure>) {
        self.checks += 1;
        if let Err(failure) = outcome {
            // The same fault tends to repeat for neighbouring prefixes: keep one per message.
            let key = failure.what.split_once(": ").map_or(failure.what.as_str(), |(_, rest)| rest);
            let key = key.lines().next().unwrap_or(key).to_string();
            if !self.list.iter().any(|f| f.what.contains(&key)) {
                self.list.push(failure);
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

// ----- Seed files ---------------------------------------------------------------------------------

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
/// end plus about [`STRIDE_PREFIXES`] evenly spaced cuts.
fn cut_points(text: &str) -> Vec<usize> {
    let mut cuts: Vec<usize> = if text.len() <= ALL_PREFIXES_UP_TO {
        text.char_indices().map(|(i, _)| i).collect()
    } else {
        let stride = (text.len() / STRIDE_PREFIXES).max(1);
        let mut cuts: Vec<usize> = text.match_indices('\n').map(|(i, _)| i + 1).collect();
        // An odd stride, so the cuts drift across token boundaries instead of keeping a phase.
        cuts.extend((0..text.len()).step_by(stride | 1).map(|i| floor_boundary(text, i)));
        cuts
    };
    cuts.push(text.len());
    cuts.sort_unstable();
    cuts.dedup();
    cuts
}

/// The prefixes to check: `(file name, file text, cut points)`. When the files together ask
/// for more than [`MAX_PREFIX_CHECKS`] (tests/ui keeps growing), every file is thinned evenly,
/// always keeping the whole file.
fn prefix_plan() -> Vec<(String, String, Vec<usize>)> {
    let mut plan: Vec<(String, String, Vec<usize>)> = seed_files()
        .into_iter()
        .map(|(name, text)| {
            let cuts = cut_points(&text);
            (name, text, cuts)
        })
        .collect();
    let total: usize = plan.iter().map(|(_, _, cuts)| cuts.len()).sum();
    let keep_every = total.div_ceil(MAX_PREFIX_CHECKS).max(1);
    for (_, text, cuts) in &mut plan {
        *cuts = cuts.iter().copied().step_by(keep_every).chain([text.len()]).collect();
        cuts.dedup();
    }
    plan
}

// ----- (a) Prefixes -------------------------------------------------------------------------------

#[test]
fn every_prefix_of_every_file_is_checked_without_panicking() {
    let mut failures = Failures::default();
    for (name, text, cuts) in prefix_plan() {
        let started = Instant::now();
        for &cut in &cuts {
            let prefix = &text[..cut];
            let label = format!("{name} cut at byte {cut}");
            // Beyond not panicking: a prefix the parser rejects is reported (E0001), not
            // accepted silently (checked in `check_input`).
            failures.record(check_input(&label, prefix, false));
        }
        if std::env::var_os("CNNC_ROBUSTNESS_VERBOSE").is_some() {
            eprintln!("{name}: {} bytes, {} prefixes, {:?}", text.len(), cuts.len(), started.elapsed());
        }
    }
    failures.finish("prefixes");
}

// ----- (b) Mutations ------------------------------------------------------------------------------

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

/// Byte ranges of the integer literals (tokens made of ASCII digits only).
fn numbers(text: &str) -> Vec<(usize, usize)> {
    tokens(text).into_iter().filter(|&(s, e)| text[s..e].bytes().all(|b| b.is_ascii_digit())).collect()
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

// ----- (c) Hand-written nasty inputs, each in a child process -------------------------------------

/// One hand-written input; `expect` lists codes that must be among its diagnostics.
struct Case {
    name: String,
    text: String,
    expect: &'static [&'static str],
}

fn case(name: impl Into<String>, text: impl Into<String>, expect: &'static [&'static str]) -> Case {
    Case { name: name.into(), text: text.into(), expect }
}

fn model_with(body: &str) -> String {
    format!("model net {{\n  input x: [1, 3, 32, 32]\n{body}\n}}\n")
}

/// Blocks that repeat blocks that repeat blocks: 10^9 layers if expanded.
fn repeat_cases() -> Vec<Case> {
    // b1 repeats b2 1000 times, b2 repeats b3 1000 times, b3 repeats relu 1000 times. The
    // expansion must stop at the layer limit, quickly, with E0109.
    let nested = "block b3() { r = relu * 1000 }\n\
                  block b2() { x = b3() * 1000 }\n\
                  block b1() { x = b2() * 1000 }\n\
                  model net {\n  input x: [1, 3, 32, 32]\n  big = b1() * 1000\n}\n";
    vec![
        case("b1 = b2 * 1000 nested 3 levels", nested, &["E0109"]),
        case("b1 = b2 * 1000 nested, bare calls", nested.replace("() *", " *"), &["E0109"]),
        case("repeat 99999999999999999999", model_with("  relu * 99999999999999999999"), &[]),
        case("repeat 0", model_with("  relu * 0"), &[]),
        case("repeat 100000", model_with("  r = relu * 100000"), &[]),
        case("repeat 100001", model_with("  r = relu * 100001"), &[]),
    ]
}

/// Big expansions meeting the verified fix search, which re-checks the whole file up to 48
/// times: near the layer limit that must still end in reasonable time.
fn slow_cases() -> Vec<Case> {
    let convs = |n: usize, tail: &str| model_with(&format!("  c = conv(3, 3, padding=1) * {n}\n{tail}"));
    vec![
        case(
            "10,000 convolutions, then a dense width error",
            convs(10_000, "  flatten\n  dense(10, in=7)"),
            &["E0107"],
        ),
        case("99,000 convolutions, then a kernel larger than the input", convs(99_000, "  conv(8, 40)"), &["E0101"]),
        case(
            "an unknown layer repeated 20,000 times, plus a typo",
            model_with("  b = bogus * 20000\n  maxpoo(2)"),
            &[],
        ),
    ]
}

/// Sizes and arguments far beyond anything real.
fn huge_number_cases() -> Vec<Case> {
    vec![
        case("huge input dims", "model net {\n  input x: [1, 3, 99999999999, 99999999999]\n  relu\n}\n", &["E0109"]),
        case("dims beyond u64", "model net {\n  input x: [1, 3, 99999999999999999999, 7]\n  relu\n}\n", &[]),
        case("zero dims", "model net {\n  input x: [0, 0, 0, 0]\n  conv(8, 3)\n  flatten\n  dense(10)\n}\n", &[]),
        case("huge conv", model_with("  conv(99999999999, 99999)"), &[]),
        case("huge conv, padded", model_with("  conv(99999999999, 99999, padding=99999999999)"), &[]),
        case("huge conv pair", model_with("  conv(64, 99999999999x99999999999, dilation=99999999999)"), &[]),
        case("huge maxpool stride", model_with("  maxpool(1, stride=99999999999)"), &[]),
        case("maxpool stride beyond u64", model_with("  maxpool(2, stride=99999999999999999999, ceil=true)"), &[]),
        case("huge avgpool", model_with("  avgpool(99999999999, padding=99999999999, ceil=true)"), &[]),
        case("huge groups", model_with("  conv(64, 3, groups=99999999999)"), &[]),
        case("huge depthwise", model_with("  depthwise(3, multiplier=99999999999)"), &[]),
        case("huge dense", model_with("  flatten\n  dense(99999999999)\n  dense(99999999999)"), &[]),
        case("huge adaptive", model_with("  adaptive_avgpool(99999999999x99999999999)\n  flatten\n  dense(10)"), &[]),
        case("huge blurpool", model_with("  blurpool(stride=99999999999, filter=99999999999)"), &[]),
        case("negative everything", model_with("  conv(-64, -3, stride=-2, padding=-1, dilation=-1, groups=-1)"), &[]),
        case("float where int", model_with("  conv(1e300, 3.5, stride=0.5)\n  dropout(p=1e999)"), &[]),
        case("softmax far dim", model_with("  softmax(dim=99999999999)\n  softmax(dim=-99999999999)"), &[]),
        case(
            "block arithmetic overflow",
            "block b(c) { conv(c * c * c * c * c * c, 3) }\n\
             model net {\n  input x: [1, 3, 32, 32]\n  b(99999999999)\n  b(-99999999999)\n  b(0)\n}\n",
            &[],
        ),
        case(
            "division by zero in a block",
            "block b(c) { conv(c / 0, 3 % 0) }\nmodel net {\n  input x: [1, 3, 32, 32]\n  b(0)\n}\n",
            &[],
        ),
        case("rank 0 input", "model net {\n  input x: []\n  relu\n}\n", &[]),
        case("rank 1 input", "model net {\n  input x: [7]\n  conv(8, 3)\n}\n", &[]),
        case("rank 100 input", format!("model net {{\n  input x: [{}]\n  relu\n}}\n", vec!["99999"; 100].join(", ")), &["E0010"]),
        case("zero kernels", model_with("  conv(8, 0x0)\n  maxpool(0)\n  adaptive_avgpool(0)"), &[]),
        case("huge 4-tuple padding", model_with("  conv(8, 3, padding=(99999999999, 0, 0, 99999999999))"), &[]),
        case("huge pair stride", model_with("  conv(8, 3, stride=(99999999999, 1), dilation=(1, 99999999999))"), &[]),
        case(
            "huge stride on symbolic sizes",
            "model net {\n  input x: [N, 3, H, W]\n  conv(99999999999, 3, stride=99999999999)\n  flatten\n  dense(10)\n}\n",
            &[],
        ),
    ]
}

/// Wide rather than deep: many parameters, arguments, statements, names.
fn wide_cases() -> Vec<Case> {
    let params: Vec<String> = (0..10_000).map(|i| format!("p{i}")).collect();
    let args = (0..10_000).map(|i| (i % 7 + 1).to_string()).collect::<Vec<_>>().join(", ");
    let block = |call_args: &str| {
        format!(
            "block wide({}) {{\n  conv(p0, p1)\n  relu\n}}\nmodel net {{\n  input x: [1, 3, 32, 32]\n  w = wide({call_args})\n}}\n",
            params.join(", ")
        )
    };
    // Named and surplus arguments take the same paths as positional ones; 3,000 keeps them quick.
    let named = (0..3_000).map(|i| format!("p{i}={}", i % 7 + 1)).collect::<Vec<_>>().join(", ");
    let names: Vec<String> = (0..5_000).map(|i| format!("t{i}")).collect();
    let defs: String = names.iter().map(|n| format!("  {n} = from x relu\n")).collect();
    let ident = "a".repeat(100_000);
    vec![
        case("a block with 10,000 parameters", block(&args), &[]),
        case("3,000 named arguments for 10,000 parameters", block(&named), &[]),
        case("10,001 arguments for 10,000 parameters", block(&format!("{args}, 1")), &["E0006"]),
        case(
            "10,000 duplicate parameters",
            format!("block d({}) {{ relu }}\n{}", vec!["p"; 10_000].join(", "), model_with("  d(1)")),
            &["E0008"],
        ),
        case("10,000 arguments to conv", model_with(&format!("  conv({args})")), &[]),
        case("10,000 statements", model_with(&"  relu\n".repeat(10_000)), &[]),
        case("100,000-character name", model_with(&format!("  {ident} = relu\n  {ident}x = from {ident} relu")), &[]),
        case("concat of 5,000 tensors", model_with(&format!("{defs}  concat({})", names.join(", "))), &[]),
        case(
            "5,000 unknown @allow codes",
            format!("@allow({})\n{}", vec!["W9999"; 5_000].join(",\n"), model_with("  relu")),
            &["W0007"],
        ),
        case(
            "100 broken models",
            (0..100).map(|i| format!("model m{i} {{ input x: [1, 3, 8, 8] conv(8, 9) }}\n")).collect::<String>(),
            &["E0101"],
        ),
    ]
}

/// Long but flat in the text, deep in the syntax tree or the expansion: a sum is a left-deep
/// tree of binary operations, a chain of blocks nests one instantiation in the next.
fn chain_cases() -> Vec<Case> {
    let arithmetic = |n: usize, op: &str| model_with(&format!("  conv({}, 3)", vec!["1"; n].join(op)));
    vec![
        case("100-term sum", arithmetic(100, " + "), &[]),
        case("1,000-term sum", arithmetic(1_000, " + "), &[]),
        case("10,000-term sum", arithmetic(10_000, " + "), &[]),
        case("10,000-factor product", arithmetic(10_000, " * "), &[]),
        case("2^100 product", model_with(&format!("  conv({}, 3)", vec!["2"; 100].join(" * "))), &["E0109"]),
        case("a chain of 100 blocks", block_chain(100), &[]),
        case("a chain of 1,000 blocks", block_chain(1_000), &[]),
    ]
}

/// What the checker reports must also be printable by `cnnc check`'s renderers.
fn render_cases() -> Vec<Case> {
    let far_right = |column: usize| model_with(&format!("{}bogus", " ".repeat(column)));
    vec![
        case("an error at column 60,000", far_right(60_000), &["E0002"]),
        // miette pads with `{:width$}`, and std rejects widths above u16::MAX.
        case("an error past column 65,535", far_right(70_000), &["E0002"]),
        case("an error after 100,000 line breaks", model_with(&format!("  conv(8, 3,{},)", "\n".repeat(100_000))), &[]),
    ]
}

/// `b0` uses `b1` uses ... `b{n}`, which is a `relu`.
fn block_chain(n: usize) -> String {
    let mut text: String = (0..n).map(|i| format!("block b{i}() {{ b{}() }}\n", i + 1)).collect();
    text += &format!("block b{n}() {{ relu }}\n");
    text + &model_with("  b0()")
}

/// Identifiers are ASCII: a non-ASCII name is a syntax error. Comments may hold anything.
fn unicode_cases() -> Vec<Case> {
    let comments = "// Ünïcödé 𝔸 🚀 中文 \u{202E}reversed\u{202C} \u{200D}\n\
                    /* 🚀 /* nested é */ 𝔸 */\n\
                    model net { // 😀\n  input x: [1, 3, 32, 32] // ∑\n  conv(8, 3×3) /* é */\n  relu\n}\n";
    let mut cases = vec![
        case("unicode in comments", comments, &[]),
        case("leading byte-order mark", format!("\u{FEFF}{comments}"), &[]),
        case("CRLF line ends", comments.replace('\n', "\r\n"), &[]),
        case("empty file", "", &[]),
        case("only whitespace", " \t\r\n\u{FEFF}", &[]),
        case("NUL bytes", "model net {\0\n  input x: [1, 3, 32, 32]\n  relu\0\n}\n", &[]),
        case("unterminated block comment", "/* /* */ model net { }", &[]),
        case("replacement characters", "\u{FFFD}\u{FFFD}model\u{FFFD}", &[]),
        case("x pair next to a multibyte char", model_with("  conv(8, 3×é)"), &[]),
        case("× as a name", model_with("  × = relu"), &[]),
    ];
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
        cases.push(case(name, text, &["E0001"]));
    }
    cases
}

/// `{ { ... relu ... } }`, `depth` deep.
fn closed_n(depth: usize) -> String {
    format!("{}relu{}", "{ ".repeat(depth), " }".repeat(depth))
}

/// Nested 10,000 deep. Recursive descent (pest, the AST builder, the expander) could overflow
/// the stack here, which aborts the process: that is why every case runs in a child process.
fn deep_cases() -> Vec<Case> {
    const DEPTH: usize = 10_000;
    let closed = |open: &str, inner: &str, close: &str| format!("{}{inner}{}", open.repeat(DEPTH), close.repeat(DEPTH));
    vec![
        case("`{` 10,000 deep, unclosed", model_with(&"{".repeat(DEPTH)), &["E0001"]),
        case("`{` 10,000 deep, closed", model_with(&format!("  g = {}", closed("{ ", "relu", " }"))), &[]),
        case("named groups 10,000 deep", model_with(&closed("g = {\n", "relu\n", "}\n")), &[]),
        case("seq 10,000 deep", model_with(&format!("  s = {}", closed("seq { ", "relu", " }"))), &[]),
        case("`(` 10,000 deep in an argument", model_with(&format!("  conv({}, 3)", closed("(", "8", ")"))), &[]),
        case("`(` 10,000 deep, unclosed", model_with(&format!("  conv({}", "(".repeat(DEPTH))), &["E0001"]),
        case("`-(` 10,000 deep", model_with(&format!("  conv({}, 3)", closed("-(", "8", ")"))), &[]),
        case("`/*` 10,000 deep", closed("/*", "", "*/"), &[]),
        case("`/*` 10,000 deep, unclosed", "/*".repeat(DEPTH), &["E0001"]),
        case("`[` 10,000 deep in a shape", format!("model net {{ input x: {} }}", "[".repeat(DEPTH)), &["E0001"]),
        // Overflows the stack in the AST builder in optimised builds (the fuzzer's, and `cnnc`
        // in release at 10,000), where pest's stack guard lets this depth through.
        case("`{` 2,000 deep, closed", model_with(&format!("  g = {}", closed_n(2_000))), &[]),
        // Deep, but within what a parser may reasonably accept: must be checked, not refused.
        case("groups 200 deep", model_with(&format!("  g = {}", closed_n(200))), &[]),
    ]
}

/// Inputs found by the fuzzer in `fuzz/` that once made the checker panic, hang or exhaust
/// memory, minimised.
const FUZZ_REGRESSIONS: &[(&str, &str)] = &[
    // A squeezenet1_1 mutant (`expand3x3* 1000_activation = relu` inside `fire`, `maxpoo0l`):
    // 24 s per check in the fuzzer's ASan build, 5 s of CPU in a debug build. Each copy of the
    // unknown layer builds its own diagnostic with a suggestion search before duplicates are
    // dropped, and the fix search re-checks the whole file to verify each fix. Minimised, with
    // the repeat raised from 1000 to 3000 so the slowness is unmistakable in a debug build.
    (
        "unknown layer repeated 3000 times in a block used 8 times, plus a typo",
        "block fire(c) {\n  a = conv(c, 1)\n  b = bogus * 3000\n  relu\n}\n\
         model net {\n  input image: [N, 3, 224, 224]\n  f1 = fire(16)\n  f2 = fire(16)\n  f3 = fire(16)\n  \
         f4 = fire(16)\n  f5 = fire(16)\n  f6 = fire(16)\n  f7 = fire(16)\n  f8 = fire(16)\n  maxpoo(2)\n}\n",
    ),
];

fn fuzz_cases() -> Vec<Case> {
    FUZZ_REGRESSIONS.iter().map(|(name, text)| case(*name, *text, &[])).collect()
}

fn cases(group: &str) -> Vec<Case> {
    match group {
        "repeats" => repeat_cases(),
        "slow" => slow_cases(),
        "huge" => huge_number_cases(),
        "wide" => wide_cases(),
        "unicode" => unicode_cases(),
        "deep" => deep_cases(),
        "chains" => chain_cases(),
        "render" => render_cases(),
        "fuzz" => fuzz_cases(),
        _ => panic!("no case group {group}"),
    }
}

/// Set in a child process: `group/index` of the one case it checks.
const CHILD_ENV: &str = "CNNC_ROBUSTNESS_CASE";

/// Check one case in this process (the child's side).
fn check_case(case: &Case) -> Result<(), Failure> {
    let started = Instant::now();
    let result = check_input(&case.name, &case.text, true)?;
    if std::env::var_os("CNNC_ROBUSTNESS_VERBOSE").is_some() {
        eprintln!("  {}: {} diagnostics in {:?}", case.name, result.diagnostics.len(), started.elapsed());
        for d in &result.diagnostics {
            eprintln!("  {}: {} {} at {:?}", case.name, d.code, d.message, d.primary.span);
        }
    }
    let reported = |code: &&str| result.diagnostics.iter().any(|d| d.code.as_str() == *code);
    let missing: Vec<&str> = case.expect.iter().copied().filter(|code| !reported(code)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let got: Vec<String> = result.diagnostics.iter().map(|d| format!("{} {}", d.code, d.message)).collect();
    Err(Failure {
        what: format!("{}: expected {missing:?} among the diagnostics, got {got:#?}", case.name),
        input: case.text.clone(),
    })
}

/// Not a test of its own: the body of the child process that [`run_group`] starts.
#[test]
fn case_in_child_process() {
    let Ok(which) = std::env::var(CHILD_ENV) else { return };
    let (group, index) = which.split_once('/').expect("group/index");
    let cases = cases(group);
    let case = &cases[index.parse::<usize>().expect("case index")];
    if let Err(failure) = check_case(case) {
        panic!("{failure}");
    }
}

/// Run every case of a group, each in a child process (this test binary, filtered to
/// [`case_in_child_process`]); report every case that failed, panicked or crashed.
fn run_group(group: &str) {
    if std::env::var_os(CHILD_ENV).is_some() {
        return;
    }
    let exe = std::env::current_exe().expect("the test binary");
    let mut problems = Vec::new();
    let cases = cases(group);
    for (index, case) in cases.iter().enumerate() {
        let started = Instant::now();
        let mut child = Command::new(&exe);
        child.args(["--exact", "case_in_child_process", "--nocapture", "--test-threads=1"]);
        child.env(CHILD_ENV, format!("{group}/{index}"));
        // A concurrent `cargo test` may be replacing this binary on disk just now: retry a little.
        let output = (0..10)
            .find_map(|_| child.output().map_err(|_| std::thread::sleep(Duration::from_secs(1))).ok())
            .expect("run the test binary as a child");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        if output.status.success() && stdout.contains("1 passed") {
            continue;
        }
        let why = if stderr.contains(WATCHDOG) {
            "HANG: the watchdog stopped the process".to_string()
        } else if stderr.contains("overflowed its stack") {
            "STACK OVERFLOW: the process aborted".to_string()
        } else if output.status.success() {
            "the child process ran no test".to_string()
        } else {
            format!("failed ({})", output.status)
        };
        problems.push(format!(
            "--- {name} ({} bytes, {:?}): {why}\n{}",
            case.text.len(),
            started.elapsed(),
            excerpt(stderr.trim()),
            name = case.name,
        ));
    }
    assert!(
        problems.is_empty(),
        "{} of {} `{group}` cases failed:\n\n{}",
        problems.len(),
        cases.len(),
        problems.join("\n\n")
    );
}

/// One test per group of hand-written cases.
macro_rules! group_tests {
    ($($test:ident => $group:literal,)*) => {$(
        #[test]
        fn $test() {
            run_group($group);
        }
    )*};
}

group_tests! {
    exponential_repeats_stop_early_with_e0109 => "repeats",
    fix_search_and_repeats_end_on_huge_models => "slow",
    huge_numbers_are_reported_not_overflowed => "huge",
    wide_inputs => "wide",
    non_ascii_text => "unicode",
    deeply_nested_inputs => "deep",
    long_sums_and_block_chains => "chains",
    diagnostics_far_into_a_line_render => "render",
    fuzzer_regressions => "fuzz",
}
