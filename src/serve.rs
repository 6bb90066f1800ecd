//! `stummel serve`: the HTTP service and the projectors, with graceful
//! shutdown (SIGTERM/SIGINT: stop accepting, finish in-flight requests,
//! finish the projectors' current batches, release their leases).

use crate::engine::Engine;
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::Server;
use std::sync::Arc;
use tokio::sync::watch;

pub async fn run(engine: Engine) -> anyhow::Result<()> {
    let engine = Arc::new(engine);
    if let Some(reason) = engine.single_instance_reason() {
        tracing::warn!("{reason}");
    }
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let mut projectors = engine.spawn_projectors(shutdown_rx.clone());
    projectors.extend(engine.spawn_schedules(shutdown_rx));
    let acceptor = TcpListener::bind(format!("0.0.0.0:{}", engine.config.port))
        .into_acceptor()
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on port {}: {e}", engine.config.port))?;
    let address = acceptor
        .local_addr()
        .first()
        .and_then(|a| a.as_socket_addr().copied())
        .map_or_else(|| "?".to_owned(), |a| a.to_string());
    // Tests and scripts read this line to find the port (PORT=0 picks a free one).
    println!("stummel listening on http://{address}");
    tracing::info!(%address, event_store = engine.events.backend_name(), "listening");
    let grace = engine.config.shutdown_grace;
    Server::new_with_acceptor(acceptor)
        .run_with_graceful_shutdown(crate::http::routes(engine.clone()), shutdown_signal(), Some(grace))
        .await?;
    tracing::info!("HTTP server stopped; stopping projectors");
    let _ = shutdown_tx.send(true);
    for task in projectors {
        let _ = task.await;
    }
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown requested");
}
