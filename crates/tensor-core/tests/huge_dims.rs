//! Property tests with huge and overflowing dimensions (issue 21). The other property tests
//! draw sizes 0-5 only, which is why overflow bugs survived them; here every shape mixes 0,
//! small (1-3) and huge sizes (2^31, 2^40, usize::MAX / 2) and goes through constructors,
//! broadcasting binary ops, reductions, views, cat/stack, index ops, softmax and matmul.
//!
//! The property: every call returns `Ok` or `Err`, never panics (each call runs inside
//! `catch_unwind`, so a failure names it) and never aborts. Every tensor an op returns has a
//! shape that passes `Shape::validate` for its dtype, and the ops whose result shape is known
//! in advance are checked against it.
//!
//! Tensors of valid huge shapes are expanded views of a scalar (no memory); anything that
//! would materialise one is an allocation request. This binary's global allocator refuses
//! single requests above 256 MiB (`Capped`), so such requests fail at once, on any machine,
//! and exercise the fallible allocation paths; an infallible allocation of that size would
//! abort the test binary, which is a failure too. Matmuls with a huge inner dimension and a
//! small result (billions of multiply-adds of legitimate work) are skipped.
//!
//! Cases per property: `TORCHLET_PROPTEST_CASES` or 256.

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use std::alloc::{GlobalAlloc, Layout, System};
use std::panic::{catch_unwind, AssertUnwindSafe};
use torchlet_tensor_core::{DType, Error, Shape, TensorData};

/// The largest single allocation this test binary's allocator serves.
const CAP: usize = 256 << 20;

/// The system allocator, refusing single requests above [`CAP`] bytes (a null pointer, which
/// `try_reserve` reports as an error and an infallible allocation turns into an abort).
struct Capped;

// SAFETY: every method either returns null (a refusal, which the `GlobalAlloc` contract allows
// for any request) or forwards its arguments unchanged to `System`, which upholds the contract;
// `dealloc` only ever sees pointers that `System` allocated.
unsafe impl GlobalAlloc for Capped {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() > CAP {
            return std::ptr::null_mut();
        }
        // SAFETY: the caller's guarantees for `layout` (non-zero size) pass through unchanged.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.size() > CAP {
            return std::ptr::null_mut();
        }
        // SAFETY: as in `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > CAP {
            return std::ptr::null_mut(); // the old block stays valid, as the contract requires
        }
        // SAFETY: `ptr` was allocated by `System` (through this allocator) with `layout`, and
        // the caller's guarantees for `new_size` pass through unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` (through this allocator) with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Capped = Capped;

fn config() -> ProptestConfig {
    let cases = std::env::var("TORCHLET_PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(256);
    ProptestConfig { failure_persistence: None, ..ProptestConfig::with_cases(cases) }
}

/// Runs `f`; a panic becomes a test failure naming `what`.
fn call<R>(what: &str, f: impl FnOnce() -> R) -> Result<R, TestCaseError> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|e| {
        let msg = e
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        TestCaseError::fail(format!("{what} panicked: {msg}"))
    })
}

/// Runs a tensor-returning op: no panic, and an `Ok` tensor has a valid shape (and prints).
fn op(
    what: &str,
    f: impl FnOnce() -> Result<TensorData, Error>,
) -> Result<Option<TensorData>, TestCaseError> {
    match call(what, f)? {
        Ok(t) => {
            prop_assert!(
                t.shape().validate("check", t.dtype()).is_ok(),
                "{what} returned a tensor of invalid shape {} ({})",
                t.shape(),
                t.dtype()
            );
            call(what, || t.to_string())?;
            Ok(Some(t))
        }
        Err(_) => Ok(None),
    }
}

/// [`op`] that also checks the result's shape when there is one.
fn op_shape(
    what: &str,
    want: &[usize],
    f: impl FnOnce() -> Result<TensorData, Error>,
) -> Result<(), TestCaseError> {
    if let Some(t) = op(what, f)? {
        prop_assert_eq!(t.dims(), want, "{}", what);
    }
    Ok(())
}

/// Runs any other call: only "no panic" matters.
fn probe<R>(what: &str, f: impl FnOnce() -> R) -> Result<(), TestCaseError> {
    call(what, f).map(drop)
}

// ----- generators --------------------------------------------------------------------------------

const HUGE: [usize; 3] = [1 << 31, 1 << 40, usize::MAX / 2];

fn size() -> impl Strategy<Value = usize> {
    prop_oneof![3 => Just(0usize), 4 => 1usize..=3, 3 => prop::sample::select(HUGE.to_vec())]
}

fn shape() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(size(), 0..=4)
}

fn dtype() -> impl Strategy<Value = DType> {
    prop_oneof![3 => Just(DType::F32), 2 => Just(DType::F64), 1 => Just(DType::I64), 1 => Just(DType::Bool)]
}

fn dim() -> impl Strategy<Value = isize> {
    prop_oneof![8 => -5isize..5, 1 => Just(isize::MAX), 1 => Just(isize::MIN)]
}

/// A start or length: small, huge, or the largest.
fn offset() -> impl Strategy<Value = usize> {
    prop_oneof![4 => 0usize..4, 1 => prop::sample::select(HUGE.to_vec()), 1 => Just(usize::MAX)]
}

/// What a tensor is made of; [`Spec::build`] makes it.
#[derive(Clone, Debug)]
struct Spec {
    shape: Vec<usize>,
    dtype: DType,
    /// 0: as built; 1: its first and last dims swapped (a strided view); 2: its first dim
    /// narrowed to drop the first entry (an offset view).
    view: u8,
}

impl Spec {
    /// The tensor, or `None` when the shape is invalid for the dtype (those shapes go through
    /// the constructors, which must reject them). Small shapes hold real values; larger ones
    /// are an expanded scalar (a view of any size, no memory).
    fn build(&self) -> Result<Option<TensorData>, TestCaseError> {
        let shape = Shape::new(&self.shape);
        let Ok(n) = shape.validate("build", self.dtype) else { return Ok(None) };
        let t = call("build", || -> Result<TensorData, Error> {
            let t = if n <= 64 {
                let v: Vec<f64> = (0..n).map(|i| ((i * 7) % 11) as f64 - 5.0).collect();
                TensorData::from_f64_vec(v, shape.clone(), self.dtype)?
            } else {
                TensorData::try_full((), 1.5, self.dtype)?.expand(shape.clone())?
            };
            Ok(match self.view {
                1 if t.ndim() >= 2 => t.transpose(0, -1)?,
                2 if t.ndim() >= 1 && t.dims()[0] > 0 => t.narrow(0, 1, t.dims()[0] - 1)?,
                _ => t,
            })
        })?;
        match t {
            Ok(t) => Ok(Some(t)),
            Err(e) => Err(TestCaseError::fail(format!("a valid shape {shape} failed to build: {e}"))),
        }
    }
}

fn spec_with(
    shape: impl Strategy<Value = Vec<usize>>,
    dtype: impl Strategy<Value = DType>,
) -> impl Strategy<Value = Spec> {
    (shape, dtype, 0u8..3).prop_map(|(shape, dtype, view)| Spec { shape, dtype, view })
}

fn spec() -> impl Strategy<Value = Spec> {
    spec_with(shape(), dtype())
}

/// A shape that broadcasts with `s` most of the time (some sizes set to 1, leading ones
/// dropped), sometimes an unrelated one.
fn related(s: Vec<usize>) -> impl Strategy<Value = Vec<usize>> {
    let n = s.len();
    prop_oneof![
        3 => (prop::collection::vec(any::<bool>(), n), 0..=n).prop_map(move |(ones, drop)| {
            s.iter().zip(ones).map(|(&d, o)| if o { 1 } else { d }).skip(drop).collect()
        }),
        1 => shape(),
    ]
}

/// Two specs whose shapes mostly broadcast, usually of one dtype.
fn pair() -> impl Strategy<Value = (Spec, Spec)> {
    spec().prop_flat_map(|a| {
        let b = spec_with(related(a.shape.clone()), prop_oneof![4 => Just(a.dtype), 1 => dtype()]);
        (Just(a), b)
    })
}

/// An i64 index tensor of at most 3 entries per dim, values mostly in range.
fn index_tensor(shape: &[usize], values: &[i64]) -> TensorData {
    let dims: Vec<usize> = shape.iter().map(|&d| d.min(2)).collect();
    let n: usize = dims.iter().product();
    let v: Vec<i64> = values.iter().copied().cycle().take(n).collect();
    let v = if values.is_empty() { vec![0; n] } else { v };
    TensorData::from_vec(v, dims).expect("a small index tensor")
}

/// Whether `a.matmul(b)` may be called: it is skipped only when it would do more than 2^22
/// multiply-adds into a result small enough to allocate (legitimate work of minutes for a
/// huge inner dimension; everything else returns at once, with a result or an error).
fn matmul_is_quick(a: &TensorData, b: &TensorData) -> bool {
    if a.ndim() == 0 || b.ndim() == 0 {
        return true;
    }
    let k = *a.dims().last().unwrap();
    let m = if a.ndim() >= 2 { a.dims()[a.ndim() - 2] } else { 1 };
    let n = if b.ndim() >= 2 { *b.dims().last().unwrap() } else { 1 };
    let batch = |t: &TensorData| Shape::new(&t.dims()[..t.ndim().saturating_sub(2)]);
    let Ok(batch) = Shape::broadcast("matmul", &batch(a), &batch(b)) else { return true };
    let out = batch.numel().saturating_mul(m).saturating_mul(n);
    out.saturating_mul(8) > CAP || out.saturating_mul(k) <= 1 << 22
}

/// The signatures of the ops called from tables below.
type Binary = fn(&TensorData, &TensorData) -> Result<TensorData, Error>;
type Reduction = fn(&TensorData, isize, bool) -> Result<TensorData, Error>;
type AlongDim = fn(&TensorData, isize) -> Result<TensorData, Error>;
type Unary = fn(&TensorData) -> Result<TensorData, Error>;

// ----- properties --------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config())]

    #[test]
    fn constructors_never_panic(s in shape(), dt in dtype(), n in size(), v in -3.0f64..3.0) {
        let shape = Shape::new(&s);
        let valid = shape.validate("check", dt);
        // Constructors accept exactly the valid shapes (and may still fail to allocate).
        if let Some(t) = op("try_zeros", || TensorData::try_zeros(shape.clone(), dt))? {
            prop_assert!(valid.is_ok());
            prop_assert_eq!(t.shape(), &shape);
        }
        op("try_ones", || TensorData::try_ones(shape.clone(), dt))?;
        op("try_full", || TensorData::try_full(shape.clone(), v, dt))?;
        let from_vec = op("from_vec empty", || TensorData::from_vec(Vec::<f32>::new(), shape.clone()))?;
        prop_assert_eq!(
            from_vec.is_some(),
            shape.validate("check", DType::F32) == Ok(0),
            "from_vec(vec![], {}) must succeed exactly for valid empty shapes", shape
        );
        op("from_f64_vec empty", || TensorData::from_f64_vec(vec![], shape.clone(), dt))?;
        if let Ok(k) = valid {
            if k <= 64 {
                op_shape("from_f64_vec", &s, || TensorData::from_f64_vec(vec![v; k], shape.clone(), dt))?;
                op_shape("from_vec", &s, || TensorData::from_vec(vec![v; k], shape.clone()))?;
            }
        }
        op("try_eye", || TensorData::try_eye(n, dt))?;
        op("try_linspace", || TensorData::try_linspace(0.0, v, n, dt))?;
        op("arange", || TensorData::arange(0.0, n as f64, 1.0, dt))?;
        op("arange step", || TensorData::arange(v, v + 1.0, 1.0 / n.max(1) as f64, dt))?;
        probe("pool::try_filled", || torchlet_tensor_core::pool::try_filled("t", &shape, 0.5f32))?;
        probe("pool::try_overwritable", || torchlet_tensor_core::pool::try_overwritable::<i64>("t", &shape))?;
        let idx = TensorData::from_vec(vec![0i64, 2], [2]).unwrap();
        op("one_hot", || idx.one_hot(Some(n)))?;
    }

    #[test]
    fn binary_ops_never_panic((sa, sb) in pair()) {
        let (Some(a), Some(b)) = (sa.build()?, sb.build()?) else { return Ok(()) };
        let want = Shape::broadcast("t", a.shape(), b.shape()).ok();
        let binary: [(&str, Binary); 9] = [
            ("add", TensorData::add),
            ("sub", TensorData::sub),
            ("mul", TensorData::mul),
            ("div", TensorData::div),
            ("maximum", TensorData::maximum),
            ("minimum", TensorData::minimum),
            ("pow", TensorData::pow),
            ("eq", TensorData::eq),
            ("lt", TensorData::lt),
        ];
        for (name, f) in binary {
            if let Some(t) = op(name, || f(&a, &b))? {
                prop_assert_eq!(Some(t.shape().clone()), want.clone(), "{}", name);
            }
        }
        op("isclose", || a.isclose(&b, 1e-5, 1e-8, true))?;
        probe("allclose", || a.allclose(&b, 1e-5, 1e-8))?;
        op("where", || TensorData::where_cond(&a.gt_scalar(0.0)?, &a, &b))?;
        op("sum_to_shape", || a.sum_to_shape(b.shape()))?;
        op("sum_to_shape back", || b.sum_to_shape(a.shape()))?;
        for (x, y, name) in [(&a, &b, "matmul"), (&b, &a, "matmul ba"), (&a, &a, "matmul aa")] {
            if matmul_is_quick(x, y) {
                op(name, || x.matmul(y))?;
            }
        }
        if let Ok(at) = a.t() {
            if matmul_is_quick(&a, &at) {
                op("matmul a a^T", || a.matmul(&at))?;
            }
            if matmul_is_quick(&at, &a) {
                op("addmm a^T a", || at.addmm(None, &a))?;
            }
        }
        if matmul_is_quick(&a, &b) {
            op("addmm", || a.addmm(Some(&b.sum_dim(-1, false)?), &b))?;
        }
        op("cat 0", || TensorData::cat(&[&a, &b], 0))?;
        op("cat -1", || TensorData::cat(&[&a, &b, &a], -1))?;
        op("stack", || TensorData::stack(&[&a, &b], 0))?;
        op("stack -1", || TensorData::stack(&[&a, &a, &a], -1))?;
    }

    #[test]
    fn reductions_and_softmax_never_panic(sa in spec(), d in dim(), keep in any::<bool>()) {
        let Some(a) = sa.build()? else { return Ok(()) };
        // The result shape of a reduction over d, when d is a valid dim of a non-scalar.
        let reduced = a.shape().dim("t", d).ok().filter(|_| a.ndim() > 0).map(|k| {
            let mut s = a.dims().to_vec();
            if keep { s[k] = 1 } else { s.remove(k); }
            s
        });
        for (name, f) in [
            ("sum_dim", TensorData::sum_dim as Reduction),
            ("mean_dim", TensorData::mean_dim),
            ("prod_dim", TensorData::prod_dim),
            ("argmax", TensorData::argmax),
            ("argmin", TensorData::argmin),
            ("logsumexp", TensorData::logsumexp),
        ] {
            if let Some(t) = op(name, || f(&a, d, keep))? {
                if let Some(r) = &reduced {
                    prop_assert_eq!(t.dims(), &r[..], "{}", name);
                }
            }
        }
        op("max_dim", || a.max_dim(d, keep).map(|p| p.0))?;
        op("min_dim", || a.min_dim(d, keep).map(|p| p.1))?;
        for (name, f) in [("softmax", TensorData::softmax as AlongDim), ("log_softmax", TensorData::log_softmax)] {
            if let Some(t) = op(name, || f(&a, d))? {
                prop_assert_eq!(t.shape(), a.shape(), "{}", name);
            }
        }
        for (name, f) in [
            ("sum", TensorData::sum as Unary),
            ("mean", TensorData::mean),
            ("prod", TensorData::prod),
            ("max", TensorData::max),
            ("min", TensorData::min),
            ("exp", TensorData::exp),
            ("neg", TensorData::neg),
            ("relu", TensorData::relu),
        ] {
            op(name, || f(&a))?;
        }
        op("add_scalar", || a.add_scalar(1.0))?;
        op("clamp", || a.clamp(Some(-1.0), Some(1.0)))?;
        probe("item", || a.item())?;
    }

    #[test]
    fn views_never_panic(sa in spec(), d0 in dim(), d1 in dim(), start in offset(), len in offset(),
                         spec_dims in prop::collection::vec(prop_oneof![4 => -1isize..4, 1 => Just(1isize << 40), 1 => Just(isize::MAX)], 0..=4),
                         target in shape(), to in dtype()) {
        let Some(a) = sa.build()? else { return Ok(()) };
        op("reshape", || a.reshape(&spec_dims))?;
        op_shape("reshape -1", &[a.numel()], || a.reshape([-1]))?;
        if let Some(t) = op("flatten", || a.flatten(d0, d1))? {
            prop_assert_eq!(t.numel(), a.numel());
        }
        op_shape("flatten all", &[a.numel()], || a.flatten(0, -1))?;
        if let Some(t) = op("unsqueeze", || a.unsqueeze(d0))? {
            prop_assert_eq!(t.numel(), a.numel());
            prop_assert_eq!(t.ndim(), a.ndim() + 1);
        }
        op("squeeze_dim", || a.squeeze_dim(d0))?;
        op("transpose", || a.transpose(d0, d1))?;
        op("permute", || a.permute(&[d0, d1]))?;
        let rev: Vec<isize> = (0..a.ndim() as isize).rev().collect();
        let mut rdims = a.dims().to_vec();
        rdims.reverse();
        op_shape("permute all", &rdims, || a.permute(&rev))?;
        if let Some(t) = op("expand", || a.expand(Shape::new(&target)))? {
            prop_assert_eq!(t.dims(), &target[..]);
        }
        if let Some(t) = op("narrow", || a.narrow(d0, start, len))? {
            prop_assert_eq!(t.ndim(), a.ndim());
        }
        op("contiguous", || a.try_contiguous())?;
        op("to_dtype", || a.try_to_dtype(to))?;
        probe("to_f64_vec", || a.try_to_f64_vec())?;
        probe("values", || a.values::<f32>().map(|v| v.len()))?;
        op("masked_fill", || a.masked_fill(&a.gt_scalar(0.0)?, 2.0))?;
    }

    #[test]
    fn index_ops_never_panic(sa in spec(), d in dim(), start in offset(), classes in size(),
                             values in prop::collection::vec(prop_oneof![4 => -1i64..4, 1 => Just(i64::MAX)], 0..6),
                             ishape in shape()) {
        let Some(a) = sa.build()? else { return Ok(()) };
        let idx1 = index_tensor(&ishape[..ishape.len().min(1)], &values);
        let idx = index_tensor(a.dims(), &values); // gather's index: a's rank, sizes <= 2
        if let Some(t) = op("index_select", || a.index_select(d, &idx1))? {
            prop_assert_eq!(t.ndim(), a.ndim());
        }
        if let Some(t) = op("gather", || a.gather(d, &idx))? {
            prop_assert_eq!(t.shape(), idx.shape());
        }
        let src = TensorData::ones(idx.shape().clone(), DType::F32);
        op("scatter_add_zeros", || TensorData::scatter_add_zeros(a.shape(), d, &idx, &src))?;
        if let Ok(sel) = a.index_select(d, &idx1) {
            op("index_add_zeros", || TensorData::index_add_zeros(a.shape(), d, &idx1, &sel))?;
        }
        if let Ok(part) = a.narrow(d, start.min(1), 1) {
            op_shape("narrow_embed", a.dims(), || TensorData::narrow_embed(a.shape(), d, start, &part))?;
        }
        op("one_hot", || idx.one_hot(Some(classes)))?;
        op("one_hot None", || idx.one_hot(None))?;
    }
}
