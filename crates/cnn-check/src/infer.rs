//! Shape inference: walks the expanded layers in order, computing each output shape,
//! parameter count, MACs and receptive field, and explaining every layer that does not fit.
//!
//! A layer whose input shape is unknown is skipped silently: its cause has been reported
//! upstream, and one broken layer must not produce a cascade of follow-on errors.

use crate::dim::{AxisWindow, Dim};
use crate::graph::{CheckedModel, Layer, LayerInfo, Receptive, Shape};
use crate::ops::{ConvKind, ConvSpec, Op, PoolSpec};
use crate::window::{self, WindowLayer};
use cnn_diag::{Code, Diagnostic, Fix, Span, TextEdit};

/// The largest tensor cnnc will describe: 2^40 elements (4 TiB of f32).
pub const MAX_ELEMENTS: u64 = 1 << 40;

/// A condition on symbolic sizes found while inferring, for [`crate::sizes`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum SizeConstraint {
    /// The window must fit; `exact` also asks that it reads every row.
    Window {
        input: Dim,
        window: AxisWindow,
        exact: bool,
    },
    Equal(Dim, Dim),
    /// Reflect padding needs `input > pad`.
    Above(Dim, u64),
}

pub(crate) struct Inference<'m> {
    pub(crate) source: &'m str,
    pub(crate) model: &'m mut CheckedModel,
    pub(crate) diagnostics: Vec<Diagnostic>,
    pub(crate) constraints: Vec<(SizeConstraint, Span)>,
}

/// The outcome of one layer: its output shape and what it costs, or why it failed.
type LayerResult = Result<(Shape, LayerInfo, Option<Receptive>), Vec<Diagnostic>>;

impl Inference<'_> {
    pub(crate) fn run(&mut self) {
        for id in 0..self.model.layers.len() {
            let layer = &self.model.layers[id];
            if layer.unbound {
                self.model.layers[id].info.broken = true;
                continue;
            }
            let inputs: Option<Vec<Shape>> =
                layer.inputs.iter().map(|t| self.model.tensors[*t].shape.clone()).collect();
            let Some(inputs) = inputs else { continue };
            let receptive: Vec<Option<Receptive>> =
                layer.inputs.iter().map(|t| self.model.tensors[*t].receptive).collect();
            let before = self.diagnostics.len();
            let result = self.layer(id, &inputs, &receptive).and_then(|ok| check_size(&self.model.layers[id], ok));
            let layer = &mut self.model.layers[id];
            let allowed = &layer.allow;
            let mut index = 0;
            self.diagnostics.retain(|d| {
                index += 1;
                index <= before || d.is_error() || !allowed.iter().any(|code| code == d.code.as_str())
            });
            match result {
                Ok((shape, mut info, receptive)) => {
                    info.ok = true;
                    layer.info = info;
                    let out = layer.output;
                    self.model.tensors[out].shape = Some(shape);
                    self.model.tensors[out].receptive = receptive;
                }
                Err(diagnostics) => {
                    layer.info.broken = true;
                    let context = instantiation_context(layer);
                    self.diagnostics.extend(
                        diagnostics
                            .into_iter()
                            .map(|d| context.iter().fold(d, |d, (span, msg)| d.with_secondary(*span, msg.clone()))),
                    );
                }
            }
        }
    }

    fn layer(&mut self, id: usize, inputs: &[Shape], receptive: &[Option<Receptive>]) -> LayerResult {
        let layer = &self.model.layers[id].clone();
        let input = &inputs[0];
        let rf = receptive[0];
        match layer.op {
            Op::Conv(spec) => self.conv(layer, spec, input, rf),
            Op::MaxPool(spec) | Op::AvgPool(spec) => self.pool(layer, spec, input, rf),
            Op::GlobalAvgPool | Op::GlobalMaxPool => {
                need_rank4(layer, input, self.source_span(layer, 0))?;
                Ok((vec![input[0].clone(), input[1].clone(), Dim::Known(1), Dim::Known(1)], zero_cost(), None))
            }
            Op::AdaptiveAvgPool(size) => {
                need_rank4(layer, input, self.source_span(layer, 0))?;
                let identity = input[2] == Dim::Known(size[0]) && input[3] == Dim::Known(size[1]);
                let shape = vec![input[0].clone(), input[1].clone(), Dim::Known(size[0]), Dim::Known(size[1])];
                Ok((shape, zero_cost(), if identity { rf } else { None }))
            }
            Op::BlurPool { stride, filter } => self.blurpool(layer, stride, filter, input, rf),
            Op::BatchNorm { channels, .. } => {
                let c = channels_of(layer, input, self.source_span(layer, 0))?;
                if let Some(declared) = channels {
                    if declared != c {
                        return Err(vec![self.channel_mismatch(layer, "channels", declared, c)]);
                    }
                }
                let info = LayerInfo {
                    params: 2 * c,
                    buffers: 2 * c,
                    weights: vec![
                        ("weight", vec![c]),
                        ("bias", vec![c]),
                        ("running_mean", vec![c]),
                        ("running_var", vec![c]),
                    ],
                    macs: Some(0),
                    ..LayerInfo::default()
                };
                Ok((input.clone(), info, rf))
            }
            Op::Flatten => Ok((flatten(layer, input)?, LayerInfo { macs: Some(0), ..LayerInfo::default() }, None)),
            Op::Dense { out, expect_in, bias } => self.dense(layer, out, expect_in, bias, input),
            Op::Softmax { dim } => {
                let rank = input.len() as i64;
                if dim < -rank || dim >= rank {
                    let span = layer.arg_span("dim").unwrap_or(layer.callee_span);
                    return Err(vec![Diagnostic::new(
                        Code::BAD_VALUE,
                        format!("softmax over dimension {dim}, but the input has {rank} dimensions"),
                        span,
                        format!("valid: {} to {}", -rank, rank - 1),
                    )]);
                }
                Ok((input.clone(), zero_cost(), rf))
            }
            Op::Add => self.add(layer, inputs, receptive),
            Op::Concat => self.concat(layer, inputs, receptive),
            Op::Relu | Op::Relu6 | Op::LeakyRelu(_) | Op::Sigmoid | Op::Tanh | Op::Identity | Op::Dropout(_) => {
                Ok((input.clone(), zero_cost(), rf))
            }
        }
    }

    fn source_span(&self, layer: &Layer, index: usize) -> Span {
        self.model.tensors[layer.inputs[index]].span
    }

    fn window_layer<'l>(
        &self,
        layer: &'l Layer,
        kernel: [u64; 2],
        stride: [u64; 2],
        dilation: [u64; 2],
        ceil: bool,
    ) -> WindowLayer<'l> {
        WindowLayer {
            op: layer.op.name(),
            kernel,
            stride,
            dilation,
            ceil,
            kernel_span: layer.arg_span("kernel").unwrap_or(layer.callee_span),
            stride_span: layer.arg_span("stride").or(layer.arg_span("kernel")).unwrap_or(layer.callee_span),
            padding_span: layer.arg_span("padding").unwrap_or(layer.callee_span),
        }
    }

    /// Output H and W of a windowed layer, with its checks; also updates the receptive field.
    fn spatial(
        &mut self,
        layer: &Layer,
        w: &WindowLayer<'_>,
        pads: [u64; 4],
        input: &Shape,
        rf: Option<Receptive>,
    ) -> Result<([Dim; 2], Option<Receptive>), Vec<Diagnostic>> {
        let mut out = [Dim::Known(0), Dim::Known(0)];
        let mut errors = Vec::new();
        let mut warnings = Vec::new();
        for axis in 0..2 {
            let Some(aw) = window::axis_window(w, pads, axis) else {
                errors.push(window::overflow(w.kernel_span));
                continue;
            };
            match &input[2 + axis] {
                Dim::Known(n) => match window::known_axis(w, *n, &aw, axis, &mut warnings) {
                    Ok(v) => out[axis] = Dim::Known(v),
                    Err(d) => errors.push(
                        d.with_secondary(self.source_span(layer, 0), format!("input {} is {n}", window::AXES[axis])),
                    ),
                },
                symbolic => {
                    self.constraints.push((
                        SizeConstraint::Window { input: symbolic.clone(), window: aw, exact: aw.extent >= aw.stride },
                        w.kernel_span,
                    ));
                    match symbolic.window(aw) {
                        Some(d) => out[axis] = d,
                        None => errors.push(window::overflow(w.kernel_span)),
                    }
                }
            }
        }
        self.diagnostics.extend(warnings);
        if !errors.is_empty() {
            return Err(errors);
        }
        let receptive = rf.map(|r| {
            let mut next = r;
            for axis in 0..2 {
                let e = window::extent(w.kernel[axis], w.dilation[axis]).unwrap_or(u64::MAX);
                next.field[axis] = r.field[axis].saturating_add((e - 1).saturating_mul(r.stride[axis]));
                next.stride[axis] = r.stride[axis].saturating_mul(w.stride[axis]);
            }
            next
        });
        Ok((out, receptive))
    }

    fn conv(&mut self, layer: &Layer, spec: ConvSpec, input: &Shape, rf: Option<Receptive>) -> LayerResult {
        let c_in = channels_of(layer, input, self.source_span(layer, 0))?;
        need_rank4(layer, input, self.source_span(layer, 0))?;
        let (out_c, groups) = match spec.kind {
            ConvKind::Depthwise { multiplier } => {
                (c_in.checked_mul(multiplier).ok_or_else(|| vec![window::overflow(layer.span)])?, c_in)
            }
            _ => (spec.out, spec.groups),
        };
        if let Some(declared) = spec.expect_in {
            if declared != c_in {
                return Err(vec![self.channel_mismatch(layer, "in", declared, c_in)]);
            }
        }
        if c_in % groups != 0 || out_c % groups != 0 {
            return Err(vec![self.groups_error(layer, c_in, out_c, groups)]);
        }
        let w = self.window_layer(layer, spec.kernel, spec.stride, spec.dilation, false);
        let pads = window::resolve_padding(&w, spec.padding, [&input[2], &input[3]]).map_err(|d| vec![d])?;
        let ([h, wd], receptive) = self.spatial(layer, &w, pads, input, rf)?;
        let per_output = spec.kernel[0].checked_mul(spec.kernel[1]).and_then(|k| k.checked_mul(c_in / groups));
        let weights = per_output.and_then(|p| p.checked_mul(out_c));
        let Some(weights) = weights.filter(|w| *w <= MAX_ELEMENTS) else {
            return Err(vec![too_large(layer.callee_span, "the weight tensor")]);
        };
        let params = weights + if spec.bias { out_c } else { 0 };
        let macs = match (&h, &wd) {
            (Dim::Known(h), Dim::Known(w)) => {
                per_output.and_then(|p| p.checked_mul(out_c)?.checked_mul(*h)?.checked_mul(*w))
            }
            _ => None,
        };
        let mut tensors = vec![("weight", vec![out_c, c_in / groups, spec.kernel[0], spec.kernel[1]])];
        if spec.bias {
            tensors.push(("bias", vec![out_c]));
        }
        let info = LayerInfo { padding: Some(pads), params, macs, weights: tensors, ..LayerInfo::default() };
        Ok((vec![input[0].clone(), Dim::Known(out_c), h, wd], info, receptive))
    }

    fn pool(&mut self, layer: &Layer, spec: PoolSpec, input: &Shape, rf: Option<Receptive>) -> LayerResult {
        need_rank4(layer, input, self.source_span(layer, 0))?;
        if spec.padding == crate::ops::Padding::Same {
            let span = layer.arg_span("padding").unwrap_or(layer.callee_span);
            return Err(vec![Diagnostic::new(
                Code::BAD_VALUE,
                format!("`{}` has no `padding=same`", layer.op.name()),
                span,
                "only convolutions take `same`",
            )
            .with_help(format!(
                "PyTorch's pooling layers take numbers; `padding={}` keeps the size for an odd kernel with stride 1",
                spec.kernel[0] / 2
            ))]);
        }
        let w = self.window_layer(layer, spec.kernel, spec.stride, spec.dilation, spec.ceil);
        let pads = window::resolve_padding(&w, spec.padding, [&input[2], &input[3]]).map_err(|d| vec![d])?;
        // PyTorch: "pad should be at most half of effective kernel size".
        for axis in 0..2 {
            let half = spec.kernel[axis] / 2;
            let worst = pads[2 * axis].max(pads[2 * axis + 1]);
            if worst > half {
                let span = layer.arg_span("padding").unwrap_or(layer.callee_span);
                return Err(vec![Diagnostic::new(
                    Code::POOL_PADDING,
                    format!(
                        "{} padding {worst} is more than half the window ({} / 2 = {half})",
                        layer.op.name(),
                        spec.kernel[axis]
                    ),
                    span,
                    format!("at most {half}"),
                )
                .with_note("a window that lies mostly in the padding would pool only padding values")
                .with_fix(Fix::replace(format!("use `padding={half}`"), span, half.to_string()))]);
            }
        }
        let ([h, wd], receptive) = self.spatial(layer, &w, pads, input, rf)?;
        let info = LayerInfo { padding: Some(pads), macs: Some(0), ..LayerInfo::default() };
        Ok((vec![input[0].clone(), input[1].clone(), h, wd], info, receptive))
    }

    fn blurpool(
        &mut self,
        layer: &Layer,
        stride: u64,
        filter: u64,
        input: &Shape,
        rf: Option<Receptive>,
    ) -> LayerResult {
        need_rank4(layer, input, self.source_span(layer, 0))?;
        if !(1..=7).contains(&filter) {
            let span = layer.arg_span("filter").unwrap_or(layer.callee_span);
            return Err(vec![Diagnostic::new(
                Code::BAD_VALUE,
                format!("blurpool filters have 1 to 7 taps, not {filter}"),
                span,
                "binomial filter size",
            )
            .with_help("Zhang (2019) uses 3 (taps 1 2 1) or 4 (1 3 3 1); 5 blurs more")]);
        }
        let pads = [(filter - 1) / 2, filter / 2, (filter - 1) / 2, filter / 2];
        for axis in 0..2 {
            let pad = pads[2 * axis + 1];
            match &input[2 + axis] {
                Dim::Known(n) if *n <= pad => {
                    return Err(vec![Diagnostic::new(
                        Code::REFLECT_PAD,
                        format!(
                            "blurpool reflects {pad} pixels at each border, but the input {} is only {n}",
                            window::AXES[axis]
                        ),
                        layer.callee_span,
                        format!("needs an input larger than {pad}"),
                    )
                    .with_secondary(self.source_span(layer, 0), format!("{} {n}", window::AXES[axis]))])
                }
                Dim::Sym(_) => {
                    self.constraints.push((SizeConstraint::Above(input[2 + axis].clone(), pad), layer.callee_span))
                }
                _ => {}
            }
        }
        let mut w = self.window_layer(layer, [filter, filter], [stride, stride], [1, 1], false);
        w.stride_span = layer.arg_span("stride").unwrap_or(layer.callee_span);
        let ([h, wd], receptive) = self.spatial(layer, &w, pads, input, rf)?;
        let info = LayerInfo { padding: Some(pads), macs: Some(0), ..LayerInfo::default() };
        Ok((vec![input[0].clone(), input[1].clone(), h, wd], info, receptive))
    }

    fn dense(&mut self, layer: &Layer, out: u64, expect_in: Option<u64>, bias: bool, input: &Shape) -> LayerResult {
        if input.len() != 2 {
            let mut d = rank_error(layer, input, "a flat [N, features] tensor", self.source_span(layer, 0));
            if input.len() == 4 {
                let indent = line_indent(self.source, layer.span);
                d = d.with_fix(Fix {
                    title: "insert `flatten` before this layer".to_string(),
                    edits: vec![TextEdit {
                        span: Span::at(layer.span.start as usize),
                        replacement: format!("flatten{indent}"),
                    }],
                });
            }
            return Err(vec![d]);
        }
        let width = match &input[1] {
            Dim::Known(w) => *w,
            symbolic => {
                return Err(vec![Diagnostic::new(
                    Code::NOT_CONCRETE,
                    "a dense layer needs a known input width, but it depends on the input size",
                    layer.callee_span,
                    format!("input width is {symbolic}"),
                )
                .with_secondary(self.source_span(layer, 0), format!("width {symbolic} comes from here"))
                .with_help("give the input concrete sizes (or `--dim H=224`), or pool to a fixed size first with `global_avgpool` or `adaptive_avgpool`")]);
            }
        };
        if let Some(declared) = expect_in {
            if declared != width {
                let span = layer.arg_span("in").unwrap_or(layer.callee_span);
                let source = self.source_span(layer, 0);
                let origin = self.width_origin(layer);
                let mut d = Diagnostic::new(
                    Code::DENSE_WIDTH,
                    format!("the dense layer expects {declared} input features, but receives {width}"),
                    span,
                    format!("expects {declared}"),
                )
                .with_secondary(source, format!("produces {width} features"))
                .with_fix(Fix::replace(format!("declare `in={width}`"), span, width.to_string()));
                if let Some(explained) = origin {
                    d = d.with_note(explained);
                }
                return Err(vec![d]);
            }
        }
        let weights = width
            .checked_mul(out)
            .filter(|w| *w <= MAX_ELEMENTS)
            .ok_or_else(|| vec![too_large(layer.callee_span, "the weight matrix")])?;
        let mut tensors = vec![("weight", vec![out, width])];
        if bias {
            tensors.push(("bias", vec![out]));
        }
        let info = LayerInfo {
            params: weights + if bias { out } else { 0 },
            macs: Some(weights),
            weights: tensors,
            ..LayerInfo::default()
        };
        Ok((vec![input[0].clone(), Dim::Known(out)], info, None))
    }

    /// `flatten: 64·4·4 = 1024` when the dense layer's input comes from a flatten.
    fn width_origin(&self, layer: &Layer) -> Option<String> {
        let producer = self.model.tensors[layer.inputs[0]].producer?;
        let flat = &self.model.layers[producer];
        if flat.op != Op::Flatten {
            return None;
        }
        let shape = self.model.tensors[flat.inputs[0]].shape.as_ref()?;
        let dims: Vec<String> = shape[1..].iter().map(|d| d.to_string()).collect();
        let total = Dim::product(&shape[1..])?;
        Some(format!("flatten turns [{}] into {} = {total} features per sample", dims.join(", "), dims.join("·")))
    }

    fn add(&mut self, layer: &Layer, inputs: &[Shape], receptive: &[Option<Receptive>]) -> LayerResult {
        let first = &inputs[0];
        for (i, other) in inputs.iter().enumerate().skip(1) {
            let same_rank = other.len() == first.len();
            let mut mismatch = !same_rank;
            if same_rank {
                for (a, b) in first.iter().zip(other) {
                    mismatch |= !self.dims_may_match(a, b, layer.callee_span);
                }
            }
            if mismatch {
                return Err(vec![self
                    .operand_mismatch(layer, Code::ADD_SHAPES, "added", 0, i, first, other)
                    .with_note("addition is element-wise: both tensors need the same [N, C, H, W]")]);
            }
        }
        Ok((first.clone(), zero_cost(), merge_receptive(receptive)))
    }

    fn concat(&mut self, layer: &Layer, inputs: &[Shape], receptive: &[Option<Receptive>]) -> LayerResult {
        let first = &inputs[0];
        let mut channels = 0u64;
        for (i, other) in inputs.iter().enumerate() {
            let c = channels_of(layer, other, self.source_span(layer, i))?;
            channels = channels.checked_add(c).ok_or_else(|| vec![window::overflow(layer.span)])?;
            if i == 0 {
                continue;
            }
            let mut mismatch = other.len() != first.len();
            if !mismatch {
                for axis in (0..first.len()).filter(|a| *a != 1) {
                    mismatch |= !self.dims_may_match(&first[axis], &other[axis], layer.callee_span);
                }
            }
            if mismatch {
                return Err(vec![self
                    .operand_mismatch(layer, Code::CONCAT_SHAPES, "concatenated", 0, i, first, other)
                    .with_note("concatenation stacks channels: every other dimension must agree")]);
            }
        }
        let mut shape = first.clone();
        shape[1] = Dim::Known(channels);
        Ok((shape, zero_cost(), merge_receptive(receptive)))
    }

    /// Whether two dimensions are equal, or can be for some symbol values (then recorded as a
    /// constraint on the accepted input sizes).
    fn dims_may_match(&mut self, a: &Dim, b: &Dim, span: Span) -> bool {
        match (a, b) {
            (Dim::Known(x), Dim::Known(y)) => x == y,
            _ if a == b => true,
            _ => {
                let symbols = a.symbols().into_iter().chain(b.symbols()).collect::<Vec<_>>();
                let single = symbols.windows(2).all(|w| w[0] == w[1]);
                let possible = single
                    && (1..=crate::sizes::SEARCH_LIMIT).any(|n| {
                        let lookup = |_: &str| Some(n);
                        matches!((a.eval(&lookup), b.eval(&lookup)), (Some(x), Some(y)) if x == y)
                    });
                if possible {
                    self.constraints.push((SizeConstraint::Equal(a.clone(), b.clone()), span));
                }
                possible
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn operand_mismatch(
        &self,
        layer: &Layer,
        code: Code,
        verb: &str,
        i: usize,
        j: usize,
        a: &Shape,
        b: &Shape,
    ) -> Diagnostic {
        let name = |k: usize| {
            self.model.tensors[layer.inputs[k]]
                .name
                .clone()
                .map(|n| format!("`{n}`"))
                .unwrap_or_else(|| "the previous output".into())
        };
        Diagnostic::new(
            code,
            format!("the {verb} tensors differ: {} is {} but {} is {}", name(i), show_shape(a), name(j), show_shape(b)),
            layer.callee_span,
            format!("{} here", layer.op.name()),
        )
        .with_secondary(self.source_span(layer, i), show_shape(a))
        .with_secondary(self.source_span(layer, j), show_shape(b))
    }

    fn channel_mismatch(&self, layer: &Layer, arg: &str, declared: u64, actual: u64) -> Diagnostic {
        let span = layer.arg_span(arg).unwrap_or(layer.callee_span);
        Diagnostic::new(
            Code::CHANNELS,
            format!("`{arg}={declared}` but the input has {actual} channels"),
            span,
            format!("declares {declared}"),
        )
        .with_secondary(self.source_span(layer, 0), format!("{actual} channels come from here"))
        .with_fix(Fix::replace(format!("declare `{arg}={actual}`"), span, actual.to_string()))
    }

    fn groups_error(&self, layer: &Layer, c_in: u64, c_out: u64, groups: u64) -> Diagnostic {
        let span = layer.arg_span("groups").unwrap_or(layer.callee_span);
        let g = gcd(c_in, c_out);
        let nearest = (1..=g).filter(|d| g.is_multiple_of(*d)).min_by_key(|d| d.abs_diff(groups)).unwrap_or(1);
        let mut d = Diagnostic::new(
            Code::GROUPS,
            format!("{groups} groups do not divide {} input and {} output channels", c_in, c_out),
            span,
            format!("groups={groups}"),
        )
        .with_secondary(self.source_span(layer, 0), format!("{c_in} channels come from here"))
        .with_note(format!(
            "{c_in} mod {groups} = {}, {c_out} mod {groups} = {}",
            c_in % groups,
            c_out % groups
        ));
        if layer.arg_span("groups").is_some() {
            d = d.with_fix(Fix::replace(
                format!("use `groups={nearest}`, the nearest common divisor"),
                span,
                nearest.to_string(),
            ));
        }
        d
    }
}

fn zero_cost() -> LayerInfo {
    LayerInfo { macs: Some(0), ..LayerInfo::default() }
}

fn merge_receptive(receptive: &[Option<Receptive>]) -> Option<Receptive> {
    receptive.iter().copied().try_fold(Receptive { field: [1, 1], stride: [1, 1] }, |acc, r| {
        let r = r?;
        Some(Receptive {
            field: [acc.field[0].max(r.field[0]), acc.field[1].max(r.field[1])],
            stride: [acc.stride[0].max(r.stride[0]), acc.stride[1].max(r.stride[1])],
        })
    })
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

pub(crate) fn show_shape(shape: &[Dim]) -> String {
    format!("[{}]", shape.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", "))
}

fn flatten(layer: &Layer, input: &Shape) -> Result<Shape, Vec<Diagnostic>> {
    if input.len() <= 2 {
        return Ok(input.clone());
    }
    let width = Dim::product(&input[1..]).ok_or_else(|| vec![too_large(layer.callee_span, "the flattened width")])?;
    Ok(vec![input[0].clone(), width])
}

fn channels_of(layer: &Layer, input: &Shape, source: Span) -> Result<u64, Vec<Diagnostic>> {
    match input.get(1) {
        Some(Dim::Known(c)) => Ok(*c),
        _ => Err(vec![rank_error(layer, input, "a [N, C, H, W] tensor", source)]),
    }
}

fn need_rank4(layer: &Layer, input: &Shape, source: Span) -> Result<(), Vec<Diagnostic>> {
    if input.len() == 4 {
        Ok(())
    } else {
        Err(vec![rank_error(layer, input, "a [N, C, H, W] tensor", source)])
    }
}

fn rank_error(layer: &Layer, input: &Shape, expected: &str, source: Span) -> Diagnostic {
    Diagnostic::new(
        Code::WRONG_RANK,
        format!("`{}` needs {expected}, but its input is {}", layer.op.name(), show_shape(input)),
        layer.callee_span,
        format!("expects {expected}"),
    )
    .with_secondary(source, format!("{} comes from here", show_shape(input)))
}

fn too_large(span: Span, what: &str) -> Diagnostic {
    Diagnostic::new(Code::TOO_LARGE, format!("{what} would have more than 2^40 elements"), span, "too large")
        .with_note("cnnc refuses sizes above 2^40 elements (4 TiB of f32) rather than overflow")
}

/// Reject outputs above [`MAX_ELEMENTS`] elements, counting a symbolic batch (or any symbolic
/// size) as 1.
fn check_size(layer: &Layer, ok: (Shape, LayerInfo, Option<Receptive>)) -> LayerResult {
    let count = ok.0.iter().enumerate().try_fold(1u64, |acc, (i, d)| match d {
        Dim::Known(v) => acc.checked_mul(*v),
        Dim::Sym(_) if i == 0 => Some(acc),
        Dim::Sym(_) => Some(acc),
    });
    match count {
        Some(c) if c <= MAX_ELEMENTS => Ok(ok),
        _ => Err(vec![too_large(layer.callee_span, &format!("the output {}", show_shape(&ok.0)))]),
    }
}

/// "in `layer2.0 = basic_down(128)`" labels for errors inside block instances.
fn instantiation_context(layer: &Layer) -> Vec<(Span, String)> {
    layer.instantiated_at.iter().map(|span| (*span, "in this block instance".to_string())).collect()
}

/// A line break plus the whitespace that starts the statement's line, so an inserted statement
/// lines up with it.
fn line_indent(source: &str, span: Span) -> String {
    let start = (span.start as usize).min(source.len());
    let line_start = source[..start].rfind('\n').map_or(0, |i| i + 1);
    let indent: String = source[line_start..start].chars().take_while(|c| c.is_whitespace()).collect();
    format!("\n{indent}")
}
