//! `nextkt-bench`: load generation against a running Nextkt, and the checks that come after.
//!
//! `onsale` sends reservation requests at a fixed arrival rate (open loop: each request has
//! an intended send time, and latency is measured from that time, so a stalled server
//! cannot hide its stalls by slowing the sender), then audits the inventory. `checkout`
//! takes buyers through payment to tickets; `gate` scans tickets at several gates.

mod checkout;
mod gate;
mod kisum_access;
mod onsale;
mod setup;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "nextkt-bench",
    about = "Load generator and invariant checks for Nextkt"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// An on-sale rush: many buyers reserving one general-admission ticket type.
    Onsale(onsale::Args),
    /// Buyers from reservation to ticket: checkout, simulated payment, callbacks, issuance.
    Checkout(checkout::Args),
    /// Doors opening: devices at several gates scanning tickets, with duplicates, forged
    /// and foreign codes mixed in.
    Gate(gate::Args),
    /// Kisum's access gate: members of many companies reading finance at a fixed rate while
    /// an addon is canceled and a grant revoked midway; counts stale allows.
    KisumAccess(kisum_access::Args),
}

fn main() -> anyhow::Result<()> {
    // Built in one go with the workspace, reqwest has nextkt's TLS features: rustls with no
    // crypto provider of its own. Give it ring, as nextkt does, or building a client panics.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cli.command {
        Command::Onsale(args) => runtime.block_on(onsale::run(args)),
        Command::Checkout(args) => runtime.block_on(checkout::run(args)),
        Command::Gate(args) => runtime.block_on(gate::run(args)),
        Command::KisumAccess(args) => runtime.block_on(kisum_access::run(args)),
    }
}
