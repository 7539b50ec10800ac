//! Views: reshape, permute, transpose, t, squeeze/unsqueeze, expand, flatten, contiguous,
//! and the copy-on-write of values_mut.

mod common;
use common::*;
use torchlet_tensor_core::{DType, Error, TensorData};

#[test]
fn reshape_with_inferred_dim() {
    let x = iota(&[2, 3, 4]);
    let r = x.reshape([4, -1]).unwrap();
    assert_eq!(r.dims(), &[4, 6]);
    assert_eq!(vals(&r), vals(&x), "row-major order is kept");
    assert!(r.shares_storage(&x), "a contiguous reshape is a view");
    assert_eq!(x.reshape([-1]).unwrap().dims(), &[24]);
    assert_eq!(x.reshape([2, -1, 3]).unwrap().dims(), &[2, 4, 3]);
    assert_eq!(x.reshape([1, 24, 1]).unwrap().dims(), &[1, 24, 1]);
    // One element to 0-d and back.
    let one = f64t(&[5.0], &[1, 1]);
    let s = one.reshape(()).unwrap();
    assert_eq!(s.ndim(), 0);
    assert_eq!(s.item().unwrap(), 5.0);
    assert_eq!(s.reshape([-1]).unwrap().dims(), &[1]);
    // An empty tensor: (0, 3) -> (-1, 3) infers 0 / 3 = 0 rows.
    assert_eq!(TensorData::zeros([0, 3], DType::F32).reshape([-1, 3]).unwrap().dims(), &[0, 3]);
}

#[test]
fn reshape_errors() {
    let x = iota(&[2, 3]);
    for bad in [&[4isize][..], &[-1, 4], &[-1, -1], &[2, -2], &[7, -1]] {
        let e = x.reshape(bad).unwrap_err();
        assert!(matches!(e, Error::InvalidArgument { op: "reshape", .. }), "{bad:?}: {e:?}");
    }
    let e = x.reshape([4]).unwrap_err().to_string();
    assert!(e.contains("[4]") && e.contains("[2, 3]") && e.contains("6 elements"), "{e}");
    // -1 next to a 0 cannot be inferred.
    assert!(TensorData::zeros([0, 3], DType::F32).reshape([0, -1]).is_err());
}

#[test]
fn reshape_of_a_strided_view_copies_in_logical_order() {
    // x = [[0,1,2],[3,4,5]]; x^T = [[0,3],[1,4],[2,5]]; reshape(-1) = [0,3,1,4,2,5]
    let x = iota(&[2, 3]);
    let xt = x.t().unwrap();
    let r = xt.reshape([-1]).unwrap();
    assert_eq!(vals(&r), vec![0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
    assert!(!r.shares_storage(&x));
    // A narrowed (offset, contiguous rows) view reshapes as a view: rows 1.. of (3,4).
    let y = iota(&[3, 4]);
    let tail = y.narrow(0, 1, 2).unwrap();
    assert!(tail.is_contiguous());
    let tr = tail.reshape([8]).unwrap();
    assert_eq!(vals(&tr), (4..12).map(|v| v as f64).collect::<Vec<_>>());
    // Columns 1..3 are not contiguous: reshape copies the right elements.
    let cols = y.narrow(1, 1, 2).unwrap();
    assert_eq!(vals(&cols.reshape([-1]).unwrap()), vec![1.0, 2.0, 5.0, 6.0, 9.0, 10.0]);
    // An expanded view: [1,2] repeated 3 times.
    let e = f64t(&[1.0, 2.0], &[2]).expand([3, 2]).unwrap();
    assert_eq!(vals(&e.reshape([6]).unwrap()), vec![1.0, 2.0, 1.0, 2.0, 1.0, 2.0]);
}

#[test]
fn permute_matches_index_arithmetic() {
    let dims = [2usize, 3, 4];
    let x = iota(&dims);
    let xv = vals(&x);
    for perm in [[0isize, 1, 2], [2, 0, 1], [1, 2, 0], [2, 1, 0], [0, 2, 1]] {
        let p = x.permute(&perm).unwrap();
        let pd: Vec<usize> = perm.iter().map(|&q| dims[q as usize]).collect();
        assert_eq!(p.dims(), pd.as_slice());
        assert!(p.shares_storage(&x));
        // out[i0, i1, i2] = x[j] with j[perm[k]] = i_k.
        let want: Vec<f64> = (0..24)
            .map(|f| {
                let i = unravel(f, &pd);
                let mut j = [0usize; 3];
                for k in 0..3 {
                    j[perm[k] as usize] = i[k];
                }
                xv[ravel(&j, &dims)]
            })
            .collect();
        assert_eq!(vals(&p), want, "{perm:?}");
    }
    // Negative entries: [-1, 0, 1] == [2, 0, 1].
    assert_eq!(vals(&x.permute(&[-1, 0, 1]).unwrap()), vals(&x.permute(&[2, 0, 1]).unwrap()));
    // Errors: wrong length, repeated dims, out of range.
    assert!(matches!(x.permute(&[0, 1]).unwrap_err(), Error::InvalidArgument { op: "permute", .. }));
    assert!(matches!(x.permute(&[0, 1, 1]).unwrap_err(), Error::InvalidArgument { op: "permute", .. }));
    assert!(matches!(x.permute(&[0, -3, 2]).unwrap_err(), Error::InvalidArgument { .. }), "-3 is 0 again");
    assert_eq!(dim_err(x.permute(&[0, 1, 3])), ("permute", 3, 3));
}

#[test]
fn permuted_copies_keeping_the_last_dim_in_every_dtype() {
    // permute(0, 2, 1, 3).contiguous() moves whole runs of the last dim: out[a][b][c] = x[a][c][b]
    // (runs of 37 values: two blocks of 16 and 5 more; of 16, 3, and 300, past the short-run
    // copy), in f64, f32, i64 and bool.
    for last in [37usize, 16, 3, 300] {
        let dims = [3usize, 5, 4, last];
        let out_dims = [3usize, 4, 5, last];
        for dtype in [DType::F64, DType::F32, DType::I64, DType::Bool] {
            let x = iota(&dims).to_dtype(dtype);
            let xv = vals(&x);
            let got = x.permute(&[0, 2, 1, 3]).unwrap().contiguous();
            assert_eq!(got.dims(), out_dims.as_slice());
            let want: Vec<f64> = (0..xv.len())
                .map(|f| {
                    let i = unravel(f, &out_dims);
                    xv[ravel(&[i[0], i[2], i[1], i[3]], &dims)]
                })
                .collect();
            assert_eq!(vals(&got), want, "last {last}, {dtype}");
        }
    }
}

#[test]
fn transpose_and_t() {
    let x = iota(&[2, 3, 4]);
    // transpose(0, 2): out[i][j][k] = x[k][j][i], shape (4,3,2); out[1][2][0] = x[0][2][1] = 9
    let tr = x.transpose(0, 2).unwrap();
    assert_eq!(tr.dims(), &[4, 3, 2]);
    assert_eq!(vals(&tr)[ravel(&[1, 2, 0], &[4, 3, 2])], 9.0);
    // transpose(-1, -2) == transpose(2, 1); transposing twice is the identity.
    assert_eq!(vals(&x.transpose(-1, -2).unwrap()), vals(&x.transpose(2, 1).unwrap()));
    assert_eq!(vals(&tr.transpose(0, 2).unwrap()), vals(&x));
    assert_eq!(x.transpose(1, 1).unwrap().dims(), &[2, 3, 4]);
    assert_eq!(dim_err(x.transpose(0, 3)), ("transpose", 3, 3));
    // t on 2-D, 1-D (no-op), 0-D (no-op); error on 3-D.
    let m = iota(&[2, 3]);
    assert_tensor(&m.t().unwrap(), &[3, 2], &[0.0, 3.0, 1.0, 4.0, 2.0, 5.0], 0.0);
    assert_tensor(&iota(&[3]).t().unwrap(), &[3], &[0.0, 1.0, 2.0], 0.0);
    assert_eq!(TensorData::scalar(1.0f32).t().unwrap().ndim(), 0);
    let e = x.t().unwrap_err();
    assert!(matches!(e, Error::InvalidArgument { op: "t", .. }), "{e:?}");
    assert!(e.to_string().contains("transpose"), "the message suggests transpose: {e}");
}

#[test]
fn squeeze_and_unsqueeze() {
    let x = iota(&[1, 3, 1, 2]);
    assert_eq!(x.squeeze().dims(), &[3, 2]);
    assert_eq!(x.squeeze_dim(0).unwrap().dims(), &[3, 1, 2]);
    assert_eq!(x.squeeze_dim(-2).unwrap().dims(), &[1, 3, 2]);
    // A dim that is not 1 is left alone, like PyTorch.
    assert_eq!(x.squeeze_dim(1).unwrap().dims(), &[1, 3, 1, 2]);
    assert_eq!(vals(&x.squeeze()), vals(&x));
    assert_eq!(dim_err(x.squeeze_dim(4)), ("squeeze", 4, 4));
    // All ones squeeze to 0-d.
    assert_eq!(f64t(&[7.0], &[1, 1, 1]).squeeze().ndim(), 0);
    // unsqueeze at every position of a (2,3), including -1 (= 2) and -3 (= 0).
    let m = iota(&[2, 3]);
    let cases: [(isize, &[usize]); 6] = [
        (0, &[1, 2, 3]),
        (1, &[2, 1, 3]),
        (2, &[2, 3, 1]),
        (-1, &[2, 3, 1]),
        (-2, &[2, 1, 3]),
        (-3, &[1, 2, 3]),
    ];
    for (d, want) in cases {
        let u = m.unsqueeze(d).unwrap();
        assert_eq!(u.dims(), want, "unsqueeze({d})");
        assert_eq!(vals(&u), vals(&m));
        assert!(u.is_contiguous());
        assert_eq!(vals(&u.squeeze_dim(d).unwrap()), vals(&m));
    }
    assert_eq!(dim_err(m.unsqueeze(3)), ("unsqueeze", 3, 3));
    assert!(m.unsqueeze(-4).is_err());
    // unsqueeze of a transposed view keeps reading the transposed values.
    let mt = m.t().unwrap().unsqueeze(1).unwrap();
    assert_eq!(mt.dims(), &[3, 1, 2]);
    assert_eq!(vals(&mt), vec![0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
    // 0-d: unsqueeze(0) gives (1,).
    assert_eq!(TensorData::scalar(1.0f64).unsqueeze(0).unwrap().dims(), &[1]);
}

#[test]
fn expand_views() {
    // (3,1) -> (3,4): each row repeats its value; stride 0, no copy.
    let c = f64t(&[1.0, 2.0, 3.0], &[3, 1]);
    let e = c.expand([3, 4]).unwrap();
    assert_eq!(vals(&e), vec![1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 2.0, 3.0, 3.0, 3.0, 3.0]);
    assert!(e.shares_storage(&c));
    assert!(!e.is_contiguous());
    assert_eq!(e.layout().strides[1], 0);
    // New leading dims: (2,) -> (2,3,2).
    let v = f64t(&[5.0, 6.0], &[2]);
    let e = v.expand([2, 3, 2]).unwrap();
    assert_eq!(vals(&e), [5.0, 6.0].repeat(6));
    // 0-d -> (2,2)
    assert_eq!(vals(&TensorData::scalar(3.0f64).expand([2, 2]).unwrap()), vec![3.0; 4]);
    // Same shape is fine; a size-1 dim can become 0.
    assert_eq!(c.expand([3, 1]).unwrap().dims(), &[3, 1]);
    assert_eq!(c.expand([3, 0]).unwrap().numel(), 0);
    // Errors: a non-1 dim cannot change, and fewer dims are not allowed.
    for bad in [&[4usize, 4][..], &[3], &[6, 1]] {
        let e = c.expand(bad).unwrap_err();
        assert!(matches!(e, Error::ShapeMismatch { op: "expand", .. }), "{bad:?}: {e:?}");
    }
    // Expanding a transposed view: x^T (3,2) of [[0,1,2],[3,4,5]] -> (2,3,2).
    let xt = iota(&[2, 3]).t().unwrap();
    let e = xt.expand([2, 3, 2]).unwrap();
    assert_eq!(vals(&e), [0.0, 3.0, 1.0, 4.0, 2.0, 5.0].repeat(2));
}

#[test]
fn flatten_ranges() {
    let x = iota(&[2, 3, 4]);
    assert_eq!(x.flatten(0, -1).unwrap().dims(), &[24]);
    assert_eq!(x.flatten(1, 2).unwrap().dims(), &[2, 12]);
    assert_eq!(x.flatten(0, 1).unwrap().dims(), &[6, 4]);
    assert_eq!(x.flatten(1, 1).unwrap().dims(), &[2, 3, 4]);
    assert_eq!(vals(&x.flatten(0, -1).unwrap()), vals(&x));
    // Flattening a permuted view reads it in its logical order.
    let p = x.permute(&[2, 0, 1]).unwrap();
    assert_eq!(vals(&p.flatten(0, -1).unwrap()), vals(&p));
    assert_eq!(vals(&p.flatten(0, -1).unwrap())[..3], [0.0, 4.0, 8.0]);
    // 0-d flattens to (1,).
    let s = TensorData::scalar(2.0f64).flatten(0, -1).unwrap();
    assert_eq!(s.dims(), &[1]);
    assert!(matches!(x.flatten(2, 1).unwrap_err(), Error::InvalidArgument { op: "flatten", .. }));
    assert_eq!(dim_err(x.flatten(0, 3)), ("flatten", 3, 3));
}

#[test]
fn contiguous_copies_only_when_needed() {
    let x = iota(&[2, 3]);
    let same = x.contiguous();
    assert!(same.shares_storage(&x));
    let xt = x.t().unwrap();
    let c = xt.contiguous();
    assert!(c.is_contiguous());
    assert!(!c.shares_storage(&x));
    assert_eq!(c.dims(), &[3, 2]);
    assert_eq!(c.layout().strides.as_slice(), &[2, 1]);
    assert_eq!(c.to_vec::<f64>().unwrap(), vec![0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
    // A narrowed contiguous view with an offset is compacted to its own storage.
    let tail = iota(&[3, 2]).narrow(0, 1, 2).unwrap();
    let tc = tail.contiguous();
    assert_eq!(tc.layout().offset, 0);
    assert_eq!(vals(&tc), vec![2.0, 3.0, 4.0, 5.0]);
    // contiguous_copy always copies.
    assert!(!x.contiguous_copy().shares_storage(&x));
    // values() borrows for contiguous layouts and copies in logical order otherwise.
    assert!(matches!(x.values::<f64>().unwrap(), std::borrow::Cow::Borrowed(_)));
    assert_eq!(&*xt.values::<f64>().unwrap(), &[0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
    assert!(matches!(x.values::<f32>().unwrap_err(), Error::DTypeMismatch { op: "values", .. }));
}

/// The values a view of `iota` holds, by its layout: at row-major position `i`, the offset
/// plus the sum of `i_k * stride_k` (iota's value is its position in the buffer).
fn iota_view_values(view: &TensorData) -> Vec<f64> {
    let l = view.layout();
    let dims = view.dims();
    (0..view.numel())
        .map(|f| {
            let i = unravel(f, dims);
            (l.offset + i.iter().zip(&l.strides).map(|(a, b)| a * b).sum::<usize>()) as f64
        })
        .collect()
}

#[test]
fn large_copies_of_views_match_their_layouts() {
    // Above the thread split (65,536 values), sizes no multiple of the 32-value tiles: every
    // permutation of 4 dims (those ending in a transposed pair take the tiled path), of a
    // narrowed view (an offset) as well, broadcasts (stride 0), repeat and to_dtype.
    let dims = [3usize, 23, 33, 37];
    let x = iota(&dims);
    let narrowed = x.narrow(1, 2, 19).unwrap();
    let x32 = x.to_dtype(DType::F32);
    let narrowed32 = x32.narrow(1, 2, 19).unwrap();
    let mut perms = 0;
    for p in 0..256usize {
        let perm: Vec<isize> = (0..4).map(|k| (p >> (2 * k) & 3) as isize).collect();
        if (0..4).any(|q| !perm.contains(&q)) {
            continue;
        }
        perms += 1;
        // f32 too: its transposed matrices go through 8 x 8 register blocks on AVX2 (the
        // values, below 2^24, are exact).
        for base in [&x, &narrowed, &x32, &narrowed32] {
            let view = base.permute(&perm).unwrap();
            let copy = view.contiguous();
            assert!(copy.is_contiguous() && copy.dims() == view.dims() && copy.dtype() == view.dtype());
            assert_eq!(vals(&copy), iota_view_values(&view), "{perm:?} {}", view.dtype());
        }
    }
    assert_eq!(perms, 24);
    // A batch of transposed matrices, as softmax along a leading dim reads them.
    let m = iota(&[70, 30, 40]).transpose(1, 2).unwrap();
    assert_eq!(m.contiguous().to_vec::<f64>().unwrap(), iota_view_values(&m));
    // Broadcasts and repeat: [0, 1, ..., 299] as every row.
    let row = iota(&[1, 300]);
    let e = row.expand([1000, 300]).unwrap();
    assert_eq!(e.contiguous().to_vec::<f64>().unwrap(), iota_view_values(&e));
    let r = row.repeat(&[700, 2]).unwrap();
    assert_eq!(r.dims(), &[700, 600]);
    let want: Vec<f64> = (0..700 * 600).map(|f| (f % 300) as f64).collect();
    assert_eq!(r.to_vec::<f64>().unwrap(), want);
    // to_dtype of a large transposed view: f32 holds these integers exactly.
    let t = x.transpose(2, 3).unwrap();
    let want: Vec<f64> = iota_view_values(&t);
    assert_eq!(vals(&t.to_dtype(DType::F32)), want);
    assert_eq!(vals(&t.to_dtype(DType::I64)), want);
}

#[test]
fn values_mut_is_copy_on_write() {
    // Mutating a clone leaves the original alone.
    let a = f64t(&[1.0, 2.0, 3.0], &[3]);
    let mut b = a.clone();
    assert!(b.shares_storage(&a));
    b.values_mut::<f64>().unwrap()[0] = 100.0;
    assert_eq!(vals(&a), vec![1.0, 2.0, 3.0]);
    assert_eq!(vals(&b), vec![100.0, 2.0, 3.0]);
    assert!(!b.shares_storage(&a));
    // Mutating a transposed view copies it into logical order first.
    let x = iota(&[2, 3]);
    let mut xt = x.t().unwrap();
    let s = xt.values_mut::<f64>().unwrap();
    assert_eq!(s, &[0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
    s[1] = -1.0;
    assert_eq!(vals(&x), vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
    assert_eq!(vals(&xt), vec![0.0, -1.0, 1.0, 4.0, 2.0, 5.0]);
    assert!(xt.is_contiguous());
    // A narrowed view and an expanded view: only the view changes, to exactly its size.
    let y = iota(&[4]);
    let mut n = y.narrow(0, 1, 2).unwrap();
    let s = n.values_mut::<f64>().unwrap();
    assert_eq!(s.len(), 2);
    s[0] = 9.0;
    assert_eq!(vals(&y), vec![0.0, 1.0, 2.0, 3.0]);
    assert_eq!(vals(&n), vec![9.0, 2.0]);
    let mut e = f64t(&[1.0], &[1]).expand([3]).unwrap();
    let s = e.values_mut::<f64>().unwrap();
    assert_eq!(s.len(), 3);
    s[2] = 5.0;
    assert_eq!(vals(&e), vec![1.0, 1.0, 5.0]);
    // A uniquely owned tensor is mutated in place (no copy of the storage needed).
    let mut u = f64t(&[1.0, 2.0], &[2]);
    u.values_mut::<f64>().unwrap()[1] = 7.0;
    assert_eq!(vals(&u), vec![1.0, 7.0]);
    // A view taken before the mutation keeps the old values.
    let mut w = f64t(&[1.0, 2.0], &[2]);
    let view = w.reshape([1, 2]).unwrap();
    w.values_mut::<f64>().unwrap()[0] = 50.0;
    assert_eq!(vals(&view), vec![1.0, 2.0]);
    assert_eq!(vals(&w), vec![50.0, 2.0]);
    // Wrong element type is an error.
    assert!(matches!(w.values_mut::<f32>().unwrap_err(), Error::DTypeMismatch { op: "values_mut", .. }));
}

#[test]
fn size_and_shape_queries() {
    let x = iota(&[2, 3, 4]);
    assert_eq!((x.size(0).unwrap(), x.size(-1).unwrap(), x.size(-3).unwrap()), (2, 4, 2));
    assert_eq!(dim_err(x.size(3)), ("size", 3, 3));
    assert_eq!(x.ndim(), 3);
    assert_eq!(x.numel(), 24);
    assert_eq!(x.shape().to_string(), "[2, 3, 4]");
    // A 0-d tensor has no sizes: an error, not a panic.
    let s = TensorData::scalar(1.0f64);
    assert!(s.size(0).is_err());
    assert!(s.size(-1).is_err());
    assert_eq!(s.numel(), 1);
    assert_eq!(s.shape().to_string(), "[]");
}
