//! Replacing a file atomically: write a temporary file in the same directory, flush it to
//! disk, then rename it over the target. A reader (or a crash) sees either the old file or
//! the complete new one, never a truncated mix.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Distinguishes the temporary files of concurrent saves within one process (the process
/// id distinguishes processes).
static COUNTER: AtomicU64 = AtomicU64::new(0);

/// How many names to try when a temporary file name is taken (by a leftover of a crashed
/// run with the same process id, say).
const ATTEMPTS: u32 = 64;

/// Replaces the file at `path` by `bytes`, atomically.
///
/// 1. If `path` is a symbolic link to an existing file, that file is the target (as with
///    `std::fs::write`, which writes through links); the link stays.
/// 2. A read-only existing target is refused (as `std::fs::write` refuses it), so a file
///    protected with `chmod a-w` is not silently replaced.
/// 3. `bytes` go to a new file `.NAME.PID-N.tmp` in the target's directory (created
///    exclusively, never overwriting anything), which takes the target's permissions when
///    the target exists; then `sync_all` makes the data durable.
/// 4. `rename` puts it in place (atomic on POSIX within one file system), and the directory
///    is synced (best effort) so that the rename itself survives a power failure.
///
/// On any error the temporary file is removed and the target is untouched. The error is a
/// sentence for "cannot write PATH: ..." (the caller adds the operation and the path).
pub(super) fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let target = resolve_link(path);
    let existing = fs::metadata(&target).ok();
    if existing.as_ref().is_some_and(|m| m.is_file() && m.permissions().readonly()) {
        return Err("the file is read-only (nothing was written)".into());
    }
    let name = target.file_name().ok_or("the path does not name a file")?;
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let (tmp, mut file) = create_temp(&dir, &name.to_string_lossy())
        .map_err(|e| format!("cannot create a temporary file in {}: {e}", dir.display()))?;
    let written = (|| -> io::Result<()> {
        if let Some(meta) = existing.as_ref().filter(|m| m.is_file()) {
            file.set_permissions(meta.permissions())?;
        }
        file.write_all(bytes)?;
        file.sync_all()
    })();
    drop(file);
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(format!(
            "writing the temporary file {} failed: {e} (it was removed; {} was left as it was)",
            tmp.display(),
            target.display()
        ));
    }
    if let Err(e) = fs::rename(&tmp, &target) {
        let _ = fs::remove_file(&tmp);
        return Err(format!(
            "cannot rename the temporary file {} over it: {e} (it was removed; {} was left as it was)",
            tmp.display(),
            target.display()
        ));
    }
    sync_dir(&dir);
    Ok(())
}

/// `path`, or the file it links to when it is a symbolic link that resolves.
fn resolve_link(path: &Path) -> PathBuf {
    let is_link = fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
    if is_link {
        if let Ok(real) = fs::canonicalize(path) {
            return real;
        }
    }
    path.to_path_buf()
}

/// Creates a fresh file `.NAME.PID-N.tmp` in `dir`, exclusively.
fn create_temp(dir: &Path, name: &str) -> io::Result<(PathBuf, File)> {
    // Keep the temporary name within NAME_MAX (255 bytes) whatever the target's length.
    let short: String = name.chars().take(64).collect();
    let mut last = None;
    for _ in 0..ATTEMPTS {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!(".{short}.{}-{n}.tmp", std::process::id()));
        match OpenOptions::new().write(true).create_new(true).open(&tmp) {
            Ok(file) => return Ok((tmp, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no free temporary file name")))
}

/// Flushes the directory entry of a rename to disk (POSIX); errors are ignored (some file
/// systems cannot sync directories, and the data itself is already durable).
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}
