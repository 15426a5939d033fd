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
    service::process::init_logging("KISUM_LOG", format == LogFormat::Json);
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(config) => {
            init_logging(config.log_format);
            let database = redact(&config.database.database_url);
            let app = Application::build(*config).await?;
            tracing::info!(address = %app.local_addr(), %database, "kisum listening");
            println!("kisum listening on http://{}", app.local_addr());
            app.run(service::process::shutdown_signal()).await?;
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
