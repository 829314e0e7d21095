//! Embeds `assets/` into the crate: every file raw and gzip-compressed (level 9, once, here —
//! never per request), plus a version (a hash of every file) that the asset URLs carry, so
//! browsers may cache them for a year and still never run a stale module after an upgrade.
//! `index.html` is the one file that names the version (`{{V}}`): it is served `no-cache`.

use flate2::write::GzEncoder;
use flate2::Compression;
use sha2::{Digest, Sha256};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("read assets dir")
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "json" => "application/json",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "txt" | "md" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("assets");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    println!("cargo:rerun-if-changed=assets");
    let mut files = Vec::new();
    walk(&root, &mut files);
    // Unit tests of the modules live beside them (`*.test.js`) but are not served.
    files.retain(|p| !p.to_string_lossy().ends_with(".test.js"));
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
    }

    let mut hasher = Sha256::new();
    let mut blobs = Vec::new();
    for f in &files {
        let rel = f
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let data = std::fs::read(f).expect("read asset");
        hasher.update(rel.as_bytes());
        hasher.update([0]);
        hasher.update(&data);
        blobs.push((rel, data));
    }
    let digest = hasher.finalize();
    let version: String = digest[..6].iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    });

    let mut table = String::from("pub static ASSETS: &[Asset] = &[\n");
    for (i, (rel, mut data)) in blobs.into_iter().enumerate() {
        if rel == "index.html" {
            data = String::from_utf8(data)
                .expect("index.html is UTF-8")
                .replace("{{V}}", &version)
                .into_bytes();
        }
        let raw = out.join(format!("asset{i}"));
        let gz = out.join(format!("asset{i}.gz"));
        std::fs::write(&raw, &data).unwrap();
        let mut enc = GzEncoder::new(Vec::new(), Compression::best());
        enc.write_all(&data).unwrap();
        std::fs::write(&gz, enc.finish().unwrap()).unwrap();
        writeln!(
            table,
            "    Asset {{ path: {rel:?}, content_type: {:?}, raw: include_bytes!({:?}), gzip: include_bytes!({:?}) }},",
            content_type(&rel),
            raw.display().to_string(),
            gz.display().to_string(),
        )
        .unwrap();
    }
    table.push_str("];\n");
    writeln!(table, "pub const VERSION: &str = {version:?};").unwrap();
    std::fs::write(out.join("assets.rs"), table).unwrap();
}
