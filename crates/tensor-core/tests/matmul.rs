//! matmul: PyTorch's 1-D/2-D/batched rules against hand-computed values and a naive f64
//! triple loop, strided operands, the small-loop and GEMM paths, and shape errors.

mod common;
use common::*;
use torchlet_tensor_core::matmul::{gemm_strided, Strided};
use torchlet_tensor_core::{DType, Error, Generator, Shape, TensorData};

/// A = [[1,2,3],[4,5,6]] (2x3), B = [[7,8],[9,10],[11,12]] (3x2).
fn ab() -> (TensorData, TensorData) {
    (f64t(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]), f64t(&[7.0, 8.0, 9.0, 10.0, 11.0, 12.0], &[3, 2]))
}

#[test]
fn two_d_at_two_d() {
    let (a, b) = ab();
    // [1*7+2*9+3*11, 1*8+2*10+3*12] = [58, 64]; [4*7+5*9+6*11, 4*8+5*10+6*12] = [139, 154]
    assert_tensor(&a.matmul(&b).unwrap(), &[2, 2], &[58.0, 64.0, 139.0, 154.0], 0.0);
    // B @ A (3x2 @ 2x3): row 0 = 7*[1,2,3] + 8*[4,5,6] = [39, 54, 69]
    //                     row 1 = 9*[1,2,3] + 10*[4,5,6] = [49, 68, 87]
    //                     row 2 = 11*[1,2,3] + 12*[4,5,6] = [59, 82, 105]
    assert_tensor(
        &b.matmul(&a).unwrap(),
        &[3, 3],
        &[39.0, 54.0, 69.0, 49.0, 68.0, 87.0, 59.0, 82.0, 105.0],
        0.0,
    );
    // f32 gives the same (exact small integers).
    let a32 = a.to_dtype(DType::F32);
    let b32 = b.to_dtype(DType::F32);
    let c = a32.matmul(&b32).unwrap();
    assert_eq!(c.dtype(), DType::F32);
    assert_eq!(c.to_vec::<f32>().unwrap(), vec![58.0, 64.0, 139.0, 154.0]);
}

#[test]
fn vector_operands() {
    let (a, b) = ab();
    // 1-D @ 2-D: [1,2,3] @ B = [58, 64], shape (2,)
    let v = f64t(&[1.0, 2.0, 3.0], &[3]);
    assert_tensor(&v.matmul(&b).unwrap(), &[2], &[58.0, 64.0], 0.0);
    // 2-D @ 1-D: A @ [1, 0, -1] = [1-3, 4-6] = [-2, -2], shape (2,)
    let w = f64t(&[1.0, 0.0, -1.0], &[3]);
    assert_tensor(&a.matmul(&w).unwrap(), &[2], &[-2.0, -2.0], 0.0);
    // 1-D @ 1-D: [1,2,3] . [4,5,6] = 4 + 10 + 18 = 32, a 0-d tensor
    let d = v.matmul(&f64t(&[4.0, 5.0, 6.0], &[3])).unwrap();
    assert_eq!(d.ndim(), 0);
    assert_eq!(d.item().unwrap(), 32.0);
    // 1-D @ 3-D: the vector is prepended a dim, broadcast over the batch, then removed:
    // [1, -1] @ [[[1,2],[3,4]], [[5,6],[7,8]]] = [[1-3, 2-4], [5-7, 6-8]] = [[-2,-2],[-2,-2]]
    let batch = f64t(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], &[2, 2, 2]);
    let u = f64t(&[1.0, -1.0], &[2]);
    assert_tensor(&u.matmul(&batch).unwrap(), &[2, 2], &[-2.0, -2.0, -2.0, -2.0], 0.0);
    // 3-D @ 1-D: [[1,2],[3,4]] @ [1,-1] = [-1,-1]; [[5,6],[7,8]] @ [1,-1] = [-1,-1]
    assert_tensor(&batch.matmul(&u).unwrap(), &[2, 2], &[-1.0, -1.0, -1.0, -1.0], 0.0);
}

#[test]
fn batched_three_d() {
    // X[0] = [[1,2],[3,4]], X[1] = [[0,1],[1,0]]; Y[0] = [[1,0],[0,1]], Y[1] = [[2,3],[4,5]]
    // X[0] @ Y[0] = X[0]; X[1] @ Y[1] swaps rows of Y[1] = [[4,5],[2,3]]
    let x = f64t(&[1.0, 2.0, 3.0, 4.0, 0.0, 1.0, 1.0, 0.0], &[2, 2, 2]);
    let y = f64t(&[1.0, 0.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0], &[2, 2, 2]);
    assert_tensor(&x.matmul(&y).unwrap(), &[2, 2, 2], &[1.0, 2.0, 3.0, 4.0, 4.0, 5.0, 2.0, 3.0], 0.0);
    // (2,2,3) @ (3,2): the matrix is shared by both batch entries.
    // X2[0] = A = [[1,2,3],[4,5,6]] -> [[58,64],[139,154]]; X2[1] = -A -> negated.
    let (a, b) = ab();
    let x2 = TensorData::stack(&[&a, &a.neg().unwrap()], 0).unwrap();
    assert_tensor(
        &x2.matmul(&b).unwrap(),
        &[2, 2, 2],
        &[58.0, 64.0, 139.0, 154.0, -58.0, -64.0, -139.0, -154.0],
        0.0,
    );
    // (3,2) @ (2,2,3): B @ A and B @ -A.
    let ba = [39.0, 54.0, 69.0, 49.0, 68.0, 87.0, 59.0, 82.0, 105.0];
    let mut want = ba.to_vec();
    want.extend(ba.iter().map(|v| -v));
    assert_tensor(&b.matmul(&x2).unwrap(), &[2, 3, 3], &want, 0.0);
}

/// Naive batched reference: `a` of `a_batch ++ [m, k]`, `b` of `b_batch ++ [k, n]`, both
/// row-major; broadcast batch indices computed explicitly.
fn naive_batched(a: &[f64], a_dims: &[usize], b: &[f64], b_dims: &[usize], out_batch: &[usize]) -> Vec<f64> {
    let (ar, br) = (a_dims.len(), b_dims.len());
    let (m, k, n) = (a_dims[ar - 2], a_dims[ar - 1], b_dims[br - 1]);
    let nb: usize = out_batch.iter().product();
    let mut out = vec![];
    for flat in 0..nb {
        let idx = unravel(flat, out_batch);
        let pick = |dims: &[usize]| -> usize {
            let bd = &dims[..dims.len() - 2];
            let skip = idx.len() - bd.len();
            let local: Vec<usize> =
                bd.iter().zip(&idx[skip..]).map(|(&d, &i)| if d == 1 { 0 } else { i }).collect();
            if bd.is_empty() {
                0
            } else {
                ravel(&local, bd)
            }
        };
        let (ia, ib) = (pick(a_dims), pick(b_dims));
        out.extend(naive_matmul(&a[ia * m * k..(ia + 1) * m * k], &b[ib * k * n..(ib + 1) * k * n], m, k, n));
    }
    out
}

#[test]
fn batch_dimensions_broadcast() {
    // (2,1,m,k) @ (3,k,n) -> (2,3,m,n)
    let (m, k, n) = (2, 3, 4);
    let a = randn(&[2, 1, m, k], 11);
    let b = randn(&[3, k, n], 12);
    let c = a.matmul(&b).unwrap();
    let want = naive_batched(&vals(&a), a.dims(), &vals(&b), b.dims(), &[2, 3]);
    assert_tensor(&c, &[2, 3, m, n], &want, 1e-12);
    // Spot check one block by hand-indexing: c[1][2] = a[1][0] @ b[2].
    let av = vals(&a);
    let bv = vals(&b);
    let block = naive_matmul(&av[m * k..2 * m * k], &bv[2 * k * n..3 * k * n], m, k, n);
    let cv = vals(&c);
    let off = (3 + 2) * m * n;
    assert_close(&cv[off..off + m * n], &block, 1e-12);
    // (4,1,m,k) @ (1,5,k,n) -> (4,5,m,n); and (5,m,k) @ (2,1,k,n) -> (2,5,m,n)
    let a = randn(&[4, 1, m, k], 13);
    let b = randn(&[1, 5, k, n], 14);
    let want = naive_batched(&vals(&a), a.dims(), &vals(&b), b.dims(), &[4, 5]);
    assert_tensor(&a.matmul(&b).unwrap(), &[4, 5, m, n], &want, 1e-12);
    let a = randn(&[5, m, k], 15);
    let b = randn(&[2, 1, k, n], 16);
    let want = naive_batched(&vals(&a), a.dims(), &vals(&b), b.dims(), &[2, 5]);
    assert_tensor(&a.matmul(&b).unwrap(), &[2, 5, m, n], &want, 1e-12);
}

#[test]
fn transposed_and_strided_operands() {
    let (a, b) = ab();
    // A^T (3x2, a strided view) @ A (2x3): entry (i,j) = sum_r A[r][i] A[r][j]
    // = [[1+16, 2+20, 3+24], [2+20, 4+25, 6+30], [3+24, 6+30, 9+36]]
    let at = a.t().unwrap();
    assert!(!at.is_contiguous());
    assert_tensor(
        &at.matmul(&a).unwrap(),
        &[3, 3],
        &[17.0, 22.0, 27.0, 22.0, 29.0, 36.0, 27.0, 36.0, 45.0],
        0.0,
    );
    // A @ A^T = [[1+4+9, 4+10+18], [.., 16+25+36]] = [[14, 32], [32, 77]]
    assert_tensor(&a.matmul(&at).unwrap(), &[2, 2], &[14.0, 32.0, 32.0, 77.0], 0.0);
    // B^T @ A^T = (A @ B)^T = [[58, 139], [64, 154]]
    assert_tensor(&b.t().unwrap().matmul(&at).unwrap(), &[2, 2], &[58.0, 139.0, 64.0, 154.0], 0.0);
    // A narrowed view: columns 1..3 of A = [[2,3],[5,6]] @ [[1],[1]] = [[5],[11]]
    let an = a.narrow(1, 1, 2).unwrap();
    assert_tensor(&an.matmul(&f64t(&[1.0, 1.0], &[2, 1])).unwrap(), &[2, 1], &[5.0, 11.0], 0.0);
    // Rows 1..3 of B (offset view) = [[9,10],[11,12]]; [1, 2] @ it = [9+22, 10+24] = [31, 34]
    let bn = b.narrow(0, 1, 2).unwrap();
    assert_tensor(&f64t(&[1.0, 2.0], &[2]).matmul(&bn).unwrap(), &[2], &[31.0, 34.0], 0.0);
    // An expanded operand (row stride 0): [1,1,1] repeated as a (2,3) matrix @ B
    // = column sums of B [27, 30] in both rows.
    let ones = f64t(&[1.0, 1.0, 1.0], &[1, 3]).expand([2, 3]).unwrap();
    assert_tensor(&ones.matmul(&b).unwrap(), &[2, 2], &[27.0, 30.0, 27.0, 30.0], 0.0);
    // A batched operand expanded along the batch (stride 0) and transposed inside.
    let bt_batch = b.t().unwrap().unsqueeze(0).unwrap().expand([3, 2, 3]).unwrap();
    let c = bt_batch.matmul(&at).unwrap();
    let want: Vec<f64> = [58.0, 139.0, 64.0, 154.0].repeat(3);
    assert_tensor(&c, &[3, 2, 2], &want, 0.0);
    // A permuted 3-D batch: (2,3,2) viewed as (3,2,2) via permute.
    let x = randn(&[2, 3, 2], 21);
    let xp = x.permute(&[1, 0, 2]).unwrap();
    let y = randn(&[2, 4], 22);
    let want = naive_batched(&vals(&xp), xp.dims(), &vals(&y), y.dims(), &[3]);
    assert_tensor(&xp.matmul(&y).unwrap(), &[3, 2, 4], &want, 1e-12);
}

/// Compares `a @ b` with the naive f64 loop for random operands of the given sizes, with
/// the operands optionally given as transposed views.
fn check_random(m: usize, k: usize, n: usize, seed: u64, dtype: DType, ta: bool, tb: bool) {
    let mut g = Generator::new(seed);
    let a = TensorData::randn_with([m, k], DType::F64, &mut g).unwrap();
    let b = TensorData::randn_with([k, n], DType::F64, &mut g).unwrap();
    let want = naive_matmul(&vals(&a), &vals(&b), m, k, n);
    // A transposed operand is built as the transpose of a contiguous transpose, so its
    // values are the same but its strides are column-major.
    let view = |t: &TensorData, tr: bool| -> TensorData {
        let t = t.to_dtype(dtype);
        if tr {
            t.t().unwrap().contiguous().t().unwrap()
        } else {
            t
        }
    };
    let (av, bv) = (view(&a, ta), view(&b, tb));
    assert_eq!(av.is_contiguous(), !ta || m == 1 || k == 1);
    let c = av.matmul(&bv).unwrap();
    assert_eq!(c.dims(), &[m, n]);
    assert_eq!(c.dtype(), dtype);
    // f32 tolerance: ~sqrt(k) * 2^-24 relative to the magnitude of the terms (~sqrt(k)).
    let tol = if dtype == DType::F32 { 1e-4 * (k as f64).sqrt() } else { 1e-10 };
    assert_close(&vals(&c), &want, tol);
}

#[test]
fn small_loop_path_matches_naive() {
    // 4x2 @ 2x5 = 40 multiply-adds, the XOR network's size; 16x16x16 = 4096.
    for (i, &(m, k, n)) in [(4, 2, 5), (1, 7, 3), (16, 16, 16), (3, 1, 4), (25, 25, 26)].iter().enumerate() {
        assert!(m * k * n <= 16 * 1024);
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            check_random(m, k, n, 100 + i as u64, DType::F64, ta, tb);
            check_random(m, k, n, 200 + i as u64, DType::F32, ta, tb);
        }
    }
}

#[test]
fn gemm_path_matches_naive() {
    // > 16k multiply-adds: 40*30*50 = 60_000; 64*65*66; a skinny 1 x 300 x 100 = 30_000;
    // and 128*256*128 = 2^22, the multi-threaded threshold.
    for (i, &(m, k, n)) in
        [(40, 30, 50), (64, 65, 66), (1, 300, 100), (300, 100, 1), (128, 256, 128)].iter().enumerate()
    {
        assert!(m * k * n > 16 * 1024);
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            check_random(m, k, n, 300 + i as u64, DType::F64, ta, tb);
            check_random(m, k, n, 400 + i as u64, DType::F32, ta, tb);
        }
    }
}

#[test]
fn long_inner_dimension_paths_match_naive() {
    // k >= 8 * max(m, n) and >= 2^22 multiply-adds: the k-split path (threads add partial
    // products). 12 x 40000 x 10 has m > n; 10 x 40000 x 12 (m < n) is computed as the
    // transposed product written through transposed strides; transposed views cover the
    // other operand layouts (the weight gradient g^T x reads g transposed).
    for (i, &(m, k, n)) in [(12, 40_000, 10), (10, 40_000, 12)].iter().enumerate() {
        assert!(m * k * n >= 1 << 22 && k >= 8 * m.max(n));
        for (ta, tb) in [(false, false), (true, false), (false, true)] {
            check_random(m, k, n, 500 + i as u64, DType::F64, ta, tb);
        }
        check_random(m, k, n, 600 + i as u64, DType::F32, true, false);
    }
}

#[test]
fn gemm_path_batched_with_broadcast_and_views() {
    // (2,1,40,30) @ (3,30,20): each product has 24_000 multiply-adds (GEMM path).
    let a = randn(&[2, 1, 40, 30], 31);
    let b = randn(&[3, 30, 20], 32);
    let want = naive_batched(&vals(&a), a.dims(), &vals(&b), b.dims(), &[2, 3]);
    assert_tensor(&a.matmul(&b).unwrap(), &[2, 3, 40, 20], &want, 1e-10);
    // The same with B given as a transposed view of a (3,20,30) tensor.
    let bt = b.transpose(1, 2).unwrap().contiguous().transpose(1, 2).unwrap();
    assert!(!bt.is_contiguous());
    assert_tensor(&a.matmul(&bt).unwrap(), &[2, 3, 40, 20], &want, 1e-10);
    // An expanded (stride-0) row matrix in the GEMM path: (1,30) -> (40,30).
    let row = randn(&[1, 30], 33);
    let rows = row.expand([40, 30]).unwrap();
    let m = randn(&[30, 25], 34);
    let want: Vec<f64> = naive_matmul(&vals(&row), &vals(&m), 1, 30, 25).repeat(40);
    assert_tensor(&rows.matmul(&m).unwrap(), &[40, 25], &want, 1e-10);
    // A narrowed operand with an offset: rows 5..45 of a (50,30) matrix.
    let big = randn(&[50, 30], 35);
    let part = big.narrow(0, 5, 40).unwrap();
    let want = naive_matmul(&vals(&part), &vals(&m), 40, 30, 25);
    assert_tensor(&part.matmul(&m).unwrap(), &[40, 25], &want, 1e-10);
}

#[test]
fn degenerate_sizes() {
    // k = 0: (2,0) @ (0,3) is a (2,3) matrix of zeros (empty sums).
    let a = TensorData::zeros([2, 0], DType::F64);
    let b = TensorData::zeros([0, 3], DType::F64);
    assert_tensor(&a.matmul(&b).unwrap(), &[2, 3], &[0.0; 6], 0.0);
    // m = 0 and n = 0 give empty results.
    let e = TensorData::zeros([0, 3], DType::F32).matmul(&TensorData::ones([3, 4], DType::F32)).unwrap();
    assert_eq!(e.dims(), &[0, 4]);
    let e = TensorData::ones([2, 3], DType::F32).matmul(&TensorData::ones([3, 0], DType::F32)).unwrap();
    assert_eq!(e.dims(), &[2, 0]);
    // An empty batch: (0,2,3) @ (3,4) -> (0,2,4).
    let e = TensorData::zeros([0, 2, 3], DType::F64).matmul(&TensorData::ones([3, 4], DType::F64)).unwrap();
    assert_eq!(e.dims(), &[0, 2, 4]);
    // 1x1 @ 1x1
    let c = f64t(&[3.0], &[1, 1]).matmul(&f64t(&[-2.0], &[1, 1])).unwrap();
    assert_tensor(&c, &[1, 1], &[-6.0], 0.0);
}

#[test]
fn shape_errors() {
    let a = iota(&[2, 3]);
    let b = iota(&[4, 2]);
    let e = a.matmul(&b).unwrap_err();
    assert_eq!(
        e.to_string(),
        "matmul: shapes [2, 3] and [4, 2] cannot be multiplied (inner dimensions 3 and 4 differ)"
    );
    match e {
        Error::ShapeMismatch { op, lhs, rhs, .. } => {
            assert_eq!(op, "matmul");
            assert_eq!((lhs, rhs), (Shape::new(&[2, 3]), Shape::new(&[4, 2])));
        }
        other => panic!("{other:?}"),
    }
    // 1-D operands report their own shapes.
    let e = iota(&[3]).matmul(&iota(&[4])).unwrap_err().to_string();
    assert_eq!(e, "matmul: shapes [3] and [4] cannot be multiplied (inner dimensions 3 and 4 differ)");
    let e = iota(&[3]).matmul(&iota(&[2, 3])).unwrap_err().to_string();
    assert!(e.contains("[3] and [2, 3]") && e.contains("inner dimensions 3 and 2"), "{e}");
    // Batch dimensions that do not broadcast: (2,2,3) @ (3,3,2).
    let e = iota(&[2, 2, 3]).matmul(&iota(&[3, 3, 2])).unwrap_err();
    assert!(matches!(e, Error::ShapeMismatch { op: "matmul", .. }));
    assert!(e.to_string().contains("[2, 2, 3] and [3, 3, 2]") && e.to_string().contains("batch"), "{e}");
    // 0-d operands are rejected.
    let s = TensorData::scalar(2.0f64);
    for e in [s.matmul(&a).unwrap_err(), a.matmul(&s).unwrap_err()] {
        assert!(matches!(e, Error::ShapeMismatch { op: "matmul", .. }), "{e:?}");
        assert!(e.to_string().contains("at least 1 dimension"), "{e}");
    }
    // dtype: mixed and integer operands.
    let e = a.matmul(&a.t().unwrap().to_dtype(DType::F32)).unwrap_err();
    assert!(matches!(e, Error::DTypeMismatch { op: "matmul", got: DType::F32, .. }), "{e:?}");
    let i = TensorData::ones([2, 2], DType::I64);
    assert!(matches!(i.matmul(&i).unwrap_err(), Error::DTypeMismatch { op: "matmul", .. }));
}

#[test]
fn result_is_fresh_and_inputs_unchanged() {
    let (a, b) = ab();
    let c = a.matmul(&b).unwrap();
    assert!(c.is_contiguous());
    assert!(!c.shares_storage(&a) && !c.shares_storage(&b));
    assert_eq!(vals(&a), vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
}

#[test]
fn gemm_path_edge_cases() {
    // The unsafe GEMM call (> 16k multiply-adds) with the operands it can meet.
    // Degenerate sizes large enough that a non-degenerate product would take the GEMM path:
    // k = 0 gives zeros, m = 0 or n = 0 empty results (gemm is never called on them).
    let z = TensorData::zeros([200, 0], DType::F64).matmul(&TensorData::zeros([0, 300], DType::F64)).unwrap();
    assert_tensor(&z, &[200, 300], &vec![0.0; 60_000], 0.0);
    let e =
        TensorData::zeros([0, 300], DType::F32).matmul(&TensorData::ones([300, 200], DType::F32)).unwrap();
    assert_eq!(e.dims(), &[0, 200]);
    let e = TensorData::ones([200, 300], DType::F32).matmul(&TensorData::ones([300, 0], DType::F32)).unwrap();
    assert_eq!(e.dims(), &[200, 0]);
    // Both operands fully expanded from one element (every stride 0): 2 * 3 summed over k = 40.
    let two = f64t(&[2.0], &[1, 1]).expand([30, 40]).unwrap();
    let three = f64t(&[3.0], &[1, 1]).expand([40, 50]).unwrap();
    assert_tensor(&two.matmul(&three).unwrap(), &[30, 50], &vec![240.0; 1500], 0.0);
    // A column-expanded operand (column stride 0): column c of (40,1) repeated 30 times.
    let col = randn(&[40, 1], 41);
    let cols = col.expand([40, 30]).unwrap();
    let m = randn(&[30, 25], 42);
    let want = naive_matmul(&vals(&cols.contiguous()), &vals(&m), 40, 30, 25);
    assert_tensor(&cols.matmul(&m).unwrap(), &[40, 25], &want, 1e-10);
    // Narrowed in both dims (offset into the storage, row stride 60 != columns 30), against
    // a narrowed-and-transposed right operand.
    let big = randn(&[50, 60], 43);
    let a = big.narrow(0, 3, 40).unwrap().narrow(1, 7, 30).unwrap();
    let other = randn(&[70, 45], 44);
    let b = other.narrow(0, 10, 25).unwrap().narrow(1, 2, 30).unwrap().t().unwrap(); // (30, 25)
    assert!(!a.is_contiguous() && !b.is_contiguous());
    let want = naive_matmul(&vals(&a), &vals(&b), 40, 30, 25);
    assert_tensor(&a.matmul(&b).unwrap(), &[40, 25], &want, 1e-10);
    // The last element of the operand is read (the bounds the SAFETY comment relies on):
    // a narrow that ends exactly at the end of the storage.
    let tail = big.narrow(0, 10, 40).unwrap().narrow(1, 30, 30).unwrap();
    let want = naive_matmul(&vals(&tail), &vals(&m), 40, 30, 25);
    assert_tensor(&tail.matmul(&m).unwrap(), &[40, 25], &want, 1e-10);
    // A batch dimension expanded (batch stride 0) on the GEMM path, f32.
    let a32 = randn(&[1, 40, 30], 45).to_dtype(DType::F32).expand([3, 40, 30]).unwrap();
    let b32 = randn(&[3, 30, 20], 46).to_dtype(DType::F32);
    let c = a32.matmul(&b32).unwrap();
    for i in 0..3 {
        let want = naive_matmul(
            &vals(&a32.narrow(0, i, 1).unwrap()),
            &vals(&b32.narrow(0, i, 1).unwrap()),
            40,
            30,
            20,
        );
        assert_close(&vals(&c.narrow(0, i, 1).unwrap()), &want, 1e-4);
    }
}

#[test]
fn gemm_strided_accumulates_onto_the_destination() {
    // `accumulate = true` (read_dst in the unsafe call): dst = dst + A @ B, on the loop path
    // and on both GEMM orientations (m > n as is, m < n as the transposed product).
    for (m, k, n) in [(3, 4, 5), (40, 30, 25), (25, 30, 40)] {
        let a = vals(&randn(&[m, k], 47));
        let b = vals(&randn(&[k, n], 48));
        let start: Vec<f64> = (0..m * n).map(|i| i as f64).collect();
        let mut dst = start.clone();
        gemm_strided(m, k, n, Strided::new(&a, 0, k, 1), Strided::new(&b, 0, n, 1), &mut dst, true).unwrap();
        let want: Vec<f64> = naive_matmul(&a, &b, m, k, n).iter().zip(&start).map(|(p, s)| p + s).collect();
        assert_close(&dst, &want, 1e-10);
        // And `accumulate = false` overwrites whatever was there.
        gemm_strided(m, k, n, Strided::new(&a, 0, k, 1), Strided::new(&b, 0, n, 1), &mut dst, false).unwrap();
        assert_close(&dst, &naive_matmul(&a, &b, m, k, n), 1e-10);
    }
}

#[test]
fn gemm_strided_rejects_strides_that_wrap_around() {
    // Issue 21: the bounds check before the unsafe GEMM call computed 3 * 0xAAAA_AAAA_AAAA_AAAC
    // unchecked, which wraps to 4 (< 5 elements), so this call passed and read far outside
    // `a`: a segfault in release (an overflow panic in debug). Now an error, in either build.
    let a = vec![1.0f32; 5];
    let b = vec![1.0f32; 8192];
    let mut d = vec![0.0f32; 4 * 8192];
    let wraps = Strided::new(&a, 0, 0xAAAA_AAAA_AAAA_AAAC, 1);
    let e = gemm_strided(4, 1, 8192, wraps, Strided::new(&b, 0, 8192, 1), &mut d, false).unwrap_err();
    assert!(e.to_string().starts_with("gemm_strided: operand A (4 x 1, offset 0, strides (12297829382473034412, 1)) reads past its 5 elements"), "{e}");
    // The same overflow in B's column stride, in the offset, and a destination of the wrong
    // size (m * n itself overflowing), on the loop path and the GEMM path.
    let a = vec![1.0f64; 64 * 64];
    let mut d = vec![0.0f64; 64 * 64];
    let ok = Strided::new(&a, 0, 64, 1);
    for (m, k, n) in [(2, 2, 2), (64, 64, 64)] {
        let d = &mut d[..m * n];
        let bad_b = Strided::new(&a, 0, 1, usize::MAX / 2 + 2); // (n - 1) * cs wraps for n = 2, 64
        assert!(gemm_strided(m, k, n, ok, bad_b, d, false).is_err());
        let bad_off = Strided::new(&a, usize::MAX, 64, 1);
        assert!(gemm_strided(m, k, n, bad_off, ok, d, false).is_err());
        assert!(gemm_strided(m, k, n, ok, Strided::new(&a, 4050, 64, 1), d, false).is_err());
        // plainly past the end
    }
    let e = gemm_strided(1 << 32, 1, 1 << 32, ok, ok, &mut d, false).unwrap_err(); // 2^64 wraps to 0
    assert!(e.to_string().contains("the destination holds 4096 elements"), "{e}");
    // A stride that is never stepped (a dimension of size 1) may hold anything, even more
    // than isize::MAX, and must not reach the GEMM as a negative stride: 1 x 64 @ 64 x 64 on
    // the GEMM path with a row stride of usize::MAX gives the plain product.
    let x: Vec<f64> = (0..64).map(|i| i as f64).collect();
    let eye: Vec<f64> = (0..64 * 64).map(|i| if i % 65 == 0 { 2.0 } else { 0.0 }).collect();
    let mut out = vec![0.0; 64];
    let row = Strided::new(&x, 0, usize::MAX, 1);
    gemm_strided(1, 64, 64, row, Strided::new(&eye, 0, 64, 1), &mut out, false).unwrap();
    assert_eq!(out, x.iter().map(|v| 2.0 * v).collect::<Vec<_>>()); // x @ 2I = 2x
}

#[test]
fn products_written_into_recycled_buffers_hold_no_stale_values() {
    // Outputs of 128 KiB or more come from the buffer cache without being cleared first. Each
    // round frees its results, so the next round's products of the same size may land in the
    // very same memory: they must still be exactly the product (+ bias), nothing left over.
    // Sizes: 160x170 f64 (gemm crate), 128x128 f64 with k = 1 (the plain loop), 2000x32 f32
    // (the narrow-output kernel where the CPU has AVX2), 181x182 f32 with k = 1500 (split
    // over k, whose first partial replaces what dst held).
    let sizes = [
        (160, 7, 170, DType::F64),
        (128, 1, 128, DType::F64),
        (2000, 300, 32, DType::F32),
        (181, 1500, 182, DType::F32),
    ];
    for (m, k, n, dtype) in sizes {
        let tol = if dtype == DType::F32 { 1e-4 * (k as f64).sqrt() } else { 1e-10 };
        for round in 0..3u64 {
            let rand = |shape: &[usize], seed| randn(shape, seed).to_dtype(dtype);
            let (a, b) = (rand(&[m, k], 60 + round), rand(&[k, n], 70 + round));
            let want = naive_matmul(&vals(&a), &vals(&b), m, k, n);
            assert_close(&vals(&a.matmul(&b).unwrap()), &want, tol);
            let bias = rand(&[n], 80 + round);
            let with_bias: Vec<f64> = want.iter().enumerate().map(|(i, w)| w + vals(&bias)[i % n]).collect();
            assert_close(&vals(&a.addmm(Some(&bias), &b).unwrap()), &with_bias, tol);
            // Batched: two stacked copies of `a` give two copies of the product.
            let a2 = TensorData::stack(&[&a, &a], 0).unwrap();
            let twice: Vec<f64> = want.iter().chain(&want).copied().collect();
            assert_close(&vals(&a2.matmul(&b).unwrap()), &twice, tol);
        }
    }
}

#[test]
fn narrow_outputs_of_16_24_and_32_columns_match_naive() {
    // f32 products of at least 2^22 multiply-adds with 16, 24 or 32 output columns take the
    // AVX2 kernel of `matmul/narrow.rs` where the CPU has AVX2 (the gemm crate elsewhere).
    // The shapes cover rows that are not a multiple of the tile (3 or 4 rows) nor of a task
    // (192 rows); k not a multiple of the 256-row blocks; A transposed (ta) and B packed
    // (tb) or read in place; m < n (computed as the transposed product, written through
    // strides); and k >= 8 max(m, n) (the k-split, each thread a partial product).
    // (16, 6000, 200) is the weight-gradient case: transposed and split over k.
    let shapes = [
        (1001, 300, 32),
        (1001, 300, 24),
        (1003, 300, 16),
        (32, 300, 1001),
        (24, 300, 1003),
        (16, 300, 1005),
        (40, 5000, 32),
        (16, 6000, 200),
    ];
    for (i, &(m, k, n)) in shapes.iter().enumerate() {
        assert!(m * k * n >= 1 << 22);
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            check_random(m, k, n, 700 + i as u64, DType::F32, ta, tb);
        }
    }
    // addmm: the bias rows are the starting value the kernel accumulates onto (directly,
    // through the k-split of a transposed product, and added onto through the transposed
    // write-back of (32, 300, 1001) and (16, 300, 1005): 8 x 8 blocks, then the rows left).
    for (m, k, n) in [(1001, 300, 32), (16, 6000, 200), (32, 300, 1001), (16, 300, 1005)] {
        let mut g = Generator::new(710);
        let a = TensorData::randn_with([m, k], DType::F32, &mut g).unwrap();
        let b = TensorData::randn_with([k, n], DType::F32, &mut g).unwrap();
        let bias = TensorData::randn_with([n], DType::F32, &mut g).unwrap();
        let want: Vec<f64> = naive_matmul(&vals(&a), &vals(&b), m, k, n)
            .iter()
            .enumerate()
            .map(|(i, p)| p + vals(&bias)[i % n])
            .collect();
        assert_close(&vals(&a.addmm(Some(&bias), &b).unwrap()), &want, 1e-4 * (k as f64).sqrt());
    }
}
