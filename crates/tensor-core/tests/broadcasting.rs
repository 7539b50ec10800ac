//! Elementwise binary ops: NumPy/PyTorch broadcasting, scalar and 0-d operands, strided
//! (transposed, narrowed, expanded) operands, and shape/dtype errors.

mod common;
use common::*;
use torchlet_tensor_core::{DType, Error, Shape, TensorData};

type RefOp = fn(f64, f64) -> f64;
type TensorOp = fn(&TensorData, &TensorData) -> torchlet_tensor_core::Result<TensorData>;
type RefCmp = fn(f64, f64) -> bool;

/// Every float binary op with an independent scalar reference.
fn float_ops() -> Vec<(&'static str, TensorOp, RefOp)> {
    vec![
        ("add", TensorData::add, |a, b| a + b),
        ("sub", TensorData::sub, |a, b| a - b),
        ("mul", TensorData::mul, |a, b| a * b),
        ("div", TensorData::div, |a, b| a / b),
        ("maximum", TensorData::maximum, |a, b| if a >= b { a } else { b }),
        ("minimum", TensorData::minimum, |a, b| if a <= b { a } else { b }),
        ("pow", TensorData::pow, f64::powf),
    ]
}

/// Every comparison with its reference, as 0/1.
fn compare_ops() -> Vec<(&'static str, TensorOp, RefCmp)> {
    vec![
        ("eq", TensorData::eq, |a, b| a == b),
        ("ne", TensorData::ne, |a, b| a != b),
        ("lt", TensorData::lt, |a, b| a < b),
        ("le", TensorData::le, |a, b| a <= b),
        ("gt", TensorData::gt, |a, b| a > b),
        ("ge", TensorData::ge, |a, b| a >= b),
    ]
}

/// Reference broadcast: `out[idx] = f(a[idx'], b[idx''])`, where `ga`/`gb` read the logical
/// element of each operand at a full-rank index of `out_dims` (size-1 dims pinned to 0).
fn reference(
    out_dims: &[usize],
    ga: impl Fn(&[usize]) -> f64,
    gb: impl Fn(&[usize]) -> f64,
    f: impl Fn(f64, f64) -> f64,
) -> Vec<f64> {
    let n: usize = out_dims.iter().product();
    (0..n)
        .map(|flat| {
            let idx = unravel(flat, out_dims);
            f(ga(&idx), gb(&idx))
        })
        .collect()
}

/// Reads the logical element of a row-major tensor `v` of `dims` at the right-aligned,
/// broadcast index `idx` (leading dims dropped, size-1 dims read at 0).
fn bget(v: &[f64], dims: &[usize], idx: &[usize]) -> f64 {
    let skip = idx.len() - dims.len();
    let local: Vec<usize> =
        dims.iter().zip(&idx[skip..]).map(|(&d, &i)| if d == 1 { 0 } else { i }).collect();
    v[ravel(&local, dims)]
}

#[test]
fn broadcast_shapes_follow_right_alignment() {
    // (shape a, shape b, result shape)
    let cases: &[(&[usize], &[usize], &[usize])] = &[
        (&[2, 3], &[3], &[2, 3]),
        (&[3, 1], &[1, 4], &[3, 4]),
        (&[4, 1, 3], &[5, 1], &[4, 5, 3]),
        (&[1], &[], &[1]),
        (&[], &[], &[]),
        (&[], &[2, 2], &[2, 2]),
        (&[0, 3], &[1, 3], &[0, 3]),
        (&[2, 1, 1], &[1, 3, 1], &[2, 3, 1]),
    ];
    for &(sa, sb, so) in cases {
        let (na, nb): (usize, usize) = (sa.iter().product(), sb.iter().product());
        // a = 1, 2, 3, ...; b = 10, 20, 30, ...
        let av: Vec<f64> = (1..=na).map(|i| i as f64).collect();
        let bv: Vec<f64> = (1..=nb).map(|i| 10.0 * i as f64).collect();
        let (a, b) = (f64t(&av, sa), f64t(&bv, sb));
        for (name, op, r) in float_ops() {
            let got = op(&a, &b).unwrap();
            let want = reference(so, |i| bget(&av, sa, i), |i| bget(&bv, sb, i), r);
            assert_eq!(got.dims(), so, "{name} {sa:?} {sb:?}");
            assert_close(&vals(&got), &want, 1e-12);
            // Commuted operands broadcast to the same shape.
            let got = op(&b, &a).unwrap();
            let want = reference(so, |i| bget(&bv, sb, i), |i| bget(&av, sa, i), r);
            assert_eq!(got.dims(), so, "{name} {sb:?} {sa:?}");
            assert_close(&vals(&got), &want, 1e-12);
        }
    }
}

#[test]
fn broadcast_hand_values() {
    // [[1],[2],[3]] + [10, 20] = [[11, 21], [12, 22], [13, 23]]
    let a = f64t(&[1.0, 2.0, 3.0], &[3, 1]);
    let b = f64t(&[10.0, 20.0], &[2]);
    assert_tensor(&a.add(&b).unwrap(), &[3, 2], &[11.0, 21.0, 12.0, 22.0, 13.0, 23.0], 0.0);
    // [[1],[2],[3]] - [10, 20] = [[-9, -19], [-8, -18], [-7, -17]]
    assert_tensor(&a.sub(&b).unwrap(), &[3, 2], &[-9.0, -19.0, -8.0, -18.0, -7.0, -17.0], 0.0);
    // [10, 20] / [[1],[2],[3]] = [[10, 20], [5, 10], [10/3, 20/3]]
    assert_tensor(&b.div(&a).unwrap(), &[3, 2], &[10.0, 20.0, 5.0, 10.0, 10.0 / 3.0, 20.0 / 3.0], 1e-15);
}

#[test]
fn scalar_and_zero_dim_operands() {
    let x = f64t(&[1.0, -2.0, 3.0, -4.0], &[2, 2]);
    let s = TensorData::scalar(2.0f64);
    // 0-d on either side broadcasts to (2,2).
    assert_tensor(&x.mul(&s).unwrap(), &[2, 2], &[2.0, -4.0, 6.0, -8.0], 0.0);
    assert_tensor(&s.sub(&x).unwrap(), &[2, 2], &[1.0, 4.0, -1.0, 6.0], 0.0);
    assert_tensor(&s.div(&x).unwrap(), &[2, 2], &[2.0, -1.0, 2.0 / 3.0, -0.5], 1e-15);
    // 0-d with 0-d stays 0-d: 2 ** 3 = 8.
    let p = s.pow(&TensorData::scalar(3.0f64)).unwrap();
    assert_eq!(p.ndim(), 0);
    assert_eq!(p.item().unwrap(), 8.0);
    // A one-element 1-D operand: (1,) with (2,2) -> (2,2).
    let one = f64t(&[10.0], &[1]);
    assert_tensor(&one.add(&x).unwrap(), &[2, 2], &[11.0, 8.0, 13.0, 6.0], 0.0);
    // The scalar helpers keep the dtype.
    let xf = f32t(&[1.0, 2.0], &[2]);
    let y = xf.add_scalar(0.5).unwrap();
    assert_eq!(y.dtype(), DType::F32);
    assert_eq!(y.to_vec::<f32>().unwrap(), vec![1.5, 2.5]);
    assert_eq!(xf.mul_scalar(-3.0).unwrap().to_vec::<f32>().unwrap(), vec![-3.0, -6.0]);
    // pow_scalar: 2 -> squares, 0.5 -> square roots, -1 -> reciprocals.
    let z = f64t(&[4.0, 9.0], &[2]);
    assert_eq!(vals(&z.pow_scalar(2.0).unwrap()), vec![16.0, 81.0]);
    assert_eq!(vals(&z.pow_scalar(0.5).unwrap()), vec![2.0, 3.0]);
    assert_close(&vals(&z.pow_scalar(-1.0).unwrap()), &[0.25, 1.0 / 9.0], 1e-15);
    // PyTorch: torch.tensor([3, -7]) * 2 + 1 -> tensor([7, -13]) (int64, integer numbers);
    // torch.tensor([3, -7]) * 2.0 + 1.0 -> tensor([7., -13.]) (float32, float numbers).
    let i = i64t(&[3, -7], &[2]);
    let r = i.mul_scalar(2).unwrap().add_scalar(1).unwrap();
    assert_eq!(r.to_vec::<i64>().unwrap(), vec![7, -13]);
    let r = i.mul_scalar(2.0).unwrap().add_scalar(1.0).unwrap();
    assert_eq!(r.to_vec::<f32>().unwrap(), vec![7.0, -13.0]);
}

/// Logical element accessors for non-contiguous operands of logical shape (3, 2).
struct Operand {
    name: &'static str,
    t: TensorData,
    want: Vec<f64>,
}

fn strided_operands() -> Vec<Operand> {
    // base (2,3) = [[1,2,3],[4,5,6]]; its transpose (3,2) = [[1,4],[2,5],[3,6]].
    let base = f64t(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
    let transposed = base.t().unwrap();
    // wide (3,4) = 0..12; narrow(dim 1, start 1, len 2) = [[1,2],[5,6],[9,10]].
    let wide = iota(&[3, 4]);
    let narrowed = wide.narrow(1, 1, 2).unwrap();
    // row (1,2) = [7, -8] expanded to (3,2) = [[7,-8],[7,-8],[7,-8]] (stride 0).
    let expanded = f64t(&[7.0, -8.0], &[1, 2]).expand([3, 2]).unwrap();
    // col (3,1) = [0.5, 1.5, 2.5] expanded along columns.
    let col = f64t(&[0.5, 1.5, 2.5], &[3, 1]).expand([3, 2]).unwrap();
    // one value expanded to (3,2): every stride 0, read as a number.
    let value = f64t(&[3.5], &[1, 1]).expand([3, 2]).unwrap();
    // narrowed along rows of a transposed view: a (4,3)^T = (3,4), columns 2..4.
    let both = iota(&[4, 3]).add_scalar(1.0).unwrap().t().unwrap().narrow(1, 2, 2).unwrap();
    // (4,3) = 1..12 row-major; transposed (3,4)[i][j] = 1 + 3j + i; columns 2,3 -> [[7,10],[8,11],[9,12]].
    let ops = vec![
        Operand { name: "transposed", t: transposed, want: vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0] },
        Operand { name: "narrowed", t: narrowed, want: vec![1.0, 2.0, 5.0, 6.0, 9.0, 10.0] },
        Operand { name: "expanded_row", t: expanded, want: vec![7.0, -8.0, 7.0, -8.0, 7.0, -8.0] },
        Operand { name: "expanded_col", t: col, want: vec![0.5, 0.5, 1.5, 1.5, 2.5, 2.5] },
        Operand { name: "transposed_narrowed", t: both, want: vec![7.0, 10.0, 8.0, 11.0, 9.0, 12.0] },
        Operand { name: "expanded_value", t: value, want: vec![3.5; 6] },
    ];
    for o in &ops {
        assert!(!o.t.is_contiguous(), "{} should be a strided view", o.name);
        assert_eq!(o.t.dims(), &[3, 2]);
        assert_eq!(vals(&o.t), o.want, "{} reads its logical values", o.name);
    }
    ops
}

#[test]
fn non_contiguous_operands_in_every_binary_op() {
    let ops = strided_operands();
    let dense = f64t(&[2.0, 3.0, -1.0, 0.5, 4.0, 1.0], &[3, 2]);
    let dv = vals(&dense);
    for a in &ops {
        for b in &ops {
            for (_, op, r) in float_ops() {
                let got = op(&a.t, &b.t).unwrap();
                let want: Vec<f64> = a.want.iter().zip(&b.want).map(|(&x, &y)| r(x, y)).collect();
                assert_eq!(got.dims(), &[3, 2]);
                assert!(got.is_contiguous());
                assert_close(&vals(&got), &want, 1e-12);
            }
            for (name, op, r) in compare_ops() {
                let got = op(&a.t, &b.t).unwrap();
                assert_eq!(got.dtype(), DType::Bool, "{name}");
                let want: Vec<bool> = a.want.iter().zip(&b.want).map(|(&x, &y)| r(x, y)).collect();
                assert_eq!(got.to_vec::<bool>().unwrap(), want, "{name} {} {}", a.name, b.name);
            }
        }
        // Strided with dense, strided with a broadcast row and with a 0-d scalar.
        for (_, op, r) in float_ops() {
            let want: Vec<f64> = a.want.iter().zip(&dv).map(|(&x, &y)| r(x, y)).collect();
            assert_close(&vals(&op(&a.t, &dense).unwrap()), &want, 1e-12);
            let want: Vec<f64> = dv.iter().zip(&a.want).map(|(&x, &y)| r(x, y)).collect();
            assert_close(&vals(&op(&dense, &a.t).unwrap()), &want, 1e-12);
            let row = f64t(&[3.0, -2.0], &[2]);
            let want: Vec<f64> = a.want.iter().enumerate().map(|(i, &x)| r(x, [3.0, -2.0][i % 2])).collect();
            assert_close(&vals(&op(&a.t, &row).unwrap()), &want, 1e-12);
            let s = TensorData::scalar(2.0f64);
            let want: Vec<f64> = a.want.iter().map(|&x| r(2.0, x)).collect();
            assert_close(&vals(&op(&s, &a.t).unwrap()), &want, 1e-12);
        }
    }
}

#[test]
fn one_value_expanded_is_read_as_a_number_on_the_parallel_paths() {
    // 300 x 300 = 90,000 elements, above the threads' threshold: 0.5 expanded, with itself
    // (filled: 0.5 * 0.5 = 0.25 everywhere), with 2 expanded (0.5 - 2 = -1.5), and with a dense
    // tensor either way round (i - 0.5 and 0.5 - i at element i).
    let half = f64t(&[0.5], &[1]).expand([300, 300]).unwrap();
    let two = TensorData::scalar(2.0f64).expand([300, 300]).unwrap();
    assert_eq!(vals(&half.mul(&half).unwrap()), vec![0.25; 90_000]);
    assert_eq!(vals(&half.sub(&two).unwrap()), vec![-1.5; 90_000]);
    let dense = iota(&[300, 300]);
    let want: Vec<f64> = (0..90_000).map(|i| i as f64 - 0.5).collect();
    assert_eq!(vals(&dense.sub(&half).unwrap()), want);
    let want: Vec<f64> = (0..90_000).map(|i| 0.5 - i as f64).collect();
    assert_eq!(vals(&half.sub(&dense).unwrap()), want);
}

#[test]
fn strided_operand_broadcast_to_higher_rank() {
    // t = transpose of (2,3) = [[1,4],[2,5],[3,6]] (3,2), plus a (2,1,1) tensor [[[100]],[[200]]]
    // -> (2,3,2): out[b][i][j] = t[i][j] + 100 * (b + 1).
    let t = f64t(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]).t().unwrap();
    let c = f64t(&[100.0, 200.0], &[2, 1, 1]);
    let got = t.add(&c).unwrap();
    let tv = [1.0, 4.0, 2.0, 5.0, 3.0, 6.0];
    let want: Vec<f64> = (0..12).map(|f| tv[f % 6] + 100.0 * (f / 6 + 1) as f64).collect();
    assert_tensor(&got, &[2, 3, 2], &want, 0.0);
}

#[test]
fn broadcast_errors_name_op_and_shapes() {
    let a = iota(&[2, 3]);
    let b = iota(&[4]);
    let mut ops: Vec<(&str, TensorOp)> = float_ops().into_iter().map(|(n, f, _)| (n, f)).collect();
    ops.extend(compare_ops().into_iter().map(|(n, f, _)| (n, f)));
    for (name, op) in ops {
        let e = op(&a, &b).unwrap_err();
        match &e {
            Error::ShapeMismatch { op, lhs, rhs, reason } => {
                assert_eq!(*op, name);
                assert_eq!(lhs, &Shape::new(&[2, 3]));
                assert_eq!(rhs, &Shape::new(&[4]));
                assert!(reason.contains("cannot be broadcast"), "{reason}");
            }
            other => panic!("{name}: expected ShapeMismatch, got {other:?}"),
        }
        let msg = e.to_string();
        assert!(msg.starts_with(&format!("{name}: shapes [2, 3] and [4] cannot be broadcast")), "{msg}");
        // The message names the offending sizes: 3 vs 4 in the last dimension.
        assert!(msg.contains("3 vs 4"), "{msg}");
    }
    // (2,3) vs (3,2): the mismatch is reported, not silently transposed.
    let e = a.add(&iota(&[3, 2])).unwrap_err();
    assert!(matches!(e, Error::ShapeMismatch { op: "add", .. }));
    // where broadcasts all three operands.
    let cond = TensorData::ones([2, 3], DType::Bool);
    let e = TensorData::where_cond(&cond, &a, &b).unwrap_err();
    assert!(matches!(e, Error::ShapeMismatch { op: "where", .. }), "{e:?}");
    // isclose too.
    assert!(matches!(a.isclose(&b, 1e-5, 1e-8, false).unwrap_err(), Error::ShapeMismatch { .. }));
}

#[test]
fn mixed_dtypes_promote_like_pytorch() {
    // Each expected value is what PyTorch 2.9.1 prints for the same operands (comments).
    let a32 = f32t(&[0.5, -1.5, 2.0], &[3]);
    let a64 = f64t(&[0.25, 1.0, -2.0], &[3]);
    let ai = i64t(&[1, 2, -3], &[3]);
    let ab = TensorData::from(vec![true, false, true]);
    // f + d -> float64 [0.75, -0.5, 0.0]; i * f -> float32 [0.5, -3.0, -6.0]
    assert_eq!(a32.add(&a64).unwrap().to_vec::<f64>().unwrap(), vec![0.75, -0.5, 0.0]);
    assert_eq!(ai.mul(&a32).unwrap().to_vec::<f32>().unwrap(), vec![0.5, -3.0, -6.0]);
    // i / i -> float32 [1.0, 1.0, 1.0] (true division); i / 2 -> float32 [0.5, 1.0, -1.5]
    assert_eq!(ai.div(&ai).unwrap().to_vec::<f32>().unwrap(), vec![1.0, 1.0, 1.0]);
    assert_eq!(ai.div_scalar(2).unwrap().to_vec::<f32>().unwrap(), vec![0.5, 1.0, -1.5]);
    // i ** i -> int64 [1, 4, -27]; b + b -> bool [True, False, True]; b * i -> int64 [1, 0, -3]
    assert_eq!(ai.pow(&ai.abs().unwrap()).unwrap().to_vec::<i64>().unwrap(), vec![1, 4, -27]);
    assert_eq!(ab.add(&ab).unwrap().to_vec::<bool>().unwrap(), vec![true, false, true]);
    assert_eq!(ab.mul(&ai).unwrap().to_vec::<i64>().unwrap(), vec![1, 0, -3]);
    // b - b: "Subtraction, the `-` operator, with two bool tensors is not supported."
    assert!(matches!(ab.sub(&ab).unwrap_err(), Error::DTypeMismatch { op: "sub", got: DType::Bool, .. }));
    // i ** -1: "Integers to negative integer powers are not allowed."
    assert!(ai.pow(&i64t(&[-1], &[1])).is_err());
    // Comparisons compute in the promoted dtype: f == i -> [False, False, False]; i > 1.5 -> [F, T, F]
    assert_eq!(a32.eq(&ai).unwrap().to_vec::<bool>().unwrap(), vec![false, false, false]);
    assert_eq!(ai.gt_scalar(1.5).unwrap().to_vec::<bool>().unwrap(), vec![false, true, false]);
    assert_eq!(ab.eq(&ab).unwrap().to_vec::<bool>().unwrap(), vec![true, true, true]);
    // The promoted dtype of every float op pair is the wider one.
    for (name, op, _) in float_ops() {
        if name != "sub" {
            assert_eq!(op(&a32, &a64).unwrap().dtype(), DType::F64, "{name}");
        }
    }
}

#[test]
fn integer_arithmetic_is_exact() {
    // Values past 2^53 would lose precision through f64: 2^53 + 1 stays exact in i64.
    let big = 1i64 << 53;
    let a = i64t(&[big, -5, 7], &[3]);
    let b = i64t(&[1, 3, -2], &[3]);
    assert_eq!(a.add(&b).unwrap().to_vec::<i64>().unwrap(), vec![big + 1, -2, 5]);
    assert_eq!(a.sub(&b).unwrap().to_vec::<i64>().unwrap(), vec![big - 1, -8, 9]);
    assert_eq!(a.mul(&b).unwrap().to_vec::<i64>().unwrap(), vec![big, -15, -14]);
    assert_eq!(a.maximum(&b).unwrap().to_vec::<i64>().unwrap(), vec![big, 3, 7]);
    assert_eq!(a.minimum(&b).unwrap().to_vec::<i64>().unwrap(), vec![1, -5, -2]);
}

#[test]
fn maximum_minimum_propagate_nan() {
    let a = f64t(&[f64::NAN, 1.0, 5.0], &[3]);
    let b = f64t(&[0.0, f64::NAN, 2.0], &[3]);
    let mx = vals(&a.maximum(&b).unwrap());
    let mn = vals(&a.minimum(&b).unwrap());
    assert!(mx[0].is_nan() && mx[1].is_nan() && mx[2] == 5.0, "{mx:?}");
    assert!(mn[0].is_nan() && mn[1].is_nan() && mn[2] == 2.0, "{mn:?}");
}

#[test]
fn empty_operands_broadcast_to_empty() {
    let a = TensorData::zeros([0, 3], DType::F32);
    let b = f32t(&[1.0, 2.0, 3.0], &[1, 3]);
    let c = a.add(&b).unwrap();
    assert_eq!(c.dims(), &[0, 3]);
    assert_eq!(c.numel(), 0);
    // (0,) with () -> (0,)
    let e = TensorData::zeros([0], DType::F64).mul(&TensorData::scalar(2.0f64)).unwrap();
    assert_eq!(e.dims(), &[0]);
}

#[test]
fn sum_to_shape_reverses_broadcasting() {
    // g (2,3) = [[1,2,3],[4,5,6]]
    let g = f64t(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
    // to (3,): column sums [5, 7, 9]
    assert_tensor(&g.sum_to_shape(&Shape::new(&[3])).unwrap(), &[3], &[5.0, 7.0, 9.0], 0.0);
    // to (2,1): row sums [6, 15]
    assert_tensor(&g.sum_to_shape(&Shape::new(&[2, 1])).unwrap(), &[2, 1], &[6.0, 15.0], 0.0);
    // to (): total 21
    assert_tensor(&g.sum_to_shape(&Shape::scalar()).unwrap(), &[], &[21.0], 0.0);
    // to (1,3): [[5,7,9]]; non-contiguous source (transpose of a (3,2)) gives the same.
    let gt = f64t(&[1.0, 4.0, 2.0, 5.0, 3.0, 6.0], &[3, 2]).t().unwrap();
    assert_tensor(&gt.sum_to_shape(&Shape::new(&[1, 3])).unwrap(), &[1, 3], &[5.0, 7.0, 9.0], 0.0);
    // Same shape: unchanged.
    assert_eq!(vals(&g.sum_to_shape(&Shape::new(&[2, 3])).unwrap()), vals(&g));
    // (2,3) does not come from broadcasting (4,) or (2,3,1)... error.
    assert!(matches!(g.sum_to_shape(&Shape::new(&[4])).unwrap_err(), Error::ShapeMismatch { .. }));
    assert!(g.sum_to_shape(&Shape::new(&[5, 2, 3])).is_err());
}

#[test]
fn inputs_are_not_modified_and_results_own_storage() {
    let a = f64t(&[1.0, 2.0], &[2]);
    let b = f64t(&[3.0, 4.0], &[2]);
    let c = a.add(&b).unwrap();
    assert!(!c.shares_storage(&a) && !c.shares_storage(&b));
    assert_eq!(vals(&a), vec![1.0, 2.0]);
    assert_eq!(vals(&b), vec![3.0, 4.0]);
}

#[test]
fn f32_ops_round_like_f32() {
    // 0.1f32 + 0.2f32 = 0.3f32 exactly in f32 (0.30000001192...), unlike f64.
    let a = f32t(&[0.1], &[1]);
    let b = f32t(&[0.2], &[1]);
    assert_eq!(a.add(&b).unwrap().to_vec::<f32>().unwrap(), vec![0.1f32 + 0.2f32]);
    // 16777216 + 1 = 16777216 in f32 (2^24 is where the spacing becomes 2).
    let big = f32t(&[16_777_216.0], &[1]);
    assert_eq!(big.add_scalar(1.0).unwrap().to_vec::<f32>().unwrap(), vec![16_777_216.0]);
}

/// `a e^b` (the shape of a derivative rule, `g * f'(x)`), written over `Real`.
struct AExpB;
impl torchlet_tensor_core::simd::kernels::BinaryFn for AExpB {
    fn call<T: torchlet_tensor_core::simd::Real>(&self, a: T, b: T) -> T {
        a * b.exp()
    }
}

#[test]
fn zip_real_broadcasts_and_reads_every_layout() {
    // Every path of `zip_real` (equal contiguous shapes, a single value on either side, a
    // broadcast row, a transposed view) against `a e^b` in f64 from the stored inputs, and in
    // f32 within 4 ulp of it (exp is within 2, the product rounds once more). Sizes above the threads' threshold (65,536) and below it.
    for (r, c) in [(3, 5), (300, 257)] {
        let n = r * c;
        let a: Vec<f64> = (0..n).map(|i| ((i * 37) % 101) as f64 / 25.0 - 2.0).collect();
        let b: Vec<f64> = (0..n).map(|i| ((i * 53) % 97) as f64 / 12.0 - 4.0).collect();
        for dt in [DType::F64, DType::F32] {
            let ta = f64t(&a, &[r, c]).to_dtype(dt);
            let tb = f64t(&b, &[r, c]).to_dtype(dt);
            // The inputs as stored (rounded to f32 in the f32 pass).
            let (a, b) = (vals(&ta), vals(&tb));
            let row: Vec<f64> = b[..c].to_vec();
            let want = |i: usize, bv: f64| a[i] * bv.exp();
            let close = |got: &TensorData, w: &dyn Fn(usize) -> f64, what: &str| {
                assert_eq!(got.shape().dims(), &[r, c], "{what}");
                let tol = if dt == DType::F32 { 4.0 * f32::EPSILON as f64 } else { 1e-15 };
                for (i, g) in vals(got).iter().enumerate() {
                    let w = w(i);
                    assert!((g - w).abs() <= tol * w.abs() + 1e-30, "{what} {dt:?} [{i}]: {g} vs {w}");
                }
            };
            close(&ta.zip_real(&tb, "test", &AExpB).unwrap(), &|i| want(i, b[i]), "equal shapes");
            let tr = f64t(&row, &[c]).to_dtype(dt);
            close(&ta.zip_real(&tr, "test", &AExpB).unwrap(), &|i| want(i, row[i % c]), "row");
            let s = f64t(&[0.5], &[]).to_dtype(dt);
            close(&ta.zip_real(&s, "test", &AExpB).unwrap(), &|i| want(i, 0.5), "one value second");
            let sx = f64t(&[1.5], &[1, 1]).to_dtype(dt).expand([r, c]).unwrap();
            close(&sx.zip_real(&tb, "test", &AExpB).unwrap(), &|i| 1.5 * b[i].exp(), "one value first");
            // b stored transposed, read through a non-contiguous view.
            let b_t: Vec<f64> = (0..n).map(|k| b[(k % r) * c + k / r]).collect();
            let bt = f64t(&b_t, &[c, r]).to_dtype(dt).t().unwrap();
            assert!(!bt.is_contiguous());
            close(&ta.zip_real(&bt, "test", &AExpB).unwrap(), &|i| want(i, b[i]), "transposed view");
        }
    }
    // Empty and 0-d operands, and the errors: mismatched dtypes, shapes that do not broadcast.
    let e = f32t(&[], &[0, 3]).zip_real(&f32t(&[1.0, 2.0, 3.0], &[3]), "test", &AExpB).unwrap();
    assert_eq!(e.shape().dims(), &[0, 3]);
    let z = f64t(&[2.0], &[]).zip_real(&f64t(&[0.0], &[]), "test", &AExpB).unwrap();
    assert_eq!((z.shape().ndim(), vals(&z)), (0, vec![2.0]));
    let err = f32t(&[1.0], &[1]).zip_real(&f64t(&[1.0], &[1]), "zip_test", &AExpB).unwrap_err();
    assert!(err.to_string().contains("zip_test"), "{err}");
    let err = f32t(&[1.0; 6], &[2, 3]).zip_real(&f32t(&[1.0; 2], &[2]), "zip_test", &AExpB).unwrap_err();
    assert!(err.to_string().contains("zip_test") && err.to_string().contains("[2, 3]"), "{err}");
}
