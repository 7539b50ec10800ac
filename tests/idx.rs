//! `torchlet_examples::idx::read_idx`: IDX files written byte by byte (per the format's description)
//! read back, and every malformed file rejected with a clear `Error::Io` naming the path.

use std::path::{Path, PathBuf};
use torchlet::{DType, Error};
use torchlet_examples::idx::read_idx;
use torchlet_examples::seeds::seed004::load_mnist_train;

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("torchlet-idx-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn write(&self, file: &str, bytes: &[u8]) -> PathBuf {
        let path = self.0.join(file);
        std::fs::write(&path, bytes).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An IDX file: magic `00 00 code ndim`, big-endian u32 sizes, then `data`.
fn idx(code: u8, dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut b = vec![0, 0, code, dims.len() as u8];
    for d in dims {
        b.extend(d.to_be_bytes());
    }
    b.extend(data);
    b
}

/// The MNIST pair in miniature: three 2x2 "images" and their labels.
fn write_mini_mnist(dir: &TempDir) {
    let pixels: Vec<u8> = vec![0, 255, 128, 1, 2, 3, 4, 5, 250, 251, 252, 253];
    dir.write("train-images-idx3-ubyte", &idx(0x08, &[3, 2, 2], &pixels));
    dir.write("train-labels-idx1-ubyte", &idx(0x08, &[3], &[5, 0, 9]));
}

#[test]
fn u8_images_become_f32_and_u8_labels_i64() {
    let dir = TempDir::new("mnist");
    write_mini_mnist(&dir);
    let images = read_idx(dir.0.join("train-images-idx3-ubyte")).unwrap();
    assert_eq!((images.dims(), images.dtype()), (&[3usize, 2, 2][..], DType::F32));
    assert_eq!(images.to_vec::<f32>().unwrap(), [0., 255., 128., 1., 2., 3., 4., 5., 250., 251., 252., 253.]);
    let labels = read_idx(dir.0.join("train-labels-idx1-ubyte")).unwrap();
    assert_eq!((labels.dims(), labels.dtype()), (&[3usize][..], DType::I64));
    assert_eq!(labels.to_vec::<i64>().unwrap(), [5, 0, 9]);
}

#[test]
fn every_element_type_is_big_endian() {
    let dir = TempDir::new("types");
    // i8: 0xFF is -1.
    let p = dir.write("i8", &idx(0x09, &[3], &[0xFF, 0x7F, 0x80]));
    assert_eq!(read_idx(p).unwrap().to_vec::<i64>().unwrap(), [-1, 127, -128]);
    // i16 images: f32 values.
    let data: Vec<u8> = [-2i16, 300, -32768, 32767].iter().flat_map(|v| v.to_be_bytes()).collect();
    let p = dir.write("i16", &idx(0x0B, &[2, 2], &data));
    assert_eq!(read_idx(p).unwrap().to_vec::<f32>().unwrap(), [-2., 300., -32768., 32767.]);
    // i32 labels keep every value.
    let data: Vec<u8> = [i32::MIN, 0, i32::MAX].iter().flat_map(|v| v.to_be_bytes()).collect();
    let p = dir.write("i32", &idx(0x0C, &[3], &data));
    assert_eq!(read_idx(p).unwrap().to_vec::<i64>().unwrap(), [i32::MIN as i64, 0, i32::MAX as i64]);
    // f32 and f64 stay floats.
    let data: Vec<u8> = [1.5f32, -0.25].iter().flat_map(|v| v.to_be_bytes()).collect();
    let t = read_idx(dir.write("f32", &idx(0x0D, &[1, 2], &data))).unwrap();
    assert_eq!((t.dtype(), t.to_vec::<f32>().unwrap()), (DType::F32, vec![1.5, -0.25]));
    let data: Vec<u8> = [std::f64::consts::PI].iter().flat_map(|v| v.to_be_bytes()).collect();
    let t = read_idx(dir.write("f64", &idx(0x0E, &[1], &data))).unwrap();
    assert_eq!((t.dtype(), t.to_vec::<f64>().unwrap()), (DType::F64, vec![std::f64::consts::PI]));
    // Zero dimensions: one element.
    let t = read_idx(dir.write("scalar", &idx(0x0D, &[], &2.0f32.to_be_bytes()))).unwrap();
    assert_eq!((t.ndim(), t.item().unwrap()), (0, 2.0));
}

/// The message of `read_idx`'s error for a file holding `bytes`, checked to be an
/// `Error::Io` of `read_idx` that names the path.
fn error_for(dir: &TempDir, file: &str, bytes: &[u8]) -> String {
    let path = dir.write(file, bytes);
    io_message(&path, read_idx(&path).unwrap_err())
}

fn io_message(path: &Path, e: Error) -> String {
    match e {
        Error::Io { op: "read_idx", msg } => {
            let prefix = format!("{}: ", path.display());
            assert!(msg.starts_with(&prefix), "{msg:?} should start with the path");
            msg[prefix.len()..].to_string()
        }
        other => panic!("expected Error::Io from read_idx, got {other:?}"),
    }
}

#[test]
fn malformed_files_are_clear_errors() {
    let dir = TempDir::new("bad");
    assert_eq!(
        error_for(&dir, "empty", &[]),
        "truncated header: an IDX file starts with a 4-byte magic number, but the file has only 0 byte(s)"
    );
    assert_eq!(
        error_for(&dir, "magic", &[0x01, 0x00, 0x08, 0x01, 0, 0, 0, 0]),
        "bad magic number 01 00 08 01: an IDX file starts with two zero bytes, the element type and the \
         number of dimensions (e.g. 00 00 08 03)"
    );
    assert!(error_for(&dir, "gz", &[0x1f, 0x8b, 0x08, 0x00, 1, 2, 3])
        .ends_with("(this is a gzip file: decompress it first, e.g. `gunzip train-images-idx3-ubyte.gz`)"));
    assert_eq!(
        error_for(&dir, "type", &idx(0x0A, &[1], &[0])),
        "unknown element type 0x0a in the magic number (expected 0x08 u8, 0x09 i8, 0x0B i16, 0x0C i32, \
         0x0D f32 or 0x0E f64)"
    );
    assert_eq!(
        error_for(&dir, "header", &[0, 0, 0x08, 3, 0, 0, 0, 60]),
        "truncated header: 3 dimension(s) need 16 header bytes, but the file has only 8"
    );
    assert_eq!(
        error_for(&dir, "short", &idx(0x08, &[2, 3], &[1, 2, 3, 4, 5])),
        "truncated data: shape [2, 3] of u8 needs 6 data bytes after the 12-byte header, but the file has 5"
    );
    assert_eq!(
        error_for(&dir, "long", &idx(0x0B, &[2], &[0, 1, 0, 2, 0])),
        "size mismatch: shape [2] of i16 needs 4 data bytes after the 8-byte header, but the file has 5"
    );
    let big: Vec<u8> = [1i32 << 25, 0].iter().flat_map(|v| v.to_be_bytes()).collect();
    assert_eq!(
        error_for(&dir, "i32", &idx(0x0C, &[1, 2], &big)),
        "the i32 value 33554432 cannot be represented exactly in f32 (integer data with two or more \
         dimensions is returned as f32)"
    );
    let missing = dir.0.join("missing");
    assert!(io_message(&missing, read_idx(&missing).unwrap_err()).starts_with("cannot read the file: "));
}

#[test]
fn load_mnist_train_flattens_scales_and_takes_the_first_n() {
    let dir = TempDir::new("load");
    write_mini_mnist(&dir);
    let (x, y) = load_mnist_train(&dir.0, 2).unwrap();
    assert_eq!((x.dims(), x.dtype()), (vec![2, 4], DType::F32));
    let want: Vec<f32> = [0., 255., 128., 1., 2., 3., 4., 5.].iter().map(|v| v / 255.0).collect();
    for (g, w) in x.to_vec::<f32>().unwrap().iter().zip(&want) {
        assert!((g - w).abs() < 1e-7);
    }
    assert_eq!(y.to_vec::<i64>().unwrap(), [5, 0]);
    // More images than the files hold: an error naming the directory.
    let e = load_mnist_train(&dir.0, 4).unwrap_err().to_string();
    assert!(e.contains("asked for 4 images, the files hold 3"), "{e}");
    // Labels missing: read_idx's error, naming the file.
    std::fs::remove_file(dir.0.join("train-labels-idx1-ubyte")).unwrap();
    let e = load_mnist_train(&dir.0, 2).unwrap_err().to_string();
    assert!(e.contains("train-labels-idx1-ubyte: cannot read the file"), "{e}");
}
