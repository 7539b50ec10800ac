//! Elementwise kernels with NumPy/PyTorch broadcasting. Each public op dispatches on the
//! dtype once, then runs a monomorphised loop over contiguous slices (or a strided walk
//! for broadcast/non-contiguous operands).

use crate::promote::{default_dtype, result_type, Operand, Scalar};
use crate::shape::{for_each_offset2, Shape};
use crate::simd::{capability, kernels};
use crate::{with_float, with_numeric, DType, Dims, Element, Error, Float, Numeric, Result, TensorData};
use std::borrow::Cow;
use std::mem::MaybeUninit;

impl TensorData {
    /// Applies `f` to every element (`A` must be the tensor's dtype).
    pub fn map<A: Element, O: Element>(&self, f: impl Fn(A) -> O + Sync) -> Result<TensorData> {
        self.map_named("map", f)
    }

    /// [`TensorData::map`] for the op `op` (named in its errors): one vectorised pass
    /// ([`kernels::unary`]), split across threads for large tensors.
    pub(crate) fn map_named<A: Element, O: Element>(
        &self,
        op: &'static str,
        f: impl Fn(A) -> O + Sync,
    ) -> Result<TensorData> {
        let v = self.values_for::<A>(op)?;
        let mut out: Vec<O> = crate::pool::try_vec_with_capacity(op, self.shape())?;
        // SAFETY: `kernels::unary` writes every slot (no zeroing pass first).
        unsafe { kernels::fill_uninit(&mut out, v.len(), |o| kernels::unary(capability(), &v, o, f)) };
        Ok(TensorData::from_vec_unchecked(out, self.shape().clone()))
    }

    /// A formula of the `float_unary!` table over every element of a float tensor, f32 through
    /// the vectorised math of [`crate::simd::Real`].
    pub(crate) fn map_real<K: kernels::UnaryFn>(&self, k: &K, op: &'static str) -> Result<TensorData> {
        with_float!(self.dtype(), op, |T| {
            let v = self.values_for::<T>(op)?;
            let mut out: Vec<T> = crate::pool::try_vec_with_capacity(op, self.shape())?;
            // SAFETY: `kernels::unary_real` writes every slot.
            unsafe {
                kernels::fill_uninit(&mut out, v.len(), |o| kernels::unary_real(capability(), k, &v, o))
            };
            Ok(TensorData::from_vec_unchecked(out, self.shape().clone()))
        })
    }

    /// `f(a, b)` elementwise for a formula `K` of two [`crate::simd::Real`]s (a derivative
    /// rule `dx = f(g, x)`), over two float tensors of one dtype broadcast to a common shape:
    /// f32 through the vectorised math of each CPU build (`exp`, `tanh`, `erf`, ...), as
    /// the `float_unary!` table does for one tensor. A single value (also one broadcast to
    /// any shape, as a gradient of `sum` is) is read once; other views are copied to
    /// row-major order first.
    pub fn zip_real<K: kernels::BinaryFn>(
        &self,
        other: &TensorData,
        op: &'static str,
        k: &K,
    ) -> Result<TensorData> {
        let shape = Shape::broadcast(op, self.shape(), other.shape())?;
        with_float!(self.dtype(), op, |T| {
            // The one value a tensor holds (at every index), if it is one.
            let one = |t: &TensorData| -> Result<Option<f64>> {
                let single = t.numel() == 1 || t.layout.is_broadcast_value();
                Ok(if single { Some(t.buf_slice::<T>(op)?[t.layout.offset].to_f64()) } else { None })
            };
            // A tensor's values at the result's shape (through a broadcast view where it is
            // smaller; copied to row-major order where it is not contiguous).
            let full =
                |t: &TensorData| if t.shape() == &shape { Ok(t.clone()) } else { t.expand(shape.clone()) };
            let mut out: Vec<T> = crate::pool::try_vec_with_capacity(op, &shape)?;
            let (n, cap) = (shape.numel(), capability());
            if n == 0 {
                return Ok(TensorData::from_vec_unchecked(out, shape));
            }
            // SAFETY (each arm): `unary_real` and `binary_real` write every slot.
            match (one(self)?, one(other)?) {
                (_, Some(b)) => {
                    let a = full(self)?;
                    let a = a.values_for::<T>(op)?;
                    unsafe {
                        kernels::fill_uninit(&mut out, n, |o| {
                            kernels::unary_real(cap, &kernels::FixSecond(k, b), &a, o)
                        })
                    }
                }
                (Some(a), None) => {
                    let b = full(other)?;
                    let b = b.values_for::<T>(op)?;
                    unsafe {
                        kernels::fill_uninit(&mut out, n, |o| {
                            kernels::unary_real(cap, &kernels::FixFirst(k, a), &b, o)
                        })
                    }
                }
                (None, None) => {
                    let (a, b) = (full(self)?, full(other)?);
                    let (a, b) = (a.values_for::<T>(op)?, b.values_for::<T>(op)?);
                    unsafe { kernels::fill_uninit(&mut out, n, |o| kernels::binary_real(cap, k, &a, &b, o)) }
                }
            }
            Ok(TensorData::from_vec_unchecked(out, shape))
        })
    }

    /// Combines two tensors elementwise after broadcasting them to a common shape.
    ///
    /// Contiguous operands take vectorised, multi-threaded loops with no index arithmetic:
    /// equal shapes, a single number (also one broadcast to any shape, every stride 0), a row
    /// vector repeated over rows (`x + bias`), one value per row (`x - mean(x, -1, keepdim)`),
    /// either way round. Other layouts walk the output
    /// one innermost run at a time.
    pub fn zip_map<A: Element, B: Element, O: Element>(
        &self,
        other: &TensorData,
        op: &'static str,
        f: impl Fn(A, B) -> O + Sync,
    ) -> Result<TensorData> {
        let shape = Shape::broadcast(op, self.shape(), other.shape())?;
        let (sa, sb) = (self.buf_slice::<A>(op)?, other.buf_slice::<B>(op)?);
        // The result's size is checked (and its memory allocated, fallibly) before any work;
        // every element is written below, so the buffer is not zeroed first.
        let mut out: Vec<O> = crate::pool::try_vec_with_capacity(op, &shape)?;
        let n = shape.numel();
        let (la, lb) = (&self.layout, &other.layout);
        let cap = capability();
        let (ca, cb) = (la.is_contiguous(), lb.is_contiguous());
        // One value, or one value broadcast to any shape (every stride 0: a gradient of sum or
        // mean, `x.expand(..)` of a single number), read once.
        let (one_a, one_b) =
            (self.numel() == 1 || la.is_broadcast_value(), other.numel() == 1 || lb.is_broadcast_value());
        let fill = |out: &mut [std::mem::MaybeUninit<O>]| {
            if n == 0 {
                // Nothing to compute (and an empty view's offset may lie past its buffer).
            } else if la.shape == lb.shape && ca && cb {
                let (xa, xb) = (&sa[la.offset..la.offset + n], &sb[lb.offset..lb.offset + n]);
                kernels::binary(cap, xa, xb, out, f);
            } else if one_a && one_b {
                kernels::fill(out, f(sa[la.offset], sb[lb.offset]));
            } else if one_b && la.shape == shape && ca {
                let y = sb[lb.offset];
                kernels::unary(cap, &sa[la.offset..la.offset + n], out, |x| f(x, y));
            } else if one_a && lb.shape == shape && cb {
                let x = sa[la.offset];
                kernels::unary(cap, &sb[lb.offset..lb.offset + n], out, |y| f(x, y));
            } else if let (true, true, Some(kind)) =
                (la.shape == shape && ca, cb, broadcast_kind(&shape, &lb.shape))
            {
                let (xa, xb) = (&sa[la.offset..la.offset + n], &sb[lb.offset..lb.offset + lb.shape.numel()]);
                match kind {
                    Bcast::Row => kernels::binary_rows(cap, xa, xb, out, f),
                    Bcast::Col => kernels::binary_cols(cap, xa, xb, out, f),
                }
            } else if let (true, true, Some(kind)) =
                (lb.shape == shape && cb, ca, broadcast_kind(&shape, &la.shape))
            {
                let (xa, xb) = (&sa[la.offset..la.offset + la.shape.numel()], &sb[lb.offset..lb.offset + n]);
                match kind {
                    Bcast::Row => kernels::binary_rows(cap, xb, xa, out, |y, x| f(x, y)),
                    Bcast::Col => kernels::binary_cols(cap, xb, xa, out, |y, x| f(x, y)),
                }
            } else {
                // Any layout: one innermost run at a time (the index arithmetic is per run).
                let (ta, tb) = (la.broadcast_strides(&shape), lb.broadcast_strides(&shape));
                let nd = shape.ndim();
                let inner = shape.dims()[nd - 1]; // (nd >= 1: 0-d operands have equal shapes)
                let (ia, ib) = (ta[nd - 1], tb[nd - 1]);
                let mut runs = out.chunks_exact_mut(inner);
                for_each_offset2(
                    &shape.dims()[..nd - 1],
                    &ta[..nd - 1],
                    la.offset,
                    &tb[..nd - 1],
                    lb.offset,
                    |pa, pb| {
                        let o = runs.next().expect("internal: one output run per offset pair");
                        match (ia, ib) {
                            (1, 1) => o
                                .iter_mut()
                                .zip(sa[pa..pa + inner].iter().zip(&sb[pb..pb + inner]))
                                .for_each(|(o, (&x, &y))| *o = MaybeUninit::new(f(x, y))),
                            (1, 0) => o
                                .iter_mut()
                                .zip(&sa[pa..pa + inner])
                                .for_each(|(o, &x)| *o = MaybeUninit::new(f(x, sb[pb]))),
                            (0, 1) => o
                                .iter_mut()
                                .zip(&sb[pb..pb + inner])
                                .for_each(|(o, &y)| *o = MaybeUninit::new(f(sa[pa], y))),
                            _ => o.iter_mut().enumerate().for_each(|(k, o)| {
                                *o = MaybeUninit::new(f(sa[pa + k * ia], sb[pb + k * ib]))
                            }),
                        }
                    },
                );
            }
        };
        // SAFETY: every branch of `fill` writes all `n` slots (the kernels assert their lengths;
        // the strided walk writes one run of `inner` per offset pair, `n / inner` runs).
        unsafe { kernels::fill_uninit(&mut out, n, fill) };
        Ok(TensorData::from_vec_unchecked(out, shape))
    }

    /// The whole buffer as `&[T]`, or a dtype error naming `op`.
    pub(crate) fn buf_slice<T: Element>(&self, op: &'static str) -> Result<&[T]> {
        T::slice(&self.buf).ok_or_else(|| {
            Error::dtype(
                op,
                format!("a tensor of dtype {}", T::DTYPE),
                self.dtype(),
                format!(
                    "; both operands must have the same dtype (convert with .to_dtype(DType::{:?}))",
                    T::DTYPE
                ),
            )
        })
    }

    /// This tensor as an operand of type promotion (a 0-dimensional tensor has a lower tier).
    pub fn operand(&self) -> Operand {
        if self.ndim() == 0 {
            Operand::ZeroDim(self.dtype())
        } else {
            Operand::Tensor(self.dtype())
        }
    }

    /// The dtype of `self (op) other` under PyTorch's promotion (see [`crate::promote`]).
    pub fn result_type(&self, other: &TensorData) -> DType {
        result_type(&[self.operand(), other.operand()]).unwrap_or(self.dtype())
    }

    /// The dtype of `self (op) s` for a number `s`.
    pub fn result_type_scalar(&self, s: Scalar) -> DType {
        result_type(&[self.operand(), Operand::Number(s)]).unwrap_or(self.dtype())
    }

    /// Both operands converted to their promoted dtype `rt` ([`TensorData::as_dtype`]:
    /// borrowed when already of it).
    fn promoted<'a>(
        &'a self,
        other: &'a TensorData,
        rt: DType,
    ) -> Result<(Cow<'a, TensorData>, Cow<'a, TensorData>)> {
        Ok((self.as_dtype(rt)?, other.as_dtype(rt)?))
    }

    fn numeric_binary(&self, other: &TensorData, op: &'static str, kind: Binary) -> Result<TensorData> {
        let mut rt = self.result_type(other);
        if kind == Binary::Sub && (self.dtype() == DType::Bool || other.dtype() == DType::Bool) {
            return Err(Error::dtype(op, "numeric operands (subtraction with a bool tensor is not supported; to invert a mask use logical_not)", DType::Bool, "; convert with .to_dtype(DType::I64) to subtract 0/1 values"));
        }
        if kind == Binary::Div && !rt.is_float() {
            rt = default_dtype(); // true division
        }
        let (a, b) = self.promoted(other, rt)?;
        if rt == DType::Bool {
            // bool + bool is `or`, bool * bool is `and` (PyTorch's bool arithmetic).
            return match kind {
                Binary::Add | Binary::Max => a.zip_map::<bool, bool, bool>(&b, op, |x, y| x || y),
                Binary::Mul | Binary::Min => a.zip_map::<bool, bool, bool>(&b, op, |x, y| x && y),
                Binary::Sub | Binary::Div => unreachable!("handled above"),
            };
        }
        with_numeric!(rt, op, |T| binary_kernel::<T>(&a, &b, op, kind))
    }

    /// `self + other` with broadcasting and type promotion.
    pub fn add(&self, other: &TensorData) -> Result<TensorData> {
        self.numeric_binary(other, "add", Binary::Add)
    }
    /// `self - other` with broadcasting and type promotion (bool operands are an error).
    pub fn sub(&self, other: &TensorData) -> Result<TensorData> {
        self.numeric_binary(other, "sub", Binary::Sub)
    }
    /// `self * other` with broadcasting and type promotion.
    pub fn mul(&self, other: &TensorData) -> Result<TensorData> {
        self.numeric_binary(other, "mul", Binary::Mul)
    }
    /// `self / other` with broadcasting: true division (integers divide as the default float
    /// dtype, like PyTorch's `/`).
    pub fn div(&self, other: &TensorData) -> Result<TensorData> {
        self.numeric_binary(other, "div", Binary::Div)
    }
    /// Elementwise maximum (NaN propagates), like `torch.maximum`.
    pub fn maximum(&self, other: &TensorData) -> Result<TensorData> {
        self.numeric_binary(other, "maximum", Binary::Max)
    }
    /// Elementwise minimum (NaN propagates), like `torch.minimum`.
    pub fn minimum(&self, other: &TensorData) -> Result<TensorData> {
        self.numeric_binary(other, "minimum", Binary::Min)
    }
    /// `self ** other` elementwise with broadcasting and type promotion. Integer powers of
    /// integers stay integers (wrapping on overflow); a negative integer exponent of an integer
    /// is an error, as in PyTorch.
    pub fn pow(&self, other: &TensorData) -> Result<TensorData> {
        let rt = self.result_type(other);
        let rt = if rt == DType::Bool { DType::I64 } else { rt };
        let (a, b) = self.promoted(other, rt)?;
        match rt {
            DType::I64 => {
                if let Some(&e) = b.values::<i64>()?.iter().find(|&&e| e < 0) {
                    return Err(Error::invalid("pow", format!("Integers to negative integer powers are not allowed (exponent {e}); use a float base, e.g. .to_dtype(DType::F32)")));
                }
                a.zip_map::<i64, i64, i64>(&b, "pow", |x, e| x.wrapping_pow(e.min(u32::MAX as i64) as u32))
            }
            _ => a.zip_real(&b, "pow", &Pow),
        }
    }

    /// A 0-d tensor of `self`'s dtype holding `v`.
    pub fn scalar_like(&self, v: f64) -> TensorData {
        TensorData::full(Shape::scalar(), v, self.dtype())
    }

    /// A 0-d tensor holding the number `s` in `dtype` (integers exactly).
    pub fn from_scalar(s: Scalar, dtype: DType) -> TensorData {
        match (s, dtype) {
            (Scalar::Int(i), DType::I64) => TensorData::scalar(i),
            (s, d) => TensorData::full(Shape::scalar(), s.to_f64(), d),
        }
    }

    /// `f(self, s)` for a number `s`, both in their promoted dtype (the number as a 0-d
    /// tensor): how every `_scalar` op and comparison with a number is computed.
    pub fn with_number(
        &self,
        s: Scalar,
        f: impl FnOnce(&TensorData, &TensorData) -> Result<TensorData>,
    ) -> Result<TensorData> {
        let rt = self.result_type_scalar(s);
        f(&*self.as_dtype(rt)?, &TensorData::from_scalar(s, rt))
    }

    /// `self + s` (`s` a number: `2`, `0.5`, ...; an integer tensor plus a float is float).
    pub fn add_scalar(&self, s: impl Into<Scalar>) -> Result<TensorData> {
        self.with_number(s.into(), |a, b| a.add(b))
    }
    /// `self - s` (bool operands are an error, as in PyTorch).
    pub fn sub_scalar(&self, s: impl Into<Scalar>) -> Result<TensorData> {
        let s = s.into();
        if matches!(s, Scalar::Bool(_)) {
            return self.sub(&TensorData::from_scalar(s, DType::Bool));
        }
        self.check_not_bool("sub")?;
        self.with_number(s, |a, b| a.sub(b))
    }
    /// `s - self` (bool operands are an error, as in PyTorch).
    pub fn rsub_scalar(&self, s: impl Into<Scalar>) -> Result<TensorData> {
        let s = s.into();
        if matches!(s, Scalar::Bool(_)) {
            return TensorData::from_scalar(s, DType::Bool).sub(self);
        }
        self.check_not_bool("sub")?;
        self.with_number(s, |a, b| b.sub(a))
    }

    fn check_not_bool(&self, op: &'static str) -> Result<()> {
        if self.dtype() == DType::Bool {
            return Err(Error::dtype(op, "numeric operands (subtraction with a bool tensor is not supported; to invert a mask use logical_not)", DType::Bool, "; convert with .to_dtype(DType::I64) to subtract 0/1 values"));
        }
        Ok(())
    }
    /// `self * s`.
    pub fn mul_scalar(&self, s: impl Into<Scalar>) -> Result<TensorData> {
        self.with_number(s.into(), |a, b| a.mul(b))
    }
    /// `self / s` (true division).
    pub fn div_scalar(&self, s: impl Into<Scalar>) -> Result<TensorData> {
        self.with_number(s.into(), |a, b| a.div(b))
    }
    /// `s / self` (true division).
    pub fn rdiv_scalar(&self, s: impl Into<Scalar>) -> Result<TensorData> {
        self.with_number(s.into(), |a, b| b.div(a))
    }
    /// `self ** e` for a number `e` (an integer tensor to an integer power stays integer).
    ///
    /// A float result takes PyTorch's shortcuts (`pow_tensor_scalar_kernel` and its
    /// optimised kernel), so that the bits are PyTorch's too: `e = 0` gives ones (even for
    /// NaN), `1` a copy, `2` `x * x`, `3` `x * x * x`, `-1` `1 / x`, `-2` `1 / (x * x)`,
    /// `0.5` `sqrt(x)` and `-0.5` `1 / sqrt(x)` (so `(-0) ** -0.5` is `-inf`, as there);
    /// any other `e` the general [`Real::powf`](crate::simd::Real::powf).
    pub fn pow_scalar(&self, e: impl Into<Scalar>) -> Result<TensorData> {
        let e = e.into();
        let rt = self.result_type_scalar(e);
        if !rt.is_float() {
            return self.pow(&TensorData::from_scalar(e, rt));
        }
        let x = self.try_to_dtype(rt)?;
        with_float!(rt, "pow", |T| match e.to_f64() {
            0.0 => x.map_named::<T, T>("pow", |_| T::ONE),
            1.0 => x.map_named::<T, T>("pow", |x| x),
            2.0 => x.map_named::<T, T>("pow", |x| x * x),
            3.0 => x.map_named::<T, T>("pow", |x| x * x * x),
            -1.0 => x.reciprocal(),
            -2.0 => x.map_named::<T, T>("pow", |x| T::ONE / (x * x)),
            0.5 => x.sqrt(),
            -0.5 => x.rsqrt(),
            e => x.map_real(&PowBy(e), "pow"),
        })
    }
    /// `s ** self` for a number `s` (`10 ** lre`).
    pub fn rpow_scalar(&self, s: impl Into<Scalar>) -> Result<TensorData> {
        self.with_number(s.into(), |a, b| b.pow(a))
    }

    /// Clamps every element into `[min, max]` (either bound optional), like `torch.clamp`.
    pub fn clamp(&self, min: Option<f64>, max: Option<f64>) -> Result<TensorData> {
        with_numeric!(self.dtype(), "clamp", |T| {
            let (lo, hi) = (min.map(T::from_f64), max.map(T::from_f64));
            self.map_named::<T, T>("clamp", |mut x| {
                if let Some(l) = lo {
                    x = if x < l { l } else { x };
                }
                if let Some(h) = hi {
                    x = if x > h { h } else { x };
                }
                x
            })
        })
    }

    /// `-self`.
    pub fn neg(&self) -> Result<TensorData> {
        // `-x`, not `0 - x`: PyTorch's neg(0.0) is -0.0.
        with_numeric!(self.dtype(), "neg", |T| self.map_named::<T, T>("neg", |x| x.neg_w()))
    }

    /// `|self|` (`0 - x` for x <= 0, so abs(-0.0) is +0.0 as in PyTorch).
    pub fn abs(&self) -> Result<TensorData> {
        with_numeric!(self.dtype(), "abs", |T| self.map_named::<T, T>("abs", |x| {
            if x <= T::ZERO {
                T::ZERO.sub_w(x)
            } else {
                x
            }
        }))
    }

    /// Elementwise `cond ? a : b` with broadcasting over all three (`cond` is a bool mask).
    pub fn where_cond(cond: &TensorData, a: &TensorData, b: &TensorData) -> Result<TensorData> {
        if cond.dtype() != DType::Bool {
            return Err(Error::dtype(
                "where",
                "a bool mask as condition",
                cond.dtype(),
                "; build one with a comparison such as x.gt_scalar(0.0)",
            ));
        }
        let (a, b) = a.promoted(b, a.result_type(b))?;
        let (a, b) = (&*a, &*b);
        let shape =
            Shape::broadcast("where", &Shape::broadcast("where", cond.shape(), a.shape())?, b.shape())?;
        // (Validated here, so that no expand below can fail on the size.)
        shape.validate("where", a.dtype())?;
        // One side a single number (`masked_fill`, `where(c, x, 0)`, their gradients): a binary
        // op of the mask and the other side, which takes `zip_map`'s vectorised paths (a mask
        // repeated over the leading dims included) instead of materialising three tensors.
        let a_is_number = a.numel() == 1;
        let (number, other) = if a_is_number { (a, b) } else { (b, a) };
        if number.numel() == 1 && Shape::broadcast("where", cond.shape(), other.shape())? == shape {
            return crate::with_any!(a.dtype(), |T| {
                let v = number.values_for::<T>("where")?[0];
                if a_is_number {
                    cond.zip_map::<bool, T, T>(other, "where", move |c, y| if c { v } else { y })
                } else {
                    cond.zip_map::<bool, T, T>(other, "where", move |c, x| if c { x } else { v })
                }
            });
        }
        let (c, a, b) = (cond.expand(shape.clone())?, a.expand(shape.clone())?, b.expand(shape)?);
        crate::with_any!(a.dtype(), |T| {
            let mut out: Vec<T> = crate::pool::try_overwritable("where", c.shape())?;
            let (cv, av, bv) =
                (c.values_for::<bool>("where")?, a.values_for::<T>("where")?, b.values_for::<T>("where")?);
            // On every core for large tensors. f32 picks by bit masks: a select of two loaded
            // values compiles to a load from the selected address, one value at a time
            // (for (1000, 1000): 4.5 ms with a branch per value, 2.2 with a select, 0.13-0.15
            // with the masks).
            let cap = capability();
            let fill = |at: usize, o: &mut [T]| {
                let (cv, av, bv) = (&cv[at..at + o.len()], &av[at..at + o.len()], &bv[at..at + o.len()]);
                let f32s = (crate::dtype::as_f32(av), crate::dtype::as_f32(bv));
                if let (Some(o), (Some(av), Some(bv))) = (crate::dtype::as_f32_mut(o), f32s) {
                    return crate::dispatch!(cap, |F| for (((o, &c), x), y) in
                        o.iter_mut().zip(cv).zip(av).zip(bv)
                    {
                        let m = (c as u32).wrapping_neg(); // all ones where c holds
                        *o = f32::from_bits((x.to_bits() & m) | (y.to_bits() & !m));
                    });
                }
                crate::dispatch!(cap, |F| for (((o, &c), &x), &y) in o.iter_mut().zip(cv).zip(av).zip(bv) {
                    *o = if c { x } else { y };
                })
            };
            if out.len() < kernels::PARALLEL_MIN {
                fill(0, &mut out);
            } else {
                use rayon::prelude::*;
                crate::simd::threads::keep_awake();
                let per = kernels::PARALLEL_MIN / 2;
                out.par_chunks_mut(per).enumerate().for_each(|(t, o)| fill(t * per, o));
            }
            Ok(TensorData::from_vec_unchecked(out, c.shape().clone()))
        })
    }

    /// Elementwise `|a - b| <= atol + rtol * |b|` (NaN equals NaN when `equal_nan`). Like
    /// PyTorch, an infinite difference is never close: only equal infinities are.
    pub fn isclose(&self, other: &TensorData, rtol: f64, atol: f64, equal_nan: bool) -> Result<TensorData> {
        let (a, b) = self.promoted(other, self.result_type(other))?;
        let rt = if a.dtype() == DType::Bool { DType::I64 } else { a.dtype() };
        let (a, b) = (a.try_to_dtype(rt)?, b.try_to_dtype(rt)?);
        with_numeric!(rt, "isclose", |T| a.zip_map::<T, T, bool>(&b, "isclose", |a, b| {
            let (a, b) = (a.to_f64(), b.to_f64());
            if a.is_nan() || b.is_nan() {
                return equal_nan && a.is_nan() && b.is_nan();
            }
            let diff = (a - b).abs();
            a == b || (diff.is_finite() && diff <= atol + rtol * b.abs())
        }))
    }

    /// True when every element is close (see [`TensorData::isclose`]); shapes must broadcast.
    pub fn allclose(&self, other: &TensorData, rtol: f64, atol: f64) -> Result<bool> {
        Ok(self.isclose(other, rtol, atol, false)?.values::<bool>()?.iter().all(|&b| b))
    }

    /// Sums a broadcast gradient back to `shape` (the inverse of broadcasting `shape` up to
    /// `self.shape()`): dimensions that were added or expanded from 1 are summed.
    pub fn sum_to_shape(&self, shape: &Shape) -> Result<TensorData> {
        if self.shape() == shape {
            return Ok(self.clone());
        }
        let full = Shape::broadcast("sum_to_shape", shape, self.shape())?;
        if &full != self.shape() {
            return Err(Error::shapes(
                "sum_to_shape",
                self.shape(),
                shape,
                "do not broadcast to the first shape",
            ));
        }
        // the added leading dims and the dims expanded from 1, summed by the kernel of
        // `sum_dims` (so a gradient reduced here equals the same sum written by hand)
        let lead = self.ndim() - shape.ndim();
        let dims: Vec<isize> = (0..self.ndim())
            .filter(|&d| d < lead || (shape.dims()[d - lead] == 1 && self.dims()[d] != 1))
            .map(|d| d as isize)
            .collect();
        self.sum_dims(&Dims::from(dims), true)?.reshape(shape)
    }
}

/// How a contiguous operand of shape `small` repeats over a contiguous output of `full`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Bcast {
    /// `small` is `full`'s trailing dims (after leading 1s): one row repeated, `x + bias`.
    Row,
    /// `small` is `full`'s leading dims followed by 1s: one value per row, `x - mean(keepdim)`.
    Col,
}

/// Which [`Bcast`] `small` is over `full`, if either.
fn broadcast_kind(full: &Shape, small: &Shape) -> Option<Bcast> {
    let (d, e) = (full.dims(), small.dims());
    if e.len() > d.len() {
        return None;
    }
    // `small` left-padded with 1s to `full`'s rank.
    let pad = d.len() - e.len();
    let at = |i: usize| if i < pad { 1 } else { e[i - pad] };
    // Row: a prefix of 1s, then the same dims as `full`.
    let first_same = (0..d.len()).rev().find(|&i| at(i) != d[i]).map_or(0, |i| i + 1);
    if (0..first_same).all(|i| at(i) == 1) {
        return Some(Bcast::Row);
    }
    // Col: the same dims as `full`, then a suffix of 1s.
    let last_same = (0..d.len()).find(|&i| at(i) != d[i]).unwrap_or(d.len());
    if (last_same..d.len()).all(|i| at(i) == 1) {
        return Some(Bcast::Col);
    }
    None
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Binary {
    Add,
    Sub,
    Mul,
    Div,
    Max,
    Min,
}

fn binary_kernel<T: Numeric>(
    a: &TensorData,
    b: &TensorData,
    op: &'static str,
    kind: Binary,
) -> Result<TensorData> {
    match kind {
        Binary::Add => a.zip_map::<T, T, T>(b, op, |x, y| x.add_w(y)),
        Binary::Sub => a.zip_map::<T, T, T>(b, op, |x, y| x.sub_w(y)),
        Binary::Mul => a.zip_map::<T, T, T>(b, op, |x, y| x.mul_w(y)),
        Binary::Div => a.zip_map::<T, T, T>(b, op, |x, y| x / y),
        Binary::Max => a.zip_map::<T, T, T>(b, op, |x, y| x.max_val(y)),
        Binary::Min => a.zip_map::<T, T, T>(b, op, |x, y| x.min_val(y)),
    }
}

/// Float unary functions: one line each, `name => |x| formula`, the formula over `x: T` for
/// a `T: crate::simd::Real` (f64, or for f32 tensors the vectorised f32 of each CPU build):
/// `T::ONE`, `T::ZERO`, `T::c(2.0)` and the `num_traits::Float`-like methods (`exp`, `ln`,
/// `tanh`, `erf`, `abs`, `min`, ...) are available. Every line runs vectorised and, for large
/// tensors, on every core. A line may add `, lanes |v| formula` (after the first formula):
/// the same formula over `v: [f32; 4]` in lockstep ([`kernels::UnaryFn::call_lanes`], with
/// `simd::real`'s `*_lanes` functions), which must give the first one's bits; or
/// `, kernel path`: a hand-written f32 kernel ([`kernels::UnaryFn::slice_f32`]) giving them.
macro_rules! float_unary {
    ($($(#[$doc:meta])* $name:ident => |$x:ident| $e:expr $(, lanes |$v:ident| $l:expr)? $(, kernel $k:path)?;)*) => {
        impl TensorData {
            $(
                $(#[$doc])*
                pub fn $name(&self) -> Result<TensorData> {
                    struct Formula;
                    impl kernels::UnaryFn for Formula {
                        #[inline(always)]
                        fn call<T: crate::simd::Real>(&self, $x: T) -> T {
                            $e
                        }
                        $(
                            const LOCKSTEP: bool = true;
                            #[inline(always)]
                            fn call_lanes(&self, $v: [f32; kernels::LANES]) -> [f32; kernels::LANES] {
                                $l
                            }
                        )?
                        $(
                            #[inline(always)]
                            fn slice_f32(
                                cap: crate::simd::Capability,
                                x: &[f32],
                                out: &mut [std::mem::MaybeUninit<f32>],
                            ) -> usize {
                                $k(cap, x, out)
                            }
                        )?
                    }
                    self.map_real(&Formula, stringify!($name))
                }
            )*
        }
    };
}

use crate::simd::real as lanes;

float_unary! {
    /// `e^x`.
    exp => |x| x.exp(), lanes |v| lanes::exp_lanes::<true, 4>(v);
    /// Natural logarithm.
    log => |x| x.ln(), lanes |v| lanes::ln_lanes::<true, 4>(v);
    /// `log(1 + x)`, accurate for small x.
    log1p => |x| x.ln_1p();
    /// Square root.
    sqrt => |x| x.sqrt();
    /// `1 / x`.
    reciprocal => |x| T::ONE / x;
    /// Hyperbolic tangent.
    tanh => |x| x.tanh(), lanes |v| lanes::tanh_lanes::<true, 4>(v);
    /// `1 / (1 + e^-x)`; saturates to exactly 0 or 1 without NaN for large |x|.
    sigmoid => |x| T::ONE / (T::ONE + (-x).exp()),
        lanes |v| lanes::exp_lanes::<true, 4>(v.map(|a| -a)).map(|e| 1.0 / (1.0 + e));
    /// `max(x, 0)`; NaN stays NaN, like PyTorch's `relu` (a `clamp_min`).
    relu => |x| if x > T::ZERO || x.is_nan() { x } else { T::ZERO };
    /// `log(sigmoid(x)) = min(x, 0) - log1p(e^-|x|)`, stable for any x.
    log_sigmoid => |x| x.min(T::ZERO) - (-x.abs()).exp().ln_1p();
    /// `1 / sqrt(x)`.
    rsqrt => |x| T::ONE / x.sqrt();
    /// Base-10 logarithm.
    log10 => |x| x.log10(), lanes |v| lanes::log10_lanes::<true, 4>(v);
    /// Base-2 logarithm.
    log2 => |x| x.log2(), lanes |v| lanes::log2_lanes::<true, 4>(v);
    /// The Gauss error function `erf(x) = 2/sqrt(pi) * integral from 0 to x of e^(-t^2) dt`.
    erf => |x| x.erf(), lanes |v| lanes::erf_lanes::<true, 4>(v);
    /// GELU, exact form: `x * Phi(x) = x/2 * (1 + erf(x / sqrt(2)))` (`Phi` the standard normal
    /// CDF), `F.gelu(x)`, by [`Real::gelu`](crate::simd::Real::gelu) (f32: a polynomial, no
    /// `exp` or division; within `5e-6 |gelu(x)| + 1e-7`).
    gelu => |x| x.gelu(), kernel lanes::gelu_slice;
    /// GELU, tanh approximation: `x/2 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3)))`,
    /// `F.gelu(x, approximate="tanh")`.
    gelu_tanh => |x| T::c(0.5) * x * (T::ONE + (T::c(GELU_TANH_BETA) * (x + T::c(GELU_TANH_KAPPA) * x * x * x)).tanh());
    /// SiLU (swish): `x * sigmoid(x) = x / (1 + e^-x)`.
    silu => |x| x / (T::ONE + (-x).exp());
}

/// `x^e` as a formula of two [`crate::simd::Real`]s: f32 by the vectorised
/// [`crate::simd::real::pow`] (within an ulp, the IEEE special cases as `powf`), f64 by the
/// standard library's `powf`.
struct Pow;
impl kernels::BinaryFn for Pow {
    #[inline(always)]
    fn call<T: crate::simd::Real>(&self, x: T, e: T) -> T {
        x.powf(e)
    }
}

/// `x^e` for one exponent `e` (as [`Pow`]), in lockstep in the AVX2 and AVX-512 builds.
struct PowBy(f64);
impl kernels::UnaryFn for PowBy {
    #[inline(always)]
    fn call<T: crate::simd::Real>(&self, x: T) -> T {
        x.powf(T::c(self.0))
    }
    const LOCKSTEP: bool = true;
    #[inline(always)]
    fn call_lanes(&self, v: [f32; kernels::LANES]) -> [f32; kernels::LANES] {
        crate::simd::real::pow_lanes::<true, { kernels::LANES }>(v, self.0 as f32)
    }
}

/// `sqrt(2 / pi)`, the scale inside the tanh approximation of GELU.
pub const GELU_TANH_BETA: f64 = 0.797_884_560_802_865_4;
/// The cubic coefficient of the tanh approximation of GELU.
pub const GELU_TANH_KAPPA: f64 = 0.044715;

/// The Gauss error function in `T`'s precision (musl's `erf`/`erff`, accurate to about an ulp).
pub fn erf<T: Float>(x: T) -> T {
    if T::DTYPE == DType::F32 {
        T::c(libm::erff(x.to_f64() as f32) as f64)
    } else {
        T::c(libm::erf(x.to_f64()))
    }
}

impl TensorData {
    /// `log(1 + e^x)` with PyTorch's defaults (`beta = 1`, `threshold = 20`): see
    /// [`TensorData::softplus_with`].
    pub fn softplus(&self) -> Result<TensorData> {
        self.softplus_with(1.0, 20.0)
    }

    /// `log(1 + e^(beta x)) / beta`, and `x` itself where `beta x > threshold` (where the two
    /// agree to the float's precision), like `F.softplus(x, beta, threshold)`.
    pub fn softplus_with(&self, beta: f64, threshold: f64) -> Result<TensorData> {
        struct Softplus {
            beta: f64,
            threshold: f64,
        }
        impl kernels::UnaryFn for Softplus {
            #[inline(always)]
            fn call<T: crate::simd::Real>(&self, x: T) -> T {
                let (b, t) = (T::c(self.beta), T::c(self.threshold));
                if x * b > t {
                    x
                } else {
                    (x * b).exp().ln_1p() / b
                }
            }
        }
        self.map_real(&Softplus { beta, threshold }, "softplus")
    }

    /// `x` where `x > 0`, else `negative_slope * x`, like `F.leaky_relu(x, negative_slope)`.
    pub fn leaky_relu(&self, negative_slope: f64) -> Result<TensorData> {
        with_float!(self.dtype(), "leaky_relu", |T| {
            let a = T::c(negative_slope);
            // Both sides computed, then one chosen: a select the loop vectorises (with the
            // product inside the branch it stayed a scalar branch per value, which random
            // signs mispredict: 2.8 ms for (1000, 1000) f32 against PyTorch's 0.07).
            self.map_named::<T, T>("leaky_relu", move |x| {
                let low = x * a;
                if x > T::ZERO {
                    x
                } else {
                    low
                }
            })
        })
    }

    /// The sign of each element, `(0 < x) - (x < 0)`: -1, 0 or 1, like `torch.sign` (so NaN
    /// and -0.0 give 0). Integers stay integers; a bool tensor is its own sign.
    pub fn sign(&self) -> Result<TensorData> {
        if self.dtype() == DType::Bool {
            return self.try_contiguous_copy();
        }
        with_numeric!(self.dtype(), "sign", |T| self.map_named::<T, T>("sign", |x| {
            if x > T::ZERO {
                T::ONE
            } else if x < T::ZERO {
                T::ZERO.sub_w(T::ONE)
            } else {
                T::ZERO
            }
        }))
    }

    /// Rounds every float toward -inf (`torch.floor`); integers are returned unchanged.
    pub fn floor(&self) -> Result<TensorData> {
        self.rounding("floor", |x| x.floor())
    }

    /// Rounds every float toward +inf (`torch.ceil`); integers are returned unchanged.
    pub fn ceil(&self) -> Result<TensorData> {
        self.rounding("ceil", |x| x.ceil())
    }

    /// Rounds every float to the nearest integer, halves to even (`torch.round`: 0.5 -> 0,
    /// 1.5 -> 2, 2.5 -> 2); integers are returned unchanged.
    pub fn round(&self) -> Result<TensorData> {
        self.rounding("round", |x| x.round_ties_even())
    }

    /// Rounds every float toward 0 (`torch.trunc`); integers are returned unchanged.
    pub fn trunc(&self) -> Result<TensorData> {
        self.rounding("trunc", |x| x.trunc())
    }

    /// `f` (computed in f64, exact for f32 too) on every float; an integer tensor is copied,
    /// a bool tensor refused, as in PyTorch.
    fn rounding(&self, op: &'static str, f: impl Fn(f64) -> f64 + Sync) -> Result<TensorData> {
        match self.dtype() {
            DType::I64 => self.try_contiguous_copy(),
            DType::Bool => {
                Err(Error::dtype(op, "a numeric tensor", DType::Bool, "; convert with .to_dtype(DType::F32)"))
            }
            dt => with_float!(dt, op, |T| self.map_named::<T, T>(op, |x| T::c(f(x.to_f64())))),
        }
    }

    /// The lower triangle of the last two dims, like `torch.tril(x, diagonal)`: the elements
    /// at row `i`, column `j` with `j - i <= diagonal` are kept, the others set to 0
    /// (`diagonal` 0 is the main diagonal, 1 the one above it, -1 the one below). Any dtype;
    /// the tensor needs at least 2 dims.
    pub fn tril(&self, diagonal: i64) -> Result<TensorData> {
        // Row i keeps the columns j <= i + diagonal.
        self.triangle("tril", |i, cols| (0, (i + diagonal as i128 + 1).clamp(0, cols)))
    }

    /// The upper triangle of the last two dims, like `torch.triu(x, diagonal)`: the elements
    /// with `j - i >= diagonal` are kept, the others set to 0.
    pub fn triu(&self, diagonal: i64) -> Result<TensorData> {
        // Row i keeps the columns j >= i + diagonal.
        self.triangle("triu", |i, cols| ((i + diagonal as i128).clamp(0, cols), cols))
    }

    /// Every row `i` of the last two dims with the columns outside `kept(i, cols) = (from,
    /// to)` set to 0: the row's values copied over `from..to`, zeros written around them.
    fn triangle(&self, op: &'static str, kept: impl Fn(i128, i128) -> (i128, i128)) -> Result<TensorData> {
        if self.ndim() < 2 {
            return Err(Error::invalid(
                op,
                format!("input tensor must have at least 2 dimensions, got shape {}", self.shape()),
            ));
        }
        let d = self.dims();
        let (rows, cols) = (d[d.len() - 2], d[d.len() - 1]);
        crate::with_any!(self.dtype(), |T| {
            let v = self.values_for::<T>(op)?;
            let mut out: Vec<T> = crate::pool::try_vec_with_capacity(op, self.shape())?;
            if rows > 0 && cols > 0 {
                for (r, row) in v.chunks_exact(cols).enumerate() {
                    let (from, to) = kept((r % rows) as i128, cols as i128);
                    let (from, to) = (from as usize, to.max(from) as usize);
                    out.extend(std::iter::repeat_n(T::default(), from));
                    out.extend_from_slice(&row[from..to]);
                    out.extend(std::iter::repeat_n(T::default(), cols - to));
                }
            }
            Ok(TensorData::from_vec_unchecked(out, self.shape().clone()))
        })
    }

    /// The coordinates of the lower triangle of a `rows x cols` matrix, like
    /// `torch.tril_indices(rows, cols, offset)`: an i64 tensor of shape `(2, N)`, row indices
    /// then column indices, in row-major order, of the `(i, j)` with `j - i <= offset`.
    pub fn tril_indices(rows: usize, cols: usize, offset: i64) -> Result<TensorData> {
        Self::triangle_indices("tril_indices", rows, cols, |j_minus_i| j_minus_i <= offset as i128)
    }

    /// The coordinates of the upper triangle (`j - i >= offset`), like
    /// `torch.triu_indices(rows, cols, offset)`: see [`TensorData::tril_indices`].
    pub fn triu_indices(rows: usize, cols: usize, offset: i64) -> Result<TensorData> {
        Self::triangle_indices("triu_indices", rows, cols, |j_minus_i| j_minus_i >= offset as i128)
    }

    fn triangle_indices(
        op: &'static str,
        rows: usize,
        cols: usize,
        keep: impl Fn(i128) -> bool,
    ) -> Result<TensorData> {
        Shape::new(&[rows, cols]).validate(op, DType::I64)?;
        // Count first, so the result is sized (and refused if too large) before it is filled.
        let count = |i: usize| (0..cols).filter(|&j| keep(j as i128 - i as i128)).count();
        let n: usize = (0..rows).map(count).sum();
        let shape = Shape::new(&[2, n]);
        let mut out: Vec<i64> = crate::pool::try_vec_with_capacity(op, &shape)?;
        for pass in 0..2 {
            for i in 0..rows {
                for j in (0..cols).filter(|&j| keep(j as i128 - i as i128)) {
                    out.push(if pass == 0 { i as i64 } else { j as i64 });
                }
            }
        }
        Ok(TensorData::from_vec_unchecked(out, shape))
    }
}

/// Comparisons producing bool masks, computed in the promoted dtype.
macro_rules! compare {
    ($($(#[$doc:meta])* $name:ident, $sname:ident => $op:tt;)*) => {
        impl TensorData {
            $(
                $(#[$doc])*
                pub fn $name(&self, other: &TensorData) -> Result<TensorData> {
                    let (a, b) = self.promoted(other, self.result_type(other))?;
                    crate::with_any!(a.dtype(), |T| a.zip_map::<T, T, bool>(&b, stringify!($name), |x, y| x $op y))
                }
                $(#[$doc])*
                /// (A number on the right-hand side.)
                pub fn $sname(&self, s: impl Into<Scalar>) -> Result<TensorData> {
                    self.with_number(s.into(), |a, b| a.$name(b))
                }
            )*
        }
    };
}

compare! {
    /// Elementwise `==` as a bool mask.
    eq, eq_scalar => ==;
    /// Elementwise `!=` as a bool mask.
    ne, ne_scalar => !=;
    /// Elementwise `<` as a bool mask.
    lt, lt_scalar => <;
    /// Elementwise `<=` as a bool mask.
    le, le_scalar => <=;
    /// Elementwise `>` as a bool mask.
    gt, gt_scalar => >;
    /// Elementwise `>=` as a bool mask.
    ge, ge_scalar => >=;
}
