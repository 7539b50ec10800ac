//! Seedable random tensors: a global generator reset by [`manual_seed`] (like
//! `torch.manual_seed`) and explicit [`Generator`]s for independent streams.

use crate::shape::Shape;
use crate::{with_float, DType, Error, Float, Result, TensorData};
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, StandardNormal};
use std::sync::Mutex;

/// The seed the global generator starts from, so runs are reproducible by default.
pub const DEFAULT_SEED: u64 = 0x5EED_70C4;

/// A random number generator for tensors (`torch.Generator`): Xoshiro256++ (rand's
/// `SmallRng`), fast and of good statistical quality (not for cryptography). Streams are
/// reproducible for a given seed with the versions pinned in Cargo.lock.
#[derive(Clone, Debug)]
pub struct Generator {
    rng: rand::rngs::SmallRng,
}

impl Generator {
    /// A generator seeded with `seed`; equal seeds give equal streams.
    pub fn new(seed: u64) -> Self {
        Generator { rng: rand::rngs::SmallRng::seed_from_u64(seed) }
    }

    /// Re-seeds this generator.
    pub fn manual_seed(&mut self, seed: u64) {
        *self = Generator::new(seed);
    }

    /// A uniform sample in `[0, 1)`.
    pub fn uniform(&mut self) -> f64 {
        self.rng.random::<f64>()
    }

    /// A standard normal sample.
    pub fn normal(&mut self) -> f64 {
        StandardNormal.sample(&mut self.rng)
    }

    /// A uniform integer in `[low, high)` (`low < high`).
    pub fn int_range(&mut self, low: i64, high: i64) -> i64 {
        self.rng.random_range(low..high)
    }
}

static GLOBAL: Mutex<Option<Generator>> = Mutex::new(None);

/// Seeds the global generator, like `torch.manual_seed`.
pub fn manual_seed(seed: u64) {
    *GLOBAL.lock().unwrap_or_else(|e| e.into_inner()) = Some(Generator::new(seed));
}

/// Runs `f` with the global generator (created from [`DEFAULT_SEED`] on first use).
pub fn with_global<R>(f: impl FnOnce(&mut Generator) -> R) -> R {
    let mut g = GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
    f(g.get_or_insert_with(|| Generator::new(DEFAULT_SEED)))
}

impl TensorData {
    /// Uniform samples in `[low, high)` of a float dtype.
    pub fn uniform_with(
        shape: impl Into<Shape>,
        low: f64,
        high: f64,
        dtype: DType,
        g: &mut Generator,
    ) -> Result<Self> {
        if !(low <= high && low.is_finite() && high.is_finite()) {
            return Err(Error::invalid(
                "uniform",
                format!("expects finite low <= high, got low={low}, high={high}"),
            ));
        }
        let shape = shape.into();
        // Generated directly in the target dtype: no f64 detour (a (50000, 784) f32 tensor
        // would otherwise pass through a 313 MB f64 buffer).
        with_float!(dtype, "uniform", |T| {
            let (lo, hi) = (T::c(low), T::c(high));
            if !T::c(high - low).is_finite() {
                return Err(Error::invalid(
                    "uniform",
                    format!("high - low = {} exceeds the largest {dtype} value; pick a narrower range (got low={low}, high={high})", high - low),
                ));
            }
            let mut draw = || {
                // Rounding to f32 can land exactly on `high`; draw again to keep [low, high).
                // A range narrower than one ulp of the dtype has only `low` (so does the
                // fallback after many rejections: nothing can loop forever).
                for _ in 0..64 {
                    let x = T::c(low + (high - low) * g.uniform());
                    if x < hi {
                        return x;
                    }
                }
                lo
            };
            let v: Vec<T> = (0..shape.numel()).map(|_| draw()).collect();
            Ok(TensorData::from_vec_unchecked(v, shape))
        })
    }

    /// Uniform samples in `[0, 1)` from the given generator, like `torch.rand`.
    pub fn rand_with(shape: impl Into<Shape>, dtype: DType, g: &mut Generator) -> Result<Self> {
        Self::uniform_with(shape, 0.0, 1.0, dtype, g)
    }

    /// Standard normal samples from the given generator, like `torch.randn`.
    pub fn randn_with(shape: impl Into<Shape>, dtype: DType, g: &mut Generator) -> Result<Self> {
        let shape = shape.into();
        with_float!(dtype, "randn", |T| {
            let v: Vec<T> = (0..shape.numel()).map(|_| T::c(g.normal())).collect();
            Ok(TensorData::from_vec_unchecked(v, shape))
        })
    }

    /// Integers uniform in `[low, high)` (i64), like `torch.randint`.
    pub fn randint_with(low: i64, high: i64, shape: impl Into<Shape>, g: &mut Generator) -> Result<Self> {
        if low >= high {
            return Err(Error::invalid("randint", format!("expects low < high, got low={low}, high={high}")));
        }
        let shape = shape.into();
        let v: Vec<i64> = (0..shape.numel()).map(|_| g.int_range(low, high)).collect();
        Ok(TensorData::from_vec_unchecked(v, shape))
    }

    /// `torch.rand` from the global generator.
    pub fn rand(shape: impl Into<Shape>, dtype: DType) -> Result<Self> {
        with_global(|g| Self::rand_with(shape, dtype, g))
    }

    /// `torch.randn` from the global generator.
    pub fn randn(shape: impl Into<Shape>, dtype: DType) -> Result<Self> {
        with_global(|g| Self::randn_with(shape, dtype, g))
    }

    /// `torch.randint` from the global generator.
    pub fn randint(low: i64, high: i64, shape: impl Into<Shape>) -> Result<Self> {
        with_global(|g| Self::randint_with(low, high, shape, g))
    }

    /// A random permutation of `0..n` (i64), like `torch.randperm`.
    pub fn randperm_with(n: usize, g: &mut Generator) -> Self {
        let mut v: Vec<i64> = (0..n as i64).collect();
        for i in (1..n).rev() {
            let j = g.int_range(0, i as i64 + 1) as usize;
            v.swap(i, j);
        }
        TensorData::from_vec_unchecked(v, Shape::new(&[n]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_generators_repeat_and_differ() {
        let a = TensorData::randn_with([3, 4], DType::F32, &mut Generator::new(7)).unwrap();
        let b = TensorData::randn_with([3, 4], DType::F32, &mut Generator::new(7)).unwrap();
        let c = TensorData::randn_with([3, 4], DType::F32, &mut Generator::new(8)).unwrap();
        assert_eq!(a.to_vec::<f32>().unwrap(), b.to_vec::<f32>().unwrap());
        assert_ne!(a.to_vec::<f32>().unwrap(), c.to_vec::<f32>().unwrap());
    }

    #[test]
    fn ranges_are_respected() {
        let mut g = Generator::new(1);
        let u = TensorData::uniform_with([1000], -0.5, 0.25, DType::F64, &mut g)
            .unwrap()
            .to_vec::<f64>()
            .unwrap();
        assert!(u.iter().all(|&x| (-0.5..0.25).contains(&x)));
        let r = TensorData::randint_with(2, 5, [1000], &mut g).unwrap().to_vec::<i64>().unwrap();
        assert!(r.iter().all(|&x| (2..5).contains(&x)));
        assert!((2..5).all(|k| r.contains(&k)), "all of 2, 3, 4 appear in 1000 draws");
        assert!(TensorData::randint_with(3, 3, [2], &mut g).is_err());
        // A range narrower than one f32 ulp has a single value (and must not loop forever).
        let narrow = TensorData::uniform_with([3], 1.0, 1.0 + 1e-12, DType::F32, &mut g).unwrap();
        assert_eq!(narrow.to_vec::<f32>().unwrap(), vec![1.0; 3]);
        // A span that overflows the dtype is an error, not an endless rejection loop.
        assert!(TensorData::uniform_with([2], -1e308, 1e308, DType::F64, &mut g).is_err());
        assert!(TensorData::uniform_with([2], -3e38, 3e38, DType::F32, &mut g).is_err());
        let mut p = TensorData::randperm_with(50, &mut g).to_vec::<i64>().unwrap();
        p.sort();
        assert_eq!(p, (0..50).collect::<Vec<i64>>());
    }
}
