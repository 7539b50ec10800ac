//! [`Sequential`]: modules applied one after another (`torch.nn.Sequential`).

use crate::module::Module;
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

    fn children(&self) -> Vec<(String, &dyn Module)> {
        self.layers.iter().enumerate().map(|(i, m)| (i.to_string(), &**m)).collect()
    }
}

crate::display_as_repr!(Sequential);

impl Sequential {
    /// The output of every layer for input `x`, in order (the last is `forward(x)`): the way to
    /// look inside a network, as makemore part 3 keeps `layer.out` to plot each layer's
    /// activation statistics (call `retain_grad()` on an output before `backward()` to see its
    /// gradient too).
    pub fn forward_with_outputs(&self, x: &Tensor) -> Result<Vec<Tensor>> {
        let mut outs: Vec<Tensor> = Vec::with_capacity(self.layers.len());
        for layer in &self.layers {
            let next = layer.forward(outs.last().unwrap_or(x))?;
            outs.push(next);
        }
        Ok(outs)
    }
}

/// `nn.ModuleList`: modules held in a list, named `0`, `1`, ... (their parameters `0.weight`,
/// ...); unlike [`Sequential`] it has no `forward` of its own — the owner calls the modules.
#[derive(Default)]
pub struct ModuleList {
    modules: Vec<Box<dyn Module>>,
}

impl ModuleList {
    /// An empty list.
    pub fn new() -> Self {
        ModuleList::default()
    }

    /// Appends a module (`append`).
    pub fn push(&mut self, module: impl Module + 'static) {
        self.modules.push(Box::new(module));
    }

    /// Number of modules.
    pub fn len(&self) -> usize {
        self.modules.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.modules.is_empty()
    }

    /// The modules in order.
    pub fn iter(&self) -> impl Iterator<Item = &dyn Module> {
        self.modules.iter().map(|m| &**m)
    }
}

impl<M: Module + 'static> FromIterator<M> for ModuleList {
    fn from_iter<I: IntoIterator<Item = M>>(iter: I) -> Self {
        ModuleList { modules: iter.into_iter().map(|m| Box::new(m) as Box<dyn Module>).collect() }
    }
}

impl Index<usize> for ModuleList {
    type Output = dyn Module;
    fn index(&self, i: usize) -> &(dyn Module + 'static) {
        &*self.modules[i]
    }
}

impl Module for ModuleList {
    /// A `ModuleList` is not callable (PyTorch raises `NotImplementedError`): an error.
    fn forward(&self, _x: &Tensor) -> Result<Tensor> {
        Err(torchlet_autograd::Error::invalid("ModuleList", "a ModuleList has no forward; call its modules (e.g. for m in list.iter() { x = m.forward(&x)? })"))
    }
    fn children(&self) -> Vec<(String, &dyn Module)> {
        self.modules.iter().enumerate().map(|(i, m)| (i.to_string(), &**m)).collect()
    }
}

/// `nn.ModuleDict`: modules by name, in insertion order (their parameters `name.weight`, ...).
#[derive(Default)]
pub struct ModuleDict {
    modules: Vec<(String, Box<dyn Module>)>,
}

impl ModuleDict {
    /// An empty dict.
    pub fn new() -> Self {
        ModuleDict::default()
    }

    /// Inserts (or replaces, keeping its place) the module named `name`.
    pub fn insert(&mut self, name: impl Into<String>, module: impl Module + 'static) {
        let name = name.into();
        match self.modules.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = Box::new(module),
            None => self.modules.push((name, Box::new(module))),
        }
    }

    /// The module named `name`.
    pub fn get(&self, name: &str) -> Option<&dyn Module> {
        self.modules.iter().find(|(n, _)| n == name).map(|(_, m)| &**m)
    }

    /// Number of modules.
    pub fn len(&self) -> usize {
        self.modules.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.modules.is_empty()
    }
}

impl Module for ModuleDict {
    /// A `ModuleDict` is not callable: an error.
    fn forward(&self, _x: &Tensor) -> Result<Tensor> {
        Err(torchlet_autograd::Error::invalid(
            "ModuleDict",
            "a ModuleDict has no forward; call its modules by name",
        ))
    }
    fn children(&self) -> Vec<(String, &dyn Module)> {
        self.modules.iter().map(|(n, m)| (n.clone(), &**m)).collect()
    }
}

crate::display_as_repr!(ModuleList, ModuleDict);
