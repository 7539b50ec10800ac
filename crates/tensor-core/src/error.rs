//! The one error type of torchlet.
//!
//! Every fallible operation returns [`Result<T>`]. Each variant names the operation and
//! carries the offending shapes or values, so a message reads like
//! `matmul: shapes [2, 3] and [4, 2] cannot be multiplied (inner dimensions 3 and 4 differ)`.

use crate::{DType, Shape};

/// `Result` with torchlet's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// Everything that can go wrong in torchlet, with enough context to fix it.
///
/// `Debug` prints the same message as `Display`, so `fn main() -> torchlet::Result<()>`
/// reports `Error: matmul: shapes [2, 3] and [4, 2] cannot be multiplied ...` rather than a
/// struct dump; match on the variants for the structured fields.
#[derive(Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// Two shapes that had to agree (or broadcast) did not.
    #[error("{op}: shapes {lhs} and {rhs} {reason}")]
    ShapeMismatch {
        /// The operation, in PyTorch's vocabulary (`add`, `matmul`, `cross_entropy`).
        op: &'static str,
        /// The first shape involved.
        lhs: Shape,
        /// The second shape involved.
        rhs: Shape,
        /// Why they do not fit, e.g. `cannot be broadcast together (dimension 1: 3 vs 4)`.
        reason: String,
    },
    /// A dimension argument outside `[-ndim, ndim)`.
    #[error("{op}: dimension {dim} is out of range for a tensor with {ndim} dimension(s) (expected a dim in [{lo}, {hi}])", lo = -(*ndim.max(&1) as isize), hi = *ndim.max(&1) as isize - 1)]
    DimOutOfRange {
        /// The operation.
        op: &'static str,
        /// The dimension that was asked for.
        dim: isize,
        /// The rank of the tensor.
        ndim: usize,
    },
    /// An index (element index, class index, ...) outside its valid range.
    #[error("{op}: {what} {index} is out of range (expected a value in [0, {size}){extra})")]
    IndexOutOfRange {
        /// The operation.
        op: &'static str,
        /// What kind of index (`index`, `Target`, `class index`).
        what: &'static str,
        /// The offending value.
        index: i64,
        /// The size of the indexed dimension.
        size: usize,
        /// Extra context, e.g. `, or ignore_index -100`.
        extra: String,
    },
    /// A tensor of the wrong element type.
    #[error("{op}: expected {expected}, got a tensor of dtype {got}{hint}")]
    DTypeMismatch {
        /// The operation.
        op: &'static str,
        /// What was expected, e.g. `a floating-point tensor (f32 or f64)`.
        expected: String,
        /// The dtype that was given.
        got: DType,
        /// How to fix it, e.g. `; convert with .to_dtype(DType::I64)`.
        hint: String,
    },
    /// An argument with an invalid value (a negative learning rate, a bad reduction, ...).
    #[error("{op}: {msg}")]
    InvalidArgument {
        /// The operation.
        op: &'static str,
        /// What was wrong and what was expected.
        msg: String,
    },
    /// A misuse of the autograd tape (backward on a non-scalar, a freed graph, ...).
    #[error("{op}: {msg}")]
    Autograd {
        /// The operation (`backward`, `grad`, ...).
        op: &'static str,
        /// What was wrong and how to fix it.
        msg: String,
    },
    /// Reading or writing a file (data sets, saved models) failed.
    #[error("{op}: {msg}")]
    Io {
        /// The operation (`load_state_dict`, `read_idx`, ...).
        op: &'static str,
        /// What went wrong, with the path.
        msg: String,
    },
}

impl std::fmt::Debug for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// I/O errors become [`Error::Io`] (op `io`), so `?` works on file operations in a function
/// returning torchlet's `Result`.
impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io { op: "io", msg: e.to_string() }
    }
}

impl Error {
    /// An [`Error::InvalidArgument`] for `op` with the message `msg`.
    pub fn invalid(op: &'static str, msg: impl Into<String>) -> Self {
        Error::InvalidArgument { op, msg: msg.into() }
    }

    /// An [`Error::ShapeMismatch`].
    pub fn shapes(op: &'static str, lhs: &Shape, rhs: &Shape, reason: impl Into<String>) -> Self {
        Error::ShapeMismatch { op, lhs: lhs.clone(), rhs: rhs.clone(), reason: reason.into() }
    }

    /// An [`Error::DTypeMismatch`] for an op that needs a float tensor.
    pub fn need_float(op: &'static str, got: DType) -> Self {
        Error::DTypeMismatch {
            op,
            expected: "a floating-point tensor (f32 or f64)".into(),
            got,
            hint: "; convert with .to_dtype(DType::F32)".into(),
        }
    }

    /// An [`Error::DTypeMismatch`] for an op that needs `expected`.
    pub fn dtype(op: &'static str, expected: impl Into<String>, got: DType, hint: impl Into<String>) -> Self {
        Error::DTypeMismatch { op, expected: expected.into(), got, hint: hint.into() }
    }

    /// An [`Error::Autograd`].
    pub fn autograd(op: &'static str, msg: impl Into<String>) -> Self {
        Error::Autograd { op, msg: msg.into() }
    }

    /// The operation named by this error.
    pub fn op(&self) -> &'static str {
        match self {
            Error::ShapeMismatch { op, .. }
            | Error::DimOutOfRange { op, .. }
            | Error::IndexOutOfRange { op, .. }
            | Error::DTypeMismatch { op, .. }
            | Error::InvalidArgument { op, .. }
            | Error::Autograd { op, .. }
            | Error::Io { op, .. } => op,
        }
    }
}
