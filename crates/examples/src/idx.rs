//! Reading the IDX files MNIST is distributed in (`train-images-idx3-ubyte`, ...).
//!
//! The format (<http://yann.lecun.com/exdb/mnist/>), all integers big-endian:
//!
//! | bytes | meaning |
//! |---|---|
//! | 0, 1 | zero |
//! | 2 | element type: `0x08` u8, `0x09` i8, `0x0B` i16, `0x0C` i32, `0x0D` f32, `0x0E` f64 |
//! | 3 | number of dimensions `d` |
//! | 4 .. 4 + 4d | the size of each dimension, as u32 |
//! | then | the elements in row-major order, each of the element type's size |
//!
//! So `train-images-idx3-ubyte` starts `00 00 08 03`, then 60000, 28, 28, then 47,040,000
//! pixel bytes; `train-labels-idx1-ubyte` starts `00 00 08 01`, then 60000, then the labels.
//! Files must be uncompressed (`gunzip train-images-idx3-ubyte.gz`).

use std::path::Path;
use torchlet::{Error, Result, Shape, TensorData};

/// Reads an IDX file into a tensor of its shape.
///
/// Element types map onto torchlet's dtypes like this:
/// - integer data (u8, i8, i16, i32) with **one** dimension becomes **i64**: a label file,
///   ready as class indices for `cross_entropy`;
/// - integer data with two or more dimensions becomes **f32** holding the same values (an
///   image file: pixels 0..255, scale them yourself, e.g. `.mul_scalar(1.0 / 255.0)`). Every
///   u8, i8 and i16 value is exact in f32; an i32 value beyond 2^24 in magnitude would be
///   rounded, so it is an error instead;
/// - f32 data stays f32, f64 data stays f64.
///
/// Errors ([`Error::Io`], naming the path): unreadable file, bad magic number (including
/// gzip-compressed input), unknown element type, truncated header or data, extra bytes
/// after the data, and sizes whose product overflows.
///
/// ```no_run
/// let images = torchlet_examples::idx::read_idx("mnist/train-images-idx3-ubyte")?; // f32 (60000, 28, 28)
/// let labels = torchlet_examples::idx::read_idx("mnist/train-labels-idx1-ubyte")?; // i64 (60000)
/// # Ok::<(), torchlet::Error>(())
/// ```
pub fn read_idx(path: impl AsRef<Path>) -> Result<TensorData> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| io_error(path, format!("cannot read the file: {e}")))?;
    parse_idx(&bytes).map_err(|msg| io_error(path, msg))
}

fn io_error(path: &Path, msg: String) -> Error {
    Error::Io { op: "read_idx", msg: format!("{}: {msg}", path.display()) }
}

/// The element types of the format: code, name, size in bytes.
const TYPES: [(u8, &str, usize); 6] = [
    (0x08, "u8", 1),
    (0x09, "i8", 1),
    (0x0B, "i16", 2),
    (0x0C, "i32", 4),
    (0x0D, "f32", 4),
    (0x0E, "f64", 8),
];

/// Parses the bytes of an IDX file; the error is a message without the path.
fn parse_idx(bytes: &[u8]) -> std::result::Result<TensorData, String> {
    if bytes.len() < 4 {
        return Err(format!("truncated header: an IDX file starts with a 4-byte magic number, but the file has only {} byte(s)", bytes.len()));
    }
    if bytes[0] != 0 || bytes[1] != 0 {
        let hint = if bytes[..2] == [0x1f, 0x8b] {
            " (this is a gzip file: decompress it first, e.g. `gunzip train-images-idx3-ubyte.gz`)"
        } else {
            ""
        };
        return Err(format!(
            "bad magic number {:02x} {:02x} {:02x} {:02x}: an IDX file starts with two zero bytes, the element type and the number of dimensions (e.g. 00 00 08 03){hint}",
            bytes[0], bytes[1], bytes[2], bytes[3]
        ));
    }
    let (code, ndim) = (bytes[2], bytes[3] as usize);
    let &(_, type_name, size) = TYPES.iter().find(|t| t.0 == code).ok_or_else(|| {
        format!("unknown element type 0x{code:02x} in the magic number (expected 0x08 u8, 0x09 i8, 0x0B i16, 0x0C i32, 0x0D f32 or 0x0E f64)")
    })?;
    let header = 4 + 4 * ndim;
    if bytes.len() < header {
        return Err(format!(
            "truncated header: {ndim} dimension(s) need {header} header bytes, but the file has only {}",
            bytes.len()
        ));
    }
    let dims: Vec<usize> = bytes[4..header]
        .chunks_exact(4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
        .collect();
    let numel = dims.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
    let data_len =
        numel.and_then(|n| n.checked_mul(size)).ok_or_else(|| format!("the sizes {dims:?} are too large"))?;
    let found = bytes.len() - header;
    if found != data_len {
        let what = if found < data_len { "truncated data" } else { "size mismatch" };
        return Err(format!(
            "{what}: shape {dims:?} of {type_name} needs {data_len} data bytes after the {header}-byte header, but the file has {found}"
        ));
    }
    let data = &bytes[header..];
    let shape = Shape::new(&dims);
    let int_at = |b: &[u8]| -> i64 {
        match code {
            0x08 => b[0] as i64,
            0x09 => b[0] as i8 as i64,
            0x0B => i16::from_be_bytes([b[0], b[1]]) as i64,
            _ => i32::from_be_bytes([b[0], b[1], b[2], b[3]]) as i64,
        }
    };
    let result = match code {
        0x0D => TensorData::from_vec(
            data.chunks_exact(4).map(|b| f32::from_be_bytes([b[0], b[1], b[2], b[3]])).collect::<Vec<_>>(),
            shape,
        ),
        0x0E => TensorData::from_vec(
            data.chunks_exact(8)
                .map(|b| f64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
                .collect::<Vec<_>>(),
            shape,
        ),
        // One dimension: labels, as i64 class indices.
        _ if ndim == 1 => {
            TensorData::from_vec(data.chunks_exact(size).map(int_at).collect::<Vec<_>>(), shape)
        }
        // Images: f32 with the same values (exact up to 2^24 in magnitude).
        _ => {
            // Only i32 can exceed 2^24 (u8, i8 and i16 values are all exact in f32).
            let bad = if code == 0x0C {
                data.chunks_exact(size).map(int_at).find(|v| v.unsigned_abs() > 1 << 24)
            } else {
                None
            };
            if let Some(bad) = bad {
                return Err(format!("the {type_name} value {bad} cannot be represented exactly in f32 (integer data with two or more dimensions is returned as f32)"));
            }
            TensorData::from_vec(data.chunks_exact(size).map(|b| int_at(b) as f32).collect::<Vec<_>>(), shape)
        }
    };
    result.map_err(|e| e.to_string())
}
