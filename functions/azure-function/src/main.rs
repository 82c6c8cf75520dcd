//! Wiring only: configuration, tracing, clients, the table, the server. Everything else is in
//! the library and tested there.

use anyhow::Context;
use std::sync::Arc;
use std::time::Duration;
use t1578_azure_function::app::{app, AppState, LAST_PARK_BACKOFF};
use t1578_azure_function::auth::Credential;
use t1578_azure_function::config::Config;
use t1578_azure_function::deadletter::{BlobDeadLetters, DeadLetterError};
use t1578_azure_function::logic_app::{LogicAppSink, SinkOptions};
use t1578_azure_function::{http_client, table_store, TABLE_TIMEOUT};
use t1578_core::pipeline::PipelineOptions;
use t1578_core::settings::Mode;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let config = Config::from_env()?;
    let http = http_client().context("building the HTTP client")?;
    let store = table_store(http.clone(), &config, TABLE_TIMEOUT)?;
    ensure_table(&store).await?;
    let dead_letters = BlobDeadLetters::new(
        http.clone(),
        &config.blob_endpoint,
        &config.dead_letter_container,
        Credential::from_access(&config.table),
        TABLE_TIMEOUT,
    )?;
    ensure_container(&dead_letters).await;
    let sink = LogicAppSink::new(http, config.logic_app_url.clone(), SinkOptions::default());
    let engine = config.common.engine()?;
    let shadow = config.common.mode == Mode::Shadow;
    let options = PipelineOptions {
        shadow,
        ..Default::default()
    };
    let state = Arc::new(AppState {
        engine,
        store,
        sink,
        dead_letters,
        options,
        last_park_backoff: LAST_PARK_BACKOFF.to_vec(),
    });
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", config.port))
        .await
        .with_context(|| format!("binding 127.0.0.1:{}", config.port))?;
    tracing::info!(
        port = config.port, table = %config.table_name, profile = config.common.profile.name.as_str(),
        shadow, "custom handler listening"
    );
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown())
        .await?;
    Ok(())
}

/// Create the state table, retrying briefly: a cold start can race the storage account's
/// network rules. A 403 is tolerated because a data-plane role may not create tables; the
/// table then has to exist already (the Terraform module creates it).
async fn ensure_table(store: &t1578_azure_function::table::TableStore) -> anyhow::Result<()> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match store.client().ensure_table().await {
            Ok(()) => return Ok(()),
            Err(t1578_azure_function::table::TableError::Status { status: 403, .. }) => {
                tracing::warn!(
                    table = store.client().table(),
                    "not allowed to create the table; assuming it exists"
                );
                return Ok(());
            }
            Err(e) if e.retryable() && attempt < 4 => {
                tracing::warn!(attempt, error = %e, "creating the state table failed; retrying");
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            Err(e) => return Err(e).context("creating the state table"),
        }
    }
}

/// Create the dead-letter container if allowed. Terraform creates it and grants only data
/// access to it, so a 403 here is the normal case in Azure; any other failure is logged and
/// the handler still starts (parking then fails, and those batches answer 500 and are re-driven).
async fn ensure_container(dl: &BlobDeadLetters) {
    match dl.ensure_container().await {
        Ok(()) => {}
        Err(DeadLetterError::Status { status: 403, .. }) => {
            tracing::info!(
                container = dl.container(),
                "not allowed to create the dead-letter container; assuming it exists"
            )
        }
        Err(e) => {
            tracing::warn!(container = dl.container(), error = %e, "could not create the dead-letter container")
        }
    }
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
