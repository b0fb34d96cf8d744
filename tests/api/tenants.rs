//! Keys, roles and settings of the caller's tenant.

use reqwest::Method;
use serde_json::json;

use crate::both_backends;
use crate::helpers::{Backend, spawn_app};

both_backends!(
    revoked_and_unknown_keys_get_401,
    roles_limit_what_a_key_can_do,
    settings_are_validated_and_stored,
);

async fn revoked_and_unknown_keys_get_401(backend: Backend) {
    let app = spawn_app(backend).await;
    let created = app
        .post(
            "/v1/tenants/me/keys",
            json!({ "name": "IVR Lima", "role": "channel" }),
        )
        .await;
    assert_eq!(created.status, 201);
    let secret = created.body["secret"].as_str().unwrap().to_owned();
    let key_id = created.body["id"].as_str().unwrap().to_owned();
    assert!(secret.starts_with(created.body["prefix"].as_str().unwrap()));

    let ok = app.call(Method::GET, "/v1/incidents", &secret, None).await;
    assert_eq!(ok.status, 200);

    // Listing never shows secrets.
    let keys = app.get("/v1/tenants/me/keys").await;
    assert!(!keys.body.to_string().contains(&secret));
    assert_eq!(keys.body.as_array().unwrap().len(), 2);

    let revoke = app
        .call(
            Method::DELETE,
            &format!("/v1/tenants/me/keys/{key_id}"),
            &app.key,
            None,
        )
        .await;
    assert_eq!(revoke.status, 204);
    let denied = app.call(Method::GET, "/v1/incidents", &secret, None).await;
    denied.assert_problem(401, "unauthorized");
    assert!(denied.headers.contains_key("www-authenticate"));

    let unknown = app
        .call(Method::GET, "/v1/incidents", "abk_nope", None)
        .await;
    unknown.assert_problem(401, "unauthorized");
    let missing = crate::helpers::reply(
        app.client
            .get(format!("{}/v1/incidents", app.base))
            .send()
            .await
            .unwrap(),
    )
    .await;
    missing.assert_problem(401, "unauthorized");
    let keys = app.get("/v1/tenants/me/keys").await;
    let revoked = keys
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == key_id.as_str())
        .unwrap()
        .clone();
    assert!(revoked["revoked_at"].is_string());
}

async fn roles_limit_what_a_key_can_do(backend: Backend) {
    let app = spawn_app(backend).await;
    let incident = app.new_incident(json!({})).await;
    let transitions = format!(
        "/v1/incidents/{}/transitions",
        incident["id"].as_str().unwrap()
    );
    let new_incident =
        json!({ "channel": "app", "kind": "queja", "subject": "s", "description": "d" });
    let new_customer = json!({ "external_id": "R-1", "name": "Rosa" });
    let step = json!({ "to": "in_progress" });

    let viewer = app.key_with_role("viewer").await;
    let channel = app.key_with_role("channel").await;
    let data = app.key_with_role("data").await;
    let agent = app.key_with_role("agent").await;

    let (get, post) = (Method::GET, Method::POST);
    let mut cases = vec![
        (&viewer, &get, "/v1/incidents", None, 200),
        (&viewer, &post, "/v1/incidents", Some(&new_incident), 403),
        (&viewer, &post, "/v1/customers", Some(&new_customer), 403),
        (&channel, &post, "/v1/incidents", Some(&new_incident), 201),
        (&channel, &post, transitions.as_str(), Some(&step), 403),
        (&data, &post, "/v1/customers", Some(&new_customer), 201),
        (&data, &post, "/v1/incidents", Some(&new_incident), 403),
        (&agent, &post, "/v1/customers", Some(&new_customer), 403),
        (&agent, &post, transitions.as_str(), Some(&step), 200),
    ];
    let empty_settings = json!({});
    for key in [&viewer, &channel, &data, &agent] {
        cases.push((key, &get, "/v1/tenants/me/keys", None, 403));
        cases.push((key, &get, "/v1/tenants/me", None, 200));
    }
    for (key, method, path, body, expected) in cases {
        let reply = app.call(method.clone(), path, key, body.cloned()).await;
        assert_eq!(
            reply.status.as_u16(),
            expected,
            "{method} {path}: {}",
            reply.body
        );
        if expected == 403 {
            reply.assert_problem(403, "forbidden");
        }
    }
    for key in [&viewer, &channel, &data, &agent] {
        let reply = app
            .call(
                Method::PUT,
                "/v1/tenants/me/settings",
                key,
                Some(empty_settings.clone()),
            )
            .await;
        reply.assert_problem(403, "forbidden");
    }
    let bad_role = app
        .post(
            "/v1/tenants/me/keys",
            json!({ "name": "x", "role": "root" }),
        )
        .await;
    bad_role.assert_problem(400, "malformed-request");
    assert_eq!(bad_role.fields(), ["role"]);
}

async fn settings_are_validated_and_stored(backend: Backend) {
    let app = spawn_app(backend).await;
    let me = app.get("/v1/tenants/me").await;
    assert_eq!(me.status, 200);
    assert_eq!(me.body["name"], "Tenant A");
    let mut settings = me.body["settings"].clone();
    assert!(settings["greeting"].as_str().unwrap().contains("Gracias"));

    let mut bad = settings.clone();
    bad["greeting"] = json!("");
    bad["sla"]["high"]["resolution_minutes"] = json!(0);
    bad["business_hours"]["timezone"] = json!("Lima/Peru");
    bad["business_hours"]["weekly"]["monday"] = json!([{ "start": "18:00", "end": "08:00" }]);
    // Fees moved to billing's price lists: sending them is refused with a pointer there.
    bad["channel_fees"] = json!({ "phone": { "amount_minor": 350, "currency": "PEN" } });
    let reply = app
        .call(Method::PUT, "/v1/tenants/me/settings", &app.key, Some(bad))
        .await;
    reply.assert_problem(422, "validation");
    let fields = reply.fields();
    for expected in [
        "greeting",
        "sla.high.resolution_minutes",
        "business_hours.timezone",
        "business_hours.weekly.monday[0].end",
        "channel_fees",
    ] {
        assert!(
            fields.iter().any(|f| f == expected),
            "{expected} missing from {fields:?}"
        );
    }
    // Nothing was stored.
    assert_eq!(app.get("/v1/tenants/me").await.body["settings"], settings);

    settings["greeting"] = json!("Bienvenido a Andina Telecom, le atiende {agente}.");
    assert!(settings.get("channel_fees").is_none(), "{settings}");
    let put = app
        .call(
            Method::PUT,
            "/v1/tenants/me/settings",
            &app.key,
            Some(settings.clone()),
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.body);
    assert_eq!(app.get("/v1/tenants/me").await.body["settings"], settings);

    let unknown = app
        .call(
            Method::PUT,
            "/v1/tenants/me/settings",
            &app.key,
            Some(json!({ "greeting": "hola", "color": "rojo" })),
        )
        .await;
    unknown.assert_problem(400, "malformed-request");
}
