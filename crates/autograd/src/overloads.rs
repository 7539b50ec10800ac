//! Operator overloads (`&a + &b`, `&a * 2.0`, `-&a`). They panic with the same message the
//! fallible methods return as `Err` (e.g. on shapes that do not broadcast): use
//! [`Tensor::add`] and friends where bad input is possible.

use crate::tensor::Tensor;
use std::ops::{Add, Div, Mul, Neg, Sub};

macro_rules! overload {
    ($($trait:ident, $method:ident, $call:ident;)*) => {
        $(
            impl $trait<&Tensor> for &Tensor {
                type Output = Tensor;
                /// Panics with the error message if the operation fails.
                fn $method(self, rhs: &Tensor) -> Tensor {
                    self.$call(rhs).unwrap_or_else(|e| panic!("{e}"))
                }
            }
            impl $trait<Tensor> for Tensor {
                type Output = Tensor;
                /// Panics with the error message if the operation fails.
                fn $method(self, rhs: Tensor) -> Tensor {
                    (&self).$call(&rhs).unwrap_or_else(|e| panic!("{e}"))
                }
            }
        )*
    };
}

overload! {
    Add, add, add;
    Sub, sub, sub;
    Mul, mul, mul;
    Div, div, div;
}

impl Mul<f64> for &Tensor {
    type Output = Tensor;
    /// Panics with the error message if the operation fails (non-numeric dtype).
    fn mul(self, s: f64) -> Tensor {
        self.mul_scalar(s).unwrap_or_else(|e| panic!("{e}"))
    }
}

impl Add<f64> for &Tensor {
    type Output = Tensor;
    /// Panics with the error message if the operation fails (non-numeric dtype).
    fn add(self, s: f64) -> Tensor {
        self.add_scalar(s).unwrap_or_else(|e| panic!("{e}"))
    }
}

impl Neg for &Tensor {
    type Output = Tensor;
    /// Panics with the error message if the operation fails (bool tensors).
    fn neg(self) -> Tensor {
        Tensor::neg(self).unwrap_or_else(|e| panic!("{e}"))
    }
}
