//! Files written once and never changed (datasets, model artifacts): a temporary file in the same
//! directory, fsync'd, then renamed into place and the directory fsync'd, so a crash leaves either
//! the whole file or none of it.

use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};

/// Writes `bytes` to `path` atomically and durably.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let fail =
        |what: &str, e: std::io::Error| Error::Internal(format!("{what} {}: {e}", path.display()));
    let dir = path
        .parent()
        .ok_or_else(|| Error::Internal(format!("{} has no directory", path.display())))?;
    std::fs::create_dir_all(dir).map_err(|e| fail("creating the directory of", e))?;
    let mut temp =
        tempfile::NamedTempFile::new_in(dir).map_err(|e| fail("creating a temp file for", e))?;
    temp.write_all(bytes).map_err(|e| fail("writing", e))?;
    temp.as_file().sync_all().map_err(|e| fail("syncing", e))?;
    temp.persist(path)
        .map_err(|e| fail("renaming into", e.error))?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| fail("syncing the directory of", e))?;
    Ok(())
}

/// The sha256 of `bytes`, lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_whole_files_and_leaves_no_temporaries() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/data.csv");
        write_atomically(&path, b"x,y\n1,2\n").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"x,y\n1,2\n");
        assert_eq!(
            std::fs::read_dir(path.parent().unwrap()).unwrap().count(),
            1
        );
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
