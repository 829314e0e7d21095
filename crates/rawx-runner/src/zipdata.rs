//! Zip archives as ansible-runner writes and reads them: relative `/`-separated names, explicit
//! directory entries, the Unix mode (file type bits included) in the high 16 bits of
//! `external_attr`, symlinks as mode `0o120777` entries whose content is the link target.
//!
//! The worker `chmod`s every extracted entry to the stored mode, so an entry without a mode
//! would come out as `---------`: every entry written here carries one.

use std::fs;
use std::io::{self, Cursor, Read, Write};
use std::path::Path;

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

use crate::RunnerError;

pub const S_IFMT: u32 = 0o170_000;
pub const S_IFREG: u32 = 0o100_000;
pub const S_IFDIR: u32 = 0o040_000;
pub const S_IFLNK: u32 = 0o120_000;

/// One member of a private-data-dir or artifacts archive.
#[derive(Clone, PartialEq, Eq)]
pub struct ZipEntry {
    /// Relative, `/`-separated, no trailing `/` (directories get theirs in the archive).
    pub path: String,
    /// Full Unix mode, type bits included: `0o100600` file, `0o040700` directory, `0o120777`
    /// symlink. Bare permission bits (no type) are taken as a regular file.
    pub mode: u32,
    /// File content, or the link target for a symlink; empty for a directory.
    pub data: Vec<u8>,
}

impl std::fmt::Debug for ZipEntry {
    // Entries carry secrets (env/passwords, env/ssh_key): never print their content.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZipEntry")
            .field("path", &self.path)
            .field("mode", &format_args!("{:o}", self.mode))
            .field("len", &self.data.len())
            .finish()
    }
}

impl ZipEntry {
    pub fn file(path: impl Into<String>, perm: u32, data: impl Into<Vec<u8>>) -> Self {
        ZipEntry {
            path: path.into(),
            mode: S_IFREG | (perm & 0o7777),
            data: data.into(),
        }
    }

    pub fn dir(path: impl Into<String>, perm: u32) -> Self {
        ZipEntry {
            path: path.into(),
            mode: S_IFDIR | (perm & 0o7777),
            data: Vec::new(),
        }
    }

    pub fn symlink(path: impl Into<String>, target: impl Into<Vec<u8>>) -> Self {
        ZipEntry {
            path: path.into(),
            mode: S_IFLNK | 0o777,
            data: target.into(),
        }
    }

    pub fn is_dir(&self) -> bool {
        self.mode & S_IFMT == S_IFDIR
    }

    pub fn is_symlink(&self) -> bool {
        self.mode & S_IFMT == S_IFLNK
    }

    /// Permission bits only.
    pub fn perm(&self) -> u32 {
        self.mode & 0o7777
    }
}

/// Rejects names that would land outside the worker's private data dir or confuse the reader.
fn check_path(path: &str) -> Result<(), RunnerError> {
    let bad = |why: &str| {
        Err(RunnerError::BadEntry {
            path: path.to_string(),
            why: why.to_string(),
        })
    };
    if path.is_empty() {
        return bad("empty path");
    }
    if path.starts_with('/') || path.contains('\\') || path.contains('\0') {
        return bad("must be relative and '/'-separated");
    }
    if path
        .trim_end_matches('/')
        .split('/')
        .any(|c| c.is_empty() || c == "." || c == "..")
    {
        return bad("empty, '.' or '..' path component");
    }
    Ok(())
}

/// The zip's DOS timestamp for "now". DOS times have no zone; UTC is what a worker in a
/// container sees as local time. (Python's reader treats them as local time.)
fn now_dos() -> zip::DateTime {
    let t = time::OffsetDateTime::now_utc();
    zip::DateTime::from_date_and_time(
        t.year().clamp(1980, 2107) as u16,
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
    )
    .unwrap_or_default()
}

/// Builds a deflated zip archive of `entries`, in the order given.
pub fn write_zip(entries: impl IntoIterator<Item = ZipEntry>) -> Result<Vec<u8>, RunnerError> {
    let zerr = |e: zip::result::ZipError| RunnerError::ZipWrite(e.to_string());
    let mut zw = ZipWriter::new(Cursor::new(Vec::new()));
    let stamp = now_dos();
    for e in entries {
        check_path(&e.path)?;
        let name = e.path.trim_end_matches('/');
        let large = e.data.len() as u64 >= u32::MAX as u64;
        let opts = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Deflated)
            .last_modified_time(stamp)
            .large_file(large)
            .unix_permissions(e.perm());
        match e.mode & S_IFMT {
            S_IFDIR => zw
                .add_directory(
                    format!("{name}/"),
                    opts.compression_method(CompressionMethod::Stored),
                )
                .map_err(zerr)?,
            S_IFLNK => {
                let target = std::str::from_utf8(&e.data).map_err(|_| RunnerError::BadEntry {
                    path: e.path.clone(),
                    why: "symlink target is not UTF-8".into(),
                })?;
                zw.add_symlink(name, target, opts).map_err(zerr)?
            }
            0 | S_IFREG => {
                zw.start_file(name, opts).map_err(zerr)?;
                zw.write_all(&e.data)?;
            }
            other => {
                return Err(RunnerError::BadEntry {
                    path: e.path.clone(),
                    why: format!(
                    "file type {other:o} cannot be archived (only files, directories, symlinks)"
                ),
                })
            }
        }
    }
    Ok(zw.finish().map_err(zerr)?.into_inner())
}

/// Reads every member of a zip archive (the worker's artifacts zip, or one of ours).
pub fn read_zip(bytes: &[u8]) -> Result<Vec<ZipEntry>, RunnerError> {
    let zerr = |e: zip::result::ZipError| RunnerError::ZipRead(e.to_string());
    let mut archive = ZipArchive::new(Cursor::new(bytes)).map_err(zerr)?;
    let mut out = Vec::with_capacity(archive.len());
    for i in 0..archive.len() {
        let mut f = archive.by_index(i).map_err(zerr)?;
        let is_dir = f.is_dir();
        let path = f.name().trim_end_matches('/').to_string();
        let mut mode = f
            .unix_mode()
            .unwrap_or(if is_dir { 0o040_755 } else { 0o100_644 });
        if mode & S_IFMT == 0 {
            mode |= if is_dir { S_IFDIR } else { S_IFREG };
        }
        let mut data = Vec::new();
        if !is_dir {
            f.read_to_end(&mut data)
                .map_err(|e| RunnerError::ZipRead(format!("{path}: {e}")))?;
        }
        out.push(ZipEntry { path, mode, data });
    }
    Ok(out)
}

/// Walks `root` the way ansible-runner's transmit does: every directory (as an explicit entry),
/// file and symlink below it, with their modes; FIFOs, sockets and devices are skipped (a FIFO
/// is typically a leftover `ssh_key_data` pipe, and opening it would hang). Symlinks are stored,
/// never followed. This is the crate's only file-system read.
pub fn entries_from_dir(root: &Path) -> io::Result<Vec<ZipEntry>> {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::MetadataExt;
    let mut out = Vec::new();
    let mut stack = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, rel)) = stack.pop() {
        let mut children: Vec<_> = fs::read_dir(&dir)?.collect::<io::Result<_>>()?;
        // Sorted, so the archive (and a test's expectations) do not depend on readdir order.
        children.sort_by_key(|c| c.file_name());
        let mut subdirs = Vec::new();
        for child in children {
            let name = child.file_name();
            let name = name.to_str().ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}: file name is not UTF-8", child.path().display()),
                )
            })?;
            let path = if rel.is_empty() {
                name.to_string()
            } else {
                format!("{rel}/{name}")
            };
            let meta = fs::symlink_metadata(child.path())?;
            let ft = meta.file_type();
            if ft.is_symlink() {
                let target = fs::read_link(child.path())?;
                out.push(ZipEntry::symlink(path, target.as_os_str().as_bytes()));
            } else if ft.is_dir() {
                out.push(ZipEntry::dir(&path, meta.mode()));
                subdirs.push((child.path(), path));
            } else if ft.is_file() {
                out.push(ZipEntry::file(path, meta.mode(), fs::read(child.path())?));
            }
        }
        // Depth-first in name order: push in reverse so the first name is walked first.
        stack.extend(subdirs.into_iter().rev());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_modes_and_kinds() {
        let entries = vec![
            ZipEntry::dir("env", 0o700),
            ZipEntry::file("env/passwords", 0o600, b"{}".to_vec()),
            ZipEntry::file("inventory/hosts", 0o700, b"#!/bin/sh\n".to_vec()),
            ZipEntry::symlink("project/link", "site.yml"),
        ];
        let back = read_zip(&write_zip(entries.clone()).unwrap()).unwrap();
        assert_eq!(back, entries);
    }

    #[test]
    fn walks_a_directory_like_transmit() {
        use std::os::unix::fs::PermissionsExt;
        let root = std::env::temp_dir().join(format!("rxr-walk-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(root.join("roles/web")).unwrap();
        fs::write(root.join("site.yml"), "- hosts: all\n").unwrap();
        fs::write(root.join("roles/web/run.sh"), "#!/bin/sh\n").unwrap();
        fs::set_permissions(
            root.join("roles/web/run.sh"),
            fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        std::os::unix::fs::symlink("site.yml", root.join("main.yml")).unwrap();
        let fifo = std::process::Command::new("mkfifo")
            .arg(root.join("pipe"))
            .status();
        assert!(fifo.unwrap().success());

        let entries = entries_from_dir(&root).unwrap();
        let names: Vec<(&str, u32)> = entries
            .iter()
            .map(|e| (e.path.as_str(), e.mode & S_IFMT))
            .collect();
        assert_eq!(
            names,
            [
                ("main.yml", S_IFLNK),
                ("roles", S_IFDIR),
                ("site.yml", S_IFREG),
                ("roles/web", S_IFDIR),
                ("roles/web/run.sh", S_IFREG)
            ]
        );
        assert_eq!(entries[0].data, b"site.yml");
        assert_eq!(entries[4].perm(), 0o755);
        let _ = fs::remove_dir_all(&root);
    }

    #[test]
    fn rejects_escaping_paths() {
        for p in ["../x", "/etc/passwd", "a/../../b", "", "a//b"] {
            let err = write_zip([ZipEntry::file(p, 0o600, b"x".to_vec())]).unwrap_err();
            assert!(matches!(err, RunnerError::BadEntry { .. }), "{p}: {err}");
        }
    }
}
