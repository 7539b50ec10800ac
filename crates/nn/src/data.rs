//! `torch.utils.data` for tensors: [`TensorDataset`], [`Subset`], [`random_split`] and a
//! single-process [`DataLoader`] whose shuffled order is PyTorch's, number for number.
//!
//! How PyTorch shuffles (and so how torchlet does): every time a `DataLoader` is iterated
//! (each epoch), its iterator first draws one i64 from the generator,
//! `torch.empty((), dtype=torch.int64).random_()` (the workers' base seed; drawn even without
//! shuffling). With `shuffle=True`, the `RandomSampler` then, on the first batch, draws a second
//! i64 the same way, seeds a fresh `torch.Generator()` with it and yields
//! `torch.randperm(n, generator=that)`. Both draws come from the global generator unless the
//! loader was given its own ([`DataLoader::generator`]); in that case the sampler takes
//! `randperm(n)` from that generator directly, and, as in PyTorch, draws one more (unused)
//! permutation from it when the epoch runs out of samples.
//!
//! ```
//! use torchlet_autograd::{manual_seed, Tensor};
//! use torchlet_nn::data::{DataLoader, TensorDataset};
//!
//! let x = Tensor::arange(10)?.to_dtype(torchlet_autograd::DType::F32)?.reshape(&[10, 1])?;
//! let y = Tensor::from((0..10i64).collect::<Vec<_>>());
//! let mut loader = DataLoader::new(TensorDataset::new(vec![x, y])?, 3)?.shuffle(true);
//! manual_seed(0);
//! let first: Vec<Vec<i64>> = loader.iter()?.map(|b| b.and_then(|b| b[1].to_vec::<i64>())).collect::<Result<_, _>>()?;
//! // PyTorch: DataLoader(range(10), batch_size=3, shuffle=True) after torch.manual_seed(0)
//! assert_eq!(first, [vec![6, 7, 1], vec![4, 2, 0], vec![9, 8, 3], vec![5]]);
//! # Ok::<(), torchlet_autograd::Error>(())
//! ```

use torchlet_autograd::{DType, Error, Generator, Result, Tensor, TensorData};
use torchlet_tensor_core::random::with_global;

/// A map-style data set (`torch.utils.data.Dataset`) whose samples are tuples of tensors.
pub trait Dataset {
    /// The number of samples (`len(dataset)`).
    fn len(&self) -> usize;

    /// True when the data set has no samples.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The samples at `indices`, collated as PyTorch's default `collate_fn` does for tuples of
    /// tensors: one tensor per field, the samples stacked along a new first dimension.
    /// Errors on an index `>= len()`.
    fn get_batch(&self, indices: &[usize]) -> Result<Vec<Tensor>>;

    /// One sample (`dataset[i]`): one tensor per field, without the batch dimension.
    fn get(&self, index: usize) -> Result<Vec<Tensor>> {
        self.get_batch(&[index])?.iter().map(|t| t.squeeze_dim(0)).collect()
    }
}

/// `torch.utils.data.TensorDataset(*tensors)`: sample `i` is `(t[i] for t in tensors)`.
/// Cloning is cheap (the tensors are shared handles).
#[derive(Clone, Debug)]
pub struct TensorDataset {
    tensors: Vec<Tensor>,
}

impl TensorDataset {
    /// A data set over the first dimension of every tensor. Errors when there is no tensor,
    /// a tensor is 0-dimensional, or the first dimensions differ ("Size mismatch between
    /// tensors" in PyTorch).
    pub fn new(tensors: Vec<Tensor>) -> Result<TensorDataset> {
        const OP: &str = "TensorDataset";
        let first = tensors.first().ok_or_else(|| Error::invalid(OP, "needs at least one tensor"))?;
        if let Some(t) = tensors.iter().find(|t| t.ndim() == 0) {
            return Err(Error::invalid(
                OP,
                format!("every tensor needs a first dimension to index, got shape {}", t.shape()),
            ));
        }
        let n = first.dims()[0];
        if let Some(t) = tensors.iter().find(|t| t.dims()[0] != n) {
            return Err(Error::shapes(
                OP,
                &first.shape(),
                &t.shape(),
                "mismatch: every tensor must have the same size in its first dimension",
            ));
        }
        Ok(TensorDataset { tensors })
    }

    /// The tensors, in the order given.
    pub fn tensors(&self) -> &[Tensor] {
        &self.tensors
    }
}

fn index_tensor(op: &'static str, indices: &[usize], len: usize) -> Result<Tensor> {
    if let Some(&bad) = indices.iter().find(|&&i| i >= len) {
        return Err(Error::IndexOutOfRange {
            op,
            what: "index",
            index: bad as i64,
            size: len,
            extra: String::new(),
        });
    }
    Ok(Tensor::from_data(TensorData::from_vec(
        indices.iter().map(|&i| i as i64).collect::<Vec<i64>>(),
        [indices.len()],
    )?))
}

impl Dataset for TensorDataset {
    fn len(&self) -> usize {
        self.tensors[0].dims()[0]
    }

    fn get_batch(&self, indices: &[usize]) -> Result<Vec<Tensor>> {
        let idx = index_tensor("TensorDataset", indices, self.len())?;
        self.tensors.iter().map(|t| t.index_select(0, &idx)).collect()
    }
}

/// `torch.utils.data.Subset(dataset, indices)`: the samples of `dataset` at `indices`, in
/// that order (what [`random_split`] returns).
#[derive(Clone, Debug)]
pub struct Subset<D> {
    dataset: D,
    indices: Vec<usize>,
}

impl<D: Dataset> Subset<D> {
    /// A view of `dataset` at `indices`. Errors on an index `>= dataset.len()`.
    pub fn new(dataset: D, indices: Vec<usize>) -> Result<Subset<D>> {
        let len = dataset.len();
        if let Some(&bad) = indices.iter().find(|&&i| i >= len) {
            return Err(Error::IndexOutOfRange {
                op: "Subset",
                what: "index",
                index: bad as i64,
                size: len,
                extra: String::new(),
            });
        }
        Ok(Subset { dataset, indices })
    }

    /// The indices into the underlying data set.
    pub fn indices(&self) -> &[usize] {
        &self.indices
    }

    /// The underlying data set.
    pub fn dataset(&self) -> &D {
        &self.dataset
    }
}

impl<D: Dataset> Dataset for Subset<D> {
    fn len(&self) -> usize {
        self.indices.len()
    }

    fn get_batch(&self, indices: &[usize]) -> Result<Vec<Tensor>> {
        let len = self.indices.len();
        let mapped = indices
            .iter()
            .map(|&i| {
                self.indices.get(i).copied().ok_or(Error::IndexOutOfRange {
                    op: "Subset",
                    what: "index",
                    index: i as i64,
                    size: len,
                    extra: String::new(),
                })
            })
            .collect::<Result<Vec<usize>>>()?;
        self.dataset.get_batch(&mapped)
    }
}

/// `torch.utils.data.random_split(dataset, lengths)` with the global generator: the indices
/// `randperm(sum(lengths))` cut into consecutive pieces of the given lengths. Errors unless
/// the lengths add up to `dataset.len()`.
pub fn random_split<D: Dataset + Clone>(dataset: &D, lengths: &[usize]) -> Result<Vec<Subset<D>>> {
    with_global(|g| random_split_with(dataset, lengths, g))
}

/// [`random_split`] with an explicit generator (`generator=g`).
pub fn random_split_with<D: Dataset + Clone>(
    dataset: &D,
    lengths: &[usize],
    g: &mut Generator,
) -> Result<Vec<Subset<D>>> {
    let total = lengths.iter().try_fold(0usize, |a, &l| a.checked_add(l));
    if total != Some(dataset.len()) {
        return Err(Error::invalid(
            "random_split",
            format!(
                "sum of input lengths {lengths:?} does not equal the length of the input dataset ({})",
                dataset.len()
            ),
        ));
    }
    let perm = TensorData::randperm_with(dataset.len(), g)?.to_vec::<i64>()?;
    let mut out = Vec::with_capacity(lengths.len());
    let mut start = 0;
    for &l in lengths {
        let idx = perm[start..start + l].iter().map(|&i| i as usize).collect();
        out.push(Subset::new(dataset.clone(), idx)?);
        start += l;
    }
    Ok(out)
}

/// `random_split(dataset, fractions)` with fractions summing to 1 (within PyTorch's
/// `math.isclose`, relative tolerance 1e-9, and not above 1), from the global generator: each
/// length is `floor(len * fraction)`, and the remainder is handed out one by one to the
/// splits in order (round robin), as PyTorch does. Errors for fractions outside `[0, 1]` or
/// not summing to 1.
pub fn random_split_fractions<D: Dataset + Clone>(dataset: &D, fractions: &[f64]) -> Result<Vec<Subset<D>>> {
    with_global(|g| random_split_fractions_with(dataset, fractions, g))
}

/// [`random_split_fractions`] with an explicit generator.
pub fn random_split_fractions_with<D: Dataset + Clone>(
    dataset: &D,
    fractions: &[f64],
    g: &mut Generator,
) -> Result<Vec<Subset<D>>> {
    const OP: &str = "random_split";
    let sum: f64 = fractions.iter().sum();
    let close = (sum - 1.0).abs() <= 1e-9 * sum.abs().max(1.0);
    if !(close && sum <= 1.0) {
        return Err(Error::invalid(OP, format!("fractions {fractions:?} must sum to 1, got {sum}")));
    }
    let n = dataset.len();
    let mut lengths = Vec::with_capacity(fractions.len());
    for (i, &f) in fractions.iter().enumerate() {
        if !(0.0..=1.0).contains(&f) {
            return Err(Error::invalid(
                OP,
                format!("fraction at index {i} is not between 0 and 1 (got {f})"),
            ));
        }
        lengths.push((n as f64 * f).floor() as usize);
    }
    let remainder = n - lengths.iter().sum::<usize>().min(n);
    for i in 0..remainder {
        let k = i % lengths.len();
        lengths[k] += 1;
    }
    random_split_with(dataset, &lengths, g)
}

/// `torch.utils.data.DataLoader(dataset, batch_size, shuffle, drop_last, generator)`,
/// single-process, with the default collate: iterating yields batches as one tensor per field
/// of the data set (`for x, y in loader`). See the module docs for the order of the draws.
#[derive(Debug)]
pub struct DataLoader<D> {
    dataset: D,
    batch_size: usize,
    shuffle: bool,
    drop_last: bool,
    generator: Option<Generator>,
}

impl<D: Dataset> DataLoader<D> {
    /// `DataLoader(dataset, batch_size=batch_size)`: in order, the last batch possibly
    /// smaller. Errors for `batch_size == 0`.
    pub fn new(dataset: D, batch_size: usize) -> Result<DataLoader<D>> {
        if batch_size == 0 {
            return Err(Error::invalid(
                "DataLoader",
                "batch_size should be a positive integer value, but got batch_size=0",
            ));
        }
        Ok(DataLoader { dataset, batch_size, shuffle: false, drop_last: false, generator: None })
    }

    /// `shuffle=on`: a fresh PyTorch permutation every epoch.
    pub fn shuffle(mut self, on: bool) -> Self {
        self.shuffle = on;
        self
    }

    /// `drop_last=on`: drop the last batch when it is smaller than `batch_size`.
    pub fn drop_last(mut self, on: bool) -> Self {
        self.drop_last = on;
        self
    }

    /// `generator=g`: draw the base seed and the permutations from `g` instead of the global
    /// generator.
    pub fn generator(mut self, g: Generator) -> Self {
        self.generator = Some(g);
        self
    }

    /// The data set.
    pub fn dataset(&self) -> &D {
        &self.dataset
    }

    /// The number of batches per epoch (`len(loader)`).
    pub fn len(&self) -> usize {
        let n = self.dataset.len();
        if self.drop_last {
            n / self.batch_size
        } else {
            n.div_ceil(self.batch_size)
        }
    }

    /// True when an epoch yields no batch.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Starts an epoch (`iter(loader)`): draws the base seed now, and the shuffle's seed and
    /// permutation on the first batch.
    pub fn iter(&mut self) -> Result<Batches<'_, D>> {
        let _base_seed = self.draw_i64()?;
        Ok(Batches { loader: self, order: None, pos: 0, exhausted: false, failed: false })
    }

    /// `torch.empty((), dtype=torch.int64).random_(generator=...)` on the loader's generator.
    fn draw_i64(&mut self) -> Result<i64> {
        let draw =
            |g: &mut Generator| TensorData::random_with([], DType::I64, g).and_then(|t| t.to_vec::<i64>());
        let v = match &mut self.generator {
            Some(g) => draw(g)?,
            None => with_global(draw)?,
        };
        Ok(v[0])
    }
}

/// One epoch of a [`DataLoader`]: yields `Result<Vec<Tensor>>`, one tensor per field.
#[derive(Debug)]
pub struct Batches<'a, D> {
    loader: &'a mut DataLoader<D>,
    order: Option<Vec<usize>>,
    pos: usize,
    exhausted: bool,
    failed: bool,
}

impl<D: Dataset> Batches<'_, D> {
    /// The sampler's order, drawn on first use (PyTorch's `RandomSampler.__iter__` runs when
    /// the first batch is requested).
    fn order(&mut self) -> Result<&[usize]> {
        if self.order.is_none() {
            let n = self.loader.dataset.len();
            let order = if self.loader.shuffle {
                let perm = match self.loader.generator.as_mut() {
                    Some(g) => TensorData::randperm_with(n, g)?,
                    None => {
                        let seed =
                            with_global(|g| TensorData::random_with([], DType::I64, g))?.to_vec::<i64>()?[0];
                        TensorData::randperm_with(n, &mut Generator::new(seed as u64))?
                    }
                };
                perm.to_vec::<i64>()?.into_iter().map(|i| i as usize).collect()
            } else {
                (0..n).collect()
            };
            self.order = Some(order);
        }
        Ok(self.order.as_deref().unwrap_or(&[]))
    }

    /// PyTorch's `RandomSampler` with a generator of its own draws one more permutation when
    /// asked for a sample past the end.
    fn run_out(&mut self) -> Result<()> {
        if !self.exhausted {
            self.exhausted = true;
            if self.loader.shuffle {
                if let Some(g) = self.loader.generator.as_mut() {
                    TensorData::randperm_with(self.loader.dataset.len(), g)?;
                }
            }
        }
        Ok(())
    }

    fn next_batch(&mut self) -> Result<Option<Vec<Tensor>>> {
        let bs = self.loader.batch_size;
        let n = self.order()?.len();
        let remaining = n.saturating_sub(self.pos);
        if remaining == 0 {
            self.run_out()?;
            return Ok(None);
        }
        if remaining < bs {
            // The batch sampler asks for more samples than are left.
            self.run_out()?;
            if self.loader.drop_last {
                self.pos = n;
                return Ok(None);
            }
        }
        let take = remaining.min(bs);
        let start = self.pos;
        let idx: Vec<usize> = self.order()?[start..start + take].to_vec();
        self.pos += take;
        self.loader.dataset.get_batch(&idx).map(Some)
    }
}

impl<D: Dataset> Iterator for Batches<'_, D> {
    type Item = Result<Vec<Tensor>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        match self.next_batch() {
            Ok(Some(b)) => Some(Ok(b)),
            Ok(None) => None,
            Err(e) => {
                // An error ends the epoch.
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}
