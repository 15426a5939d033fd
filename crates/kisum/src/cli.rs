//! The `kisum` command line: `serve`, `migrate`.

use clap::{Parser, Subcommand};

use crate::app::Application;
use crate::platform::config::{DatabaseArgs, LogFormat, ServeConfig};
use crate::platform::db::{Db, redact};

#[derive(Parser)]
#[command(name = "kisum", version, about = "Kisum addon-modules backend")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the HTTP server (applies migrations first).
    Serve(Box<ServeConfig>),
    /// Apply database migrations and exit.
    Migrate(DatabaseArgs),
}

pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("KISUM_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(config) => {
            init_logging(config.log_format);
            let database = redact(&config.database.database_url);
            let app = Application::build(*config).await?;
            tracing::info!(address = %app.local_addr(), %database, "kisum listening");
            println!("kisum listening on http://{}", app.local_addr());
            app.run(shutdown_signal()).await?;
            tracing::info!("kisum stopped");
            Ok(())
        }
        Command::Migrate(database) => {
            init_logging(LogFormat::Text);
            let db = Db::connect(&database.database_url, 2).await?;
            db.migrate(&crate::platform::MIGRATOR).await?;
            println!("migrations applied to {}", redact(&database.database_url));
            Ok(())
        }
    }
}

/// Ctrl-C or SIGTERM: stop accepting, finish what is in flight.
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
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
