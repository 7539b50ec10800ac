//! Optimizer state dicts: the names of the [module docs](super#state-dicts), written by
//! [`save`] and read back, strictly and without changing anything on error, by [`load`].

use super::groups::{Group, Groups, Hyper};
use super::label;
use std::collections::{BTreeMap, HashMap};
use torchlet_autograd::{DType, Error, Result, Tensor, TensorData};

/// The state an optimizer keeps for one parameter (SGD's momentum buffer, Adam's moments).
pub(crate) trait ParamState: Default + Clone {
    /// The named tensors saved for the parameter (none before its first step).
    fn save(&self) -> Vec<(&'static str, TensorData)>;
    /// Reads what [`ParamState::save`] wrote for `param`.
    fn load(entries: &mut Entries, i: usize, param: &Tensor) -> Result<Self>;
}

/// The error of a failed load: `load_state_dict: SGD state dict: {msg}; the optimizer was
/// not changed`.
pub(crate) fn bad(op: &str, msg: impl std::fmt::Display) -> Error {
    Error::invalid("load_state_dict", format!("{op} state dict: {msg}; the optimizer was not changed"))
}

/// The entries of one parameter (`state.{i}.*`) or one group (`param_groups.{g}.*`) of a
/// state dict being loaded: each is taken once, and [`Entries::finish`] refuses leftovers.
pub(crate) struct Entries<'a> {
    op: &'static str,
    /// `state.3` or `param_groups.0`, for messages.
    prefix: String,
    map: BTreeMap<&'a str, &'a TensorData>,
}

impl<'a> Entries<'a> {
    fn key(&self, name: &str) -> String {
        format!("{}.{name}", self.prefix)
    }

    /// The tensor `name`, if present.
    pub fn get(&mut self, name: &str) -> Option<&'a TensorData> {
        self.map.remove(name)
    }

    /// The tensor `name`, which must be present.
    fn need(&mut self, name: &str) -> Result<&'a TensorData> {
        let key = self.key(name);
        self.get(name).ok_or_else(|| bad(self.op, format!("missing key \"{key}\"")))
    }

    /// Checks a tensor's dtype and shape, or says what was expected.
    fn check(&self, name: &str, t: &TensorData, ok: bool, expected: &str) -> Result<()> {
        if ok {
            return Ok(());
        }
        Err(bad(
            self.op,
            format!(
                "\"{}\" should be {expected}, got a tensor of dtype {} and shape {}",
                self.key(name),
                t.dtype(),
                t.shape()
            ),
        ))
    }

    /// A float number stored as a 0-dimensional f64 (or f32) tensor.
    pub fn f64(&mut self, name: &str) -> Result<f64> {
        let t = self.need(name)?;
        self.check(name, t, t.dtype().is_float() && t.dims().is_empty(), "a 0-dimensional float tensor")?;
        t.item()
    }

    /// [`Entries::f64`] for an optional entry.
    pub fn opt_f64(&mut self, name: &str) -> Result<Option<f64>> {
        if !self.map.contains_key(name) {
            return Ok(None);
        }
        self.f64(name).map(Some)
    }

    /// A flag stored as a 0-dimensional bool tensor.
    pub fn bool(&mut self, name: &str) -> Result<bool> {
        let t = self.need(name)?;
        self.check(name, t, t.dtype() == DType::Bool && t.dims().is_empty(), "a 0-dimensional bool tensor")?;
        Ok(t.item()? != 0.0)
    }

    /// A pair of floats stored as a float tensor of shape `[2]`.
    pub fn pair(&mut self, name: &str) -> Result<(f64, f64)> {
        let t = self.need(name)?;
        self.check(name, t, t.dtype().is_float() && t.dims() == [2], "a float tensor of shape [2]")?;
        let v = t.try_to_f64_vec()?;
        Ok((v[0], v[1]))
    }

    /// A count (`step`) stored as a 0-dimensional i64 tensor holding a value `>= 0`.
    pub fn count(&mut self, name: &str) -> Result<Option<u64>> {
        let Some(t) = self.get(name) else { return Ok(None) };
        self.check(name, t, t.dtype() == DType::I64 && t.dims().is_empty(), "a 0-dimensional i64 tensor")?;
        let n = t.to_vec::<i64>()?[0];
        u64::try_from(n)
            .map(Some)
            .map_err(|_| bad(self.op, format!("\"{}\" is {n} (must be >= 0)", self.key(name))))
    }

    /// Indices stored as a 1-dimensional i64 tensor.
    fn indices(&mut self, name: &str) -> Result<Vec<i64>> {
        let t = self.need(name)?;
        self.check(name, t, t.dtype() == DType::I64 && t.dims().len() == 1, "a 1-dimensional i64 tensor")?;
        t.to_vec::<i64>()
    }

    /// A state tensor of parameter `i`, if present: it must have the parameter's shape and
    /// dtype (torchlet does not cast silently).
    pub fn like(&mut self, name: &str, i: usize, param: &Tensor) -> Result<Option<TensorData>> {
        let Some(t) = self.get(name) else { return Ok(None) };
        if t.shape() != &param.shape() || t.dtype() != param.dtype() {
            return Err(bad(
                self.op,
                format!(
                    "\"{}\" has shape {} and dtype {}, but {} has shape {} and dtype {}",
                    self.key(name),
                    t.shape(),
                    t.dtype(),
                    label(i, param),
                    param.shape(),
                    param.dtype()
                ),
            ));
        }
        t.try_contiguous().map(Some)
    }

    /// Every entry must have been taken: a leftover is an unexpected key.
    pub fn finish(self) -> Result<()> {
        match self.map.keys().next() {
            None => Ok(()),
            Some(name) => Err(bad(self.op, format!("unexpected key \"{}\"", self.key(name)))),
        }
    }
}

/// The state dict of an optimizer with these `groups` and per-parameter `states`.
pub(crate) fn save<H: Hyper, S: ParamState>(groups: &Groups<H>, states: &[S]) -> Vec<(String, TensorData)> {
    let mut out = vec![];
    for (i, s) in states.iter().enumerate() {
        for (name, t) in s.save() {
            out.push((format!("state.{i}.{name}"), t));
        }
    }
    for (g, group) in groups.groups.iter().enumerate() {
        let ids: Vec<usize> = group.range.clone().collect();
        out.push((format!("param_groups.{g}.params"), TensorData::from(ids)));
        for (name, t) in group.hyper.save() {
            out.push((format!("param_groups.{g}.{name}"), t));
        }
        if let Some(lr) = group.initial_lr {
            out.push((format!("param_groups.{g}.initial_lr"), TensorData::from(lr)));
        }
    }
    out
}

/// Reads a state dict for an optimizer with these `groups`: the new groups (same parameters,
/// the saved hyper-parameters) and per-parameter states. Nothing is changed here; the caller
/// commits the result.
///
/// As in PyTorch, saved parameter ids are matched to the optimizer's parameters by position
/// (group by group), so a state dict saved by another optimizer over other tensors of the
/// same shapes loads too.
pub(crate) fn load<H: Hyper, S: ParamState>(
    groups: &Groups<H>,
    sd: &[(String, TensorData)],
) -> Result<(Vec<Group<H>>, Vec<S>)> {
    let op = groups.op;
    let mut group_entries: BTreeMap<usize, BTreeMap<&str, &TensorData>> = BTreeMap::new();
    let mut state_entries: BTreeMap<i64, BTreeMap<&str, &TensorData>> = BTreeMap::new();
    for (key, value) in sd {
        let mut parts = key.splitn(3, '.');
        let (kind, index, name) = (parts.next(), parts.next(), parts.next());
        let map = match (kind, index.and_then(|i| i.parse::<usize>().ok()), name) {
            (Some("state"), Some(i), Some(_)) => state_entries.entry(i as i64).or_default(),
            (Some("param_groups"), Some(g), Some(_)) => group_entries.entry(g).or_default(),
            _ => {
                return Err(bad(
                    op,
                    format!(
                        "unexpected key \"{key}\" (names are state.<i>.<name> and param_groups.<g>.<name>)"
                    ),
                ))
            }
        };
        if map.insert(name.unwrap_or_default(), value).is_some() {
            return Err(bad(op, format!("duplicate key \"{key}\"")));
        }
    }

    let n = groups.groups.len();
    let saved: Vec<usize> = group_entries.keys().copied().collect();
    if saved != (0..n).collect::<Vec<_>>() {
        return Err(bad(
            op,
            format!("it has {} parameter group(s) (indices {saved:?}), the optimizer has {n}", saved.len()),
        ));
    }
    let mut param_of_id: HashMap<i64, usize> = HashMap::new();
    let mut new_groups = Vec::with_capacity(n);
    for (g, entries) in group_entries {
        let current = &groups.groups[g];
        let mut e = Entries { op, prefix: format!("param_groups.{g}"), map: entries };
        let ids = e.indices("params")?;
        if ids.len() != current.range.len() {
            return Err(bad(
                op,
                format!(
                    "parameter group {g} has {} parameter(s) in the state dict but {} in the optimizer",
                    ids.len(),
                    current.range.len()
                ),
            ));
        }
        for (&id, i) in ids.iter().zip(current.range.clone()) {
            if param_of_id.insert(id, i).is_some() {
                return Err(bad(op, format!("parameter id {id} appears twice in the param_groups")));
            }
        }
        let hyper = H::load(&mut e).map_err(|err| match err {
            Error::InvalidArgument { op: o, msg } if o != "load_state_dict" => {
                bad(op, format!("param_groups.{g}: {msg}"))
            }
            other => other,
        })?;
        hyper.validate(op).map_err(|err| bad(op, format!("param_groups.{g}: {err}")))?;
        let initial_lr = e.opt_f64("initial_lr")?;
        if let Some(lr) = initial_lr.filter(|lr| lr.is_nan() || *lr < 0.0) {
            return Err(bad(op, format!("param_groups.{g}.initial_lr is {lr} (must be >= 0)")));
        }
        e.finish()?;
        new_groups.push(Group { range: current.range.clone(), hyper, initial_lr });
    }

    let mut states = vec![S::default(); groups.params.len()];
    for (id, entries) in state_entries {
        let Some(&i) = param_of_id.get(&id) else {
            return Err(bad(op, format!("state.{id} belongs to no parameter of the param_groups")));
        };
        let mut e = Entries { op, prefix: format!("state.{id}"), map: entries };
        states[i] = S::load(&mut e, i, &groups.params[i])?;
        e.finish()?;
    }
    Ok((new_groups, states))
}
