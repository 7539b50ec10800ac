//! The tape: the [`Backward`] trait every op's rule implements, recording, `no_grad`, and the
//! backward walk.
//!
//! Every tracked result holds a [`Node`]: its op's backward rule (a `Box<dyn Backward>` with
//! the values the rule saved) and its input tensors. [`record`] is the only way to attach a
//! node, and it takes a rule, so an op cannot be recorded without its derivative.
//!
//! Backward walks the graph from the output in decreasing creation order (a max-heap of
//! tensor ids): every tensor is created after its inputs, so when a tensor is popped all the
//! gradients flowing into it have arrived. Each pending tensor sits in the heap once and its
//! incoming gradients are summed in a hash map, so the walk is `O((nodes + edges) log nodes)`
//! however wide the graph is. Saved values are released as the walk passes, so the graph is
//! freed by backward (and by dropping its tensors: nodes hold only their inputs, never their
//! outputs, so there are no cycles). Leaf gradients are checked first and committed last: a
//! backward that fails changes no `.grad()`.

use crate::tensor::Tensor;
use smallvec::SmallVec;
use std::cell::Cell;
use std::collections::{BinaryHeap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};
use torchlet_tensor_core::{with_numeric, Error, Numeric, Result, TensorData};

/// The gradients of one node's inputs, in input order; `None` where an input gets no
/// gradient (it does not require one, or it is an integer index).
pub(crate) type Grads = SmallVec<[Option<TensorData>; 2]>;

/// The backward rule of a recorded operation `y = f(x_0, x_1, ...)`.
///
/// Given the upstream gradient `g = dL/dy` (of `y`'s shape and dtype), returns `dL/dx_i` for
/// every input `i` with `needs[i]` (the input requires grad), each of `x_i`'s shape and dtype,
/// and may return `None` for the others: rules skip the gradients nobody asked for. A rule
/// holds exactly what its derivative needs (the input, the output, a shape, ...); it is
/// dropped as soon as backward has used it.
pub(crate) trait Backward: Send + Sync {
    /// `dL/dx_i` for each input, from `g = dL/dy`.
    fn backward(&self, g: &TensorData, needs: &[bool]) -> Result<Grads>;
}

/// A recorded operation.
pub(crate) struct Node {
    /// PyTorch's name for the backward node, e.g. `SigmoidBackward0`.
    pub(crate) name: &'static str,
    /// The backward rule and its inputs; `None` once backward has consumed it.
    pub(crate) saved: Mutex<Option<Saved>>,
}

pub(crate) struct Saved {
    pub(crate) rule: Box<dyn Backward>,
    pub(crate) inputs: SmallVec<[Tensor; 2]>,
}

thread_local! {
    static GRAD_ENABLED: Cell<bool> = const { Cell::new(true) };
}

/// True unless inside [`no_grad`] (per thread, like `torch.is_grad_enabled()`).
pub fn is_grad_enabled() -> bool {
    GRAD_ENABLED.with(|g| g.get())
}

/// Disables recording on the current thread while alive; restores the previous mode when
/// dropped. `let _guard = NoGradGuard::new();` is `with torch.no_grad():`.
///
/// The mode is per thread, so the guard is neither `Send` nor `Sync`: dropping it on another
/// thread would restore the wrong thread's mode.
///
/// ```compile_fail
/// let guard = torchlet_autograd::NoGradGuard::new();
/// std::thread::spawn(move || drop(guard)); // error: `*const ()` cannot be sent between threads
/// ```
pub struct NoGradGuard {
    prev: bool,
    _not_send: PhantomData<*const ()>,
}

impl NoGradGuard {
    /// Turns recording off for the current thread until the guard is dropped.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        NoGradGuard { prev: GRAD_ENABLED.with(|g| g.replace(false)), _not_send: PhantomData }
    }
}

impl Drop for NoGradGuard {
    fn drop(&mut self) {
        GRAD_ENABLED.with(|g| g.set(self.prev));
    }
}

/// Runs `f` without recording operations, like `with torch.no_grad():`.
pub fn no_grad<R>(f: impl FnOnce() -> R) -> R {
    let _g = NoGradGuard::new();
    f()
}

/// Wraps the result `data` of an operation on `inputs`. When grad mode is on and some input
/// requires grad, records a node named `name` whose backward rule is built by `rule` (only
/// then: untracked calls save nothing).
pub(crate) fn record<R: Backward + 'static>(
    data: TensorData,
    name: &'static str,
    inputs: &[&Tensor],
    rule: impl FnOnce() -> R,
) -> Tensor {
    record_keeping(data, name, inputs, |_| rule())
}

/// [`record`] for a rule that keeps the result itself (`y` in the derivative of `exp`,
/// `softmax`, ...): `rule` is given it, and only when a gradient is tracked, so untracked
/// calls do not even copy its handle.
pub(crate) fn record_keeping<R: Backward + 'static>(
    data: TensorData,
    name: &'static str,
    inputs: &[&Tensor],
    rule: impl FnOnce(&TensorData) -> R,
) -> Tensor {
    let track = is_grad_enabled() && inputs.iter().any(|t| t.requires_grad());
    if !track {
        return Tensor::make(data, false, None);
    }
    let saved = Saved { rule: Box::new(rule(&data)), inputs: inputs.iter().map(|&t| t.clone()).collect() };
    Tensor::make(data, true, Some(Node { name, saved: Mutex::new(Some(saved)) }))
}

/// `acc += g`, in place when `acc`'s storage is not shared (gradients of one shape and dtype).
pub(crate) fn accumulate(acc: &mut TensorData, g: &TensorData) -> Result<()> {
    // (A view, e.g. one value broadcast by sum's rule, is read in place by `add`.)
    if acc.shape() != g.shape() || acc.dtype() != g.dtype() || !g.is_contiguous() {
        *acc = acc.add(g)?;
        return Ok(());
    }
    with_numeric!(acc.dtype(), "backward", |T| {
        let gv = g.values::<T>()?;
        let cap = torchlet_tensor_core::simd::capability();
        torchlet_tensor_core::simd::kernels::binary_assign(cap, acc.values_mut::<T>()?, &gv, |a: T, b| {
            a.add_w(b)
        });
        Ok(())
    })
}

impl Tensor {
    /// Computes the gradient of this scalar with respect to every leaf that requires grad
    /// and adds it to their `.grad()` (gradients accumulate across calls, as in PyTorch).
    /// The graph is freed as it is walked: a second backward through it is an error.
    /// A backward that fails changes no gradient.
    pub fn backward(&self) -> Result<()> {
        if self.numel() != 1 {
            return Err(Error::autograd("backward", format!("grad can be implicitly created only for scalar outputs, but this tensor has shape {}; call backward_with(grad) with a gradient of that shape, or reduce it first (e.g. .sum() or .mean())", self.shape())));
        }
        self.backward_with(&Tensor::from_data(self.data().ones_like()))
    }

    /// Backward with an explicit upstream gradient `grad` of this tensor's shape
    /// (`tensor.backward(gradient=grad)`).
    pub fn backward_with(&self, grad: &Tensor) -> Result<()> {
        if !self.requires_grad() {
            return Err(Error::autograd("backward", "this tensor does not require grad and has no grad_fn: no operation on it was recorded (did you forget requires_grad_(true) on the inputs, or run it under no_grad?)"));
        }
        let g = grad.data();
        if g.shape() != &self.shape() || g.dtype() != self.dtype() {
            return Err(Error::shapes(
                "backward",
                &self.shape(),
                g.shape(),
                format!(
                    "mismatch: backward_with needs a gradient with the output's shape (the first) and dtype {}, got dtype {}",
                    self.dtype(),
                    g.dtype()
                ),
            ));
        }
        run_backward(self, g)
    }
}

/// Errors unless `g` can be the gradient of `t` (same shape and dtype).
fn check_grad(t: &Tensor, g: &TensorData, node: &str) -> Result<()> {
    let data = t.0.data.read().unwrap_or_else(|e| e.into_inner()); // read in place: no clone
    if g.shape() != data.shape() || g.dtype() != data.dtype() {
        return Err(Error::autograd("backward", format!("the gradient computed for an input of {node} has shape {} and dtype {}, but the tensor now has shape {} and dtype {}: was its value replaced (set_data/update_data) with another shape or dtype between forward and backward? Run the forward pass again", g.shape(), g.dtype(), data.shape(), data.dtype())));
    }
    Ok(())
}

fn run_backward(root: &Tensor, grad: TensorData) -> Result<()> {
    // The frontier: ids in a max-heap (newest first) and each pending tensor's summed gradient.
    let mut heap = BinaryHeap::from([root.id()]);
    let mut pending: HashMap<u64, (Tensor, TensorData), BuildHasherDefault<IdHasher>> = HashMap::default();
    pending.insert(root.id(), (root.clone(), grad));
    // Leaf (and retained) gradients are committed only after the whole walk succeeded.
    let mut commits: Vec<(Tensor, TensorData)> = Vec::new();
    while let Some(id) = heap.pop() {
        let (t, g) = pending.remove(&id).expect("every id in the heap is pending");
        let Some(node) = t.node() else {
            commits.push((t, g));
            continue;
        };
        if t.0.retains_grad.load(std::sync::atomic::Ordering::Relaxed) {
            commits.push((t.clone(), g.clone()));
        }
        let saved = node.saved.lock().unwrap_or_else(|e| e.into_inner()).take().ok_or_else(|| {
            Error::autograd("backward", format!("trying to backward through the graph a second time: the saved values of {} were freed by the first backward; build the graph again (run the forward pass again) before calling backward", node.name))
        })?;
        let needs: SmallVec<[bool; 4]> = saved.inputs.iter().map(Tensor::requires_grad).collect();
        let grads = saved.rule.backward(&g, &needs)?;
        for ((input, gi), need) in saved.inputs.iter().zip(grads).zip(needs) {
            let Some(gi) = gi.filter(|_| need) else { continue };
            check_grad(input, &gi, node.name)?;
            match pending.get_mut(&input.id()) {
                Some((_, acc)) => accumulate(acc, &gi)?,
                None => {
                    heap.push(input.id());
                    pending.insert(input.id(), (input.clone(), gi));
                }
            }
        }
    }
    // A leaf's .grad is a contiguous tensor (PyTorch's layout contract), also where the rule
    // gave a view (sum's broadcast value, a transpose).
    for (_, g) in commits.iter_mut() {
        if !g.is_contiguous() {
            *g = g.try_contiguous()?;
        }
    }
    // Check every commit against the gradient already there before changing any.
    for (t, g) in &commits {
        if let Some(old) = &*t.0.grad.lock().unwrap_or_else(|e| e.into_inner()) {
            if old.shape() != g.shape() || old.dtype() != g.dtype() {
                return Err(Error::autograd("backward", format!("cannot accumulate a gradient of shape {} and dtype {} into the existing .grad() of shape {} and dtype {}; clear it first (zero_grad or set_grad(None))", g.shape(), g.dtype(), old.shape(), old.dtype())));
            }
        }
    }
    for (t, g) in commits {
        let mut slot = t.0.grad.lock().unwrap_or_else(|e| e.into_inner());
        match &mut *slot {
            None => *slot = Some(g),
            Some(acc) => accumulate(acc, &g)?,
        }
    }
    Ok(())
}

/// Hashes tensor ids (unique u64s) with one multiplication (Fibonacci hashing): the frontier
/// map is on every backward's path, and the default SipHash cost more than the rules of a small
/// network.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u64(&mut self, id: u64) {
        self.0 = id.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// Drops a graph iteratively: a chain of a million recorded ops would otherwise drop
/// recursively (tensor -> node -> input tensor -> ...) and overflow the stack.
impl Drop for Node {
    fn drop(&mut self) {
        let saved = self.saved.get_mut().unwrap_or_else(|e| e.into_inner()).take();
        let mut stack: Vec<Tensor> = saved.map(|s| s.inputs.into_vec()).unwrap_or_default();
        while let Some(t) = stack.pop() {
            // Only a last owner tears down; shared tensors stay alive for their other owners.
            let Ok(inner) = Arc::try_unwrap(t.0) else { continue };
            let Some(mut node) = inner.node else { continue };
            if let Some(s) = node.saved.get_mut().unwrap_or_else(|e| e.into_inner()).take() {
                stack.extend(s.inputs);
            }
            // `node` now drops with nothing saved: no recursion.
        }
    }
}
