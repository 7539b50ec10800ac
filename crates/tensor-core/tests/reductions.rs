//! Reductions (sum, mean, prod, max, min, arg-extrema, logsumexp) and the softmax family:
//! every dim (positive and negative), keepdim, 1-D/2-D/3-D, empty tensors, NaN, errors.

mod common;
use common::*;
use torchlet_tensor_core::{DType, Dims, Error, Generator, TensorData};

/// Naive reduction of row-major `v` of `dims` over dimension `d`: for every output
/// position, collects the lane of values and applies `f` to it. Returns (values, shape
/// without keepdim).
fn ref_reduce(v: &[f64], dims: &[usize], d: usize, f: impl Fn(&[f64]) -> f64) -> (Vec<f64>, Vec<usize>) {
    let mut out_dims = dims.to_vec();
    out_dims.remove(d);
    let n: usize = out_dims.iter().product();
    let mut out = Vec::with_capacity(n);
    for flat in 0..n {
        let o = unravel(flat, &out_dims);
        let lane: Vec<f64> = (0..dims[d])
            .map(|k| {
                let mut idx = o.clone();
                idx.insert(d, k);
                v[ravel(&idx, dims)]
            })
            .collect();
        out.push(f(&lane));
    }
    (out, out_dims)
}

fn kept(dims: &[usize], d: usize) -> Vec<usize> {
    let mut k = dims.to_vec();
    k[d] = 1;
    k
}

fn lane_sum(l: &[f64]) -> f64 {
    let mut s = 0.0;
    for &x in l {
        s += x;
    }
    s
}
fn lane_prod(l: &[f64]) -> f64 {
    let mut p = 1.0;
    for &x in l {
        p *= x;
    }
    p
}
fn lane_argmax(l: &[f64]) -> f64 {
    let mut best = 0;
    for (i, &x) in l.iter().enumerate() {
        if x > l[best] {
            best = i;
        }
    }
    best as f64
}
fn lane_argmin(l: &[f64]) -> f64 {
    let mut best = 0;
    for (i, &x) in l.iter().enumerate() {
        if x < l[best] {
            best = i;
        }
    }
    best as f64
}

/// Inputs of rank 1, 2, 3 with distinct values (no ties), as (tensor, values, dims).
fn inputs() -> Vec<(TensorData, Vec<f64>, Vec<usize>)> {
    let mut out = vec![];
    for (dims, seed) in [(vec![5], 1), (vec![3, 4], 2), (vec![2, 3, 4], 3)] {
        let t = randn(&dims, seed);
        out.push((t.clone(), vals(&t), dims));
    }
    out
}

#[test]
fn sum_mean_prod_hand_values() {
    // x = [[1,2,3],[4,5,6]]
    let x = f64t(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
    assert_tensor(&x.sum().unwrap(), &[], &[21.0], 0.0);
    assert_tensor(&x.sum_dim(0, false).unwrap(), &[3], &[5.0, 7.0, 9.0], 0.0);
    assert_tensor(&x.sum_dim(1, false).unwrap(), &[2], &[6.0, 15.0], 0.0);
    assert_tensor(&x.sum_dim(-1, true).unwrap(), &[2, 1], &[6.0, 15.0], 0.0);
    assert_tensor(&x.sum_dim(-2, true).unwrap(), &[1, 3], &[5.0, 7.0, 9.0], 0.0);
    // mean = 21 / 6 = 3.5; column means [2.5, 3.5, 4.5]; row means [2, 5].
    assert_tensor(&x.mean().unwrap(), &[], &[3.5], 0.0);
    assert_tensor(&x.mean_dim(0, false).unwrap(), &[3], &[2.5, 3.5, 4.5], 0.0);
    assert_tensor(&x.mean_dim(-1, true).unwrap(), &[2, 1], &[2.0, 5.0], 0.0);
    // prod = 720; column products [4, 10, 18]; row products [6, 120].
    assert_tensor(&x.prod().unwrap(), &[], &[720.0], 0.0);
    assert_tensor(&x.prod_dim(0, false).unwrap(), &[3], &[4.0, 10.0, 18.0], 0.0);
    assert_tensor(&x.prod_dim(-1, true).unwrap(), &[2, 1], &[6.0, 120.0], 0.0);
    // max = 6, min = 1
    assert_tensor(&x.max().unwrap(), &[], &[6.0], 0.0);
    assert_tensor(&x.min().unwrap(), &[], &[1.0], 0.0);
}

#[test]
fn sum_mean_prod_every_dim_against_reference() {
    for (t, v, dims) in inputs() {
        let nd = dims.len() as isize;
        for dim in -nd..nd {
            let d = if dim < 0 { (dim + nd) as usize } else { dim as usize };
            let n = dims[d] as f64;
            for keepdim in [false, true] {
                let shape = if keepdim { kept(&dims, d) } else { ref_reduce(&v, &dims, d, lane_sum).1 };
                let (s, _) = ref_reduce(&v, &dims, d, lane_sum);
                assert_tensor(&t.sum_dim(dim, keepdim).unwrap(), &shape, &s, 1e-12);
                let m: Vec<f64> = s.iter().map(|x| x / n).collect();
                assert_tensor(&t.mean_dim(dim, keepdim).unwrap(), &shape, &m, 1e-12);
                let (p, _) = ref_reduce(&v, &dims, d, lane_prod);
                assert_tensor(&t.prod_dim(dim, keepdim).unwrap(), &shape, &p, 1e-12);
            }
        }
        assert_close(&vals(&t.sum().unwrap()), &[lane_sum(&v)], 1e-12);
        assert_close(&vals(&t.mean().unwrap()), &[lane_sum(&v) / v.len() as f64], 1e-12);
        assert_close(&vals(&t.prod().unwrap()), &[lane_prod(&v)], 1e-12);
    }
}

#[test]
fn reductions_of_non_contiguous_inputs() {
    // x^T where x = [[1,2,3],[4,5,6]]: [[1,4],[2,5],[3,6]].
    let xt = f64t(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]).t().unwrap();
    assert_tensor(&xt.sum_dim(0, false).unwrap(), &[2], &[6.0, 15.0], 0.0);
    assert_tensor(&xt.sum_dim(1, false).unwrap(), &[3], &[5.0, 7.0, 9.0], 0.0);
    assert_tensor(&xt.prod_dim(1, false).unwrap(), &[3], &[4.0, 10.0, 18.0], 0.0);
    let (m, i) = xt.max_dim(0, false).unwrap();
    assert_tensor(&m, &[2], &[3.0, 6.0], 0.0);
    assert_eq!(i.to_vec::<i64>().unwrap(), vec![2, 2]);
    // An expanded view: (1,3) -> (4,3) of [1,2,3]; column sums 4, 8, 12.
    let e = f64t(&[1.0, 2.0, 3.0], &[1, 3]).expand([4, 3]).unwrap();
    assert_tensor(&e.sum_dim(0, false).unwrap(), &[3], &[4.0, 8.0, 12.0], 0.0);
    assert_tensor(&e.sum().unwrap(), &[], &[24.0], 0.0);
    let sm = e.softmax(0).unwrap();
    assert_close(&vals(&sm), &[0.25; 12], 1e-15);
}

#[test]
fn max_min_with_indices_every_dim() {
    for (t, v, dims) in inputs() {
        let nd = dims.len() as isize;
        for dim in -nd..nd {
            let d = if dim < 0 { (dim + nd) as usize } else { dim as usize };
            for keepdim in [false, true] {
                let (mx, out_dims) =
                    ref_reduce(&v, &dims, d, |l| l.iter().cloned().fold(f64::NEG_INFINITY, f64::max));
                let (mn, _) = ref_reduce(&v, &dims, d, |l| l.iter().cloned().fold(f64::INFINITY, f64::min));
                let (amx, _) = ref_reduce(&v, &dims, d, lane_argmax);
                let (amn, _) = ref_reduce(&v, &dims, d, lane_argmin);
                let shape = if keepdim { kept(&dims, d) } else { out_dims };
                let (vals_, idx) = t.max_dim(dim, keepdim).unwrap();
                assert_tensor(&vals_, &shape, &mx, 0.0);
                assert_eq!(idx.dtype(), DType::I64);
                assert_tensor(&idx, &shape, &amx, 0.0);
                let (vals_, idx) = t.min_dim(dim, keepdim).unwrap();
                assert_tensor(&vals_, &shape, &mn, 0.0);
                assert_tensor(&idx, &shape, &amn, 0.0);
                let am = t.argmax(dim, keepdim).unwrap();
                assert_eq!(am.dtype(), DType::I64);
                assert_tensor(&am, &shape, &amx, 0.0);
                assert_tensor(&t.argmin(dim, keepdim).unwrap(), &shape, &amn, 0.0);
            }
        }
        let want_max = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let want_min = v.iter().cloned().fold(f64::INFINITY, f64::min);
        assert_eq!(t.max().unwrap().item().unwrap(), want_max);
        assert_eq!(t.min().unwrap().item().unwrap(), want_min);
    }
}

#[test]
fn arg_extrema_take_the_first_of_ties() {
    // PyTorch returns the first occurrence: argmax([1,3,3]) = 1, argmin([2,0,0]) = 1.
    let x = f64t(&[1.0, 3.0, 3.0, 2.0, 0.0, 0.0], &[2, 3]);
    assert_eq!(x.argmax(1, false).unwrap().to_vec::<i64>().unwrap(), vec![1, 0]);
    assert_eq!(x.argmin(1, false).unwrap().to_vec::<i64>().unwrap(), vec![0, 1]);
    // Column [1,2] -> 1; [3,0] -> 0; [3,0] -> 0
    assert_eq!(x.argmax(0, false).unwrap().to_vec::<i64>().unwrap(), vec![1, 0, 0]);
    let ones = TensorData::ones([4], DType::F32);
    assert_eq!(ones.argmax(0, false).unwrap().item().unwrap(), 0.0);
    assert_eq!(ones.argmin(-1, false).unwrap().item().unwrap(), 0.0);
}

#[test]
fn nan_propagates_in_max_and_min() {
    let x = f64t(&[1.0, f64::NAN, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
    assert!(x.max().unwrap().item().unwrap().is_nan());
    assert!(x.min().unwrap().item().unwrap().is_nan());
    // Row 0 has the NaN at index 1: max/min over dim 1 give NaN there, with its index.
    let (m, i) = x.max_dim(1, false).unwrap();
    let m = vals(&m);
    assert!(m[0].is_nan() && m[1] == 6.0, "{m:?}");
    assert_eq!(i.to_vec::<i64>().unwrap(), vec![1, 2]);
    let (m, i) = x.min_dim(1, false).unwrap();
    let m = vals(&m);
    assert!(m[0].is_nan() && m[1] == 4.0, "{m:?}");
    assert_eq!(i.to_vec::<i64>().unwrap(), vec![1, 0]);
    assert_eq!(x.argmax(1, false).unwrap().to_vec::<i64>().unwrap(), vec![1, 2]);
    // A NaN at the start stays (it is not replaced by a larger later value).
    let y = f32t(&[f32::NAN, 10.0, 20.0], &[3]);
    let (m, i) = y.max_dim(0, false).unwrap();
    assert!(m.item().unwrap().is_nan());
    assert_eq!(i.item().unwrap(), 0.0);
    // NaN in the last position still wins.
    let z = f64t(&[5.0, 1.0, f64::NAN], &[3]);
    assert_eq!(z.argmax(0, false).unwrap().item().unwrap(), 2.0);
    assert_eq!(z.argmin(0, false).unwrap().item().unwrap(), 2.0);
    // sum and mean propagate NaN as arithmetic does.
    assert!(x.sum_dim(1, false).unwrap().to_f64_vec()[0].is_nan());
    assert_eq!(x.sum_dim(1, false).unwrap().to_f64_vec()[1], 15.0);
}

#[test]
fn dim_out_of_range_errors() {
    let x = iota(&[2, 3]);
    type Case<'a> = Box<dyn Fn(isize) -> torchlet_tensor_core::Result<TensorData> + 'a>;
    let cases: Vec<(&str, Case)> = vec![
        ("sum", Box::new(|d| x.sum_dim(d, false))),
        ("mean", Box::new(|d| x.mean_dim(d, false))),
        ("prod", Box::new(|d| x.prod_dim(d, true))),
        ("max", Box::new(|d| x.max_dim(d, false).map(|p| p.0))),
        ("min", Box::new(|d| x.min_dim(d, false).map(|p| p.0))),
        ("argmax", Box::new(|d| x.argmax(d, false))),
        ("argmin", Box::new(|d| x.argmin(d, false))),
        ("logsumexp", Box::new(|d| x.logsumexp(d, false))),
        ("softmax", Box::new(|d| x.softmax(d))),
        ("log_softmax", Box::new(|d| x.log_softmax(d))),
    ];
    for (name, f) in &cases {
        for bad in [2isize, -3, 100] {
            let (op, dim, ndim) = dim_err(f(bad));
            assert_eq!(op, *name);
            assert_eq!((dim, ndim), (bad, 2));
        }
        // The edges -2 and 1 are valid.
        assert!(f(-2).is_ok() && f(1).is_ok(), "{name}");
    }
    let e = x.sum_dim(2, false).unwrap_err().to_string();
    assert_eq!(
        e,
        "sum: dimension 2 is out of range for a tensor with 2 dimension(s) (expected a dim in [-2, 1])"
    );
    let e = x.softmax(-3).unwrap_err().to_string();
    assert!(e.contains("softmax") && e.contains("-3") && e.contains("[-2, 1]"), "{e}");
    // A 1-D tensor accepts 0 and -1 only.
    let v = iota(&[3]);
    assert_eq!(dim_err(v.sum_dim(1, false)), ("sum", 1, 1));
    assert_eq!(dim_err(v.argmax(-2, false)), ("argmax", -2, 1));
}

#[test]
fn zero_dim_inputs() {
    // A 0-d tensor reduces over dim 0 / -1 to itself, like PyTorch.
    let s = TensorData::scalar(2.5f64);
    assert_tensor(&s.sum_dim(0, false).unwrap(), &[], &[2.5], 0.0);
    assert_tensor(&s.sum_dim(-1, true).unwrap(), &[], &[2.5], 0.0);
    assert_tensor(&s.mean_dim(0, false).unwrap(), &[], &[2.5], 0.0);
    assert_tensor(&s.prod_dim(0, false).unwrap(), &[], &[2.5], 0.0);
    let (m, i) = s.max_dim(0, false).unwrap();
    assert_tensor(&m, &[], &[2.5], 0.0);
    assert_tensor(&i, &[], &[0.0], 0.0);
    assert_tensor(&s.softmax(0).unwrap(), &[], &[1.0], 0.0);
    assert_tensor(&s.log_softmax(-1).unwrap(), &[], &[0.0], 0.0);
    assert_tensor(&s.logsumexp(0, false).unwrap(), &[], &[2.5], 1e-15);
    assert!(matches!(s.sum_dim(1, false).unwrap_err(), Error::DimOutOfRange { dim: 1, ndim: 0, .. }));
}

#[test]
fn empty_tensor_reductions() {
    let e = TensorData::zeros([0], DType::F64);
    // sum of nothing is 0, prod of nothing is 1, mean of nothing is NaN.
    assert_tensor(&e.sum().unwrap(), &[], &[0.0], 0.0);
    assert_tensor(&e.prod().unwrap(), &[], &[1.0], 0.0);
    assert!(e.mean().unwrap().item().unwrap().is_nan());
    assert_tensor(&e.sum_dim(0, false).unwrap(), &[], &[0.0], 0.0);
    assert!(e.mean_dim(0, false).unwrap().item().unwrap().is_nan());
    // (2,0) summed over its empty dim -> [0, 0]; over dim 0 -> shape (0,).
    let e2 = TensorData::zeros([2, 0], DType::F32);
    assert_tensor(&e2.sum_dim(1, false).unwrap(), &[2], &[0.0, 0.0], 0.0);
    assert_tensor(&e2.sum_dim(1, true).unwrap(), &[2, 1], &[0.0, 0.0], 0.0);
    assert_tensor(&e2.sum_dim(0, false).unwrap(), &[0], &[], 0.0);
    assert_tensor(&e2.prod_dim(1, false).unwrap(), &[2], &[1.0, 1.0], 0.0);
    let m = vals(&e2.mean_dim(1, false).unwrap());
    assert!(m.len() == 2 && m.iter().all(|x| x.is_nan()), "{m:?}");
    // (0,3) over dim 0 -> [0,0,0] (the non-last-dim path).
    let e3 = TensorData::zeros([0, 3], DType::F64);
    assert_tensor(&e3.sum_dim(0, false).unwrap(), &[3], &[0.0; 3], 0.0);
    assert_tensor(&e3.sum_dim(0, true).unwrap(), &[1, 3], &[0.0; 3], 0.0);
    // max/min of an empty tensor have no identity: an error, not a panic.
    for r in [e.max(), e.min(), e2.max(), e.argmax(0, false), e.argmin(0, false)] {
        let err = r.unwrap_err();
        assert!(matches!(err, Error::InvalidArgument { .. }), "{err:?}");
        assert!(err.to_string().contains("empty"), "{err}");
    }
    assert_eq!(e.max().unwrap_err().op(), "max");
    assert_eq!(e.min().unwrap_err().op(), "min");
    // Reducing an empty dim with max is an error; reducing a non-empty dim of an empty
    // tensor gives an empty result (PyTorch: "Expected reduction dim 0 to have non-zero size").
    assert!(e3.max_dim(0, false).is_err());
    assert!(e3.argmax(0, false).is_err());
    let (m, i) = e3.max_dim(1, false).unwrap();
    assert_eq!((m.dims(), i.dims()), (&[0][..], &[0][..]));
    assert_eq!(e3.argmin(1, true).unwrap().dims(), &[0, 1]);
    // logsumexp of nothing is log(0) = -inf (PyTorch).
    assert_tensor(&e.logsumexp(0, false).unwrap(), &[], &[f64::NEG_INFINITY], 0.0);
    assert_tensor(&e2.logsumexp(1, false).unwrap(), &[2], &[f64::NEG_INFINITY; 2], 0.0);
    // softmax of an empty tensor is empty.
    assert_eq!(e2.softmax(1).unwrap().dims(), &[2, 0]);
    assert_eq!(e3.log_softmax(0).unwrap().dims(), &[0, 3]);
}

#[test]
fn dtype_rules() {
    // Bool sums count the trues as i64.
    let b = TensorData::from_vec(vec![true, false, true, true], [2, 2]).unwrap();
    let s = b.sum().unwrap();
    assert_eq!(s.dtype(), DType::I64);
    assert_eq!(s.item().unwrap(), 3.0);
    assert_eq!(b.sum_dim(0, false).unwrap().to_vec::<i64>().unwrap(), vec![2, 1]);
    // i64 sums, products and extrema stay exact.
    let i = i64t(&[3, -1, 4, 1, -5, 9], &[2, 3]);
    assert_eq!(i.sum().unwrap().to_vec::<i64>().unwrap(), vec![11]);
    assert_eq!(i.sum_dim(1, false).unwrap().to_vec::<i64>().unwrap(), vec![6, 5]);
    assert_eq!(i.prod().unwrap().to_vec::<i64>().unwrap(), vec![540]);
    assert_eq!(i.max().unwrap().to_vec::<i64>().unwrap(), vec![9]);
    let (m, idx) = i.min_dim(0, false).unwrap();
    assert_eq!(m.to_vec::<i64>().unwrap(), vec![1, -5, 4]);
    assert_eq!(idx.to_vec::<i64>().unwrap(), vec![1, 1, 0]);
    // mean and the softmax family need floats.
    for e in [i.mean().unwrap_err(), i.mean_dim(0, false).unwrap_err(), i.softmax(0).unwrap_err()] {
        assert!(matches!(e, Error::DTypeMismatch { got: DType::I64, .. }), "{e:?}");
    }
    assert!(matches!(i.log_softmax(1).unwrap_err(), Error::DTypeMismatch { .. }));
    assert!(matches!(i.logsumexp(1, false).unwrap_err(), Error::DTypeMismatch { .. }));
    // f32 results stay f32.
    let f = f32t(&[1.0, 2.0], &[2]);
    for t in [f.sum().unwrap(), f.mean().unwrap(), f.softmax(0).unwrap(), f.max_dim(0, false).unwrap().0] {
        assert_eq!(t.dtype(), DType::F32);
    }
}

#[test]
fn f32_sum_of_many_values_beats_a_running_sum() {
    // 10_000 copies of 0.1f32: the exact sum of the f32 value 0.1f32 is 1000.0000149...
    // A single running f32 sum drifts by ~0.1 here (computed below); the documented
    // 8-accumulator sum must do clearly better.
    let x = TensorData::full([10_000], 0.1, DType::F32);
    let s = x.sum().unwrap().item().unwrap();
    let exact = 10_000.0 * (0.1f32 as f64);
    let naive = (0..10_000).fold(0f32, |a, _| a + 0.1f32) as f64;
    assert!((naive - exact).abs() > 0.05, "the naive sum drifts: {naive}");
    assert!((s - exact).abs() < (naive - exact).abs() / 4.0, "{s} vs {exact} (naive {naive})");
    assert!((s - exact).abs() < 0.02, "{s} vs {exact}");
}

#[test]
fn logsumexp_values() {
    // logsumexp([0, 0]) = ln 2; ([1, 2, 3]) = 3 + ln(1 + e^-1 + e^-2).
    let x = f64t(&[0.0, 0.0, 1.0, 2.0], &[2, 2]);
    let want1 = [2f64.ln(), 2.0 + (1.0 + (-1f64).exp()).ln()];
    assert_tensor(&x.logsumexp(1, false).unwrap(), &[2], &want1, 1e-15);
    assert_tensor(&x.logsumexp(-1, true).unwrap(), &[2, 1], &want1, 1e-15);
    // Large magnitudes stay finite: logsumexp([1000, 1000]) = 1000 + ln 2.
    let big = f32t(&[1000.0, 1000.0, -1000.0, -1000.0], &[2, 2]);
    assert_close(&vals(&big.logsumexp(1, false).unwrap()), &[1000.0 + 2f64.ln(), -1000.0 + 2f64.ln()], 1e-6);
    // Infinite lanes: all -inf -> -inf; any +inf -> +inf; a -inf entry contributes nothing.
    let inf =
        f64t(&[f64::NEG_INFINITY, f64::NEG_INFINITY, f64::INFINITY, 0.0, f64::NEG_INFINITY, 0.0], &[3, 2]);
    assert_tensor(&inf.logsumexp(1, false).unwrap(), &[3], &[f64::NEG_INFINITY, f64::INFINITY, 0.0], 0.0);
    // Every dim of a 3-D input against the naive log(sum(exp)) (values are small).
    for (t, v, dims) in inputs() {
        let nd = dims.len() as isize;
        for dim in -nd..nd {
            let d = if dim < 0 { (dim + nd) as usize } else { dim as usize };
            let (want, shape) = ref_reduce(&v, &dims, d, |l| l.iter().map(|x| x.exp()).sum::<f64>().ln());
            assert_tensor(&t.logsumexp(dim, false).unwrap(), &shape, &want, 1e-12);
            assert_tensor(&t.logsumexp(dim, true).unwrap(), &kept(&dims, d), &want, 1e-12);
        }
    }
}

#[test]
fn softmax_hand_values() {
    // exp values 1, 2, 3 (x = [0, ln 2, ln 3]) -> softmax = [1/6, 2/6, 3/6].
    let x = f64t(&[0.0, 2f64.ln(), 3f64.ln()], &[3]);
    assert_tensor(&x.softmax(0).unwrap(), &[3], &[1.0 / 6.0, 1.0 / 3.0, 0.5], 1e-15);
    assert_tensor(&x.log_softmax(-1).unwrap(), &[3], &[-(6f64.ln()), -(3f64.ln()), -(2f64.ln())], 1e-15);
    // Shift invariance with magnitude 1e4: the same answer, no overflow, in f32 too.
    let big = f32t(&[1e4, 1e4 + 2f32.ln(), 1e4 + 3f32.ln()], &[3]);
    let s = vals(&big.softmax(0).unwrap());
    assert!(s.iter().all(|v| v.is_finite()));
    // 1e4 + ln 2 rounds in f32 (spacing ~1e-3), so compare loosely.
    assert_close(&s, &[1.0 / 6.0, 1.0 / 3.0, 0.5], 2e-3);
    let neg = f64t(&[-1e4, -1e4], &[2]);
    assert_tensor(&neg.softmax(0).unwrap(), &[2], &[0.5, 0.5], 1e-15);
    assert_tensor(&neg.log_softmax(0).unwrap(), &[2], &[-(2f64.ln()); 2], 1e-12);
    // A -inf entry gets probability 0 and log-probability -inf.
    let m = f64t(&[0.0, f64::NEG_INFINITY, 0.0], &[3]);
    assert_tensor(&m.softmax(0).unwrap(), &[3], &[0.5, 0.0, 0.5], 1e-15);
    assert_tensor(&m.log_softmax(0).unwrap(), &[3], &[-(2f64.ln()), f64::NEG_INFINITY, -(2f64.ln())], 1e-15);
    // An all -inf row is NaN in PyTorch (0/0).
    let all = f64t(&[f64::NEG_INFINITY; 2], &[2]);
    assert!(vals(&all.softmax(0).unwrap()).iter().all(|v| v.is_nan()));
    assert!(vals(&all.log_softmax(0).unwrap()).iter().all(|v| v.is_nan()));
}

#[test]
fn softmax_backward_hand_values_and_layouts() {
    // y = softmax([0, ln 2, ln 3]) = [1/6, 1/3, 1/2]; for g = e_2 the gradient is the Jacobian's
    // row 2, dy_2/dx_j = y_2 (delta_2j - y_j) = [-1/12, -1/6, 1/4] (fused row kernel, f64, f32).
    let y = f64t(&[1.0 / 6.0, 1.0 / 3.0, 0.5], &[1, 3]);
    let g = f64t(&[0.0, 0.0, 1.0], &[1, 3]);
    let want = [-1.0 / 12.0, -1.0 / 6.0, 0.25];
    assert_tensor(&TensorData::softmax_backward(&y, &g, -1).unwrap(), &[1, 3], &want, 1e-16);
    let (y32, g32) = (y.to_dtype(DType::F32), g.to_dtype(DType::F32));
    assert_tensor(&TensorData::softmax_backward(&y32, &g32, 1).unwrap(), &[1, 3], &want, 1e-7);
    // The same along dim 0 of the transposes (the op-by-op path).
    let d0 = TensorData::softmax_backward(&y.t().unwrap(), &g.t().unwrap(), 0).unwrap();
    assert_tensor(&d0, &[3, 1], &want, 1e-16);
    // Rows of 40 over 3000 rows (threads, f32): every row of dx sums to 0 (the rows of y sum to
    // 1 whatever x is), g constant along a row gives 0, and the fused result agrees with the
    // op-by-op one computed on the transposed layout.
    let (rows, n) = (3000usize, 40usize);
    let x: Vec<f32> = (0..rows * n).map(|i| ((i * 7919) % 1013) as f32 / 101.0 - 5.0).collect();
    let y = TensorData::from_vec(x, [rows, n]).unwrap().softmax(1).unwrap();
    let g: Vec<f32> = (0..rows * n).map(|i| ((i * 6007) % 997) as f32 / 99.0 - 5.0).collect();
    let g = TensorData::from_vec(g, [rows, n]).unwrap();
    let dx = vals(&TensorData::softmax_backward(&y, &g, -1).unwrap());
    for (r, row) in dx.chunks(n).enumerate() {
        let (sum, mag) = (row.iter().sum::<f64>(), row.iter().map(|v| v.abs()).sum::<f64>());
        assert!(sum.abs() <= 1e-6 * mag.max(1.0), "row {r}: sum {sum}");
    }
    let flat = TensorData::from_vec(vec![2.5f32; rows * n], [rows, n]).unwrap();
    assert!(vals(&TensorData::softmax_backward(&y, &flat, 1).unwrap()).iter().all(|v| v.abs() <= 1e-6));
    let (yt, gt) = (y.t().unwrap().contiguous().t().unwrap(), g.t().unwrap().contiguous().t().unwrap());
    let op_by_op = vals(&TensorData::softmax_backward(&yt, &gt, 1).unwrap());
    assert_close(&dx, &op_by_op, 1e-5);
}

#[test]
fn log_softmax_backward_hand_values_and_layouts() {
    // y = log_softmax([0, ln 2, ln 3]) = -[ln 6, ln 3, ln 2], softmax = e^y = [1/6, 1/3, 1/2];
    // for g = e_0, dx = g - e^y sum(g) = [5/6, -1/3, -1/2] (fused row kernel, f64 and f32).
    let y = f64t(&[-(6f64.ln()), -(3f64.ln()), -(2f64.ln())], &[1, 3]);
    let g = f64t(&[1.0, 0.0, 0.0], &[1, 3]);
    let want = [5.0 / 6.0, -1.0 / 3.0, -0.5];
    assert_tensor(&TensorData::log_softmax_backward(&y, &g, -1).unwrap(), &[1, 3], &want, 1e-15);
    let (y32, g32) = (y.to_dtype(DType::F32), g.to_dtype(DType::F32));
    assert_tensor(&TensorData::log_softmax_backward(&y32, &g32, 1).unwrap(), &[1, 3], &want, 1e-7);
    // Along dim 0 of the transpose (op by op): the same values.
    let d0 = TensorData::log_softmax_backward(&y.t().unwrap(), &g.t().unwrap(), 0).unwrap();
    assert_tensor(&d0, &[3, 1], &want, 1e-15);
    // Rows of 40 over 3000 rows and of 517 over 300 (threads; f32 and f64): g constant along a
    // row, c, gives c (1 - n e^y), the fused rows give the bits of the formula op by op, and the
    // strided layout (op by op, columns summed in another order) agrees.
    for (rows, n) in [(3000usize, 40usize), (300, 517)] {
        for dtype in [DType::F32, DType::F64] {
            let x: Vec<f64> = (0..rows * n).map(|i| ((i * 7919) % 1013) as f64 / 101.0 - 5.0).collect();
            let y = TensorData::from_vec(x, [rows, n]).unwrap().to_dtype(dtype).log_softmax(1).unwrap();
            let g: Vec<f64> = (0..rows * n).map(|i| ((i * 6007) % 997) as f64 / 99.0 - 5.0).collect();
            let g = TensorData::from_vec(g, [rows, n]).unwrap().to_dtype(dtype);
            let dx = TensorData::log_softmax_backward(&y, &g, -1).unwrap();
            let formula = g.sub(&y.exp().unwrap().mul(&g.sum_dim(1, true).unwrap()).unwrap()).unwrap();
            let bits = |t: &TensorData| vals(t).iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&dx), bits(&formula), "{rows}x{n} {dtype}");
            let flat = TensorData::full([rows, n], 2.5, dtype);
            let want: Vec<f64> = vals(&y).iter().map(|&y| 2.5 * (1.0 - n as f64 * y.exp())).collect();
            let tol = if dtype == DType::F32 { 1e-3 } else { 1e-9 };
            assert_close(&vals(&TensorData::log_softmax_backward(&y, &flat, 1).unwrap()), &want, tol);
            let (yt, gt) =
                (y.t().unwrap().contiguous().t().unwrap(), g.t().unwrap().contiguous().t().unwrap());
            let op_by_op = vals(&TensorData::log_softmax_backward(&yt, &gt, 1).unwrap());
            assert_close(&vals(&dx), &op_by_op, tol);
        }
    }
}

#[test]
fn softmax_every_dim_against_reference() {
    for (t, v, dims) in inputs() {
        let nd = dims.len() as isize;
        for dim in -nd..nd {
            let d = if dim < 0 { (dim + nd) as usize } else { dim as usize };
            // Naive: exp(x) / sum over the lane of exp, for every element.
            let n: usize = dims.iter().product();
            let mut want = vec![0.0; n];
            for (flat, w) in want.iter_mut().enumerate() {
                let idx = unravel(flat, &dims);
                let denom: f64 = (0..dims[d])
                    .map(|k| {
                        let mut j = idx.clone();
                        j[d] = k;
                        v[ravel(&j, &dims)].exp()
                    })
                    .sum();
                *w = v[flat].exp() / denom;
            }
            let sm = t.softmax(dim).unwrap();
            assert_tensor(&sm, &dims, &want, 1e-12);
            let lw: Vec<f64> = want.iter().map(|p| p.ln()).collect();
            assert_tensor(&t.log_softmax(dim).unwrap(), &dims, &lw, 1e-12);
            // Probabilities along the dim sum to 1.
            let ones = vals(&sm.sum_dim(dim, false).unwrap());
            assert!(ones.iter().all(|s| (s - 1.0).abs() < 1e-12), "{ones:?}");
        }
    }
}

#[test]
fn softmax_of_non_contiguous_input() {
    // x^T of [[0, ln 3], [0, 0]] = [[0, 0], [ln 3, 0]]; softmax over dim 1:
    // row 0 -> [1/2, 1/2]; row 1 -> [3/4, 1/4].
    let x = f64t(&[0.0, 3f64.ln(), 0.0, 0.0], &[2, 2]).t().unwrap();
    assert_tensor(&x.softmax(1).unwrap(), &[2, 2], &[0.5, 0.5, 0.75, 0.25], 1e-15);
    // over dim 0: column 0 [0, ln3] -> [1/4, 3/4]; column 1 [0, 0] -> [1/2, 1/2]
    assert_tensor(&x.softmax(0).unwrap(), &[2, 2], &[0.25, 0.5, 0.75, 0.5], 1e-15);
}

#[test]
fn softmax_outputs_in_recycled_buffers_hold_no_stale_values() {
    // softmax/log_softmax outputs of 128 KiB or more reuse freed buffers without clearing
    // them; each round frees its results, and the next must still match the definition
    // (computed here in f64): log_softmax = x - max - ln(sum(exp(x - max))).
    // Rows of 10 f32 (AVX2 lane kernel), 200 f32 (portable kernel), 100 f64.
    for (rows, c, dtype) in [(4000, 10, DType::F32), (200, 200, DType::F32), (200, 100, DType::F64)] {
        for round in 0..3u64 {
            let x = TensorData::randn_with([rows, c], dtype, &mut Generator::new(90 + round)).unwrap();
            let xv = vals(&x);
            let mut want_log = Vec::with_capacity(xv.len());
            for row in xv.chunks(c) {
                let m = row.iter().fold(f64::MIN, |a, &b| a.max(b));
                let l = row.iter().map(|&v| (v - m).exp()).sum::<f64>().ln();
                want_log.extend(row.iter().map(|&v| v - m - l));
            }
            let want: Vec<f64> = want_log.iter().map(|v| v.exp()).collect();
            assert_close(&vals(&x.log_softmax(1).unwrap()), &want_log, 1e-5);
            assert_close(&vals(&x.softmax(1).unwrap()), &want, 1e-5);
        }
    }
}

/// The bits of f32 values (denormals compared exactly, by their integer patterns).
fn bits(t: &TensorData) -> Vec<u32> {
    t.to_vec::<f32>().unwrap().iter().map(|v| v.to_bits()).collect()
}

#[test]
fn softmax_keeps_denormal_probabilities_like_pytorch() {
    // Issue 21: the vectorised exp flushed results below e^-87 to 0, so softmax([0, -100, -90])
    // was [1, 0, 0]. PyTorch 2.9.1:
    //   torch.tensor([0., -100., -90.]).softmax(0)
    //   -> [1.0, 3.783505853677006e-44, 8.194008692231508e-40]   (bits 27 and 584744)
    //   .log_softmax(0) -> [0., -100., -90.]
    let x = f32t(&[0.0, -100.0, -90.0], &[1, 3]);
    assert_eq!(bits(&x.softmax(1).unwrap()), [1.0f32.to_bits(), 27, 584744]);
    assert_eq!(x.softmax(1).unwrap().to_vec::<f32>().unwrap()[1], 3.78e-44); // 27 * 2^-149
    assert_eq!(x.log_softmax(1).unwrap().to_vec::<f32>().unwrap(), [0.0, -100.0, -90.0]);
    // Eight rows of 3 (on AVX2 machines: the lane kernels, eight rows per vector), the same
    // rows along dim 0 (strided lanes), and a row of 20 (the portable kernel). PyTorch:
    //   rows = torch.tensor([[0,-100,-90],[0,-88,-95],[0,-103,-103.97],[-1,-101,-50],
    //                        [5,-95,-98.5],[0,-87.3,-104.5],[-2,-2,-99],[0,-89.5,-93.25]])
    //   rows.softmax(1).view(torch.int32)
    let rows = f32t(
        &[
            0.0, -100.0, -90.0, 0.0, -88.0, -95.0, 0.0, -103.0, -103.97, -1.0, -101.0, -50.0, 5.0, -95.0,
            -98.5, 0.0, -87.3, -104.5, -2.0, -2.0, -99.0, 0.0, -89.5, -93.25,
        ],
        &[8, 3],
    );
    let want: [[u32; 3]; 8] = [
        [1065353216, 27, 584744],
        [1065353216, 4320708, 3940],
        [1065353216, 1, 1],
        [1065353216, 27, 471758045],
        [1065353216, 27, 1],
        [1065353216, 8700811, 0],
        [1056964608, 1056964608, 266],
        [1065353216, 964080, 22673],
    ];
    let want: Vec<u32> = want.iter().flatten().copied().collect();
    assert_eq!(bits(&rows.softmax(1).unwrap()), want);
    assert_eq!(bits(&rows.softmax(-1).unwrap().contiguous()), want);
    let by_columns = rows.t().unwrap().contiguous().softmax(0).unwrap(); // [3, 8], strided lanes
    assert_eq!(bits(&by_columns.t().unwrap().contiguous()), want);
    // torch.tensor([0.] + [-100. - i for i in range(19)]).softmax(0).view(torch.int32)
    let long: Vec<f32> = std::iter::once(0.0).chain((0..19).map(|i| -100.0 - i as f32)).collect();
    let mut want_long = vec![1065353216u32, 27, 10, 4, 1];
    want_long.resize(20, 0);
    assert_eq!(bits(&f32t(&long, &[1, 20]).softmax(1).unwrap()), want_long);
    // log_softmax is unaffected by the denormals (PyTorch: rows.log_softmax(1)).
    let ls = rows.log_softmax(1).unwrap().to_vec::<f32>().unwrap();
    assert_eq!(&ls[..6], &[0.0, -100.0, -90.0, 0.0, -88.0, -95.0]);
    assert_eq!(
        &ls[18..],
        &[-std::f32::consts::LN_2, -std::f32::consts::LN_2, -97.693146, 0.0, -89.5, -93.25]
    );
}

#[test]
fn cross_entropy_statistics_keep_denormal_probabilities_like_pytorch() {
    // The row statistics and gradient kernels of cross-entropy (vmath::row_stats,
    // softmax_from_stats, ce_grad_index). PyTorch 2.9.1, with `rows` as in the test above and
    //   t = torch.tensor([0, 0, 0, 2, 0, 0, 1, 0])
    //   F.cross_entropy(rows, t, reduction='sum').backward(); rows.grad.view(torch.int32)
    // -> [[0, 27, 584744], [0, 4320708, 3940], [0, 1, 1], [1065353216, 27, -1082130432],
    //     [0, 27, 1], [0, 8700811, 0], [1056964608, -1090519040, 267], [0, 964080, 22673]]
    // (-1082130432 is -1.0 and -1090519040 is -0.5 as i32 bit patterns.)
    use torchlet_tensor_core::vmath;
    let x: Vec<f32> = vec![
        0.0, -100.0, -90.0, 0.0, -88.0, -95.0, 0.0, -103.0, -103.97, -1.0, -101.0, -50.0, 5.0, -95.0, -98.5,
        0.0, -87.3, -104.5, -2.0, -2.0, -99.0, 0.0, -89.5, -93.25,
    ];
    let t = [0i64, 0, 0, 2, 0, 0, 1, 0];
    let stats = vmath::RowStats::of(&x, 3);
    let mut sm = vec![0.0f32; 24];
    vmath::softmax_from_stats(&x, 3, &stats, &mut sm);
    let targets = vmath::ClassTargets { targets: &t, ignore_index: -100, weight: &[] };
    let g = vmath::ce_grad_index(&x, 3, &stats, &targets, &[1.0]);
    let want: [[i32; 3]; 8] = [
        [0, 27, 584744],
        [0, 4320708, 3940],
        [0, 1, 1],
        [1065353216, 27, -1082130432],
        [0, 27, 1],
        [0, 8700811, 0],
        [1056964608, -1090519040, 267],
        [0, 964080, 22673],
    ];
    let want: Vec<u32> = want.iter().flatten().map(|&b| b as u32).collect();
    let got: Vec<u32> = g.iter().map(|v| v.to_bits()).collect();
    assert_eq!(got, want);
    // softmax from the statistics is exp(log_softmax): the same denormals as the gradient
    // where the target's 1 is not subtracted (PyTorch's exp(log_softmax) has 267, not
    // softmax's 266, in row 6 too).
    let sm_bits: Vec<u32> = sm.iter().map(|v| v.to_bits()).collect();
    assert_eq!(&sm_bits[..3], &[1.0f32.to_bits(), 27, 584744]);
    assert_eq!(sm_bits[20], 267);
}

/// Two-pass unbiased variance of a lane, in f64 (the textbook definition).
fn lane_var(l: &[f64]) -> f64 {
    let m = l.iter().sum::<f64>() / l.len() as f64;
    l.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (l.len() as f64 - 1.0)
}

#[test]
fn variance_over_a_strided_dim_matches_the_two_pass_definition() {
    // Large enough to take the one-pass, multi-threaded column kernel; columns with a large
    // offset (1e4 + noise: the shifted sums must not cancel), constant columns (exactly 0),
    // and columns holding a NaN or an infinity (NaN, as in PyTorch).
    let (rows, cols) = (3000, 40);
    let noise = vals(&randn(&[rows, cols], 7));
    let mut v: Vec<f64> = (0..rows * cols)
        .map(|i| match i % cols {
            0 => 2.5,
            1 => 1e4 + noise[i],
            _ => noise[i] * (i % cols) as f64,
        })
        .collect();
    v[17 * cols + 2] = f64::NAN;
    v[5 * cols + 3] = f64::INFINITY;
    for t in [f64t(&v, &[rows, cols]), f32t(&v.iter().map(|&x| x as f32).collect::<Vec<_>>(), &[rows, cols])]
    {
        let got = vals(&t.var_dims(&0.into(), 1.0, false).unwrap());
        let lanes = vals(&t); // the values as stored (f32-rounded for the f32 tensor)
        for (j, &g) in got.iter().enumerate() {
            let lane: Vec<f64> = (0..rows).map(|r| lanes[r * cols + j]).collect();
            let want = lane_var(&lane);
            if want.is_nan() {
                assert!(g.is_nan(), "column {j}: {g}, want NaN");
            } else {
                let tol = if t.dtype() == DType::F32 { 2e-6 } else { 1e-12 };
                assert!((g - want).abs() <= tol * want.abs(), "column {j}: {g} vs {want}");
            }
        }
        assert_eq!(got[0], 0.0);
        // The middle dim of (2, rows / 2, cols): two blocks of strided lanes.
        let half = rows / 2;
        let got = vals(
            &t.reshape([2, half as isize, cols as isize]).unwrap().var_dims(&1.into(), 1.0, false).unwrap(),
        );
        for (i, &g) in got.iter().enumerate() {
            let (o, j) = (i / cols, i % cols);
            let want = lane_var(&(0..half).map(|r| lanes[(o * half + r) * cols + j]).collect::<Vec<_>>());
            let tol = if t.dtype() == DType::F32 { 2e-6 } else { 1e-12 };
            assert!(
                want.is_nan() && g.is_nan() || (g - want).abs() <= tol * want.abs(),
                "block {o} column {j}: {g} vs {want}"
            );
        }
    }
}

/// The first index of the lane's extreme (of its first NaN if it holds one), by definition.
fn first_extreme(l: &[f64], max: bool) -> usize {
    if let Some(i) = l.iter().position(|x| x.is_nan()) {
        return i;
    }
    let mut best = 0;
    for (i, &x) in l.iter().enumerate() {
        if (max && x > l[best]) || (!max && x < l[best]) {
            best = i;
        }
    }
    best
}

#[test]
fn large_reductions_take_the_vector_and_threaded_paths() {
    // Shapes whose lanes are longer than the kernels' 16 partial results (and not a multiple
    // of 16), strided blocks wider than their 512-column runs, tensors above the 65,536
    // values that split work across threads (one matrix's blocks of 128 rows, or the
    // matrices of the outer indices), and one lane of 70,001 values (split into chunks):
    // max/min, the first index of each, prod and cumsum against the definitions lane by lane. Values are small integers, so ties fall in different partial results
    // (the first index must still win), and products stay exact in f64; a copy has NaNs.
    let mut g = Generator::new(7);
    for dims in [vec![3, 1030, 37], vec![70_001], vec![2, 5, 700], vec![1030, 70]] {
        let n: usize = dims.iter().product();
        let u = TensorData::rand_with(&dims, DType::F64, &mut g).unwrap();
        let base: Vec<f64> = vals(&u).iter().map(|x| (x * 9.0).floor() - 4.0).collect();
        let mut with_nan = base.clone();
        for i in (5..n).step_by(n / 7 + 3) {
            with_nan[i] = f64::NAN;
        }
        for v in [base, with_nan] {
            for dt in [DType::F32, DType::F64, DType::I64] {
                if dt == DType::I64 && v.iter().any(|x| x.is_nan()) {
                    continue;
                }
                let t = f64t(&v, &dims).to_dtype(dt);
                for d in 0..dims.len() {
                    let (mx, shape) = ref_reduce(&v, &dims, d, |l| l[first_extreme(l, true)]);
                    let (amx, _) = ref_reduce(&v, &dims, d, |l| first_extreme(l, true) as f64);
                    let (mn, _) = ref_reduce(&v, &dims, d, |l| l[first_extreme(l, false)]);
                    let (amn, _) = ref_reduce(&v, &dims, d, |l| first_extreme(l, false) as f64);
                    let (m, i) = t.max_dim(d as isize, false).unwrap();
                    assert_eq!((m.dims(), m.dtype()), (&shape[..], dt));
                    let same = |a: &[f64], b: &[f64]| {
                        a.iter().zip(b).all(|(x, y)| x == y || (x.is_nan() && y.is_nan()))
                    };
                    assert!(same(&vals(&m), &mx), "max {dims:?} dim {d} {dt:?}");
                    assert_eq!(vals(&i), amx, "argmax {dims:?} dim {d} {dt:?}");
                    let (m, i) = t.min_dim(d as isize, false).unwrap();
                    assert!(same(&vals(&m), &mn), "min {dims:?} dim {d} {dt:?}");
                    assert_eq!(vals(&i), amn, "argmin {dims:?} dim {d} {dt:?}");
                    // Products of up to 1,030 values in [-4, 4]: f64 keeps them exact only
                    // when short, so compare relatively; i64 products wrap.
                    if dt == DType::I64 {
                        let (p, _) = ref_reduce(&v, &dims, d, |l| {
                            l.iter().fold(1i64, |p, &x| p.wrapping_mul(x as i64)) as f64
                        });
                        let got: Vec<f64> = t
                            .prod_dim(d as isize, false)
                            .unwrap()
                            .to_vec::<i64>()
                            .unwrap()
                            .iter()
                            .map(|&x| x as f64)
                            .collect();
                        assert_eq!(got, p, "prod {dims:?} dim {d}");
                    } else if dt == DType::F64 {
                        let (p, _) = ref_reduce(&v, &dims, d, lane_prod);
                        let got = vals(&t.prod_dim(d as isize, false).unwrap());
                        for (a, b) in got.iter().zip(&p) {
                            assert!(
                                a == b || (a - b).abs() <= 1e-12 * b.abs() || (a.is_nan() && b.is_nan()),
                                "prod {dims:?} dim {d}: {a} vs {b}"
                            );
                        }
                    }
                    // Running sums: in f64 lane by lane, rounded to the dtype (exact here).
                    let c = vals(&t.cumsum(d as isize).unwrap());
                    let mut lane_dims = dims.clone();
                    lane_dims[d] = 1;
                    for lane in 0..n / dims[d] {
                        let mut idx = unravel(lane, &lane_dims);
                        let mut want = 0.0;
                        for k in 0..dims[d] {
                            idx[d] = k;
                            let at = ravel(&idx, &dims);
                            want += v[at];
                            let got = c[at];
                            assert!(
                                got == want || (got.is_nan() && want.is_nan()),
                                "cumsum {dims:?} dim {d} at {idx:?}: {got} vs {want}"
                            );
                        }
                    }
                }
                let all_max = v.iter().fold(f64::NEG_INFINITY, |m, &x| {
                    if x.is_nan() || m.is_nan() {
                        f64::NAN
                    } else {
                        m.max(x)
                    }
                });
                let got = t.max().unwrap().item().unwrap();
                assert!(got == all_max || (got.is_nan() && all_max.is_nan()), "max() {dims:?} {dt:?}");
                let all_min =
                    v.iter().fold(
                        f64::INFINITY,
                        |m, &x| if x.is_nan() || m.is_nan() { f64::NAN } else { m.min(x) },
                    );
                let got = t.min().unwrap().item().unwrap();
                assert!(got == all_min || (got.is_nan() && all_min.is_nan()), "min() {dims:?} {dt:?}");
            }
        }
    }
}

#[test]
fn extremes_keep_the_sign_of_the_zero_they_report() {
    // max over [-0.0, 0.0, ...]: the first maximal value is -0.0 at index 0, whichever of the
    // partial results held which zero; the value reported is the element at the index.
    let mut v = vec![-1.0f32; 40];
    v[0] = -0.0;
    v[17] = 0.0;
    v[33] = 0.0;
    let t = f32t(&v, &[40]);
    let (m, i) = t.max_dim(0, false).unwrap();
    assert_eq!(i.item().unwrap(), 0.0);
    assert!(m.to_vec::<f32>().unwrap()[0].is_sign_negative());
    let w: Vec<f32> = v.iter().map(|&x| if x == 0.0 { x } else { 1.0 }).collect();
    let (m, i) = f32t(&w, &[40]).min_dim(0, false).unwrap();
    assert_eq!((i.item().unwrap(), m.to_vec::<f32>().unwrap()[0].is_sign_negative()), (0.0, true));
}

#[test]
fn strided_softmax_lanes_match_the_f64_definition() {
    // softmax over a leading or middle dim walks whole rows of each (n, inner) matrix where
    // they hold 64 values or more (the column maxima, the exponentials, the column sums in
    // blocks of 128 rows, the scaling), and transposes narrower lanes into rows for the row
    // kernel: each lane against the f64 definition, exp(x - max) / sum(exp(x - max)) and for
    // log_softmax (x - max) - ln sum. Columns: lanes shorter and longer than a block (2, 300,
    // 301), one matrix split across threads (300 x 257 = 77,100 values), several small
    // matrices split among the threads whole (4 x 301 x 70 = 84,280; 33 x 2 x 1031 =
    // 68,046). Transposes: widths 45 and 15, across threads (2 x 700 x 50 = 70,000). And a
    // width of 1 in the middle (rows). f32 within 1e-6 relative plus the rounding of x - max
    // (|x - max| eps / 2, which moves its exponential by as much), f64 within 1e-13.
    let shapes = [
        (vec![70, 45], 0),
        (vec![3, 70, 45], 1),
        (vec![33, 2, 1031], 1),
        (vec![300, 257], 0),
        (vec![4, 301, 70], 1),
        (vec![2, 700, 50], 1),
        (vec![4, 301, 1], 1),
        (vec![2, 3, 5], 0),
    ];
    for (dims, d) in shapes {
        for dtype in [DType::F32, DType::F64] {
            let x = randn(&dims, 21).to_dtype(dtype);
            let v = vals(&x);
            let n: usize = dims.iter().product();
            let (mut want, mut want_log) = (vec![0.0; n], vec![0.0; n]);
            for flat in 0..n {
                let idx = unravel(flat, &dims);
                let lane: Vec<f64> = (0..dims[d])
                    .map(|k| {
                        let mut j = idx.clone();
                        j[d] = k;
                        v[ravel(&j, &dims)]
                    })
                    .collect();
                let m = lane.iter().fold(f64::MIN, |a, &b| a.max(b));
                let s: f64 = lane.iter().map(|&l| (l - m).exp()).sum();
                (want[flat], want_log[flat]) = ((v[flat] - m).exp() / s, (v[flat] - m) - s.ln());
            }
            let (sm, ls) = (vals(&x.softmax(d as isize).unwrap()), vals(&x.log_softmax(d as isize).unwrap()));
            for k in 0..n {
                let (tol, ltol) = match dtype {
                    DType::F32 => {
                        ((1e-6 + want_log[k].abs() * 6e-8) * want[k], 2e-6 * (1.0 + want_log[k].abs()))
                    }
                    _ => (1e-13 * want[k], 1e-13 * (1.0 + want_log[k].abs())),
                };
                assert!(
                    (sm[k] - want[k]).abs() <= tol,
                    "{dims:?} dim {d} {dtype} [{k}]: {} vs {}",
                    sm[k],
                    want[k]
                );
                assert!(
                    (ls[k] - want_log[k]).abs() <= ltol,
                    "{dims:?} dim {d} {dtype} [{k}] log: {} vs {}",
                    ls[k],
                    want_log[k]
                );
            }
        }
    }
}

#[test]
fn strided_softmax_backward_matches_finite_differences() {
    // The gradients of softmax and log_softmax over a leading or middle dim: for wide matrices
    // (rows of 64 values or more) passes over whole rows, for narrow ones the formula op by
    // op. Checked on sampled lanes against central differences of the f64 definition,
    // d/dx_i sum_j g_j f(x)_j ~ (L(x + h e_i) - L(x - h e_i)) / 2h, h = 1e-5: f64 within 1e-7
    // (L's rounding, ~1e-13 for log_softmax's lanes of 300, over 2h is ~1e-8), f32 within
    // 2e-5 (x and g rounded to f32 first). Shapes: one matrix split across threads
    // (300 x 257), four small ones in turn (4 x 70 x 65), many split among the threads
    // (33 x 2 x 1031), rows of exactly 64 (2 x 3 x 64, lanes of 2), and a narrow one (70 x 45).
    let shapes = [
        (vec![300, 257], 0),
        (vec![4, 70, 65], 1),
        (vec![33, 2, 1031], 1),
        (vec![2, 3, 64], 0),
        (vec![70, 45], 0),
    ];
    for (dims, d) in shapes {
        let n: usize = dims.iter().product();
        let (len, inner) = (dims[d], dims[d + 1..].iter().product::<usize>());
        for dtype in [DType::F64, DType::F32] {
            let x = randn(&dims, 5).to_dtype(dtype);
            let g = randn(&dims, 6).to_dtype(dtype);
            let (xv, gv) = (vals(&x), vals(&g));
            for log in [false, true] {
                let f = |lane: &[f64]| {
                    let m = lane.iter().fold(f64::MIN, |a, &b| a.max(b));
                    let s: f64 = lane.iter().map(|v| (v - m).exp()).sum();
                    lane.iter()
                        .map(|v| if log { (v - m) - s.ln() } else { (v - m).exp() / s })
                        .collect::<Vec<_>>()
                };
                let y = if log { x.log_softmax(d as isize) } else { x.softmax(d as isize) }.unwrap();
                let dx = if log {
                    TensorData::log_softmax_backward(&y, &g, d as isize)
                } else {
                    TensorData::softmax_backward(&y, &g, d as isize)
                };
                let dx = vals(&dx.unwrap());
                // Lanes: the first, the last and a few between (lane k starts at
                // (k / inner) * len * inner + k % inner, its values inner apart).
                let lanes = n / len;
                for k in [0, 1, lanes / 3, lanes / 2 + 1, lanes - 1] {
                    let at: Vec<usize> =
                        (0..len).map(|i| (k / inner) * len * inner + k % inner + i * inner).collect();
                    let (xl, gl): (Vec<f64>, Vec<f64>) = at.iter().map(|&p| (xv[p], gv[p])).unzip();
                    let loss = |xl: &[f64]| f(xl).iter().zip(&gl).map(|(a, b)| a * b).sum::<f64>();
                    let h = 1e-5;
                    for (i, &p) in at.iter().enumerate() {
                        let (mut up, mut down) = (xl.clone(), xl.clone());
                        up[i] += h;
                        down[i] -= h;
                        let want = (loss(&up) - loss(&down)) / (2.0 * h);
                        let tol = if dtype == DType::F64 { 1e-7 } else { 2e-5 };
                        assert!(
                            (dx[p] - want).abs() <= tol * (1.0 + want.abs()),
                            "{dims:?} dim {d} {dtype} log {log} lane {k} [{i}]: {} vs {want}",
                            dx[p]
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn strided_softmax_lanes_with_nan_and_infinities() {
    // Lanes of (4, 5) over dim 0, one per column: a NaN makes its whole lane NaN (and no
    // other); an all -inf lane is NaN (0/0), as an all -inf row; a lane with +inf is NaN
    // (inf - inf), as in PyTorch 2.9.1 (`torch.tensor([inf, 1.]).softmax(0)` is [nan, nan]);
    // -inf among finite values gives probability 0 (log -inf); huge values stay stable.
    let (ni, nan) = (f64::NEG_INFINITY, f64::NAN);
    #[rustfmt::skip]
    let v = [
        0.0, nan, ni, f64::INFINITY, 1e4,
        3f64.ln(), 1.0, ni, 1.0, 1e4,
        0.0, 2.0, ni, 2.0, ni,
        0.0, 3.0, ni, 3.0, 1e4 - 1.0,
    ];
    // Alone (lanes transposed into rows) and as the first 5 of 69 columns (the column
    // kernel), the others finite.
    for (w, dtype) in [(5, DType::F32), (5, DType::F64), (69, DType::F32), (69, DType::F64)] {
        let v: Vec<f64> =
            (0..4 * w).map(|k| if k % w < 5 { v[k / w * 5 + k % w] } else { (k % 7) as f64 }).collect();
        let x = f64t(&v, &[4, w]).to_dtype(dtype);
        let (sm, ls) = (vals(&x.softmax(0).unwrap()), vals(&x.log_softmax(0).unwrap()));
        let col = |t: &[f64], j: usize| (0..4).map(|i| t[i * w + j]).collect::<Vec<f64>>();
        // Column 0: [0, ln 3, 0, 0] -> [1, 3, 1, 1] / 6.
        for (got, want) in col(&sm, 0).iter().zip([1.0 / 6.0, 0.5, 1.0 / 6.0, 1.0 / 6.0]) {
            assert!((got - want).abs() < 1e-6, "{dtype}: {got} vs {want}");
        }
        for j in 1..4 {
            assert!(col(&sm, j).iter().all(|p| p.is_nan()), "{dtype} column {j}: {:?}", col(&sm, j));
            assert!(col(&ls, j).iter().all(|p| p.is_nan()), "{dtype} column {j} log: {:?}", col(&ls, j));
        }
        // Column 4: [1e4, 1e4, -inf, 1e4 - 1] (exact in f32) -> [1, 1, 0, 1/e] / (2 + 1/e).
        let e = (-1.0f64).exp();
        for (got, want) in col(&sm, 4).iter().zip([1.0, 1.0, 0.0, e].map(|p| p / (2.0 + e))) {
            assert!((got - want).abs() < 1e-6, "{dtype}: {got} vs {want}");
        }
        assert_eq!(col(&ls, 4)[2], ni);
        assert!((col(&ls, 4)[0] + (2.0 + e).ln()).abs() < 1e-6);
    }
}

#[test]
fn reductions_over_a_leading_dim_give_the_bits_of_the_same_lanes_as_rows() {
    // logsumexp and vector_norm over dim 0 transpose the lanes into rows and run the row
    // kernels on them: the same numbers, the same kernel, so exactly the bits of the same
    // reduction over the last dim of the transposed tensor. Sizes above the thread threshold
    // (the tiled transposes on every core), odd ones (partial tiles and vectors), f32 and f64,
    // 2-D and 3-D; and the values against an f64 reference.
    for (dims, dtype) in
        [(vec![301, 517], DType::F32), (vec![3, 129, 70], DType::F32), (vec![257, 300], DType::F64)]
    {
        let x = TensorData::randn_with(dims.as_slice(), dtype, &mut Generator::new(11)).unwrap();
        let nd = dims.len();
        let d = nd - 2; // the reduced dim: a leading one, with `dims[nd - 1]` lanes per block
        let mut perm: Vec<isize> = (0..nd as isize).collect();
        perm.swap(nd - 2, nd - 1);
        let xt = x.permute(&perm).unwrap().contiguous(); // the lanes as contiguous rows
        let v = vals(&x);
        let bits = |t: &TensorData| vals(t).iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        let lse = |l: &[f64]| {
            let m = l.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            m + l.iter().map(|x| (x - m).exp()).sum::<f64>().ln()
        };
        let got = x.logsumexp(d as isize, false).unwrap();
        assert_eq!(bits(&got), bits(&xt.logsumexp(-1, false).unwrap()), "logsumexp {dims:?} {dtype}");
        let (want, shape) = ref_reduce(&v, &dims, d, lse);
        assert_tensor(&got, &shape, &want, 1e-5);
        for ord in [2.0, 1.0, 3.0, f64::INFINITY] {
            let got = x.vector_norm(ord, &Dims::from(d as isize), false).unwrap();
            let rows = xt.vector_norm(ord, &Dims::from(-1), false).unwrap();
            assert_eq!(bits(&got), bits(&rows), "vector_norm {ord} {dims:?} {dtype}");
            let norm = |l: &[f64]| match ord {
                f if f.is_infinite() => l.iter().fold(0.0f64, |m, x| m.max(x.abs())),
                p => l.iter().map(|x| x.abs().powf(p)).sum::<f64>().powf(1.0 / p),
            };
            let (want, shape) = ref_reduce(&v, &dims, d, norm);
            let scale = want.iter().cloned().fold(0.0, f64::max);
            assert_tensor(&got, &shape, &want, 1e-6 * scale);
        }
    }
}
