//! ITIL priority: impact × urgency decides how fast a PQR must be handled.

use serde::{Deserialize, Serialize};

/// How many customers or how much service the PQR affects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum Impact {
    High,
    #[default]
    Medium,
    Low,
}

/// How soon the customer is hurt if nothing is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum Urgency {
    High,
    #[default]
    Medium,
    Low,
}

/// P1 (critical) to P5 (planning), the ITIL scale.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Critical,
    High,
    Medium,
    Low,
    Planning,
}

impl Priority {
    pub const ALL: [Priority; 5] = [
        Priority::Critical,
        Priority::High,
        Priority::Medium,
        Priority::Low,
        Priority::Planning,
    ];

    /// The ITIL matrix: each step down in impact or urgency lowers priority by one level.
    pub fn from_matrix(impact: Impact, urgency: Urgency) -> Priority {
        let rank = |level| match level {
            0 => 0usize,
            1 => 1,
            _ => 2,
        };
        let i = rank(impact as u8);
        let u = rank(urgency as u8);
        Priority::ALL[i + u]
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Critical => "critical",
            Priority::High => "high",
            Priority::Medium => "medium",
            Priority::Low => "low",
            Priority::Planning => "planning",
        }
    }

    pub fn parse(value: &str) -> Option<Priority> {
        Priority::ALL.into_iter().find(|p| p.as_str() == value)
    }
}

impl Impact {
    pub fn as_str(self) -> &'static str {
        match self {
            Impact::High => "high",
            Impact::Medium => "medium",
            Impact::Low => "low",
        }
    }
    pub fn parse(value: &str) -> Option<Impact> {
        [Impact::High, Impact::Medium, Impact::Low]
            .into_iter()
            .find(|v| v.as_str() == value)
    }
}

impl Urgency {
    pub fn as_str(self) -> &'static str {
        match self {
            Urgency::High => "high",
            Urgency::Medium => "medium",
            Urgency::Low => "low",
        }
    }
    pub fn parse(value: &str) -> Option<Urgency> {
        [Urgency::High, Urgency::Medium, Urgency::Low]
            .into_iter()
            .find(|v| v.as_str() == value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn itil_matrix() {
        use Impact as I;
        use Priority as P;
        use Urgency as U;
        let expected = [
            (I::High, U::High, P::Critical),
            (I::High, U::Medium, P::High),
            (I::High, U::Low, P::Medium),
            (I::Medium, U::High, P::High),
            (I::Medium, U::Medium, P::Medium),
            (I::Medium, U::Low, P::Low),
            (I::Low, U::High, P::Medium),
            (I::Low, U::Medium, P::Low),
            (I::Low, U::Low, P::Planning),
        ];
        for (impact, urgency, priority) in expected {
            assert_eq!(
                Priority::from_matrix(impact, urgency),
                priority,
                "{impact:?} × {urgency:?}"
            );
        }
    }

    #[test]
    fn names_round_trip() {
        for p in Priority::ALL {
            assert_eq!(Priority::parse(p.as_str()), Some(p));
        }
        assert_eq!(Impact::parse("medium"), Some(Impact::Medium));
        assert_eq!(Urgency::parse("urgent"), None);
    }
}
