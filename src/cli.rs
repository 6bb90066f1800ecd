//! The command line (clap).

use clap::{ArgGroup, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "stummel", version, about = "Event-sourced CQRS engine running Kippenstummel and Devmarkt", long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP service and the projectors (configuration from the environment and .env files).
    Serve,
    /// Rebuild projections from the event log into a fresh target, then swap it in.
    #[command(group(ArgGroup::new("which").required(true).args(["projections", "all"])))]
    Replay {
        /// A projection to rebuild (repeatable).
        #[arg(long = "projection", value_name = "NAME")]
        projections: Vec<String>,
        /// Rebuild every projection.
        #[arg(long)]
        all: bool,
        /// Start at this log position instead of the beginning (earlier events are left out).
        #[arg(long, value_name = "POSITION", default_value_t = 0)]
        from: u64,
        /// No progress bar (for scripts).
        #[arg(long)]
        quiet: bool,
        /// Events per batch while rebuilding (instead of PROJECTION_BATCH_SIZE, which the
        /// live projectors use): a rebuild has the whole log to go through, and each batch
        /// costs a commit and, for some read models, work that grows with the model rather
        /// than with the batch.
        #[arg(long, value_name = "EVENTS", default_value_t = 5_000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        batch_size: u32,
    },
    /// List the projections: version, active generation, checkpoint, lag, state.
    Projections,
    /// Append synthetic `probe` events through the command path, to measure or crash-test the store.
    Loadgen {
        /// Commands to send in all.
        #[arg(long, default_value_t = 10_000)]
        commands: u64,
        /// Distinct aggregates to spread them over.
        #[arg(long, default_value_t = 100)]
        aggregates: u64,
        /// Commands in flight at once.
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        /// Events per command.
        #[arg(long, default_value_t = 1)]
        batch: usize,
        /// Commands per second in all (0: as fast as possible).
        #[arg(long, default_value_t = 0)]
        rate: u64,
        /// Print `ack <aggregate> <events>` for every acknowledged command.
        #[arg(long)]
        print_acks: bool,
        /// Also run the projectors while appending.
        #[arg(long)]
        with_projectors: bool,
    },
}
