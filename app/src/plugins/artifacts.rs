//! Package tarballs: fetched from the npm registry through the SSRF-guarded client, checked
//! against the integrity the registry published (SRI, `sha512-<base64>`), inspected as RHDH's
//! installer does (every entry under `package/`, sizes capped, no link leaving the package, no
//! devices), and stored once by integrity for every tenant. A revision is written only when
//! every package it adds has passed; the tenant's npm endpoint serves exactly these bytes.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use base64::Engine;
use sha2::Digest;

use crate::fetch::{self, FetchPolicy, HostAllowlist};

/// The largest tarball fetched (a large RHDH dynamic plugin export is ~20 MB).
pub const MAX_TARBALL: usize = 64 * 1024 * 1024;
/// The most a tarball may unpack to, all entries together, and one entry alone.
const MAX_UNPACKED: u64 = 256 * 1024 * 1024;
const MAX_ENTRY: u64 = 64 * 1024 * 1024;
/// The most entries a tarball may hold.
const MAX_ENTRIES: usize = 20_000;

/// Where the registry serves a version's tarball: npm's layout, which mirrors keep.
pub fn tarball_url(registry: &str, package: &str, version: &str) -> String {
    let base = package.rsplit('/').next().unwrap_or(package);
    format!("{}/{package}/-/{base}-{version}.tgz", registry.trim_end_matches('/'))
}

/// The file name npm gives a version's tarball (`/-/<name>-<version>.tgz`).
pub fn tarball_file(package: &str, version: &str) -> String {
    let base = package.rsplit('/').next().unwrap_or(package);
    format!("{base}-{version}.tgz")
}

/// Checks `bytes` against an SRI string (`sha512-… sha1-…`): the strongest algorithm it names
/// must match, as npm does.
pub fn verify(bytes: &[u8], integrity: &str) -> Result<(), String> {
    const ORDER: [&str; 4] = ["sha512", "sha384", "sha256", "sha1"];
    let tokens: Vec<(&str, &str)> = integrity
        .split_whitespace()
        .filter_map(|t| t.split_once('-'))
        .map(|(alg, rest)| (alg, rest.split('?').next().unwrap_or(rest)))
        .collect();
    let Some(strongest) = ORDER.iter().find(|alg| tokens.iter().any(|(a, _)| a == *alg)) else {
        return Err(format!("`{integrity}` names no algorithm npm checks"));
    };
    let digest = match *strongest {
        "sha512" => sha2::Sha512::digest(bytes).to_vec(),
        "sha384" => sha2::Sha384::digest(bytes).to_vec(),
        "sha256" => sha2::Sha256::digest(bytes).to_vec(),
        _ => sha1::Sha1::digest(bytes).to_vec(),
    };
    let actual = base64::engine::general_purpose::STANDARD.encode(digest);
    if tokens.iter().any(|(alg, value)| alg == strongest && *value == actual) {
        Ok(())
    } else {
        Err(format!("its {strongest} digest is {strongest}-{actual}, not the published {integrity}"))
    }
}

/// The SRI a tarball would be published with.
pub fn sri(bytes: &[u8]) -> String {
    format!("sha512-{}", base64::engine::general_purpose::STANDARD.encode(sha2::Sha512::digest(bytes)))
}

/// Inspects a gzipped tarball as RHDH's installer does; returns how many files it holds. Every
/// gzip member is read (as npm does) and nothing but zeros may follow the archive's end, so no
/// entry hides from this check. No name or hard-link target may hold `..`, no entry may sit
/// under a symbolic link, and a symbolic link may only point inside `package/`.
pub fn inspect(bytes: &[u8]) -> Result<usize, String> {
    let unpacked = flate2::read::MultiGzDecoder::new(bytes).take(MAX_UNPACKED + 64 * 1024 * 1024);
    let mut archive = tar::Archive::new(unpacked);
    let (mut files, mut total, mut entries) = (0usize, 0u64, 0usize);
    let mut links: Vec<PathBuf> = Vec::new();
    for entry in archive.entries().map_err(|e| format!("not a tar archive: {e}"))? {
        let entry = entry.map_err(|e| format!("a damaged tar entry: {e}"))?;
        entries += 1;
        if entries > MAX_ENTRIES {
            return Err(format!("more than {MAX_ENTRIES} entries"));
        }
        let path = entry.path().map_err(|e| format!("an entry with an unreadable name: {e}"))?.into_owned();
        let shown = path.display().to_string();
        if climbs(&path) || inside_package(&path).is_none() {
            return Err(format!("`{shown}` is outside package/"));
        }
        if let Some(link) = links.iter().find(|link| path.starts_with(link) && path != **link) {
            return Err(format!("`{shown}` lies under the symbolic link `{}`", link.display()));
        }
        let size = entry.header().size().map_err(|e| format!("`{shown}`: {e}"))?;
        if size > MAX_ENTRY {
            return Err(format!("`{shown}` is larger than {} MiB", MAX_ENTRY / 1024 / 1024));
        }
        total += size;
        if total > MAX_UNPACKED {
            return Err(format!("it unpacks to more than {} MiB", MAX_UNPACKED / 1024 / 1024));
        }
        let kind = entry.header().entry_type();
        if kind.is_file() || kind.is_contiguous() {
            files += 1;
        } else if kind.is_symlink() || kind.is_hard_link() {
            let target = entry
                .link_name()
                .map_err(|e| format!("`{shown}`: {e}"))?
                .ok_or_else(|| format!("`{shown}` is a link to nothing"))?
                .into_owned();
            // A symbolic link is read from its own directory, a hard link from the archive root.
            let resolved =
                if kind.is_symlink() { path.parent().unwrap_or(Path::new("")).join(&target) } else { target.clone() };
            let escapes = target.is_absolute() || (kind.is_hard_link() && climbs(&target));
            if escapes || inside_package(&resolved).is_none() {
                return Err(format!("`{shown}` links to `{}`, outside package/", target.display()));
            }
            if kind.is_symlink() {
                links.push(path);
            }
        } else if !kind.is_dir() {
            return Err(format!("`{shown}` is not a file, directory or link ({kind:?})"));
        }
    }
    // After the two zero blocks that end an archive, only zero padding may follow.
    let mut rest = archive.into_inner();
    let mut buffer = [0u8; 8192];
    loop {
        let read = rest.read(&mut buffer).map_err(|e| format!("a damaged archive: {e}"))?;
        if read == 0 {
            break;
        }
        if buffer[..read].iter().any(|b| *b != 0) {
            return Err("data follows the end of the archive".into());
        }
    }
    if files == 0 {
        return Err("it holds no file".into());
    }
    Ok(files)
}

/// Whether a path names `..` anywhere (npm never writes such names).
fn climbs(path: &Path) -> bool {
    path.components().any(|c| c == Component::ParentDir)
}

/// The path with `.` and `..` applied, when it stays under `package/`.
fn inside_package(path: &Path) -> Option<PathBuf> {
    let mut normal: Vec<&std::ffi::OsStr> = Vec::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => normal.push(part),
            Component::CurDir => {}
            Component::ParentDir => {
                normal.pop()?;
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    (normal.first().is_some_and(|top| *top == "package")).then(|| normal.iter().collect())
}

/// Fetches a version's tarball from `registry`, verifies it against `integrity` and inspects
/// it; returns the bytes and their file count.
pub async fn fetch_checked(
    policy: &FetchPolicy,
    registry: &str,
    package: &str,
    version: &str,
    integrity: &str,
) -> Result<(Vec<u8>, usize), String> {
    let url = tarball_url(registry, package, version);
    let allow = HostAllowlist::only_host_of(&url)?;
    let bytes = fetch::fetch_bytes(policy, &allow, &url, "application/octet-stream", MAX_TARBALL).await?;
    // Hashing and unpacking tens of MiB is CPU work: off the async workers.
    let integrity = integrity.to_owned();
    tokio::task::spawn_blocking(move || {
        verify(&bytes, &integrity)?;
        let files = inspect(&bytes)?;
        Ok((bytes, files))
    })
    .await
    .map_err(|e| format!("the check stopped: {e}"))?
}

#[cfg(test)]
pub mod tests {
    use super::*;

    /// A gzipped tarball of `entries`: (path, contents) files, or (path, "->target") symlinks.
    pub fn tarball(entries: &[(&str, &str)]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, contents) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_mode(0o644);
            header.set_mtime(0);
            match contents.strip_prefix("->") {
                Some(target) => {
                    header.set_entry_type(tar::EntryType::Symlink);
                    header.set_size(0);
                    // Set by hand: the builder's own helpers refuse `..` in names.
                    header.as_gnu_mut().unwrap().linkname[..target.len()].copy_from_slice(target.as_bytes());
                    header.as_gnu_mut().unwrap().name[..path.len()].copy_from_slice(path.as_bytes());
                    header.set_cksum();
                    builder.append(&header, std::io::empty()).unwrap();
                }
                None => {
                    header.set_size(contents.len() as u64);
                    header.as_gnu_mut().unwrap().name[..path.len()].copy_from_slice(path.as_bytes());
                    header.set_cksum();
                    builder.append(&header, contents.as_bytes()).unwrap();
                }
            }
        }
        let tar = builder.into_inner().unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut gz, &tar).unwrap();
        gz.finish().unwrap()
    }

    #[test]
    fn integrity_is_checked_with_the_strongest_algorithm_named() {
        let bytes = b"a tarball";
        let good = sri(bytes);
        assert!(verify(bytes, &good).is_ok());
        assert!(verify(b"another", &good).unwrap_err().contains("not the published"));
        let sha1 = format!("sha1-{}", base64::engine::general_purpose::STANDARD.encode(sha1::Sha1::digest(bytes)));
        assert!(verify(bytes, &sha1).is_ok(), "older packages publish SHA-1 only");
        assert!(verify(bytes, &format!("{sha1} sha512-AAAA")).is_err(), "the strongest decides");
        assert!(verify(bytes, "md5-abc").is_err());
    }

    #[test]
    fn archives_are_inspected_as_rhdh_does() {
        let good = tarball(&[
            ("package/package.json", "{}"),
            ("package/dist/index.js", "x"),
            ("package/dist/link", "->index.js"),
        ]);
        assert_eq!(inspect(&good), Ok(2));
        let outside = tarball(&[("package/package.json", "{}"), ("other/evil.js", "x")]);
        assert!(inspect(&outside).unwrap_err().contains("outside package/"));
        let climbing = tarball(&[("package/../../etc/passwd", "x")]);
        assert!(inspect(&climbing).unwrap_err().contains("outside package/"));
        let back_in = tarball(&[("package/a/../package.json", "{}")]);
        assert!(inspect(&back_in).unwrap_err().contains("outside package/"), "no `..` at all, as npm writes none");
        // A link to the package itself, then a path through it: on disk it would climb out.
        let through =
            tarball(&[("package/package.json", "{}"), ("package/a/b/l", "->../.."), ("package/a/b/l/x", "x")]);
        assert!(inspect(&through).unwrap_err().contains("lies under the symbolic link `package/a/b/l`"));
        let mut trailing = good.clone();
        trailing.extend(tarball(&[("package/hidden.js", "x")]));
        assert!(inspect(&trailing).unwrap_err().contains("data follows the end"), "a second gzip member is read");
        let escaping = tarball(&[("package/package.json", "{}"), ("package/dist/x", "->../../../etc/passwd")]);
        assert!(inspect(&escaping).unwrap_err().contains("links to `../../../etc/passwd`"));
        let absolute = tarball(&[("package/package.json", "{}"), ("package/x", "->/etc/passwd")]);
        assert!(inspect(&absolute).unwrap_err().contains("outside package/"));
        assert!(inspect(b"not gzip").is_err());
        assert_eq!(tarball_url("http://r/", "@s/n", "1.0.0"), "http://r/@s/n/-/n-1.0.0.tgz");
    }
}
