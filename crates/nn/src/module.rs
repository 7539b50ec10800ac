//! The [`Module`] trait (`torch.nn.Module`) and [`Parameter`], which prints a parameter the
//! way PyTorch does.

use std::fmt;
use torchlet_autograd::{DType, Error, Result, Tensor, TensorData};

/// A layer or a network (`torch.nn.Module`): maps an input tensor to an output tensor, owns
/// parameters (trained) and buffers (saved state that is not trained, like BatchNorm's running
/// statistics), contains sub-modules, and has a training/evaluation mode.
///
/// A module implements [`Module::forward`] and says what it holds: its
/// [`children`](Module::children) (sub-modules, by attribute name), its
/// [`own_parameters`](Module::own_parameters) and [`own_buffers`](Module::own_buffers)
/// (not its children's). Everything else is derived, with PyTorch's dotted names and order:
/// `named_parameters` (`blocks.0.sa.key.weight`), `named_buffers`, `named_modules`,
/// `state_dict` / `load_state_dict`, `train` / `eval`, `zero_grad`, `to_dtype`, and the repr
/// (`repr`, printed like PyTorch's). So the lecture's attention head is short:
///
/// ```
/// use torchlet_autograd::{Result, Tensor};
/// use torchlet_nn::{Linear, Module};
///
/// struct Head { key: Linear, query: Linear, value: Linear, tril: Tensor }
///
/// impl Module for Head {
///     fn forward(&self, x: &Tensor) -> Result<Tensor> {
///         let (k, q, v) = (self.key.forward(x)?, self.query.forward(x)?, self.value.forward(x)?);
///         let t = x.size(-2)? as isize;
///         let wei = q.matmul(&k.transpose(-2, -1)?)? * (k.size(-1)? as f64).powf(-0.5);
///         let mask = self.tril.narrow(0, 0, t as usize)?.narrow(1, 0, t as usize)?.eq(0)?;
///         wei.masked_fill(&mask, f64::NEG_INFINITY)?.softmax(-1)?.matmul(&v)
///     }
///     fn children(&self) -> Vec<(String, &dyn Module)> {
///         torchlet_nn::children![self.key, self.query, self.value]
///     }
///     fn own_buffers(&self) -> Vec<(String, Tensor)> {
///         torchlet_nn::tensors![self.tril]
///     }
/// }
///
/// let head = Head {
///     key: Linear::without_bias(8, 4)?, query: Linear::without_bias(8, 4)?,
///     value: Linear::without_bias(8, 4)?,
///     tril: Tensor::from([[1.0, 0.0, 0.0], [1.0, 1.0, 0.0], [1.0, 1.0, 1.0]]),
/// };
/// let names: Vec<String> = head.state_dict().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names, ["tril", "key.weight", "query.weight", "value.weight"]);
/// assert_eq!(head.forward(&Tensor::ones([2, 3, 8])?)?.dims(), vec![2, 3, 4]);
/// # Ok::<(), torchlet_autograd::Error>(())
/// ```
pub trait Module: Send + Sync {
    /// Computes the output for `x` (PyTorch's `module(x)`), recording the graph when a
    /// parameter or the input requires grad.
    fn forward(&self, x: &Tensor) -> Result<Tensor>;

    /// The direct sub-modules with their attribute names, in registration order
    /// (`("key", &self.key)`; `("0", ..)`, `("1", ..)` in a list). Default: none.
    fn children(&self) -> Vec<(String, &dyn Module)> {
        Vec::new()
    }

    /// This module's own parameters, not its children's, with their attribute names
    /// (`("weight", w)`). The tensors are shared handles. Default: none.
    fn own_parameters(&self) -> Vec<(String, Tensor)> {
        Vec::new()
    }

    /// This module's own buffers, not its children's: state saved in the state dict but not
    /// trained (BatchNorm's `running_mean`, an attention mask). Default: none.
    fn own_buffers(&self) -> Vec<(String, Tensor)> {
        Vec::new()
    }

    /// Sets this module's own training mode (not its children's; [`Module::train`] and
    /// [`Module::eval`] walk the tree). Modules whose forward depends on the mode (Dropout,
    /// BatchNorm) override it together with [`Module::mode`]. Default: nothing to set.
    fn set_mode(&self, _training: bool) {}

    /// This module's own training mode, for modules that have one. Default: `None`.
    fn mode(&self) -> Option<bool> {
        None
    }

    /// The arguments PyTorch prints inside the parentheses of this module's repr
    /// (`in_features=2, out_features=5, bias=True` for a Linear). Default: none.
    fn extra_repr(&self) -> String {
        String::new()
    }

    /// The module's name in its repr (`Linear`). Default: the Rust type's name.
    fn type_name(&self) -> &'static str {
        crate::state::short_type_name::<Self>()
    }

    /// The module printed as PyTorch's `repr(module)` prints it: `Linear(in_features=2,
    /// out_features=5, bias=True)`, or for a module with children
    /// `Name(\n  (child): ChildRepr\n)`.
    fn repr(&self) -> String {
        let children = self.children();
        let extra = self.extra_repr();
        if children.is_empty() {
            return format!("{}({extra})", self.type_name());
        }
        let mut s = format!("{}(", self.type_name());
        if !extra.is_empty() {
            s.push_str("\n  ");
            s.push_str(&extra);
        }
        for (name, child) in children {
            s.push_str(&format!("\n  ({name}): {}", add_indent(&child.repr())));
        }
        s.push_str("\n)");
        s
    }

    /// Every parameter with its dotted name (`0.weight`, `blocks.0.sa.key.weight`): the
    /// module's own first, then each child's in registration order, as PyTorch orders them.
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        let mut v = self.own_parameters();
        for (name, child) in self.children() {
            v.extend(child.named_parameters().into_iter().map(|(n, p)| (format!("{name}.{n}"), p)));
        }
        v
    }

    /// Every buffer with its dotted name, in the order of [`Module::named_parameters`].
    fn named_buffers(&self) -> Vec<(String, Tensor)> {
        let mut v = self.own_buffers();
        for (name, child) in self.children() {
            v.extend(child.named_buffers().into_iter().map(|(n, b)| (format!("{name}.{n}"), b)));
        }
        v
    }

    /// This module (named `""`) and every descendant with its dotted name, depth first in
    /// registration order (`model.named_modules()`).
    fn named_modules(&self) -> Vec<(String, &dyn Module)>
    where
        Self: Sized,
    {
        let mut v: Vec<(String, &dyn Module)> = vec![(String::new(), self)];
        collect_modules(self, "", &mut v);
        v
    }

    /// The parameters in the order of [`Module::named_parameters`] (what an optimizer takes).
    /// The tensors are shared handles: updating them updates the module.
    fn parameters(&self) -> Vec<Tensor> {
        self.named_parameters().into_iter().map(|(_, p)| p).collect()
    }

    /// Training mode for this module and every descendant (`model.train()`).
    fn train(&self) {
        self.set_training(true);
    }

    /// Evaluation mode for this module and every descendant (`model.eval()`): BatchNorm uses
    /// its running statistics, Dropout passes its input through.
    fn eval(&self) {
        self.set_training(false);
    }

    /// Sets the mode of this module and every descendant (`model.train(mode)`).
    fn set_training(&self, training: bool) {
        self.set_mode(training);
        for (_, child) in self.children() {
            child.set_training(training);
        }
    }

    /// Whether the module is in training mode (`model.training`): the mode of the first module
    /// of the tree (this one, then its descendants) that has one; `true` when none has.
    fn is_training(&self) -> bool {
        fn first(m: &dyn Module) -> Option<bool> {
            m.mode().or_else(|| m.children().into_iter().find_map(|(_, c)| first(c)))
        }
        self.mode().or_else(|| self.children().into_iter().find_map(|(_, c)| first(c))).unwrap_or(true)
    }

    /// Clears every parameter's gradient (sets it to `None`, PyTorch's default
    /// `set_to_none=True`).
    fn zero_grad(&self) {
        for p in self.parameters() {
            p.zero_grad();
        }
    }

    /// Total number of parameter elements (`sum(p.numel() for p in model.parameters())`).
    fn num_parameters(&self) -> usize {
        self.parameters().iter().map(Tensor::numel).sum()
    }

    /// The parameter and buffer values by name (`model.state_dict()`), in PyTorch's order:
    /// each module's own parameters, then its own buffers, then its children's entries.
    /// Values are O(1) snapshots; see [`crate::state::state_dict`]. Save them with
    /// [`crate::safetensors::save_file`].
    fn state_dict(&self) -> Vec<(String, TensorData)> {
        crate::state::state_dict(self)
    }

    /// Copies `state` into the parameters and buffers (`model.load_state_dict(sd)`), strictly
    /// and atomically: missing, unexpected or duplicated keys and mismatched shapes or dtypes
    /// are all reported in one [`torchlet_autograd::Error::InvalidArgument`] and leave the
    /// model unchanged. See [`crate::state::load_state_dict`].
    fn load_state_dict(&self, state: &[(String, TensorData)]) -> Result<()> {
        crate::state::load_state_dict(self, self.type_name(), state, true).map(drop)
    }

    /// `model.load_state_dict(sd, strict=False)` when `strict` is false: the entries whose
    /// names match are loaded, and the keys missing from `state` or not in the model are
    /// returned instead of failing ([`crate::state::IncompatibleKeys`], like PyTorch's
    /// `_IncompatibleKeys`). Shape or dtype mismatches of matching keys are still errors, and
    /// any error leaves the model unchanged. With `strict` true this is
    /// [`Module::load_state_dict`].
    fn load_state_dict_with(
        &self,
        state: &[(String, TensorData)],
        strict: bool,
    ) -> Result<crate::state::IncompatibleKeys> {
        crate::state::load_state_dict(self, self.type_name(), state, strict)
    }

    /// Converts every parameter and every float buffer to `dtype` in place
    /// (`model.to(torch.float64)`); gradients are cleared. Parameters require grad, so `dtype`
    /// must be a float dtype (checked before anything changes). Integer buffers (BatchNorm's
    /// `num_batches_tracked`) keep their dtype, as in PyTorch.
    fn to_dtype(&self, dtype: DType) -> Result<()> {
        let params = self.parameters();
        if !dtype.is_float() && params.iter().any(Tensor::requires_grad) {
            return Err(Error::dtype(
                "to_dtype",
                "a float dtype for a module whose parameters require grad",
                dtype,
                "",
            ));
        }
        params.iter().try_for_each(|p| p.to_dtype_(dtype))?;
        let floats = self.named_buffers().into_iter().filter(|(_, b)| b.dtype().is_float());
        floats.map(|(_, b)| b).try_for_each(|b| b.to_dtype_(dtype))
    }

    /// Every parameter and float buffer to f64 (`model.double()`).
    fn double(&self) -> Result<()> {
        self.to_dtype(DType::F64)
    }

    /// Every parameter and float buffer to f32 (`model.float()`).
    fn float(&self) -> Result<()> {
        self.to_dtype(DType::F32)
    }
}

/// A module behind `dyn Module` prints as its repr too (`println!("{}", model[1])`).
impl fmt::Display for dyn Module + '_ {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.repr())
    }
}

/// Appends `m`'s descendants to `out` with dotted names under `prefix`, depth first.
fn collect_modules<'a>(m: &'a dyn Module, prefix: &str, out: &mut Vec<(String, &'a dyn Module)>) {
    for (name, child) in m.children() {
        let full = if prefix.is_empty() { name } else { format!("{prefix}.{name}") };
        out.push((full.clone(), child));
        collect_modules(child, &full, out);
    }
}

/// `Display` for modules that print like PyTorch's repr (`println!("{model}")`): implements it
/// with [`Module::repr`] for each listed type.
#[macro_export]
macro_rules! display_as_repr {
    ($($t:ty),* $(,)?) => {$(
        impl ::std::fmt::Display for $t {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(&$crate::Module::repr(self))
            }
        }
    )*};
}

/// The `(name, module)` list that [`Module::children`] returns, named after the fields:
/// `children![self.key, self.query]` is
/// `vec![("key".into(), &self.key as &dyn Module), ("query".into(), &self.query as &dyn Module)]`
/// (PyTorch names a sub-module by the attribute it is assigned to).
#[macro_export]
macro_rules! children {
    ($($s:ident . $f:ident),* $(,)?) => {
        vec![$((::std::string::String::from(stringify!($f)), &$s.$f as &dyn $crate::Module)),*]
    };
}

/// Writes [`Module::children`] for a module whose sub-modules are the named fields, inside
/// its `impl Module` block: `submodules!(key, query, value);`.
#[macro_export]
macro_rules! submodules {
    ($($f:ident),* $(,)?) => {
        fn children(&self) -> ::std::vec::Vec<(::std::string::String, &dyn $crate::Module)> {
            $crate::children![$(self.$f),*]
        }
    };
}

/// Writes [`Module::own_buffers`] for tensors held in the named fields, inside the module's
/// `impl Module` block: `buffers!(tril);` (PyTorch's `register_buffer("tril", ...)`).
#[macro_export]
macro_rules! buffers {
    ($($f:ident),* $(,)?) => {
        fn own_buffers(&self) -> ::std::vec::Vec<(::std::string::String, $crate::__Tensor)> {
            $crate::tensors![$(self.$f),*]
        }
    };
}

/// The `(name, tensor)` list that [`Module::own_parameters`] or [`Module::own_buffers`]
/// returns, named after the fields: `tensors![self.tril]` is
/// `vec![("tril".into(), self.tril.clone())]` (PyTorch's `register_buffer("tril", ...)`).
#[macro_export]
macro_rules! tensors {
    ($($s:ident . $f:ident),* $(,)?) => {
        vec![$((::std::string::String::from(stringify!($f)), $s.$f.clone())),*]
    };
}

/// Prints a tensor as PyTorch prints an `nn.Parameter`:
/// `Parameter containing:\ntensor([...], requires_grad=True)`.
///
/// ```
/// # use torchlet_autograd::Tensor;
/// let w = Tensor::from([1.0f32, 2.0]).requires_grad_(true)?;
/// assert!(torchlet_nn::Parameter(&w).to_string().starts_with("Parameter containing:\ntensor("));
/// # Ok::<(), torchlet_autograd::Error>(())
/// ```
pub struct Parameter<'a>(pub &'a Tensor);

impl fmt::Display for Parameter<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Parameter containing:\n{}", self.0)
    }
}

/// `"True"` or `"False"`, as Python prints a bool (for `extra_repr`).
pub fn py_bool(b: bool) -> &'static str {
    if b {
        "True"
    } else {
        "False"
    }
}

/// A float as Python's `repr` prints it: the shortest round-trip digits, `1.0` rather than
/// `1`, and scientific notation with a two-digit exponent outside `[1e-4, 1e16)` (`1e-05`).
pub fn py_float(x: f64) -> String {
    if !x.is_finite() {
        return if x.is_nan() {
            "nan".into()
        } else if x > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        };
    }
    let exp = if x == 0.0 { 0 } else { x.abs().log10().floor() as i32 };
    if !(-4..16).contains(&exp) {
        let s = format!("{x:e}"); // "1e-5", "1.5e-7"
        let (mantissa, e) = s.split_once('e').unwrap_or((&s, "0"));
        let e: i32 = e.parse().unwrap_or(0);
        format!("{mantissa}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs())
    } else {
        let s = format!("{x}");
        if s.contains('.') {
            s
        } else {
            s + ".0"
        }
    }
}

/// Indents every line of `s` but the first by two spaces (PyTorch's `_addindent`), so a
/// child module's multi-line repr nests inside its parent's.
pub(crate) fn add_indent(s: &str) -> String {
    let mut lines = s.split('\n');
    let mut out = lines.next().unwrap_or_default().to_string();
    for line in lines {
        out.push_str("\n  ");
        out.push_str(line);
    }
    out
}
