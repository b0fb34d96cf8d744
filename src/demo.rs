//! The demo tenant: a Peruvian telecom/ISP with Spanish sample customers and PQRs, so a newcomer
//! sees a working service after one command. Loading is idempotent: an existing demo tenant only
//! gets a fresh admin key.

use jiff::Timestamp;
use serde::Deserialize;

use crate::domain::access::Principal;
use crate::domain::customer::CustomerInput;
use crate::domain::incident::{NewIncidentRequest, TransitionRequest};
use crate::error::{Error, Result};
use crate::store::kb::SaveAs;
use crate::store::{Db, customers, incidents, tenants};

pub const DEMO_TENANT: &str = "Andina Telecom (demo)";

const CUSTOMERS: &str = include_str!("../data/demo/customers.json");
const INCIDENTS: &str = include_str!("../data/demo/incidents.json");
const ARTICLES: &str = include_str!("../data/demo/kb.json");
const PQR_LABELS: &[u8] = include_bytes!("../data/demo/pqr_labels.csv");
const CHURN: &[u8] = include_bytes!("../data/churn/telco_churn_train.csv");

#[derive(Deserialize)]
struct DemoIncident {
    customer_external_id: Option<String>,
    #[serde(flatten)]
    request: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    lifecycle: Vec<TransitionRequest>,
    /// The customer's survey answer, for PQRs the lifecycle solves.
    survey: Option<crate::domain::survey::SurveyRequest>,
}

/// Loads the demo knowledge base (Spanish articles) into a tenant; needs the e5-small model.
pub async fn install_knowledge(
    knowledge: &crate::kb::KnowledgeBase,
    tenant_id: &str,
) -> Result<usize> {
    let articles: Vec<crate::domain::kb::ArticleInput> = serde_json::from_str(ARTICLES)
        .map_err(|e| Error::Internal(format!("demo knowledge base unreadable: {e}")))?;
    let count = articles.len();
    for input in articles {
        let data = input.parse().map_err(Error::Validation)?;
        knowledge.save(tenant_id, SaveAs::New, data).await?;
    }
    Ok(count)
}

/// Creates the demo tenant with its data if it does not exist; returns its id and an admin key.
pub async fn install(db: &Db) -> Result<(String, String)> {
    if let Some(tenant) = tenants::find_tenant_by_name(db, DEMO_TENANT).await? {
        let key =
            tenants::create_key(db, &tenant.id, "demo", crate::domain::access::Role::Admin).await?;
        return Ok((tenant.id, key.secret));
    }
    let (tenant, key) = tenants::create_tenant(db, DEMO_TENANT).await?;
    let bad_data = |e: serde_json::Error| Error::Internal(format!("demo data unreadable: {e}"));
    let inputs: Vec<CustomerInput> = serde_json::from_str(CUSTOMERS).map_err(bad_data)?;
    let parsed = inputs
        .into_iter()
        .map(CustomerInput::parse)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(Error::Validation)?;
    let outcome = customers::bulk_upsert(db, &tenant.id, parsed).await?;
    let principal = Principal {
        tenant_id: tenant.id.clone(),
        key_id: key.key.id.clone(),
        key_name: "demo".into(),
        role: crate::domain::access::Role::Admin,
        settings_version: crate::store::to_millis(tenant.updated_at),
    };
    let settings = tenant.settings.validate().map_err(Error::Validation)?;
    let demo: Vec<DemoIncident> = serde_json::from_str(INCIDENTS).map_err(bad_data)?;
    for item in demo {
        let mut request = item.request;
        if let Some(external_id) = item.customer_external_id {
            let id = outcome
                .ids
                .iter()
                .find(|i| i.external_id == external_id)
                .map(|i| i.id.clone())
                .ok_or_else(|| Error::Internal(format!("demo customer {external_id} missing")))?;
            request.insert("customer_id".into(), id.into());
        }
        let new: NewIncidentRequest = serde_json::from_value(request.into()).map_err(bad_data)?;
        let new = new.parse().map_err(Error::Validation)?;
        let registered =
            incidents::register(db, &principal, &settings, new, None, None, Timestamp::now())
                .await?;
        for step in item.lifecycle {
            incidents::transition(
                db,
                &principal,
                &registered.incident.id,
                step,
                Timestamp::now(),
            )
            .await?;
        }
        if let Some(survey) = item.survey {
            let answer = survey.parse().map_err(Error::Validation)?;
            crate::store::surveys::answer(
                db,
                &principal,
                &registered.incident.id,
                answer,
                Timestamp::now(),
            )
            .await?;
        }
    }
    Ok((tenant.id, key.secret))
}

/// Queues the training of the demo tenant's models if it has none: `risk`, `category` and
/// `sentiment` from the labelled Spanish PQRs in `data/demo/pqr_labels.csv`, and `churn` from the
/// IBM Telco customers. Returns the training jobs (empty when the models exist already).
pub async fn install_models(app: &crate::App, tenant_id: &str) -> Result<Vec<String>> {
    use crate::domain::dataset::{DatasetKind, FileFormat, Roles};
    use crate::ml::registry::{self, TrainRequest, Upload};
    if !crate::store::models::list(&app.db, tenant_id, None)
        .await?
        .is_empty()
    {
        return Ok(Vec::new());
    }
    let texts = registry::ingest(
        app,
        tenant_id,
        Upload {
            name: "PQR etiquetados (demo)".into(),
            kind: DatasetKind::TextLabels,
            format: FileFormat::Csv,
            roles: Roles {
                text_column: Some("texto".into()),
                label_columns: vec!["riesgo".into(), "categoria".into(), "sentimiento".into()],
                ..Roles::default()
            },
            bytes: PQR_LABELS.to_vec(),
        },
    )
    .await?;
    let churn = registry::ingest(
        app,
        tenant_id,
        Upload {
            name: "Clientes IBM Telco (churn)".into(),
            kind: DatasetKind::Tabular,
            format: FileFormat::Csv,
            roles: Roles {
                target: Some("Churn".into()),
                ..Roles::default()
            },
            bytes: CHURN.to_vec(),
        },
    )
    .await?;
    let mut jobs = Vec::new();
    for (dataset, target, name) in [
        (&texts.id, "riesgo", "risk"),
        (&texts.id, "categoria", "category"),
        (&texts.id, "sentimiento", "sentiment"),
        (&churn.id, "Churn", "churn"),
    ] {
        let job = registry::enqueue_training(
            app,
            tenant_id,
            TrainRequest {
                dataset_id: dataset.clone(),
                target: Some(target.into()),
                name: Some(name.into()),
                algorithms: None,
            },
        )
        .await?;
        jobs.push(job.id);
    }
    Ok(jobs)
}
