//! The same contract checked on every backend: content addressing, deduplication, ranges,
//! listing; and the scrub finding missing and corrupted blobs.

use futures_util::StreamExt;

use super::*;
use crate::config::SqliteSync;

async fn collect(stream: ByteStream) -> Vec<u8> {
    let mut out = Vec::new();
    let mut stream = stream;
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk.unwrap());
    }
    out
}

fn backends(dir: &Path) -> Vec<Arc<dyn BlobStore>> {
    vec![
        Arc::new(FsBlobs::new(dir.join("fs"))),
        Arc::new(ObjectBlobs::local(&dir.join("object")).unwrap()),
        Arc::new(ObjectBlobs::in_memory()),
    ]
}

#[tokio::test]
async fn every_backend_stores_by_content_once_and_reads_ranges() {
    let dir = tempfile::tempdir().unwrap();
    let stager = Stager::new(dir.path().join("staging"), 10 << 20);
    // Larger than one read chunk and one multipart chunk, to cross their boundaries.
    let bytes: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let sha = crate::store::files::sha256_hex(&bytes);
    for store in backends(dir.path()) {
        let name = store.describe();
        let staged = stager.stage_bytes(&bytes).await.unwrap();
        assert_eq!(staged.sha256, sha, "{name}");
        assert_eq!(staged.size, bytes.len() as u64);
        assert!(store.put(staged).await.unwrap(), "{name}: first put stores");
        let again = stager.stage_bytes(&bytes).await.unwrap();
        assert!(
            !store.put(again).await.unwrap(),
            "{name}: same bytes not stored twice"
        );
        assert_eq!(store.list().await.unwrap(), vec![sha.clone()], "{name}");
        assert_eq!(store.size(&sha).await.unwrap(), Some(bytes.len() as u64));
        let missing = "0".repeat(64);
        assert_eq!(store.size(&missing).await.unwrap(), None, "{name}");
        for range in [0..1, 10..70_000, 1_048_570..1_048_590, 2_999_990..3_000_000] {
            let got = collect(store.read(&sha, range.clone()).await.unwrap()).await;
            assert_eq!(
                got,
                bytes[range.start as usize..range.end as usize],
                "{name} {range:?}"
            );
        }
        assert_eq!(read_all(store.as_ref(), &sha).await.unwrap(), bytes);
    }
    // Staged files are gone once stored or dropped.
    assert_eq!(std::fs::read_dir(stager.dir()).unwrap().count(), 0);
}

#[tokio::test]
async fn uploads_over_the_limit_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let stager = Stager::new(dir.path(), 10);
    let mut staging = stager.begin().await.unwrap();
    staging.write(b"12345").await.unwrap();
    assert!(matches!(
        staging.write(b"678901").await,
        Err(Error::PayloadTooLarge(_))
    ));
}

#[test]
fn urls_select_the_backend() {
    let dir = tempfile::tempdir().unwrap();
    assert!(
        open(None, dir.path())
            .unwrap()
            .describe()
            .contains("files under")
    );
    let url = format!("file://{}", dir.path().join("o").display());
    assert!(
        open(Some(&url), dir.path())
            .unwrap()
            .describe()
            .contains("LocalFileSystem")
    );
    assert!(
        open(Some("memory://"), dir.path())
            .unwrap()
            .describe()
            .contains("InMemory")
    );
    // S3 connects lazily: a well-formed URL opens; a bucketless one or an unknown option does not.
    let s3 = open(
        Some("s3://bucket/x/?region=us-east-1&endpoint=http://127.0.0.1:9&allow_http=true"),
        dir.path(),
    )
    .unwrap();
    assert!(
        s3.describe().contains("S3 at s3://bucket/x"),
        "{}",
        s3.describe()
    );
    assert!(open(Some("s3://"), dir.path()).is_err());
    assert!(open(Some("s3://bucket?colour=blue"), dir.path()).is_err());
    assert!(open(Some("ftp://x"), dir.path()).is_err());
}

#[tokio::test]
async fn verify_reports_missing_and_corrupt_blobs() {
    let dir = tempfile::tempdir().unwrap();
    let db = crate::store::Db::connect(None, dir.path(), 2, SqliteSync::Normal)
        .await
        .unwrap();
    db.migrate().await.unwrap();
    let (tenant, _) = crate::store::tenants::create_tenant(&db, "Scrub")
        .await
        .unwrap();
    let fs = FsBlobs::new(dir.path().join("blobs"));
    let stager = Stager::new(dir.path().join("staging"), 1 << 20);
    let mut hashes = Vec::new();
    for content in [&b"first recording"[..], b"second recording", b"third"] {
        let staged = stager.stage_bytes(content).await.unwrap();
        let (sha, size) = (staged.sha256.clone(), staged.size);
        fs.put(staged).await.unwrap();
        let mut tx = db.writer.begin().await.unwrap();
        let blob = meta::NewBlob {
            sha256: &sha,
            size,
            media_type: "audio/wav",
            original_name: None,
        };
        meta::record(&mut tx, &tenant.id, &blob, jiff::Timestamp::now(), 10)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        hashes.push(sha);
    }
    let clean = verify::verify(&db, &fs).await.unwrap();
    assert_eq!(clean.checked, 3);
    assert!(!clean.is_damaged(), "{clean:?}");

    // Flip a byte of one blob (same size) and delete another.
    let damaged = fs.path_of(&hashes[0]).unwrap();
    let mut bytes = std::fs::read(&damaged).unwrap();
    bytes[0] ^= 0xFF;
    std::fs::write(&damaged, bytes).unwrap();
    std::fs::remove_file(fs.path_of(&hashes[1]).unwrap()).unwrap();
    let report = verify::verify(&db, &fs).await.unwrap();
    assert!(report.is_damaged());
    assert_eq!(report.missing, vec![hashes[1].clone()]);
    assert_eq!(report.corrupt.len(), 1);
    assert_eq!(report.corrupt[0].sha256, hashes[0]);
    assert_eq!(report.checked, 2);
    db.close().await;
}
