//! The scrub behind `abcall blobs verify`: every blob the database knows is read back and
//! re-hashed; a missing blob or one whose bytes no longer match its name is reported.

use futures_util::StreamExt;
use serde::Serialize;
use sha2::Digest;

use super::BlobStore;
use crate::error::Result;
use crate::store::Db;

/// One damaged blob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Damage {
    pub sha256: String,
    pub problem: String,
}

/// What a scrub found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// Blobs read and re-hashed.
    pub checked: u64,
    pub bytes: u64,
    pub missing: Vec<String>,
    pub corrupt: Vec<Damage>,
    /// Stored blobs no tenant references (an upload interrupted after storing); not damage.
    pub unreferenced: u64,
}

impl VerifyReport {
    pub fn is_damaged(&self) -> bool {
        !self.missing.is_empty() || !self.corrupt.is_empty()
    }
}

/// Re-hashes every blob referenced in the database.
pub async fn verify(db: &Db, store: &dyn BlobStore) -> Result<VerifyReport> {
    let expected = super::meta::all_hashes(db).await?;
    let stored = store.list().await?;
    let mut report = VerifyReport {
        unreferenced: stored
            .iter()
            .filter(|s| expected.binary_search_by(|(e, _)| e.cmp(s)).is_err())
            .count() as u64,
        ..VerifyReport::default()
    };
    for (sha256, size) in expected {
        let Some(actual) = store.size(&sha256).await? else {
            report.missing.push(sha256);
            continue;
        };
        report.checked += 1;
        report.bytes += actual;
        if actual != size {
            report.corrupt.push(Damage {
                problem: format!("{actual} bytes stored, {size} recorded"),
                sha256,
            });
            continue;
        }
        let mut hasher = sha2::Sha256::new();
        let mut failure = None;
        if actual > 0 {
            let mut stream = store.read(&sha256, 0..actual).await?;
            while let Some(chunk) = stream.next().await {
                match chunk {
                    Ok(bytes) => hasher.update(&bytes),
                    Err(e) => {
                        failure = Some(format!("unreadable: {e}"));
                        break;
                    }
                }
            }
        }
        let digest: String = hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        if let Some(problem) = failure {
            report.corrupt.push(Damage { sha256, problem });
        } else if digest != sha256 {
            report.corrupt.push(Damage {
                problem: format!("its bytes hash to {digest}"),
                sha256,
            });
        }
    }
    Ok(report)
}
