//! [`Tensor`]: the user-facing, differentiable tensor (like `torch.Tensor`).
//!
//! A `Tensor` is a cheap handle (`Arc`) to its value ([`TensorData`]), its gradient, and —
//! for results of tracked operations — the node of the graph that produced it.

use crate::graph::Node;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use torchlet_tensor_core::random::with_global;
use torchlet_tensor_core::{DType, Element, Error, Generator, Result, Shape, TensorData};

/// Creation counter: a result is always created after its inputs, so ids order the graph.
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// An n-dimensional tensor that can record the operations applied to it and compute
/// gradients with [`Tensor::backward`]. Cloning is O(1) and shares everything (like
/// assigning a Python variable); use [`Tensor::detach`] for a graph-free handle.
///
/// `Tensor` is `Send + Sync`.
#[derive(Clone)]
pub struct Tensor(pub(crate) Arc<Inner>);

pub(crate) struct Inner {
    pub(crate) id: u64,
    /// The value; shared with the handles [`Tensor::detach`] returns, so replacing it (or an
    /// in-place op) through either is seen by both, as PyTorch's shared storage is.
    pub(crate) data: Arc<RwLock<TensorData>>,
    pub(crate) requires_grad: AtomicBool,
    pub(crate) retains_grad: AtomicBool,
    pub(crate) grad: Mutex<Option<TensorData>>,
    /// The operation that produced this tensor; `None` for leaves.
    pub(crate) node: Option<Node>,
    /// A name for graph drawings and state dicts (`0.weight`), set by modules.
    pub(crate) name: Mutex<Option<String>>,
}

impl Tensor {
    pub(crate) fn make(data: TensorData, requires_grad: bool, node: Option<Node>) -> Tensor {
        Tensor(Arc::new(Inner {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            data: Arc::new(RwLock::new(data)),
            requires_grad: AtomicBool::new(requires_grad),
            retains_grad: AtomicBool::new(false),
            grad: Mutex::new(None),
            node,
            name: Mutex::new(None),
        }))
    }

    // ----- creation ------------------------------------------------------------------------

    /// A leaf tensor holding `data` exactly, dtype included (no gradient tracking until
    /// [`Tensor::requires_grad_`]). Literals go through `Tensor::from`, which applies the
    /// default float dtype.
    pub fn from_data(data: TensorData) -> Tensor {
        Tensor::make(data, false, None)
    }

    // ----- random creation: PyTorch's CPU streams, bit for bit ------------------------------
    //
    // The functions without a generator draw from the global one (`manual_seed`); the
    // `_with` forms take an explicit `Generator` like PyTorch's `generator=g`. The algorithms
    // are documented in `torchlet_tensor_core::random`.

    /// Uniform `[0, 1)` samples of the default float dtype from the global generator, like
    /// `torch.rand(shape)`:
    /// each is `(w & 0xFFFFFF) / 2^24` for one 32-bit twister word `w`.
    pub fn rand(shape: impl Into<Shape>) -> Result<Tensor> {
        Ok(Tensor::from_data(TensorData::rand(shape, torchlet_tensor_core::default_dtype())?))
    }

    /// Uniform `[0, 1)` samples of `dtype` from the global generator
    /// (`torch.rand(shape, dtype=dtype)`; f64 takes 53 bits of two words).
    pub fn rand_dtype(shape: impl Into<Shape>, dtype: DType) -> Result<Tensor> {
        Ok(Tensor::from_data(TensorData::rand(shape, dtype)?))
    }

    /// Uniform `[0, 1)` samples of `dtype` from an explicit generator
    /// (`torch.rand(shape, dtype=dtype, generator=g)`).
    pub fn rand_with(shape: impl Into<Shape>, dtype: DType, g: &mut Generator) -> Result<Tensor> {
        Ok(Tensor::from_data(TensorData::rand_with(shape, dtype, g)?))
    }

    /// Standard normal samples of the default float dtype from the global generator, like
    /// `torch.randn(shape)`:
    /// Box–Muller on blocks of 16 uniforms for 16 or more elements, one cached f64 pair at a
    /// time below that (so `randn(10)` and `randn(20)` start differently, as in PyTorch).
    pub fn randn(shape: impl Into<Shape>) -> Result<Tensor> {
        Ok(Tensor::from_data(TensorData::randn(shape, torchlet_tensor_core::default_dtype())?))
    }

    /// Standard normal samples of `dtype` from the global generator
    /// (`torch.randn(shape, dtype=dtype)`).
    pub fn randn_dtype(shape: impl Into<Shape>, dtype: DType) -> Result<Tensor> {
        Ok(Tensor::from_data(TensorData::randn(shape, dtype)?))
    }

    /// Standard normal samples of `dtype` from an explicit generator
    /// (`torch.randn(shape, dtype=dtype, generator=g)`).
    pub fn randn_with(shape: impl Into<Shape>, dtype: DType, g: &mut Generator) -> Result<Tensor> {
        Ok(Tensor::from_data(TensorData::randn_with(shape, dtype, g)?))
    }

    /// Integers in `[low, high)` (i64) from the global generator, like
    /// `torch.randint(low, high, shape)`: `low + w % (high - low)`.
    pub fn randint(low: i64, high: i64, shape: impl Into<Shape>) -> Result<Tensor> {
        Ok(Tensor::from_data(TensorData::randint(low, high, shape)?))
    }

    /// Integers in `[low, high)` (i64) from an explicit generator
    /// (`torch.randint(low, high, shape, generator=g)`).
    pub fn randint_with(low: i64, high: i64, shape: impl Into<Shape>, g: &mut Generator) -> Result<Tensor> {
        Ok(Tensor::from_data(TensorData::randint_with(low, high, shape, g)?))
    }

    /// A random permutation of `0..n` (i64) from the global generator, like
    /// `torch.randperm(n)` (Fisher–Yates: swap `i` with `i + w % (n - i)`).
    pub fn randperm(n: usize) -> Result<Tensor> {
        Ok(Tensor::from_data(TensorData::randperm(n)?))
    }

    /// A random permutation of `0..n` from an explicit generator
    /// (`torch.randperm(n, generator=g)`).
    pub fn randperm_with(n: usize, g: &mut Generator) -> Result<Tensor> {
        Ok(Tensor::from_data(TensorData::randperm_with(n, g)?))
    }

    /// `num_samples` class indices (i64) per row of the probabilities `self` (1-D or 2-D,
    /// unnormalised is fine), like `torch.multinomial(self, num_samples, replacement)`, from
    /// the global generator. One sample, or sampling without replacement, takes the argmax /
    /// top-k of `p / E` with `E ~ Exp(1)`; several samples with replacement search the
    /// cumulative distribution with one uniform each. Not differentiable.
    pub fn multinomial(&self, num_samples: usize, replacement: bool) -> Result<Tensor> {
        Ok(Tensor::from_data(self.data().multinomial(num_samples, replacement)?))
    }

    /// [`Tensor::multinomial`] from an explicit generator (`generator=g`).
    pub fn multinomial_with(
        &self,
        num_samples: usize,
        replacement: bool,
        g: &mut Generator,
    ) -> Result<Tensor> {
        Ok(Tensor::from_data(self.data().multinomial_with(num_samples, replacement, g)?))
    }

    /// 0/1 draws with the probabilities `self` (`torch.bernoulli(self)`): `1` where `u < p`,
    /// `u` uniform of the dtype. Same shape and dtype as `self`; not differentiable.
    pub fn bernoulli(&self) -> Result<Tensor> {
        Ok(Tensor::from_data(self.data().bernoulli()?))
    }

    /// [`Tensor::bernoulli`] from an explicit generator (`generator=g`).
    pub fn bernoulli_with(&self, g: &mut Generator) -> Result<Tensor> {
        Ok(Tensor::from_data(self.data().bernoulli_with(g)?))
    }

    // In-place random fills (`t.normal_(mean, std)`): the value is replaced by a fresh tensor
    // of the same shape and dtype, drawn as PyTorch draws for a contiguous tensor. Like PyTorch
    // they refuse a leaf that requires grad while gradients are on (use `no_grad`, as
    // `nn::init` does) and any tensor produced by an operation.

    fn random_fill(&self, op: &'static str, fill: impl FnOnce(&mut TensorData) -> Result<()>) -> Result<()> {
        if !self.is_leaf() {
            return Err(Error::autograd(
                op,
                format!(
                    "cannot fill a tensor produced by {} in place; fill a leaf (or .detach() it first)",
                    self.grad_fn().unwrap_or("an operation")
                ),
            ));
        }
        if self.requires_grad() && crate::graph::is_grad_enabled() {
            return Err(Error::autograd(op, "a leaf tensor that requires grad cannot be filled in place while gradients are recorded; wrap the fill in no_grad() (as nn::init does)"));
        }
        self.update_data(fill)
    }

    /// `self.normal_(mean, std)` from the global generator: replaces the value with normal
    /// samples `z * std + mean` (`z` drawn as by [`Tensor::randn`]).
    pub fn normal_(&self, mean: f64, std: f64) -> Result<()> {
        with_global(|g| self.normal_with_(mean, std, g))
    }

    /// `self.normal_(mean, std, generator=g)`.
    pub fn normal_with_(&self, mean: f64, std: f64, g: &mut Generator) -> Result<()> {
        self.random_fill("normal_", |d| d.normal_(mean, std, g))
    }

    /// `self.uniform_(low, high)` from the global generator: `u * (high - low) + low`.
    pub fn uniform_(&self, low: f64, high: f64) -> Result<()> {
        with_global(|g| self.uniform_with_(low, high, g))
    }

    /// `self.uniform_(low, high, generator=g)`.
    pub fn uniform_with_(&self, low: f64, high: f64, g: &mut Generator) -> Result<()> {
        self.random_fill("uniform_", |d| d.uniform_(low, high, g))
    }

    /// `self.exponential_(lambd)` from the global generator: `-ln(1 - u) / lambd`, `u` an f64
    /// uniform.
    pub fn exponential_(&self, lambd: f64) -> Result<()> {
        with_global(|g| self.exponential_with_(lambd, g))
    }

    /// `self.exponential_(lambd, generator=g)`.
    pub fn exponential_with_(&self, lambd: f64, g: &mut Generator) -> Result<()> {
        self.random_fill("exponential_", |d| d.exponential_(lambd, g))
    }

    /// `self.bernoulli_(p)` from the global generator: each element 1 with probability `p`
    /// (`u < p`, `u` an f64 uniform), else 0.
    pub fn bernoulli_(&self, p: f64) -> Result<()> {
        with_global(|g| self.bernoulli_with_(p, g))
    }

    /// `self.bernoulli_(p, generator=g)`.
    pub fn bernoulli_with_(&self, p: f64, g: &mut Generator) -> Result<()> {
        self.random_fill("bernoulli_", |d| d.bernoulli_(p, g))
    }

    /// `self.random_()` from the global generator: integers over the dtype's exact range
    /// (an i64 gets a 64-bit draw modulo 2^63, what a shuffling `DataLoader` draws).
    pub fn random_(&self) -> Result<()> {
        with_global(|g| self.random_with_(g))
    }

    /// `self.random_(generator=g)`.
    pub fn random_with_(&self, g: &mut Generator) -> Result<()> {
        self.random_fill("random_", |d| d.random_(g))
    }

    // ----- value access ---------------------------------------------------------------------

    /// The current value (a cheap shared handle to the storage).
    pub fn data(&self) -> TensorData {
        self.0.data.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// `f` of the value, read in place (no clone of the handle: for the dtype, shape or
    /// promotion category an op checks before it takes the value).
    pub(crate) fn with_data<R>(&self, f: impl FnOnce(&TensorData) -> R) -> R {
        f(&self.0.data.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Replaces the value in place (used by optimizers under `no_grad`). The new value must
    /// have the same shape and dtype.
    pub fn set_data(&self, value: TensorData) -> Result<()> {
        let mut d = self.0.data.write().unwrap_or_else(|e| e.into_inner());
        check_same(&d, &value, "set_data", "the new value")?;
        *d = value;
        Ok(())
    }

    /// Runs `f` on the value for in-place modification (copy-on-write if shared). `f` should
    /// keep the shape and dtype; a backward through a graph recorded before a change of either
    /// reports an error (and changes no gradient) instead of producing a mis-shaped gradient.
    pub fn update_data<R>(&self, f: impl FnOnce(&mut TensorData) -> R) -> R {
        f(&mut self.0.data.write().unwrap_or_else(|e| e.into_inner()))
    }

    /// The shape.
    pub fn shape(&self) -> Shape {
        self.0.data.read().unwrap_or_else(|e| e.into_inner()).shape().clone()
    }

    /// The dimension sizes.
    pub fn dims(&self) -> Vec<usize> {
        self.with_data(|d| d.dims().to_vec())
    }

    /// The size of dimension `dim` (negative counts from the end).
    pub fn size(&self, dim: isize) -> Result<usize> {
        self.with_data(|d| d.size(dim))
    }

    /// Number of dimensions.
    pub fn ndim(&self) -> usize {
        self.with_data(|d| d.ndim())
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.with_data(|d| d.numel())
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        self.with_data(|d| d.dtype())
    }

    /// The elements in row-major order (`T` must be the dtype), like `tensor.tolist()`.
    pub fn to_vec<T: Element>(&self) -> Result<Vec<T>> {
        self.data().to_vec::<T>()
    }

    /// The elements converted to f64.
    pub fn to_f64_vec(&self) -> Vec<f64> {
        self.data().to_f64_vec()
    }

    /// The value of a one-element tensor, like `tensor.item()`.
    pub fn item(&self) -> Result<f64> {
        self.with_data(|d| d.item())
    }

    /// `torch.allclose(self, other, rtol, atol)`.
    pub fn allclose(&self, other: &Tensor, rtol: f64, atol: f64) -> Result<bool> {
        self.data().allclose(&other.data(), rtol, atol)
    }

    // ----- autograd state -------------------------------------------------------------------

    /// A unique id (creation order).
    pub fn id(&self) -> u64 {
        self.0.id
    }

    /// Whether gradients are computed for this tensor.
    pub fn requires_grad(&self) -> bool {
        self.0.requires_grad.load(Ordering::Relaxed)
    }

    /// Sets `requires_grad` on a leaf (like `tensor.requires_grad_()`); returns `self` for
    /// chaining. Only float tensors can require gradients, and only leaves can be changed.
    pub fn requires_grad_(self, on: bool) -> Result<Tensor> {
        if !self.is_leaf() {
            return Err(Error::autograd("requires_grad_", format!("can only change requires_grad of leaf tensors; this tensor was produced by {} (use .detach() to get a leaf)", self.grad_fn().unwrap_or("an operation"))));
        }
        if on && !self.dtype().is_float() {
            return Err(Error::autograd(
                "requires_grad_",
                format!("only floating-point tensors can require gradients, got dtype {}", self.dtype()),
            ));
        }
        self.0.requires_grad.store(on, Ordering::Relaxed);
        Ok(self)
    }

    /// True for tensors created by the user (not by a tracked operation), like `is_leaf`.
    pub fn is_leaf(&self) -> bool {
        self.0.node.is_none()
    }

    /// The name of the backward node that produced this tensor, as PyTorch prints it
    /// (`NllLossBackward0`, `SigmoidBackward0`, ...); `None` for leaves.
    pub fn grad_fn(&self) -> Option<&'static str> {
        self.0.node.as_ref().map(|n| n.name)
    }

    /// The accumulated gradient (like `tensor.grad`): `None` before any backward, and for
    /// non-leaf tensors unless [`Tensor::retain_grad`] was called.
    pub fn grad(&self) -> Option<Tensor> {
        self.0.grad.lock().unwrap_or_else(|e| e.into_inner()).clone().map(Tensor::from_data)
    }

    /// The gradient's raw data.
    pub fn grad_data(&self) -> Option<TensorData> {
        self.0.grad.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Sets or clears the gradient (`tensor.grad = None` is `set_grad(None)`). A gradient
    /// needs the tensor's shape and dtype.
    pub fn set_grad(&self, grad: Option<TensorData>) -> Result<()> {
        if let Some(g) = &grad {
            check_same(&self.data(), g, "set_grad", "a gradient")?;
        }
        *self.0.grad.lock().unwrap_or_else(|e| e.into_inner()) = grad;
        Ok(())
    }

    /// Clears the gradient (sets it to `None`, PyTorch's default for `zero_grad`).
    pub fn zero_grad(&self) {
        *self.0.grad.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Asks a non-leaf tensor to keep its gradient after backward, like `retain_grad()`.
    pub fn retain_grad(&self) {
        if !self.is_leaf() {
            self.0.retains_grad.store(true, Ordering::Relaxed);
        }
    }

    /// A new leaf sharing this tensor's value, cut from the graph (like `detach()`): replacing
    /// the value of either handle ([`Tensor::set_data`], in-place ops such as `sub_`) changes
    /// both, as with PyTorch's shared storage. (A value read with [`Tensor::data`] is a
    /// snapshot: tensor-core values are copy-on-write.)
    pub fn detach(&self) -> Tensor {
        Tensor(Arc::new(Inner {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            data: self.0.data.clone(),
            requires_grad: AtomicBool::new(false),
            retains_grad: AtomicBool::new(false),
            grad: Mutex::new(None),
            node: None,
            name: Mutex::new(None),
        }))
    }

    /// Converts a leaf's value to `dtype` in place (what `module.double()` does to each
    /// parameter); its gradient, now of the wrong dtype, is cleared. Only leaves can change
    /// dtype (a recorded graph relies on its tensors' dtypes), and only float dtypes can
    /// require grad.
    pub fn to_dtype_(&self, dtype: DType) -> Result<()> {
        if !self.is_leaf() {
            return Err(Error::autograd("to_dtype_", format!("only leaf tensors can change dtype in place; this tensor was produced by {} (convert a copy with to_dtype)", self.grad_fn().unwrap_or("an operation"))));
        }
        if self.requires_grad() && !dtype.is_float() {
            return Err(Error::dtype(
                "to_dtype_",
                "a float dtype for a tensor that requires grad",
                dtype,
                "",
            ));
        }
        let mut d = self.0.data.write().unwrap_or_else(|e| e.into_inner());
        if d.dtype() != dtype {
            *d = d.to_dtype(dtype);
            self.zero_grad();
        }
        Ok(())
    }

    /// The name given by a module (`0.weight`), if any.
    pub fn name(&self) -> Option<String> {
        self.0.name.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Names this tensor (modules name their parameters; graph drawings show the name).
    pub fn set_name(&self, name: impl Into<String>) {
        *self.0.name.lock().unwrap_or_else(|e| e.into_inner()) = Some(name.into());
    }

    /// True if both handles refer to the same tensor.
    pub fn same(&self, other: &Tensor) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    pub(crate) fn node(&self) -> Option<&Node> {
        self.0.node.as_ref()
    }
}

impl fmt::Display for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut suffixes = vec![];
        if let Some(name) = self.grad_fn() {
            suffixes.push(format!("grad_fn=<{name}>"));
        } else if self.requires_grad() {
            suffixes.push("requires_grad=True".to_string());
        }
        f.write_str(&torchlet_tensor_core::format_tensor(&self.data(), &suffixes))
    }
}

impl fmt::Debug for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Literals, like `torch.tensor(...)`: `Tensor::from([[0.0, 1.0], [1.0, 0.0]])`,
/// `Tensor::from(vec![1, 0])`, `Tensor::from(2.5)`, `Tensor::from(vec![true, false])`.
///
/// Floats become the **default float dtype** (f32 unless [`crate::set_default_dtype`] changed
/// it), whatever their Rust type: Rust's `0.5` is an f64 just as Python's is a double, and
/// `torch.tensor([0.5])` is float32. Integers (of any Rust integer type) become i64, bools
/// bool. Ask for another dtype with [`Tensor::with_dtype`] (`Tensor::with_dtype(vec![0.1],
/// DType::F64)` keeps the f64 value exactly) or convert with `to_dtype`; a [`TensorData`] is
/// wrapped as it is by [`Tensor::from_data`].
impl<X> From<X> for Tensor
where
    TensorData: From<X>,
    X: IsLiteral,
{
    fn from(v: X) -> Tensor {
        Tensor::from_data(default_float(TensorData::from(v)))
    }
}

/// Marks the Rust values `Tensor::from` reads as literals (numbers, arrays, vectors and slices
/// of numbers), as opposed to a [`TensorData`], which it wraps unchanged.
pub trait IsLiteral {}
/// The numbers of a literal (every Rust integer and float type, and bool).
pub trait Number: torchlet_tensor_core::Literal {}
macro_rules! number {
    ($($t:ty),*) => {$(impl Number for $t {} impl IsLiteral for $t {})*};
}
number!(f32, f64, i64, i32, i16, i8, u32, u16, u8, usize, isize, bool);
impl<T: Number> IsLiteral for Vec<T> {}
impl<T: Number> IsLiteral for &[T] {}
impl<T: Number, const N: usize> IsLiteral for [T; N] {}
impl<T: Number, const N: usize, const M: usize> IsLiteral for [[T; N]; M] {}
impl<T: Number, const N: usize, const M: usize, const K: usize> IsLiteral for [[[T; N]; M]; K] {}

/// `d` converted to the default float dtype if it is a float tensor of another one (how
/// literals and creation functions get PyTorch's default dtype).
pub(crate) fn default_float(d: TensorData) -> TensorData {
    let want = torchlet_tensor_core::default_dtype();
    if d.dtype().is_float() && d.dtype() != want {
        d.to_dtype(want)
    } else {
        d
    }
}

/// Errors unless `new` has `old`'s shape and dtype, naming which differs.
fn check_same(old: &TensorData, new: &TensorData, op: &'static str, what: &str) -> Result<()> {
    if new.shape() != old.shape() {
        return Err(Error::shapes(
            op,
            old.shape(),
            new.shape(),
            format!("mismatch: {what} needs the tensor's shape (the first)"),
        ));
    }
    if new.dtype() != old.dtype() {
        return Err(Error::dtype(
            op,
            format!("{what} of the tensor's dtype {}", old.dtype()),
            new.dtype(),
            format!("; convert it with .to_dtype(DType::{:?})", old.dtype()),
        ));
    }
    Ok(())
}
