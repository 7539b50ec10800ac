//! Operator overloads, so tensor code reads like PyTorch: `&a * &b + &c`, `1.0 - &t`,
//! `2.0 * &t`, `&t / 2`, `-&t`, `(&a * &b).relu()`, and compound assignment `p -= &(&g * lr)`
//! for in-place updates (under `no_grad` for parameters, as in PyTorch).
//!
//! Every combination of owned and borrowed tensors works, and numbers on either side; numbers
//! promote as Python numbers do (`int_tensor * 0.5` is float). The numbers are `f64` and `i64`
//! only, so a literal (`2.0`, `2`) needs no annotation; convert other number types with `as`.
//! Operators cannot return a `Result`, so they **panic** with the error message the method of
//! the same name returns as `Err` (shapes that do not broadcast, an in-place update of a leaf
//! that requires grad outside `no_grad`): use [`Tensor::add`], [`Tensor::sub_`] and friends
//! where bad input is possible.

use crate::tensor::Tensor;
use std::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Sub, SubAssign};
use torchlet_tensor_core::Result;

/// The value, or a panic with the error's message (operators cannot return `Result`).
fn ok<T>(r: Result<T>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

/// `tensor (op) tensor` for the four combinations of owned and borrowed operands.
macro_rules! tensor_ops {
    ($($trait:ident, $method:ident;)*) => {$(
        impl $trait<&Tensor> for &Tensor {
            type Output = Tensor;
            fn $method(self, rhs: &Tensor) -> Tensor {
                ok(Tensor::$method(self, rhs))
            }
        }
        impl $trait<Tensor> for &Tensor {
            type Output = Tensor;
            fn $method(self, rhs: Tensor) -> Tensor {
                ok(Tensor::$method(self, &rhs))
            }
        }
        impl $trait<&Tensor> for Tensor {
            type Output = Tensor;
            fn $method(self, rhs: &Tensor) -> Tensor {
                ok(Tensor::$method(&self, rhs))
            }
        }
        impl $trait<Tensor> for Tensor {
            type Output = Tensor;
            fn $method(self, rhs: Tensor) -> Tensor {
                ok(Tensor::$method(&self, &rhs))
            }
        }
    )*};
}

tensor_ops! {
    Add, add;
    Sub, sub;
    Mul, mul;
    Div, div;
}

/// `tensor (op) number` and `number (op) tensor` for one number type; `$rev` is the method
/// computing `number (op) tensor` (`rsub`, `rdiv`, or the commutative op itself).
macro_rules! number_ops {
    ($($num:ty),*) => {$(
        number_ops!(@one $num, Add, add, add);
        number_ops!(@one $num, Sub, sub, rsub);
        number_ops!(@one $num, Mul, mul, mul);
        number_ops!(@one $num, Div, div, rdiv);
    )*};
    (@one $num:ty, $trait:ident, $method:ident, $rev:ident) => {
        impl $trait<$num> for &Tensor {
            type Output = Tensor;
            fn $method(self, rhs: $num) -> Tensor {
                ok(Tensor::$method(self, rhs))
            }
        }
        impl $trait<$num> for Tensor {
            type Output = Tensor;
            fn $method(self, rhs: $num) -> Tensor {
                ok(Tensor::$method(&self, rhs))
            }
        }
        impl $trait<&Tensor> for $num {
            type Output = Tensor;
            fn $method(self, rhs: &Tensor) -> Tensor {
                ok(Tensor::$rev(rhs, self))
            }
        }
        impl $trait<Tensor> for $num {
            type Output = Tensor;
            fn $method(self, rhs: Tensor) -> Tensor {
                ok(Tensor::$rev(&rhs, self))
            }
        }
    };
}

number_ops!(f64, i64);

impl Neg for &Tensor {
    type Output = Tensor;
    fn neg(self) -> Tensor {
        ok(Tensor::neg(self))
    }
}

impl Neg for Tensor {
    type Output = Tensor;
    fn neg(self) -> Tensor {
        ok(Tensor::neg(&self))
    }
}

/// Compound assignment updates the tensor in place (`add_`, `sub_`, `mul_`, `div_`), so every
/// handle sharing it sees the new value, as `p -= lr * p.grad` does in PyTorch.
macro_rules! assign_ops {
    ($($trait:ident, $method:ident, $inplace:ident;)*) => {$(
        impl $trait<&Tensor> for Tensor {
            fn $method(&mut self, rhs: &Tensor) {
                ok(self.$inplace(rhs))
            }
        }
        impl $trait<Tensor> for Tensor {
            fn $method(&mut self, rhs: Tensor) {
                ok(self.$inplace(&rhs))
            }
        }
        assign_ops!(@numbers $trait, $method, $inplace, f64, i64);
    )*};
    (@numbers $trait:ident, $method:ident, $inplace:ident, $($num:ty),*) => {$(
        impl $trait<$num> for Tensor {
            fn $method(&mut self, rhs: $num) {
                ok(self.$inplace(rhs))
            }
        }
    )*};
}

assign_ops! {
    AddAssign, add_assign, add_;
    SubAssign, sub_assign, sub_;
    MulAssign, mul_assign, mul_;
    DivAssign, div_assign, div_;
}
