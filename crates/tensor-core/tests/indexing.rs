//! gather / index_select and their adjoint scatter-adds, cat, stack, narrow, narrow_embed,
//! one_hot, masked_fill, and index errors.

mod common;
use common::*;
use torchlet_tensor_core::{DType, Error, Generator, Shape, TensorData};

/// `x (2,2) = [[1,2],[3,4]]`.
fn x22() -> TensorData {
    f64t(&[1.0, 2.0, 3.0, 4.0], &[2, 2])
}

#[test]
fn gather_dim0_and_dim1() {
    let x = x22();
    let idx = i64t(&[0, 0, 1, 0], &[2, 2]);
    // dim 1 (PyTorch docs): out[i][j] = x[i][idx[i][j]] = [[x00, x00], [x11, x10]] = [[1,1],[4,3]]
    assert_tensor(&x.gather(1, &idx).unwrap(), &[2, 2], &[1.0, 1.0, 4.0, 3.0], 0.0);
    // dim 0: out[i][j] = x[idx[i][j]][j] = [[x00, x01], [x10, x01]] = [[1,2],[3,2]]
    assert_tensor(&x.gather(0, &idx).unwrap(), &[2, 2], &[1.0, 2.0, 3.0, 2.0], 0.0);
    // Negative dim -1 is dim 1.
    assert_tensor(&x.gather(-1, &idx).unwrap(), &[2, 2], &[1.0, 1.0, 4.0, 3.0], 0.0);
    // The index may be smaller than the input in the other dims, and longer along dim:
    // idx (1,3) on dim 1: [[x01, x01, x00]] = [[2,2,1]]
    assert_tensor(&x.gather(1, &i64t(&[1, 1, 0], &[1, 3])).unwrap(), &[1, 3], &[2.0, 2.0, 1.0], 0.0);
    // A non-contiguous input: x^T = [[1,3],[2,4]]; gather(1, [[1],[0]]) = [[3],[2]]
    let xt = x.t().unwrap();
    assert_tensor(&xt.gather(1, &i64t(&[1, 0], &[2, 1])).unwrap(), &[2, 1], &[3.0, 2.0], 0.0);
    // i64 and bool inputs gather too.
    let xi = i64t(&[10, 20, 30], &[3]);
    assert_eq!(xi.gather(0, &i64t(&[2, 2, 0], &[3])).unwrap().to_vec::<i64>().unwrap(), vec![30, 30, 10]);
}

#[test]
fn gather_picks_targets_like_range_indexing() {
    // PyTorch's x[range(n), target] as x.gather(1, t.unsqueeze(1)).
    // x (3,4) = [[0,1,2,3],[4,5,6,7],[8,9,10,11]], t = [3, 0, 2] -> [3, 4, 10]
    let x = iota(&[3, 4]);
    let t = i64t(&[3, 0, 2], &[3]);
    let g = x.gather(1, &t.unsqueeze(1).unwrap()).unwrap();
    assert_tensor(&g, &[3, 1], &[3.0, 4.0, 10.0], 0.0);
    assert_tensor(&g.squeeze_dim(1).unwrap(), &[3], &[3.0, 4.0, 10.0], 0.0);
}

/// Naive gather: out[idx] = x[idx with idx[d] replaced by index[idx]].
fn naive_gather(x: &[f64], xd: &[usize], d: usize, index: &[i64], id: &[usize]) -> Vec<f64> {
    (0..index.len())
        .map(|flat| {
            let mut pos = unravel(flat, id);
            pos[d] = index[flat] as usize;
            x[ravel(&pos, xd)]
        })
        .collect()
}

/// Naive scatter_add into zeros of `xd`: out[pos with pos[d] = index[pos]] += src[pos].
fn naive_scatter(xd: &[usize], d: usize, index: &[i64], id: &[usize], src: &[f64]) -> Vec<f64> {
    let mut out = vec![0.0; xd.iter().product()];
    for flat in 0..index.len() {
        let mut pos = unravel(flat, id);
        pos[d] = index[flat] as usize;
        out[ravel(&pos, xd)] += src[flat];
    }
    out
}

#[test]
fn gather_and_scatter_add_three_d_are_adjoint() {
    let mut g = Generator::new(5);
    let xd = [3usize, 4, 5];
    let x = randn(&xd, 41);
    for d in 0..3 {
        // An index no larger than x in the other dims (strictly smaller in one of them) and
        // longer than x along d, with repeated entries.
        let mut id = xd.to_vec();
        id[(d + 1) % 3] -= 1;
        id[d] = 6;
        let index = TensorData::randint_with(0, xd[d] as i64, id.as_slice(), &mut g).unwrap();
        let iv = index.to_vec::<i64>().unwrap();
        let gx = x.gather(d as isize, &index).unwrap();
        assert_tensor(&gx, &id, &naive_gather(&vals(&x), &xd, d, &iv, &id), 0.0);
        let y = randn(&id, 50 + d as u64);
        let s = TensorData::scatter_add_zeros(&Shape::new(&xd), d as isize, &index, &y).unwrap();
        assert_tensor(&s, &xd, &naive_scatter(&xd, d, &iv, &id, &vals(&y)), 1e-12);
        // <gather(x), y> == <x, scatter_add(y)>: scatter_add is the adjoint of gather.
        let lhs = dot(&vals(&gx), &vals(&y));
        let rhs = dot(&vals(&x), &vals(&s));
        assert!((lhs - rhs).abs() < 1e-10, "dim {d}: {lhs} vs {rhs}");
        // Negative dims agree.
        let neg = d as isize - 3;
        assert_eq!(vals(&x.gather(neg, &index).unwrap()), vals(&gx));
        assert_eq!(
            vals(&TensorData::scatter_add_zeros(&Shape::new(&xd), neg, &index, &y).unwrap()),
            vals(&s)
        );
    }
}

#[test]
fn large_gathers_from_a_view_split_across_threads() {
    // Above the thread split (65,536 values), from a transposed (non-contiguous) source,
    // along each dim: against the definition out[pos] = x[pos with pos[d] = index[pos]].
    let mut g = Generator::new(11);
    let base = randn(&[40, 9, 300], 12);
    let x = base.transpose(0, 2).unwrap(); // (300, 9, 40), strides (1, 300, 2700)
    let xd = [300usize, 9, 40];
    let xv = vals(&x);
    for d in 0..3 {
        // Longer than x along d (values repeat), one smaller elsewhere.
        let mut id = xd.to_vec();
        id[(d + 1) % 3] -= 1;
        id[d] = 70_001 / (id[(d + 1) % 3] * id[(d + 2) % 3]) + 1;
        let index = TensorData::randint_with(0, xd[d] as i64, id.as_slice(), &mut g).unwrap();
        assert!(index.numel() > 70_000);
        let got = x.gather(d as isize, &index).unwrap();
        let want = naive_gather(&xv, &xd, d, &index.to_vec::<i64>().unwrap(), &id);
        assert_tensor(&got, &id, &want, 0.0);
    }
    // f32, a (1000, 10) index into (1000, 1000) along the last dim (one value a row).
    let x = TensorData::randint_with(0, 1 << 20, &[1000, 1000][..], &mut g).unwrap().to_dtype(DType::F32);
    let index = TensorData::randint_with(0, 1000, &[1000, 10][..], &mut g).unwrap();
    let want = naive_gather(&vals(&x), &[1000, 1000], 1, &index.to_vec::<i64>().unwrap(), &[1000, 10]);
    assert_tensor(&x.gather(1, &index).unwrap(), &[1000, 10], &want, 0.0);
}

#[test]
fn large_index_adds_split_across_threads_match_the_definition() {
    // Above the thread split (65,536 values), along each dim, indices repeating and out of
    // order: out = self, then out[pos with pos[d] = index[k]] += source[pos with pos[d] = k]
    // for k in order (the adds of a repeated index in index order: the same bits).
    let mut g = Generator::new(21);
    let xd = [40usize, 50, 60];
    let x = randn(&xd, 22);
    let xv = vals(&x);
    for d in 0..3 {
        let k = 97;
        let index = TensorData::randint_with(0, xd[d] as i64, [k], &mut g).unwrap();
        let iv = index.to_vec::<i64>().unwrap();
        let mut sd = xd.to_vec();
        sd[d] = k;
        let src = randn(&sd, 23 + d as u64);
        let sv = vals(&src);
        let mut want = xv.clone();
        for (f, &v) in sv.iter().enumerate() {
            let mut p = unravel(f, &sd);
            p[d] = iv[p[d]] as usize;
            want[ravel(&p, &xd)] += v;
        }
        let got = x.index_add(d as isize, &index, &src).unwrap();
        assert_tensor(&got, &xd, &want, 0.0);
    }
}

#[test]
fn large_masks_select_their_values_in_row_major_order() {
    // x[mask] and mask.nonzero() for masks of x's shape, above the thread split (65,536) and across the
    // 32,768-value chunks: random, all true, all false, one true value at a chunk's end;
    // from a transposed (non-contiguous) x too. Against filtering the values in order.
    let base = randn(&[300, 700], 70);
    for x in [base.clone(), base.t().unwrap()] {
        let xv = vals(&x);
        let n = xv.len();
        let mut g = Generator::new(71);
        let random: Vec<bool> = TensorData::rand_with(&[n][..], DType::F64, &mut g)
            .unwrap()
            .to_vec::<f64>()
            .unwrap()
            .iter()
            .map(|&u| u < 0.4)
            .collect();
        let masks = [random, vec![true; n], vec![false; n], (0..n).map(|i| i == 32_767).collect()];
        for (k, m) in masks.into_iter().enumerate() {
            let want: Vec<f64> = xv.iter().zip(&m).filter(|(_, &b)| b).map(|(&v, _)| v).collect();
            // nonzero: the (row, column) of each true value, in order.
            let cols = x.dims()[1];
            let coords: Vec<i64> =
                (0..n).filter(|&i| m[i]).flat_map(|i| [(i / cols) as i64, (i % cols) as i64]).collect();
            let mask = TensorData::from_vec(m, x.shape().clone()).unwrap();
            let got = x.index(&[Some(mask.clone())]).unwrap();
            assert_eq!(got.dims(), &[want.len()], "mask {k}");
            assert_eq!(vals(&got), want, "mask {k}");
            let nz = mask.nonzero().unwrap();
            assert_eq!(nz.dims(), &[want.len(), 2], "mask {k}");
            assert_eq!(nz.to_vec::<i64>().unwrap(), coords, "mask {k}");
        }
    }
}

#[test]
fn scatter_add_hand_values() {
    // Gradient of x.gather(1, [[0,0],[1,0]]) for x (2,3) with upstream g = [[1,2],[3,4]]:
    // row 0 gets 1 + 2 at column 0; row 1 gets 3 at column 1 and 4 at column 0.
    let idx = i64t(&[0, 0, 1, 0], &[2, 2]);
    let g = f64t(&[1.0, 2.0, 3.0, 4.0], &[2, 2]);
    let s = TensorData::scatter_add_zeros(&Shape::new(&[2, 3]), 1, &idx, &g).unwrap();
    assert_tensor(&s, &[2, 3], &[3.0, 0.0, 0.0, 4.0, 3.0, 0.0], 0.0);
    // dim 0 into (3,2): out[idx[i][j]][j] += g[i][j] -> out[0][0] = 1, out[0][1] = 2 + 4, out[1][0] = 3
    let s = TensorData::scatter_add_zeros(&Shape::new(&[3, 2]), 0, &idx, &g).unwrap();
    assert_tensor(&s, &[3, 2], &[1.0, 6.0, 3.0, 0.0, 0.0, 0.0], 0.0);
}

#[test]
fn scatter_add_rejects_bad_shapes_and_indices() {
    let shape = Shape::new(&[2, 3]);
    // index and src must match.
    let e = TensorData::scatter_add_zeros(&shape, 1, &i64t(&[0, 1], &[2, 1]), &iota(&[2, 2])).unwrap_err();
    assert!(matches!(e, Error::ShapeMismatch { op: "scatter_add", .. }), "{e:?}");
    // An index value outside [0, 3).
    let e = TensorData::scatter_add_zeros(&shape, 1, &i64t(&[0, 3], &[2, 1]), &iota(&[2, 1])).unwrap_err();
    assert_eq!(
        e,
        Error::IndexOutOfRange {
            op: "scatter_add",
            what: "index",
            index: 3,
            size: 3,
            extra: ": dimension 1 has size 3".into()
        }
    );
    // The index may not be larger than the output in the other dims (PyTorch:
    // "Expected index [3, 1] to be smaller than self [2, 3] apart from dimension 1").
    let e = TensorData::scatter_add_zeros(&shape, 1, &i64t(&[0, 1, 2], &[3, 1]), &iota(&[3, 1])).unwrap_err();
    assert!(matches!(e, Error::ShapeMismatch { op: "scatter_add", .. }), "{e:?}");
    let e =
        TensorData::scatter_add_zeros(&Shape::new(&[2, 2]), 0, &i64t(&[0, 1, 0], &[1, 3]), &iota(&[1, 3]))
            .unwrap_err();
    assert!(matches!(e, Error::ShapeMismatch { op: "scatter_add", .. }), "{e:?}");
    // ... and must have the same rank.
    let e = TensorData::scatter_add_zeros(&shape, 1, &i64t(&[0, 1], &[2]), &iota(&[2])).unwrap_err();
    assert!(matches!(e, Error::ShapeMismatch { op: "scatter_add", .. }), "{e:?}");
    // dim out of range
    let (op, dim, ndim) =
        dim_err(TensorData::scatter_add_zeros(&shape, 2, &i64t(&[0], &[1, 1]), &iota(&[1, 1])));
    assert_eq!((op, dim, ndim), ("scatter_add", 2, 2));
}

#[test]
fn gather_errors() {
    let x = x22();
    // Out of range, too large and negative.
    let e = x.gather(1, &i64t(&[0, 2], &[2, 1])).unwrap_err();
    assert_eq!(
        e,
        Error::IndexOutOfRange {
            op: "gather",
            what: "index",
            index: 2,
            size: 2,
            extra: ": dimension 1 has size 2".into()
        }
    );
    assert_eq!(
        e.to_string(),
        "gather: index 2 is out of range (expected a value in [0, 2): dimension 1 has size 2)"
    );
    let e = x.gather(0, &i64t(&[-1, 0], &[1, 2])).unwrap_err();
    assert!(matches!(e, Error::IndexOutOfRange { index: -1, size: 2, .. }), "{e:?}");
    // Rank mismatch, and an index larger than the input outside dim.
    assert!(matches!(
        x.gather(1, &i64t(&[0, 1], &[2])).unwrap_err(),
        Error::ShapeMismatch { op: "gather", .. }
    ));
    assert!(matches!(
        x.gather(1, &i64t(&[0, 1, 0], &[3, 1])).unwrap_err(),
        Error::ShapeMismatch { op: "gather", .. }
    ));
    // A float index is a dtype error.
    let e = x.gather(1, &x22()).unwrap_err();
    assert!(matches!(e, Error::DTypeMismatch { op: "gather", got: DType::F64, .. }), "{e:?}");
    // Bad dim.
    assert_eq!(dim_err(x.gather(2, &i64t(&[0], &[1, 1]))), ("gather", 2, 2));
    // A dim of size 0: any index is outside it; an empty index gives an empty result.
    let empty = TensorData::zeros([3, 0], DType::F32);
    let e = empty.gather(1, &i64t(&[0, 0], &[2, 1])).unwrap_err();
    assert!(matches!(e, Error::IndexOutOfRange { index: 0, size: 0, .. }), "{e:?}");
    assert_eq!(empty.gather(1, &i64t(&[], &[2, 0])).unwrap().dims(), &[2, 0]);
}

#[test]
fn gather_checks_a_large_index_as_it_reads() {
    // x = iota (400, 300): x[i][k] = 300 i + k. A (400, 250) index along dim 1 (120,000
    // values: every core) picks x[i][idx] = 300 i + idx; along dim 0 (values after dim)
    // x[idx][j] = 300 idx + j.
    let x = iota(&[400, 300]);
    let idx: Vec<i64> = (0..400 * 250).map(|k| (k * 7 % 300) as i64).collect();
    let got = vals(&x.gather(1, &i64t(&idx, &[400, 250])).unwrap());
    let want: Vec<f64> =
        idx.iter().enumerate().map(|(k, &j)| (300 * (k / 250) + j as usize) as f64).collect();
    assert_close(&got, &want, 0.0);
    let rows: Vec<i64> = (0..250 * 300).map(|k| (k * 13 % 400) as i64).collect();
    let got = vals(&x.gather(0, &i64t(&rows, &[250, 300])).unwrap());
    let want: Vec<f64> = rows.iter().enumerate().map(|(k, &i)| (300 * i as usize + k % 300) as f64).collect();
    assert_close(&got, &want, 0.0);
    // Along a strided dim (the transpose: xt[i][j] = x[j][i] = 300 j + i), checked the same way.
    let xt = x.t().unwrap();
    let cols: Vec<i64> = (0..300 * 250).map(|k| (k * 11 % 400) as i64).collect();
    let got = vals(&xt.gather(1, &i64t(&cols, &[300, 250])).unwrap());
    let want: Vec<f64> = cols.iter().enumerate().map(|(k, &j)| (300 * j as usize + k / 250) as f64).collect();
    assert_close(&got, &want, 0.0);
    let mut bad = cols.clone();
    bad[70_000] = 400;
    let e = xt.gather(1, &i64t(&bad, &[300, 250])).unwrap_err();
    assert!(matches!(e, Error::IndexOutOfRange { op: "gather", index: 400, size: 400, .. }), "{e:?}");
    // Values outside late in the index, on either side: an error naming the first one.
    let mut bad = idx.clone();
    (bad[70_000], bad[90_000]) = (300, -3);
    let e = x.gather(1, &i64t(&bad, &[400, 250])).unwrap_err();
    assert!(matches!(e, Error::IndexOutOfRange { op: "gather", index: 300, size: 300, .. }), "{e:?}");
    let mut bad = rows.clone();
    (bad[50_001], bad[60_000]) = (-1, 400);
    let e = x.gather(0, &i64t(&bad, &[250, 300])).unwrap_err();
    assert!(matches!(e, Error::IndexOutOfRange { op: "gather", index: -1, size: 400, .. }), "{e:?}");
}

#[test]
fn index_select_and_index_add_are_adjoint() {
    // x (3,4) = 0..12; select rows [2, 0, 2] -> [[8..11],[0..3],[8..11]]
    let x = iota(&[3, 4]);
    let rows = x.index_select(0, &i64t(&[2, 0, 2], &[3])).unwrap();
    let want: Vec<f64> = [8, 9, 10, 11, 0, 1, 2, 3, 8, 9, 10, 11].iter().map(|&v| v as f64).collect();
    assert_tensor(&rows, &[3, 4], &want, 0.0);
    // columns [3, 1] -> [[3,1],[7,5],[11,9]]
    let cols = x.index_select(-1, &i64t(&[3, 1], &[2])).unwrap();
    assert_tensor(&cols, &[3, 2], &[3.0, 1.0, 7.0, 5.0, 11.0, 9.0], 0.0);
    // A 0-d index keeps the dim with size 1: x.index_select(1, tensor(2)) -> (3,1) = [[2],[6],[10]].
    assert_tensor(&x.index_select(1, &TensorData::scalar(2i64)).unwrap(), &[3, 1], &[2.0, 6.0, 10.0], 0.0);
    // On a transposed input: x^T (4,3), rows [1] = column 1 of x = [1, 5, 9]
    let xt = x.t().unwrap();
    assert_tensor(&xt.index_select(0, &i64t(&[1], &[1])).unwrap(), &[1, 3], &[1.0, 5.0, 9.0], 0.0);
    // index_add_zeros: the gradient of selecting rows [2,0,2] from (3,4): row 2 gets two slices.
    let g = iota(&[3, 4]).add_scalar(1.0).unwrap(); // [[1..4],[5..8],[9..12]]
    let back = TensorData::index_add_zeros(&Shape::new(&[3, 4]), 0, &i64t(&[2, 0, 2], &[3]), &g).unwrap();
    // row 0 = [5,6,7,8]; row 1 = 0; row 2 = [1+9, 2+10, 3+11, 4+12]
    let want = [5.0, 6.0, 7.0, 8.0, 0.0, 0.0, 0.0, 0.0, 10.0, 12.0, 14.0, 16.0];
    assert_tensor(&back, &[3, 4], &want, 0.0);
    // Adjointness on a 3-D tensor along every dim: <index_select(x), y> == <x, index_add(y)>.
    let mut gen = Generator::new(9);
    let xd = [3usize, 4, 5];
    let x3 = randn(&xd, 61);
    for d in 0..3 {
        let idx = TensorData::randint_with(0, xd[d] as i64, [7], &mut gen).unwrap();
        let sel = x3.index_select(d as isize, &idx).unwrap();
        let mut sd = xd.to_vec();
        sd[d] = 7;
        assert_eq!(sel.dims(), sd.as_slice());
        // Naive select.
        let iv = idx.to_vec::<i64>().unwrap();
        let xv = vals(&x3);
        let want: Vec<f64> = (0..sel.numel())
            .map(|f| {
                let mut p = unravel(f, &sd);
                p[d] = iv[p[d]] as usize;
                xv[ravel(&p, &xd)]
            })
            .collect();
        assert_eq!(vals(&sel), want);
        let y = randn(&sd, 70 + d as u64);
        let back = TensorData::index_add_zeros(&Shape::new(&xd), d as isize, &idx, &y).unwrap();
        let (l, r) = (dot(&vals(&sel), &vals(&y)), dot(&xv, &vals(&back)));
        assert!((l - r).abs() < 1e-10, "dim {d}: {l} vs {r}");
    }
}

#[test]
fn index_select_and_index_add_errors() {
    let x = iota(&[3, 4]);
    let e = x.index_select(0, &i64t(&[0, 3], &[2])).unwrap_err();
    assert_eq!(
        e,
        Error::IndexOutOfRange {
            op: "index_select",
            what: "index",
            index: 3,
            size: 3,
            extra: ": dimension 0 has size 3".into()
        }
    );
    assert!(matches!(
        x.index_select(1, &i64t(&[-1], &[1])).unwrap_err(),
        Error::IndexOutOfRange { index: -1, .. }
    ));
    assert!(matches!(x.index_select(0, &i64t(&[0, 1], &[1, 2])).unwrap_err(), Error::InvalidArgument { .. }));
    assert!(matches!(x.index_select(0, &f64t(&[0.0], &[1])).unwrap_err(), Error::DTypeMismatch { .. }));
    assert_eq!(dim_err(x.index_select(2, &i64t(&[0], &[1]))), ("index_select", 2, 2));
    let s = Shape::new(&[3, 4]);
    let e = TensorData::index_add_zeros(&s, 0, &i64t(&[5], &[1]), &iota(&[1, 4])).unwrap_err();
    assert!(matches!(e, Error::IndexOutOfRange { op: "index_add", index: 5, size: 3, .. }), "{e:?}");
    // src must have the selected shape: (len(index), 4) for dim 0.
    for bad in [&[2usize, 4][..], &[1, 3], &[4], &[1, 4, 1]] {
        let e = TensorData::index_add_zeros(&s, 0, &i64t(&[1], &[1]), &iota(bad)).unwrap_err();
        assert!(matches!(e, Error::ShapeMismatch { op: "index_add", .. }), "{bad:?}: {e:?}");
    }
}

#[test]
fn cat_and_stack() {
    let a = f64t(&[1.0, 2.0, 3.0, 4.0], &[2, 2]);
    let b = f64t(&[5.0, 6.0], &[1, 2]);
    // cat dim 0: [[1,2],[3,4],[5,6]]
    assert_tensor(&TensorData::cat(&[&a, &b], 0).unwrap(), &[3, 2], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 0.0);
    // cat dim 1 with a (2,1): [[1,2,7],[3,4,8]]; and three pieces along -1.
    let c = f64t(&[7.0, 8.0], &[2, 1]);
    assert_tensor(&TensorData::cat(&[&a, &c], 1).unwrap(), &[2, 3], &[1.0, 2.0, 7.0, 3.0, 4.0, 8.0], 0.0);
    let three = TensorData::cat(&[&c, &a, &c], -1).unwrap();
    assert_tensor(&three, &[2, 4], &[7.0, 1.0, 2.0, 7.0, 8.0, 3.0, 4.0, 8.0], 0.0);
    // Non-contiguous pieces: a^T = [[1,3],[2,4]] next to a.
    let at = a.t().unwrap();
    assert_tensor(
        &TensorData::cat(&[&at, &a], 1).unwrap(),
        &[2, 4],
        &[1.0, 3.0, 1.0, 2.0, 2.0, 4.0, 3.0, 4.0],
        0.0,
    );
    // 3-D along the middle dim against a naive loop.
    let p = iota(&[2, 1, 3]);
    let q = iota(&[2, 2, 3]).add_scalar(100.0).unwrap();
    let r = TensorData::cat(&[&p, &q], 1).unwrap();
    let (pv, qv) = (vals(&p), vals(&q));
    let want: Vec<f64> = (0..18)
        .map(|f| {
            let i = unravel(f, &[2, 3, 3]);
            if i[1] < 1 {
                pv[ravel(&i, &[2, 1, 3])]
            } else {
                qv[ravel(&[i[0], i[1] - 1, i[2]], &[2, 2, 3])]
            }
        })
        .collect();
    assert_tensor(&r, &[2, 3, 3], &want, 0.0);
    // An empty piece is fine.
    let e = TensorData::zeros([0, 2], DType::F64);
    assert_tensor(&TensorData::cat(&[&e, &b], 0).unwrap(), &[1, 2], &[5.0, 6.0], 0.0);
    // stack: new dim 0 -> (2,2,2); new dim 2 (= -1) interleaves.
    let s = TensorData::stack(&[&a, &at], 0).unwrap();
    assert_tensor(&s, &[2, 2, 2], &[1.0, 2.0, 3.0, 4.0, 1.0, 3.0, 2.0, 4.0], 0.0);
    let s = TensorData::stack(&[&a, &at], -1).unwrap();
    assert_tensor(&s, &[2, 2, 2], &[1.0, 1.0, 2.0, 3.0, 3.0, 2.0, 4.0, 4.0], 0.0);
    let s = TensorData::stack(&[&a, &at], 1).unwrap();
    assert_tensor(&s, &[2, 2, 2], &[1.0, 2.0, 1.0, 3.0, 3.0, 4.0, 2.0, 4.0], 0.0);
    // Stacking 0-d tensors makes a vector.
    let (x, y) = (TensorData::scalar(1i64), TensorData::scalar(2i64));
    assert_eq!(TensorData::stack(&[&x, &y], 0).unwrap().to_vec::<i64>().unwrap(), vec![1, 2]);
}

#[test]
fn cat_and_stack_errors() {
    let a = iota(&[2, 2]);
    let b = iota(&[2, 3]);
    let e = TensorData::cat(&[&a, &b], 0).unwrap_err();
    assert!(matches!(e, Error::ShapeMismatch { op: "cat", .. }), "{e:?}");
    assert!(e.to_string().contains("[2, 2] and [2, 3]"), "{e}");
    assert!(TensorData::cat(&[&a, &b], 1).is_ok());
    assert!(matches!(TensorData::cat(&[&a, &iota(&[4])], 0).unwrap_err(), Error::ShapeMismatch { .. }));
    let e = TensorData::cat(&[&a, &a.to_dtype(DType::F32)], 0).unwrap_err();
    assert!(matches!(e, Error::DTypeMismatch { op: "cat", .. }), "{e:?}");
    assert!(matches!(TensorData::cat(&[], 0).unwrap_err(), Error::InvalidArgument { op: "cat", .. }));
    let s = TensorData::scalar(1.0f64);
    assert!(matches!(TensorData::cat(&[&s, &s], 0).unwrap_err(), Error::InvalidArgument { .. }));
    assert_eq!(dim_err(TensorData::cat(&[&a, &a], 2)), ("cat", 2, 2));
    let e = TensorData::stack(&[&a, &b], 0).unwrap_err();
    assert!(matches!(e, Error::ShapeMismatch { op: "stack", .. }), "{e:?}");
    // stack accepts dims in [-3, 2] for 2-D inputs.
    assert!(TensorData::stack(&[&a, &a], 2).is_ok() && TensorData::stack(&[&a, &a], -3).is_ok());
    assert_eq!(dim_err(TensorData::stack(&[&a, &a], 3)), ("stack", 3, 3));
    assert!(TensorData::stack(&[], 0).is_err());
}

#[test]
fn narrow_and_narrow_embed_are_adjoint() {
    // x (3,4) = 0..12; narrow(1, 1, 2) = [[1,2],[5,6],[9,10]], a view of the same storage.
    let x = iota(&[3, 4]);
    let n = x.narrow(1, 1, 2).unwrap();
    assert_tensor(&n, &[3, 2], &[1.0, 2.0, 5.0, 6.0, 9.0, 10.0], 0.0);
    assert!(n.shares_storage(&x));
    // narrow(0, 2, 1) = [[8,9,10,11]]; narrow(-1, 3, 1) = last column; empty narrows are fine.
    assert_tensor(&x.narrow(0, 2, 1).unwrap(), &[1, 4], &[8.0, 9.0, 10.0, 11.0], 0.0);
    assert_tensor(&x.narrow(-1, 3, 1).unwrap(), &[3, 1], &[3.0, 7.0, 11.0], 0.0);
    assert_eq!(x.narrow(0, 3, 0).unwrap().dims(), &[0, 4]);
    // Narrow of a narrow composes offsets: columns 1..3, then rows 1..3 = [[5,6],[9,10]].
    assert_tensor(&n.narrow(0, 1, 2).unwrap(), &[2, 2], &[5.0, 6.0, 9.0, 10.0], 0.0);
    // narrow_embed puts src back at its place, zeros elsewhere.
    let g = f64t(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[3, 2]);
    let e = TensorData::narrow_embed(&Shape::new(&[3, 4]), 1, 1, &g).unwrap();
    assert_tensor(&e, &[3, 4], &[0.0, 1.0, 2.0, 0.0, 0.0, 3.0, 4.0, 0.0, 0.0, 5.0, 6.0, 0.0], 0.0);
    // At the start and at the end of the dim.
    let e = TensorData::narrow_embed(&Shape::new(&[3, 3]), 1, 0, &g).unwrap();
    assert_tensor(&e, &[3, 3], &[1.0, 2.0, 0.0, 3.0, 4.0, 0.0, 5.0, 6.0, 0.0], 0.0);
    let e = TensorData::narrow_embed(&Shape::new(&[3, 3]), -1, 1, &g).unwrap();
    assert_tensor(&e, &[3, 3], &[0.0, 1.0, 2.0, 0.0, 3.0, 4.0, 0.0, 5.0, 6.0], 0.0);
    // Adjoint on 3-D along every dim: <narrow(x), y> == <x, narrow_embed(y)>.
    let xd = [4usize, 5, 6];
    let x3 = randn(&xd, 81);
    for d in 0..3 {
        let (start, len) = (1, xd[d] - 2);
        let nx = x3.narrow(d as isize, start, len).unwrap();
        let y = randn(nx.dims(), 90 + d as u64);
        let back = TensorData::narrow_embed(&Shape::new(&xd), d as isize, start, &y).unwrap();
        assert_eq!(back.dims(), &xd);
        let (l, r) = (dot(&vals(&nx), &vals(&y)), dot(&vals(&x3), &vals(&back)));
        assert!((l - r).abs() < 1e-10, "dim {d}: {l} vs {r}");
    }
}

#[test]
fn narrow_errors() {
    let x = iota(&[3, 4]);
    let e = x.narrow(1, 3, 2).unwrap_err();
    assert!(matches!(e, Error::InvalidArgument { op: "narrow", .. }), "{e:?}");
    assert!(e.to_string().contains("exceeds"), "{e}");
    assert_eq!(dim_err(x.narrow(2, 0, 1)), ("narrow", 2, 2));
    assert!(TensorData::scalar(1.0f32).narrow(0, 0, 1).is_err());
    // narrow_embed: src larger than the room left, wrong rank, other dims differing.
    let s = Shape::new(&[3, 4]);
    let e = TensorData::narrow_embed(&s, 1, 3, &iota(&[3, 2])).unwrap_err();
    assert!(matches!(e, Error::ShapeMismatch { op: "narrow", .. }), "{e:?}");
    let e = TensorData::narrow_embed(&s, 1, 0, &iota(&[2])).unwrap_err();
    assert!(matches!(e, Error::ShapeMismatch { op: "narrow", .. }), "{e:?}");
    let e = TensorData::narrow_embed(&s, 1, 0, &iota(&[2, 2])).unwrap_err();
    assert!(matches!(e, Error::ShapeMismatch { .. }), "{e:?}");
    assert!(TensorData::narrow_embed(&Shape::scalar(), 0, 0, &TensorData::scalar(1.0f64)).is_err());
}

#[test]
fn index_select_on_a_0d_tensor_takes_exactly_one_index() {
    // PyTorch 2.9.1:
    //   torch.index_select(torch.tensor(5.), 0, torch.tensor([0, 0]))
    //   RuntimeError: index_select(): Index to scalar can have only 1 value, got 2 value(s)
    //   (and "got 0 value(s)" for an empty index); tensor([0]) and tensor(0) give tensor(5.).
    // torchlet returned tensor(5.) for any number of in-range indices.
    let s = TensorData::scalar(5.0f32);
    for idx in [i64t(&[0, 0], &[2]), i64t(&[], &[0]), i64t(&[0, 0, 0], &[3])] {
        let e = s.index_select(0, &idx).unwrap_err();
        assert!(matches!(e, Error::InvalidArgument { op: "index_select", .. }), "{e:?}");
        let n = idx.numel();
        assert!(e.to_string().contains(&format!("can have only 1 value, got {n} value(s)")), "{e}");
    }
    for idx in [i64t(&[0], &[1]), TensorData::scalar(0i64)] {
        let r = s.index_select(0, &idx).unwrap();
        assert_tensor(&r, &[], &[5.0], 0.0);
    }
    assert!(s.index_select(0, &i64t(&[1], &[1])).is_err()); // out of range, as before
}

#[test]
fn narrow_embed_rejects_a_start_that_overflows() {
    // Issue 21: `start + len` overflowed for start = usize::MAX: an arithmetic-overflow panic
    // in debug; in release it wrapped to 1 <= 4, passed, and the zeros before the slice were
    // a [3, usize::MAX] tensor ("capacity overflow" panic). Now the same error as any start
    // that leaves no room, like narrow's (`x.narrow(1, usize::MAX, 2)` is an error too).
    let s = Shape::new(&[3, 4]);
    for start in [usize::MAX, usize::MAX - 1, 3] {
        let e = TensorData::narrow_embed(&s, 1, start, &iota(&[3, 2])).unwrap_err();
        assert!(matches!(e, Error::ShapeMismatch { op: "narrow", .. }), "{e:?}");
        assert!(e.to_string().contains(&format!("starting at {start} along dimension 1")), "{e}");
    }
    // The last start that fits still works: columns 2 and 3.
    let e = TensorData::narrow_embed(&s, 1, 2, &iota(&[3, 2])).unwrap();
    assert_tensor(&e, &[3, 4], &[0., 0., 0., 1., 0., 0., 2., 3., 0., 0., 4., 5.], 0.0);
}

#[test]
fn one_hot_encodings() {
    // [0, 2, 1] with 3 classes -> identity rows permuted.
    let t = i64t(&[0, 2, 1], &[3]);
    let o = t.one_hot(Some(3)).unwrap();
    assert_eq!(o.dtype(), DType::I64);
    assert_eq!(o.dims(), &[3, 3]);
    assert_eq!(o.to_vec::<i64>().unwrap(), vec![1, 0, 0, 0, 0, 1, 0, 1, 0]);
    // More classes than needed: 5 columns.
    assert_eq!(t.one_hot(Some(5)).unwrap().dims(), &[3, 5]);
    // None infers max + 1 = 3.
    assert_eq!(t.one_hot(None).unwrap().to_vec::<i64>().unwrap(), o.to_vec::<i64>().unwrap());
    // A 2-D input gets a trailing class dim: [[1],[0]] -> (2,1,2).
    let t2 = i64t(&[1, 0], &[2, 1]);
    let o2 = t2.one_hot(Some(2)).unwrap();
    assert_eq!(o2.dims(), &[2, 1, 2]);
    assert_eq!(o2.to_vec::<i64>().unwrap(), vec![0, 1, 1, 0]);
    // A 0-d index -> (C,).
    assert_eq!(TensorData::scalar(2i64).one_hot(Some(4)).unwrap().to_vec::<i64>().unwrap(), vec![0, 0, 1, 0]);
    // Errors: index >= num_classes, negative index, float input.
    let e = t.one_hot(Some(2)).unwrap_err();
    assert_eq!(
        e,
        Error::IndexOutOfRange {
            op: "one_hot",
            what: "class index",
            index: 2,
            size: 2,
            extra: "; the largest class value is 2, so num_classes must be at least 3, got 2".into()
        }
    );
    assert!(matches!(
        i64t(&[-1], &[1]).one_hot(Some(3)).unwrap_err(),
        Error::IndexOutOfRange { index: -1, .. }
    ));
    assert!(matches!(iota(&[2]).one_hot(None).unwrap_err(), Error::DTypeMismatch { op: "one_hot", .. }));
}

#[test]
fn masked_fill_replaces_where_true() {
    // x = [[1,2,3],[4,5,6]], mask = x > 3 -> [[1,2,3],[-1,-1,-1]]
    let x = f64t(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
    let m = x.gt_scalar(3.0).unwrap();
    assert_tensor(&x.masked_fill(&m, -1.0).unwrap(), &[2, 3], &[1.0, 2.0, 3.0, -1.0, -1.0, -1.0], 0.0);
    // A broadcast mask (3,): columns 0 and 2.
    let col = TensorData::from_vec(vec![true, false, true], [3]).unwrap();
    assert_tensor(&x.masked_fill(&col, 0.0).unwrap(), &[2, 3], &[0.0, 2.0, 0.0, 0.0, 5.0, 0.0], 0.0);
    // A mask that would grow x is an error; a non-bool mask too.
    let big = TensorData::ones([3, 2, 3], DType::Bool);
    assert!(x.masked_fill(&big, 0.0).is_err());
    assert!(matches!(x.masked_fill(&x, 0.0).unwrap_err(), Error::DTypeMismatch { .. }));
}

#[test]
fn large_cat_copies_in_pieces_on_every_core() {
    // Above 65,536 values the runs are copied in parallel, long ones in pieces of 32,768:
    // along dim 1 (runs of 50,000 and 30,001 per row), along dim 0 (one run per tensor), and
    // with an empty piece; against the values by position.
    let (p, q, e) = (iota(&[3, 50_000]), iota(&[3, 30_001]).add_scalar(1e6).unwrap(), iota(&[3, 0]));
    let r = TensorData::cat(&[&p, &e, &q], 1).unwrap();
    assert_eq!(r.dims(), &[3, 80_001]);
    let (rv, pv, qv) = (vals(&r), vals(&p), vals(&q));
    for row in 0..3 {
        for j in 0..80_001 {
            let want = if j < 50_000 { pv[row * 50_000 + j] } else { qv[row * 30_001 + j - 50_000] };
            assert_eq!(rv[row * 80_001 + j], want, "row {row} col {j}");
        }
    }
    let (a, b) = (iota(&[40_000, 2]), iota(&[30_000, 2]).add_scalar(-5.0).unwrap());
    let s = TensorData::cat(&[&a, &b], 0).unwrap();
    let want: Vec<f64> = vals(&a).into_iter().chain(vals(&b)).collect();
    assert_eq!(vals(&s), want);
}
