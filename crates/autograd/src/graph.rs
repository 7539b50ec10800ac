//! The tape: graph nodes, recording, `no_grad`, and the backward engine.
//!
//! Every tracked result holds a [`Node`]: the op's backward rule ([`Op`]) with the values it
//! saved, and its input tensors. Backward walks the graph from the output in decreasing
//! creation order — every tensor is created after its inputs, so when a tensor is reached all
//! the gradients flowing into it have arrived — and hands each node its gradient. Saved
//! values are released as the walk passes, so the graph is freed by backward (and by dropping
//! its tensors: nodes hold only their inputs, never their outputs, so there are no cycles).

use crate::backward::Op;
use crate::tensor::Tensor;
use smallvec::SmallVec;
use std::cell::Cell;
use std::sync::{Arc, Mutex};
use torchlet_tensor_core::{Error, Result, TensorData};

pub(crate) type NodeRef = Arc<Node>;

/// A recorded operation.
pub(crate) struct Node {
    /// PyTorch's name for the backward node, e.g. `SigmoidBackward0`.
    pub(crate) name: &'static str,
    /// The backward rule and its inputs; `None` once backward has consumed it.
    pub(crate) saved: Mutex<Option<Saved>>,
}

pub(crate) struct Saved {
    pub(crate) op: Op,
    pub(crate) inputs: SmallVec<[Tensor; 2]>,
}

thread_local! {
    static GRAD_ENABLED: Cell<bool> = const { Cell::new(true) };
}

/// True unless inside [`no_grad`] (per thread, like `torch.is_grad_enabled()`).
pub fn is_grad_enabled() -> bool {
    GRAD_ENABLED.with(|g| g.get())
}

/// Disables recording while alive; restores the previous mode when dropped.
/// `let _guard = NoGradGuard::new();` is `with torch.no_grad():`.
pub struct NoGradGuard {
    prev: bool,
}

impl NoGradGuard {
    /// Turns recording off for the current thread until the guard is dropped.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        NoGradGuard { prev: GRAD_ENABLED.with(|g| g.replace(false)) }
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
/// requires grad, records a node whose backward rule is built by `op` (only then: untracked
/// calls save nothing).
pub(crate) fn record(
    data: TensorData,
    name: &'static str,
    inputs: &[&Tensor],
    op: impl FnOnce() -> Op,
) -> Tensor {
    let track = is_grad_enabled() && inputs.iter().any(|t| t.requires_grad());
    if !track {
        return Tensor::make(data, false, None);
    }
    let saved = Saved { op: op(), inputs: inputs.iter().map(|&t| t.clone()).collect() };
    let node = Arc::new(Node { name, saved: Mutex::new(Some(saved)) });
    Tensor::make(data, true, Some(node))
}

/// Adds `g` into `slot` (in place when the slot's storage is not shared).
pub(crate) fn accumulate(slot: &mut Option<TensorData>, g: TensorData) -> Result<()> {
    match slot {
        None => *slot = Some(g),
        Some(acc) => *acc = acc.add(&g)?,
    }
    Ok(())
}

impl Tensor {
    /// Computes the gradient of this scalar with respect to every leaf that requires grad
    /// and adds it to their `.grad()` (gradients accumulate across calls, as in PyTorch).
    /// The graph is freed as it is walked: a second backward through it is an error.
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

fn run_backward(root: &Tensor, grad: TensorData) -> Result<()> {
    // Gradients waiting to be consumed. This is the graph's frontier, usually a handful of
    // tensors, so a plain Vec searched by id beats a hash map. The newest (largest id) is
    // processed first: every consumer of a tensor was created after it, so by then all of
    // the tensor's gradient contributions have arrived.
    let mut pending: Vec<(Tensor, TensorData)> = vec![(root.clone(), grad)];
    // Leaf gradients are committed only after the whole walk succeeded.
    let mut leaf_grads: Vec<(Tensor, TensorData)> = Vec::new();
    while !pending.is_empty() {
        let newest = (0..pending.len()).max_by_key(|&i| pending[i].0.id()).expect("non-empty");
        let (t, g) = pending.swap_remove(newest);
        let Some(node) = t.node() else {
            leaf_grads.push((t, g));
            continue;
        };
        if t.0.retains_grad.load(std::sync::atomic::Ordering::Relaxed) {
            leaf_grads.push((t.clone(), g.clone()));
        }
        let saved = node.saved.lock().unwrap_or_else(|e| e.into_inner()).take().ok_or_else(|| {
            Error::autograd("backward", format!("trying to backward through the graph a second time: the saved values of {} were freed by the first backward; build the graph again (run the forward pass again) before calling backward", node.name))
        })?;
        let grads = crate::backward::backward(&saved.op, &g, &saved.inputs)?;
        for (input, gi) in saved.inputs.iter().zip(grads) {
            let Some(gi) = gi else { continue };
            if !input.requires_grad() {
                continue;
            }
            debug_assert_eq!(gi.shape(), &input.shape(), "gradient shape for input of {}", node.name);
            match pending.iter_mut().find(|(p, _)| p.id() == input.id()) {
                Some((_, acc)) => *acc = acc.add(&gi)?,
                None => pending.push((input.clone(), gi)),
            }
        }
    }
    for (t, g) in leaf_grads {
        accumulate(&mut t.0.grad.lock().unwrap_or_else(|e| e.into_inner()), g)?;
    }
    Ok(())
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
            let Some(node) = inner.node else { continue };
            let Ok(mut node) = Arc::try_unwrap(node) else { continue };
            if let Some(s) = node.saved.get_mut().unwrap_or_else(|e| e.into_inner()).take() {
                stack.extend(s.inputs);
            }
            // `node` now drops with nothing saved: no recursion.
        }
    }
}
