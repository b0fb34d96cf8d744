//! A recorded call's metadata as a channel sends it with the audio: parsed once, every field at
//! fault reported.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::validation::{Errors, FieldError, optional_text};

/// Who placed the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// The customer called the centre.
    Inbound,
    /// The centre called the customer.
    Outbound,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
        }
    }

    pub fn parse(value: &str) -> Option<Direction> {
        match value {
            "inbound" => Some(Direction::Inbound),
            "outbound" => Some(Direction::Outbound),
            _ => None,
        }
    }
}

/// Metadata of an uploaded call: the `metadata` part of a multipart upload, or the query string
/// of a raw one.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct NewCallRequest {
    pub direction: Direction,
    /// The tenant's customer id, if known.
    pub customer_id: Option<String>,
    /// The agent who took or placed the call (name or login).
    pub agent: Option<String>,
    #[schema(value_type = String)]
    #[param(value_type = String)]
    pub started_at: Timestamp,
    #[schema(value_type = String)]
    #[param(value_type = String)]
    pub ended_at: Timestamp,
    /// The PQR the call is about; it must be one of the caller's tenant.
    pub incident_id: Option<String>,
}

/// Metadata that passed validation.
#[derive(Debug, Clone, PartialEq)]
pub struct NewCall {
    pub direction: Direction,
    pub customer_id: Option<String>,
    pub agent: Option<String>,
    pub started_at: Timestamp,
    pub ended_at: Timestamp,
    pub incident_id: Option<String>,
}

/// Longest call accepted.
pub const MAX_CALL_SECS: i64 = 24 * 3600;

impl NewCallRequest {
    pub fn parse(self) -> Result<NewCall, Vec<FieldError>> {
        let mut errors = Errors::new();
        let customer_id =
            optional_text(&mut errors, "customer_id", self.customer_id.as_deref(), 64);
        let agent = optional_text(&mut errors, "agent", self.agent.as_deref(), 120);
        let incident_id =
            optional_text(&mut errors, "incident_id", self.incident_id.as_deref(), 64);
        let length = self.ended_at.as_second() - self.started_at.as_second();
        if self.ended_at < self.started_at {
            errors.add("ended_at", "must not be before started_at");
        } else if length > MAX_CALL_SECS {
            errors.add("ended_at", "a call may last at most 24 hours");
        }
        errors.finish(|| NewCall {
            direction: self.direction,
            customer_id,
            agent,
            started_at: self.started_at,
            ended_at: self.ended_at,
            incident_id,
        })
    }
}

/// What the telephony platform (PBX, dialler, CTI bridge) says happened to a call in progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CallEventKind {
    Started,
    Ended,
}

/// `POST /v1/calls/events`: a call started or ended, as it happens (the recording, if any, is
/// uploaded afterwards with `POST /v1/calls`).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallEventRequest {
    pub event: CallEventKind,
    /// The platform's own id of the call (e.g. Asterisk's `Uniqueid`); a start and its end
    /// share it, and a retried event with the same id changes nothing.
    pub call_ref: String,
    /// Needed on `started`; on `ended` the direction of the start is kept.
    pub direction: Option<Direction>,
    pub agent: Option<String>,
    pub customer_id: Option<String>,
    /// When it happened; default now.
    #[schema(value_type = Option<String>)]
    pub at: Option<Timestamp>,
}

/// A call event that passed validation.
#[derive(Debug, Clone, PartialEq)]
pub struct CallEvent {
    pub kind: CallEventKind,
    pub call_ref: String,
    pub direction: Option<Direction>,
    pub agent: Option<String>,
    pub customer_id: Option<String>,
    pub at: Option<Timestamp>,
}

impl CallEventRequest {
    pub fn parse(self) -> Result<CallEvent, Vec<FieldError>> {
        let mut errors = Errors::new();
        if self.call_ref.trim().is_empty() {
            errors.add("call_ref", "must not be empty");
        }
        let call_ref = optional_text(&mut errors, "call_ref", Some(&self.call_ref), 128);
        if self.event == CallEventKind::Started && self.direction.is_none() {
            errors.add(
                "direction",
                "is required when a call starts (inbound or outbound)",
            );
        }
        let agent = optional_text(&mut errors, "agent", self.agent.as_deref(), 120);
        let customer_id =
            optional_text(&mut errors, "customer_id", self.customer_id.as_deref(), 64);
        errors.finish(|| CallEvent {
            kind: self.event,
            call_ref: call_ref.unwrap_or_default(),
            direction: self.direction,
            agent,
            customer_id,
            at: self.at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(started: &str, ended: &str) -> NewCallRequest {
        NewCallRequest {
            direction: Direction::Inbound,
            customer_id: Some(" c-1 ".into()),
            agent: Some("".into()),
            started_at: started.parse().unwrap(),
            ended_at: ended.parse().unwrap(),
            incident_id: None,
        }
    }

    #[test]
    fn call_events_need_an_id_and_a_starting_direction() {
        let event = |kind, call_ref: &str, direction| CallEventRequest {
            event: kind,
            call_ref: call_ref.into(),
            direction,
            agent: Some(" Rosa ".into()),
            customer_id: None,
            at: None,
        };
        let parsed = event(CallEventKind::Started, " 1701.5 ", Some(Direction::Inbound))
            .parse()
            .unwrap();
        assert_eq!(
            (parsed.call_ref.as_str(), parsed.agent.as_deref()),
            ("1701.5", Some("Rosa"))
        );
        let fields = |r: Result<CallEvent, Vec<FieldError>>| {
            r.unwrap_err()
                .into_iter()
                .map(|e| e.field)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            fields(event(CallEventKind::Started, " ", None).parse()),
            ["call_ref", "direction"]
        );
        assert_eq!(
            fields(event(CallEventKind::Ended, &"x".repeat(129), None).parse()),
            ["call_ref"]
        );
        assert!(event(CallEventKind::Ended, "1701.5", None).parse().is_ok());
    }

    #[test]
    fn times_are_checked_and_texts_trimmed() {
        let call = request("2026-12-01T10:00:00Z", "2026-12-01T10:05:00Z")
            .parse()
            .unwrap();
        assert_eq!(call.customer_id.as_deref(), Some("c-1"));
        assert_eq!(call.agent, None);
        let errors = request("2026-12-01T10:05:00Z", "2026-12-01T10:00:00Z")
            .parse()
            .unwrap_err();
        assert_eq!(errors[0].field, "ended_at");
        assert!(
            request("2026-12-01T10:00:00Z", "2026-12-03T10:00:00Z")
                .parse()
                .is_err()
        );
    }
}
