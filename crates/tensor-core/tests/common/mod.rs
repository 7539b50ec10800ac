//! Helpers shared by the integration tests: tensor constructors, tolerant comparisons and
//! naive reference loops that serve as independent oracles.
#![allow(dead_code)]

use torchlet_tensor_core::{DType, Error, Generator, TensorData};

/// An f64 tensor from row-major values.
pub fn f64t(v: &[f64], shape: &[usize]) -> TensorData {
    TensorData::from_vec(v.to_vec(), shape).unwrap()
}

/// An f32 tensor from row-major values.
pub fn f32t(v: &[f32], shape: &[usize]) -> TensorData {
    TensorData::from_vec(v.to_vec(), shape).unwrap()
}

/// An i64 tensor from row-major values.
pub fn i64t(v: &[i64], shape: &[usize]) -> TensorData {
    TensorData::from_vec(v.to_vec(), shape).unwrap()
}

/// `0, 1, 2, ...` as an f64 tensor of `shape`.
pub fn iota(shape: &[usize]) -> TensorData {
    let n: usize = shape.iter().product();
    f64t(&(0..n).map(|i| i as f64).collect::<Vec<_>>(), shape)
}

/// Seeded standard-normal f64 values of `shape`.
pub fn randn(shape: &[usize], seed: u64) -> TensorData {
    TensorData::randn_with(shape, DType::F64, &mut Generator::new(seed)).unwrap()
}

/// The values of any tensor as f64, row-major.
pub fn vals(t: &TensorData) -> Vec<f64> {
    t.to_f64_vec()
}

/// Asserts `a` and `b` have equal length and agree within `tol` (absolute + relative);
/// NaN matches only NaN, infinities must be equal.
#[track_caller]
pub fn assert_close(a: &[f64], b: &[f64], tol: f64) {
    assert_eq!(a.len(), b.len(), "lengths differ: {a:?} vs {b:?}");
    for (i, (&x, &y)) in a.iter().zip(b).enumerate() {
        let ok = if x.is_nan() || y.is_nan() {
            x.is_nan() && y.is_nan()
        } else if x.is_infinite() || y.is_infinite() {
            x == y
        } else {
            (x - y).abs() <= tol * (1.0 + y.abs())
        };
        assert!(ok, "element {i}: {x} vs expected {y} (tol {tol})\n got {a:?}\nwant {b:?}");
    }
}

/// Asserts a tensor's shape and values.
#[track_caller]
pub fn assert_tensor(t: &TensorData, shape: &[usize], want: &[f64], tol: f64) {
    assert_eq!(t.dims(), shape, "shape");
    assert_close(&vals(t), want, tol);
}

/// Row-major strides of `dims`.
pub fn strides_of(dims: &[usize]) -> Vec<usize> {
    let mut s = vec![1; dims.len()];
    for i in (0..dims.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * dims[i + 1];
    }
    s
}

/// The multi-index of flat row-major position `flat` in `dims`.
pub fn unravel(mut flat: usize, dims: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; dims.len()];
    for i in (0..dims.len()).rev() {
        idx[i] = flat % dims[i];
        flat /= dims[i];
    }
    idx
}

/// Flat row-major position of `idx` in `dims`.
pub fn ravel(idx: &[usize], dims: &[usize]) -> usize {
    idx.iter().zip(strides_of(dims)).map(|(i, s)| i * s).sum()
}

/// Naive `C = A @ B` in f64 for row-major `a (m x k)` and `b (k x n)`.
pub fn naive_matmul(a: &[f64], b: &[f64], m: usize, k: usize, n: usize) -> Vec<f64> {
    let mut c = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            let mut s = 0.0;
            for p in 0..k {
                s += a[i * k + p] * b[p * n + j];
            }
            c[i * n + j] = s;
        }
    }
    c
}

/// Inner product of two equally long vectors.
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Extracts the `DimOutOfRange` fields, panicking on any other result.
#[track_caller]
pub fn dim_err<T: std::fmt::Debug>(r: Result<T, Error>) -> (&'static str, isize, usize) {
    match r {
        Err(Error::DimOutOfRange { op, dim, ndim }) => (op, dim, ndim),
        other => panic!("expected DimOutOfRange, got {other:?}"),
    }
}
