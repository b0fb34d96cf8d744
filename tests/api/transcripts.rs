//! Call transcription on the real Whisper base model (installed by `scripts/test`): a job per
//! uploaded call, the two sides of a stereo call kept apart, progress on the call, the PQR scored
//! again with what was said, resumption after a restart mid-transcription, and the failures a
//! client can act on (no model, unknown language, a second request while one runs).

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Backend, TestApp, spawn_with};

both_backends!(
    transcripts_a_stereo_call_is_transcribed_per_channel_and_rescores_its_pqr,
    transcripts_a_restart_mid_transcription_resumes_after_the_saved_windows,
    transcripts_failures_and_requeues_are_clear,
);

/// 16 kHz mono samples and the reference text of a clip in tests/data/speech.
fn clip(name: &str) -> (Vec<i16>, String) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/speech");
    let mut reader = hound::WavReader::open(dir.join(format!("{name}.wav"))).unwrap();
    assert_eq!(reader.spec().sample_rate, 16_000);
    let samples = reader.samples::<i16>().map(Result::unwrap).collect();
    let text = std::fs::read_to_string(dir.join(format!("{name}.txt"))).unwrap();
    (samples, text)
}

/// A 16-bit PCM WAV at 16 kHz with one channel per slice (shorter ones padded with silence).
fn wav(channels: &[&[i16]]) -> Vec<u8> {
    let spec = hound::WavSpec {
        channels: channels.len() as u16,
        sample_rate: 16_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let frames = channels.iter().map(|c| c.len()).max().unwrap_or(0);
    let mut out = std::io::Cursor::new(Vec::new());
    let mut writer = hound::WavWriter::new(&mut out, spec).unwrap();
    for i in 0..frames {
        for channel in channels {
            writer
                .write_sample(channel.get(i).copied().unwrap_or(0))
                .unwrap();
        }
    }
    writer.finalize().unwrap();
    out.into_inner()
}

async fn upload_call(app: &TestApp, query: &str, audio: &[u8]) -> Value {
    let path = format!(
        "/v1/calls?direction=inbound&started_at=2026-12-02T15:00:00Z\
         &ended_at=2026-12-02T15:01:00Z{query}"
    );
    let reply = app.upload(&path, &app.key, "audio/wav", audio, false).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.body
}

/// Polls the call until `done` says so (failing after five minutes).
async fn wait_for_call(app: &TestApp, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let call = app.get(&format!("/v1/calls/{id}")).await;
        assert_eq!(call.status, 200, "{}", call.body);
        if done(&call.body) {
            return call.body;
        }
        assert!(Instant::now() < deadline, "{}", call.body);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn word_error_rate(reference: &str, hypothesis: &str) -> f64 {
    abcall::ml::stt::wer::wer(reference, hypothesis)
}

async fn transcripts_a_stereo_call_is_transcribed_per_channel_and_rescores_its_pqr(
    backend: Backend,
) {
    let app = spawn_with(backend, |c| {
        c.transcribe_calls = true;
        c.stt_window_secs = 10;
    })
    .await;
    // A risk model, so PQRs are scored (and scored again once a call is transcribed).
    let csv = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("data/demo/pqr_labels.csv"))
        .unwrap();
    let dataset = app
        .upload(
            "/v1/datasets?name=pqr&kind=text_labels&text_column=texto&label_columns=riesgo",
            &app.key,
            "text/csv",
            &csv,
            false,
        )
        .await;
    assert_eq!(dataset.status, 201, "{}", dataset.body);
    let training = app
        .post(
            "/v1/models",
            json!({ "dataset_id": dataset.body["id"], "name": "risk" }),
        )
        .await;
    assert_eq!(training.status, 202, "{}", training.body);
    let trained = app
        .wait_for_job(training.body["id"].as_str().unwrap())
        .await;
    assert_eq!(trained["state"], "succeeded", "{trained}");
    let incident = app
        .new_incident(
            json!({ "subject": "Llamada de la clienta", "description": "Ver la grabación." }),
        )
        .await;
    let incident_id = incident["id"].as_str().unwrap();
    let insights_path = format!("/v1/incidents/{incident_id}/insights");
    let deadline = Instant::now() + Duration::from_secs(120);
    while app.get(&insights_path).await.body["status"] != "scored" {
        assert!(Instant::now() < deadline, "the PQR was never scored");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(app.get(&insights_path).await.body["transcripts"], 0);

    // Agent on the left, caller on the right: two voices, two texts.
    let (left, left_text) = clip("fleurs-es-000");
    let (right, right_text) = clip("picovoice-es");
    let call = upload_call(
        &app,
        &format!("&incident_id={incident_id}&agent=rosa.huaman"),
        &wav(&[&left, &right]),
    )
    .await;
    assert_eq!(call["transcription"], "pending", "{call}");
    assert_eq!(call["transcription_progress"], 0.0);
    let id = call["id"].as_str().unwrap();
    let job_id = call["transcription_job_id"].as_str().unwrap();
    let done = wait_for_call(&app, id, |c| {
        c["transcription"] != "pending" && c["transcription"] != "running"
    })
    .await;
    assert_eq!(done["transcription"], "done", "{done}");
    assert_eq!(done["transcription_progress"], 1.0);
    assert_eq!(done["language"], "es");

    let transcript = app.get(&format!("/v1/calls/{id}/transcript")).await;
    assert_eq!(transcript.status, 200, "{}", transcript.body);
    let segments = transcript.body["segments"].as_array().unwrap();
    let side = |channel: u64| {
        segments
            .iter()
            .filter(|s| s["channel"] == channel)
            .map(|s| s["text"].as_str().unwrap())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let (agent, caller) = (side(0), side(1));
    assert!(word_error_rate(&left_text, &agent) < 0.3, "{agent}");
    // Whisper base hears this clip as "…son blancasinas de grano medio y tienen muy pocas
    // estésias" (4 of 12 words wrong), alone or as a channel of a stereo call.
    assert!(word_error_rate(&right_text, &caller) < 0.45, "{caller}");
    assert!(
        caller.contains("grano medio") && !agent.contains("arenas"),
        "{caller}"
    );
    // Times are from the start of the call, in order, within the recording.
    let mut last = 0;
    for segment in segments {
        let (start, end) = (
            segment["start_ms"].as_u64().unwrap(),
            segment["end_ms"].as_u64().unwrap(),
        );
        assert!(start <= end && end <= 12_900 && start >= last, "{segment}");
        last = start;
    }
    let text = transcript.body["text"].as_str().unwrap();
    assert!(
        text.contains("viajeros") && text.contains("arenas"),
        "{text}"
    );

    // What was said is searchable, by the call's agent too.
    let found = app
        .get("/v1/search?q=VIAJEROS%20arenas&kind=call&agent=rosa.huaman")
        .await;
    assert_eq!(found.status, 200, "{}", found.body);
    let hits = found.body["items"].as_array().unwrap();
    assert_eq!(hits.len(), 1, "{}", found.body);
    assert_eq!(hits[0]["id"], id);
    assert_eq!(hits[0]["incident_id"], incident_id);
    assert_eq!(hits[0]["title"], "Llamada entrante");

    // The 12.8 s stereo call is two windows per channel; the job says so.
    let job = app.wait_for_job(job_id).await;
    assert_eq!(job["result"]["channels"], 2, "{job}");
    assert_eq!(job["result"]["windows"], 4, "{job}");
    assert_eq!(job["result"]["resumed_from_window"], 0, "{job}");
    assert_eq!(job["progress"]["done"], 4, "{job}");

    // The PQR was scored again, this time reading the call's transcript.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let insights = app.get(&insights_path).await.body;
        if insights["transcripts"] == 1 {
            assert!(insights["risk"]["label"].is_string(), "{insights}");
            break;
        }
        assert!(Instant::now() < deadline, "not scored again: {insights}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn transcripts_a_restart_mid_transcription_resumes_after_the_saved_windows(backend: Backend) {
    let mut app = spawn_with(backend, |c| {
        c.transcribe_calls = true;
        c.stt_window_secs = 5;
    })
    .await;
    // The same 12.8 s clip three times: about eight five-second windows.
    let (samples, reference) = clip("fleurs-es-000");
    let long: Vec<i16> = [&samples[..], &samples[..], &samples[..]].concat();
    let call = upload_call(&app, "", &wav(&[&long])).await;
    let id = call["id"].as_str().unwrap().to_owned();
    let job_id = call["transcription_job_id"].as_str().unwrap().to_owned();

    // Stop the service once a window is saved (the job's checkpoint names the next one) and more
    // are left, as a deployment would.
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let job = app.get(&format!("/v1/jobs/{job_id}")).await.body;
        if job["progress"]["done"].as_u64().unwrap_or(0) >= 1 {
            assert_eq!(
                job["state"], "running",
                "finished before the restart: {job}"
            );
            assert!(
                job["progress"]["done"].as_u64() < job["progress"]["total"].as_u64(),
                "{job}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "{job}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let partial = app.get(&format!("/v1/calls/{id}")).await.body;
    assert_eq!(partial["transcription"], "running", "{partial}");
    assert!(
        partial["transcription_progress"].as_f64().unwrap() > 0.0,
        "{partial}"
    );
    let saved = app.get(&format!("/v1/calls/{id}/transcript")).await.body;
    assert!(!saved["segments"].as_array().unwrap().is_empty(), "{saved}");
    assert!(saved["text"].is_null(), "{saved}");
    app.restart(|_| {}).await;

    let job = app.wait_for_job(&job_id).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    let windows = job["result"]["windows"].as_u64().unwrap();
    let resumed = job["result"]["resumed_from_window"].as_u64().unwrap();
    assert!((6..=10).contains(&windows), "{job}");
    assert!(resumed >= 1 && resumed < windows, "started over: {job}");
    let transcript = app.get(&format!("/v1/calls/{id}/transcript")).await.body;
    assert_eq!(transcript["state"], "done", "{transcript}");
    let text = transcript["text"].as_str().unwrap();
    let expected = [reference.trim(), reference.trim(), reference.trim()].join(" ");
    let wer = word_error_rate(&expected, text);
    assert!(wer < 0.35, "WER {wer}: {text}");
    // Nothing from the first run is doubled: segments are in order and do not overlap much.
    let segments = transcript["segments"].as_array().unwrap();
    for pair in segments.windows(2) {
        assert!(
            pair[1]["start_ms"].as_u64() >= pair[0]["start_ms"].as_u64(),
            "{pair:?}"
        );
    }
}

async fn transcripts_failures_and_requeues_are_clear(backend: Backend) {
    // No workers at first: the queued job waits.
    let mut app = spawn_with(backend, |c| {
        c.transcribe_calls = true;
        c.job_workers = 0;
    })
    .await;
    let (samples, _) = clip("fleurs-es-000");
    let audio = wav(&[&samples]);
    let call = upload_call(&app, "", &audio).await;
    let id = call["id"].as_str().unwrap().to_owned();
    assert_eq!(call["transcription"], "pending");
    let again = app
        .post(&format!("/v1/calls/{id}/transcription"), json!({}))
        .await;
    again.assert_problem(409, "conflict");
    let bad = app
        .post(
            &format!("/v1/calls/{id}/transcription"),
            json!({ "language": "castellano" }),
        )
        .await;
    bad.assert_problem(422, "validation");
    assert_eq!(bad.fields(), ["language"]);
    let transcript = app.get(&format!("/v1/calls/{id}/transcript")).await.body;
    assert_eq!(transcript["state"], "pending");
    assert_eq!(transcript["segments"], json!([]));

    // A server without the model fails the job with what to do about it.
    let empty_models = tempfile::tempdir().unwrap();
    let models = empty_models.path().to_owned();
    app.restart(move |c| {
        c.job_workers = 1;
        c.models_dir = models;
    })
    .await;
    let failed = wait_for_call(&app, &id, |c| c["transcription"] == "failed").await;
    let reason = failed["transcription_error"].as_str().unwrap();
    assert!(
        reason.contains("abcall models install whisper-base"),
        "{reason}"
    );

    // Once the model is there, the call is queued again; a language Whisper does not know fails
    // with that reason, and `auto` detects Spanish.
    app.restart(|c| c.models_dir = crate::helpers::models_dir())
        .await;
    let queued = app
        .post(
            &format!("/v1/calls/{id}/transcription"),
            json!({ "language": "zz" }),
        )
        .await;
    assert_eq!(queued.status, 202, "{}", queued.body);
    let failed = wait_for_call(&app, &id, |c| c["transcription"] == "failed").await;
    assert!(
        failed["transcription_error"]
            .as_str()
            .unwrap()
            .contains("zz"),
        "{failed}"
    );
    let queued = app
        .post(
            &format!("/v1/calls/{id}/transcription"),
            json!({ "language": "auto" }),
        )
        .await;
    assert_eq!(queued.status, 202, "{}", queued.body);
    assert_eq!(queued.body["kind"], "transcribe_call");
    let done = wait_for_call(&app, &id, |c| {
        c["transcription"] == "done" || c["transcription"] == "failed"
    })
    .await;
    assert_eq!(done["transcription"], "done", "{done}");
    assert_eq!(done["language"], "es");
    // A viewer may read the transcript but not queue one.
    let viewer = app.key_with_role("viewer").await;
    let read = app
        .call(
            reqwest::Method::GET,
            &format!("/v1/calls/{id}/transcript"),
            &viewer,
            None,
        )
        .await;
    assert_eq!(read.status, 200, "{}", read.body);
    assert!(read.body["text"].as_str().unwrap().contains("viajeros"));
    let refused = app
        .call(
            reqwest::Method::POST,
            &format!("/v1/calls/{id}/transcription"),
            &viewer,
            Some(json!({})),
        )
        .await;
    refused.assert_problem(403, "forbidden");
}
