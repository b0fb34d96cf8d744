//! The PQR (petición, queja, reclamo, sugerencia) and its lifecycle state machine.
//!
//! The allowed transitions live in one table ([`State::allowed_next`]) so that the API, the docs and
//! the tests all read the same rules.

use serde::{Deserialize, Serialize};

use super::priority::{Impact, Urgency};
use super::validation::{Errors, FieldError, optional_text, required_text};

/// Where the PQR came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Phone,
    Email,
    Chat,
    Chatbot,
    App,
    Web,
}

impl Channel {
    pub const ALL: [Channel; 6] = [
        Channel::Phone,
        Channel::Email,
        Channel::Chat,
        Channel::Chatbot,
        Channel::App,
        Channel::Web,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Phone => "phone",
            Channel::Email => "email",
            Channel::Chat => "chat",
            Channel::Chatbot => "chatbot",
            Channel::App => "app",
            Channel::Web => "web",
        }
    }

    pub fn parse(value: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.as_str() == value)
    }
}

/// The legal kind of request (Peruvian/Colombian PQR practice).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Petición: a request for information or a service.
    #[serde(alias = "petición")]
    Peticion,
    /// Queja: dissatisfaction with how the customer was treated.
    Queja,
    /// Reclamo: a claim about a product or service failure or a charge.
    Reclamo,
    /// Sugerencia: an improvement proposal.
    Sugerencia,
}

impl Kind {
    pub const ALL: [Kind; 4] = [Kind::Peticion, Kind::Queja, Kind::Reclamo, Kind::Sugerencia];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Peticion => "peticion",
            Kind::Queja => "queja",
            Kind::Reclamo => "reclamo",
            Kind::Sugerencia => "sugerencia",
        }
    }

    pub fn parse(value: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == value)
    }
}

/// Lifecycle state of a PQR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Registered,
    Assigned,
    InProgress,
    Escalated,
    Resolved,
    Closed,
    Rejected,
    Reopened,
}

impl State {
    pub const ALL: [State; 8] = [
        State::Registered,
        State::Assigned,
        State::InProgress,
        State::Escalated,
        State::Resolved,
        State::Closed,
        State::Rejected,
        State::Reopened,
    ];

    /// The lifecycle table. Re-assignment and escalating further are self-loops on purpose.
    pub fn allowed_next(self) -> &'static [State] {
        use State::*;
        match self {
            Registered | Reopened => &[Assigned, InProgress, Escalated, Resolved, Rejected],
            Assigned => &[Assigned, InProgress, Escalated, Resolved, Rejected],
            InProgress => &[Assigned, Escalated, Resolved, Rejected],
            Escalated => &[Escalated, Assigned, InProgress, Resolved, Rejected],
            Resolved => &[Closed, Reopened],
            Rejected => &[Reopened],
            Closed => &[],
        }
    }

    /// Open PQRs still count against the backlog and the SLA.
    pub fn is_open(self) -> bool {
        !matches!(self, State::Resolved | State::Closed | State::Rejected)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            State::Registered => "registered",
            State::Assigned => "assigned",
            State::InProgress => "in_progress",
            State::Escalated => "escalated",
            State::Resolved => "resolved",
            State::Closed => "closed",
            State::Rejected => "rejected",
            State::Reopened => "reopened",
        }
    }

    pub fn parse(value: &str) -> Option<State> {
        State::ALL.into_iter().find(|s| s.as_str() == value)
    }
}

/// Who a rejection is attributed to (a Claro datamart KPI).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RejectedBy {
    Company,
    Customer,
}

impl RejectedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            RejectedBy::Company => "company",
            RejectedBy::Customer => "customer",
        }
    }

    pub fn parse(value: &str) -> Option<RejectedBy> {
        [RejectedBy::Company, RejectedBy::Customer]
            .into_iter()
            .find(|r| r.as_str() == value)
    }
}

/// Highest escalation level a tenant flow can reach.
pub const MAX_ESCALATION_LEVEL: i64 = 5;

/// Where in Peru/Colombia/Chile the PQR happened (ubigeo-style hierarchy).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Location {
    pub region: Option<String>,
    pub department: Option<String>,
    pub province: Option<String>,
    pub district: Option<String>,
}

impl Location {
    /// Trims each level and bounds its length.
    pub fn parse(&self) -> Result<Location, Vec<FieldError>> {
        let mut errors = Errors::new();
        let region = optional_text(&mut errors, "region", self.region.as_deref(), 80);
        let department = optional_text(&mut errors, "department", self.department.as_deref(), 80);
        let province = optional_text(&mut errors, "province", self.province.as_deref(), 80);
        let district = optional_text(&mut errors, "district", self.district.as_deref(), 80);
        errors.finish(|| Location {
            region,
            department,
            province,
            district,
        })
    }
}

/// A PQR as a channel submits it.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewIncidentRequest {
    pub channel: Channel,
    pub kind: Kind,
    pub subject: String,
    pub description: String,
    /// Id of a customer of the same tenant.
    pub customer_id: Option<String>,
    /// Product or service concerned, e.g. "Internet Hogar 200 Mbps".
    pub product: Option<String>,
    #[serde(default)]
    pub location: Location,
    #[serde(default)]
    pub impact: Impact,
    #[serde(default)]
    pub urgency: Urgency,
    /// The channel's own reference (ticket id, call id, message id).
    pub external_ref: Option<String>,
}

/// A validated [`NewIncidentRequest`]; can only be built through [`NewIncidentRequest::parse`].
#[derive(Debug, Clone)]
pub struct NewIncident {
    pub channel: Channel,
    pub kind: Kind,
    pub subject: String,
    pub description: String,
    pub customer_id: Option<String>,
    pub product: Option<String>,
    pub location: Location,
    pub impact: Impact,
    pub urgency: Urgency,
    pub external_ref: Option<String>,
}

impl NewIncidentRequest {
    pub fn parse(self) -> Result<NewIncident, Vec<FieldError>> {
        let mut errors = Errors::new();
        let subject = required_text(&mut errors, "subject", &self.subject, 200);
        let description = required_text(&mut errors, "description", &self.description, 20_000);
        let customer_id =
            optional_text(&mut errors, "customer_id", self.customer_id.as_deref(), 64);
        let product = optional_text(&mut errors, "product", self.product.as_deref(), 120);
        let external_ref = optional_text(
            &mut errors,
            "external_ref",
            self.external_ref.as_deref(),
            120,
        );
        let location = errors.take("location", self.location.parse());
        match (subject, description, location) {
            (Some(subject), Some(description), Some(location)) if errors.is_empty() => {
                Ok(NewIncident {
                    channel: self.channel,
                    kind: self.kind,
                    subject,
                    description,
                    customer_id,
                    product,
                    location,
                    impact: self.impact,
                    urgency: self.urgency,
                    external_ref,
                })
            }
            _ => Err(errors.into_vec()),
        }
    }
}

/// A request to move a PQR to another state, as an agent sends it.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransitionRequest {
    /// Target state.
    pub to: State,
    /// Required for `assigned`: the agent or queue taking the PQR.
    pub assignee: Option<String>,
    /// Required for `escalated`, `rejected` and `reopened`.
    pub reason: Option<String>,
    /// Required for `rejected`.
    pub rejected_by: Option<RejectedBy>,
    /// For `escalated`: the level to reach (defaults to one above the current).
    pub level: Option<i64>,
    /// Required for `resolved`: what was done.
    pub resolution: Option<String>,
    /// Free note for the timeline.
    pub note: Option<String>,
}

/// The facts of a PQR a transition depends on.
#[derive(Debug, Clone)]
pub struct Current {
    pub state: State,
    pub escalation_level: i64,
}

/// What a valid transition changes; persisted as-is and recorded in the timeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub from: State,
    pub to: State,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rejected_by: Option<RejectedBy>,
    pub escalation_level: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolution: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Why a transition cannot happen.
#[derive(Debug, Clone, PartialEq)]
pub enum TransitionError {
    /// The lifecycle does not allow it from the current state (HTTP 409).
    NotAllowed {
        from: State,
        to: State,
        allowed: &'static [State],
    },
    /// The request lacks or has bad fields for that target (HTTP 422).
    Invalid(Vec<FieldError>),
}

impl TransitionRequest {
    /// Checks the transition against the lifecycle and the fields it needs.
    pub fn apply(self, current: &Current) -> Result<Change, TransitionError> {
        let allowed = current.state.allowed_next();
        if !allowed.contains(&self.to) {
            return Err(TransitionError::NotAllowed {
                from: current.state,
                to: self.to,
                allowed,
            });
        }
        let mut errors = Errors::new();
        let assignee = optional_text(&mut errors, "assignee", self.assignee.as_deref(), 120);
        let reason = optional_text(&mut errors, "reason", self.reason.as_deref(), 2_000);
        let resolution = optional_text(
            &mut errors,
            "resolution",
            self.resolution.as_deref(),
            10_000,
        );
        let note = optional_text(&mut errors, "note", self.note.as_deref(), 10_000);
        let mut escalation_level = current.escalation_level;
        let needs = |errors: &mut Errors, field: &str, present: bool| {
            if !present {
                errors.add(
                    field,
                    format!("is required to move to {}", self.to.as_str()),
                );
            }
        };
        match self.to {
            State::Assigned => needs(&mut errors, "assignee", assignee.is_some()),
            State::Escalated => {
                needs(&mut errors, "reason", reason.is_some());
                let target = self.level.unwrap_or(current.escalation_level + 1);
                if target <= current.escalation_level {
                    errors.add(
                        "level",
                        format!(
                            "must be above the current level {}",
                            current.escalation_level
                        ),
                    );
                } else if target > MAX_ESCALATION_LEVEL {
                    errors.add("level", format!("must be at most {MAX_ESCALATION_LEVEL}"));
                } else {
                    escalation_level = target;
                }
            }
            State::Resolved => needs(&mut errors, "resolution", resolution.is_some()),
            State::Rejected => {
                needs(&mut errors, "reason", reason.is_some());
                needs(&mut errors, "rejected_by", self.rejected_by.is_some());
            }
            State::Reopened => needs(&mut errors, "reason", reason.is_some()),
            State::Registered | State::InProgress | State::Closed => {}
        }
        if self.level.is_some() && self.to != State::Escalated {
            errors.add("level", "is only accepted when moving to escalated");
        }
        if self.rejected_by.is_some() && self.to != State::Rejected {
            errors.add("rejected_by", "is only accepted when moving to rejected");
        }
        if !errors.is_empty() {
            return Err(TransitionError::Invalid(errors.into_vec()));
        }
        Ok(Change {
            from: current.state,
            to: self.to,
            assignee,
            reason,
            rejected_by: self.rejected_by,
            escalation_level,
            resolution,
            note,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(to: State) -> TransitionRequest {
        TransitionRequest {
            to,
            assignee: Some("ana.quispe".into()),
            reason: Some("cliente insiste".into()),
            rejected_by: (to == State::Rejected).then_some(RejectedBy::Customer),
            level: None,
            resolution: Some("se reinició el router".into()),
            note: None,
        }
    }

    #[test]
    fn every_pair_follows_the_table() {
        for from in State::ALL {
            for to in State::ALL {
                let current = Current {
                    state: from,
                    escalation_level: if from == State::Escalated { 1 } else { 0 },
                };
                let result = request(to).apply(&current);
                if from.allowed_next().contains(&to) {
                    assert!(result.is_ok(), "{from:?} -> {to:?}: {result:?}");
                } else {
                    assert!(
                        matches!(result, Err(TransitionError::NotAllowed { .. })),
                        "{from:?} -> {to:?} should be refused"
                    );
                }
            }
        }
    }

    #[test]
    fn closed_is_terminal_and_registered_is_never_a_target() {
        assert!(State::Closed.allowed_next().is_empty());
        for s in State::ALL {
            assert!(!s.allowed_next().contains(&State::Registered));
        }
    }

    #[test]
    fn escalation_climbs_levels_and_stops_at_the_maximum() {
        let mut current = Current {
            state: State::InProgress,
            escalation_level: 0,
        };
        for expected in 1..=MAX_ESCALATION_LEVEL {
            let change = request(State::Escalated).apply(&current).unwrap();
            assert_eq!(change.escalation_level, expected);
            current = Current {
                state: State::Escalated,
                escalation_level: expected,
            };
        }
        let Err(TransitionError::Invalid(errors)) = request(State::Escalated).apply(&current)
        else {
            panic!("escalating past the maximum must fail");
        };
        assert_eq!(errors[0].field, "level");
    }

    #[test]
    fn rejection_needs_reason_and_attribution() {
        let current = Current {
            state: State::Assigned,
            escalation_level: 0,
        };
        let bare = TransitionRequest {
            to: State::Rejected,
            assignee: None,
            reason: None,
            rejected_by: None,
            level: None,
            resolution: None,
            note: None,
        };
        let Err(TransitionError::Invalid(errors)) = bare.apply(&current) else {
            panic!("a bare rejection must fail");
        };
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["reason", "rejected_by"]);
    }

    #[test]
    fn new_incident_reports_every_bad_field() {
        let request = NewIncidentRequest {
            channel: Channel::Web,
            kind: Kind::Reclamo,
            subject: "  ".into(),
            description: "x".repeat(20_001),
            customer_id: None,
            product: None,
            location: Location {
                region: Some("r".repeat(81)),
                ..Location::default()
            },
            impact: Impact::Medium,
            urgency: Urgency::Medium,
            external_ref: None,
        };
        let errors = request.parse().unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["subject", "description", "location.region"]);
    }
}
