//! PyTorch's type promotion: the dtype of `a + b` when `a` and `b` differ, the default float
//! dtype, and the [`Scalar`] numbers (Python's `2`, `0.5`, `True`) that ops combine with
//! tensors.
//!
//! Dtypes fall in three categories, bool < integer < float. Operands take part in three
//! tiers, in decreasing priority: tensors with dimensions, 0-dimensional tensors, and plain
//! numbers. Within a tier the dtypes promote to the larger one (`i64 + f32 -> f32`,
//! `f32 + f64 -> f64`); a lower tier changes the result only when its *category* is higher:
//!
//! - `[1, 2] (i64) * 0.5 -> f32`: a float number makes an integer tensor float, of the
//!   default dtype (f32 unless [`set_default_dtype`] changed it);
//! - `[0.5] (f32) * tensor(2.0, f64) -> f32`: same category, the dimensioned tensor wins;
//! - `[1, 2] (i64) * tensor(0.5) (f32, 0-d) -> f32`;
//! - bool tensors become integers with an integer number (`mask * 2 -> i64`).
//!
//! True division (`/`) of integers gives the default float dtype; comparisons compute in the
//! promoted dtype and return bool.

use crate::DType;
use std::sync::atomic::{AtomicU8, Ordering};

/// A number combined with a tensor, as Python's `2`, `0.5` or `True` is in PyTorch. Built from
/// Rust numbers with `From` (`2i32`, `2i64`, `2usize` are integers; `0.5f32`, `0.5f64` floats).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scalar {
    /// An integer (promotes like an i64 number).
    Int(i64),
    /// A float (promotes to the default float dtype).
    Float(f64),
    /// A boolean.
    Bool(bool),
}

impl Scalar {
    /// The value as f64.
    pub fn to_f64(self) -> f64 {
        match self {
            Scalar::Int(i) => i as f64,
            Scalar::Float(f) => f,
            Scalar::Bool(b) => b as u8 as f64,
        }
    }

    /// The dtype a number of this kind promotes as: i64, the default float dtype, or bool.
    pub fn dtype(self) -> DType {
        match self {
            Scalar::Int(_) => DType::I64,
            Scalar::Float(_) => default_dtype(),
            Scalar::Bool(_) => DType::Bool,
        }
    }
}

macro_rules! scalar_from {
    ($($t:ty => $v:ident as $c:ty),*) => {$(
        impl From<$t> for Scalar {
            fn from(x: $t) -> Scalar {
                Scalar::$v(x as $c)
            }
        }
    )*};
}
scalar_from!(i8 => Int as i64, i16 => Int as i64, i32 => Int as i64, i64 => Int as i64, u8 => Int as i64, u16 => Int as i64, u32 => Int as i64, usize => Int as i64, isize => Int as i64, f32 => Float as f64, f64 => Float as f64);

impl From<bool> for Scalar {
    fn from(b: bool) -> Scalar {
        Scalar::Bool(b)
    }
}

/// The category of a dtype: 0 bool, 1 integer, 2 float.
fn category(d: DType) -> u8 {
    match d {
        DType::Bool => 0,
        DType::I64 => 1,
        DType::F32 | DType::F64 => 2,
    }
}

impl DType {
    /// The smallest dtype both `self` and `other` convert to without losing their category:
    /// `bool < i64 < f32 < f64` (PyTorch's `promote_types` for these four).
    pub fn promote(self, other: DType) -> DType {
        let rank = |d: DType| match d {
            DType::Bool => 0,
            DType::I64 => 1,
            DType::F32 => 2,
            DType::F64 => 3,
        };
        if rank(self) >= rank(other) {
            self
        } else {
            other
        }
    }
}

/// One operand of an op, for [`result_type`]: its dtype and its tier.
#[derive(Clone, Copy, Debug)]
pub enum Operand {
    /// A tensor with at least one dimension.
    Tensor(DType),
    /// A 0-dimensional tensor.
    ZeroDim(DType),
    /// A plain number.
    Number(Scalar),
}

/// PyTorch's `result_type` over `operands`: promote within each tier, then let a lower tier
/// in only where its category is higher (see the module docs). `None` for no operands.
pub fn result_type(operands: &[Operand]) -> Option<DType> {
    let tier = |want: u8| {
        operands
            .iter()
            .filter_map(|o| match (o, want) {
                (Operand::Tensor(d), 0) | (Operand::ZeroDim(d), 1) => Some(*d),
                (Operand::Number(s), 2) => Some(s.dtype()),
                _ => None,
            })
            .reduce(DType::promote)
    };
    combine(tier(0), combine(tier(1), tier(2)))
}

/// c10's `combine_categories`: the higher tier wins unless it is bool or the lower tier is a
/// float of a higher category.
fn combine(higher: Option<DType>, lower: Option<DType>) -> Option<DType> {
    match (higher, lower) {
        (None, l) => l,
        (h, None) => h,
        (Some(h), Some(l)) => {
            if h.is_float() {
                Some(h)
            } else if h == DType::Bool || (l.is_float() && category(l) > category(h)) {
                Some(h.promote(l))
            } else {
                Some(h)
            }
        }
    }
}

/// 0 = F32, 1 = F64 (the only float dtypes).
static DEFAULT_FLOAT: AtomicU8 = AtomicU8::new(0);

/// The dtype of float tensors made from Rust numbers, of `zeros`/`rand`/..., and of
/// integer-to-float promotion: f32 unless changed with [`set_default_dtype`], like
/// `torch.get_default_dtype()`.
pub fn default_dtype() -> DType {
    if DEFAULT_FLOAT.load(Ordering::Relaxed) == 1 {
        DType::F64
    } else {
        DType::F32
    }
}

/// Sets the default float dtype for the whole process, like `torch.set_default_dtype`:
/// `set_default_dtype(DType::F64)` makes `Tensor::from(vec![0.5])`, `Tensor::zeros(..)` and
/// friends f64. Only float dtypes are allowed (an integer or bool dtype is an error).
pub fn set_default_dtype(dtype: DType) -> crate::Result<()> {
    match dtype {
        DType::F32 => DEFAULT_FLOAT.store(0, Ordering::Relaxed),
        DType::F64 => DEFAULT_FLOAT.store(1, Ordering::Relaxed),
        other => {
            return Err(crate::Error::invalid(
                "set_default_dtype",
                format!("only floating-point types are supported as the default type, got {other}"),
            ))
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use DType::*;
    use Operand::*;

    #[test]
    fn result_types_follow_pytorch() {
        // Each line: PyTorch 2.9.1's dtype for the expression in the comment.
        let rt = |o: &[Operand]| result_type(o).unwrap();
        assert_eq!(rt(&[Tensor(I64), Number(Scalar::Float(0.5))]), F32); // tensor([1,2]) * 0.5
        assert_eq!(rt(&[Tensor(I64), Number(Scalar::Int(2))]), I64); // tensor([1,2]) * 2
        assert_eq!(rt(&[Tensor(Bool), Number(Scalar::Int(2))]), I64); // mask * 2
        assert_eq!(rt(&[Tensor(Bool), Number(Scalar::Float(0.5))]), F32); // mask * 0.5
        assert_eq!(rt(&[Tensor(Bool), Number(Scalar::Bool(true))]), Bool); // mask + True
        assert_eq!(rt(&[Tensor(F32), Number(Scalar::Int(2))]), F32); // x * 2
        assert_eq!(rt(&[Tensor(F64), Number(Scalar::Float(0.5))]), F64); // x64 * 0.5
        assert_eq!(rt(&[Tensor(F32), ZeroDim(F64)]), F32); // x * tensor(0.5, dtype=float64)
        assert_eq!(rt(&[Tensor(I64), ZeroDim(F32)]), F32); // tensor([1,2]) * tensor(0.5)
        assert_eq!(rt(&[Tensor(I64), ZeroDim(F64)]), F64);
        assert_eq!(rt(&[Tensor(Bool), ZeroDim(I64)]), I64); // mask + tensor(3)
        assert_eq!(rt(&[Tensor(I64), Tensor(F32)]), F32);
        assert_eq!(rt(&[Tensor(F32), Tensor(F64)]), F64);
        assert_eq!(rt(&[Tensor(Bool), Tensor(F64)]), F64);
        assert_eq!(rt(&[ZeroDim(I64), Number(Scalar::Float(0.5))]), F32); // tensor(3) * 0.5
        assert_eq!(rt(&[Number(Scalar::Int(2)), Number(Scalar::Float(0.5))]), F32);
    }

    #[test]
    fn scalars_from_rust_numbers() {
        assert_eq!(Scalar::from(2), Scalar::Int(2));
        assert_eq!(Scalar::from(2usize), Scalar::Int(2));
        assert_eq!(Scalar::from(0.5f32), Scalar::Float(0.5));
        assert_eq!(Scalar::from(true), Scalar::Bool(true));
        assert_eq!(Scalar::Float(0.5).dtype(), default_dtype());
        assert!(set_default_dtype(I64).is_err());
    }
}
