//! Saving and loading state dicts in the [safetensors] format, the file format PyTorch
//! users write with `safetensors.torch.save_file(model.state_dict(), path)`.
//!
//! The functions mirror Python's `safetensors.torch` module:
//!
//! | torchlet                                   | PyTorch                                                  |
//! |--------------------------------------------|----------------------------------------------------------|
//! | [`save_safetensors`]`(&model, path)`       | `save_file(model.state_dict(), path)`                    |
//! | [`load_safetensors`]`(&model, path)`       | `model.load_state_dict(load_file(path))`                 |
//! | [`save_file`]`(&state, path)`              | `save_file(state, path)`                                 |
//! | [`load_file`]`(path)`                      | `load_file(path)`                                        |
//! | [`save`]`(&state)` / [`load`]`(&bytes)`    | `save(state)` / `load(data)` (bytes in memory)           |
//!
//! # The format
//!
//! A file is an 8-byte little-endian header length `n`, then `n` bytes of UTF-8 JSON:
//!
//! ```text
//! {"__metadata__":{"format":"pt"},"0.bias":{"dtype":"F32","shape":[5],"data_offsets":[0,20]},...}
//! ```
//!
//! then the data section: each tensor's values, little-endian and row-major, at its
//! `data_offsets` (relative to the start of the data section). torchlet reads and writes it
//! with its own codec (no JSON library): the header parser accepts exactly the JSON the
//! format uses — objects, arrays, strings with every JSON escape (`\uXXXX` and surrogate
//! pairs included) and non-negative integers — and rejects anything else.
//!
//! # Writing
//!
//! Files are byte-identical to what Hugging Face's writer produces for the same tensors with
//! `metadata={"format": "pt"}` (the metadata Hugging Face's PyTorch checkpoints carry):
//! compact JSON, `__metadata__` first, tensors ordered by decreasing dtype alignment (I64,
//! F64, F32, BOOL) and then by name, the header padded with spaces to a multiple of 8 bytes.
//!
//! Saving to a path is **atomic**: the bytes go to a temporary file `.NAME.PID-N.tmp` in the
//! same directory, which is synced to disk and then renamed over the target (and the
//! directory synced, best effort). If anything fails — disk full, a file-size limit, a
//! read-only directory, a crash — the previous file at the path is left intact: a reader
//! sees the old checkpoint or the new one, never a truncated file. On an error the temporary
//! file is removed (a crash can leave one behind; the target is never damaged). The new file
//! takes the permissions of the file it replaces; a read-only target (no write permission
//! bit) is refused rather than replaced; a symbolic link is written through (the link stays).
//!
//! # Reading
//!
//! Reading validates the whole file before returning anything and never panics, whatever
//! the bytes:
//!
//! - the header length: at least 8 bytes in the file, a header of at most 100,000,000 bytes
//!   (a huge declared length is an error, not an allocation), and no longer than the file;
//! - the header: valid UTF-8, and JSON of the shape above: unique keys, each tensor with
//!   exactly `dtype` (a string), `shape` (non-negative integers) and `data_offsets`
//!   (`[begin, end]`), `__metadata__` (optional) an object of strings, tolerated and ignored;
//!   only spaces, tabs and line breaks may pad the header. (Hugging Face's reader is laxer
//!   on two points that torchlet refuses: it keeps the last of duplicate keys and ignores
//!   unknown fields; its own writer produces neither.)
//! - the layout: each shape's element count and byte size do not overflow, each tensor's
//!   `end - begin` is its element count times its element size, and the tensors, sorted by
//!   offset, are contiguous from 0 and cover the data section exactly (no gap, no overlap,
//!   no trailing bytes);
//! - the values: dtype F32, F64, I64 or BOOL (torchlet's dtypes), BOOL bytes 0 or 1.
//!
//! A file that is not valid safetensors (truncated, bad header, bad offsets) is an
//! [`Error::Io`]; a valid file torchlet cannot represent (F16, BF16, I32, ... or a BOOL byte
//! other than 0 and 1), or one that does not match the model, an [`Error::InvalidArgument`].
//! Messages name the path and the tensor, and say what was expected.
//!
//! [safetensors]: https://github.com/huggingface/safetensors

mod atomic;
mod header;

use crate::module::Module;
use header::Entry;
use std::collections::HashSet;
use std::path::Path;
use torchlet_autograd::{DType, Error, Result, Shape, TensorData};
use torchlet_tensor_core::Element;

/// Writes `module`'s [`Module::state_dict`] to `path` (PyTorch:
/// `save_file(model.state_dict(), path)`). PyTorch loads the file with
/// `model.load_state_dict(safetensors.torch.load_file(path))`.
///
/// Atomic: the file is written to a temporary file beside `path`, synced, then renamed over
/// `path`; on any error (disk full, no permission, ...) an existing file at `path` is left
/// as it was (see the [module docs](self)). I/O errors are [`Error::Io`] naming `path`.
pub fn save_safetensors<M: Module + ?Sized>(module: &M, path: impl AsRef<Path>) -> Result<()> {
    write(&module.state_dict(), path.as_ref(), "save_safetensors")
}

/// Loads the file at `path` into `module`'s parameters (PyTorch:
/// `model.load_state_dict(load_file(path))`): strict and atomic like
/// [`Module::load_state_dict`], so on any error the model is unchanged. Errors name `path`.
pub fn load_safetensors<M: Module + ?Sized>(module: &M, path: impl AsRef<Path>) -> Result<()> {
    const OP: &str = "load_safetensors";
    let path = path.as_ref();
    let state = read(path, OP)?;
    module.load_state_dict(&state).map_err(|e| match e {
        Error::InvalidArgument { msg, .. } => Error::invalid(OP, format!("{}: {msg}", path.display())),
        other => other,
    })
}

/// Writes a state dict to `path` (`safetensors.torch.save_file(state, path)`). Keys must be
/// unique and not `__metadata__`.
///
/// Atomic like [`save_safetensors`]: on any error an existing file at `path` is left as it
/// was.
pub fn save_file(state: &[(String, TensorData)], path: impl AsRef<Path>) -> Result<()> {
    write(state, path.as_ref(), "save_file")
}

/// Reads the state dict stored at `path` (`safetensors.torch.load_file(path)`), in the
/// order the tensors are stored in the file.
pub fn load_file(path: impl AsRef<Path>) -> Result<Vec<(String, TensorData)>> {
    read(path.as_ref(), "load_file")
}

/// A state dict as the bytes of a safetensors file (`safetensors.torch.save(state)`).
pub fn save(state: &[(String, TensorData)]) -> Result<Vec<u8>> {
    encode(state, "save", "<bytes>")
}

/// Parses the bytes of a safetensors file (`safetensors.torch.load(data)`), validating all
/// of it (see the [module docs](self)); the tensors come in the order they are stored.
pub fn load(bytes: &[u8]) -> Result<Vec<(String, TensorData)>> {
    decode(bytes, "load", "<bytes>")
}

/// The largest header read or written, as in Hugging Face's implementation: a corrupt
/// length field must not make the reader allocate gigabytes.
const MAX_HEADER: u64 = 100_000_000;

/// The safetensors dtypes with their element sizes in bits, in the order of Hugging Face's
/// `Dtype` enum (increasing alignment), which its writer sorts tensors by.
const DTYPES: [(&str, usize); 22] = [
    ("BOOL", 8),
    ("F4", 4),
    ("F6_E2M3", 6),
    ("F6_E3M2", 6),
    ("U8", 8),
    ("I8", 8),
    ("F8_E5M2", 8),
    ("F8_E4M3", 8),
    ("F8_E8M0", 8),
    ("F8_E4M3FNUZ", 8),
    ("F8_E5M2FNUZ", 8),
    ("I16", 16),
    ("U16", 16),
    ("F16", 16),
    ("BF16", 16),
    ("I32", 32),
    ("U32", 32),
    ("F32", 32),
    ("C64", 64),
    ("F64", 64),
    ("I64", 64),
    ("U64", 64),
];

/// The safetensors name of a torchlet dtype.
fn dtype_name(dtype: DType) -> &'static str {
    match dtype {
        DType::F32 => "F32",
        DType::F64 => "F64",
        DType::I64 => "I64",
        DType::Bool => "BOOL",
    }
}

/// The position of a dtype in [`DTYPES`] (Hugging Face's alignment order).
fn alignment_rank(name: &str) -> usize {
    DTYPES.iter().position(|&(n, _)| n == name).unwrap_or(0)
}

fn write(state: &[(String, TensorData)], path: &Path, op: &'static str) -> Result<()> {
    let shown = path.display().to_string();
    let bytes = encode(state, op, &shown)?;
    atomic::write(path, &bytes).map_err(|e| Error::Io { op, msg: format!("cannot write {shown}: {e}") })
}

fn read(path: &Path, op: &'static str) -> Result<Vec<(String, TensorData)>> {
    let shown = path.display().to_string();
    let bytes =
        std::fs::read(path).map_err(|e| Error::Io { op, msg: format!("cannot read {shown}: {e}") })?;
    decode(&bytes, op, &shown)
}

/// Serialises `state` as Hugging Face's writer does; `source` (a path) only appears in errors.
fn encode(state: &[(String, TensorData)], op: &'static str, source: &str) -> Result<Vec<u8>> {
    let mut seen = HashSet::with_capacity(state.len());
    for (name, _) in state {
        if name == header::METADATA_KEY {
            return Err(Error::invalid(op, format!("{source}: the key \"__metadata__\" is reserved by the safetensors format; rename the tensor")));
        }
        if !seen.insert(name.as_str()) {
            return Err(Error::invalid(
                op,
                format!("{source}: duplicate key \"{name}\" in the state dict (keys must be unique)"),
            ));
        }
    }
    // Hugging Face's order: decreasing dtype alignment, then name (byte order).
    let mut order: Vec<&(String, TensorData)> = state.iter().collect();
    order.sort_by(|(a, x), (b, y)| {
        let (rx, ry) = (alignment_rank(dtype_name(x.dtype())), alignment_rank(dtype_name(y.dtype())));
        ry.cmp(&rx).then_with(|| a.cmp(b))
    });
    let too_big = |name: &str| Error::Io {
        op,
        msg: format!("{source}: cannot serialise tensor \"{name}\": its size in bytes overflows"),
    };
    let mut entries = Vec::with_capacity(order.len());
    let mut end = 0usize;
    for (name, value) in &order {
        let size = value.numel().checked_mul(element_size(value.dtype())).ok_or_else(|| too_big(name))?;
        let begin = end;
        end = begin.checked_add(size).ok_or_else(|| too_big(name))?;
        entries.push(Entry {
            name: name.clone(),
            dtype: dtype_name(value.dtype()).to_string(),
            shape: value.dims().to_vec(),
            offsets: (begin, end),
        });
    }
    let text = header::write(&[("format", "pt")], &entries);
    if text.len() as u64 > MAX_HEADER {
        return Err(Error::Io {
            op,
            msg: format!("{source}: the header would be {} bytes, more than the format's limit of {MAX_HEADER} (too many tensors or too long names)", text.len()),
        });
    }
    let mut bytes = Vec::with_capacity(8 + text.len() + end);
    bytes.extend_from_slice(&(text.len() as u64).to_le_bytes());
    bytes.extend_from_slice(text.as_bytes());
    let data_start = bytes.len();
    for ((name, value), entry) in order.iter().zip(&entries) {
        push_le_bytes(&mut bytes, value)?;
        if bytes.len() - data_start != entry.offsets.1 {
            return Err(Error::Io {
                op,
                msg: format!(
                    "{source}: internal error: tensor \"{name}\" did not produce {} bytes of data",
                    entry.offsets.1 - entry.offsets.0
                ),
            });
        }
    }
    Ok(bytes)
}

/// Bytes per element of a torchlet dtype in a file.
fn element_size(dtype: DType) -> usize {
    match dtype {
        DType::F32 => 4,
        DType::F64 | DType::I64 => 8,
        DType::Bool => 1,
    }
}

/// Appends the elements of `value` as little-endian bytes (row-major, whatever the layout).
fn push_le_bytes(out: &mut Vec<u8>, value: &TensorData) -> Result<()> {
    match value.dtype() {
        DType::F32 => value.values::<f32>()?.iter().for_each(|v| out.extend_from_slice(&v.to_le_bytes())),
        DType::F64 => value.values::<f64>()?.iter().for_each(|v| out.extend_from_slice(&v.to_le_bytes())),
        DType::I64 => value.values::<i64>()?.iter().for_each(|v| out.extend_from_slice(&v.to_le_bytes())),
        DType::Bool => out.extend(value.values::<bool>()?.iter().map(|&v| u8::from(v))),
    }
    Ok(())
}

/// Parses and validates a whole safetensors file; `source` (a path) names it in errors.
fn decode(bytes: &[u8], op: &'static str, source: &str) -> Result<Vec<(String, TensorData)>> {
    let size = bytes.len();
    let malformed = |what: String| {
        let why = "truncated or not written by safetensors?";
        let msg = format!("{source} is not a valid safetensors file: {what} (file size {size} bytes; {why})");
        Error::Io { op, msg }
    };
    // The header length, then the header.
    let Some(len_field) = bytes.first_chunk::<8>() else {
        return Err(malformed(format!(
            "header too small: the file is {} bytes, shorter than the 8-byte header length",
            bytes.len()
        )));
    };
    let n = u64::from_le_bytes(*len_field);
    if n > MAX_HEADER {
        return Err(malformed(format!(
            "header too large: the first 8 bytes declare a header of {n} bytes (the format allows at most {MAX_HEADER})"
        )));
    }
    let rest = &bytes[8..];
    // n <= MAX_HEADER, so it fits in usize on every platform.
    let Some(header_bytes) = usize::try_from(n).ok().and_then(|n| rest.get(..n)) else {
        return Err(malformed(format!(
            "invalid header length: the header is declared as {n} bytes but only {} follow",
            rest.len()
        )));
    };
    let data = &rest[header_bytes.len()..];
    let text =
        std::str::from_utf8(header_bytes).map_err(|e| malformed(format!("invalid UTF-8 in header: {e}")))?;
    let header = header::parse(text).map_err(|e| malformed(format!("invalid JSON in header: {e}")))?;

    // Element sizes (an unknown dtype name is content torchlet cannot use at all).
    let mut bits = Vec::with_capacity(header.tensors.len());
    for t in &header.tensors {
        match DTYPES.iter().find(|&&(n, _)| n == t.dtype) {
            Some(&(_, b)) => bits.push(b),
            None => {
                return Err(Error::invalid(
                    op,
                    format!(
                        "{source}: tensor \"{}\" has dtype \"{}\", which is not a safetensors dtype (torchlet reads F32, F64, I64 and BOOL)",
                        header::escaped(&t.name),
                        header::escaped(&t.dtype)
                    ),
                ))
            }
        }
    }

    let order = layout(&header.tensors, &bits, data.len()).map_err(malformed)?;

    // The values: the layout is valid, so every slice is in bounds and of the right length.
    let mut state = Vec::with_capacity(order.len());
    for i in order {
        let t = &header.tensors[i];
        let name = header::escaped(&t.name);
        let raw = data.get(t.offsets.0..t.offsets.1).unwrap_or_default();
        let shape = Shape::from(t.shape.as_slice());
        let value = match t.dtype.as_str() {
            "F32" => from_chunks(raw, shape, f32::from_le_bytes),
            "F64" => from_chunks(raw, shape, f64::from_le_bytes),
            "I64" => from_chunks(raw, shape, i64::from_le_bytes),
            "BOOL" => {
                if let Some((at, byte)) = raw.iter().enumerate().find(|&(_, &b)| b > 1) {
                    return Err(Error::invalid(op, format!("{source}: tensor \"{name}\" of dtype BOOL holds the byte {byte} at element {at} (expected 0 or 1)")));
                }
                TensorData::from_vec(raw.iter().map(|&b| b == 1).collect::<Vec<bool>>(), shape)
            }
            other => return Err(unsupported(op, source, &name, other)),
        }
        .map_err(|e| malformed(format!("tensor \"{name}\": {e}")))?;
        state.push((t.name.clone(), value));
    }
    Ok(state)
}

/// The order of `tensors` in the data section, after checking that they tile its
/// `data_len` bytes exactly: sorted by offsets (stably, so tensors of zero bytes at the same
/// offset keep header order), each starts where the previous one ends (the first at 0), its
/// byte count is its element count times its element size (`bits`, without overflow), and
/// the last ends at `data_len`. The error is a sentence for "not a valid safetensors file".
fn layout(tensors: &[Entry], bits: &[usize], data_len: usize) -> std::result::Result<Vec<usize>, String> {
    let mut order: Vec<usize> = (0..tensors.len()).collect();
    order.sort_by_key(|&i| tensors[i].offsets);
    let mut covered = 0usize;
    for &i in &order {
        let t = &tensors[i];
        let (begin, end) = t.offsets;
        let fail = |what: String| format!("tensor \"{}\" {what}", header::escaped(&t.name));
        let shape = || Shape::from(t.shape.as_slice());
        if end < begin {
            return Err(fail(format!("has data offsets [{begin}, {end}], which end before they begin")));
        }
        if begin != covered {
            let how = if begin < covered {
                "overlaps the previous tensor"
            } else {
                "leaves a gap after the previous tensor"
            };
            return Err(fail(format!(
                "has data offsets [{begin}, {end}], which {how} (the tensors must be stored back to back \
                 from offset 0; the previous one ends at {covered})"
            )));
        }
        // torchlet's size rule: the byte size, counting sizes of 0 as 1, fits in isize::MAX
        // (so an empty tensor with other sizes that overflow is refused too).
        let fits = t
            .shape
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d.max(1)))
            .and_then(|n| n.checked_mul(bits[i]))
            .is_some_and(|b| b / 8 <= isize::MAX as usize);
        let Some(size) = t
            .shape
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d))
            .and_then(|numel| numel.checked_mul(bits[i]))
            .filter(|_| fits)
        else {
            return Err(fail(format!("has shape {}, whose size overflows (dtype {})", shape(), t.dtype)));
        };
        if size % 8 != 0 {
            return Err(fail(format!(
                "of dtype {} and shape {} does not fill a whole number of bytes",
                t.dtype,
                shape()
            )));
        }
        if end - begin != size / 8 {
            return Err(fail(format!(
                "has data offsets [{begin}, {end}] ({} bytes), but dtype {} and shape {} need {} bytes",
                end - begin,
                t.dtype,
                shape(),
                size / 8
            )));
        }
        covered = end;
    }
    if covered != data_len {
        return Err(format!(
            "the tensors cover {covered} bytes of data, but the data section after the header holds {data_len} bytes"
        ));
    }
    Ok(order)
}

/// Decodes `raw` as little-endian elements of `N` bytes into a tensor of `shape`.
fn from_chunks<T: Element, const N: usize>(
    raw: &[u8],
    shape: Shape,
    from_le: fn([u8; N]) -> T,
) -> Result<TensorData> {
    let values: Vec<T> = raw.chunks_exact(N).filter_map(|c| c.try_into().ok().map(from_le)).collect();
    TensorData::from_vec(values, shape)
}

/// The error for a dtype torchlet has no counterpart of, with the PyTorch one-liner that
/// converts the file.
fn unsupported(op: &'static str, source: &str, name: &str, dtype: &str) -> Error {
    let (target, method) = match dtype {
        "I8" | "U8" | "I16" | "U16" | "I32" | "U32" | "U64" => ("I64", "long"),
        _ => ("F32", "float"),
    };
    Error::invalid(
        op,
        format!(
            "{source}: tensor \"{name}\" has dtype {dtype}, which torchlet does not support (it reads F32, F64, I64 and BOOL); \
             convert the file to {target} in PyTorch first: \
             save_file({{k: v.{method}() for k, v in load_file(path).items()}}, path) (from safetensors.torch import load_file, save_file)"
        ),
    )
}
