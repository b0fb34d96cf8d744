//! Recorded calls and PQR attachments: every accepted audio format decodes; bad files get 415 or
//! 422 with the reason; stored bytes are content-addressed, deduplicated and served in ranges;
//! tenants and roles are kept apart; retention follows the tenant's setting.

use reqwest::Method;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Backend, Reply, TestApp, reply, spawn_app, spawn_with};

both_backends!(
    calls_every_accepted_format_decodes,
    calls_bad_audio_and_metadata_are_refused_with_the_reason,
    calls_audio_is_deduplicated_and_served_in_ranges,
    calls_and_attachments_stay_within_their_tenant,
    calls_roles_follow_the_incident_permissions,
    calls_attachments_are_sniffed_stored_and_ranged,
    calls_retention_follows_the_tenant_setting,
    calls_object_store_backend_serves_the_same_api,
    calls_s3_backend_serves_the_same_api,
    calls_are_read_over_graphql_within_the_tenant,
);

fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/audio")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn sha256(bytes: &[u8]) -> String {
    abcall::store::files::sha256_hex(bytes)
}

const META: &str = "direction=inbound&agent=Rosa%20Huam%C3%A1n\
    &started_at=2026-12-01T15:00:00Z&ended_at=2026-12-01T15:00:02Z";

/// Uploads `audio` as the raw body with metadata in the query.
async fn upload_raw(app: &TestApp, key: &str, query: &str, audio: &[u8]) -> Reply {
    let response = app
        .client
        .post(format!("{}/v1/calls?{query}", app.base))
        .bearer_auth(key)
        .header("content-type", "application/octet-stream")
        .body(audio.to_vec())
        .send()
        .await
        .expect("request sent");
    reply(response).await
}

/// A `multipart/form-data` body with the given (name, file name, bytes) parts.
fn multipart(parts: &[(&str, Option<&str>, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "abcall-test-boundary-7d1f";
    let mut body = Vec::new();
    for (name, file_name, bytes) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match file_name {
            Some(file) => body.extend_from_slice(
                format!(
                    "Content-Disposition: form-data; name=\"{name}\"; filename=\"{file}\"\r\n\
                     Content-Type: application/octet-stream\r\n\r\n"
                )
                .as_bytes(),
            ),
            None => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
            ),
        }
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn post_multipart(app: &TestApp, path: &str, key: &str, form: (String, Vec<u8>)) -> Reply {
    let response = app
        .client
        .post(format!("{}{path}", app.base))
        .bearer_auth(key)
        .header("content-type", form.0)
        .body(form.1)
        .send()
        .await
        .expect("request sent");
    reply(response).await
}

/// GET returning raw bytes, with an optional `Range`.
async fn get_bytes(
    app: &TestApp,
    path: &str,
    key: &str,
    range: Option<&str>,
) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let mut request = app
        .client
        .get(format!("{}{path}", app.base))
        .bearer_auth(key);
    if let Some(range) = range {
        request = request.header("range", range);
    }
    let response = request.send().await.expect("request sent");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (
        status,
        headers,
        response.bytes().await.expect("body").to_vec(),
    )
}

fn blob_files(app: &TestApp) -> usize {
    let root = app.data_dir().join("blobs").join("sha256");
    let mut count = 0;
    for a in std::fs::read_dir(&root).into_iter().flatten().flatten() {
        for b in std::fs::read_dir(a.path()).into_iter().flatten().flatten() {
            count += std::fs::read_dir(b.path()).into_iter().flatten().count();
        }
    }
    count
}

async fn calls_every_accepted_format_decodes(backend: Backend) {
    let app = spawn_app(backend).await;
    let cases = [
        ("speech-16k.wav", "wav", "pcm_s16le", 16_000),
        ("speech-8k.wav", "wav", "pcm_s16le", 8_000),
        ("speech-8k-mulaw.wav", "wav", "pcm_mulaw", 8_000),
        ("speech-8k-alaw.wav", "wav", "pcm_alaw", 8_000),
        ("speech.flac", "flac", "flac", 16_000),
        ("speech.mp3", "mp3", "mp3", 16_000),
        ("speech.ogg", "ogg_vorbis", "vorbis", 16_000),
        ("speech.opus", "ogg_opus", "opus", 48_000),
    ];
    for (file, format, codec, rate) in cases {
        let audio = fixture(file);
        let created = upload_raw(&app, &app.key, META, &audio).await;
        assert_eq!(created.status, 201, "{file}: {}", created.body);
        let call = &created.body;
        assert_eq!(call["format"], format, "{file}");
        assert_eq!(call["codec"], codec, "{file}");
        assert_eq!(call["sample_rate"], rate, "{file}");
        assert_eq!(call["channels"], 1, "{file}");
        assert_eq!(call["sha256"], sha256(&audio), "{file}");
        assert_eq!(call["size"], audio.len(), "{file}");
        assert_eq!(call["transcription"], "not_requested");
        assert_eq!(call["direction"], "inbound");
        assert_eq!(call["agent"], "Rosa Huamán");
        let duration = call["duration_secs"].as_f64().unwrap();
        assert!((duration - 2.0).abs() < 0.15, "{file}: {duration}");
        let quality = &call["quality"];
        assert!((quality["duration_secs"].as_f64().unwrap() - duration).abs() < 0.01);
        // Read speech: mostly voiced, no dead air, audible.
        assert!(
            quality["speech_ratio"].as_f64().unwrap() > 0.3,
            "{file}: {quality}"
        );
        assert!(
            quality["loudness_lufs"].as_f64().unwrap() > -45.0,
            "{file}: {quality}"
        );
        assert_eq!(quality["flags"]["dead_air"], false, "{file}");
        let location = created.headers["location"].to_str().unwrap().to_owned();
        let fetched = app.get(&location).await;
        assert_eq!(fetched.status, 200);
        assert_eq!(fetched.body["quality"], call["quality"], "{file}");
    }
    // Multipart: a metadata part and an audio part with a file name.
    let audio = fixture("speech-8k-mulaw.wav");
    let metadata = json!({
        "direction": "outbound",
        "customer_id": null,
        "started_at": "2026-12-01T16:00:00Z",
        "ended_at": "2026-12-01T16:00:02Z"
    })
    .to_string();
    let form = multipart(&[
        ("metadata", None, metadata.as_bytes()),
        ("audio", Some("llamada.wav"), &audio),
    ]);
    let created = post_multipart(&app, "/v1/calls", &app.key, form).await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["direction"], "outbound");
    assert_eq!(created.body["codec"], "pcm_mulaw");
    let listed = app.get("/v1/calls?direction=outbound").await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        app.get("/v1/calls?limit=200").await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        9
    );
    let summary = app.get("/v1/calls/quality").await;
    assert_eq!(summary.status, 200, "{}", summary.body);
    assert_eq!(summary.body["calls"], 9);
    assert!((summary.body["avg_duration_secs"].as_f64().unwrap() - 2.0).abs() < 0.1);
}

async fn calls_bad_audio_and_metadata_are_refused_with_the_reason(backend: Backend) {
    let app = spawn_app(backend).await;
    // Not audio at all: 415 with the accepted list.
    let pdf = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n".repeat(10);
    let refused = upload_raw(&app, &app.key, META, &pdf).await;
    refused.assert_problem(415, "unsupported-media-type");
    let detail = refused.body["detail"].as_str().unwrap();
    for format in [
        "WAV",
        "µ-law",
        "A-law",
        "MP3",
        "FLAC",
        "Ogg Vorbis",
        "Ogg Opus",
    ] {
        assert!(detail.contains(format), "{detail}");
    }
    // Truncated FLAC: the header announces 2 s.
    let flac = fixture("speech.flac");
    let truncated = upload_raw(&app, &app.key, META, &flac[..flac.len() / 2]).await;
    truncated.assert_problem(422, "validation");
    assert_eq!(truncated.fields(), ["audio"]);
    assert!(
        truncated.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("truncated"),
        "{}",
        truncated.body
    );
    // Truncated WAV (half the samples announced are missing).
    let wav = fixture("speech-16k.wav");
    let cut = upload_raw(&app, &app.key, META, &wav[..wav.len() / 2]).await;
    cut.assert_problem(422, "validation");
    // A WAV header and nothing else; a RIFF/WAVE whose chunks are garbage.
    let header_only = upload_raw(&app, &app.key, META, &wav[..44]).await;
    header_only.assert_problem(422, "validation");
    let mut garbage = wav[..12].to_vec();
    garbage.extend(std::iter::repeat_n(0xA5u8, 4_000));
    upload_raw(&app, &app.key, META, &garbage)
        .await
        .assert_problem(422, "validation");
    // Corrupt Ogg Opus: the pages after the headers overwritten.
    let mut opus = fixture("speech.opus");
    let len = opus.len();
    for byte in &mut opus[len / 3..] {
        *byte = 0x5A;
    }
    upload_raw(&app, &app.key, META, &opus)
        .await
        .assert_problem(422, "validation");
    // Corrupt MP3: frames overwritten after the first few.
    let mut mp3 = fixture("speech.mp3");
    let len = mp3.len();
    for (i, byte) in mp3[400..len].iter_mut().enumerate() {
        *byte = (i * 31 % 256) as u8;
    }
    let bad_mp3 = upload_raw(&app, &app.key, META, &mp3).await;
    assert_eq!(bad_mp3.status, 422, "{}", bad_mp3.body);
    // Metadata at fault is named before the audio is decoded.
    let audio = fixture("speech-8k.wav");
    let backwards =
        "direction=inbound&started_at=2026-12-01T15:00:02Z&ended_at=2026-12-01T15:00:00Z";
    let reply = upload_raw(&app, &app.key, backwards, &audio).await;
    reply.assert_problem(422, "validation");
    assert_eq!(reply.fields(), ["ended_at"]);
    let sideways =
        "direction=sideways&started_at=2026-12-01T15:00:00Z&ended_at=2026-12-01T15:00:02Z";
    let reply = upload_raw(&app, &app.key, sideways, &audio).await;
    reply.assert_problem(400, "malformed-request");
    assert_eq!(reply.fields(), ["direction"]);
    let unknown_pqr = format!("{META}&incident_id=0190a5c4-0000-7000-8000-000000000000");
    let reply = upload_raw(&app, &app.key, &unknown_pqr, &audio).await;
    reply.assert_problem(422, "validation");
    assert_eq!(reply.fields(), ["incident_id"]);
    // Nothing of the refused uploads was kept.
    assert_eq!(app.get("/v1/calls").await.body["items"], json!([]));
    assert_eq!(blob_files(&app), 0);
    let staging = app.data_dir().join("blobs").join("staging");
    assert_eq!(std::fs::read_dir(staging).unwrap().count(), 0);
}

async fn calls_audio_is_deduplicated_and_served_in_ranges(backend: Backend) {
    let app = spawn_app(backend).await;
    let tenant_id = app.get("/v1/tenants/me").await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, mut live) = app.app().live.subscribe(&tenant_id, None);
    let incident = app.new_incident(json!({})).await;
    let audio = fixture("speech-8k-alaw.wav");
    let query = format!("{META}&incident_id={}", incident["id"].as_str().unwrap());
    let first = upload_raw(&app, &app.key, &query, &audio).await;
    assert_eq!(first.status, 201, "{}", first.body);
    let second = upload_raw(&app, &app.key, META, &audio).await;
    assert_eq!(second.status, 201, "{}", second.body);
    assert_ne!(first.body["id"], second.body["id"]);
    assert_eq!(first.body["sha256"], second.body["sha256"]);
    assert_eq!(first.body["incident_id"], incident["id"]);
    // One file on disk, named by its hash, holding exactly the uploaded bytes.
    assert_eq!(blob_files(&app), 1);
    let sha = sha256(&audio);
    let stored = app
        .data_dir()
        .join("blobs/sha256")
        .join(&sha[..2])
        .join(&sha[2..4])
        .join(&sha);
    assert_eq!(std::fs::read(stored).unwrap(), audio);
    // The live feed announced the call (after the PQR's own event).
    let event = loop {
        let event = live.try_recv().expect("a call.recorded event");
        if event.kind == "call.recorded" {
            break event;
        }
    };
    assert_eq!(event.data["direction"], "inbound");
    assert_eq!(event.data["id"], first.body["id"]);

    let path = format!("/v1/calls/{}/audio", first.body["id"].as_str().unwrap());
    let size = audio.len();
    let (status, headers, body) = get_bytes(&app, &path, &app.key, None).await;
    assert_eq!(status, 200);
    assert_eq!(body, audio);
    assert_eq!(headers["accept-ranges"], "bytes");
    assert_eq!(headers["content-type"], "audio/wav");
    for (range, start, end) in [
        ("bytes=0-99", 0, 100),
        ("bytes=1000-", 1000, size),
        ("bytes=-50", size - 50, size),
        ("bytes=16000-99999", 16_000, size),
    ] {
        let (status, headers, body) = get_bytes(&app, &path, &app.key, Some(range)).await;
        assert_eq!(status, 206, "{range}");
        assert_eq!(body, audio[start..end], "{range}");
        assert_eq!(
            headers["content-range"],
            format!("bytes {start}-{}/{size}", end - 1).as_str(),
            "{range}"
        );
        assert_eq!(
            headers["content-length"],
            (end - start).to_string().as_str()
        );
    }
    let (status, headers, _) =
        get_bytes(&app, &path, &app.key, Some(&format!("bytes={size}-"))).await;
    assert_eq!(status, 416);
    assert_eq!(headers["content-range"], format!("bytes */{size}").as_str());
    assert_eq!(headers["content-type"], "application/problem+json");
}

async fn calls_and_attachments_stay_within_their_tenant(backend: Backend) {
    let app = spawn_app(backend).await;
    let other = app.other_tenant("Tenant B").await;
    let incident = app.new_incident(json!({})).await;
    let incident_id = incident["id"].as_str().unwrap();
    let audio = fixture("speech.mp3");
    let created = upload_raw(&app, &app.key, META, &audio).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let call_id = created.body["id"].as_str().unwrap();
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR fake image bytes".to_vec();
    let attached = app
        .upload(
            &format!("/v1/incidents/{incident_id}/attachments?name=recibo.png"),
            &app.key,
            "image/png",
            &png,
            false,
        )
        .await;
    assert_eq!(attached.status, 201, "{}", attached.body);
    let attachment_id = attached.body["id"].as_str().unwrap();

    let listed = app.call(Method::GET, "/v1/calls", &other, None).await;
    assert_eq!(listed.status, 200);
    assert_eq!(listed.body["items"], json!([]));
    for path in [
        format!("/v1/calls/{call_id}"),
        format!("/v1/calls/{call_id}/audio"),
        format!("/v1/incidents/{incident_id}/attachments"),
        format!("/v1/incidents/{incident_id}/attachments/{attachment_id}"),
    ] {
        let reply = app.call(Method::GET, &path, &other, None).await;
        reply.assert_problem(404, "not-found");
    }
    // B cannot attach to A's PQR, nor link its call to it.
    let reply = app
        .upload(
            &format!("/v1/incidents/{incident_id}/attachments"),
            &other,
            "image/png",
            &png,
            false,
        )
        .await;
    reply.assert_problem(404, "not-found");
    let linked = upload_raw(
        &app,
        &other,
        &format!("{META}&incident_id={incident_id}"),
        &audio,
    )
    .await;
    linked.assert_problem(422, "validation");
    assert_eq!(linked.fields(), ["incident_id"]);
    // B's own upload of the same bytes is its own call; A still sees only its one.
    let own = upload_raw(&app, &other, META, &audio).await;
    assert_eq!(own.status, 201, "{}", own.body);
    assert_eq!(
        app.get("/v1/calls").await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let summary = app
        .call(Method::GET, "/v1/calls/quality", &other, None)
        .await;
    assert_eq!(summary.body["calls"], 1);
}

async fn calls_roles_follow_the_incident_permissions(backend: Backend) {
    let app = spawn_app(backend).await;
    let audio = fixture("speech-8k.wav");
    let viewer = app.key_with_role("viewer").await;
    let data = app.key_with_role("data").await;
    let channel = app.key_with_role("channel").await;
    let agent = app.key_with_role("agent").await;
    for key in [&viewer, &data] {
        upload_raw(&app, key, META, &audio)
            .await
            .assert_problem(403, "forbidden");
    }
    let mut ids = Vec::new();
    for key in [&channel, &agent] {
        let created = upload_raw(&app, key, META, &audio).await;
        assert_eq!(created.status, 201, "{}", created.body);
        ids.push(created.body["id"].as_str().unwrap().to_owned());
    }
    for key in [&viewer, &data, &channel, &agent] {
        let listed = app.call(Method::GET, "/v1/calls", key, None).await;
        assert_eq!(listed.status, 200);
        let (status, _, _) =
            get_bytes(&app, &format!("/v1/calls/{}/audio", ids[0]), key, None).await;
        assert_eq!(status, 200);
    }
    // The quality summary is a report: managers (viewer) and admins only.
    let summary = app
        .call(Method::GET, "/v1/calls/quality", &viewer, None)
        .await;
    assert_eq!(summary.status, 200, "{}", summary.body);
    app.call(Method::GET, "/v1/calls/quality", &agent, None)
        .await
        .assert_problem(403, "forbidden");
    let incident = app.new_incident(json!({})).await;
    let path = format!(
        "/v1/incidents/{}/attachments",
        incident["id"].as_str().unwrap()
    );
    app.upload(&path, &viewer, "text/plain", b"nota", false)
        .await
        .assert_problem(403, "forbidden");
    let reply = app
        .upload(
            &path,
            &agent,
            "text/plain",
            "nota del agente".as_bytes(),
            false,
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    // No key at all.
    let response = app
        .client
        .get(format!("{}/v1/calls", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

async fn calls_attachments_are_sniffed_stored_and_ranged(backend: Backend) {
    let app = spawn_with(backend, |config| config.max_attachment_bytes = 4_096).await;
    let incident = app.new_incident(json!({})).await;
    let base = format!(
        "/v1/incidents/{}/attachments",
        incident["id"].as_str().unwrap()
    );
    let pdf = b"%PDF-1.4\n% recibo de pago noviembre\n".repeat(20);
    // Multipart with a file name; the declared type is ignored, the bytes decide.
    let form = multipart(&[("file", Some("recibo.pdf"), &pdf)]);
    let created = post_multipart(&app, &base, &app.key, form).await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["media_type"], "application/pdf");
    assert_eq!(created.body["name"], "recibo.pdf");
    assert_eq!(created.body["sha256"], sha256(&pdf));
    let text = "El cliente adjunta su reclamo por escrito.".as_bytes();
    let note = app
        .upload(
            &format!("{base}?name=reclamo.txt"),
            &app.key,
            "application/octet-stream",
            text,
            false,
        )
        .await;
    assert_eq!(note.status, 201, "{}", note.body);
    assert_eq!(note.body["media_type"], "text/plain");
    let listed = app.get(&base).await;
    assert_eq!(listed.status, 200);
    let names: Vec<_> = listed
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].clone())
        .collect();
    assert_eq!(names, [json!("recibo.pdf"), json!("reclamo.txt")]);
    let location = created.headers["location"].to_str().unwrap().to_owned();
    let (status, headers, body) = get_bytes(&app, &location, &app.key, None).await;
    assert_eq!(status, 200);
    assert_eq!(body, pdf);
    assert_eq!(headers["content-type"], "application/pdf");
    let (status, _, body) = get_bytes(&app, &location, &app.key, Some("bytes=5-14")).await;
    assert_eq!(status, 206);
    assert_eq!(body, pdf[5..15]);
    // An executable is not an attachment; too large is 413; an unknown PQR is 404.
    let elf = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0".repeat(4);
    let refused = app.upload(&base, &app.key, "image/png", &elf, false).await;
    refused.assert_problem(415, "unsupported-media-type");
    assert!(refused.body["detail"].as_str().unwrap().contains("PDF"));
    let big = vec![b'a'; 5_000];
    app.upload(&base, &app.key, "text/plain", &big, false)
        .await
        .assert_problem(413, "payload-too-large");
    app.upload(
        "/v1/incidents/0190a5c4-0000-7000-8000-000000000000/attachments",
        &app.key,
        "text/plain",
        text,
        false,
    )
    .await
    .assert_problem(404, "not-found");
    assert_eq!(app.get(&base).await.body.as_array().unwrap().len(), 2);
}

async fn calls_retention_follows_the_tenant_setting(backend: Backend) {
    let app = spawn_app(backend).await;
    let audio = fixture("speech-8k.wav");
    let years_after = |call: &Value, years: i16| {
        let created: jiff::Timestamp = call["created_at"].as_str().unwrap().parse().unwrap();
        let until: jiff::Timestamp = call["retention_until"].as_str().unwrap().parse().unwrap();
        let expected = created
            .to_zoned(jiff::tz::TimeZone::UTC)
            .checked_add(jiff::Span::new().years(years))
            .unwrap()
            .timestamp();
        // Stored at millisecond precision.
        assert_eq!(until.as_millisecond(), expected.as_millisecond(), "{call}");
    };
    let created = upload_raw(&app, &app.key, META, &audio).await;
    assert_eq!(created.status, 201, "{}", created.body);
    years_after(&created.body, 10);

    let mut settings = app.get("/v1/tenants/me").await.body["settings"].clone();
    assert_eq!(settings["recordings"]["retention_years"], 10);
    settings["recordings"]["retention_years"] = json!(3);
    let updated = app
        .call(
            Method::PUT,
            "/v1/tenants/me/settings",
            &app.key,
            Some(settings.clone()),
        )
        .await;
    assert_eq!(updated.status, 200, "{}", updated.body);
    let other = upload_raw(&app, &app.key, META, &fixture("speech-16k.wav")).await;
    assert_eq!(other.status, 201, "{}", other.body);
    years_after(&other.body, 3);
    settings["recordings"]["retention_years"] = json!(0);
    let refused = app
        .call(
            Method::PUT,
            "/v1/tenants/me/settings",
            &app.key,
            Some(settings),
        )
        .await;
    refused.assert_problem(422, "validation");
    assert_eq!(refused.fields(), ["recordings.retention_years"]);
}

async fn calls_object_store_backend_serves_the_same_api(backend: Backend) {
    let app = spawn_with(backend, |config| config.blob_url = Some("memory://".into())).await;
    let audio = fixture("speech.flac");
    let created = upload_raw(&app, &app.key, META, &audio).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let again = upload_raw(&app, &app.key, META, &audio).await;
    assert_eq!(again.status, 201);
    assert_eq!(app.app().blobs.list().await.unwrap(), vec![sha256(&audio)]);
    let path = format!("/v1/calls/{}/audio", created.body["id"].as_str().unwrap());
    let (status, _, body) = get_bytes(&app, &path, &app.key, Some("bytes=-100")).await;
    assert_eq!(status, 206);
    assert_eq!(body, audio[audio.len() - 100..]);
    let report = abcall::store::blobs::verify::verify(&app.app().db, app.app().blobs.as_ref())
        .await
        .unwrap();
    assert_eq!(report.checked, 1);
    assert!(!report.is_damaged());
}

/// Against a real S3-compatible server on 127.0.0.1 (moto, started by `scripts/test`, which sets
/// `ABCALL_TEST_S3_ENDPOINT`); skipped when none is named.
async fn calls_s3_backend_serves_the_same_api(backend: Backend) {
    let Ok(endpoint) = std::env::var("ABCALL_TEST_S3_ENDPOINT") else {
        eprintln!(
            "ABCALL_TEST_S3_ENDPOINT is not set: skipping the S3 test (scripts/test sets it)"
        );
        return;
    };
    abcall::init_tls();
    // A bucket of this test's own.
    let bucket = format!(
        "abcall-{}",
        uuid::Uuid::now_v7().simple().to_string().to_lowercase()
    );
    let created = reqwest::Client::new()
        .put(format!("{endpoint}/{bucket}"))
        .send()
        .await
        .expect("the S3 server answers");
    assert!(created.status().is_success(), "{}", created.status());
    let url = format!(
        "s3://{bucket}/recordings?endpoint={endpoint}&allow_http=true&region=us-east-1\
         &access_key_id=test&secret_access_key=test"
    );
    let mut app = spawn_with(backend, |config| config.blob_url = Some(url)).await;
    let audio = fixture("speech.opus");
    let created = upload_raw(&app, &app.key, META, &audio).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let again = upload_raw(&app, &app.key, META, &audio).await;
    assert_eq!(again.status, 201);
    assert_eq!(app.app().blobs.list().await.unwrap(), vec![sha256(&audio)]);
    // The object is in the bucket under the prefix, named by its hash.
    let listing = reqwest::get(format!("{endpoint}/{bucket}?list-type=2"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        listing.contains(&format!("<Key>recordings/sha256/{}</Key>", sha256(&audio))),
        "{listing}"
    );
    let path = format!("/v1/calls/{}/audio", created.body["id"].as_str().unwrap());
    let (status, _, body) = get_bytes(&app, &path, &app.key, Some("bytes=10-99")).await;
    assert_eq!(status, 206);
    assert_eq!(body, audio[10..100]);
    // A restart reads the same bucket.
    app.restart(|_| {}).await;
    let (status, _, body) = get_bytes(&app, &path, &app.key, None).await;
    assert_eq!(status, 200);
    assert_eq!(body, audio);
    let report = abcall::store::blobs::verify::verify(&app.app().db, app.app().blobs.as_ref())
        .await
        .unwrap();
    assert_eq!(report.checked, 1);
    assert!(!report.is_damaged());
}

async fn calls_are_read_over_graphql_within_the_tenant(backend: Backend) {
    let app = spawn_app(backend).await;
    let created = upload_raw(&app, &app.key, META, &fixture("speech-8k-mulaw.wav")).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let rest = &created.body;
    let id = rest["id"].as_str().unwrap();
    let query = format!(
        "{{ call(id: \"{id}\") {{ id direction agent sha256 size codec sampleRate durationSecs \
           transcription quality {{ speechRatio snrDb poorAudio deadAir longHold }} }} \
           calls(filter: {{ direction: INBOUND }}) {{ items {{ id }} nextCursor }} \
           outbound: calls(filter: {{ direction: OUTBOUND }}) {{ items {{ id }} }} }}"
    );
    let reply = app
        .post("/graphql", serde_json::json!({ "query": query }))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(reply.body.get("errors").is_none(), "{}", reply.body);
    let data = &reply.body["data"];
    let call = &data["call"];
    assert_eq!(call["id"], rest["id"]);
    assert_eq!(call["direction"], "INBOUND");
    assert_eq!(call["agent"], rest["agent"]);
    assert_eq!(call["sha256"], rest["sha256"]);
    assert_eq!(call["size"], rest["size"]);
    assert_eq!(call["codec"], "pcm_mulaw");
    assert_eq!(call["sampleRate"], 8_000);
    assert_eq!(call["durationSecs"], rest["duration_secs"]);
    assert_eq!(call["transcription"], "not_requested");
    assert_eq!(
        call["quality"]["speechRatio"],
        rest["quality"]["speech_ratio"]
    );
    assert_eq!(call["quality"]["snrDb"], rest["quality"]["snr_db"]);
    assert_eq!(
        call["quality"]["poorAudio"],
        rest["quality"]["flags"]["poor_audio"]
    );
    assert_eq!(data["calls"]["items"], serde_json::json!([{ "id": id }]));
    assert_eq!(data["outbound"]["items"], serde_json::json!([]));

    // Another tenant's key reads null and an empty list.
    let other = app.other_tenant("Otra").await;
    let theirs = app
        .call(
            reqwest::Method::POST,
            "/graphql",
            &other,
            Some(serde_json::json!({ "query": query })),
        )
        .await;
    assert_eq!(theirs.status, 200, "{}", theirs.body);
    assert_eq!(theirs.body["data"]["call"], serde_json::Value::Null);
    assert_eq!(theirs.body["data"]["calls"]["items"], serde_json::json!([]));
}
