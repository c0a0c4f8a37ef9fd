//! Differential tests: every generated kernel against the reference backend on random
//! configurations (kernel 1–7, stride 1–3, symmetric and asymmetric padding 0–3, dilation 1–3,
//! groups including depthwise, channel counts on and off multiples of four, odd sizes, batch
//! 1–3), each also with explicit bounds checks in the generated code.
//!
//! With small-integer inputs and weights every product and partial sum is an exact f32, so the
//! direct kernels must match the reference bit for bit whatever order they add in. With random
//! floats (and batch-norm folded into the weights) the bound is that of a length-K sum:
//! |error| ≤ γ_K · Σ|terms| with γ_K = K·u/(1−K·u), u = 2⁻²⁴, applied per output element
//! (plus the reference's own rounding to f32).

use cnn_io::HostTensor;
use cnn_ir::{Conv2d, Graph, Node, Op, Param, ParamRole, TensorInfo};
use cnn_jit::{compile, JitOptions};
use cnn_runtime::{reference, Weights};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next() % (hi - lo + 1) as u64) as usize
    }
    fn small_int(&mut self) -> f32 {
        self.range(0, 6) as f32 - 3.0
    }
    fn float(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    }
}

#[derive(Clone, Copy, Debug)]
enum Tail {
    None,
    Relu,
    BnRelu,
    Residual,
    ResidualRelu,
    Leaky,
    Relu6,
}

#[derive(Clone, Debug)]
struct Case {
    batch: usize,
    conv: Conv2d,
    in_hw: [usize; 2],
    out_hw: [usize; 2],
    tail: Tail,
}

fn out_len(len: usize, pad: usize, kernel: usize, stride: usize, dilation: usize) -> Option<usize> {
    let span = dilation * (kernel - 1) + 1;
    (len + pad >= span).then(|| (len + pad - span) / stride + 1)
}

fn random_case(rng: &mut Rng, allow_bn: bool) -> Case {
    loop {
        let (cin, cout, groups) = match rng.range(0, 5) {
            0 => {
                let c = rng.range(1, 12);
                (c, c, c) // depthwise
            }
            1 => {
                let g = rng.range(2, 3);
                (4 * g * rng.range(1, 2), 4 * g * rng.range(1, 2), g)
            }
            2 => {
                let g = 2;
                (g * rng.range(1, 3), g * rng.range(1, 3), g) // groups that split blocks: plain loops
            }
            _ => (rng.range(1, 13), rng.range(1, 20), 1),
        };
        let kernel = [rng.range(1, 7), rng.range(1, 7)];
        let stride = [rng.range(1, 3), rng.range(1, 3)];
        let dilation = if rng.range(0, 3) == 0 { [rng.range(1, 3), rng.range(1, 3)] } else { [1, 1] };
        let pads = if rng.range(0, 2) == 0 {
            let p = [rng.range(0, 3), rng.range(0, 3)];
            [p[0], p[0], p[1], p[1]]
        } else {
            [rng.range(0, 3), rng.range(0, 3), rng.range(0, 3), rng.range(0, 3)]
        };
        let in_hw = [rng.range(1, 17), rng.range(1, 23)];
        let (Some(oh), Some(ow)) = (
            out_len(in_hw[0], pads[0] + pads[1], kernel[0], stride[0], dilation[0]),
            out_len(in_hw[1], pads[2] + pads[3], kernel[1], stride[1], dilation[1]),
        ) else {
            continue;
        };
        let tails =
            [Tail::None, Tail::Relu, Tail::BnRelu, Tail::Residual, Tail::ResidualRelu, Tail::Leaky, Tail::Relu6];
        let mut tail = tails[rng.range(0, tails.len() - 1)];
        if !allow_bn && matches!(tail, Tail::BnRelu) {
            tail = Tail::Relu;
        }
        let conv = Conv2d {
            in_channels: cin,
            out_channels: cout,
            kernel,
            stride,
            pads,
            dilation,
            groups,
            bias: rng.range(0, 1) == 0,
            flip: rng.range(0, 5) == 0,
        };
        return Case { batch: rng.range(1, 3), conv, in_hw, out_hw: [oh, ow], tail };
    }
}

/// The case as a graph: conv, then its tail, with a second input for the residual.
fn graph(case: &Case) -> Graph {
    let c = &case.conv;
    let x_shape = vec![case.batch, c.in_channels, case.in_hw[0], case.in_hw[1]];
    let y_shape = vec![case.batch, c.out_channels, case.out_hw[0], case.out_hw[1]];
    let has_residual = matches!(case.tail, Tail::Residual | Tail::ResidualRelu);
    let mut tensors = vec![TensorInfo { name: Some("x".into()), shape: x_shape }];
    let mut inputs = vec![0];
    if has_residual {
        tensors.push(TensorInfo { name: Some("r".into()), shape: y_shape.clone() });
        inputs.push(1);
    }
    let mut nodes = Vec::new();
    let mut params = Vec::new();
    let span = cnn_diag::Span::default();
    let mut push = |name: &str, op: Op, ins: Vec<usize>, ps: Vec<usize>| {
        tensors.push(TensorInfo { name: None, shape: y_shape.clone() });
        nodes.push(Node { name: name.into(), op, inputs: ins, output: tensors.len() - 1, params: ps, span });
        tensors.len() - 1
    };
    let fan_in = c.in_channels / c.groups * c.kernel[0] * c.kernel[1];
    let mut param = |key: &str, shape: Vec<usize>, role| {
        params.push(Param { key: key.into(), shape, role, fan_in, node: 0 });
        params.len() - 1
    };
    let mut conv_params = vec![param(
        "conv.weight",
        vec![c.out_channels, c.in_channels / c.groups, c.kernel[0], c.kernel[1]],
        ParamRole::Weight,
    )];
    if c.bias {
        conv_params.push(param("conv.bias", vec![c.out_channels], ParamRole::Bias));
    }
    let mut y = push("conv", Op::Conv2d(*c), vec![0], conv_params);
    match case.tail {
        Tail::None => {}
        Tail::Relu => y = push("relu", Op::Relu, vec![y], vec![]),
        Tail::Relu6 => y = push("relu6", Op::Relu6, vec![y], vec![]),
        Tail::Leaky => y = push("leaky", Op::LeakyRelu { slope: 0.25 }, vec![y], vec![]),
        Tail::BnRelu => {
            let roles = [ParamRole::BnWeight, ParamRole::BnBias, ParamRole::RunningMean, ParamRole::RunningVar];
            let ps = roles.iter().map(|&r| param(&format!("bn.{r:?}"), vec![c.out_channels], r)).collect();
            y = push("bn", Op::BatchNorm { eps: 1e-5 }, vec![y], ps);
            y = push("relu", Op::Relu, vec![y], vec![]);
        }
        Tail::Residual | Tail::ResidualRelu => {
            y = push("add", Op::Add, vec![y, 1], vec![]);
            if matches!(case.tail, Tail::ResidualRelu) {
                y = push("relu", Op::Relu, vec![y], vec![]);
            }
        }
    }
    for p in params.iter_mut() {
        p.node = if p.key.starts_with("bn") { 1 } else { 0 };
    }
    Graph { name: "case".into(), span, tensors, inputs, outputs: vec![y], nodes, params }
}

fn values(rng: &mut Rng, graph: &Graph, ints: bool) -> (Weights, Vec<HostTensor>) {
    let mut draw = |n: usize| (0..n).map(|_| if ints { rng.small_int() } else { rng.float() }).collect::<Vec<f32>>();
    let values = graph
        .params
        .iter()
        .map(|p| {
            let n = p.shape.iter().product();
            match p.role {
                ParamRole::RunningVar => draw(n).iter().map(|v| v.abs() + 0.5).collect(),
                _ => draw(n),
            }
        })
        .collect();
    let inputs = graph
        .inputs
        .iter()
        .map(|&t| HostTensor::new(graph.tensors[t].shape.clone(), draw(graph.tensors[t].len())))
        .collect();
    (Weights { values }, inputs)
}

/// A 3×3 stride-1 case with enough channels for the Winograd path.
fn winograd_case(rng: &mut Rng) -> Case {
    let pad = rng.range(0, 2);
    let in_hw = [rng.range(3, 19), rng.range(3, 19)];
    let conv = Conv2d {
        in_channels: rng.range(16, 40),
        out_channels: rng.range(16, 40),
        kernel: [3, 3],
        stride: [1, 1],
        pads: [pad, pad, pad, pad],
        dilation: [1, 1],
        groups: 1,
        bias: rng.range(0, 1) == 0,
        flip: false,
    };
    let out_hw = [in_hw[0] + 2 * pad - 2, in_hw[1] + 2 * pad - 2];
    let tails = [Tail::None, Tail::Relu, Tail::BnRelu, Tail::ResidualRelu];
    Case { batch: rng.range(1, 2), conv, in_hw, out_hw, tail: tails[rng.range(0, 3)] }
}

/// Winograd F(4×4, 3×3) against the reference, on random floats in [-1, 1].
///
/// The bound: each stage is a linear map whose rounding error is at most (terms · u) times
/// the magnitudes it combines, and the magnitudes grow by the maps' largest row sums of
/// absolute values: 10 for Bᵀ (applied on both sides: 100), 1/2 for G (1/4), 19 for Aᵀ (361).
/// So |error| ≤ (K + 24) · u · 100 · (1/4) · 361 · max|x| · max|w| · ... ≈ 9025·(K+24)·u per
/// unit-magnitude term, with K = 9·C_in the terms of the sum; batch-norm scales the weights by
/// at most 1/√0.5. The observed errors are far below this worst case; the largest is printed.
#[test]
fn winograd_stays_within_its_error_bound() {
    let mut rng = Rng(4);
    let mut worst_ratio = 0.0f64;
    for index in 0..200 {
        let case = winograd_case(&mut rng);
        let graph = graph(&case);
        let (weights, inputs) = values(&mut rng, &graph, false);
        let expected = reference::run(&graph, &weights, &inputs).expect("reference runs");
        let plan_steps = cnn_opt::build(&graph, &weights.values).expect("plans").steps.len();
        let mut exe = compile(&graph, &weights, JitOptions { bounds_checks: false, winograd: true }).expect("compiles");
        assert!(
            exe.steps().iter().any(|s| s.how.contains("Winograd")),
            "case {index}: Winograd not used ({plan_steps} steps)"
        );
        let got = exe.run(&inputs).expect("jit runs");
        let k = (case.conv.in_channels * 9) as f64;
        let u = f64::from(f32::EPSILON) / 2.0;
        let bound = 9025.0 * (k + 24.0) * u * 2.0_f64.sqrt() + 4.0 * u;
        for (i, (a, b)) in expected[0].data.iter().zip(&got[0].data).enumerate() {
            let err = (f64::from(*a) - f64::from(*b)).abs();
            assert!(err <= bound * f64::from(a.abs()).max(1.0), "case {index} {case:?}: element {i}: {a} vs {b}");
            worst_ratio = worst_ratio.max(err / bound);
        }
    }
    println!("Winograd: largest error is {worst_ratio:.2e} of the derived bound");
}

fn run_cases(seed: u64, count: usize, ints: bool, bounds_checks: bool) {
    let mut rng = Rng(seed);
    for index in 0..count {
        let case = random_case(&mut rng, !ints);
        let graph = graph(&case);
        let (weights, inputs) = values(&mut rng, &graph, ints);
        let expected = reference::run(&graph, &weights, &inputs).expect("reference runs");
        let mut exe = compile(&graph, &weights, JitOptions { bounds_checks, winograd: false })
            .unwrap_or_else(|e| panic!("case {index} {case:?}: {e}"));
        let got = exe.run(&inputs).expect("jit runs");
        let (e, g) = (&expected[0].data, &got[0].data);
        assert_eq!(e.len(), g.len());
        if ints {
            for (i, (a, b)) in e.iter().zip(g).enumerate() {
                assert!(
                    a.to_bits() == b.to_bits() || (*a == 0.0 && *b == 0.0),
                    "case {index} {case:?}: element {i}: reference {a}, jit {b}"
                );
            }
        } else {
            let k = case.conv.in_channels / case.conv.groups * case.conv.kernel[0] * case.conv.kernel[1] + 2;
            let u = f64::from(f32::EPSILON) / 2.0;
            let gamma = k as f64 * u / (1.0 - k as f64 * u);
            // Σ|terms| ≤ K · max|x| · max|w| (inputs and weights in [-1, 1]; batch-norm may scale
            // the weights by up to 1/√0.5), plus the bias and residual.
            let bound = gamma * (k as f64) * 2.0 + 4.0 * u;
            for (i, (a, b)) in e.iter().zip(g).enumerate() {
                let err = (f64::from(*a) - f64::from(*b)).abs();
                assert!(
                    err <= bound * f64::from(a.abs()).max(1.0),
                    "case {index} {case:?}: element {i}: reference {a}, jit {b}, error {err:e} > {bound:e}"
                );
            }
        }
    }
}

#[test]
fn small_integers_match_bit_for_bit() {
    run_cases(1, 1500, true, false);
}

#[test]
fn small_integers_match_with_bounds_checks_in_the_code() {
    run_cases(2, 500, true, true);
}

#[test]
fn random_floats_stay_within_the_sum_error_bound() {
    run_cases(3, 1000, false, false);
}
