//! Customers of a tenant: identity chosen by the tenant (external id), contact preferences and
//! how important they are to the tenant (tier + score), which drives routing and retention.

use serde::{Deserialize, Serialize};

use super::incident::Location;
use super::validation::{
    Errors, FieldError, default_language, language_tag, optional_text, required_text,
};

/// Person or company; tenants report and price them differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum CustomerType {
    #[default]
    Person,
    Business,
}

impl CustomerType {
    pub fn as_str(self) -> &'static str {
        match self {
            CustomerType::Person => "person",
            CustomerType::Business => "business",
        }
    }
    pub fn parse(value: &str) -> Option<CustomerType> {
        [CustomerType::Person, CustomerType::Business]
            .into_iter()
            .find(|t| t.as_str() == value)
    }
}

/// Coarse importance band; agents see it first on the 360 view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    Platinum,
    Gold,
    Silver,
    #[default]
    Standard,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Platinum => "platinum",
            Tier::Gold => "gold",
            Tier::Silver => "silver",
            Tier::Standard => "standard",
        }
    }
    pub fn parse(value: &str) -> Option<Tier> {
        [Tier::Platinum, Tier::Gold, Tier::Silver, Tier::Standard]
            .into_iter()
            .find(|t| t.as_str() == value)
    }
}

/// Importance indicator: the band plus a 0–100 score for finer ordering.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct Importance {
    #[serde(default)]
    pub tier: Tier,
    /// 0 to 100.
    #[serde(default)]
    pub score: f64,
}

/// A way to reach the customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ContactChannel {
    Phone,
    Email,
    Sms,
    Whatsapp,
    App,
}

/// How the customer wants (and allows) to be contacted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactPreferences {
    pub preferred_channel: Option<ContactChannel>,
    /// Channels the customer consented to; notifications use no other.
    #[serde(default)]
    pub allowed_channels: Vec<ContactChannel>,
    /// BCP 47 language tag for messages, e.g. "es-PE".
    #[serde(default = "default_language")]
    pub language: String,
}

impl Default for ContactPreferences {
    fn default() -> Self {
        Self {
            preferred_channel: None,
            allowed_channels: Vec::new(),
            language: default_language(),
        }
    }
}

/// A customer as the tenant sends it (create, replace, or one item of a bulk upsert).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerInput {
    /// The tenant's own id for the customer (unique per tenant).
    pub external_id: String,
    pub name: String,
    /// National id document (DNI, RUC, cédula, RUT).
    pub document_id: Option<String>,
    pub email: Option<String>,
    /// E.164 phone number, e.g. "+51987654321".
    pub phone: Option<String>,
    #[serde(default)]
    pub customer_type: CustomerType,
    /// Tenant-defined segment, e.g. "postpago", "prepago", "empresas".
    pub segment: Option<String>,
    #[serde(default)]
    pub importance: Importance,
    #[serde(default)]
    pub contact_preferences: ContactPreferences,
    #[serde(default)]
    pub location: Location,
    /// Free attributes the tenant keeps about the customer (plan, tenure, charges…), used by scoring.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub attributes: serde_json::Map<String, serde_json::Value>,
}

/// A validated customer; only [`CustomerInput::parse`] builds one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CustomerData {
    pub external_id: String,
    pub name: String,
    pub document_id: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub customer_type: CustomerType,
    pub segment: Option<String>,
    pub importance: Importance,
    pub contact_preferences: ContactPreferences,
    pub location: Location,
    pub attributes: serde_json::Map<String, serde_json::Value>,
}

const MAX_ATTRIBUTES_BYTES: usize = 16 * 1024;

/// Most customers one bulk upsert accepts (REST and GraphQL alike).
pub const MAX_BULK_ITEMS: usize = 50_000;

impl CustomerInput {
    pub fn parse(self) -> Result<CustomerData, Vec<FieldError>> {
        let mut errors = Errors::new();
        let external_id = required_text(&mut errors, "external_id", &self.external_id, 100);
        if let Some(id) = &external_id
            && id.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            errors.add(
                "external_id",
                "must not contain spaces or control characters",
            );
        }
        let name = required_text(&mut errors, "name", &self.name, 200);
        let document_id =
            optional_text(&mut errors, "document_id", self.document_id.as_deref(), 40);
        let email = optional_text(&mut errors, "email", self.email.as_deref(), 254);
        if let Some(email) = &email
            && !is_plausible_email(email)
        {
            errors.add("email", "must be an e-mail address like nombre@dominio.pe");
        }
        let phone = optional_text(&mut errors, "phone", self.phone.as_deref(), 16);
        if let Some(phone) = &phone
            && !is_e164(phone)
        {
            errors.add("phone", "must be in E.164 form, e.g. +51987654321");
        }
        let segment = optional_text(&mut errors, "segment", self.segment.as_deref(), 60);
        let score = self.importance.score;
        if !(0.0..=100.0).contains(&score) {
            errors.add("importance.score", "must be between 0 and 100");
        }
        let language = language_tag(
            &mut errors,
            "contact_preferences.language",
            &self.contact_preferences.language,
        );
        let location = errors.take("location", self.location.parse());
        if serde_json::to_vec(&self.attributes).map_or(0, |v| v.len()) > MAX_ATTRIBUTES_BYTES {
            errors.add(
                "attributes",
                format!("must be at most {MAX_ATTRIBUTES_BYTES} bytes of JSON"),
            );
        }
        match (external_id, name, location) {
            (Some(external_id), Some(name), Some(location)) if errors.is_empty() => {
                Ok(CustomerData {
                    external_id,
                    name,
                    document_id,
                    email,
                    phone,
                    customer_type: self.customer_type,
                    segment,
                    importance: self.importance,
                    contact_preferences: ContactPreferences {
                        language,
                        ..self.contact_preferences
                    },
                    location,
                    attributes: self.attributes,
                })
            }
            _ => Err(errors.into_vec()),
        }
    }
}

/// Parses every item of a bulk request on its own, so one bad item does not hide the others;
/// errors are rooted at `[index]`.
pub fn parse_batch(
    items: &[Box<serde_json::value::RawValue>],
) -> Result<Vec<CustomerData>, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut parsed = Vec::with_capacity(items.len());
    for (index, raw) in items.iter().enumerate() {
        let root = format!("[{index}]");
        let mut deserializer = serde_json::Deserializer::from_str(raw.get());
        match serde_path_to_error::deserialize::<_, CustomerInput>(&mut deserializer) {
            Err(e) => {
                let path = e.path().to_string();
                let field = if path == "." { String::new() } else { path };
                errors.push(FieldError::new(field, e.inner().to_string()).under(&root));
            }
            Ok(input) => match input.parse() {
                Ok(data) => parsed.push(data),
                Err(item_errors) => errors.extend(item_errors.into_iter().map(|e| e.under(&root))),
            },
        }
    }
    if errors.is_empty() {
        Ok(parsed)
    } else {
        Err(errors)
    }
}

fn is_plausible_email(value: &str) -> bool {
    let Some((local, domain)) = value.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !value.chars().any(char::is_whitespace)
}

fn is_e164(value: &str) -> bool {
    let Some(digits) = value.strip_prefix('+') else {
        return false;
    };
    (8..=15).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> CustomerInput {
        serde_json::from_value(serde_json::json!({
            "external_id": "CLI-0001",
            "name": "  María Quispe ",
            "email": "maria@correo.pe",
            "phone": "+51987654321",
        }))
        .unwrap()
    }

    #[test]
    fn valid_customer_is_trimmed_and_defaulted() {
        let customer = input().parse().unwrap();
        assert_eq!(customer.name, "María Quispe");
        assert_eq!(customer.importance.tier, Tier::Standard);
        assert_eq!(customer.contact_preferences.language, "es");
    }

    #[test]
    fn every_bad_field_is_named() {
        let mut bad = input();
        bad.external_id = "CLI 1".into();
        bad.email = Some("maria.correo.pe".into());
        bad.phone = Some("987654321".into());
        bad.importance.score = 120.0;
        let fields: Vec<_> = bad
            .parse()
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(
            fields,
            ["external_id", "email", "phone", "importance.score"]
        );
    }
}
