//! Per-tenant settings: what agents say, how fast PQRs must be handled, when the tenant is open,
//! and what each channel's incidents cost. Validated as a whole before anything is stored.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::calendar::{BusinessCalendar, BusinessHours};
use super::priority::Priority;
use super::validation::{Errors, FieldError, required_text};

/// Response and resolution targets for one priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SlaTarget {
    pub first_response_minutes: u32,
    pub resolution_minutes: u32,
    /// When true the clock runs only during business hours; when false it runs 24x7.
    pub business_hours_only: bool,
}

/// SLA targets per priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SlaPolicy {
    pub critical: SlaTarget,
    pub high: SlaTarget,
    pub medium: SlaTarget,
    pub low: SlaTarget,
    pub planning: SlaTarget,
}

impl SlaPolicy {
    pub fn target(&self, priority: Priority) -> SlaTarget {
        match priority {
            Priority::Critical => self.critical,
            Priority::High => self.high,
            Priority::Medium => self.medium,
            Priority::Low => self.low,
            Priority::Planning => self.planning,
        }
    }
}

impl Default for SlaPolicy {
    fn default() -> Self {
        let target = |first, resolution, business| SlaTarget {
            first_response_minutes: first,
            resolution_minutes: resolution,
            business_hours_only: business,
        };
        Self {
            critical: target(15, 240, false),
            high: target(60, 480, true),
            medium: target(240, 1_440, true),
            low: target(480, 2_880, true),
            planning: target(1_440, 7_200, true),
        }
    }
}

/// Everything a tenant administrator configures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantSettings {
    /// What agents say when they pick up (seed: configurable per client).
    pub greeting: String,
    /// What agents say before hanging up.
    pub closing: String,
    pub sla: SlaPolicy,
    pub business_hours: BusinessHours,
    /// Per-channel fees lived here before billing had its own price lists (set by ABCall, see
    /// `GET /v1/billing`); stored documents may still carry them, and a request that sends them
    /// is told where they went.
    #[serde(default, skip_serializing)]
    #[schema(ignore)]
    pub channel_fees: Option<serde::de::IgnoredAny>,
    /// Churn threshold and the offers proposed above it (optional in older documents).
    #[serde(default)]
    pub retention: super::retention::RetentionPolicy,
    /// How long recordings and attachments are kept, and call-quality thresholds (optional in
    /// older documents).
    #[serde(default)]
    pub recordings: super::recordings::RecordingPolicy,
}

impl Default for TenantSettings {
    fn default() -> Self {
        Self {
            greeting: "Gracias por comunicarse con nosotros, le saluda {agente}. ¿En qué puedo ayudarle?".into(),
            closing: "Gracias por su llamada. ¿Hay algo más en lo que pueda ayudarle? Que tenga un buen día.".into(),
            sla: SlaPolicy::default(),
            business_hours: BusinessHours::default(),
            channel_fees: None,
            retention: super::retention::RetentionPolicy::default(),
            recordings: super::recordings::RecordingPolicy::default(),
        }
    }
}

/// Due times of a new PQR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlaDue {
    pub first_response: Timestamp,
    pub resolution: Timestamp,
}

/// Settings that passed validation, with the business calendar compiled once.
#[derive(Debug, Clone)]
pub struct ValidSettings {
    pub settings: TenantSettings,
    calendar: BusinessCalendar,
    always_open: BusinessCalendar,
}

impl ValidSettings {
    /// The tenant's wall clock: business hours and billing months are counted in it.
    pub fn time_zone(&self) -> &jiff::tz::TimeZone {
        self.calendar.time_zone()
    }

    /// SLA due times for a PQR of `priority` registered at `at`.
    pub fn sla_due(&self, priority: Priority, at: Timestamp) -> SlaDue {
        let target = self.settings.sla.target(priority);
        let calendar = if target.business_hours_only {
            &self.calendar
        } else {
            &self.always_open
        };
        SlaDue {
            first_response: calendar.add_business_minutes(at, target.first_response_minutes),
            resolution: calendar.add_business_minutes(at, target.resolution_minutes),
        }
    }
}

const MAX_SLA_MINUTES: u32 = 60 * 24 * 365;

impl TenantSettings {
    pub fn validate(self) -> Result<ValidSettings, Vec<FieldError>> {
        let mut errors = Errors::new();
        required_text(&mut errors, "greeting", &self.greeting, 1_000);
        required_text(&mut errors, "closing", &self.closing, 1_000);
        for priority in Priority::ALL {
            let target = self.sla.target(priority);
            let field = |name: &str| format!("sla.{}.{name}", priority.as_str());
            for (name, minutes) in [
                ("first_response_minutes", target.first_response_minutes),
                ("resolution_minutes", target.resolution_minutes),
            ] {
                if minutes == 0 || minutes > MAX_SLA_MINUTES {
                    errors.add(
                        field(name),
                        format!("must be between 1 and {MAX_SLA_MINUTES}"),
                    );
                }
            }
            if target.first_response_minutes > target.resolution_minutes {
                errors.add(
                    field("first_response_minutes"),
                    "must not exceed resolution_minutes",
                );
            }
        }
        if self.channel_fees.is_some() {
            errors.add(
                "channel_fees",
                "per-channel fees are now the tenant's price list, set by ABCall: see GET /v1/billing",
            );
        }
        self.retention.validate(&mut errors);
        self.recordings.validate(&mut errors);
        let calendar = errors.take("business_hours", self.business_hours.compile());
        let always_open = BusinessHours::always_open()
            .compile()
            .expect("the always-open calendar is valid");
        match calendar {
            Some(calendar) if errors.is_empty() => Ok(ValidSettings {
                settings: self,
                calendar,
                always_open,
            }),
            _ => Err(errors.into_vec()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        TenantSettings::default().validate().unwrap();
    }

    #[test]
    fn bad_settings_name_each_field() {
        let mut settings = TenantSettings {
            greeting: " ".into(),
            ..TenantSettings::default()
        };
        settings.sla.high.first_response_minutes = 0;
        settings.sla.low.first_response_minutes = 5_000;
        settings.channel_fees = Some(serde::de::IgnoredAny);
        settings.business_hours.timezone = "America/Atlantida".into();
        let fields: Vec<_> = settings
            .validate()
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(
            fields,
            [
                "greeting",
                "sla.high.first_response_minutes",
                "sla.low.first_response_minutes",
                "channel_fees",
                "business_hours.timezone",
            ]
        );
    }

    #[test]
    fn critical_runs_around_the_clock_while_high_waits_for_opening() {
        let settings = TenantSettings::default().validate().unwrap();
        // Sunday 2026-11-22 03:00 in Lima (UTC-5): closed all day in the default hours.
        let at: Timestamp = "2026-11-22T08:00:00Z".parse().unwrap();
        let critical = settings.sla_due(Priority::Critical, at);
        assert_eq!(critical.first_response.to_string(), "2026-11-22T08:15:00Z");
        let high = settings.sla_due(Priority::High, at);
        // Monday 08:00 Lima = 13:00Z, plus 60 business minutes.
        assert_eq!(high.first_response.to_string(), "2026-11-23T14:00:00Z");
    }
}
