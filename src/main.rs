use clap::Parser;
use std::process::ExitCode;
use stummel::cli::{Cli, Command};
use stummel::config::{Config, Environment};
use stummel::engine::Engine;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("stummel: {error}");
            return ExitCode::from(2);
        }
    };
    stummel::telemetry::init(&config);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("stummel: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("stummel: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, config: Config) -> anyhow::Result<()> {
    if let Command::Loadgen { .. } = &command {
        if config.environment == Environment::Production {
            anyhow::bail!("loadgen writes synthetic events and refuses to run with NODE_ENV=production");
        }
    }
    let mut config = config;
    if let Command::Replay { batch_size, .. } = &command {
        config.projection_batch_size = *batch_size as usize;
    }
    let dev_secrets = config.uses_dev_secrets();
    let defaulted = config.node_env_defaulted;
    let engine = Engine::start(config).await?;
    if defaulted {
        tracing::warn!("NODE_ENV not set: running as development (set NODE_ENV=production and the secrets to deploy)");
    }
    if dev_secrets {
        tracing::warn!("JWT_SECRET/IDENT_SECRET/DEVMARKT_JWT_SECRET not set: using development-only secrets");
    }
    match command {
        Command::Serve => stummel::serve::run(engine).await,
        Command::Replay {
            projections,
            all: _,
            from,
            quiet,
            batch_size: _,
        } => stummel::replay::run(&engine, &projections, from, !quiet).await,
        Command::Projections => stummel::replay::list(&engine).await,
        Command::Loadgen {
            commands,
            aggregates,
            concurrency,
            batch,
            rate,
            print_acks,
            with_projectors,
        } => {
            let (shutdown_tx, shutdown_rx) = tokio::sync::watch::channel(false);
            let tasks = if with_projectors {
                engine.spawn_projectors(shutdown_rx)
            } else {
                Vec::new()
            };
            let options = stummel::loadgen::LoadOptions {
                commands,
                aggregates,
                concurrency,
                batch,
                rate,
                print_acks,
            };
            let report = stummel::loadgen::run(&engine, options).await?;
            let _ = shutdown_tx.send(true);
            for task in tasks {
                let _ = task.await;
            }
            eprintln!(
                "loadgen: {} commands, {} events, {} failed, {:.2?}, {:.0} events/s",
                report.commands,
                report.events,
                report.rejected,
                report.elapsed,
                report.events as f64 / report.elapsed.as_secs_f64().max(1e-9)
            );
            Ok(())
        }
    }
}
