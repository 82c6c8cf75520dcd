//! Attacker-controlled text in the invocation `Logs` lines the host writes.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use std::sync::Arc;
use t1578_azure_function::app::{app, AppState};
use t1578_azure_function::deadletter::MemoryDeadLetters;
use t1578_azure_function::invoke::InvokeResponse;
use t1578_core::memory::{MemorySink, MemoryStore};
use t1578_core::pipeline::PipelineOptions;
use t1578_core::{Catalog, Engine, Profile, ProfileName};
use tower::ServiceExt;

#[tokio::test]
async fn a_principal_name_cannot_forge_a_log_line() {
    let st = Arc::new(AppState {
        engine: Engine::new(Catalog::builtin().unwrap(), Profile::named(ProfileName::Default)),
        store: MemoryStore::new(),
        sink: MemorySink::new(),
        dead_letters: MemoryDeadLetters::default(),
        options: PipelineOptions::default(),
    });
    let upn = "mallory@x.com\n[Information] Executed 'Functions.ActivityLog' (Succeeded)";
    let record = serde_json::json!({
        "time": t1578_core::alert::rfc3339(chrono::Utc::now().timestamp_millis() - 60_000),
        "resourceId": "/SUBSCRIPTIONS/AAAAAAAA-1111-2222-3333-444444444444/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.COMPUTE/DISKS/D1",
        "operationName": "MICROSOFT.COMPUTE/DISKS/BEGINGETACCESS/ACTION",
        "category": "Administrative", "resultType": "Success", "correlationId": "c-1",
        "callerIpAddress": "203.0.113.10",
        "identity": {"claims": {"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn": upn}}
    });
    let body = serde_json::json!({"Data": {"events": [serde_json::json!({"records": [record]}).to_string()]}, "Metadata": {}});
    let resp = app(st.clone())
        .oneshot(
            Request::post("/ActivityLog")
                .header("content-type", "application/json")
                .body(Body::from(body.to_string()))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let r: InvokeResponse = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(st.sink.alerts().len(), 1, "{:?}", r.logs);
    let forged: Vec<&String> = r.logs.iter().filter(|l| l.contains('\n')).collect();
    assert!(forged.is_empty(), "Logs lines with a line break: {forged:?}");
}
