//! Service configuration: defaults, then an optional TOML file, then `ABCALL_*` environment
//! variables (highest precedence). One struct, read once at start-up.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Pretty,
    Json,
}

/// How SQLite makes commits durable (its `synchronous` setting in WAL mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SqliteSync {
    /// fsync at every commit: an accepted PQR survives a power cut.
    #[default]
    Full,
    /// fsync at checkpoints only: faster; a crash of the process loses nothing, a power cut may
    /// lose the last commits.
    Normal,
}

impl SqliteSync {
    pub fn pragma(self) -> &'static str {
        match self {
            SqliteSync::Full => "FULL",
            SqliteSync::Normal => "NORMAL",
        }
    }
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address the HTTP server binds (`ABCALL_BIND`).
    pub bind: SocketAddr,
    /// Where embedded state lives: the SQLite file, later vector shards and blobs (`ABCALL_DATA_DIR`).
    pub data_dir: PathBuf,
    /// `postgres://…` for PostgreSQL, `sqlite://…` for a specific SQLite file; unset means
    /// `<data_dir>/abcall.db` (`ABCALL_DATABASE_URL`). May hold a password: never logged.
    pub database_url: Option<String>,
    /// Where installed model files live (`ABCALL_MODELS_DIR`).
    pub models_dir: PathBuf,
    pub log_format: LogFormat,
    /// Largest accepted request body in bytes (`ABCALL_MAX_BODY_BYTES`).
    pub max_body_bytes: usize,
    /// Per-request time limit in seconds (`ABCALL_REQUEST_TIMEOUT_SECS`).
    pub request_timeout_secs: u64,
    /// Connections to the database, readers (`ABCALL_DB_MAX_CONNECTIONS`).
    pub db_max_connections: u32,
    /// SQLite commit durability, `full` or `normal` (`ABCALL_SQLITE_SYNC`).
    pub sqlite_sync: SqliteSync,
    /// Largest accepted upload (knowledge-base imports, datasets) in bytes, after gzip
    /// decompression (`ABCALL_MAX_UPLOAD_BYTES`).
    pub max_upload_bytes: usize,
    /// Background workers running jobs in this process (`ABCALL_JOB_WORKERS`; 0 runs none).
    pub job_workers: usize,
    /// A worker renews its claim on a job this often (÷3); a job whose worker died is taken up
    /// again after this many seconds (`ABCALL_JOB_LEASE_SECS`).
    pub job_lease_secs: u64,
    /// A Qdrant server's gRPC URL, e.g. `http://127.0.0.1:6334`; unset keeps vectors in the
    /// embedded qdrant-edge shard under `data_dir` (`ABCALL_QDRANT_URL`).
    pub qdrant_url: Option<String>,
    /// The collection on that server holding every tenant's chunks (`ABCALL_QDRANT_COLLECTION`).
    pub qdrant_collection: String,
    /// Where recordings and attachments are stored: unset keeps files under `data_dir/blobs`;
    /// `file:///path` or `memory://` use the object_store backend (`ABCALL_BLOB_URL`).
    pub blob_url: Option<String>,
    /// Largest call recording accepted, in bytes (`ABCALL_MAX_AUDIO_BYTES`).
    pub max_audio_bytes: u64,
    /// Largest PQR attachment accepted, in bytes (`ABCALL_MAX_ATTACHMENT_BYTES`).
    pub max_attachment_bytes: u64,
    /// Queue a speech-to-text job with every uploaded call (`ABCALL_TRANSCRIBE_CALLS`); when off,
    /// calls are transcribed only when asked (`POST /v1/calls/{id}/transcription`).
    pub transcribe_calls: bool,
    /// CPU threads Whisper uses per call; 0 means every core (`ABCALL_STT_THREADS`).
    pub stt_threads: usize,
    /// Length of the windows a recording is transcribed in, 5 to 300 seconds: the unit of
    /// progress and of resumption after a restart (`ABCALL_STT_WINDOW_SECS`).
    pub stt_window_secs: u32,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from(".abcall"),
            database_url: None,
            models_dir: PathBuf::from("models/cache"),
            log_format: LogFormat::Pretty,
            max_body_bytes: 32 * 1024 * 1024,
            request_timeout_secs: 30,
            db_max_connections: 16,
            sqlite_sync: SqliteSync::Full,
            max_upload_bytes: 256 * 1024 * 1024,
            job_workers: 1,
            job_lease_secs: 30,
            qdrant_url: None,
            qdrant_collection: "abcall_kb".into(),
            blob_url: None,
            max_audio_bytes: 512 * 1024 * 1024,
            max_attachment_bytes: 25 * 1024 * 1024,
            transcribe_calls: true,
            stt_threads: 0,
            stt_window_secs: 30,
        }
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("bind", &self.bind)
            .field("data_dir", &self.data_dir)
            .field(
                "database_url",
                &self.database_url.as_deref().map(redact_url),
            )
            .field("models_dir", &self.models_dir)
            .field("log_format", &self.log_format)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("request_timeout_secs", &self.request_timeout_secs)
            .field("db_max_connections", &self.db_max_connections)
            .field("sqlite_sync", &self.sqlite_sync)
            .field("max_upload_bytes", &self.max_upload_bytes)
            .field("job_workers", &self.job_workers)
            .field("job_lease_secs", &self.job_lease_secs)
            .field("qdrant_url", &self.qdrant_url.as_deref().map(redact_url))
            .field("qdrant_collection", &self.qdrant_collection)
            .field("blob_url", &self.blob_url.as_deref().map(redact_url))
            .field("max_audio_bytes", &self.max_audio_bytes)
            .field("max_attachment_bytes", &self.max_attachment_bytes)
            .field("transcribe_calls", &self.transcribe_calls)
            .field("stt_threads", &self.stt_threads)
            .field("stt_window_secs", &self.stt_window_secs)
            .finish()
    }
}

/// Hides a password in `scheme://user:password@host/...`, and the values of query options that
/// look like credentials (`?secret_access_key=…`, `token`, `password`, `key`).
pub fn redact_url(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let mut out = match (base.find("://"), base.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &base[scheme_end + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &base[..scheme_end + 3], &base[at..]),
                None => base.to_owned(),
            }
        }
        _ => base.to_owned(),
    };
    if let Some(query) = query {
        let options: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _))
                    if ["secret", "token", "password", "key"]
                        .iter()
                        .any(|word| key.to_ascii_lowercase().contains(word)) =>
                {
                    format!("{key}=***")
                }
                _ => pair.to_owned(),
            })
            .collect();
        out.push('?');
        out.push_str(&options.join("&"));
    }
    out
}

#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(#[from] Box<figment::Error>);

impl Config {
    /// Defaults, then `file` (if given), then the environment.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            figment = figment.merge(Toml::file_exact(file));
        }
        // Only the variables that name a field: ABCALL_CONFIG, ABCALL_TEST_* and future
        // variables of other tools must not make start-up fail, while a typo in the file does.
        let fields: Vec<String> = match serde_json::to_value(Config::default()) {
            Ok(serde_json::Value::Object(map)) => map.keys().cloned().collect(),
            _ => Vec::new(),
        };
        figment
            .merge(
                Env::prefixed("ABCALL_")
                    .filter(move |key| fields.iter().any(|f| key.as_str().eq_ignore_ascii_case(f))),
            )
            .extract::<Config>()
            .map_err(|e| ConfigError(Box::new(e)))
            .and_then(Config::checked)
    }

    /// Refuses values the service cannot work with, naming the setting.
    fn checked(self) -> Result<Config, ConfigError> {
        if !(5..=300).contains(&self.stt_window_secs) {
            return Err(ConfigError(Box::new(figment::Error::from(format!(
                "stt_window_secs must be between 5 and 300, not {}",
                self.stt_window_secs
            )))));
        }
        Ok(self)
    }

    /// Whisper's threads per call: the setting, or every core.
    pub fn stt_threads(&self) -> usize {
        match self.stt_threads {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n,
        }
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db:5432/abcall"),
            "postgres://app:***@db:5432/abcall"
        );
        assert_eq!(
            redact_url("postgres://app@db/abcall"),
            "postgres://app@db/abcall"
        );
        assert_eq!(
            redact_url("s3://b/p?endpoint=http://m:9000&access_key_id=AK&secret_access_key=SK"),
            "s3://b/p?endpoint=http://m:9000&access_key_id=***&secret_access_key=***"
        );
        let config = Config {
            database_url: Some("postgres://app:s3cret@db/abcall".into()),
            ..Config::default()
        };
        assert!(!format!("{config:?}").contains("s3cret"));
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail API fixes the error type
    fn file_then_environment() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "abcall.toml",
                "bind = \"0.0.0.0:9000\"\nlog_format = \"json\"",
            )?;
            jail.set_env("ABCALL_BIND", "127.0.0.1:9001");
            jail.set_env("ABCALL_TEST_SOMETHING_ELSE", "ignored");
            let config = Config::load(Some(Path::new("abcall.toml"))).unwrap();
            assert_eq!(config.bind.port(), 9001);
            assert_eq!(config.log_format, LogFormat::Json);
            jail.create_file("typo.toml", "bnid = \"0.0.0.0:9000\"")?;
            assert!(Config::load(Some(Path::new("typo.toml"))).is_err());
            jail.set_env("ABCALL_STT_WINDOW_SECS", "2");
            let error = Config::load(None).unwrap_err().to_string();
            assert!(error.contains("stt_window_secs"), "{error}");
            Ok(())
        });
    }
}
