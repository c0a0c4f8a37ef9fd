//! `cnnc bench`: compile a model and time it. Prints compile time (reading, parsing, checking,
//! lowering, weights and JIT), the first run, median and p90 latency over the timed runs,
//! GFLOP/s (2 × the multiply-adds of convolutions and dense layers, the suite's definition), the
//! share of a given FMA ceiling, the activation arena, peak memory, and each step's time with
//! what it fused.
//!
//! `--format json` prints exactly one JSON object on stdout, the contract of
//! `../shared/bench/run_peers.py` (`compile_ms`, `first_run_ms`, `median_ms`, `p90_ms`, `runs`,
//! plus optional keys); everything else goes to stderr.

use crate::inputs::{self, Inputs};
use crate::report::read_source;
use crate::report::ColorChoice;
use crate::run_cmd::{bound_graph, checked_model, declared_inputs, weights_for, RunFailure};
use crate::{Backend, Format};
use cnn_check::CheckOptions;
use cnn_io::HostTensor;
use cnn_ir::{Graph, Op};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub(crate) struct BenchArgs {
    /// The `.cnn` file.
    model: PathBuf,
    /// Weights (safetensors); without it, PyTorch's default initialisation.
    #[arg(long, short)]
    weights: Option<PathBuf>,
    /// The input `.npy` (one per model input); without it, seeded standard-normal values of the
    /// declared shape (symbolic sizes from `--dim`, a batch `N` defaults to 1).
    #[arg(long, short, num_args = 1..)]
    input: Vec<PathBuf>,
    /// Worker threads.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    #[arg(long, value_enum, default_value_t = Backend::Jit)]
    backend: Backend,
    /// Emit an explicit bounds check before every memory access of the generated code (slow;
    /// for debugging).
    #[arg(long)]
    bounds_checks: bool,
    /// Time runs for at least this many seconds (and at least 10 runs).
    #[arg(long, default_value_t = 1.0, value_parser = parse_seconds)]
    seconds: f64,
    /// The machine's f32x4 FMA ceiling in GFLOP/s per thread (from ../shared/tools/cranelift-peak),
    /// to report each model's share of it.
    #[arg(long, value_parser = parse_positive)]
    fma_peak: Option<f64>,
    /// Write the (last run's) output here as `.npy`.
    #[arg(long, short)]
    output: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Give a symbolic dimension a value, e.g. `--dim H=224` (repeatable).
    #[arg(long, value_parser = crate::parse_binding)]
    dim: Vec<(String, u64)>,
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

/// A time budget: finite and not negative (at most a day).
fn parse_seconds(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(v) if (0.0..=86_400.0).contains(&v) => Ok(v),
        _ => Err(format!("`{text}` is not a number of seconds between 0 and 86400")),
    }
}

/// A rate: finite and above zero.
fn parse_positive(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!("`{text}` is not a positive number")),
    }
}

pub(crate) fn run(args: &BenchArgs) -> u8 {
    match bench(args) {
        Ok(()) => 0,
        Err(RunFailure::Model) => 1,
        Err(RunFailure::Usage(message)) => {
            eprintln!("error: {message}");
            2
        }
    }
}

/// A compiled model of either backend.
enum Runner {
    Jit(Box<cnn_jit::Executable>),
    Reference(Graph, cnn_runtime::Weights),
}

impl Runner {
    fn run(&mut self, inputs: &[HostTensor]) -> Result<Vec<HostTensor>, String> {
        match self {
            Runner::Jit(exe) => exe.run(inputs).map_err(|e| e.to_string()),
            Runner::Reference(graph, weights) => {
                cnn_runtime::reference::run(graph, weights, inputs).map_err(|e| e.to_string())
            }
        }
    }
}

fn bench(args: &BenchArgs) -> Result<(), RunFailure> {
    let color = ColorChoice::Auto.enabled();
    let arrays = match args.input.is_empty() {
        true => Vec::new(),
        false => match inputs::collect(&args.input, &None)? {
            Inputs::Arrays(arrays) => arrays,
            Inputs::Images(_) => return Err(RunFailure::Usage("`cnnc bench` takes .npy inputs".into())),
        },
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads.max(1))
        .build()
        .map_err(|e| format!("cannot start {} threads: {e}", args.threads))?;

    // Everything from here to the first run is compile time.
    let start = Instant::now();
    let source = read_source(&args.model)?;
    let options = CheckOptions { bindings: args.dim.clone(), ..CheckOptions::default() };
    let model = checked_model(&source, &options, None, color)?;
    let declared = declared_inputs(&model);
    let mut bindings = args.dim.clone();
    if arrays.is_empty() {
        for dims in &declared {
            for name in dims.first().map(|d| d.symbols()).unwrap_or_default() {
                if !bindings.iter().any(|(s, _)| s.as_str() == &*name) {
                    bindings.push((name.to_string(), 1));
                }
            }
        }
    } else {
        if arrays.len() != declared.len() {
            return Err(RunFailure::Usage(format!(
                "`{}` takes {} inputs, {} given",
                model.name,
                declared.len(),
                arrays.len()
            )));
        }
        for ((path, tensor), shape) in arrays.iter().zip(&declared) {
            inputs::bind_shape(shape, &tensor.shape, &format!("`{}`", path.display()), &mut bindings)?;
        }
    }
    let graph = bound_graph(&source, &bindings, None, color)?;
    let weights_file = args.weights.as_deref().map(crate::weights::read_weight_file).transpose()?;
    let weights = weights_for(&graph, weights_file.as_ref(), &source, &model, args.seed, color)?;
    let mut runner = match args.backend {
        Backend::Jit => Runner::Jit(Box::new(crate::engine::compile(&graph, &weights, args.bounds_checks)?)),
        Backend::Reference => Runner::Reference(graph.clone(), weights),
    };
    let compile = start.elapsed();

    let tensors: Vec<HostTensor> =
        if arrays.is_empty() { random_inputs(&graph, args.seed) } else { arrays.into_iter().map(|(_, t)| t).collect() };
    let cpu_before = cpu_time();
    let timing = pool.install(|| time_runs(&mut runner, &tensors, args.seconds))?;
    let cpu_util = match (cpu_before, cpu_time()) {
        (Some(a), Some(b)) => Some((b - a).as_secs_f64() / timing.wall.as_secs_f64().max(1e-9)),
        _ => None,
    };
    let layer_times = match &mut runner {
        Runner::Jit(exe) => pool.install(|| layer_times(exe, &tensors)),
        Runner::Reference(..) => Vec::new(),
    };
    if let Some(path) = &args.output {
        let output = timing.output.first().ok_or_else(|| "the model has no output".to_string())?;
        std::fs::write(path, cnn_io::write_npy(output))
            .map_err(|e| format!("cannot write `{}`: {e}", path.display()))?;
    }
    let flop = 2.0 * macs(&graph) as f64;
    let report = Report { args, graph: &graph, runner: &runner, compile, timing, cpu_util, flop, layer_times };
    match args.format {
        Format::Json => println!("{}", report.json()),
        Format::Human => report.print(),
    }
    Ok(())
}

fn random_inputs(graph: &Graph, seed: u64) -> Vec<HostTensor> {
    let mut state = seed ^ 0x5EED;
    let mut uniform = move || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    graph
        .inputs
        .iter()
        .map(|&t| {
            let shape = graph.tensors[t].shape.clone();
            let n = shape.iter().product();
            // Box–Muller: standard normal values, like the suite's inputs.
            let data =
                (0..n).map(|_| ((-2.0 * uniform().ln()).sqrt() * (std::f64::consts::TAU * uniform()).cos()) as f32);
            HostTensor::new(shape, data.collect())
        })
        .collect()
}

/// Multiply-adds of the convolutions and dense layers.
fn macs(graph: &Graph) -> u64 {
    graph
        .nodes
        .iter()
        .map(|node| {
            let out = graph.shape(node.output);
            match node.op {
                Op::Conv2d(c) => {
                    (out.iter().product::<usize>() * c.in_channels / c.groups * c.kernel[0] * c.kernel[1]) as u64
                }
                Op::Dense { in_features, out_features, .. } => (out[0] * in_features * out_features) as u64,
                _ => 0,
            }
        })
        .sum()
}

struct Timing {
    first: Duration,
    times: Vec<Duration>,
    wall: Duration,
    output: Vec<HostTensor>,
}

fn time_runs(runner: &mut Runner, inputs: &[HostTensor], seconds: f64) -> Result<Timing, String> {
    let t = Instant::now();
    let output = runner.run(inputs)?;
    let first = t.elapsed();
    for _ in 0..3 {
        runner.run(inputs)?;
    }
    let progress = std::io::stderr().is_terminal();
    let budget = Duration::from_secs_f64(seconds.max(0.0));
    let wall_start = Instant::now();
    let mut times = Vec::new();
    while (wall_start.elapsed() < budget || times.len() < 10) && times.len() < 100_000 {
        let t = Instant::now();
        runner.run(inputs)?;
        times.push(t.elapsed());
        if progress && times.len() % 50 == 0 {
            let done = (wall_start.elapsed().as_secs_f64() / seconds.max(1e-9)).min(1.0);
            let bar = "#".repeat((done * 30.0) as usize);
            eprint!("\r  [{bar:<30}] {} runs", times.len());
        }
    }
    if progress {
        eprint!("\r{:60}\r", "");
    }
    Ok(Timing { first, times, wall: wall_start.elapsed(), output })
}

/// Mean time of each step over a few observed runs.
fn layer_times(exe: &mut cnn_jit::Executable, inputs: &[HostTensor]) -> Vec<Duration> {
    let steps = exe.plan().steps.len();
    let mut total = vec![Duration::ZERO; steps];
    let rounds = 5;
    for _ in 0..rounds {
        let mut last = Instant::now();
        let _ = exe.run_observed(inputs, |index, _| {
            let now = Instant::now();
            total[index] += now - last;
            last = now;
        });
    }
    total.iter().map(|t| *t / rounds).collect()
}

/// CPU time of this process (user + system), from /proc where it exists.
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// Peak resident memory of this process, from /proc where it exists.
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    Some(line.split_whitespace().nth(1)?.parse::<u64>().ok()? * 1024)
}

struct Report<'a> {
    args: &'a BenchArgs,
    graph: &'a Graph,
    runner: &'a Runner,
    compile: Duration,
    timing: Timing,
    cpu_util: Option<f64>,
    flop: f64,
    layer_times: Vec<Duration>,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

impl Report<'_> {
    fn sorted(&self) -> Vec<Duration> {
        let mut t = self.timing.times.clone();
        t.sort();
        t
    }

    fn median(&self) -> Duration {
        let t = self.sorted();
        t[t.len() / 2]
    }

    fn p90(&self) -> Duration {
        let t = self.sorted();
        t[(0.9 * (t.len() - 1) as f64).floor() as usize]
    }

    fn gflops(&self) -> f64 {
        self.flop / self.median().as_secs_f64() / 1e9
    }

    fn json(&self) -> String {
        let mut obj = serde_json::json!({
            "compile_ms": ms(self.compile),
            "first_run_ms": ms(self.timing.first),
            "median_ms": ms(self.median()),
            "p90_ms": ms(self.p90()),
            "min_ms": ms(self.sorted()[0]),
            "runs": self.timing.times.len(),
            "version": format!("cnnc {}", env!("CARGO_PKG_VERSION")),
            "backend": match self.args.backend { Backend::Jit => "jit", Backend::Reference => "reference" },
            "threads": self.args.threads,
            "gflops": self.gflops(),
        });
        if let Some(u) = self.cpu_util {
            obj["cpu_util"] = u.into();
        }
        if let Some(peak) = self.args.fma_peak {
            obj["fma_peak_share"] = (self.gflops() / (peak * self.args.threads as f64)).into();
        }
        if let Some(rss) = peak_rss_bytes() {
            obj["peak_rss_bytes"] = rss.into();
        }
        if let Runner::Jit(exe) = self.runner {
            let (arena, unshared) = exe.arena_bytes();
            obj["arena_bytes"] = arena.into();
            obj["unshared_activation_bytes"] = unshared.into();
            obj["kernels_compiled"] = exe.kernels_compiled.into();
            obj["kernels_reused"] = exe.kernels_reused.into();
        }
        obj.to_string()
    }

    fn print(&self) {
        let name = &self.graph.name;
        let backend = match self.args.backend {
            Backend::Jit => "jit",
            Backend::Reference => "reference",
        };
        println!("{name} ({backend}, {} thread{})", self.args.threads, if self.args.threads == 1 { "" } else { "s" });
        println!("  compile      {:>10.3} ms  (read + parse + check + lower + weights + JIT)", ms(self.compile));
        println!("  first run    {:>10.3} ms", ms(self.timing.first));
        println!("  median       {:>10.3} ms  over {} runs", ms(self.median()), self.timing.times.len());
        println!("  p90          {:>10.3} ms", ms(self.p90()));
        let share = self
            .args
            .fma_peak
            .map(|p| {
                format!(
                    "  ({:.0}% of the f32x4 FMA ceiling {:.1} GFLOP/s)",
                    100.0 * self.gflops() / (p * self.args.threads as f64),
                    p * self.args.threads as f64
                )
            })
            .unwrap_or_default();
        println!("  GFLOP/s      {:>10.2}{share}", self.gflops());
        if let Some(rss) = peak_rss_bytes() {
            println!("  peak memory  {:>10.1} MiB (resident)", rss as f64 / (1 << 20) as f64);
        }
        let Runner::Jit(exe) = self.runner else { return };
        let (arena, unshared) = exe.arena_bytes();
        println!(
            "  activations  {:>10.1} KiB in one arena ({:.1} KiB if every tensor had its own buffer)",
            arena as f64 / 1024.0,
            unshared as f64 / 1024.0
        );
        println!("  kernels      {:>10} compiled, {} layers reused one", exe.kernels_compiled, exe.kernels_reused);
        let phases: Vec<String> = exe.phases.iter().map(|(name, t)| format!("{name} {:.1} ms", ms(*t))).collect();
        println!("  JIT phases   {}", phases.join(", "));
        println!();
        println!("  {:>9}  {:>7}  {:<30} layers", "time ms", "GFLOP/s", "how");
        for (step, time) in exe.steps().iter().zip(&self.layer_times) {
            if step.layers.is_empty() && time.as_secs_f64() < 1e-6 {
                continue;
            }
            let rate = if step.macs > 0 {
                format!("{:.1}", 2.0 * step.macs as f64 / time.as_secs_f64() / 1e9)
            } else {
                String::new()
            };
            println!("  {:>9.4}  {:>7}  {:<30} {}", ms(*time), rate, step.how, step.layers.join(" + "));
        }
    }
}
