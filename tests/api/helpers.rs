//! Starts the real service on 127.0.0.1:0 over a fresh database per test, on SQLite or
//! PostgreSQL, and talks to it over HTTP like any client would.

use std::sync::Arc;

use abcall::App;
use abcall::config::Config;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Which store a test runs against. PostgreSQL comes from `ABCALL_TEST_POSTGRES_URL`
/// (default `postgres://postgres@127.0.0.1:5432/test`); each test gets its own database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs one async test body against both backends.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::helpers::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name($crate::helpers::Backend::Postgres).await
            }
        }
    )*};
}

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    /// Admin key of the test's first tenant.
    pub key: String,
    server: Option<abcall::testkit::Running>,
    /// What the server was started with, to restart it over the same data.
    config: Config,
    _dir: tempfile::TempDir,
}

impl Drop for TestApp {
    /// Waits for the server to release the app before the data directory is removed, so the
    /// vector index can flush into a directory that still exists.
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            tokio::task::block_in_place(|| {
                tokio::runtime::Handle::current().block_on(server.stop());
            });
        }
    }
}

pub fn postgres_base_url() -> String {
    std::env::var("ABCALL_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// Installed models (`scripts/test` installs them into `ABCALL_MODELS_DIR`).
pub fn models_dir() -> std::path::PathBuf {
    std::env::var_os("ABCALL_MODELS_DIR")
        .map(Into::into)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/cache")
        })
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_with(backend, |_| {}).await
}

/// Like [`spawn_app`], with a chance to adjust the configuration.
pub async fn spawn_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> TestApp {
    // reqwest's TLS is built without a crypto provider; the service installs ring.
    abcall::init_tls();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = Config {
        data_dir: dir.path().to_owned(),
        db_max_connections: 8,
        models_dir: models_dir(),
        // Whisper jobs for every uploaded call would only slow the suite down; the tests of
        // transcription (tests/api/transcripts.rs) turn it on.
        transcribe_calls: false,
        ..Config::default()
    };
    if backend == Backend::Postgres {
        let base = postgres_base_url();
        let url = abcall::testkit::fresh_postgres_database(&base)
            .await
            .unwrap_or_else(|e| {
                panic!("PostgreSQL at {base} is needed for the postgres tests: {e}")
            });
        config.database_url = Some(url);
    }
    adjust(&mut config);
    let server = abcall::testkit::start(config.clone())
        .await
        .expect("app starts");
    let (_, key) = abcall::store::tenants::create_tenant(&server.app.db, "Tenant A")
        .await
        .expect("tenant");
    TestApp {
        base: server.base.clone(),
        client: reqwest::Client::new(),
        key: key.secret,
        server: Some(server),
        config,
        _dir: dir,
    }
}

/// A response reduced to what tests look at.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    /// The fields named in a problem's `errors`.
    pub fn fields(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .map(|errors| {
                errors
                    .iter()
                    .map(|e| e["field"].as_str().unwrap_or_default().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Asserts an RFC 9457 problem with this status and type slug.
    pub fn assert_problem(&self, status: u16, slug: &str) {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
        let content_type = self.headers["content-type"].to_str().unwrap();
        assert_eq!(
            content_type, "application/problem+json",
            "body: {}",
            self.body
        );
        assert_eq!(
            self.body["type"],
            format!("/problems/{slug}"),
            "body: {}",
            self.body
        );
        assert_eq!(self.body["status"], status);
        assert!(self.body["detail"].as_str().is_some_and(|d| !d.is_empty()));
    }
}

impl TestApp {
    pub fn app(&self) -> &Arc<App> {
        &self.server.as_ref().expect("server runs until drop").app
    }

    pub async fn call(&self, method: Method, path: &str, key: &str, body: Option<Value>) -> Reply {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        reply(request.send().await.expect("request sent")).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, &self.key, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.call(Method::POST, path, &self.key, Some(body)).await
    }

    /// The server's data directory (SQLite file, embedded vector shard).
    pub fn data_dir(&self) -> &std::path::Path {
        &self.config.data_dir
    }

    /// Stops the server (as a deployment would: workers put running jobs back in the queue) and
    /// starts a new one over the same database and data directory, adjusted by `adjust`.
    pub async fn restart(&mut self, adjust: impl FnOnce(&mut Config)) {
        if let Some(server) = self.server.take() {
            server.stop().await;
        }
        adjust(&mut self.config);
        let server = abcall::testkit::start(self.config.clone())
            .await
            .expect("app restarts");
        self.base = server.base.clone();
        self.server = Some(server);
    }

    /// Sends a file body (`gzip`ped on the wire if asked) with its content type.
    pub async fn upload(
        &self,
        path: &str,
        key: &str,
        content_type: &str,
        body: &[u8],
        gzip: bool,
    ) -> Reply {
        let mut request = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(key)
            .header("content-type", content_type);
        if gzip {
            use std::io::Write;
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            encoder.write_all(body).expect("gzip in memory");
            request = request
                .header("content-encoding", "gzip")
                .body(encoder.finish().expect("gzip in memory"));
        } else {
            request = request.body(body.to_vec());
        }
        reply(request.send().await.expect("request sent")).await
    }

    /// Polls a job until it has finished (failing after five minutes) and returns it.
    pub async fn wait_for_job(&self, id: &str) -> Value {
        self.wait_for_job_as(id, &self.key).await
    }

    /// [`Self::wait_for_job`] with another tenant's or role's key.
    pub async fn wait_for_job_as(&self, id: &str, key: &str) -> Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
        loop {
            let job = self
                .call(Method::GET, &format!("/v1/jobs/{id}"), key, None)
                .await;
            assert_eq!(job.status, 200, "{}", job.body);
            let state = job.body["state"].as_str().unwrap_or_default().to_owned();
            if ["succeeded", "failed", "cancelled"].contains(&state.as_str()) {
                return job.body;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "job {id} still {state}: {}",
                job.body
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    /// Creates another tenant and returns its admin key.
    pub async fn other_tenant(&self, name: &str) -> String {
        abcall::store::tenants::create_tenant(&self.app().db, name)
            .await
            .expect("second tenant")
            .1
            .secret
    }

    /// Issues a key of `role` for the first tenant.
    pub async fn key_with_role(&self, role: &str) -> String {
        let reply = self
            .post(
                "/v1/tenants/me/keys",
                json!({ "name": format!("{role} key"), "role": role }),
            )
            .await;
        assert_eq!(reply.status, 201, "{}", reply.body);
        reply.body["secret"].as_str().unwrap().to_owned()
    }

    /// Registers a PQR with sensible defaults merged with `overrides`.
    pub async fn new_incident(&self, overrides: Value) -> Value {
        let mut body = json!({
            "channel": "phone",
            "kind": "reclamo",
            "subject": "Internet caído desde ayer",
            "description": "El cliente reporta que no tiene servicio de internet desde ayer por la tarde.",
            "location": { "region": "Perú", "department": "Lima", "province": "Lima", "district": "Miraflores" }
        });
        for (k, v) in overrides.as_object().unwrap() {
            body[k] = v.clone();
        }
        let reply = self.post("/v1/incidents", body).await;
        assert_eq!(reply.status, 201, "{}", reply.body);
        reply.body
    }

    pub async fn new_customer(&self, external_id: &str) -> Value {
        let reply = self
            .post(
                "/v1/customers",
                json!({ "external_id": external_id, "name": "María Quispe", "phone": "+51987654321" }),
            )
            .await;
        assert_eq!(reply.status, 201, "{}", reply.body);
        reply.body
    }

    /// Moves a PQR; the step must succeed.
    pub async fn move_to(&self, id: &str, step: Value) -> Value {
        let reply = self
            .post(&format!("/v1/incidents/{id}/transitions"), step)
            .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.body
    }
}

pub async fn reply(response: reqwest::Response) -> Reply {
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.expect("body");
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    Reply {
        status,
        headers,
        body,
    }
}
