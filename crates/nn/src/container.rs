//! [`Sequential`]: modules applied one after another (`torch.nn.Sequential`).

use crate::module::{add_indent, Module};
use std::fmt;
use std::ops::Index;
use torchlet_autograd::{Result, Tensor};

/// A chain of modules: `forward(x) = m_n(...m_1(m_0(x)))`.
///
/// Built like `Sequential::new().add(Linear::new(2, 5)?).add(Sigmoid)`. Child `i`'s
/// parameters are named `i.weight`, `i.bias` (nested containers prefix again: `1.0.weight`),
/// and the tensors themselves are renamed so graph drawings show those names.
#[derive(Default)]
pub struct Sequential {
    layers: Vec<Box<dyn Module>>,
}

impl Sequential {
    /// An empty container (its forward is the identity).
    pub fn new() -> Self {
        Sequential { layers: Vec::new() }
    }

    /// Appends `module` (builder style) and names its parameters `{index}.{name}`.
    #[allow(clippy::should_implement_trait)]
    pub fn add(mut self, module: impl Module + 'static) -> Self {
        self.push(module);
        self
    }

    /// Appends `module` in place (like `Sequential.append`).
    pub fn push(&mut self, module: impl Module + 'static) {
        self.push_boxed(Box::new(module));
    }

    /// Appends an already boxed module.
    pub fn push_boxed(&mut self, module: Box<dyn Module>) {
        let index = self.layers.len();
        for (name, p) in module.named_parameters() {
            p.set_name(format!("{index}.{name}"));
        }
        self.layers.push(module);
    }

    /// Number of child modules.
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// True when there are no child modules.
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }

    /// Child `index`, or `None` past the end (`model[index]` panics instead).
    pub fn get(&self, index: usize) -> Option<&dyn Module> {
        self.layers.get(index).map(|m| &**m)
    }

    /// The child modules in order.
    pub fn iter(&self) -> impl Iterator<Item = &dyn Module> {
        self.layers.iter().map(|m| &**m)
    }
}

impl Index<usize> for Sequential {
    type Output = dyn Module;

    /// `model[i]`, like indexing an `nn.Sequential`; panics past the end (use
    /// [`Sequential::get`] for an `Option`).
    fn index(&self, index: usize) -> &(dyn Module + 'static) {
        &*self.layers[index]
    }
}

impl Module for Sequential {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut out = x.clone();
        for layer in &self.layers {
            out = layer.forward(&out)?;
        }
        Ok(out)
    }

    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        let mut v = Vec::new();
        for (i, layer) in self.layers.iter().enumerate() {
            for (name, p) in layer.named_parameters() {
                v.push((format!("{i}.{name}"), p));
            }
        }
        v
    }
}

impl fmt::Display for Sequential {
    /// PyTorch's repr: `Sequential(\n  (0): Linear(...)\n  (1): Sigmoid()\n)`, or
    /// `Sequential()` when empty.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.layers.is_empty() {
            return f.write_str("Sequential()");
        }
        f.write_str("Sequential(")?;
        for (i, layer) in self.layers.iter().enumerate() {
            write!(f, "\n  ({i}): {}", add_indent(&layer.to_string()))?;
        }
        f.write_str("\n)")
    }
}
