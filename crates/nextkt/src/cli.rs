//! The `nextkt` command line: `serve`, `migrate`, `partner create`.

use clap::{Parser, Subcommand};

use crate::app::Application;
use crate::platform::clock::{Clock, SystemClock};
use crate::platform::config::{DatabaseArgs, LogFormat, ServeConfig};
use crate::platform::db::{Db, redact};

#[derive(Parser)]
#[command(name = "nextkt", version, about = "Nextkt ticketing platform")]
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
    /// Check every inventory invariant of the stored data (all organizations) without the
    /// server; prints a JSON line last and exits non-zero when anything is oversold or
    /// doubly claimed.
    Audit(DatabaseArgs),
    /// Manage partners (platform-level clients such as Kisum).
    #[command(subcommand)]
    Partner(PartnerCommand),
}

#[derive(Subcommand)]
pub enum PartnerCommand {
    /// Create a partner and print its key (shown once) on the last line.
    Create {
        /// The partner's name.
        name: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Set a partner's platform-fee deal (what its organizations pay unless they have their
    /// own), or clear it so the platform default applies.
    Fee {
        /// The partner's id (printed by `partner create`).
        partner_id: String,
        /// Fixed part per ticket, minor units of --currency.
        #[arg(long, default_value_t = 0)]
        fixed: i64,
        /// Percentage of the ticket price, basis points (250 = 2.5 %).
        #[arg(long, default_value_t = 0)]
        bps: i64,
        /// Least fee per paid ticket.
        #[arg(long, default_value_t = 0)]
        min: i64,
        /// Most fee per ticket.
        #[arg(long)]
        max: Option<i64>,
        #[arg(long, default_value = "IDR")]
        currency: String,
        /// Remove the partner's deal instead.
        #[arg(long)]
        clear: bool,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

pub fn init_logging(format: LogFormat) {
    service::process::init_logging("NEXTKT_LOG", format == LogFormat::Json);
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(config) => {
            init_logging(config.log_format);
            let database = redact(&config.database.database_url);
            let app = Application::build(*config).await?;
            tracing::info!(address = %app.local_addr(), %database, "nextkt listening");
            println!("nextkt listening on http://{}", app.local_addr());
            app.run(service::process::shutdown_signal()).await?;
            tracing::info!("nextkt stopped");
            Ok(())
        }
        Command::Migrate(database) => {
            init_logging(LogFormat::Text);
            let db = Db::connect(&database.database_url, 2).await?;
            db.migrate(&crate::platform::MIGRATOR).await?;
            crate::tickets::backfill_search(&db).await?;
            println!("migrations applied to {}", redact(&database.database_url));
            Ok(())
        }
        Command::Audit(database) => {
            let db = Db::connect(&database.database_url, 2).await?;
            db.migrate(&crate::platform::MIGRATOR).await?;
            let report = crate::inventory::jobs::audit(&db, None, SystemClock.now_ms()).await?;
            println!(
                "checked {} pools and {} seats on {}: oversold {}, duplicate claims {}, drift {}",
                report.pools_checked,
                report.seats_checked,
                report.database,
                report.oversold,
                report.duplicate_claims,
                report.drift
            );
            println!("{}", serde_json::to_string(&report)?);
            if report.oversold != 0 || report.duplicate_claims != 0 {
                anyhow::bail!("inventory invariant broken");
            }
            Ok(())
        }
        Command::Partner(PartnerCommand::Fee {
            partner_id,
            fixed,
            bps,
            min,
            max,
            currency,
            clear,
            database,
        }) => {
            let db = Db::connect(&database.database_url, 2).await?;
            db.migrate(&crate::platform::MIGRATOR).await?;
            let deal = crate::commerce::fees::FeeDeal {
                fixed,
                bps,
                min,
                max,
                currency,
            };
            if !clear {
                deal.validate().map_err(|e| {
                    anyhow::anyhow!("{}: {}", e.field.unwrap_or_default(), e.detail)
                })?;
            }
            crate::commerce::fees::set_partner_deal(&db, &partner_id, (!clear).then_some(&deal))
                .await?;
            println!(
                "{}",
                if clear {
                    "partner fee deal cleared".to_string()
                } else {
                    serde_json::to_string(&deal)?
                }
            );
            Ok(())
        }
        Command::Partner(PartnerCommand::Create { name, database }) => {
            let db = Db::connect(&database.database_url, 2).await?;
            db.migrate(&crate::platform::MIGRATOR).await?;
            let (id, key) =
                crate::tenancy::partners::create(&db, &name, SystemClock.now_ms()).await?;
            println!("partner {id} created; its key is shown once, below:");
            println!("{key}");
            Ok(())
        }
    }
}
