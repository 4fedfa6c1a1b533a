//! Hostile and ordinary uploads against a real file system.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::*;

fn limits() -> Limits {
    Limits { max_files: 50, max_bytes: 8 * 1024 * 1024, max_ratio: 100 }
}

/// A tar entry written from raw header fields, so hostile names survive.
enum TarItem<'a> {
    File(&'a str, &'a [u8], u32),
    Dir(&'a str),
    Symlink(&'a str, &'a str),
    HardLink(&'a str, &'a str),
    Fifo(&'a str),
}

fn tar_gz(items: &[TarItem<'_>]) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut builder = tar::Builder::new(gz);
    for item in items {
        let mut header = tar::Header::new_gnu();
        let (name, data, kind, mode, link): (&str, &[u8], tar::EntryType, u32, Option<&str>) = match item {
            TarItem::File(name, data, mode) => (name, data, tar::EntryType::Regular, *mode, None),
            TarItem::Dir(name) => (name, b"", tar::EntryType::Directory, 0o755, None),
            TarItem::Symlink(name, target) => (name, b"", tar::EntryType::Symlink, 0o777, Some(target)),
            TarItem::HardLink(name, target) => (name, b"", tar::EntryType::Link, 0o644, Some(target)),
            TarItem::Fifo(name) => (name, b"", tar::EntryType::Fifo, 0o644, None),
        };
        let raw = header.as_old_mut();
        raw.name[..name.len()].copy_from_slice(name.as_bytes());
        if let Some(link) = link {
            raw.linkname[..link.len()].copy_from_slice(link.as_bytes());
        }
        header.set_entry_type(kind);
        header.set_mode(mode);
        header.set_size(data.len() as u64);
        header.set_cksum();
        builder.append(&header, data).unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap()
}

fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in entries {
        writer.start_file(*name, options).unwrap();
        writer.write_all(data).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

/// An upload holding one `archive` part named `filename` with `bytes`.
fn upload_with(dir: &Path, parts: &[(&str, &str, &[u8])]) -> Upload {
    let mut upload = Upload::create(&dir.join("uploads")).unwrap();
    for (name, filename, bytes) in parts {
        let stored = upload.next_part_path();
        std::fs::write(&stored, bytes).unwrap();
        upload.push(UploadedPart::new(name.to_string(), filename.to_string(), stored, bytes.len() as u64));
    }
    upload
}

/// Builds the workspace; on refusal checks that nothing was left behind.
fn build(dir: &Path, inline: &[InputFile], parts: &[(&str, &str, &[u8])]) -> Result<std::path::PathBuf, Vec<Refusal>> {
    let workspace = dir.join("tasks/t/workspace");
    match build_workspace(inline, upload_with(dir, parts), limits(), &workspace) {
        Ok(()) => Ok(workspace),
        Err(InputError::Refused(refusals)) => {
            assert!(!workspace.exists(), "a refused upload wrote the workspace");
            let leftovers = std::fs::read_dir(dir.join("uploads")).unwrap().count();
            assert_eq!(leftovers, 0, "a refused upload left its staging directory");
            Err(refusals)
        }
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn a_tarball_unpacks_with_modes_and_inside_links() {
    let dir = tempfile::tempdir().unwrap();
    let archive = tar_gz(&[
        TarItem::Dir("./src/"),
        TarItem::File("./src/main.py", b"print(1)\n", 0o644),
        TarItem::File("run.sh", b"#!/bin/sh\n", 0o755),
        TarItem::Symlink("src/current", "main.py"),
        TarItem::HardLink("copy.py", "./src/main.py"),
    ]);
    let inline = [InputFile { path: "notes/todo.txt".into(), content: b"a".to_vec() }];
    let parts: &[(&str, &str, &[u8])] = &[("archive", "site.tgz", &archive), ("doc", "docs/readme.md", b"# hi")];
    let ws = build(dir.path(), &inline, parts).unwrap();
    assert_eq!(std::fs::read(ws.join("src/main.py")).unwrap(), b"print(1)\n");
    assert_eq!(std::fs::read(ws.join("copy.py")).unwrap(), b"print(1)\n");
    assert_eq!(std::fs::read_link(ws.join("src/current")).unwrap(), Path::new("main.py"));
    assert_eq!(std::fs::metadata(ws.join("run.sh")).unwrap().permissions().mode() & 0o777, 0o755);
    assert_eq!(std::fs::read(ws.join("docs/readme.md")).unwrap(), b"# hi");
    assert_eq!(std::fs::read(ws.join("notes/todo.txt")).unwrap(), b"a");
}

#[test]
fn a_symlink_followed_by_a_file_through_it_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let archive = tar_gz(&[TarItem::Symlink("evil", "/tmp"), TarItem::File("evil/owned", b"x", 0o644)]);
    let refusals = build(dir.path(), &[], &[("archive", "a.tar.gz", &archive)]).unwrap_err();
    let messages: Vec<&str> = refusals.iter().map(|r| r.message.as_str()).collect();
    assert!(messages.iter().any(|m| m.contains("entry \"evil\" of a.tar.gz is a link to the absolute path")));
    assert!(messages.iter().any(|m| m.contains("entry \"evil/owned\" of a.tar.gz would be written through the link")));
    assert!(refusals.iter().all(|r| r.pointer == "/parts/archive"));
}

#[test]
fn zip_slip_absolute_paths_and_fifos_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let slip = zip_of(&[("ok.txt", b"fine"), ("../../evil.txt", b"x")]);
    let refusals = build(dir.path(), &[], &[("archive", "a.zip", &slip)]).unwrap_err();
    assert!(refusals[0].message.contains("entry \"../../evil.txt\" of a.zip must not contain '..'"), "{refusals:?}");
    let absolute = tar_gz(&[TarItem::File("/etc/cron.d/x", b"x", 0o644)]);
    let refusals = build(dir.path(), &[], &[("archive", "a.tgz", &absolute)]).unwrap_err();
    assert!(refusals[0].message.contains("not absolute"), "{refusals:?}");
    let fifo = tar_gz(&[TarItem::Fifo("pipe")]);
    let refusals = build(dir.path(), &[], &[("archive", "a.tgz", &fifo)]).unwrap_err();
    assert!(refusals[0].message.contains("device or FIFO"), "{refusals:?}");
    let hard = tar_gz(&[TarItem::HardLink("shadow", "/etc/shadow")]);
    assert!(build(dir.path(), &[], &[("archive", "a.tgz", &hard)]).is_err());
}

#[test]
fn bombs_and_oversized_archives_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let zeros = vec![0u8; 4 * 1024 * 1024];
    let bomb = zip_of(&[("zeros", &zeros)]);
    let refusals = build(dir.path(), &[], &[("archive", "bomb.zip", &bomb)]).unwrap_err();
    assert!(refusals[0].message.contains("tasks.max_archive_ratio"), "{refusals:?}");
    let tar_bomb = tar_gz(&[TarItem::File("zeros", &zeros, 0o644)]);
    let refusals = build(dir.path(), &[], &[("archive", "bomb.tar.gz", &tar_bomb)]).unwrap_err();
    assert!(refusals[0].message.contains("tasks.max_archive_ratio"), "{refusals:?}");
    let huge = vec![0u8; 9 * 1024 * 1024];
    let too_big = tar_gz(&[TarItem::File("huge", &huge, 0o644)]);
    let refusals = build(dir.path(), &[], &[("archive", "big.tgz", &too_big)]).unwrap_err();
    assert!(refusals[0].message.contains("tasks.max_input_bytes"), "{refusals:?}");
    let names: Vec<String> = (0..120).map(|i| format!("empty-{i}")).collect();
    let entries: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b""[..])).collect();
    let crowded = build(dir.path(), &[], &[("archive", "many.zip", &zip_of(&entries))]).unwrap_err();
    assert!(crowded[0].message.contains("many.zip has about 120 entries"), "{crowded:?}");
    let garbage = build(dir.path(), &[], &[("archive", "x.zip", b"not a zip")]).unwrap_err();
    assert!(garbage[0].message.contains("x.zip is not a readable archive"), "{garbage:?}");
}

#[test]
fn a_path_given_twice_across_sources_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let archive = tar_gz(&[TarItem::File("a.txt", b"1", 0o644)]);
    let inline = [InputFile { path: "./b.txt".into(), content: vec![] }];
    let parts: &[(&str, &str, &[u8])] = &[("archive", "x.tgz", &archive), ("f1", "a.txt", b"2"), ("f2", "b.txt", b"")];
    let refusals = build(dir.path(), &inline, parts).unwrap_err();
    let pointers: Vec<&str> = refusals.iter().map(|r| r.pointer.as_str()).collect();
    assert_eq!(pointers, ["/parts/f1", "/parts/f2"], "{refusals:?}");
    assert!(refusals[0].message.contains("same path as entry \"a.txt\" of x.tgz"));
}

#[test]
fn an_archive_part_that_is_not_a_known_archive_is_refused_not_stored() {
    let dir = tempfile::tempdir().unwrap();
    let refusals = build(dir.path(), &[], &[("archive", "site.tar", b"not gzip"), ("doc", "a.txt", b"a")]).unwrap_err();
    assert_eq!(refusals.len(), 1, "{refusals:?}");
    assert_eq!(refusals[0].pointer, "/parts/archive");
    assert!(refusals[0].message.contains("*.tar.gz, *.tgz or *.zip") && refusals[0].message.contains("site.tar"));
    // Named as a file, the same bytes are a file.
    let ws = build(dir.path(), &[], &[("doc", "site.tar", b"not gzip")]).unwrap();
    assert_eq!(std::fs::read(ws.join("site.tar")).unwrap(), b"not gzip");
}
