//! Sizes too large for memory (issue 21). The rule, one check for every constructor and every
//! op that sizes an output: a shape's element count times the element size must fit in
//! `isize::MAX` bytes, computed without overflow, with a 0 dimension counted as 1 so that an
//! empty tensor whose other dimensions overflow is rejected too (PyTorch rejects
//! `torch.zeros(0, 2**40, 2**40)`: "Stride calculation overflowed"). A request within that
//! bound that the allocator cannot serve is an `Err` as well, never an abort.
//!
//! Sizes here that must fail to allocate are at least 2^48 bytes, more than x86-64's 2^47-byte
//! user address space, so they fail on any machine (whatever its overcommit setting).

mod common;
use common::*;
use torchlet_tensor_core::{DType, Error, Shape, TensorData};

/// Asserts an `InvalidArgument` error of `op` whose message contains every one of `parts`.
#[track_caller]
fn assert_too_large<T: std::fmt::Debug>(r: Result<T, Error>, op: &str, parts: &[&str]) {
    match r {
        Err(Error::InvalidArgument { op: got, ref msg }) if got == op => {
            let text = r.as_ref().unwrap_err().to_string();
            for p in parts {
                assert!(text.contains(p), "{op}: {p:?} missing from {msg:?}");
            }
        }
        other => panic!("{op}: expected an InvalidArgument error, got {other:?}"),
    }
}

#[test]
fn result_returning_constructors_reject_sizes_too_large() {
    // torch.arange(0.0, 1e19, 1.0): "RuntimeError: invalid size, possible overflow?". torchlet
    // panicked with "capacity overflow"; 1e300 (whose count saturates a usize) too.
    for end in [1e19, 1e300, 2f64.powi(62)] {
        assert_too_large(TensorData::arange(0.0, end, 1.0, DType::F32), "arange", &["[", "f32"]);
    }
    // 2^59 i64 values are 2^62 bytes: addressable, but no allocator serves them.
    assert_too_large(TensorData::arange(0.0, 2f64.powi(59), 1.0, DType::I64), "arange", &["out of memory"]);
    // An empty data vector for an empty shape whose other dims overflow (2^80 elements if the
    // 0 were a 1): PyTorch's torch.zeros(0, 2**40, 2**40) and torch.zeros(2**40, 2**40, 0)
    // are errors ("Stride calculation overflowed", "Storage size calculation overflowed").
    for dims in [[0, 1 << 40, 1 << 40], [1 << 40, 1 << 40, 0], [0, usize::MAX, 2]] {
        let e = TensorData::from_vec(Vec::<f32>::new(), dims);
        assert_too_large(e, "from_vec", &["too many elements"]);
    }
    // 2^31 x 2^31 f32 would be 2^64 bytes.
    assert_too_large(
        TensorData::from_vec(Vec::<f32>::new(), [0, 1 << 31, 1usize << 31]),
        "from_vec",
        &["f32"],
    );
    // ... but bool (1 byte) fits the bound, so an empty one exists, like in PyTorch.
    assert_eq!(TensorData::from_vec(Vec::<bool>::new(), [0, 1 << 31, 1usize << 31]).unwrap().numel(), 0);
    // one_hot with 2^58 classes: 2^61 bytes of i64, addressable, not allocatable (an abort
    // before: `vec![0; n]` cannot report failure).
    let idx = TensorData::from_vec(vec![3i64], [1]).unwrap();
    assert_too_large(idx.one_hot(Some(1 << 58)), "one_hot", &["out of memory"]);
    assert_too_large(idx.one_hot(Some(usize::MAX)), "one_hot", &["too large"]);
}

#[test]
fn broadcasting_ops_check_the_result_size() {
    // [2^31, 1] op [1, 2^31] is [2^31, 2^31]: 2^62 elements, 2^64 bytes of f32. These
    // panicked in pool.rs ("attempt to multiply with overflow", or "capacity overflow").
    let col = TensorData::scalar(1.0f32).expand([1usize << 31, 1]).unwrap();
    let row = TensorData::scalar(1.0f32).expand([1, 1usize << 31]).unwrap();
    type BinaryOp = fn(&TensorData, &TensorData) -> Result<TensorData, Error>;
    let ops: [(&str, BinaryOp); 7] = [
        ("add", TensorData::add),
        ("sub", TensorData::sub),
        ("mul", TensorData::mul),
        ("div", TensorData::div),
        ("maximum", TensorData::maximum),
        ("minimum", TensorData::minimum),
        ("pow", TensorData::pow),
    ];
    for (op, f) in ops {
        assert_too_large(f(&col, &row), op, &["[2147483648, 2147483648]", "too many elements"]);
    }
    // A bool result of 2^62 bytes is within isize::MAX: it fails to allocate instead.
    let close = col.isclose(&row, 1e-5, 1e-8, false);
    for (op, r) in [("eq", col.eq(&row)), ("lt", col.lt(&row)), ("ge", col.ge(&row)), ("isclose", close)] {
        assert_too_large(r, op, &["[2147483648, 2147483648]", "out of memory"]);
    }
    let mask = TensorData::scalar(true).expand([1usize << 31, 1]).unwrap();
    assert_too_large(TensorData::where_cond(&mask, &col, &row), "where", &["[2147483648, 2147483648]"]);
    // matmul: [2^31, 1] @ [1, 2^31], and batched over expanded views: [2^20] batches of
    // [2^20, 1] @ [1, 2^20] (2^60 f32, 2^62 bytes: addressable, not allocatable).
    assert_too_large(col.matmul(&row), "matmul", &["[2147483648, 2147483648]"]);
    assert_too_large(col.addmm(None, &row), "matmul", &["[2147483648, 2147483648]"]);
    let a = TensorData::scalar(1.0f32).expand([1usize << 20, 1 << 20, 1]).unwrap();
    let b = TensorData::scalar(1.0f32).expand([1, 1 << 20]).unwrap();
    assert_too_large(a.matmul(&b), "matmul", &["[1048576, 1048576, 1048576]", "out of memory"]);
    // The sizes that fit still work: [3, 1] + [1, 4].
    let s = f32t(&[1.0, 2.0, 3.0], &[3, 1]).add(&f32t(&[10.0, 20.0, 30.0, 40.0], &[1, 4])).unwrap();
    assert_eq!(s.dims(), &[3, 4]);
}

#[test]
fn views_of_sizes_too_large_are_errors() {
    let e = TensorData::from_vec(Vec::<f32>::new(), [0]).unwrap();
    assert_too_large(e.reshape([0, 1usize << 40, 1usize << 40]), "reshape", &["too many elements"]);
    let one = TensorData::scalar(1.0f32);
    assert_too_large(one.expand([0, 1usize << 62, 4]), "expand", &["too many elements"]);
    assert_too_large(one.expand([1usize << 31, 1usize << 31]), "expand", &["too many elements"]);
    // Materialising an expanded view of 2^60 f32 (2^62 bytes): an error, not an abort.
    let big = one.expand([1usize << 30, 1 << 30]).unwrap();
    // reshape(-1) of it is still a view, stride 0 (PyTorch's computeStride allows it too).
    let flat = big.reshape([-1]).unwrap();
    assert_eq!((flat.dims(), flat.layout().strides.as_slice()), (&[1usize << 60][..], &[0usize][..]));
    assert_too_large(big.sum_dim(1, false).map(|_| ()), "sum", &["out of memory"]);
    assert_too_large(big.values::<f32>().map(|_| ()), "values", &["out of memory"]);
    assert_too_large(big.try_contiguous(), "contiguous", &["out of memory"]);
    assert_too_large(big.try_to_dtype(DType::F64), "to_dtype", &["too many elements"]);
}

#[test]
fn empty_tensors_with_huge_dims_keep_their_shapes() {
    // [0, 2^46, 2] is a valid empty tensor (PyTorch: torch.zeros(0, 2**46, 2) works).
    let big = 1usize << 46;
    let x = TensorData::from_vec(Vec::<f32>::new(), [0, big, 2]).unwrap();
    assert_eq!(x.flatten(0, -1).unwrap().dims(), &[0]);
    assert_eq!(x.flatten(1, 2).unwrap().dims(), &[0, 2 * big]);
    assert_eq!(TensorData::cat(&[&x, &x], 0).unwrap().dims(), &[0, big, 2]);
    assert_eq!(TensorData::cat(&[&x, &x], 1).unwrap().dims(), &[0, 2 * big, 2]);
    assert_eq!(TensorData::stack(&[&x, &x], 1).unwrap().dims(), &[0, 2, big, 2]);
    assert_eq!(x.sum_dim(1, false).unwrap().dims(), &[0, 2]);
    assert_eq!(x.sum_dim(2, true).unwrap().dims(), &[0, big, 1]);
    assert_eq!(x.unsqueeze(1).unwrap().dims(), &[0, 1, big, 2]);
    assert_eq!(x.unsqueeze(3).unwrap().dims(), &[0, big, 2, 1]);
    assert_eq!(x.narrow(1, big, 0).unwrap().dims(), &[0, 0, 2]);
    assert_eq!(x.narrow(1, 5, 3).unwrap().dims(), &[0, 3, 2]);
    assert_eq!(x.permute(&[2, 0, 1]).unwrap().dims(), &[2, 0, big]);
    let idx = TensorData::from_vec(vec![0i64, 5], [2]).unwrap();
    assert_eq!(x.index_select(1, &idx).unwrap().dims(), &[0, 2, 2]);
    assert_eq!(x.argmax(1, false).unwrap().dims(), &[0, 2]);
    assert_eq!(x.logsumexp(1, false).unwrap().dims(), &[0, 2]);
    // Reducing the empty dimension gives 2^47 zeros: 2^49 bytes, not allocatable (an error).
    assert_too_large(x.sum_dim(0, false), "sum", &["[70368744177664, 2]", "out of memory"]);
    assert_too_large(x.mean_dim(0, false), "sum", &["out of memory"]);
    // A matmul whose inner dimension is empty is zeros: [2^46, 0] @ [0, 2] is 2^49 bytes too.
    let a = TensorData::from_vec(Vec::<f32>::new(), [big, 0]).unwrap();
    let b = TensorData::from_vec(Vec::<f32>::new(), [0, 2]).unwrap();
    assert_too_large(a.matmul(&b), "matmul", &["[70368744177664, 2]"]);
    // Empty results with huge other dims: no work, no allocation (the batched loop walked
    // 2^46 empty batches before).
    let e = TensorData::from_vec(Vec::<f32>::new(), [0, big]).unwrap();
    assert_eq!(e.matmul(&a).unwrap().dims(), &[0, 0]);
    let batches = TensorData::from_vec(Vec::<f32>::new(), [big, 0, 3]).unwrap();
    assert_eq!(batches.matmul(&f32t(&[1.0; 6], &[3, 2])).unwrap().dims(), &[big, 0, 2]);
    assert_eq!(b.t().unwrap().matmul(&TensorData::zeros([0, 3], DType::F32)).unwrap().dims(), &[2, 3]);
}

#[test]
fn softmax_of_zero_rows_allocates_nothing() {
    // zeros([0, 2^40, 2]).softmax(1) aborted the process: 4 TB of scratch for zero rows.
    // PyTorch: torch.empty(0, 2**40, 2).softmax(1) has shape (0, 1099511627776, 2).
    let x = TensorData::zeros([0, 1 << 40, 2], DType::F32);
    for d in [0, 1, 2, -1] {
        assert_eq!(x.softmax(d).unwrap().dims(), &[0, 1 << 40, 2]);
        assert_eq!(x.log_softmax(d).unwrap().dims(), &[0, 1 << 40, 2]);
    }
    let rows = TensorData::zeros([1 << 40, 0], DType::F64);
    assert_eq!(rows.softmax(0).unwrap().dims(), &[1 << 40, 0]);
    assert_eq!(rows.log_softmax(1).unwrap().dims(), &[1 << 40, 0]);
}

#[test]
fn shape_validate_counts_bytes_with_zeros_as_ones() {
    let v = |d: &[usize], t| Shape::new(d).validate("t", t);
    assert_eq!(v(&[2, 3], DType::F32).unwrap(), 6);
    assert_eq!(v(&[0, 1 << 40, 2], DType::F32).unwrap(), 0);
    assert_eq!(v(&[], DType::F32).unwrap(), 1);
    // The bound is isize::MAX = 2^63 - 1 bytes: (2^61 - 1) f32 are 2^63 - 4 bytes, 2^61 are 2^63.
    assert_eq!(v(&[(1 << 61) - 1], DType::F32).unwrap(), (1 << 61) - 1);
    assert_too_large(v(&[1 << 61], DType::F32), "t", &["[2305843009213693952]", "f32", "too many elements"]);
    assert_eq!(v(&[isize::MAX as usize], DType::Bool).unwrap(), isize::MAX as usize);
    assert!(v(&[isize::MAX as usize + 1], DType::Bool).is_err());
    assert!(v(&[1 << 60, 0], DType::I64).is_err()); // 2^63 bytes if the 0 were a 1
    assert!(v(&[1 << 59, 0], DType::I64).is_ok());
    // Overflow of the count itself, at any position of the 0.
    for d in [[0, usize::MAX, 2], [usize::MAX, 2, 0], [2, 0, usize::MAX]] {
        assert_too_large(v(&d, DType::Bool), "t", &["the sizes overflow"]);
    }
    assert_eq!(
        v(&[1 << 31, 1usize << 31], DType::F32).unwrap_err().to_string(),
        "t: a tensor of shape [2147483648, 2147483648] and dtype f32 has too many elements \
         (4611686018427387904 elements of 4 bytes; at most isize::MAX = 9223372036854775807 bytes can be addressed)"
    );
}

#[test]
fn row_kernels_on_zero_rows_allocate_nothing() {
    // The softmax and cross-entropy row kernels sized their scratch from the row length alone:
    // a row length of c = 2^40 asked for 4 TB whatever the input held (an abort). Empty inputs
    // now return at once, and a non-empty input's scratch never exceeds the input.
    use torchlet_tensor_core::vmath;
    let c = 1usize << 40;
    let mut out = Vec::<f32>::new();
    vmath::softmax_rows::<f32>(&[], c, &mut out, true);
    let stats = vmath::RowStats::<f32>::of(&[], c);
    assert_eq!(stats.rows(), 0);
    vmath::softmax_from_stats::<f32>(&[], c, &stats, &mut out);
    let targets = vmath::ClassTargets { targets: &[], ignore_index: -100, weight: &[] };
    assert!(vmath::ce_grad_index::<f32>(&[], c, &stats, &targets, &[1.0]).is_empty());
    assert_eq!(vmath::nll_rows::<f32>(&[], c, &stats, &targets, &mut []), Ok(()));
    // A row of 3 values among rows "of 2^40" (a misuse: x.len() is not a multiple of c)
    // computes nothing, and allocates at most those 3 values.
    let mut out = [7.0f32; 3];
    vmath::softmax_rows(&[1.0f32, 2.0, 3.0], c, &mut out, false);
    assert_eq!(out, [7.0; 3]);
    // And rows of 0 values are a clear panic, not rayon's "chunk_size must not be zero".
    let e = std::panic::catch_unwind(|| vmath::softmax_rows(&[1.0f32], 0, &mut [0.0], false)).unwrap_err();
    assert_eq!(e.downcast_ref::<String>().unwrap(), "softmax_rows: rows of 0 values (1 values given)");
}
