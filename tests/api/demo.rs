//! The demo tenant the quick start installs: its PQRs go through their lifecycles and surveys,
//! and its KPIs show them.

use reqwest::Method;

use crate::both_backends;
use crate::helpers::{Backend, spawn_app};

both_backends!(the_demo_tenant_has_worked_and_surveyed_pqrs);

async fn the_demo_tenant_has_worked_and_surveyed_pqrs(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, key) = abcall::demo::install(&app.app().db)
        .await
        .expect("demo installed");
    let listed = app
        .call(Method::GET, "/v1/incidents?limit=200", &key, None)
        .await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 40);
    let kpis = app.call(Method::GET, "/v1/kpis", &key, None).await;
    assert_eq!(kpis.status, 200, "{}", kpis.body);
    let k = &kpis.body;
    assert_eq!(k["volume"]["total"], 40);
    assert!(
        k["outcomes"]["resolved"].as_i64() > Some(0),
        "{}",
        k["outcomes"]
    );
    assert_eq!(k["satisfaction"]["responses"], 10, "{}", k["satisfaction"]);
    assert_eq!(k["satisfaction"]["satisfied"], 7);
}
