//! Saving and loading state dicts in the [safetensors] format, the file format PyTorch
//! users write with `safetensors.torch.save_file(model.state_dict(), path)`: an 8-byte
//! little-endian header length, a JSON header (`{"0.weight": {"dtype": "F32", "shape":
//! [5, 2], "data_offsets": [20, 60]}, ...}`), then the raw little-endian, row-major values.
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
//! Supported dtypes: F32, F64, I64 and BOOL (torchlet's dtypes). Files are written with the
//! metadata `{"format": "pt"}`, like Hugging Face's PyTorch checkpoints; metadata of files
//! read is ignored. Reading validates the whole file (header length, JSON, offsets that
//! cover the data exactly) and never panics: a malformed file is an [`Error::Io`], an
//! unsupported dtype (F16, BF16, ...) or a bad key an [`Error::InvalidArgument`], each
//! naming the path and the tensor.
//!
//! [safetensors]: https://github.com/huggingface/safetensors

use crate::module::Module;
use ::safetensors::tensor::{Dtype, SafeTensors, TensorView};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use torchlet_autograd::{DType, Error, Result, Shape, TensorData};

/// Writes `module`'s [`Module::state_dict`] to `path` (PyTorch:
/// `save_file(model.state_dict(), path)`). PyTorch loads the file with
/// `model.load_state_dict(safetensors.torch.load_file(path))`.
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

/// Parses the bytes of a safetensors file (`safetensors.torch.load(data)`).
pub fn load(bytes: &[u8]) -> Result<Vec<(String, TensorData)>> {
    decode(bytes, "load", "<bytes>")
}

fn write(state: &[(String, TensorData)], path: &Path, op: &'static str) -> Result<()> {
    let shown = path.display().to_string();
    let bytes = encode(state, op, &shown)?;
    std::fs::write(path, bytes).map_err(|e| Error::Io { op, msg: format!("cannot write {shown}: {e}") })
}

fn read(path: &Path, op: &'static str) -> Result<Vec<(String, TensorData)>> {
    let shown = path.display().to_string();
    let bytes =
        std::fs::read(path).map_err(|e| Error::Io { op, msg: format!("cannot read {shown}: {e}") })?;
    decode(&bytes, op, &shown)
}

/// Serialises `state`; `source` (a path) only appears in errors.
fn encode(state: &[(String, TensorData)], op: &'static str, source: &str) -> Result<Vec<u8>> {
    let mut seen = HashSet::with_capacity(state.len());
    let mut raw = Vec::with_capacity(state.len());
    for (name, value) in state {
        if name == "__metadata__" {
            return Err(Error::invalid(op, format!("{source}: the key \"__metadata__\" is reserved by the safetensors format; rename the tensor")));
        }
        if !seen.insert(name.as_str()) {
            return Err(Error::invalid(
                op,
                format!("{source}: duplicate key \"{name}\" in the state dict (keys must be unique)"),
            ));
        }
        let (dtype, bytes) = to_le_bytes(value)?;
        raw.push((name.as_str(), dtype, value.dims().to_vec(), bytes));
    }
    let mut views = Vec::with_capacity(raw.len());
    for (name, dtype, dims, bytes) in &raw {
        let view = TensorView::new(*dtype, dims.clone(), bytes)
            .map_err(|e| Error::invalid(op, format!("{source}: cannot store tensor \"{name}\": {e}")))?;
        views.push((*name, view));
    }
    let metadata = HashMap::from([("format".to_string(), "pt".to_string())]);
    ::safetensors::serialize(views, Some(metadata))
        .map_err(|e| Error::Io { op, msg: format!("{source}: cannot serialise the state dict: {e}") })
}

/// The safetensors dtype of `value` and its elements as little-endian bytes (row-major,
/// whatever the layout).
fn to_le_bytes(value: &TensorData) -> Result<(Dtype, Vec<u8>)> {
    Ok(match value.dtype() {
        DType::F32 => (Dtype::F32, value.values::<f32>()?.iter().flat_map(|v| v.to_le_bytes()).collect()),
        DType::F64 => (Dtype::F64, value.values::<f64>()?.iter().flat_map(|v| v.to_le_bytes()).collect()),
        DType::I64 => (Dtype::I64, value.values::<i64>()?.iter().flat_map(|v| v.to_le_bytes()).collect()),
        DType::Bool => (Dtype::BOOL, value.values::<bool>()?.iter().map(|&v| u8::from(v)).collect()),
    })
}

/// Parses a whole safetensors file; `source` (a path) names it in errors.
fn decode(bytes: &[u8], op: &'static str, source: &str) -> Result<Vec<(String, TensorData)>> {
    let malformed = |e: ::safetensors::SafeTensorError| {
        Error::Io {
        op,
        msg: format!(
            "{source} is not a valid safetensors file: {e} (file size {} bytes; truncated or not written by safetensors?)",
            bytes.len()
        ),
    }
    };
    let (header_len, metadata) = SafeTensors::read_metadata(bytes).map_err(malformed)?;
    let data_start = 8 + header_len;
    let mut state = Vec::new();
    for name in metadata.offset_keys() {
        let Some(info) = metadata.info(&name) else { continue };
        let (start, end) = info.data_offsets;
        let raw = data_start
            .checked_add(start)
            .zip(data_start.checked_add(end))
            .and_then(|(s, e)| bytes.get(s..e))
            .ok_or_else(|| Error::Io {
                op,
                msg: format!(
                    "{source}: tensor \"{name}\" has data offsets [{start}, {end}] outside the file"
                ),
            })?;
        let shape = Shape::from(info.shape.as_slice());
        let bad_len = || Error::Io {
            op,
            msg: format!(
                "{source}: tensor \"{name}\" has {} bytes of data, which does not fit shape {shape}",
                raw.len()
            ),
        };
        let value = match info.dtype {
            Dtype::F32 => from_chunks(raw, &shape, f32::from_le_bytes),
            Dtype::F64 => from_chunks(raw, &shape, f64::from_le_bytes),
            Dtype::I64 => from_chunks(raw, &shape, i64::from_le_bytes),
            Dtype::BOOL => {
                if let Some(i) = raw.iter().position(|&b| b > 1) {
                    return Err(Error::invalid(op, format!("{source}: tensor \"{name}\" of dtype BOOL holds the byte {} at element {i} (expected 0 or 1)", raw[i])));
                }
                TensorData::from_vec(raw.iter().map(|&b| b == 1).collect::<Vec<bool>>(), shape.clone()).ok()
            }
            other => return Err(unsupported(op, source, &name, other)),
        }
        .ok_or_else(bad_len)?;
        state.push((name, value));
    }
    Ok(state)
}

/// Decodes `raw` as little-endian elements of `N` bytes; `None` if the sizes disagree.
fn from_chunks<T: torchlet_tensor_core::Element, const N: usize>(
    raw: &[u8],
    shape: &Shape,
    from_le: fn([u8; N]) -> T,
) -> Option<TensorData> {
    let chunks = raw.chunks_exact(N);
    if !chunks.remainder().is_empty() {
        return None;
    }
    let values: Vec<T> = chunks.filter_map(|c| c.try_into().ok().map(from_le)).collect();
    TensorData::from_vec(values, shape.clone()).ok()
}

/// The error for a dtype torchlet has no counterpart of, with the PyTorch one-liner that
/// converts the file.
fn unsupported(op: &'static str, source: &str, name: &str, dtype: Dtype) -> Error {
    let (target, method) = match dtype {
        Dtype::I8 | Dtype::U8 | Dtype::I16 | Dtype::U16 | Dtype::I32 | Dtype::U32 | Dtype::U64 => {
            ("I64", "long")
        }
        _ => ("F32", "float"),
    };
    Error::invalid(
        op,
        format!(
            "{source}: tensor \"{name}\" has dtype {dtype:?}, which torchlet does not support (it reads F32, F64, I64 and BOOL); \
             convert the file to {target} in PyTorch first: \
             save_file({{k: v.{method}() for k, v in load_file(path).items()}}, path) (from safetensors.torch import load_file, save_file)"
        ),
    )
}
