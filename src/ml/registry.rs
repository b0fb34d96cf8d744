//! Per-tenant models: training jobs that turn a stored dataset into a registered version, the
//! artifacts on disk (`<data_dir>/models/<tenant>/<id>.msgpack`, MessagePack), and scoring with the active version
//! of a name. Artifacts are loaded on first use and cached by id (a version never changes).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use super::embed::{Embedder, Purpose};
use super::tabular::{self, Prediction, TabularModel};
use super::text::{self, TextModel};
use crate::App;
use crate::domain::dataset::{ColumnType, DatasetKind, FileFormat, Table, read_csv, read_jsonl};
use crate::domain::new_id;
use crate::domain::upload::truncate_errors;
use crate::error::{Error, Result};
use crate::jobs::{JobContext, JobError, JobResult};
use crate::store::datasets;
use crate::store::files::write_atomically;
use crate::store::jobs::{Job, Report};
use crate::store::models::{self, ModelVersion, NewModel};

/// The job kind.
pub const TRAIN_KIND: &str = "train_model";

/// What a model file holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Artifact {
    Tabular(TabularModel),
    Text(TextModel),
}

/// Loaded artifacts by model id.
#[derive(Default)]
pub struct Registry {
    cache: Mutex<HashMap<String, Arc<Artifact>>>,
    /// Whether each tenant has an active model, and since when that is known.
    has_models: Mutex<HashMap<String, (std::time::Instant, bool)>>,
}

/// How long "this tenant has (no) models" is trusted before asking the database again; another
/// replica's training shows up here within this time.
const HAS_MODELS_TTL: std::time::Duration = std::time::Duration::from_secs(5);

impl Registry {
    /// Whether new PQRs of the tenant should be scored (it has an active model), cached briefly
    /// so registration stays one transaction.
    pub async fn tenant_has_models(&self, db: &crate::store::Db, tenant_id: &str) -> Result<bool> {
        if let Some((at, known)) = self.has_models.lock().expect("lock").get(tenant_id)
            && at.elapsed() < HAS_MODELS_TTL
        {
            return Ok(*known);
        }
        let known = models::any_active(db, tenant_id).await?;
        self.has_models
            .lock()
            .expect("lock")
            .insert(tenant_id.to_owned(), (std::time::Instant::now(), known));
        Ok(known)
    }

    /// Forgets what is cached about the tenant's models (after training or activation here).
    pub fn forget_tenant(&self, tenant_id: &str) {
        self.has_models.lock().expect("lock").remove(tenant_id);
    }

    /// The artifact of `model`, from the cache or the disk.
    pub async fn load(&self, model: &ModelVersion) -> Result<Arc<Artifact>> {
        if let Some(loaded) = self.cache.lock().expect("cache lock").get(&model.id) {
            return Ok(loaded.clone());
        }
        let path = model.path.clone();
        let loaded: Artifact = tokio::task::spawn_blocking(move || {
            let bytes = std::fs::read(&path)
                .map_err(|e| Error::Internal(format!("reading model {}: {e}", path.display())))?;
            rmp_serde::from_slice(&bytes).map_err(|e| {
                Error::Internal(format!("model {} is unreadable: {e}", path.display()))
            })
        })
        .await
        .map_err(|e| Error::Internal(format!("loading a model failed: {e}")))??;
        let loaded = Arc::new(loaded);
        self.cache
            .lock()
            .expect("cache lock")
            .insert(model.id.clone(), loaded.clone());
        Ok(loaded)
    }
}

/// An uploaded dataset before it is checked.
pub struct Upload {
    pub name: String,
    pub kind: DatasetKind,
    pub format: FileFormat,
    pub roles: crate::domain::dataset::Roles,
    pub bytes: Vec<u8>,
}

/// Reads, checks and stores a dataset: any broken row rejects it (422, rows listed by line) and
/// nothing is stored. Used by the API and by `abcall train`.
pub async fn ingest(app: &App, tenant_id: &str, upload: Upload) -> Result<datasets::Dataset> {
    let Upload {
        name,
        kind,
        format,
        roles,
        bytes,
    } = upload;
    let (bytes, schema) = tokio::task::spawn_blocking(move || {
        let text = std::str::from_utf8(&bytes).map_err(|e| Error::Malformed {
            detail: format!("the file is not UTF-8 (at byte {})", e.valid_up_to()),
            field: None,
        })?;
        let table = match format {
            FileFormat::Csv => read_csv(text),
            FileFormat::Jsonl => read_jsonl(text),
        }
        .map_err(|e| Error::Validation(truncate_errors(e)))?;
        let schema = crate::domain::dataset::infer(&table, kind, &roles)
            .map_err(|e| Error::Validation(truncate_errors(e)))?;
        Ok::<_, Error>((bytes, schema))
    })
    .await
    .map_err(|e| Error::Internal(format!("reading the dataset failed: {e}")))??;
    datasets::create(
        &app.db,
        &app.config.data_dir,
        tenant_id,
        datasets::NewDataset {
            name: &name,
            kind,
            format,
            bytes: &bytes,
            schema: &schema,
        },
    )
    .await
}

/// A training request.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrainRequest {
    pub dataset_id: String,
    /// The column to predict; default: the dataset's declared target.
    pub target: Option<String>,
    /// The registry name, e.g. `churn` (lower-case letters, digits, `_` and `-`); default: the
    /// target's name in lower case.
    pub name: Option<String>,
    /// Tabular only: the algorithms to compare (`logistic_regression`, `random_forest`);
    /// default: both.
    pub algorithms: Option<Vec<String>>,
}

fn valid_name(name: &str) -> bool {
    (1..=40).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

/// Checks a training request against its dataset and queues the job.
pub async fn enqueue_training(app: &App, tenant_id: &str, request: TrainRequest) -> Result<Job> {
    let dataset = datasets::get(&app.db, tenant_id, &request.dataset_id)
        .await
        .map_err(|e| match e {
            Error::NotFound(_) => Error::validation("dataset_id", "no such dataset"),
            other => other,
        })?;
    let target = request
        .target
        .clone()
        .or_else(|| match dataset.kind {
            DatasetKind::Tabular => dataset.schema.target.clone(),
            DatasetKind::TextLabels => dataset.schema.label_columns.first().cloned(),
        })
        .ok_or_else(|| Error::validation("target", "the dataset declares no target; name one"))?;
    if dataset.kind == DatasetKind::TextLabels && !dataset.schema.label_columns.contains(&target) {
        return Err(Error::validation(
            "target",
            format!(
                "{target:?} is not one of the dataset's label columns ({})",
                dataset.schema.label_columns.join(", ")
            ),
        ));
    }
    match dataset.schema.column(&target).map(|c| c.kind) {
        Some(ColumnType::Categorical | ColumnType::Boolean) => {}
        Some(_) => {
            return Err(Error::validation(
                "target",
                format!("{target:?} is not a column of classes (categorical or yes/no)"),
            ));
        }
        None => return Err(Error::validation("target", format!("no column {target:?}"))),
    }
    let name = request
        .name
        .clone()
        .unwrap_or_else(|| target.to_lowercase().replace(' ', "_"));
    if !valid_name(&name) {
        return Err(Error::validation(
            "name",
            "must be 1 to 40 lower-case letters, digits, _ or -",
        ));
    }
    if let Some(algorithms) = &request.algorithms {
        if dataset.kind != DatasetKind::Tabular {
            return Err(Error::validation(
                "algorithms",
                "only tabular models offer a choice of algorithms",
            ));
        }
        if algorithms.is_empty()
            || algorithms
                .iter()
                .any(|a| !tabular::ALGORITHMS.contains(&a.as_str()))
        {
            return Err(Error::validation(
                "algorithms",
                format!("must name some of: {}", tabular::ALGORITHMS.join(", ")),
            ));
        }
    }
    let payload = serde_json::to_value(TrainRequest {
        dataset_id: dataset.id,
        target: Some(target),
        name: Some(name),
        algorithms: request.algorithms,
    })
    .map_err(|e| Error::Internal(e.to_string()))?;
    crate::jobs::enqueue(app, tenant_id, TRAIN_KIND, &payload).await
}

/// Parses a stored dataset's file.
pub fn read_table(format: FileFormat, bytes: &[u8]) -> Result<Table> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| Error::Internal("a stored dataset is not UTF-8".into()))?;
    match format {
        FileFormat::Csv => read_csv(text),
        FileFormat::Jsonl => read_jsonl(text),
    }
    .map_err(|errors| Error::Internal(format!("a stored dataset no longer parses: {errors:?}")))
}

/// The job: reads the dataset, trains in a blocking thread while reporting progress, writes the
/// artifact, then registers the version (active if it is the first of its name).
pub async fn run_training(app: &Arc<App>, ctx: &mut JobContext) -> JobResult {
    let request: TrainRequest = serde_json::from_value(ctx.payload.clone())
        .map_err(|e| JobError::Failed(format!("unreadable training request: {e}")))?;
    let (Some(target), Some(name)) = (request.target.clone(), request.name.clone()) else {
        return Err(JobError::Failed(
            "the training request lacks target or name".into(),
        ));
    };
    let dataset = datasets::get(&app.db, &ctx.tenant_id, &request.dataset_id).await?;
    let bytes = datasets::read_file(&dataset).await?;
    let table = tokio::task::spawn_blocking({
        let format = dataset.format;
        move || read_table(format, &bytes)
    })
    .await
    .map_err(|e| JobError::Failed(format!("reading the dataset failed: {e}")))??;
    let artifact = match dataset.kind {
        DatasetKind::Tabular => {
            let schema = dataset.schema.clone();
            let algorithms: Vec<String> = request.algorithms.clone().unwrap_or_else(|| {
                tabular::ALGORITHMS
                    .iter()
                    .map(|a| (*a).to_owned())
                    .collect()
            });
            Artifact::Tabular(
                with_progress(ctx, move |progress| {
                    let algorithms: Vec<&str> = algorithms.iter().map(String::as_str).collect();
                    tabular::train(&table, &schema, &target, &algorithms, progress)
                })
                .await?,
            )
        }
        DatasetKind::TextLabels => {
            let text_column = dataset
                .schema
                .text_column
                .clone()
                .ok_or_else(|| JobError::Failed("the dataset has no text column".into()))?;
            let column =
                |name: &str| {
                    table.columns.iter().position(|c| c == name).ok_or_else(|| {
                        JobError::Failed(format!("the dataset has no column {name:?}"))
                    })
                };
            let (text_at, target_at) = (column(&text_column)?, column(&target)?);
            let texts: Vec<String> = table
                .rows
                .iter()
                .map(|r| r[text_at].clone().unwrap_or_default())
                .collect();
            let values: Vec<Option<String>> =
                table.rows.iter().map(|r| r[target_at].clone()).collect();
            let embeddings = embed_all(app, ctx, texts).await?;
            Artifact::Text(
                with_progress(ctx, move |progress| {
                    text::train(&embeddings, &values, &target, EMBEDDER, progress)
                })
                .await?,
            )
        }
    };
    let id = new_id();
    let path = app
        .config
        .data_dir
        .join("models")
        .join(&ctx.tenant_id)
        .join(format!("{id}.msgpack"));
    let file = rmp_serde::to_vec_named(&artifact)
        .map_err(|e| JobError::Failed(format!("the model does not serialise: {e}")))?;
    {
        let path = path.clone();
        tokio::task::spawn_blocking(move || write_atomically(&path, &file))
            .await
            .map_err(|e| JobError::Failed(format!("writing the model failed: {e}")))??;
    }
    let (algorithm, evaluation, metrics) = match &artifact {
        Artifact::Tabular(model) => (
            model.classifier.algorithm().to_owned(),
            &model.evaluation,
            serde_json::json!({
                "target": model.target,
                "classes": model.classes,
                "evaluation": model.evaluation,
                "candidates": model.candidates,
                "importances": model.importances,
                "validation": format!("stratified {}-fold cross-validation", tabular::FOLDS),
            }),
        ),
        Artifact::Text(model) => (
            model.algorithm.clone(),
            &model.evaluation,
            serde_json::json!({
                "target": model.target,
                "classes": model.classes,
                "features": format!("{} sentence embeddings", model.embedder),
                "evaluation": model.evaluation,
                "candidates": model.candidates,
                "validation": format!("stratified {}-fold cross-validation", tabular::FOLDS),
            }),
        ),
    };
    let registered = models::create(
        &app.db,
        &ctx.tenant_id,
        NewModel {
            id: &id,
            name: &name,
            dataset_id: &dataset.id,
            dataset_sha256: &dataset.sha256,
            algorithm: &algorithm,
            metrics: &metrics,
            path: &path,
        },
    )
    .await?;
    app.registry.forget_tenant(&ctx.tenant_id);
    Ok(serde_json::json!({
        "model_id": registered.id,
        "name": registered.name,
        "version": registered.version,
        "active": registered.active,
        "algorithm": registered.algorithm,
        "roc_auc": evaluation.roc_auc,
        "macro_f1": evaluation.macro_f1,
        "accuracy": evaluation.accuracy,
    }))
}

/// The embedding model of text classifiers.
const EMBEDDER: &str = "multilingual-e5-small";
/// Texts embedded per step (progress and cancellation are checked between steps).
const EMBED_BATCH: usize = 64;

/// Runs blocking training work, relaying its `progress(done, total, what)` calls to the job.
async fn with_progress<T: Send + 'static>(
    ctx: &mut JobContext,
    work: impl FnOnce(&mut dyn FnMut(usize, usize, &str)) -> std::result::Result<T, super::MlError>
    + Send
    + 'static,
) -> std::result::Result<T, JobError> {
    let (sender, mut updates) = tokio::sync::watch::channel((0usize, 1usize, String::new()));
    let mut task = tokio::task::spawn_blocking(move || {
        work(&mut |done, total, what| {
            let _ = sender.send((done, total, what.to_owned()));
        })
    });
    loop {
        tokio::select! {
            finished = &mut task => {
                return Ok(finished
                    .map_err(|e| JobError::Failed(format!("training stopped: {e}")))?
                    .map_err(Error::from)?);
            }
            changed = updates.changed() => {
                if changed.is_ok() {
                    let (done, total, what) = updates.borrow_and_update().clone();
                    ctx.progress(Report {
                        done: done as i64,
                        total: Some(total as i64),
                        message: Some(what),
                        checkpoint: None,
                    })
                    .await?;
                }
            }
        }
    }
}

/// Embeds the texts of a dataset in batches, reporting progress between them.
async fn embed_all(
    app: &App,
    ctx: &mut JobContext,
    texts: Vec<String>,
) -> std::result::Result<ndarray::Array2<f64>, JobError> {
    let embedder = load_embedder(app).await?;
    let total = texts.len();
    let texts = Arc::new(texts);
    let mut vectors: Vec<Vec<f32>> = vec![Vec::new(); total];
    let order = crate::ml::embed::shortest_first(&texts);
    let mut done = 0;
    for chunk in order.chunks(EMBED_BATCH) {
        let indices = chunk.to_vec();
        let (embedder, all) = (embedder.clone(), texts.clone());
        let embedded = tokio::task::spawn_blocking(move || {
            let refs: Vec<&str> = indices.iter().map(|&i| all[i].as_str()).collect();
            embedder.embed(&refs, Purpose::Query)
        })
        .await
        .map_err(|e| JobError::Failed(format!("embedding stopped: {e}")))?
        .map_err(Error::from)?;
        for (&i, vector) in chunk.iter().zip(embedded) {
            vectors[i] = vector;
        }
        done += chunk.len();
        ctx.progress(Report {
            done: done as i64,
            total: Some(total as i64),
            message: Some(format!("embedding texts: {done} of {total}")),
            checkpoint: None,
        })
        .await?;
    }
    let data: Vec<f64> = vectors.into_iter().flatten().map(f64::from).collect();
    ndarray::Array2::from_shape_vec((total, embedder.dimension()), data)
        .map_err(|e| JobError::Failed(format!("embeddings have the wrong shape: {e}")))
}

pub(crate) async fn load_embedder(app: &App) -> Result<Arc<Embedder>> {
    let models_dir = app.config.models_dir.clone();
    tokio::task::spawn_blocking(move || Embedder::shared_e5(&models_dir))
        .await
        .map_err(|e| Error::Internal(format!("loading the embedding model failed: {e}")))?
        .map_err(Error::from)
}

/// A prediction and the model version that made it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Scored {
    pub model_id: String,
    pub name: String,
    pub version: i64,
    #[serde(flatten)]
    pub prediction: Prediction,
}

/// What to score: a record of fields (tabular models) or a text (text models).
pub enum Input<'a> {
    Record(&'a HashMap<String, String>),
    Text(&'a str),
}

/// Scores `input` with the tenant's active `name` model.
pub async fn score(app: &App, tenant_id: &str, name: &str, input: Input<'_>) -> Result<Scored> {
    let model = models::active(&app.db, tenant_id, name)
        .await?
        .ok_or_else(|| {
            Error::validation(
                "model",
                format!("the tenant has no active model named {name:?}; train one first"),
            )
        })?;
    let loaded = app.registry.load(&model).await?;
    let prediction = match (loaded.as_ref(), input) {
        (Artifact::Tabular(tabular), Input::Record(record)) => tabular.predict(|column| {
            record
                .get(column)
                .map(String::as_str)
                .filter(|v| !crate::domain::dataset::is_missing(v))
        }),
        (Artifact::Text(text), Input::Text(value)) => {
            let embedder = load_embedder(app).await?;
            let value = value.to_owned();
            let vector = tokio::task::spawn_blocking(move || {
                embedder.embed(&[value.as_str()], Purpose::Query)
            })
            .await
            .map_err(|e| Error::Internal(format!("embedding failed: {e}")))??
            .remove(0);
            text.predict(&vector)
        }
        (Artifact::Tabular(_), Input::Text(_)) => {
            return Err(Error::validation(
                "record",
                format!("{name:?} scores records of fields: send record or customer_id"),
            ));
        }
        (Artifact::Text(_), Input::Record(_)) => {
            return Err(Error::validation(
                "text",
                format!("{name:?} scores texts: send text"),
            ));
        }
    };
    Ok(Scored {
        model_id: model.id,
        name: model.name,
        version: model.version,
        prediction,
    })
}

/// A customer as a record for tabular models: its attributes plus its segment.
pub async fn customer_record(
    app: &App,
    tenant_id: &str,
    customer_id: &str,
) -> Result<HashMap<String, String>> {
    let customer = crate::store::customers::get(&app.db, tenant_id, customer_id).await?;
    let mut record: HashMap<String, String> = customer
        .attributes
        .iter()
        .filter_map(|(k, v)| Some((k.clone(), cell(v)?)))
        .collect();
    if let Some(segment) = customer.segment {
        record.entry("segment".into()).or_insert(segment);
    }
    Ok(record)
}

/// A JSON value as a table cell (null is missing).
pub fn cell(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        other => Some(other.to_string()),
    }
}
