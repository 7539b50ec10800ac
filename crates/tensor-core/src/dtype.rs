//! Element types: the runtime [`DType`] tag and the compile-time [`Element`]/[`Float`] traits
//! that the kernels are generic over (one `match` on the dtype per operation, never per element).

use std::fmt;

/// The element type of a tensor, known at run time like `torch.dtype`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DType {
    /// 32-bit float, the default (`torch.float32`).
    F32,
    /// 64-bit float (`torch.float64`); gradient checks run in it.
    F64,
    /// 64-bit signed integer (`torch.int64`): class indices, `argmax` results.
    I64,
    /// Booleans (`torch.bool`): masks from comparisons.
    Bool,
}

impl DType {
    /// True for `F32` and `F64`.
    pub fn is_float(self) -> bool {
        matches!(self, DType::F32 | DType::F64)
    }

    /// Size of one element in bytes.
    pub fn size_in_bytes(self) -> usize {
        match self {
            DType::F32 => 4,
            DType::F64 | DType::I64 => 8,
            DType::Bool => 1,
        }
    }

    /// PyTorch's name of the dtype (`torch.float32`, ...).
    pub fn torch_name(self) -> &'static str {
        match self {
            DType::F32 => "torch.float32",
            DType::F64 => "torch.float64",
            DType::I64 => "torch.int64",
            DType::Bool => "torch.bool",
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DType::F32 => "f32",
            DType::F64 => "f64",
            DType::I64 => "i64",
            DType::Bool => "bool",
        })
    }
}

/// Parses a dtype's name: torchlet's (`"f32"`), PyTorch's (`"float32"`, `"torch.float32"`)
/// or its alias (`"float"`, `"double"`, `"long"`).
///
/// ```
/// # use torchlet_tensor_core::DType;
/// assert_eq!("torch.float64".parse::<DType>().unwrap(), DType::F64);
/// assert!("f16".parse::<DType>().is_err());
/// ```
impl std::str::FromStr for DType {
    type Err = crate::Error;

    fn from_str(s: &str) -> Result<DType, crate::Error> {
        Ok(match s.strip_prefix("torch.").unwrap_or(s) {
            "f32" | "float32" | "float" => DType::F32,
            "f64" | "float64" | "double" => DType::F64,
            "i64" | "int64" | "long" => DType::I64,
            "bool" => DType::Bool,
            _ => {
                return Err(crate::Error::invalid(
                    "dtype",
                    format!("unknown dtype {s:?} (expected f32, f64, i64 or bool, or PyTorch's name of one)"),
                ))
            }
        })
    }
}

/// The flat storage behind a tensor: one contiguous `Vec` of one element type.
#[derive(Debug, Clone, PartialEq)]
pub enum Buffer {
    /// f32 elements.
    F32(Vec<f32>),
    /// f64 elements.
    F64(Vec<f64>),
    /// i64 elements.
    I64(Vec<i64>),
    /// bool elements.
    Bool(Vec<bool>),
}

/// A large buffer goes to the [`crate::pool`] cache when its last tensor is dropped.
impl Drop for Buffer {
    fn drop(&mut self) {
        crate::pool::recycle(self);
    }
}

impl Buffer {
    /// The dtype of the elements.
    pub fn dtype(&self) -> DType {
        match self {
            Buffer::F32(_) => DType::F32,
            Buffer::F64(_) => DType::F64,
            Buffer::I64(_) => DType::I64,
            Buffer::Bool(_) => DType::Bool,
        }
    }

    /// Number of stored elements.
    pub fn len(&self) -> usize {
        match self {
            Buffer::F32(v) => v.len(),
            Buffer::F64(v) => v.len(),
            Buffer::I64(v) => v.len(),
            Buffer::Bool(v) => v.len(),
        }
    }

    /// True when no element is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A type that can be stored in a tensor.
pub trait Element: Copy + Send + Sync + PartialOrd + fmt::Debug + Default + 'static {
    /// The runtime tag of this type.
    const DTYPE: DType;
    /// The elements of `b` if it holds this type.
    fn slice(b: &Buffer) -> Option<&[Self]>;
    /// Mutable access to the elements of `b` if it holds this type.
    fn vec_mut(b: &mut Buffer) -> Option<&mut Vec<Self>>;
    /// Wraps a vector into a buffer.
    fn into_buffer(v: Vec<Self>) -> Buffer;
    /// Converts to f64 (`true` is 1).
    fn to_f64(self) -> f64;
    /// Converts from f64 (truncating toward zero for integers, `!= 0` for bool).
    fn from_f64(v: f64) -> Self;
}

macro_rules! element {
    ($t:ty, $variant:ident, $to:expr, $from:expr) => {
        impl Element for $t {
            const DTYPE: DType = DType::$variant;
            fn slice(b: &Buffer) -> Option<&[Self]> {
                match b {
                    Buffer::$variant(v) => Some(v),
                    _ => None,
                }
            }
            fn vec_mut(b: &mut Buffer) -> Option<&mut Vec<Self>> {
                match b {
                    Buffer::$variant(v) => Some(v),
                    _ => None,
                }
            }
            fn into_buffer(v: Vec<Self>) -> Buffer {
                Buffer::$variant(v)
            }
            #[inline]
            fn to_f64(self) -> f64 {
                let f: fn($t) -> f64 = $to;
                f(self)
            }
            #[inline]
            fn from_f64(v: f64) -> Self {
                let f: fn(f64) -> $t = $from;
                f(v)
            }
        }
    };
}
element!(f32, F32, |x| x as f64, |v| v as f32);
element!(f64, F64, |x| x, |v| v);
element!(i64, I64, |x| x as f64, |v| v as i64);
element!(bool, Bool, |x| if x { 1.0 } else { 0.0 }, |v| v != 0.0);

/// A numeric element type (f32, f64, i64): supports arithmetic and ordering.
pub trait Numeric:
    Element
    + std::ops::Add<Output = Self>
    + std::ops::Sub<Output = Self>
    + std::ops::Mul<Output = Self>
    + std::ops::Div<Output = Self>
    + std::ops::Neg<Output = Self>
    + std::ops::AddAssign
{
    /// Additive identity.
    const ZERO: Self;
    /// Multiplicative identity.
    const ONE: Self;
    /// The smaller of two values (NaN-propagating for floats, like `torch.minimum`).
    fn min_val(self, other: Self) -> Self;
    /// The larger of two values (NaN-propagating for floats, like `torch.maximum`).
    fn max_val(self, other: Self) -> Self;
    /// `self + other`; integers wrap around on overflow (two's complement, as PyTorch's
    /// integer tensors do) instead of panicking in builds with overflow checks.
    fn add_w(self, other: Self) -> Self;
    /// `self - other`, wrapping for integers (see [`Numeric::add_w`]).
    fn sub_w(self, other: Self) -> Self;
    /// `self * other`, wrapping for integers (see [`Numeric::add_w`]).
    fn mul_w(self, other: Self) -> Self;
    /// `-self`, wrapping for integers (`-i64::MIN == i64::MIN`, as in PyTorch).
    fn neg_w(self) -> Self;
}

impl Numeric for i64 {
    const ZERO: Self = 0;
    const ONE: Self = 1;
    fn min_val(self, o: Self) -> Self {
        self.min(o)
    }
    fn max_val(self, o: Self) -> Self {
        self.max(o)
    }
    fn add_w(self, o: Self) -> Self {
        self.wrapping_add(o)
    }
    fn sub_w(self, o: Self) -> Self {
        self.wrapping_sub(o)
    }
    fn mul_w(self, o: Self) -> Self {
        self.wrapping_mul(o)
    }
    fn neg_w(self) -> Self {
        self.wrapping_neg()
    }
}

macro_rules! numeric_float {
    ($t:ty) => {
        impl Numeric for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            fn min_val(self, o: Self) -> Self {
                if self.is_nan() || o.is_nan() {
                    <$t>::NAN
                } else {
                    self.min(o)
                }
            }
            fn max_val(self, o: Self) -> Self {
                if self.is_nan() || o.is_nan() {
                    <$t>::NAN
                } else {
                    self.max(o)
                }
            }
            #[inline(always)]
            fn add_w(self, o: Self) -> Self {
                self + o
            }
            #[inline(always)]
            fn sub_w(self, o: Self) -> Self {
                self - o
            }
            #[inline(always)]
            fn mul_w(self, o: Self) -> Self {
                self * o
            }
            #[inline(always)]
            fn neg_w(self) -> Self {
                -self
            }
        }
    };
}
numeric_float!(f32);
numeric_float!(f64);

/// A floating-point element type (f32, f64): the type of every differentiable tensor.
pub trait Float:
    Numeric
    + num_traits::Float
    + std::ops::SubAssign
    + std::ops::MulAssign
    + std::ops::DivAssign
    + std::iter::Sum
    + fmt::Display
    + fmt::LowerExp
{
    /// Machine epsilon of the type (`torch.finfo(dtype).eps`).
    const EPS: Self;
    /// Converts an f64 constant into this type.
    fn c(v: f64) -> Self {
        <Self as Element>::from_f64(v)
    }
}

impl Float for f32 {
    const EPS: Self = f32::EPSILON;
}
impl Float for f64 {
    const EPS: Self = f64::EPSILON;
}

/// Runs `$body` with the type alias `$T` bound to the tensor's float element type,
/// or returns a dtype error for integer/bool tensors. One dispatch per operation.
#[macro_export]
macro_rules! with_float {
    ($dtype:expr, $op:expr, |$T:ident| $body:expr) => {
        match $dtype {
            $crate::DType::F32 => {
                #[allow(dead_code)]
                type $T = f32;
                $body
            }
            $crate::DType::F64 => {
                #[allow(dead_code)]
                type $T = f64;
                $body
            }
            other => Err($crate::Error::need_float($op, other)),
        }
    };
}

/// Like [`with_float!`] but also accepts i64 tensors (arithmetic, comparisons, reductions).
#[macro_export]
macro_rules! with_numeric {
    ($dtype:expr, $op:expr, |$T:ident| $body:expr) => {
        match $dtype {
            $crate::DType::F32 => {
                #[allow(dead_code)]
                type $T = f32;
                $body
            }
            $crate::DType::F64 => {
                #[allow(dead_code)]
                type $T = f64;
                $body
            }
            $crate::DType::I64 => {
                #[allow(dead_code)]
                type $T = i64;
                $body
            }
            other => Err($crate::Error::dtype(
                $op,
                "a numeric tensor (f32, f64 or i64)",
                other,
                "; convert with .to_dtype(DType::F32)",
            )),
        }
    };
}

/// Runs `$body` with `$T` bound to the element type of any dtype (copies, views, gathers).
#[macro_export]
macro_rules! with_any {
    ($dtype:expr, |$T:ident| $body:expr) => {
        match $dtype {
            $crate::DType::F32 => {
                #[allow(dead_code)]
                type $T = f32;
                $body
            }
            $crate::DType::F64 => {
                #[allow(dead_code)]
                type $T = f64;
                $body
            }
            $crate::DType::I64 => {
                #[allow(dead_code)]
                type $T = i64;
                $body
            }
            $crate::DType::Bool => {
                #[allow(dead_code)]
                type $T = bool;
                $body
            }
        }
    };
}

/// `v` as f32 values when `T` is f32 (for the f32-only SIMD kernels), else `None`.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))] // its users are x86-64 kernels
pub(crate) fn as_f32<T: Element>(v: &[T]) -> Option<&[f32]> {
    (std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>())
        // SAFETY: T is f32 (the TypeId check), so this reinterprets the slice as its own
        // type: same length, alignment and validity.
        .then(|| unsafe { std::slice::from_raw_parts(v.as_ptr() as *const f32, v.len()) })
}

/// [`as_f32`] for a mutable slice (the borrow of `v` moves into the result).
pub(crate) fn as_f32_mut<T: Element>(v: &mut [T]) -> Option<&mut [f32]> {
    (std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>())
        // SAFETY: as in `as_f32`; the borrow of `v` moves into the result.
        .then(|| unsafe { std::slice::from_raw_parts_mut(v.as_mut_ptr() as *mut f32, v.len()) })
}
