//! The op catalog: every differentiable operation is enrolled once, next to its rule, with a
//! recipe for sample inputs. The test suites walk the catalog, so a new op is covered by the
//! gradient check, the no-panic fuzzing and the random-shape properties by its one entry.
//!
//! An entry ([`OpInfo`]) names the op and holds `sample`, a function that draws inputs and
//! the call from a [`Sampler`]. The sampler decides, by its [`Mode`], what "draw a float
//! tensor of shape `[3, 4]`" means:
//!
//! | mode | sizes | values |
//! |---|---|---|
//! | [`Mode::Check`] | as written | f64, distinct, in `[-2, 2]`, away from 0, -0.5 and 1 (the kinks of relu, abs, clamp) |
//! | [`Mode::Random`] | random, 1 to one more than written | as in `Check` |
//! | [`Mode::Fuzz`] | random, 0 to 5; sometimes a shape unrelated to the one written | any dtype; NaN, ±inf, huge, tiny, -0.0; non-contiguous views; out-of-range indices, dims and options |
//!
//! ```
//! use torchlet_autograd::catalog::{Mode, Sampler};
//! use torchlet_autograd::{gradcheck, op_catalog, Tensor};
//!
//! for op in op_catalog().iter().filter(|op| op.differentiable) {
//!     let case = (op.sample)(&mut Sampler::new(Mode::Check, 7));
//!     let report = gradcheck(|t: &[Tensor]| (case.call)(t), &case.inputs, 1e-6, 1e-7, 1e-5);
//!     assert!(report.is_ok(), "{}: {:?}", op.name, report.err());
//! }
//! ```
//!
//! An entry is written in the op's family file, e.g. for `sum_dim`:
//!
//! ```text
//! OpInfo::new("sum_dim", |s| {
//!     let (dim, keep) = (s.dim(2), s.flag());
//!     Case::new([s.sized(&[3, 4])], move |t| t[0].sum_dim(dim, keep))
//! }),
//! ```

use crate::tensor::Tensor;
use torchlet_tensor_core::{DType, Result, Shape, TensorData};

/// One enrolled operation.
pub struct OpInfo {
    /// The op's name (a `Tensor` method or `F` function, with a suffix for variants).
    pub name: &'static str,
    /// Whether the suites check its gradients (`false` for integer-valued ops like argmax).
    pub differentiable: bool,
    /// Draws inputs and the call from a sampler.
    pub sample: fn(&mut Sampler) -> Case,
}

impl OpInfo {
    /// A differentiable op.
    pub fn new(name: &'static str, sample: fn(&mut Sampler) -> Case) -> Self {
        OpInfo { name, differentiable: true, sample }
    }

    /// An op without gradients (fuzzed for panics only).
    pub fn no_grad(name: &'static str, sample: fn(&mut Sampler) -> Case) -> Self {
        OpInfo { name, differentiable: false, sample }
    }
}

/// The function under test applied to its leaves (built from `inputs`, float ones requiring grad).
pub type Call = Box<dyn Fn(&[Tensor]) -> Result<Tensor>>;

/// Sample inputs and the call that applies the op to them.
pub struct Case {
    /// The inputs, in the order the call reads them.
    pub inputs: Vec<TensorData>,
    /// Applies the op.
    pub call: Call,
}

impl Case {
    /// A case from its inputs and call.
    pub fn new(
        inputs: impl IntoIterator<Item = TensorData>,
        call: impl Fn(&[Tensor]) -> Result<Tensor> + 'static,
    ) -> Case {
        Case { inputs: inputs.into_iter().collect(), call: Box::new(call) }
    }

    /// The inputs as tensors (float ones requiring grad), ready for `call`.
    pub fn leaves(&self) -> Vec<Tensor> {
        self.inputs
            .iter()
            .map(|x| {
                let t = Tensor::from_data(x.clone());
                if x.dtype().is_float() {
                    t.requires_grad_(true).expect("a float leaf can require grad")
                } else {
                    t
                }
            })
            .collect()
    }
}

/// What a [`Sampler`] draws (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The written shapes, smooth f64 values: for the gradient check.
    Check,
    /// Random small shapes, smooth f64 values: for the random-shape gradient check.
    Random,
    /// Anything: for the no-panic suite.
    Fuzz,
}

/// Draws sample shapes, values, dims and options for catalog entries (deterministic for a
/// seed; its own small generator, independent of the global one).
#[derive(Clone, Debug)]
pub struct Sampler {
    mode: Mode,
    state: u64,
}

impl Sampler {
    /// A sampler in `mode` seeded with `seed`.
    pub fn new(mode: Mode, seed: u64) -> Sampler {
        Sampler { mode, state: seed ^ 0x9E37_79B9_7F4A_7C15 }
    }

    /// The mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// 64 random bits (splitmix64).
    fn bits(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn uniform(&mut self) -> f64 {
        (self.bits() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.bits() % n.max(1) as u64) as usize
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.uniform() < p
    }

    /// A coin flip.
    pub fn flag(&mut self) -> bool {
        self.chance(0.5)
    }

    /// One of `options`.
    pub fn pick<T: Clone>(&mut self, options: &[T]) -> T {
        options[self.below(options.len())].clone()
    }

    /// A dimension size: `n` in `Check`, `1..=n+1` in `Random`, `0..=5` in `Fuzz`.
    pub fn size(&mut self, n: usize) -> usize {
        match self.mode {
            Mode::Check => n,
            Mode::Random => 1 + self.below(n + 1),
            Mode::Fuzz => self.below(6),
        }
    }

    /// A dim of a tensor of rank `ndim`: valid (negative half the time) except in `Fuzz`,
    /// where it is anywhere in `[-ndim - 2, ndim + 2]`.
    pub fn dim(&mut self, ndim: usize) -> isize {
        let n = ndim as isize;
        match self.mode {
            Mode::Fuzz => {
                if self.chance(0.05) {
                    self.pick(&[isize::MAX, isize::MIN])
                } else {
                    self.below(2 * ndim + 5) as isize - n - 2
                }
            }
            _ if ndim == 0 => 0,
            _ => {
                let d = self.below(ndim) as isize;
                if self.flag() {
                    d - n
                } else {
                    d
                }
            }
        }
    }

    /// A number in `[lo, hi)`; in `Fuzz` sometimes NaN, ±inf or far outside.
    pub fn scalar(&mut self, lo: f64, hi: f64) -> f64 {
        if self.mode == Mode::Fuzz && self.chance(0.2) {
            return self.pick(&[f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -1e30, 1e30, 0.0, -1.0]);
        }
        lo + (hi - lo) * self.uniform()
    }

    /// A shape for `Fuzz` to use instead of the written one, one time in five.
    fn fuzz_shape(&mut self, shape: &[usize]) -> Vec<usize> {
        if self.mode == Mode::Fuzz && self.chance(0.2) {
            (0..self.below(5)).map(|_| self.below(5)).collect()
        } else {
            shape.to_vec()
        }
    }

    /// A float tensor: smooth f64 values (see the module docs), or anything in `Fuzz`.
    pub fn float(&mut self, shape: &[usize]) -> TensorData {
        if self.mode == Mode::Fuzz {
            return self.fuzz(shape);
        }
        let n = Shape::new(shape).numel();
        // Ranks of random draws placed on a shifted grid: distinct, in [-2, 2], at least
        // 0.1/n away from 0, -0.5 and 1, in random order.
        let draws: Vec<f64> = (0..n).map(|_| self.uniform()).collect();
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| draws[a].total_cmp(&draws[b]));
        let mut v = vec![0.0; n];
        for (rank, &i) in order.iter().enumerate() {
            v[i] = -2.0 + (4.0 * rank as f64 + 2.1) / n as f64;
        }
        TensorData::from_vec(v, shape).expect("length matches")
    }

    /// A float tensor of shape `[size(d) for d in dims]` (see [`Sampler::size`] and
    /// [`Sampler::float`]).
    pub fn sized(&mut self, dims: &[usize]) -> TensorData {
        let shape: Vec<usize> = dims.iter().map(|&d| self.size(d)).collect();
        self.float(&shape)
    }

    /// A float tensor with values in `[lo, hi)` (f64), or anything in `Fuzz`.
    pub fn within(&mut self, shape: &[usize], lo: f64, hi: f64) -> TensorData {
        if self.mode == Mode::Fuzz {
            return self.fuzz(shape);
        }
        let n = Shape::new(shape).numel();
        let v: Vec<f64> = (0..n).map(|_| lo + (hi - lo) * self.uniform()).collect();
        TensorData::from_vec(v, shape).expect("length matches")
    }

    /// Positive values in `[0.3, 3)` (for log, sqrt, pow bases), or anything in `Fuzz`.
    pub fn positive(&mut self, shape: &[usize]) -> TensorData {
        self.within(shape, 0.3, 3.0)
    }

    /// Probabilities in `[0.05, 0.95)`, or anything in `Fuzz`.
    pub fn unit(&mut self, shape: &[usize]) -> TensorData {
        self.within(shape, 0.05, 0.95)
    }

    /// Rows of probabilities summing to 1 along the last dim, or anything in `Fuzz`.
    pub fn distribution(&mut self, shape: &[usize]) -> TensorData {
        if self.mode == Mode::Fuzz {
            return self.fuzz(shape);
        }
        let p = self.within(shape, 0.1, 1.0);
        let s = p.sum_dim(-1, true).expect("a float tensor with a last dim");
        p.div(&s).expect("shapes broadcast")
    }

    /// i64 indices in `[0, high)`; in `Fuzz` sometimes negative, `high` or beyond, or of
    /// another dtype.
    pub fn index(&mut self, shape: &[usize], high: usize) -> TensorData {
        let shape = self.fuzz_shape(shape);
        let n = Shape::new(&shape).numel();
        let fuzz = self.mode == Mode::Fuzz;
        let v: Vec<i64> = (0..n)
            .map(|_| {
                if fuzz && self.chance(0.1) {
                    self.pick(&[-1, -100, high as i64, i64::MAX, i64::MIN])
                } else {
                    self.below(high) as i64
                }
            })
            .collect();
        let t = TensorData::from_vec(v, shape).expect("length matches");
        if fuzz && self.chance(0.05) {
            t.to_dtype(DType::F32)
        } else {
            t
        }
    }

    /// A bool mask (true with probability `p`).
    pub fn mask(&mut self, shape: &[usize], p: f64) -> TensorData {
        let shape = self.fuzz_shape(shape);
        let n = Shape::new(&shape).numel();
        let v: Vec<bool> = (0..n).map(|_| self.chance(p)).collect();
        TensorData::from_vec(v, shape).expect("length matches")
    }

    /// Anything: a random dtype, special values, and sometimes another shape.
    fn fuzz(&mut self, shape: &[usize]) -> TensorData {
        let shape = self.fuzz_shape(shape);
        let n = Shape::new(&shape).numel();
        let dtype =
            self.pick(&[DType::F32, DType::F32, DType::F32, DType::F64, DType::F64, DType::I64, DType::Bool]);
        let v: Vec<f64> = (0..n)
            .map(|_| {
                if self.chance(0.25) {
                    self.pick(&[
                        0.0,
                        -0.0,
                        f64::NAN,
                        f64::INFINITY,
                        f64::NEG_INFINITY,
                        1e30,
                        -1e30,
                        1e-40,
                        3.0,
                        -7.0,
                    ])
                } else {
                    4.0 * self.uniform() - 2.0
                }
            })
            .collect();
        let t = TensorData::from_vec(v, shape.clone()).expect("length matches").to_dtype(dtype);
        // Sometimes a non-contiguous view of those values: the transpose of the transposed shape.
        if shape.len() >= 2 && self.chance(0.2) {
            let mut swapped = shape.clone();
            swapped.swap(0, 1);
            if let Ok(v) = t
                .reshape(swapped.iter().map(|&d| d as isize).collect::<Vec<_>>())
                .and_then(|v| v.transpose(0, 1))
            {
                return v;
            }
        }
        t
    }
}
