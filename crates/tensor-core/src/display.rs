//! Printing tensors exactly as PyTorch does (`torch/_tensor_str.py` with the default print
//! options: precision 4, threshold 1000, edge items 3, line width 80, automatic sci mode).
//!
//! Printing happens in four steps:
//! 1. **Summarize.** A tensor with more than 1000 elements shows only the first and last 3
//!    entries of every long dimension (with `...` in between). Only those shown elements are
//!    gathered; everything below works on them.
//! 2. **Choose a style** from the shown elements: integers and bools print as they are; floats
//!    print as `1.` when all are integral, with 4 decimals (`0.1749`), or in scientific
//!    notation (`3.5187e-04`) when their magnitudes are too far apart, too big or too small.
//!    Every element is right-aligned to the widest one, so columns line up.
//! 3. **Lay out** the nested brackets: rows wrap at 80 characters, and slices of a 3-D+
//!    tensor are separated by blank lines, all indented under `tensor(`.
//! 4. **Add suffixes** such as `dtype=torch.float64` or `grad_fn=<...>` before the final `)`,
//!    moving one to its own line when it would overflow the line width.

use crate::{DType, Element, TensorData};
use std::fmt;

/// Digits after the decimal point (`torch.set_printoptions(precision=4)`).
const PRECISION: usize = 4;
/// Tensors with more elements than this are summarized with `...`.
const THRESHOLD: usize = 1000;
/// Entries kept at each end of a summarized dimension.
const EDGE_ITEMS: usize = 3;
/// Rows of a 1-D slice wrap so that lines stay within this many characters.
const LINE_WIDTH: usize = 80;
/// Everything is printed inside `tensor(...)`; nested lines are indented by its length.
const PREFIX: &str = "tensor(";

/// Formats `t` like PyTorch's `repr`, with extra `key=value` suffixes before the closing `)`.
///
/// The suffixes the tensor itself implies come first: `size=(0, 3)` for empty tensors that
/// are not 1-D, and the dtype when it is not a default one (`dtype=torch.float64`; empty
/// tensors also name `int64` and `bool`). Then come the caller's `suffixes`, e.g.
/// `grad_fn=<SigmoidBackward0>` or `requires_grad=True`:
///
/// ```text
/// tensor(0.6954, grad_fn=<NllLossBackward0>)
/// tensor([1., 2.], dtype=torch.float64, requires_grad=True)
/// ```
pub fn format_tensor(t: &TensorData, suffixes: &[String]) -> String {
    let mut all = Vec::new();
    let body = if t.numel() == 0 {
        if t.ndim() != 1 {
            all.push(format!("size={}", python_tuple(t.dims())));
        }
        if t.dtype() != DType::F32 {
            all.push(format!("dtype={}", t.dtype().torch_name()));
        }
        "[]".to_string()
    } else {
        if t.dtype() == DType::F64 {
            all.push(format!("dtype={}", t.dtype().torch_name()));
        }
        Printer::new(t).render(0, 0, PREFIX.len())
    };
    all.extend(suffixes.iter().cloned());
    add_suffixes(format!("{PREFIX}{body}"), &all)
}

impl fmt::Display for TensorData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_tensor(self, &[]))
    }
}

/// Appends `, suffix` for each suffix and the closing `)`. A suffix that would make the last
/// line too long starts a new line, indented under `tensor(`.
fn add_suffixes(mut out: String, suffixes: &[String]) -> String {
    // PyTorch measures the last line as `len - rfind('\n') + 1`, where `rfind` gives -1 when
    // there is no newline. That counts two more characters than the line holds; keep it.
    let mut last_line_len = match out.rfind('\n') {
        Some(i) => out.len() - i + 1,
        None => out.len() + 2,
    };
    for suffix in suffixes {
        if last_line_len + suffix.len() + 2 > LINE_WIDTH {
            out.push_str(&format!(",\n{}{suffix}", " ".repeat(PREFIX.len())));
            last_line_len = PREFIX.len() + suffix.len();
        } else {
            out.push_str(&format!(", {suffix}"));
            last_line_len += suffix.len() + 2;
        }
    }
    out.push(')');
    out
}

/// A shape as Python prints a tuple: `(2, 0)`, `(0,)`.
fn python_tuple(dims: &[usize]) -> String {
    let parts: Vec<String> = dims.iter().map(|d| d.to_string()).collect();
    if parts.len() == 1 {
        format!("({},)", parts[0])
    } else {
        format!("({})", parts.join(", "))
    }
}

/// The shown elements of a tensor, in row-major order of the summarized shape.
enum Values {
    Float(Vec<f64>),
    Int(Vec<i64>),
    Bool(Vec<bool>),
}

/// How one element is written before being right-aligned.
#[derive(Clone, Copy)]
enum Style {
    /// Integers and bools: `-3`, `True`.
    Plain,
    /// Floats that are all whole numbers: `1.`, `-2.` (non-finite values stay `nan`, `inf`).
    Integral,
    /// Floats with `PRECISION` decimals: `0.1749`.
    Fixed,
    /// Floats in scientific notation: `3.5187e-04`.
    Scientific,
}

/// Everything needed to lay out one (non-empty) tensor.
struct Printer {
    values: Values,
    /// The original shape: decides where `...` goes.
    dims: Vec<usize>,
    /// Row-major strides of the summarized shape (each long dimension cut to 2 * EDGE_ITEMS).
    strides: Vec<usize>,
    summarize: bool,
    style: Style,
    /// Every element is padded on the left to this width.
    width: usize,
}

impl Printer {
    fn new(t: &TensorData) -> Self {
        let dims = t.dims().to_vec();
        let summarize = t.numel() > THRESHOLD;
        // Flat row-major offsets of the shown elements, built one dimension at a time.
        let mut offsets = vec![0usize];
        let mut kept_dims = Vec::with_capacity(dims.len());
        for (d, &size) in dims.iter().enumerate() {
            let stride: usize = dims[d + 1..].iter().product();
            let kept: Vec<usize> = shown(size, summarize).into_iter().flatten().collect();
            kept_dims.push(kept.len());
            offsets = offsets.iter().flat_map(|&base| kept.iter().map(move |&k| base + k * stride)).collect();
        }
        let strides = (0..kept_dims.len()).map(|d| kept_dims[d + 1..].iter().product()).collect();
        let values = match t.dtype() {
            DType::F32 => Values::Float(gather::<f32>(t, &offsets).into_iter().map(f64::from).collect()),
            DType::F64 => Values::Float(gather::<f64>(t, &offsets)),
            DType::I64 => Values::Int(gather::<i64>(t, &offsets)),
            DType::Bool => Values::Bool(gather::<bool>(t, &offsets)),
        };
        let style = choose_style(&values);
        let mut printer = Printer { values, dims, strides, summarize, style, width: 1 };
        printer.width = (0..offsets.len())
            .filter(|&i| printer.sets_width(i))
            .map(|i| printer.text(i).len())
            .fold(1, usize::max);
        printer
    }

    /// PyTorch measures the column width of floats over their finite non-zero values only, so
    /// `0.`, `nan` or `-inf` may stick out; integers and bools all count.
    fn sets_width(&self, i: usize) -> bool {
        match &self.values {
            Values::Float(v) => v[i].is_finite() && v[i] != 0.0,
            Values::Int(_) | Values::Bool(_) => true,
        }
    }

    /// Element `i` (an index into the shown values) written in the chosen style, unpadded.
    fn text(&self, i: usize) -> String {
        match &self.values {
            Values::Int(v) => v[i].to_string(),
            Values::Bool(v) => if v[i] { "True" } else { "False" }.to_string(),
            Values::Float(v) => {
                let x = v[i];
                if x.is_nan() {
                    return "nan".to_string();
                }
                if x.is_infinite() {
                    return if x > 0.0 { "inf" } else { "-inf" }.to_string();
                }
                match self.style {
                    Style::Integral => format!("{x:.0}."),
                    Style::Scientific => scientific(x),
                    Style::Fixed | Style::Plain => format!("{x:.PRECISION$}"),
                }
            }
        }
    }

    /// Element `i` right-aligned to the common width.
    fn padded(&self, i: usize) -> String {
        format!("{:>width$}", self.text(i), width = self.width)
    }

    /// The bracketed text of the sub-tensor starting at dimension `dim`, whose first shown
    /// element is at `offset`; continuation lines are indented by `indent + 1` spaces.
    fn render(&self, dim: usize, offset: usize, indent: usize) -> String {
        if dim == self.dims.len() {
            return self.padded(offset); // a 0-d tensor
        }
        let stride = self.strides[dim];
        let mut kept = 0;
        let mut items = Vec::new();
        for index in shown(self.dims[dim], self.summarize) {
            items.push(match index {
                None if dim + 1 == self.dims.len() => " ...".to_string(),
                None => "...".to_string(),
                Some(_) if dim + 1 == self.dims.len() => self.padded(offset + kept),
                Some(_) => self.render(dim + 1, offset + kept * stride, indent + 1),
            });
            kept += usize::from(index.is_some());
        }
        let separator = if dim + 1 == self.dims.len() {
            // The last dimension: as many elements per line as fit (at least one).
            let per_line = (LINE_WIDTH.saturating_sub(indent) / (self.width + 2)).max(1);
            items = items.chunks(per_line).map(|line| line.join(", ")).collect();
            format!(",\n{}", " ".repeat(indent + 1))
        } else {
            // Slices of a k-D tensor are separated by k - 1 newlines (blank lines for k >= 3).
            let newlines = "\n".repeat(self.dims.len() - dim - 1);
            format!(",{newlines}{}", " ".repeat(indent + 1))
        };
        format!("[{}]", items.join(&separator))
    }
}

/// The indices shown along a dimension of `size`; `None` marks the `...`.
fn shown(size: usize, summarize: bool) -> Vec<Option<usize>> {
    if summarize && size > 2 * EDGE_ITEMS {
        let head = (0..EDGE_ITEMS).map(Some);
        let tail = (size - EDGE_ITEMS..size).map(Some);
        head.chain(std::iter::once(None)).chain(tail).collect()
    } else {
        (0..size).map(Some).collect()
    }
}

/// The elements of `t` at the given row-major `offsets`, read in place through its layout:
/// only the shown elements are touched, so a view far larger than memory (an expanded one)
/// prints without being copied.
fn gather<T: Element>(t: &TensorData, offsets: &[usize]) -> Vec<T> {
    let Ok(all) = t.buf_slice::<T>("print") else {
        return vec![T::default(); offsets.len()]; // unreachable: the caller matched the dtype
    };
    let (dims, layout) = (t.dims(), t.layout());
    offsets
        .iter()
        .map(|&flat| {
            // Row-major position `flat` -> buffer offset, one dimension at a time from the last.
            let (mut rest, mut at) = (flat, layout.offset);
            for (&size, &stride) in dims.iter().zip(&layout.strides).rev() {
                at += (rest % size) * stride;
                rest /= size;
            }
            all[at]
        })
        .collect()
}

/// PyTorch's choice of float style, made from the finite non-zero shown values.
fn choose_style(values: &Values) -> Style {
    let Values::Float(v) = values else { return Style::Plain };
    let nonzero: Vec<f64> = v.iter().copied().filter(|x| x.is_finite() && *x != 0.0).collect();
    if nonzero.is_empty() {
        return Style::Integral; // only zeros, nan and inf: `0.`, `nan`
    }
    let max = nonzero.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    let min = nonzero.iter().fold(f64::INFINITY, |m, x| m.min(x.abs()));
    if max / min > 1000.0 || max > 1.0e8 || min < 1.0e-4 {
        Style::Scientific
    } else if nonzero.iter().all(|x| x.ceil() == *x) {
        Style::Integral
    } else {
        Style::Fixed
    }
}

/// `x` as Python's `"{:.4e}"` writes it: `3.5187e-04`, `-1.0000e+10` (a signed exponent of at
/// least two digits, where Rust would write `3.5187e-4`).
fn scientific(x: f64) -> String {
    let rust = format!("{x:.PRECISION$e}");
    let (mantissa, exponent) = rust.split_once('e').unwrap_or((&rust, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let sign = if exponent < 0 { '-' } else { '+' };
    format!("{mantissa}e{sign}{:02}", exponent.unsigned_abs())
}
