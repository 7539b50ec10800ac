//! Parameter-free modules: activations and reshapes. Each forwards to the tensor operation
//! of the same name (where its derivative lives).

use crate::module::Module;
use torchlet_autograd::functional::Approximate;
use torchlet_autograd::{Result, Tensor};

/// Parameter-free elementwise modules, one line each: `Name => tensor_method, "doc"`. Each
/// gets the struct, `Module::forward` (the tensor op, where its derivative lives) and
/// PyTorch's repr `Name()`.
macro_rules! elementwise_modules {
    ($($(#[$doc:meta])* $name:ident => $op:ident;)*) => {$(
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default)]
        pub struct $name;

        impl Module for $name {
            fn forward(&self, x: &Tensor) -> Result<Tensor> {
                x.$op()
            }
        }

        crate::display_as_repr!($name);
    )*};
}

elementwise_modules! {
    /// `nn.Sigmoid()`: `1 / (1 + e^-x)` elementwise.
    Sigmoid => sigmoid;
    /// `nn.ReLU()`: `max(x, 0)` elementwise.
    ReLU => relu;
    /// `nn.Tanh()`: `tanh(x)` elementwise.
    Tanh => tanh;
    /// `nn.SiLU()`: `x * sigmoid(x)` elementwise (the "swish").
    SiLU => silu;
}

/// `nn.GELU(approximate='none')`: `x * Phi(x)` with the normal CDF `Phi` (exact, by erf), or
/// its tanh approximation with `GELU::tanh()` (`approximate='tanh'`, GPT-2's).
#[derive(Clone, Copy, Debug, Default)]
pub struct GELU {
    /// Exact (`Approximate::None`, the default) or the tanh form.
    pub approximate: Approximate,
}

impl GELU {
    /// `nn.GELU()`: the exact form.
    pub fn new() -> Self {
        GELU { approximate: Approximate::None }
    }

    /// `nn.GELU(approximate='tanh')`.
    pub fn tanh() -> Self {
        GELU { approximate: Approximate::Tanh }
    }
}

impl Module for GELU {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.gelu_with(self.approximate)
    }

    fn extra_repr(&self) -> String {
        let name = match self.approximate {
            Approximate::None => "none",
            Approximate::Tanh => "tanh",
        };
        format!("approximate='{name}'")
    }
}

/// `nn.LeakyReLU(negative_slope=0.01)`: `x` for `x >= 0`, `negative_slope * x` below.
#[derive(Clone, Copy, Debug)]
pub struct LeakyReLU {
    /// The slope for negative inputs (default 0.01).
    pub negative_slope: f64,
}

impl LeakyReLU {
    /// `nn.LeakyReLU(negative_slope)`.
    pub fn new(negative_slope: f64) -> Self {
        LeakyReLU { negative_slope }
    }
}

impl Default for LeakyReLU {
    fn default() -> Self {
        LeakyReLU::new(0.01)
    }
}

impl Module for LeakyReLU {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.leaky_relu(self.negative_slope)
    }

    fn extra_repr(&self) -> String {
        format!("negative_slope={}", crate::module::py_float(self.negative_slope))
    }
}

/// `nn.Softmax(dim)`: `e^x / sum(e^x, dim)`, computed stably.
#[derive(Clone, Copy, Debug)]
pub struct Softmax {
    /// The dimension the probabilities sum to 1 along (negative counts from the end).
    pub dim: isize,
}

/// `nn.LogSoftmax(dim)`: `x - logsumexp(x, dim)`, computed stably.
#[derive(Clone, Copy, Debug)]
pub struct LogSoftmax {
    /// The dimension normalised over (negative counts from the end).
    pub dim: isize,
}

/// `nn.Flatten(start_dim=1, end_dim=-1)`: merges dims `start_dim..=end_dim` into one.
#[derive(Clone, Copy, Debug)]
pub struct Flatten {
    /// First dimension merged (default 1, keeping the batch dimension).
    pub start_dim: isize,
    /// Last dimension merged (default -1).
    pub end_dim: isize,
}

impl Softmax {
    /// `nn.Softmax(dim=dim)`.
    pub fn new(dim: isize) -> Self {
        Softmax { dim }
    }
}

impl LogSoftmax {
    /// `nn.LogSoftmax(dim=dim)`.
    pub fn new(dim: isize) -> Self {
        LogSoftmax { dim }
    }
}

impl Flatten {
    /// `nn.Flatten()`: `start_dim = 1`, `end_dim = -1`.
    pub fn new() -> Self {
        Flatten { start_dim: 1, end_dim: -1 }
    }

    /// `nn.Flatten(start_dim, end_dim)`.
    pub fn with_dims(start_dim: isize, end_dim: isize) -> Self {
        Flatten { start_dim, end_dim }
    }
}

impl Default for Flatten {
    fn default() -> Self {
        Flatten::new()
    }
}

impl Module for Softmax {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.softmax(self.dim)
    }

    fn extra_repr(&self) -> String {
        format!("dim={}", self.dim)
    }
}

impl Module for LogSoftmax {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.log_softmax(self.dim)
    }

    fn extra_repr(&self) -> String {
        format!("dim={}", self.dim)
    }
}

impl Module for Flatten {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.flatten(self.start_dim, self.end_dim)
    }

    fn extra_repr(&self) -> String {
        format!("start_dim={}, end_dim={}", self.start_dim, self.end_dim)
    }
}

crate::display_as_repr!(Softmax, LogSoftmax, Flatten, GELU, LeakyReLU);
