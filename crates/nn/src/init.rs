//! `torch.nn.init`: fill parameters in place, drawing from the same generator in the same
//! order as PyTorch, so `manual_seed(42)` followed by the same inits gives PyTorch's weights.
//!
//! Every function runs under `no_grad` (like PyTorch's) and takes its numbers from the global
//! generator; the `_with_` forms take an explicit [`Generator`] (`generator=g`).
//!
//! Fans ([`calculate_fan_in_and_fan_out`]): for a weight of shape `(out, in, *kernel)`,
//! `fan_in = in * prod(kernel)` and `fan_out = out * prod(kernel)`.
//! Gains ([`calculate_gain`]): linear, conv and sigmoid 1; tanh 5/3; relu sqrt(2);
//! leaky_relu `sqrt(2 / (1 + slope^2))` (slope 0.01 by default); selu 3/4.
//!
//! The layer helpers [`linear_`], [`conv_`] and [`embedding_`] are what `nn.Linear`,
//! `nn.Conv1d/2d/3d` and `nn.Embedding` do in `reset_parameters`; [`conv2d_parameters`] and
//! [`embedding_weight`] build and initialise the tensors of a `Conv2d` and an `Embedding`.

use std::fmt;
use std::str::FromStr;
use torchlet_autograd::{DType, Error, Generator, NoGradGuard, Result, Tensor, TensorData};
use torchlet_tensor_core::random::with_global;

/// The `nonlinearity` argument of [`calculate_gain`] and the Kaiming inits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nonlinearity {
    /// `linear`: gain 1.
    Linear,
    /// `conv1d`, `conv2d`, `conv3d`, `conv_transpose1d/2d/3d`: gain 1.
    Conv,
    /// `sigmoid`: gain 1.
    Sigmoid,
    /// `tanh`: gain 5/3.
    Tanh,
    /// `relu`: gain sqrt(2).
    Relu,
    /// `leaky_relu`: gain `sqrt(2 / (1 + slope^2))`, the slope being the `param`/`a` argument
    /// (0.01 when absent). PyTorch's default for the Kaiming inits.
    LeakyRelu,
    /// `selu`: gain 3/4.
    Selu,
}

impl FromStr for Nonlinearity {
    type Err = Error;

    /// PyTorch's names: `linear`, `conv1d`, `conv2d`, `conv3d`, `conv_transpose1d`,
    /// `conv_transpose2d`, `conv_transpose3d`, `sigmoid`, `tanh`, `relu`, `leaky_relu`, `selu`.
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "linear" => Nonlinearity::Linear,
            "conv1d" | "conv2d" | "conv3d" | "conv_transpose1d" | "conv_transpose2d" | "conv_transpose3d" => {
                Nonlinearity::Conv
            }
            "sigmoid" => Nonlinearity::Sigmoid,
            "tanh" => Nonlinearity::Tanh,
            "relu" => Nonlinearity::Relu,
            "leaky_relu" => Nonlinearity::LeakyRelu,
            "selu" => Nonlinearity::Selu,
            other => {
                return Err(Error::invalid(
                    "calculate_gain",
                    format!("unsupported nonlinearity {other:?} (expected linear, conv1d, conv2d, conv3d, conv_transpose1d/2d/3d, sigmoid, tanh, relu, leaky_relu or selu)"),
                ))
            }
        })
    }
}

impl fmt::Display for Nonlinearity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Nonlinearity::Linear => "linear",
            Nonlinearity::Conv => "conv",
            Nonlinearity::Sigmoid => "sigmoid",
            Nonlinearity::Tanh => "tanh",
            Nonlinearity::Relu => "relu",
            Nonlinearity::LeakyRelu => "leaky_relu",
            Nonlinearity::Selu => "selu",
        })
    }
}

/// The `mode` of the Kaiming inits: which fan the standard deviation divides by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FanMode {
    /// `fan_in` (PyTorch's default): preserves the variance of the forward pass.
    FanIn,
    /// `fan_out`: preserves the variance of the backward pass.
    FanOut,
}

impl FromStr for FanMode {
    type Err = Error;

    /// `fan_in` or `fan_out`.
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "fan_in" => Ok(FanMode::FanIn),
            "fan_out" => Ok(FanMode::FanOut),
            other => Err(Error::invalid(
                "kaiming init",
                format!("mode {other:?} not supported, please use one of fan_in, fan_out"),
            )),
        }
    }
}

/// The recommended gain for a nonlinearity (`torch.nn.init.calculate_gain`): 1 for linear,
/// conv and sigmoid, 5/3 for tanh, sqrt(2) for relu, `sqrt(2 / (1 + slope^2))` for leaky_relu
/// with `param` the negative slope (0.01 when `None`), 3/4 for selu. `param` is ignored by the
/// others. Errors on a non-finite slope.
pub fn calculate_gain(nonlinearity: Nonlinearity, param: Option<f64>) -> Result<f64> {
    Ok(match nonlinearity {
        Nonlinearity::Linear | Nonlinearity::Conv | Nonlinearity::Sigmoid => 1.0,
        Nonlinearity::Tanh => 5.0 / 3.0,
        Nonlinearity::Relu => 2f64.sqrt(),
        Nonlinearity::LeakyRelu => {
            let slope = param.unwrap_or(0.01);
            if !slope.is_finite() {
                return Err(Error::invalid(
                    "calculate_gain",
                    format!("negative_slope {slope} is not a valid number"),
                ));
            }
            (2.0 / (1.0 + slope.powi(2))).sqrt()
        }
        Nonlinearity::Selu => 3.0 / 4.0,
    })
}

/// `(fan_in, fan_out)` of a weight of shape `(out, in, *kernel)`: `in * r` and `out * r` with
/// `r` the product of the kernel dims (1 for a matrix). Errors for fewer than 2 dimensions.
pub fn calculate_fan_in_and_fan_out(tensor: &Tensor) -> Result<(usize, usize)> {
    let dims = tensor.dims();
    if dims.len() < 2 {
        return Err(Error::invalid(
            "calculate_fan_in_and_fan_out",
            format!(
                "fan in and fan out can not be computed for a tensor with fewer than 2 dimensions (shape {})",
                tensor.shape()
            ),
        ));
    }
    let receptive: usize = dims[2..].iter().product();
    Ok((dims[1] * receptive, dims[0] * receptive))
}

fn fan(tensor: &Tensor, mode: FanMode) -> Result<usize> {
    let (fan_in, fan_out) = calculate_fan_in_and_fan_out(tensor)?;
    Ok(match mode {
        FanMode::FanIn => fan_in,
        FanMode::FanOut => fan_out,
    })
}

/// `nn.init.uniform_(tensor, a, b)`: `U(a, b)` from the global generator.
pub fn uniform_(tensor: &Tensor, a: f64, b: f64) -> Result<()> {
    with_global(|g| uniform_with_(tensor, a, b, g))
}

/// [`uniform_`] from an explicit generator.
pub fn uniform_with_(tensor: &Tensor, a: f64, b: f64, g: &mut Generator) -> Result<()> {
    let _guard = NoGradGuard::new();
    tensor.uniform_with_(a, b, g)
}

/// `nn.init.normal_(tensor, mean, std)`: `N(mean, std^2)` from the global generator (drawn as
/// `Tensor::normal_` draws: blocks of 16 for 16 or more elements).
pub fn normal_(tensor: &Tensor, mean: f64, std: f64) -> Result<()> {
    with_global(|g| normal_with_(tensor, mean, std, g))
}

/// [`normal_`] from an explicit generator.
pub fn normal_with_(tensor: &Tensor, mean: f64, std: f64, g: &mut Generator) -> Result<()> {
    let _guard = NoGradGuard::new();
    tensor.normal_with_(mean, std, g)
}

/// `nn.init.zeros_(tensor)` (draws nothing).
pub fn zeros_(tensor: &Tensor) -> Result<()> {
    let _guard = NoGradGuard::new();
    tensor.set_data(TensorData::zeros(tensor.shape(), tensor.dtype()))
}

/// `nn.init.ones_(tensor)` (draws nothing).
pub fn ones_(tensor: &Tensor) -> Result<()> {
    let _guard = NoGradGuard::new();
    tensor.set_data(TensorData::ones(tensor.shape(), tensor.dtype()))
}

/// `nn.init.kaiming_uniform_(tensor, a, mode, nonlinearity)` (He et al. 2015):
/// `U(-bound, bound)` with `bound = sqrt(3) * gain / sqrt(fan)`, `gain =
/// calculate_gain(nonlinearity, a)` and `fan` chosen by `mode`. PyTorch's defaults are
/// `a = 0`, `FanMode::FanIn`, `Nonlinearity::LeakyRelu`. A tensor with a zero-sized dimension
/// is left alone (PyTorch warns and draws nothing).
pub fn kaiming_uniform_(tensor: &Tensor, a: f64, mode: FanMode, nonlinearity: Nonlinearity) -> Result<()> {
    with_global(|g| kaiming_uniform_with_(tensor, a, mode, nonlinearity, g))
}

/// [`kaiming_uniform_`] from an explicit generator.
pub fn kaiming_uniform_with_(
    tensor: &Tensor,
    a: f64,
    mode: FanMode,
    nonlinearity: Nonlinearity,
    g: &mut Generator,
) -> Result<()> {
    if tensor.dims().contains(&0) {
        return Ok(());
    }
    let fan = fan(tensor, mode)?;
    let std = calculate_gain(nonlinearity, Some(a))? / (fan as f64).sqrt();
    let bound = 3f64.sqrt() * std;
    uniform_with_(tensor, -bound, bound, g)
}

/// `nn.init.kaiming_normal_(tensor, a, mode, nonlinearity)`: `N(0, std^2)` with
/// `std = gain / sqrt(fan)`. A tensor with a zero-sized dimension is left alone.
pub fn kaiming_normal_(tensor: &Tensor, a: f64, mode: FanMode, nonlinearity: Nonlinearity) -> Result<()> {
    with_global(|g| kaiming_normal_with_(tensor, a, mode, nonlinearity, g))
}

/// [`kaiming_normal_`] from an explicit generator.
pub fn kaiming_normal_with_(
    tensor: &Tensor,
    a: f64,
    mode: FanMode,
    nonlinearity: Nonlinearity,
    g: &mut Generator,
) -> Result<()> {
    if tensor.dims().contains(&0) {
        return Ok(());
    }
    let fan = fan(tensor, mode)?;
    let std = calculate_gain(nonlinearity, Some(a))? / (fan as f64).sqrt();
    normal_with_(tensor, 0.0, std, g)
}

fn xavier_std(op: &'static str, tensor: &Tensor, gain: f64) -> Result<f64> {
    let (fan_in, fan_out) = calculate_fan_in_and_fan_out(tensor)?;
    if fan_in + fan_out == 0 {
        return Err(Error::invalid(
            op,
            format!("fan_in + fan_out is 0 for shape {}; nothing to scale by", tensor.shape()),
        ));
    }
    Ok(gain * (2.0 / (fan_in + fan_out) as f64).sqrt())
}

/// `nn.init.xavier_uniform_(tensor, gain)` (Glorot & Bengio 2010): `U(-a, a)` with
/// `a = sqrt(3) * gain * sqrt(2 / (fan_in + fan_out))`.
pub fn xavier_uniform_(tensor: &Tensor, gain: f64) -> Result<()> {
    with_global(|g| xavier_uniform_with_(tensor, gain, g))
}

/// [`xavier_uniform_`] from an explicit generator.
pub fn xavier_uniform_with_(tensor: &Tensor, gain: f64, g: &mut Generator) -> Result<()> {
    let a = 3f64.sqrt() * xavier_std("xavier_uniform_", tensor, gain)?;
    uniform_with_(tensor, -a, a, g)
}

/// `nn.init.xavier_normal_(tensor, gain)`: `N(0, std^2)` with
/// `std = gain * sqrt(2 / (fan_in + fan_out))`.
pub fn xavier_normal_(tensor: &Tensor, gain: f64) -> Result<()> {
    with_global(|g| xavier_normal_with_(tensor, gain, g))
}

/// [`xavier_normal_`] from an explicit generator.
pub fn xavier_normal_with_(tensor: &Tensor, gain: f64, g: &mut Generator) -> Result<()> {
    let std = xavier_std("xavier_normal_", tensor, gain)?;
    normal_with_(tensor, 0.0, std, g)
}

/// A zero tensor of a float `dtype` for a layer to initialise, or an error naming `op` when
/// the shape cannot be addressed or allocated (never an abort).
pub(crate) fn zeros(op: &'static str, dims: &[usize], dtype: DType) -> Result<Tensor> {
    let shape = torchlet_autograd::Shape::new(dims);
    let n = shape.checked_numel().ok_or_else(|| {
        Error::invalid(op, format!("a parameter of shape {shape} has too many elements to allocate"))
    })?;
    let out_of_memory =
        |_| Error::invalid(op, format!("cannot allocate {n} elements for a parameter of shape {shape}"));
    let data = match dtype {
        DType::F32 => {
            let mut v: Vec<f32> = Vec::new();
            v.try_reserve_exact(n).map_err(out_of_memory)?;
            v.resize(n, 0.0);
            TensorData::from_vec(v, shape)?
        }
        DType::F64 => {
            let mut v: Vec<f64> = Vec::new();
            v.try_reserve_exact(n).map_err(out_of_memory)?;
            v.resize(n, 0.0);
            TensorData::from_vec(v, shape)?
        }
        other => return Err(Error::need_float(op, other)),
    };
    Ok(Tensor::from_data(data))
}

// ----- what the layers' reset_parameters do ---------------------------------------------------

/// `nn.Linear.reset_parameters`: the weight `(out, in)` by `kaiming_uniform_(a = sqrt(5))`,
/// which works out to `U(-1/sqrt(in), 1/sqrt(in))`, then the bias by
/// `U(-1/sqrt(in), 1/sqrt(in))` (`U(0, 0)` when `in = 0`), from the global generator.
pub fn linear_(weight: &Tensor, bias: Option<&Tensor>) -> Result<()> {
    with_global(|g| linear_with_(weight, bias, g))
}

/// [`linear_`] from an explicit generator.
pub fn linear_with_(weight: &Tensor, bias: Option<&Tensor>, g: &mut Generator) -> Result<()> {
    kaiming_uniform_with_(weight, 5f64.sqrt(), FanMode::FanIn, Nonlinearity::LeakyRelu, g)?;
    if let Some(b) = bias {
        let (fan_in, _) = calculate_fan_in_and_fan_out(weight)?;
        let bound = if fan_in > 0 { 1.0 / (fan_in as f64).sqrt() } else { 0.0 };
        uniform_with_(b, -bound, bound, g)?;
    }
    Ok(())
}

/// `reset_parameters` of `nn.Conv1d/2d/3d` (PyTorch's `_ConvNd`), for a weight of shape
/// `(out_channels, in_channels / groups, *kernel_size)`: the weight by
/// `kaiming_uniform_(a = sqrt(5))`, i.e. `U(-1/sqrt(fan_in), 1/sqrt(fan_in))` with
/// `fan_in = in_channels / groups * prod(kernel_size)`, then the bias by the same uniform
/// (left untouched when `fan_in = 0`), from the global generator.
pub fn conv_(weight: &Tensor, bias: Option<&Tensor>) -> Result<()> {
    with_global(|g| conv_with_(weight, bias, g))
}

/// [`conv_`] from an explicit generator.
pub fn conv_with_(weight: &Tensor, bias: Option<&Tensor>, g: &mut Generator) -> Result<()> {
    kaiming_uniform_with_(weight, 5f64.sqrt(), FanMode::FanIn, Nonlinearity::LeakyRelu, g)?;
    if let Some(b) = bias {
        let (fan_in, _) = calculate_fan_in_and_fan_out(weight)?;
        if fan_in != 0 {
            let bound = 1.0 / (fan_in as f64).sqrt();
            uniform_with_(b, -bound, bound, g)?;
        }
    }
    Ok(())
}

/// The parameters of `nn.Conv2d(in_channels, out_channels, kernel_size, groups=groups,
/// bias=bias, dtype=dtype)` as PyTorch initialises them from the global generator: a weight of
/// shape `(out_channels, in_channels / groups, kh, kw)` and, when `bias`, a bias of shape
/// `(out_channels)`, both requiring grad (see [`conv_`]). Errors unless `groups` divides both
/// channel counts, and for non-float dtypes.
pub fn conv2d_parameters(
    in_channels: usize,
    out_channels: usize,
    kernel_size: (usize, usize),
    groups: usize,
    bias: bool,
    dtype: DType,
) -> Result<(Tensor, Option<Tensor>)> {
    if groups == 0 || !in_channels.is_multiple_of(groups) || !out_channels.is_multiple_of(groups) {
        return Err(Error::invalid(
            "Conv2d",
            format!("groups={groups} must be positive and divide in_channels={in_channels} and out_channels={out_channels}"),
        ));
    }
    if !dtype.is_float() {
        return Err(Error::need_float("Conv2d", dtype));
    }
    let w = zeros("Conv2d", &[out_channels, in_channels / groups, kernel_size.0, kernel_size.1], dtype)?;
    let b = if bias { Some(zeros("Conv2d", &[out_channels], dtype)?) } else { None };
    conv_(&w, b.as_ref())?;
    let w = w.requires_grad_(true)?;
    let b = b.map(|b| b.requires_grad_(true)).transpose()?;
    Ok((w, b))
}

/// `nn.Embedding.reset_parameters`: `N(0, 1)` from the global generator, then the row
/// `padding_idx` (if any) set to zeros. Errors when `padding_idx` is not a row of the weight.
pub fn embedding_(weight: &Tensor, padding_idx: Option<usize>) -> Result<()> {
    with_global(|g| embedding_with_(weight, padding_idx, g))
}

/// [`embedding_`] from an explicit generator.
pub fn embedding_with_(weight: &Tensor, padding_idx: Option<usize>, g: &mut Generator) -> Result<()> {
    let rows = weight.dims().first().copied().unwrap_or(0);
    if let Some(p) = padding_idx {
        if p >= rows {
            return Err(Error::IndexOutOfRange {
                op: "Embedding",
                what: "padding_idx",
                index: p as i64,
                size: rows,
                extra: " (a row of the embedding weight)".into(),
            });
        }
    }
    normal_with_(weight, 0.0, 1.0, g)?;
    if let Some(p) = padding_idx {
        let _guard = NoGradGuard::new();
        let d = weight.data();
        let mut v = d.to_f64_vec();
        let width: usize = weight.dims()[1..].iter().product();
        v[p * width..(p + 1) * width].iter_mut().for_each(|x| *x = 0.0);
        weight.set_data(TensorData::from_f64_vec(v, d.shape().clone(), d.dtype())?)?;
    }
    Ok(())
}

/// The weight of `nn.Embedding(num_embeddings, embedding_dim, padding_idx, dtype=dtype)` as
/// PyTorch initialises it from the global generator: `(num_embeddings, embedding_dim)` drawn
/// `N(0, 1)`, the padding row zeroed, requiring grad (see [`embedding_`]).
pub fn embedding_weight(
    num_embeddings: usize,
    embedding_dim: usize,
    padding_idx: Option<usize>,
    dtype: DType,
) -> Result<Tensor> {
    if !dtype.is_float() {
        return Err(Error::need_float("Embedding", dtype));
    }
    let w = zeros("Embedding", &[num_embeddings, embedding_dim], dtype)?;
    embedding_(&w, padding_idx)?;
    w.requires_grad_(true)
}
