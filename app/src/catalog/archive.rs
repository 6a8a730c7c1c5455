//! Uploaded repository archives (.zip, .tar.gz): unpacked in memory into text files, with
//! limits that a zip bomb or a path like `../../etc/passwd` cannot get around.

use std::collections::HashMap;
use std::io::{Cursor, Read};

use super::reader::{join_inside, ArchiveSource};

/// Total bytes all files of one archive may unpack to.
const MAX_UNPACKED: u64 = 64 * 1024 * 1024;
/// Entries one archive may hold.
const MAX_ENTRIES: usize = 20_000;

/// Whether the bytes are an archive we can unpack (by their magic number, not their name).
pub fn is_archive(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(&[0x1f, 0x8b])
}

/// The UTF-8 files of a .zip or .tar.gz; binary files are passed over.
pub fn unpack(bytes: &[u8]) -> Result<ArchiveSource, String> {
    let mut files = Files::default();
    if bytes.starts_with(b"PK\x03\x04") {
        let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| format!("zip: {e}"))?;
        for i in 0..zip.len() {
            let entry = zip.by_index(i).map_err(|e| format!("zip: {e}"))?;
            if entry.is_file() {
                let name = entry.name().map_err(|e| format!("zip: {e}"))?.into_owned();
                files.add(&name, entry)?;
            }
        }
    } else if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
        for entry in tar.entries().map_err(|e| format!("tar.gz: {e}"))? {
            let entry = entry.map_err(|e| format!("tar.gz: {e}"))?;
            if entry.header().entry_type().is_file() {
                let name = entry.path().map_err(|e| format!("tar.gz: {e}"))?.to_string_lossy().into_owned();
                files.add(&name, entry)?;
            }
        }
    } else {
        return Err("not a .zip or .tar.gz archive".into());
    }
    Ok(ArchiveSource { files: files.strip_common_folder() })
}

#[derive(Default)]
struct Files {
    files: HashMap<String, String>,
    unpacked: u64,
    entries: usize,
}

impl Files {
    fn add(&mut self, name: &str, entry: impl Read) -> Result<(), String> {
        self.entries += 1;
        if self.entries > MAX_ENTRIES {
            return Err(format!("the archive holds more than {MAX_ENTRIES} files"));
        }
        // Normalised against a virtual root: absolute paths and `..` that climb out are refused.
        let path = join_inside("", name.trim_start_matches("./"))
            .filter(|p| !p.is_empty() && !name.starts_with('/'))
            .ok_or_else(|| format!("`{name}` points outside the archive"))?;
        let mut content = Vec::new();
        // Reads at most one byte past the budget, whatever sizes the headers claim.
        let budget = MAX_UNPACKED - self.unpacked;
        entry.take(budget + 1).read_to_end(&mut content).map_err(|e| format!("{name}: {e}"))?;
        self.unpacked += content.len() as u64;
        if self.unpacked > MAX_UNPACKED {
            return Err(format!("the archive unpacks to more than {} MiB", MAX_UNPACKED / 1024 / 1024));
        }
        if let Ok(text) = String::from_utf8(content) {
            self.files.insert(path, text);
        }
        Ok(())
    }

    /// GitHub's archives put everything under `<repo>-<ref>/`: paths are made relative to it.
    fn strip_common_folder(self) -> HashMap<String, String> {
        let first = self.files.keys().next().and_then(|p| p.split_once('/')).map(|(dir, _)| format!("{dir}/"));
        match first {
            Some(prefix) if self.files.keys().all(|p| p.starts_with(&prefix)) => {
                self.files.into_iter().map(|(p, text)| (p[prefix.len()..].to_owned(), text)).collect()
            }
            _ => self.files,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn tar_gz(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast()));
        for (name, content) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(content.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder.append_data(&mut header, name, *content).unwrap();
        }
        builder.into_inner().unwrap().finish().unwrap()
    }

    fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, content) in files {
            writer.start_file(*name, zip::write::SimpleFileOptions::default()).unwrap();
            writer.write_all(content).unwrap();
        }
        writer.finish().unwrap().into_inner()
    }

    #[test]
    fn both_formats_unpack_text_files_relative_to_the_repository_folder() {
        let files: &[(&str, &[u8])] =
            &[("repo-main/catalog-info.yaml", b"kind: Component\n"), ("repo-main/logo.png", &[0xff, 0xd8, 0x00])];
        for bytes in [tar_gz(files), zip_of(files)] {
            assert!(is_archive(&bytes));
            let source = unpack(&bytes).unwrap();
            assert_eq!(source.files.len(), 1, "binary files are passed over");
            assert_eq!(source.files["catalog-info.yaml"], "kind: Component\n");
        }
    }

    #[test]
    fn paths_climbing_out_of_the_archive_are_refused() {
        let error = unpack(&zip_of(&[("../../etc/cron.d/x.yaml", b"x")])).unwrap_err();
        assert!(error.contains("outside the archive"), "{error}");
    }

    #[test]
    fn a_zip_bomb_stops_at_the_unpacked_limit() {
        let zeros = vec![0u8; 8 * 1024 * 1024];
        let names: Vec<String> = (0..9).map(|i| format!("f{i}.yaml")).collect();
        let files: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), zeros.as_slice())).collect();
        let bytes = zip_of(&files);
        assert!(bytes.len() < 1024 * 1024, "compresses well: {}", bytes.len());
        assert!(unpack(&bytes).unwrap_err().contains("more than 64 MiB"));
    }

    #[test]
    fn other_bytes_are_not_archives() {
        assert!(!is_archive(b"apiVersion: v1\n"));
        assert!(unpack(b"apiVersion: v1\n").is_err());
    }
}
