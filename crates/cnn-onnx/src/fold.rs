//! Constant folding: nodes whose inputs are all known compute their output here, at import
//! time, so shape arithmetic (`Shape` → `Gather` → `Unsqueeze` → `Concat` → `Reshape`) and
//! `Constant`/`ConstantOfShape` never become layers.
//!
//! Assumes the inputs are decoded constants (sizes already checked); every size computed here is
//! checked again. A symbolic size (the batch `N` of a `Shape`) may be moved around (gathered,
//! concatenated, reshaped) but not computed with: arithmetic on it is an error.

use crate::attrs::Attrs;
use crate::proto::tensor_proto::DataType;
use crate::tensor::{decode, element_count, Const, Data, Int};

/// The ops this module folds.
pub(crate) const FOLDABLE: &[&str] = &[
    "Constant",
    "ConstantOfShape",
    "Shape",
    "Gather",
    "Unsqueeze",
    "Squeeze",
    "Concat",
    "Cast",
    "Identity",
    "Dropout",
    "Reshape",
    "Add",
    "Sub",
    "Mul",
    "Div",
    "Slice",
];

/// A node's input as folding sees it: a constant, or the shape of a computed tensor.
pub(crate) enum Input<'a> {
    Const(&'a Const),
    /// A computed tensor; its shape if known.
    Dynamic(Option<&'a [Int]>),
    /// An optional input left empty.
    Absent,
}

/// `None` if the node does not only compute a constant; otherwise its first output.
pub(crate) fn fold(op: &str, attrs: &Attrs<'_>, inputs: &[Input<'_>]) -> Option<Result<Const, String>> {
    if !FOLDABLE.contains(&op) {
        return None;
    }
    let consts: Vec<Option<&Const>> = inputs
        .iter()
        .map(|i| match i {
            Input::Const(c) => Some(*c),
            _ => None,
        })
        .collect();
    let all_const = inputs.iter().all(|i| !matches!(i, Input::Dynamic(_)));
    match op {
        "Constant" => Some(constant(attrs)),
        "Shape" => match inputs.first() {
            Some(Input::Dynamic(Some(shape))) => Some(shape_of(shape, attrs)),
            Some(Input::Const(c)) => {
                Some(shape_of(&c.dims.iter().map(|d| Int::Known(*d as i64)).collect::<Vec<_>>(), attrs))
            }
            _ => None,
        },
        _ if !all_const || consts.first().copied().flatten().is_none() => None,
        _ => {
            let first = consts[0]?;
            let second = consts.get(1).copied().flatten();
            Some(match op {
                "ConstantOfShape" => constant_of_shape(first, attrs),
                "Gather" => gather(first, second, attrs),
                "Unsqueeze" => unsqueeze(first, second, attrs),
                "Squeeze" => squeeze(first, second, attrs),
                "Concat" => concat(&consts, attrs),
                "Cast" => cast(first, attrs),
                "Identity" | "Dropout" => Ok(first.clone()),
                "Reshape" => reshape(first, second),
                "Add" | "Sub" | "Mul" | "Div" => arithmetic(op, first, second),
                "Slice" => slice(first, &consts, attrs),
                _ => return None,
            })
        }
    }
}

fn constant(attrs: &Attrs<'_>) -> Result<Const, String> {
    if let Some(tensor) = attrs.tensor("value") {
        return decode(tensor);
    }
    if let Some(v) = attrs.float("value_float") {
        return Ok(Const { dims: vec![], data: Data::Float(vec![v]) });
    }
    if let Some(v) = attrs.int("value_int") {
        return Ok(Const { dims: vec![], data: Data::Int(vec![Int::Known(v)]) });
    }
    if let Some(v) = attrs.floats("value_floats") {
        return Ok(Const { dims: vec![v.len()], data: Data::Float(v.to_vec()) });
    }
    if let Some(v) = attrs.ints("value_ints") {
        return Ok(Const::ints(v.iter().map(|i| Int::Known(*i)).collect()));
    }
    Err("a Constant without a supported value (value, value_float(s) or value_int(s))".into())
}

fn shape_of(shape: &[Int], attrs: &Attrs<'_>) -> Result<Const, String> {
    let rank = shape.len() as i64;
    let clamp = |v: i64| (if v < 0 { v + rank } else { v }).clamp(0, rank) as usize;
    let start = clamp(attrs.int("start").unwrap_or(0));
    let end = clamp(attrs.int("end").unwrap_or(rank));
    Ok(Const::ints(shape.get(start..end.max(start)).unwrap_or_default().to_vec()))
}

fn constant_of_shape(shape: &Const, attrs: &Attrs<'_>) -> Result<Const, String> {
    let dims: Vec<usize> = shape
        .known_ints()?
        .into_iter()
        .map(|d| usize::try_from(d).map_err(|_| format!("negative dimension {d}")))
        .collect::<Result<_, _>>()?;
    let count = element_count(&dims)?;
    let value = match attrs.tensor("value") {
        Some(t) => decode(t)?,
        None => Const { dims: vec![1], data: Data::Float(vec![0.0]) },
    };
    let data = match value.data {
        Data::Float(v) if v.len() == 1 => Data::Float(vec![v[0]; count]),
        Data::Int(v) if v.len() == 1 => Data::Int(vec![v[0].clone(); count]),
        _ => return Err("ConstantOfShape's value must hold one element".into()),
    };
    Ok(Const { dims, data })
}

/// Normalise an axis against a rank (negative counts from the end).
fn axis(value: i64, rank: usize) -> Result<usize, String> {
    let rank_i = rank as i64;
    let normalised = if value < 0 { value + rank_i } else { value };
    usize::try_from(normalised).ok().filter(|a| *a < rank.max(1)).ok_or_else(|| format!("axis {value} out of range"))
}

fn gather(data: &Const, indices: Option<&Const>, attrs: &Attrs<'_>) -> Result<Const, String> {
    let indices = indices.ok_or("Gather needs its indices")?;
    if data.dims.len() != 1 || attrs.int("axis").unwrap_or(0) != 0 {
        return Err("only gathering from a 1-D constant along axis 0 is folded".into());
    }
    let n = data.len() as i64;
    let picks: Vec<usize> = indices
        .known_ints()?
        .into_iter()
        .map(|i| {
            let j = if i < 0 { i + n } else { i };
            usize::try_from(j).ok().filter(|j| (*j as i64) < n).ok_or_else(|| format!("index {i} out of range"))
        })
        .collect::<Result<_, _>>()?;
    let data = match &data.data {
        Data::Float(v) => Data::Float(picks.iter().map(|i| v[*i]).collect()),
        Data::Int(v) => Data::Int(picks.iter().map(|i| v[*i].clone()).collect()),
    };
    Ok(Const { dims: indices.dims.clone(), data })
}

/// Axes from the attribute (before opset 13) or the second input.
fn axes(second: Option<&Const>, attrs: &Attrs<'_>) -> Result<Option<Vec<i64>>, String> {
    match (second, attrs.ints("axes")) {
        (Some(c), _) => Ok(Some(c.known_ints()?)),
        (None, Some(a)) => Ok(Some(a.to_vec())),
        (None, None) => Ok(None),
    }
}

fn unsqueeze(data: &Const, second: Option<&Const>, attrs: &Attrs<'_>) -> Result<Const, String> {
    let axes = axes(second, attrs)?.ok_or("Unsqueeze needs axes")?;
    let rank = data.dims.len() + axes.len();
    let mut positions: Vec<usize> = axes.iter().map(|a| axis(*a, rank)).collect::<Result<_, _>>()?;
    positions.sort_unstable();
    let mut dims = data.dims.clone();
    for p in positions {
        if p > dims.len() {
            return Err(format!("axis {p} out of range"));
        }
        dims.insert(p, 1);
    }
    Ok(Const { dims, data: data.data.clone() })
}

fn squeeze(data: &Const, second: Option<&Const>, attrs: &Attrs<'_>) -> Result<Const, String> {
    let rank = data.dims.len();
    let dims = match axes(second, attrs)? {
        None => data.dims.iter().copied().filter(|d| *d != 1).collect(),
        Some(axes) => {
            let drop: Vec<usize> = axes.iter().map(|a| axis(*a, rank)).collect::<Result<_, _>>()?;
            data.dims.iter().enumerate().filter(|(i, _)| !drop.contains(i)).map(|(_, d)| *d).collect()
        }
    };
    Ok(Const { dims, data: data.data.clone() })
}

fn concat(inputs: &[Option<&Const>], attrs: &Attrs<'_>) -> Result<Const, String> {
    let parts: Vec<&Const> = inputs.iter().flatten().copied().collect();
    if parts.iter().any(|p| p.dims.len() != 1) || axis(attrs.int("axis").unwrap_or(0), 1)? != 0 {
        return Err("only 1-D constants are concatenated at import".into());
    }
    if parts.iter().all(|p| matches!(p.data, Data::Float(_))) {
        let values: Vec<f32> = parts.iter().map(|p| p.floats()).collect::<Result<Vec<_>, _>>()?.concat();
        return Ok(Const { dims: vec![values.len()], data: Data::Float(values) });
    }
    let values: Vec<Int> = parts.iter().map(|p| p.int_values()).collect::<Result<Vec<_>, _>>()?.concat();
    Ok(Const::ints(values))
}

fn cast(source: &Const, attrs: &Attrs<'_>) -> Result<Const, String> {
    let to = attrs.int("to").and_then(|t| DataType::try_from(t as i32).ok()).ok_or("Cast without `to`")?;
    let data = match to {
        DataType::Float | DataType::Double | DataType::Float16 => Data::Float(source.floats()?),
        DataType::Int64 | DataType::Int32 | DataType::Int8 | DataType::Uint8 => match &source.data {
            Data::Int(v) => Data::Int(v.clone()),
            Data::Float(v) => Data::Int(v.iter().map(|f| Int::Known(f.trunc() as i64)).collect()),
        },
        other => return Err(format!("Cast to {} is not folded", other.as_str_name())),
    };
    Ok(Const { dims: source.dims.clone(), data })
}

fn reshape(data: &Const, shape: Option<&Const>) -> Result<Const, String> {
    let target = shape.ok_or("Reshape needs a shape")?.known_ints()?;
    let count = data.len();
    let mut dims = Vec::with_capacity(target.len());
    let mut infer = None;
    for (i, d) in target.iter().enumerate() {
        match *d {
            0 => dims.push(*data.dims.get(i).ok_or("a 0 in Reshape's shape beyond the input's rank")?),
            -1 if infer.is_none() => {
                infer = Some(i);
                dims.push(1);
            }
            d if d > 0 => dims.push(usize::try_from(d).map_err(|_| "dimension too large")?),
            d => return Err(format!("Reshape to dimension {d}")),
        }
    }
    let known = element_count(&dims)?;
    if let Some(i) = infer {
        if known == 0 || !count.is_multiple_of(known) {
            return Err("Reshape's -1 cannot be inferred".into());
        }
        dims[i] = count / known;
    }
    if element_count(&dims)? != count {
        return Err(format!("cannot reshape {} values to {dims:?}", count));
    }
    Ok(Const { dims, data: data.data.clone() })
}

fn arithmetic(op: &str, a: &Const, b: Option<&Const>) -> Result<Const, String> {
    let b = b.ok_or("a binary op needs two inputs")?;
    let (n, dims) = match (a.len(), b.len()) {
        (x, y) if x == y => (x, if a.dims.len() >= b.dims.len() { a.dims.clone() } else { b.dims.clone() }),
        (x, 1) => (x, a.dims.clone()),
        (1, y) => (y, b.dims.clone()),
        _ => return Err("only equal shapes or a scalar operand are folded".into()),
    };
    let pick = |len: usize, i: usize| if len == 1 { 0 } else { i };
    if let (Data::Int(_), Data::Int(_)) = (&a.data, &b.data) {
        let (x, y) = (a.known_ints()?, b.known_ints()?);
        let values = (0..n)
            .map(|i| {
                let (p, q) = (x[pick(x.len(), i)], y[pick(y.len(), i)]);
                match op {
                    "Add" => p.checked_add(q),
                    "Sub" => p.checked_sub(q),
                    "Mul" => p.checked_mul(q),
                    _ => p.checked_div(q),
                }
                .map(Int::Known)
                .ok_or_else(|| format!("{op} overflows or divides by zero"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(Const { dims, data: Data::Int(values) });
    }
    let (x, y) = (a.floats()?, b.floats()?);
    let values = (0..n)
        .map(|i| {
            let (p, q) = (x[pick(x.len(), i)], y[pick(y.len(), i)]);
            match op {
                "Add" => p + q,
                "Sub" => p - q,
                "Mul" => p * q,
                _ => p / q,
            }
        })
        .collect();
    Ok(Const { dims, data: Data::Float(values) })
}

fn slice(data: &Const, inputs: &[Option<&Const>], attrs: &Attrs<'_>) -> Result<Const, String> {
    if data.dims.len() != 1 {
        return Err("only 1-D constants are sliced at import".into());
    }
    let get = |i: usize, attr: &str| -> Result<Option<Vec<i64>>, String> {
        match inputs.get(i).copied().flatten() {
            Some(c) => Ok(Some(c.known_ints()?)),
            None => Ok(attrs.ints(attr).map(<[i64]>::to_vec)),
        }
    };
    let starts = get(1, "starts")?.ok_or("Slice needs starts")?;
    let ends = get(2, "ends")?.ok_or("Slice needs ends")?;
    let steps = get(4, "steps")?.unwrap_or_else(|| vec![1]);
    if starts.len() != 1 || ends.len() != 1 || steps.first() != Some(&1) {
        return Err("only a unit-step slice of a 1-D constant is folded".into());
    }
    let n = data.len() as i64;
    let clamp = |v: i64| (if v < 0 { v + n } else { v }).clamp(0, n) as usize;
    let (start, end) = (clamp(starts[0]), clamp(ends[0]));
    let range = start..end.max(start);
    let data = match &data.data {
        Data::Float(v) => Data::Float(v[range].to_vec()),
        Data::Int(v) => Data::Int(v[range].to_vec()),
    };
    let len = match &data {
        Data::Float(v) => v.len(),
        Data::Int(v) => v.len(),
    };
    Ok(Const { dims: vec![len], data })
}
