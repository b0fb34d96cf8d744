//! Knowledge-base imports and the job queue behind them: files validated whole before anything is
//! stored, progress and results on the job, cancellation, resumption after a restart or a dead
//! worker, and jobs kept within their tenant and role.

use reqwest::Method;
use serde_json::json;

use crate::both_backends;
use crate::helpers::{Backend, spawn_app, spawn_with};

both_backends!(
    a_csv_import_runs_as_a_job_and_becomes_searchable,
    a_bad_file_is_rejected_by_line_and_stores_nothing,
    queued_jobs_can_be_cancelled_and_survive_a_restart,
    a_job_whose_worker_died_is_resumed,
    a_running_import_stops_when_cancelled,
);

/// Bitext-style export: the title and body come from columns with other names.
const BITEXT_CSV: &str = "flags,instruction,category,intent,response\n\
B,quiero cancelar mi pedido,ORDER,cancel_order,\"Para cancelar su pedido, ingrese a Mis pedidos y elija Cancelar.\"\n\
B,cancela el pedido 123,ORDER,cancel_order,\"Otra respuesta para la misma intención.\"\n\
B,mi factura tiene un cobro doble,INVOICE,check_invoice,\"Si ve un cobro duplicado en su factura, presente un reclamo y le devolveremos el monto.\"\n\
B,no tengo internet,TECH,internet_down,\"Reinicie el módem: desconéctelo 30 segundos. Si la luz LOS está roja programaremos una visita técnica.\"\n";

fn bitext_query() -> String {
    "?title_column=intent&body_column=response&external_id_column=intent&category_column=category"
        .to_owned()
}

async fn a_csv_import_runs_as_a_job_and_becomes_searchable(backend: Backend) {
    let app = spawn_app(backend).await;
    let path = format!("/v1/kb/imports{}", bitext_query());
    let reply = app
        .upload(&path, &app.key, "text/csv", BITEXT_CSV.as_bytes(), true)
        .await;
    assert_eq!(reply.status, 202, "{}", reply.body);
    let id = reply.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        reply.headers["location"].to_str().unwrap(),
        format!("/v1/jobs/{id}")
    );
    assert_eq!(reply.body["kind"], "kb_import");

    let job = app.wait_for_job(&id).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(
        job["result"],
        json!({ "articles": 3, "created": 3, "replaced": 0, "skipped_duplicates": 1 })
    );
    assert_eq!(job["progress"]["done"], 3);
    assert_eq!(job["progress"]["total"], 3);

    let found = app
        .post(
            "/v1/kb/search",
            json!({ "query": "me cobraron dos veces en el recibo", "k": 1 }),
        )
        .await;
    assert_eq!(found.status, 200, "{}", found.body);
    assert_eq!(
        found.body[0]["external_id"], "check_invoice",
        "{}",
        found.body
    );

    // Re-running the same import replaces instead of duplicating.
    let again = app
        .upload(&path, &app.key, "text/csv", BITEXT_CSV.as_bytes(), false)
        .await;
    let job = app.wait_for_job(again.body["id"].as_str().unwrap()).await;
    assert_eq!(job["result"]["replaced"], 3, "{job}");
    let articles = app.get("/v1/kb/articles").await;
    assert_eq!(articles.body["items"].as_array().unwrap().len(), 3);

    // JSON Lines works the same way.
    let lines = "{\"title\":\"Portabilidad\",\"body\":\"Lleve su número a otro operador con su DNI.\",\"tags\":[\"movil\"]}\n";
    let reply = app
        .upload(
            "/v1/kb/imports",
            &app.key,
            "application/x-ndjson",
            lines.as_bytes(),
            false,
        )
        .await;
    assert_eq!(reply.status, 202, "{}", reply.body);
    let job = app.wait_for_job(reply.body["id"].as_str().unwrap()).await;
    assert_eq!(job["result"]["created"], 1, "{job}");

    // Jobs stay within their tenant and role.
    let other = app.other_tenant("Tenant B").await;
    let listed = app.call(Method::GET, "/v1/jobs", &other, None).await;
    assert_eq!(listed.body["items"], json!([]));
    app.call(Method::GET, &format!("/v1/jobs/{id}"), &other, None)
        .await
        .assert_problem(404, "not-found");
    let mine = app.get("/v1/jobs?kind=kb_import").await;
    assert_eq!(mine.body["items"].as_array().unwrap().len(), 3);
    let viewer = app.key_with_role("viewer").await;
    let seen = app
        .call(Method::GET, &format!("/v1/jobs/{id}"), &viewer, None)
        .await;
    assert_eq!(seen.status, 200);
    app.call(
        Method::POST,
        &format!("/v1/jobs/{id}/cancel"),
        &viewer,
        None,
    )
    .await
    .assert_problem(403, "forbidden");
    app.upload(&path, &viewer, "text/csv", BITEXT_CSV.as_bytes(), false)
        .await
        .assert_problem(403, "forbidden");
    app.get("/v1/jobs?kind=training")
        .await
        .assert_problem(422, "validation");
    // A finished job cannot be cancelled.
    app.post(&format!("/v1/jobs/{id}/cancel"), json!({}))
        .await
        .assert_problem(409, "conflict");
}

async fn a_bad_file_is_rejected_by_line_and_stores_nothing(backend: Backend) {
    let app = spawn_with(backend, |c| c.max_upload_bytes = 4_096).await;
    let bad = "title,body,tags\nMódem,Reinicie el módem.,internet\n,Sin título,\nSin cuerpo,,\n";
    let reply = app
        .upload(
            "/v1/kb/imports",
            &app.key,
            "text/csv",
            bad.as_bytes(),
            false,
        )
        .await;
    reply.assert_problem(422, "validation");
    let errors = reply.body["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2, "{}", reply.body);
    assert_eq!(errors[0]["line"], 3);
    assert_eq!(errors[0]["field"], "title");
    assert_eq!(errors[1]["line"], 4);
    assert_eq!(errors[1]["field"], "body");

    let reply = app
        .upload(
            "/v1/kb/imports?body_column=texto",
            &app.key,
            "text/csv",
            b"title,body\na,b\n",
            false,
        )
        .await;
    reply.assert_problem(422, "validation");
    assert_eq!(reply.fields(), vec!["body_column"]);

    app.upload("/v1/kb/imports", &app.key, "text/plain", b"hola", false)
        .await
        .assert_problem(415, "unsupported-media-type");
    let big = format!("title,body\nGrande,{}\n", "x".repeat(5_000));
    app.upload(
        "/v1/kb/imports",
        &app.key,
        "text/csv",
        big.as_bytes(),
        false,
    )
    .await
    .assert_problem(413, "payload-too-large");
    // Small on the wire, too large once decompressed.
    app.upload("/v1/kb/imports", &app.key, "text/csv", big.as_bytes(), true)
        .await
        .assert_problem(413, "payload-too-large");
    app.upload("/v1/kb/imports", &app.key, "text/csv", b"", false)
        .await
        .assert_problem(422, "validation");
    app.upload(
        "/v1/kb/imports",
        &app.key,
        "application/x-ndjson",
        b"{\"title\": \"a\", \"body\": \"b\", \"extra\": 1}\n",
        false,
    )
    .await
    .assert_problem(422, "validation");

    assert_eq!(app.get("/v1/jobs").await.body["items"], json!([]));
    assert_eq!(app.get("/v1/kb/articles").await.body["items"], json!([]));
}

async fn queued_jobs_can_be_cancelled_and_survive_a_restart(backend: Backend) {
    // No workers: jobs stay queued until the restart.
    let mut app = spawn_with(backend, |c| c.job_workers = 0).await;
    let path = format!("/v1/kb/imports{}", bitext_query());
    let kept = app
        .upload(&path, &app.key, "text/csv", BITEXT_CSV.as_bytes(), false)
        .await;
    let kept = kept.body["id"].as_str().unwrap().to_owned();
    let dropped = app
        .upload(&path, &app.key, "text/csv", BITEXT_CSV.as_bytes(), false)
        .await;
    let dropped = dropped.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        app.get(&format!("/v1/jobs/{kept}")).await.body["state"],
        "queued"
    );

    let cancelled = app
        .post(&format!("/v1/jobs/{dropped}/cancel"), json!({}))
        .await;
    assert_eq!(cancelled.status, 200, "{}", cancelled.body);
    assert_eq!(cancelled.body["state"], "cancelled");
    app.post(&format!("/v1/jobs/{dropped}/cancel"), json!({}))
        .await
        .assert_problem(409, "conflict");

    app.restart(|c| c.job_workers = 1).await;
    let job = app.wait_for_job(&kept).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(job["attempts"], 1);
    assert_eq!(
        app.get(&format!("/v1/jobs/{dropped}")).await.body["state"],
        "cancelled"
    );
    assert_eq!(
        app.get("/v1/kb/articles").await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
}

async fn a_job_whose_worker_died_is_resumed(backend: Backend) {
    let mut app = spawn_with(backend, |c| c.job_workers = 0).await;
    let path = format!("/v1/kb/imports{}", bitext_query());
    let reply = app
        .upload(&path, &app.key, "text/csv", BITEXT_CSV.as_bytes(), false)
        .await;
    let id = reply.body["id"].as_str().unwrap().to_owned();
    // A worker of another process claims it and dies holding a short lease.
    let claimed = abcall::store::jobs::claim(&app.app().db, "dead-worker", 300)
        .await
        .unwrap()
        .expect("the queued job");
    assert_eq!(claimed.id, id);
    assert_eq!(
        app.get(&format!("/v1/jobs/{id}")).await.body["state"],
        "running"
    );

    app.restart(|c| {
        c.job_workers = 1;
        c.job_lease_secs = 1;
    })
    .await;
    let job = app.wait_for_job(&id).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(job["attempts"], 2, "{job}");
}

async fn a_running_import_stops_when_cancelled(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut csv = String::from("external_id,title,body\n");
    for i in 0..400 {
        csv.push_str(&format!(
            "A-{i},Artículo {i},\"Texto del artículo número {i} sobre facturación y cobros.\"\n"
        ));
    }
    let reply = app
        .upload(
            "/v1/kb/imports",
            &app.key,
            "text/csv",
            csv.as_bytes(),
            false,
        )
        .await;
    let id = reply.body["id"].as_str().unwrap().to_owned();
    // Wait until it has done some work, then cancel it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let job = app.get(&format!("/v1/jobs/{id}")).await.body;
        if job["progress"]["done"].as_i64().unwrap_or(0) > 0 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{job}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let asked = app.post(&format!("/v1/jobs/{id}/cancel"), json!({})).await;
    assert_eq!(asked.status, 200, "{}", asked.body);
    assert_eq!(asked.body["cancel_requested"], true);
    let job = app.wait_for_job(&id).await;
    assert_eq!(job["state"], "cancelled", "{job}");
    let done = job["progress"]["done"].as_i64().unwrap();
    assert!(done > 0 && done < 400, "{job}");
    // What was saved before the stop stays, searchable and consistent.
    let mut stored = 0;
    let mut cursor = String::new();
    loop {
        let page = app
            .get(&format!("/v1/kb/articles?limit=200{cursor}"))
            .await
            .body;
        stored += page["items"].as_array().unwrap().len();
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    assert!(
        stored >= done as usize && stored < 400,
        "{stored} stored, {done} done"
    );
}
