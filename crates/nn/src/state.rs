//! State dicts (`model.state_dict()`, `model.load_state_dict(sd)`): a module's parameters
//! as `(name, value)` pairs, with PyTorch's names and order (`0.weight`, `0.bias`, ...).
//!
//! [`Module::state_dict`] and
//! [`Module::load_state_dict`] are default methods of the
//! trait that call [`state_dict`] and [`load_state_dict`] here, so every module has them.
//! Files on disk are [`crate::safetensors`]' business.
//!
//! Loading is strict, like PyTorch's default `strict=True`, and atomic: every key, shape and
//! dtype is checked first, all problems are reported in one error, and only then are the
//! parameters replaced, so a failed load leaves the model exactly as it was.

use crate::module::Module;
use std::collections::{HashMap, HashSet};
use torchlet_autograd::{Error, Result, Tensor, TensorData};

/// The parameters and buffers of `module` as `(name, value)` pairs, in PyTorch's
/// `state_dict()` order: each module's own parameters, then its own buffers, then its
/// children's entries (depth first, in registration order).
///
/// Each value is a snapshot: cloning a `TensorData` is O(1) (shared storage) and an
/// optimizer step copies on write, so the state dict keeps the values of the moment it was
/// taken (PyTorch's state-dict tensors alias the parameters instead).
pub fn state_dict<M: Module + ?Sized>(module: &M) -> Vec<(String, TensorData)> {
    named_state(module).into_iter().map(|(name, t)| (name, t.data())).collect()
}

/// The tensors a state dict holds (parameters and buffers), by name, in state-dict order.
pub(crate) fn named_state<M: Module + ?Sized>(module: &M) -> Vec<(String, Tensor)> {
    fn walk(m: &dyn Module, prefix: &str, out: &mut Vec<(String, Tensor)>) {
        let full = |n: &str| if prefix.is_empty() { n.to_string() } else { format!("{prefix}.{n}") };
        for (n, t) in m.own_parameters().into_iter().chain(m.own_buffers()) {
            out.push((full(&n), t));
        }
        for (n, child) in m.children() {
            walk(child, &full(&n), out);
        }
    }
    let mut out: Vec<(String, Tensor)> =
        module.own_parameters().into_iter().chain(module.own_buffers()).collect();
    for (n, child) in module.children() {
        walk(child, &n, &mut out);
    }
    out
}

/// Replaces the value of every parameter of `module` with the entry of the same name in
/// `state` (what [`Module::load_state_dict`] does; `module_name` names the module in errors,
/// like `Sequential`).
///
/// Strict and atomic: an error (an [`Error::InvalidArgument`] listing every missing key,
/// unexpected key, duplicated key, size mismatch and dtype mismatch, in PyTorch's wording)
/// is returned before any parameter changes. On success the parameters keep their identity
/// (optimizers holding them see the new values) and only their values change: gradients,
/// `requires_grad` and names are untouched. Dtypes are not converted: an f64 checkpoint
/// does not load into an f32 model (PyTorch would cast silently).
pub fn load_state_dict<M: Module + ?Sized>(
    module: &M,
    module_name: &str,
    state: &[(String, TensorData)],
    strict: bool,
) -> Result<IncompatibleKeys> {
    let params = named_state(module);
    let mut by_name: HashMap<&str, &TensorData> = HashMap::with_capacity(state.len());
    let mut duplicated = Vec::new();
    for (name, value) in state {
        if by_name.insert(name.as_str(), value).is_some() && !duplicated.contains(&name.as_str()) {
            duplicated.push(name.as_str());
        }
    }
    let wanted: HashSet<&str> = params.iter().map(|(n, _)| n.as_str()).collect();
    let quote = |names: &[&str]| names.iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(", ");

    let mut problems = Vec::new();
    let missing: Vec<&str> =
        params.iter().map(|(n, _)| n.as_str()).filter(|n| !by_name.contains_key(n)).collect();
    let mut unexpected: Vec<&str> = Vec::new();
    for (name, _) in state {
        if !wanted.contains(name.as_str()) && !unexpected.contains(&name.as_str()) {
            unexpected.push(name.as_str());
        }
    }
    if strict && !missing.is_empty() {
        problems.push(format!("Missing key(s) in state_dict: {}.", quote(&missing)));
    }
    if strict && !unexpected.is_empty() {
        problems.push(format!("Unexpected key(s) in state_dict: {}.", quote(&unexpected)));
    }
    if !duplicated.is_empty() {
        problems.push(format!("Duplicate key(s) in state_dict: {}.", quote(&duplicated)));
    }
    let mut updates = Vec::with_capacity(params.len());
    for (name, p) in &params {
        let Some(value) = by_name.get(name.as_str()) else { continue };
        let (have, want) = (value.shape(), p.shape());
        if *have != want {
            problems.push(format!(
                "size mismatch for {name}: copying a param with shape {have} from checkpoint, the shape in current model is {want}."
            ));
        } else if value.dtype() != p.dtype() {
            problems.push(format!(
                "dtype mismatch for {name}: copying a param of dtype {} from checkpoint, the dtype in current model is {} (convert the checkpoint's values with .to_dtype(DType::{:?}); torchlet does not cast silently).",
                value.dtype(),
                p.dtype(),
                p.dtype()
            ));
        } else {
            updates.push((p, value.contiguous()));
        }
    }
    if !problems.is_empty() {
        return Err(Error::invalid(
            "load_state_dict",
            format!(
                "Error(s) in loading state_dict for {module_name}:\n\t{}\nNo parameter was changed.",
                problems.join("\n\t")
            ),
        ));
    }

    // Everything fits, so `set_data` cannot fail; should it anyway, restore what was set.
    let old: Vec<TensorData> = updates.iter().map(|(p, _)| p.data()).collect();
    for (i, (p, value)) in updates.iter().enumerate() {
        if let Err(e) = p.set_data(value.clone()) {
            for ((p, _), before) in updates[..i].iter().zip(&old) {
                let _ = p.set_data(before.clone());
            }
            return Err(e);
        }
    }
    let owned = |v: Vec<&str>| v.into_iter().map(str::to_string).collect();
    Ok(IncompatibleKeys { missing_keys: owned(missing), unexpected_keys: owned(unexpected) })
}

/// What a non-strict [`load_state_dict`] could not match (PyTorch's `_IncompatibleKeys`): the
/// model's keys absent from the state dict, and the state dict's keys the model does not have.
/// Both are empty after a strict load.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IncompatibleKeys {
    /// Parameters of the model that the state dict did not provide (they kept their values).
    pub missing_keys: Vec<String>,
    /// Entries of the state dict that match no parameter (ignored).
    pub unexpected_keys: Vec<String>,
}

/// The unqualified name of `T` (`Sequential` for `torchlet_nn::container::Sequential`), for
/// PyTorch's "Error(s) in loading state_dict for Sequential".
pub(crate) fn short_type_name<T: ?Sized>() -> &'static str {
    let full = std::any::type_name::<T>();
    let base = full.split('<').next().unwrap_or(full);
    base.rsplit("::").next().unwrap_or(base)
}
