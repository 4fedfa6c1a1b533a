//! `openat2(2)` with `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS`:
//! the kernel refuses any path that would leave the directory or pass a link.

#![allow(unsafe_code)]

use std::ffi::CString;
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd};
use std::path::Path;

use super::WorkspaceError;

#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
const RESOLVE_NO_SYMLINKS: u64 = 0x04;
const RESOLVE_BENEATH: u64 = 0x08;

/// Opens `relative` below `root` for reading; it must be a regular file.
pub fn open_beneath(root: &Path, relative: &str) -> Result<File, WorkspaceError> {
    let relative = relative.trim_start_matches("./");
    if relative.is_empty() || relative.contains('\0') {
        return Err(WorkspaceError::NotFound);
    }
    let root = match File::open(root) {
        Ok(dir) => dir,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(WorkspaceError::NotFound),
        Err(e) => return Err(e.into()),
    };
    let path = CString::new(relative).map_err(|_| WorkspaceError::NotFound)?;
    let how = OpenHow {
        // O_NONBLOCK: opening a FIFO must not wait for a writer.
        flags: (libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NOFOLLOW | libc::O_NONBLOCK) as u64,
        mode: 0,
        resolve: RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
    };
    // SAFETY: valid directory fd, NUL-terminated path and an open_how of the size passed.
    let fd = unsafe {
        libc::syscall(libc::SYS_openat2, root.as_raw_fd(), path.as_ptr(), &how as *const OpenHow, size_of::<OpenHow>())
    };
    if fd < 0 {
        let error = std::io::Error::last_os_error();
        return Err(match error.raw_os_error() {
            // A file where the path wants a directory, or a path longer than any
            // the workspace can hold: no such file either.
            Some(libc::ENOENT | libc::ENOTDIR | libc::ENAMETOOLONG) => WorkspaceError::NotFound,
            Some(libc::EXDEV | libc::ELOOP) => {
                WorkspaceError::NotServed("the path leaves the workspace or passes a link")
            }
            _ => WorkspaceError::Io(error),
        });
    }
    // SAFETY: the kernel just gave us this fd and nothing else owns it.
    let file = unsafe { File::from_raw_fd(fd as i32) };
    if !file.metadata()?.is_file() {
        return Err(WorkspaceError::NotServed("only regular files are served"));
    }
    Ok(file)
}
