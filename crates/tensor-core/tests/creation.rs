//! Creation (zeros, ones, full, eye, arange, linspace, from_vec), dtype casts, item,
//! isclose/allclose, where, comparisons, clamp and the float unary functions.

mod common;
use common::*;
use torchlet_tensor_core::{DType, Error, Shape, TensorData};

#[test]
fn constant_constructors() {
    let z = TensorData::zeros([2, 3], DType::F32);
    assert_eq!((z.dims(), z.dtype()), (&[2, 3][..], DType::F32));
    assert_eq!(z.to_vec::<f32>().unwrap(), vec![0.0; 6]);
    assert_eq!(TensorData::ones([4], DType::I64).to_vec::<i64>().unwrap(), vec![1; 4]);
    assert_eq!(TensorData::ones([2], DType::Bool).to_vec::<bool>().unwrap(), vec![true; 2]);
    assert_eq!(TensorData::full([2, 2], -1.5, DType::F64).to_vec::<f64>().unwrap(), vec![-1.5; 4]);
    // full casts the value: 2.9 -> 2 in i64 (truncation), 0.5 -> true in bool.
    assert_eq!(TensorData::full([1], 2.9, DType::I64).to_vec::<i64>().unwrap(), vec![2]);
    assert_eq!(TensorData::full([1], 0.5, DType::Bool).to_vec::<bool>().unwrap(), vec![true]);
    // 0-d and empty shapes.
    let s = TensorData::full((), 4.0, DType::F32);
    assert_eq!((s.ndim(), s.numel(), s.item().unwrap()), (0, 1, 4.0));
    assert_eq!(TensorData::zeros([3, 0], DType::F64).numel(), 0);
    // *_like keep shape and dtype.
    let x = iota(&[2, 2]).to_dtype(DType::F32);
    let o = x.ones_like();
    assert_eq!((o.dims(), o.dtype()), (&[2, 2][..], DType::F32));
    assert_eq!(vals(&o), vec![1.0; 4]);
    assert_eq!(vals(&x.zeros_like()), vec![0.0; 4]);
    assert_eq!(x.scalar_like(3.0).dtype(), DType::F32);
}

#[test]
fn eye_matrices() {
    let e = TensorData::eye(3, DType::F64);
    assert_tensor(&e, &[3, 3], &[1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0], 0.0);
    assert_eq!(TensorData::eye(2, DType::I64).to_vec::<i64>().unwrap(), vec![1, 0, 0, 1]);
    assert_eq!(TensorData::eye(0, DType::F32).dims(), &[0, 0]);
    // I @ x = x
    let x = randn(&[3, 2], 3);
    assert_eq!(vals(&e.matmul(&x).unwrap()), vals(&x));
}

#[test]
fn arange_values() {
    assert_tensor(
        &TensorData::arange(0.0, 5.0, 1.0, DType::I64).unwrap(),
        &[5],
        &[0.0, 1.0, 2.0, 3.0, 4.0],
        0.0,
    );
    // 1, 1.25, 1.5, 1.75 (2 is excluded)
    assert_tensor(
        &TensorData::arange(1.0, 2.0, 0.25, DType::F32).unwrap(),
        &[4],
        &[1.0, 1.25, 1.5, 1.75],
        0.0,
    );
    // Negative step: 5, 3, 1
    assert_tensor(&TensorData::arange(5.0, 0.0, -2.0, DType::F64).unwrap(), &[3], &[5.0, 3.0, 1.0], 0.0);
    // ceil((0.3 - 0) / 0.1) = ceil(2.9999999999999996) = 3 elements, like torch.arange(0, 0.3, 0.1).
    let a = TensorData::arange(0.0, 0.3, 0.1, DType::F64).unwrap();
    assert_eq!(a.dims(), &[3]);
    // A non-integer span: ceil((10 - 0) / 3) = 4 -> 0, 3, 6, 9.
    assert_tensor(&TensorData::arange(0.0, 10.0, 3.0, DType::I64).unwrap(), &[4], &[0.0, 3.0, 6.0, 9.0], 0.0);
    // start == end is empty.
    assert_eq!(TensorData::arange(2.0, 2.0, 1.0, DType::F32).unwrap().numel(), 0);
    // Errors: zero / non-finite step, step pointing away from end.
    for (s, e, st) in
        [(0.0, 1.0, 0.0), (0.0, f64::INFINITY, 1.0), (0.0, 1.0, f64::NAN), (0.0, 5.0, -1.0), (5.0, 0.0, 1.0)]
    {
        let err = TensorData::arange(s, e, st, DType::F32).unwrap_err();
        assert!(matches!(err, Error::InvalidArgument { op: "arange", .. }), "{s} {e} {st}: {err:?}");
    }
}

#[test]
fn linspace_values() {
    // PyTorch 2.9.1: torch.linspace(-3, 0, 1000) (float32), the bit patterns of some elements
    // (computed in f32 from both ends; an f64 computation differs by 1 ulp in 219 elements).
    let l = TensorData::linspace(-3.0, 0.0, 1000, DType::F32).to_vec::<f32>().unwrap();
    let torch = [
        (66, 3224588472u32), // these two differ from an f64 computation cast to f32
        (352, 3220746842),
        (1, 3225407180),
        (2, 3225394585),
        (3, 3225381989),
        (250, 3222270899),
        (333, 3221225472),
        (499, 3217043763),
        (500, 3217018573),
        (501, 3216993382),
        (666, 3212836864),
        (997, 3150237192),
        (998, 3141848584),
    ];
    for (i, bits) in torch {
        assert_eq!(l[i].to_bits(), bits, "element {i}");
    }
    assert_eq!((l[0], l[999]), (-3.0, 0.0));
    // torch.linspace(-1, 1, 4, dtype=torch.float64): [-1.0, -0.33333333333333337, 0.33333333333333337, 1.0]
    let l = TensorData::linspace(-1.0, 1.0, 4, DType::F64).to_vec::<f64>().unwrap();
    assert_eq!(l, vec![-1.0, -0.33333333333333337, 0.33333333333333337, 1.0]);
    // step (1 - 0) / 4 = 0.25
    assert_tensor(&TensorData::linspace(0.0, 1.0, 5, DType::F64), &[5], &[0.0, 0.25, 0.5, 0.75, 1.0], 0.0);
    // Decreasing: 2, 1, 0, -1
    assert_tensor(&TensorData::linspace(2.0, -1.0, 4, DType::F32), &[4], &[2.0, 1.0, 0.0, -1.0], 0.0);
    // Endpoints are exact even when the step is not representable: (1 - (-1)) / 6 = 1/3.
    let l = vals(&TensorData::linspace(-1.0, 1.0, 7, DType::F64));
    assert_eq!((l[0], l[6]), (-1.0, 1.0));
    assert_close(&l, &[-1.0, -2.0 / 3.0, -1.0 / 3.0, 0.0, 1.0 / 3.0, 2.0 / 3.0, 1.0], 1e-15);
    // The values are symmetric about the middle: l[i] == -l[6 - i] exactly.
    for i in 0..7 {
        assert_eq!(l[i], -l[6 - i], "{l:?}");
    }
    let tenth = vals(&TensorData::linspace(0.0, 0.3, 4, DType::F64));
    assert_close(&tenth, &[0.0, 0.1, 0.2, 0.3], 1e-15);
    assert_eq!(tenth[3], 0.3);
    assert_tensor(&TensorData::linspace(3.0, 7.0, 1, DType::F64), &[1], &[3.0], 0.0);
    assert_eq!(TensorData::linspace(3.0, 7.0, 0, DType::F64).dims(), &[0]);
}

#[test]
fn from_vec_and_literals() {
    let t = TensorData::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], [2, 3]).unwrap();
    assert_eq!((t.dims(), t.dtype()), (&[2, 3][..], DType::F32));
    let e = TensorData::from_vec(vec![1.0f32; 5], [2, 3]).unwrap_err();
    assert!(matches!(e, Error::InvalidArgument { op: "from_vec", .. }), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains('5') && msg.contains("[2, 3]") && msg.contains('6'), "{msg}");
    // A scalar shape holds exactly one value.
    assert!(TensorData::from_vec(vec![1i64, 2], ()).is_err());
    assert_eq!(TensorData::from_vec(vec![1i64], ()).unwrap().ndim(), 0);
    // Array literals.
    let m = TensorData::from([[1.0f64, 2.0], [3.0, 4.0], [5.0, 6.0]]);
    assert_tensor(&m, &[3, 2], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 0.0);
    let c = TensorData::from([[[1i64, 2]], [[3, 4]]]);
    assert_eq!((c.dims(), c.dtype()), (&[2, 1, 2][..], DType::I64));
    assert_eq!(TensorData::from(vec![true, false]).dtype(), DType::Bool);
    assert_eq!(TensorData::from(2.5f32).ndim(), 0);
}

#[test]
fn from_f64_vec_checks_the_length() {
    // Issue 21: a length that disagreed with the shape panicked (debug) or, in release, made a
    // tensor of shape [2, 2] over 3 values (reading it panicked later; 5 values were silently
    // dropped to 4). Now an error like from_vec's, naming both counts and the shape.
    let ok = TensorData::from_f64_vec(vec![1.0, 2.5, -3.0, 4.0], Shape::new(&[2, 2]), DType::I64).unwrap();
    assert_eq!((ok.dims(), ok.to_vec::<i64>().unwrap()), (&[2, 2][..], vec![1, 2, -3, 4]));
    for n in [3, 5, 0] {
        let e = TensorData::from_f64_vec(vec![1.0; n], Shape::new(&[2, 2]), DType::F32).unwrap_err();
        assert!(matches!(e, Error::InvalidArgument { op: "from_f64_vec", .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            format!("from_f64_vec: {n} elements cannot fill a tensor of shape [2, 2] (4 elements)")
        );
    }
    assert!(TensorData::from_f64_vec(vec![], Shape::new(&[0, 3]), DType::Bool).unwrap().numel() == 0);
}

#[test]
fn dtype_casts() {
    // Floats to i64 truncate toward zero: 1.7 -> 1, -1.7 -> -1, 2.5 -> 2, -0.5 -> 0.
    let f = f32t(&[1.7, -1.7, 2.5, -0.5], &[4]);
    assert_eq!(f.to_dtype(DType::I64).to_vec::<i64>().unwrap(), vec![1, -1, 2, 0]);
    // To bool: non-zero is true (NaN too, like PyTorch).
    let b = f64t(&[0.0, -2.0, f64::NAN, 0.1], &[4]).to_dtype(DType::Bool);
    assert_eq!(b.to_vec::<bool>().unwrap(), vec![false, true, true, true]);
    // Bool to float and int: 1 / 0.
    assert_eq!(b.to_dtype(DType::F32).to_vec::<f32>().unwrap(), vec![0.0, 1.0, 1.0, 1.0]);
    assert_eq!(b.to_dtype(DType::I64).to_vec::<i64>().unwrap(), vec![0, 1, 1, 1]);
    // f64 -> f32 rounds to nearest: 0.1f64 -> 0.1f32; f32 -> f64 is exact.
    let d = f64t(&[0.1, 1e40], &[2]).to_dtype(DType::F32);
    assert_eq!(d.to_vec::<f32>().unwrap(), vec![0.1f32, f32::INFINITY]);
    assert_eq!(f32t(&[0.1], &[1]).to_dtype(DType::F64).to_vec::<f64>().unwrap(), vec![0.1f32 as f64]);
    // i64 -> f64 exact for small values.
    assert_eq!(i64t(&[-3, 7], &[2]).to_dtype(DType::F64).to_vec::<f64>().unwrap(), vec![-3.0, 7.0]);
    // Same dtype is a no-op view; strided inputs cast in logical order.
    let x = iota(&[2, 3]);
    assert!(x.to_dtype(DType::F64).shares_storage(&x));
    assert_eq!(x.t().unwrap().to_dtype(DType::I64).to_vec::<i64>().unwrap(), vec![0, 3, 1, 4, 2, 5]);
    assert_eq!(x.t().unwrap().to_dtype(DType::I64).dims(), &[3, 2]);
}

#[test]
fn item_needs_one_element() {
    assert_eq!(TensorData::scalar(3.5f32).item().unwrap(), 3.5);
    assert_eq!(f64t(&[-2.0], &[1, 1]).item().unwrap(), -2.0);
    assert_eq!(TensorData::scalar(true).item().unwrap(), 1.0);
    assert_eq!(TensorData::scalar(-7i64).item().unwrap(), -7.0);
    for shape in [&[2usize][..], &[0], &[2, 3]] {
        let e = TensorData::zeros(shape, DType::F32).item().unwrap_err();
        assert!(matches!(e, Error::InvalidArgument { op: "item", .. }), "{e:?}");
    }
    let msg = TensorData::zeros([2, 3], DType::F32).item().unwrap_err().to_string();
    assert!(msg.contains("6 elements") && msg.contains("[2, 3]"), "{msg}");
}

#[test]
fn isclose_and_allclose() {
    // |a - b| <= atol + rtol * |b| is asymmetric: a = 1, b = 2, rtol = 0.5: 1 <= 1 (true);
    // a = 2, b = 1: 1 <= 0.5 (false).
    let one = f64t(&[1.0], &[1]);
    let two = f64t(&[2.0], &[1]);
    assert_eq!(one.isclose(&two, 0.5, 0.0, false).unwrap().to_vec::<bool>().unwrap(), vec![true]);
    assert_eq!(two.isclose(&one, 0.5, 0.0, false).unwrap().to_vec::<bool>().unwrap(), vec![false]);
    // atol alone: |1 - 1.25| = 0.25 <= 0.25.
    assert!(one.allclose(&f64t(&[1.25], &[1]), 0.0, 0.25).unwrap());
    assert!(!one.allclose(&f64t(&[1.5], &[1]), 0.0, 0.25).unwrap());
    // NaN: never close unless equal_nan; inf equals inf of the same sign only.
    // A finite value is never close to an infinite one, even though atol + rtol * |inf| = inf
    // (PyTorch only accepts a finite difference).
    let a = f64t(&[f64::NAN, f64::INFINITY, f64::INFINITY, 1.0, f64::NAN, 1.0], &[6]);
    let b = f64t(&[f64::NAN, f64::INFINITY, f64::NEG_INFINITY, f64::NAN, 1.0, f64::INFINITY], &[6]);
    let strict = a.isclose(&b, 1e-5, 1e-8, false).unwrap().to_vec::<bool>().unwrap();
    assert_eq!(strict, vec![false, true, false, false, false, false]);
    let lenient = a.isclose(&b, 1e-5, 1e-8, true).unwrap().to_vec::<bool>().unwrap();
    assert_eq!(lenient, vec![true, true, false, false, false, false]);
    // allclose: NaN makes it false; broadcasting works; the default tolerances.
    assert!(!f64t(&[f64::NAN], &[1]).allclose(&f64t(&[f64::NAN], &[1]), 1e-5, 1e-8).unwrap());
    let x = f64t(&[1.0, 1.0 + 1e-9, 1.0 - 1e-9, 1.0], &[2, 2]);
    assert!(x.allclose(&TensorData::scalar(1.0f64), 1e-5, 1e-8).unwrap());
    assert!(!x.allclose(&TensorData::scalar(1.001f64), 1e-5, 1e-8).unwrap());
    // f32 and i64 work; mixed dtypes promote (torch.isclose(tensor([1.], dtype=float64),
    // tensor([1.])) is True); unbroadcastable shapes are errors.
    assert!(i64t(&[3], &[1]).allclose(&i64t(&[3], &[1]), 0.0, 0.0).unwrap());
    assert!(!i64t(&[3], &[1]).allclose(&i64t(&[4], &[1]), 0.0, 0.5).unwrap());
    assert!(one.allclose(&one.to_dtype(DType::F32), 1e-5, 1e-8).unwrap());
    assert!(matches!(one.allclose(&iota(&[2, 3]), 1e-5, 1e-8), Ok(false)), "(1,) broadcasts to (2,3)");
    assert!(iota(&[2]).allclose(&iota(&[3]), 1e-5, 1e-8).is_err());
}

#[test]
fn where_selects_with_broadcasting() {
    // cond (2,1) = [[true],[false]], a (3,) = [1,2,3], b () = -1 -> [[1,2,3],[-1,-1,-1]]
    let cond = TensorData::from_vec(vec![true, false], [2, 1]).unwrap();
    let a = f64t(&[1.0, 2.0, 3.0], &[3]);
    let b = TensorData::scalar(-1.0f64);
    let w = TensorData::where_cond(&cond, &a, &b).unwrap();
    assert_tensor(&w, &[2, 3], &[1.0, 2.0, 3.0, -1.0, -1.0, -1.0], 0.0);
    // A comparison mask and non-contiguous operands: x^T = [[0,3],[1,4],[2,5]], mask x^T > 2.
    let xt = iota(&[2, 3]).t().unwrap();
    let m = xt.gt_scalar(2.0).unwrap();
    let w = TensorData::where_cond(&m, &xt, &xt.neg().unwrap()).unwrap();
    assert_tensor(&w, &[3, 2], &[0.0, 3.0, -1.0, 4.0, -2.0, 5.0], 0.0);
    // i64 values.
    let w = TensorData::where_cond(&cond.squeeze(), &i64t(&[1, 2], &[2]), &i64t(&[9, 9], &[2])).unwrap();
    assert_eq!(w.to_vec::<i64>().unwrap(), vec![1, 9]);
    // Errors: a non-bool condition. Value dtypes promote: torch.where(cond, x64, x32) is float64.
    let e = TensorData::where_cond(&a, &a, &a).unwrap_err();
    assert!(matches!(e, Error::DTypeMismatch { op: "where", got: DType::F64, .. }), "{e:?}");
    let w = TensorData::where_cond(&cond, &a, &a.to_dtype(DType::F32)).unwrap();
    assert_eq!(w.dtype(), DType::F64);
}

#[test]
fn where_with_a_number_on_one_side_matches_the_elementwise_definition() {
    // masked_fill's shapes: a (m, n) mask over x (b, m, n), the number on either side; a mask
    // (m, 1) per row; x transposed (not contiguous); a number of rank 3 that widens the result.
    // The oracle is the definition out[i, j, k] = mask[j, k] ? a : b, by explicit indices.
    let (b, m, n) = (3usize, 40usize, 70usize);
    let x = TensorData::from_vec((0..b * m * n).map(|i| i as f32 * 0.5 - 7.0).collect::<Vec<_>>(), [b, m, n])
        .unwrap();
    let xs = x.to_vec::<f32>().unwrap();
    let mask_rc = |j: usize, k: usize| (j * 7 + k * 3) % 5 < 2;
    let mask =
        TensorData::from_vec((0..m * n).map(|i| mask_rc(i / n, i % n)).collect::<Vec<_>>(), [m, n]).unwrap();
    let fill = TensorData::scalar(-1.0e9f32);
    let at = |i: usize, j: usize, k: usize| xs[(i * m + j) * n + k];
    let check = |w: TensorData, shape: &[usize], want: &dyn Fn(usize, usize, usize) -> f32| {
        assert_eq!(w.shape().dims(), shape);
        let got = w.to_vec::<f32>().unwrap();
        let (bb, mm, nn) = (shape[shape.len() - 3], shape[shape.len() - 2], shape[shape.len() - 1]);
        for (e, g) in got.iter().enumerate() {
            let (i, j, k) = (e / (mm * nn), e / nn % mm, e % nn);
            assert_eq!(*g, want(i % bb, j, k), "at {:?} of {shape:?}", (i, j, k));
        }
    };
    let w = TensorData::where_cond(&mask, &fill, &x).unwrap();
    check(w, &[b, m, n], &|i, j, k| if mask_rc(j, k) { -1.0e9 } else { at(i, j, k) });
    let w = TensorData::where_cond(&mask, &x, &fill).unwrap();
    check(w, &[b, m, n], &|i, j, k| if mask_rc(j, k) { at(i, j, k) } else { -1.0e9 });
    let rows = TensorData::from_vec((0..m).map(|j| j % 3 == 0).collect::<Vec<_>>(), [m, 1]).unwrap();
    let w = TensorData::where_cond(&rows, &fill, &x).unwrap();
    check(w, &[b, m, n], &|i, j, k| if j % 3 == 0 { -1.0e9 } else { at(i, j, k) });
    // x^T (n, m) with the transposed mask: out[k, j] = mask[j, k] ? x[0, j, k] : fill.
    let xt = x.select(0, 0).unwrap().t().unwrap();
    let mt = mask.t().unwrap();
    let w = TensorData::where_cond(&mt, &xt, &fill).unwrap().unsqueeze(0).unwrap();
    check(w, &[1, n, m], &|_, k, j| if mask_rc(j, k) { at(0, j, k) } else { -1.0e9 });
    // A (1, 1, 1) number over a (m, n) mask and a (m, n) x: the result is (1, m, n).
    let x0 = x.select(0, 1).unwrap();
    let one = TensorData::from_vec(vec![5.0f32], [1, 1, 1]).unwrap();
    let w = TensorData::where_cond(&mask, &one, &x0).unwrap();
    check(w, &[1, m, n], &|_, j, k| if mask_rc(j, k) { 5.0 } else { at(1, j, k) });
}

#[test]
fn comparisons() {
    let x = f64t(&[1.0, 2.0, 3.0, f64::NAN], &[4]);
    let check = |t: TensorData, want: [bool; 4]| {
        assert_eq!(t.dtype(), DType::Bool);
        assert_eq!(t.to_vec::<bool>().unwrap(), want.to_vec());
    };
    // Against 2: NaN compares false with everything except !=.
    check(x.eq_scalar(2.0).unwrap(), [false, true, false, false]);
    check(x.ne_scalar(2.0).unwrap(), [true, false, true, true]);
    check(x.lt_scalar(2.0).unwrap(), [true, false, false, false]);
    check(x.le_scalar(2.0).unwrap(), [true, true, false, false]);
    check(x.gt_scalar(2.0).unwrap(), [false, false, true, false]);
    check(x.ge_scalar(2.0).unwrap(), [false, true, true, false]);
    // Tensor-tensor with broadcasting: (2,1) vs (2,) -> (2,2): [[1<1, 1<2], [3<1, 3<2]].
    let a = f64t(&[1.0, 3.0], &[2, 1]);
    let b = f64t(&[1.0, 2.0], &[2]);
    assert_eq!(a.lt(&b).unwrap().to_vec::<bool>().unwrap(), vec![false, true, false, false]);
    assert_eq!(a.ge(&b).unwrap().to_vec::<bool>().unwrap(), vec![true, false, true, true]);
    // i64 scalars compare exactly.
    let i = i64t(&[1, 2, 3], &[3]);
    assert_eq!(i.eq_scalar(2.0).unwrap().to_vec::<bool>().unwrap(), vec![false, true, false]);
    // A bool mask sums to a count.
    assert_eq!(x.gt_scalar(1.5).unwrap().sum().unwrap().item().unwrap(), 2.0);
}

#[test]
fn clamp_bounds() {
    let x = f64t(&[-2.0, -0.5, 0.5, 2.0, f64::NAN], &[5]);
    let c = vals(&x.clamp(Some(-1.0), Some(1.0)).unwrap());
    assert_eq!(&c[..4], &[-1.0, -0.5, 0.5, 1.0]);
    assert!(c[4].is_nan(), "clamp propagates NaN like PyTorch");
    assert_eq!(&vals(&x.clamp(Some(0.0), None).unwrap())[..4], &[0.0, 0.0, 0.5, 2.0]);
    assert_eq!(&vals(&x.clamp(None, Some(0.0)).unwrap())[..4], &[-2.0, -0.5, 0.0, 0.0]);
    assert_eq!(&vals(&x.clamp(None, None).unwrap())[..4], &[-2.0, -0.5, 0.5, 2.0]);
    // min > max: every value becomes max (PyTorch).
    assert_eq!(&vals(&x.clamp(Some(1.0), Some(0.0)).unwrap())[..4], &[0.0; 4]);
    // i64 and f32 keep their dtype.
    let i = i64t(&[-5, 0, 5], &[3]).clamp(Some(-1.0), Some(3.0)).unwrap();
    assert_eq!(i.to_vec::<i64>().unwrap(), vec![-1, 0, 3]);
    assert_eq!(f32t(&[3.0], &[1]).clamp(None, Some(1.0)).unwrap().to_vec::<f32>().unwrap(), vec![1.0]);
    // Bool is not numeric.
    assert!(matches!(
        TensorData::ones([1], DType::Bool).clamp(Some(0.0), None).unwrap_err(),
        Error::DTypeMismatch { .. }
    ));
}

#[test]
fn neg_abs_reciprocal() {
    let x = f64t(&[-2.0, 0.5, 4.0], &[3]);
    assert_eq!(vals(&x.neg().unwrap()), vec![2.0, -0.5, -4.0]);
    assert_eq!(vals(&x.abs().unwrap()), vec![2.0, 0.5, 4.0]);
    assert_eq!(vals(&x.reciprocal().unwrap()), vec![-0.5, 2.0, 0.25]);
    assert_eq!(i64t(&[-3, 3], &[2]).abs().unwrap().to_vec::<i64>().unwrap(), vec![3, 3]);
    assert_eq!(i64t(&[-3, 3], &[2]).neg().unwrap().to_vec::<i64>().unwrap(), vec![3, -3]);
    assert!(vals(&f64t(&[0.0], &[1]).reciprocal().unwrap())[0].is_infinite());
    assert!(matches!(
        i64t(&[1], &[1]).reciprocal().unwrap_err(),
        Error::DTypeMismatch { op: "reciprocal", .. }
    ));
}

type Unary = fn(&TensorData) -> torchlet_tensor_core::Result<TensorData>;

#[test]
fn float_unary_values() {
    let e = std::f64::consts::E;
    // (function, inputs, expected outputs)
    let cases: Vec<(&str, Unary, Vec<f64>, Vec<f64>)> = vec![
        ("exp", TensorData::exp, vec![0.0, 1.0, -1.0, f64::NEG_INFINITY], vec![1.0, e, 1.0 / e, 0.0]),
        ("log", TensorData::log, vec![1.0, e, 0.0, -1.0], vec![0.0, 1.0, f64::NEG_INFINITY, f64::NAN]),
        // log1p(1e-10) = 1e-10 - 5e-21 + ...: exact to double precision, unlike log(1 + 1e-10).
        (
            "log1p",
            TensorData::log1p,
            vec![0.0, 1e-10, e - 1.0, -1.0],
            vec![0.0, 1e-10, 1.0, f64::NEG_INFINITY],
        ),
        ("sqrt", TensorData::sqrt, vec![4.0, 2.25, 0.0, -1.0], vec![2.0, 1.5, 0.0, f64::NAN]),
        // tanh(ln 2) = (2 - 1/2) / (2 + 1/2) = 0.6
        ("tanh", TensorData::tanh, vec![0.0, 2f64.ln(), -1000.0, 1000.0], vec![0.0, 0.6, -1.0, 1.0]),
        // sigmoid(ln 3) = 1 / (1 + 1/3) = 0.75
        ("sigmoid", TensorData::sigmoid, vec![0.0, 3f64.ln(), -1000.0, 1000.0], vec![0.5, 0.75, 0.0, 1.0]),
        ("relu", TensorData::relu, vec![-1.0, 0.0, 2.5, -1e-30], vec![0.0, 0.0, 2.5, 0.0]),
        // softplus(0) = ln 2; softplus(ln 3) = ln 4; above 20 it returns x itself.
        (
            "softplus",
            TensorData::softplus,
            vec![0.0, 3f64.ln(), 20.5, 1000.0, -1000.0],
            vec![2f64.ln(), 4f64.ln(), 20.5, 1000.0, 0.0],
        ),
        // log_sigmoid(0) = -ln 2; log_sigmoid(-ln 3) = ln(1/4); +-1000 stay finite.
        (
            "log_sigmoid",
            TensorData::log_sigmoid,
            vec![0.0, -(3f64.ln()), -1000.0, 1000.0],
            vec![-(2f64.ln()), -(4f64.ln()), -1000.0, 0.0],
        ),
    ];
    for (name, f, input, want) in cases {
        let n = input.len();
        let got = f(&f64t(&input, &[n])).unwrap();
        assert_eq!(got.dtype(), DType::F64);
        let g = vals(&got);
        for (i, (&x, &y)) in g.iter().zip(&want).enumerate() {
            let ok = if y.is_nan() { x.is_nan() } else { x == y || (x - y).abs() <= 1e-15 * (1.0 + y.abs()) };
            assert!(ok, "{name}({}) = {x}, want {y}", input[i]);
        }
        // f32 gives the same values to f32 precision, and stays f32.
        let input32: Vec<f32> = input.iter().map(|&v| v as f32).collect();
        let got32 = f(&f32t(&input32, &[n])).unwrap();
        assert_eq!(got32.dtype(), DType::F32);
        for (i, (&x, &y)) in vals(&got32).iter().zip(&want).enumerate() {
            let ok = if y.is_nan() { x.is_nan() } else { x == y || (x - y).abs() <= 1e-6 * (1.0 + y.abs()) };
            assert!(ok, "{name}_f32({}) = {x}, want {y}", input32[i]);
        }
        // Integer tensors are rejected with the op's name.
        match f(&i64t(&[1], &[1])).unwrap_err() {
            Error::DTypeMismatch { op, got, .. } => assert_eq!((op, got), (name, DType::I64)),
            other => panic!("{name}: {other:?}"),
        }
    }
}

#[test]
fn lockstep_lines_give_the_bits_of_their_formula() {
    // exp, tanh, sigmoid, the logarithms, erf and pow run four runs of a tensor at a time in the AVX2
    // and AVX-512 builds; every element must have the bits of the formula computed on its own (with fused
    // multiply-adds, as those builds do). 3 blocks of 4 x 64 values and a remainder of 29,
    // with the special values spread over both.
    use torchlet_tensor_core::simd::{capability, real, Capability};
    if capability() < Capability::Avx2 {
        return; // the portable build: no lockstep form, separate multiplies and adds
    }
    let special = [
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        0.0,
        -0.0,
        -104.0,
        -103.9,
        -87.5,
        88.72,
        88.73,
        88.8,
        0.59,
        0.6,
        -9.99,
        10.01,
        1e-40,
        -1e-40,
        9.5,
        9.01,
        1.0,
        2.0,
        std::f32::consts::FRAC_1_SQRT_2,
        1e-45,
        f32::MAX,
        0.99,
        -2.5,
        3.91,
        3.92,
    ];
    let x: Vec<f32> = (0..4 * 64 * 3 + 29)
        .map(|i| {
            if i % 47 < special.len() && i % 3 == 0 {
                special[i % 47]
            } else {
                (i as f32 * 0.37) % 220.0 - 120.0
            }
        })
        .collect();
    let t = f32t(&x, &[x.len()]);
    type Scalar = fn(f32) -> f32;
    let scalar: [(&str, Unary, Scalar); 10] = [
        ("exp", TensorData::exp, real::exp::<true>),
        ("tanh", TensorData::tanh, real::tanh::<true>),
        ("sigmoid", TensorData::sigmoid, |v| 1.0 / (1.0 + real::exp::<true>(-v))),
        ("log", TensorData::log, real::ln::<true>),
        ("log2", TensorData::log2, real::log2::<true>),
        ("log10", TensorData::log10, real::log10::<true>),
        ("erf", TensorData::erf, real::erf::<true>),
        ("pow 1.5", |t| t.pow_scalar(1.5), |v| real::pow::<true>(v, 1.5)),
        ("pow 2.5", |t| t.pow_scalar(2.5), |v| real::pow::<true>(v, 2.5)),
        ("pow -0.7", |t| t.pow_scalar(-0.7), |v| real::pow::<true>(v, -0.7)),
    ];
    for (name, op, f) in scalar {
        let got = op(&t).unwrap().to_vec::<f32>().unwrap();
        for (&v, g) in x.iter().zip(&got) {
            assert_eq!(g.to_bits(), f(v).to_bits(), "{name}({v}): {g} vs {}", f(v));
        }
    }
}

#[test]
fn saturating_functions_never_produce_nan() {
    // sigmoid, softplus, log_sigmoid and tanh over a wide range, in both float types.
    let xs: Vec<f64> = (-20..=20).map(|i| i as f64 * 50.0).collect(); // -1000 ..= 1000
    let n = xs.len();
    for t in [f64t(&xs, &[n]), f64t(&xs, &[n]).to_dtype(DType::F32)] {
        for (name, f) in [
            ("sigmoid", TensorData::sigmoid as Unary),
            ("softplus", TensorData::softplus),
            ("log_sigmoid", TensorData::log_sigmoid),
            ("tanh", TensorData::tanh),
        ] {
            let v = vals(&f(&t).unwrap());
            assert!(v.iter().all(|x| x.is_finite()), "{name} {:?}: {v:?}", t.dtype());
        }
        // sigmoid stays in [0, 1], log_sigmoid <= 0, softplus >= 0, and the extremes saturate.
        let s = vals(&t.sigmoid().unwrap());
        assert!(s.iter().all(|&p| (0.0..=1.0).contains(&p)));
        assert_eq!((s[0], s[n - 1]), (0.0, 1.0));
        let ls = vals(&t.log_sigmoid().unwrap());
        assert!(ls.iter().all(|&l| l <= 0.0));
        assert_eq!((ls[0], ls[n - 1]), (-1000.0, 0.0));
        let sp = vals(&t.softplus().unwrap());
        assert!(sp.iter().all(|&v| v >= 0.0));
    }
}

#[test]
fn softplus_threshold_is_twenty() {
    // Below/at 20: log1p(e^x); above 20: x exactly. log1p(e^20) = 20 + log1p(e^-20) = 20 + 2.06e-9.
    let x = f64t(&[20.0, 20.000001], &[2]);
    let v = vals(&x.softplus().unwrap());
    assert!((v[0] - (20.0 + (-20f64).exp())).abs() < 1e-12, "{}", v[0]);
    assert!(v[0] > 20.0);
    assert_eq!(v[1], 20.000001);
}

#[test]
fn relu_propagates_nan() {
    // torch.relu(nan) = nan (relu is clamp_min(x, 0), which propagates NaN).
    let v = vals(&f64t(&[f64::NAN, -1.0], &[2]).relu().unwrap());
    assert!(v[0].is_nan(), "{v:?}");
    assert_eq!(v[1], 0.0);
    let v = vals(&f32t(&[f32::NAN], &[1]).relu().unwrap());
    assert!(v[0].is_nan());
}

#[test]
fn unary_ops_on_strided_inputs() {
    // exp of x^T reads the transposed values: x = [[0, 1], [2, 3]] -> x^T = [[0, 2], [1, 3]].
    let xt = iota(&[2, 2]).t().unwrap();
    let e = vals(&xt.exp().unwrap());
    assert_close(&e, &[1.0, 2f64.exp(), 1f64.exp(), 3f64.exp()], 1e-15);
    let c = f64t(&[-1.0, 4.0], &[2, 1]).expand([2, 3]).unwrap();
    assert_eq!(vals(&c.relu().unwrap()), vec![0.0, 0.0, 0.0, 4.0, 4.0, 4.0]);
    assert_eq!(vals(&c.sqrt().unwrap())[3..], [2.0, 2.0, 2.0]);
}

#[test]
fn sign_of_zero_matches_pytorch() {
    // torch.neg(tensor(0.)) is -0.; torch.abs(tensor(-0.)) is +0.
    let z = TensorData::from(vec![0.0f32, -0.0]);
    let n = z.neg().unwrap().to_vec::<f32>().unwrap();
    assert!(n[0].is_sign_negative() && n[1].is_sign_positive());
    let a = z.abs().unwrap().to_vec::<f32>().unwrap();
    assert!(a.iter().all(|v| v.is_sign_positive() && *v == 0.0));
}

#[test]
fn f32_sum_is_pairwise_accurate() {
    // 100,000 copies of 0.1f32 (= 0.100000001490116...): exact sum 10000.0001490116.
    // A running f32 sum drifts by ~1e0 here; pairwise summation stays within a few ulps of
    // 1e4 (ulp = 0.000977).
    let x = TensorData::from(vec![0.1f32; 100_000]);
    let s = x.sum().unwrap().item().unwrap();
    assert!((s - 10000.000149).abs() < 0.01, "{s}");
}

/// A variance over a dim followed by a size-0 dim has no lanes and must not panic:
/// `torch.zeros(2, 3, 0).var(1)` is `tensor([], size=(2, 0))` in PyTorch 2.9.1.
#[test]
fn var_before_an_empty_dim_is_empty() {
    let x = TensorData::zeros([2, 3, 0], DType::F32);
    let v = x.var_dims(&1.into(), 1.0, false).unwrap();
    assert_eq!(v.dims(), &[2, 0]);
}
