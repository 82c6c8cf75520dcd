//! Managed-identity bearer auth against local stand-ins of the Functions identity endpoint and
//! a Table endpoint (Azurite accepts OAuth only over HTTPS, so it cannot play this part).

use axum::extract::{Query, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use t1578_azure_function::auth::{Credential, ManagedIdentity};
use t1578_azure_function::config::Secret;
use t1578_azure_function::table::TableClient;

#[derive(Default)]
struct Fake {
    token_calls: AtomicUsize,
    auth_headers: Mutex<Vec<String>>,
    versions: Mutex<Vec<String>>,
    unauthorized_next: AtomicUsize,
    bad_identity_requests: AtomicUsize,
}

async fn token(
    State(f): State<Arc<Fake>>,
    Query(q): Query<HashMap<String, String>>,
    req: Request,
) -> Response {
    let header_ok = req
        .headers()
        .get("x-identity-header")
        .and_then(|v| v.to_str().ok())
        == Some("hdr-secret");
    let query_ok = q.get("resource").map(String::as_str) == Some("https://storage.azure.com/")
        && q.get("api-version").map(String::as_str) == Some("2019-08-01");
    if !header_ok || !query_ok {
        f.bad_identity_requests.fetch_add(1, Ordering::SeqCst);
        return StatusCode::BAD_REQUEST.into_response();
    }
    let n = f.token_calls.fetch_add(1, Ordering::SeqCst) + 1;
    let expires_on = chrono::Utc::now().timestamp() + 3600;
    Json(json!({"access_token": format!("tok-{n}"), "expires_on": expires_on.to_string(), "resource": "https://storage.azure.com/", "token_type": "Bearer"}))
        .into_response()
}

async fn table(State(f): State<Arc<Fake>>, req: Request) -> Response {
    let h = |k: &str| {
        req.headers()
            .get(k)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    f.auth_headers.lock().unwrap().push(h("authorization"));
    f.versions.lock().unwrap().push(h("x-ms-version"));
    let n = f.unauthorized_next.load(Ordering::SeqCst);
    if n > 0
        && f.unauthorized_next
            .compare_exchange(n, n - 1, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    {
        return (
            StatusCode::UNAUTHORIZED,
            [("x-ms-error-code", "InvalidAuthenticationInfo")],
        )
            .into_response();
    }
    (StatusCode::NOT_FOUND, [("x-ms-error-code", "ResourceNotFound")]).into_response()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_tokens_are_fetched_once_cached_and_refreshed_after_a_401() {
    let fake = Arc::new(Fake::default());
    let router = Router::new()
        .route("/msi/token", get(token))
        .fallback(table)
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });

    let mi = ManagedIdentity::new(
        format!("http://127.0.0.1:{port}/msi/token"),
        Secret::new("hdr-secret".into()),
        None,
    );
    let http = t1578_azure_function::http_client().unwrap();
    let client = TableClient::new(
        http,
        &format!("http://127.0.0.1:{port}"),
        "t1578state",
        Credential::ManagedIdentity(mi),
        Duration::from_secs(5),
    )
    .unwrap();
    let id = "0123456789abcdef0123456789abcdef";
    let gets = (0..8).map(|_| client.get_entity(id, id));
    for r in futures::future::join_all(gets).await {
        assert!(r.unwrap().is_none());
    }
    assert_eq!(fake.bad_identity_requests.load(Ordering::SeqCst), 0);
    assert_eq!(
        fake.token_calls.load(Ordering::SeqCst),
        1,
        "8 concurrent requests, one token fetch"
    );
    assert!(fake
        .auth_headers
        .lock()
        .unwrap()
        .iter()
        .all(|a| a == "Bearer tok-1"));
    assert!(
        fake.versions.lock().unwrap().iter().all(|v| v == "2019-02-02"),
        "bearer auth needs 2019-02-02+"
    );

    fake.unauthorized_next.store(1, Ordering::SeqCst);
    let err = client.get_entity(id, id).await.unwrap_err();
    assert!(err.retryable(), "a 401 is retried with a fresh token: {err}");
    assert!(client.get_entity(id, id).await.unwrap().is_none());
    assert_eq!(
        fake.token_calls.load(Ordering::SeqCst),
        2,
        "the 401 dropped the cached token"
    );
    assert_eq!(fake.auth_headers.lock().unwrap().last().unwrap(), "Bearer tok-2");
    server.abort();
}
