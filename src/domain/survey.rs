//! The satisfaction survey a customer answers once a PQR is resolved: one answer per PQR, a
//! score from 1 to 5 and an optional comment. CSAT (`domain::kpi`) counts answers of 4 or 5.

use serde::{Deserialize, Serialize};

use super::incident::State;
use super::validation::{Errors, FieldError};

/// Longest comment kept, in characters.
pub const MAX_COMMENT_CHARS: usize = 2_000;

/// Scores that count as satisfied in CSAT.
pub const SATISFIED: std::ops::RangeInclusive<i64> = 4..=5;

/// A survey answer as a channel (IVR, email link, app) or an agent sends it.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SurveyRequest {
    /// 1 (very dissatisfied) to 5 (very satisfied).
    pub score: i64,
    /// What the customer said, if anything.
    pub comment: Option<String>,
}

/// A valid answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SurveyAnswer {
    pub score: i64,
    pub comment: Option<String>,
}

impl SurveyRequest {
    /// Checks the score's range and the comment's length; a blank comment is no comment.
    pub fn parse(self) -> Result<SurveyAnswer, Vec<FieldError>> {
        let mut errors = Errors::new();
        if !(1..=5).contains(&self.score) {
            errors.add("score", "must be a whole number from 1 to 5");
        }
        let comment = self
            .comment
            .map(|c| c.trim().to_owned())
            .filter(|c| !c.is_empty());
        if comment
            .as_ref()
            .is_some_and(|c| c.chars().count() > MAX_COMMENT_CHARS)
        {
            errors.add(
                "comment",
                format!("must be at most {MAX_COMMENT_CHARS} characters"),
            );
        }
        let score = self.score;
        errors.finish(|| SurveyAnswer { score, comment })
    }
}

/// Whether a PQR in `state` can be surveyed: only once the company says it is solved.
pub fn can_answer(state: State) -> bool {
    matches!(state, State::Resolved | State::Closed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(score: i64, comment: Option<&str>) -> SurveyRequest {
        SurveyRequest {
            score,
            comment: comment.map(str::to_owned),
        }
    }

    #[test]
    fn scores_from_one_to_five_are_accepted_and_blank_comments_dropped() {
        for score in 1..=5 {
            assert_eq!(request(score, None).parse().unwrap().score, score);
        }
        assert_eq!(request(5, Some("  ")).parse().unwrap().comment, None);
        assert_eq!(
            request(4, Some(" Muy amable ")).parse().unwrap().comment,
            Some("Muy amable".into())
        );
    }

    #[test]
    fn out_of_range_scores_and_long_comments_name_their_field() {
        let long = "a".repeat(MAX_COMMENT_CHARS + 1);
        let errors = request(0, Some(&long)).parse().unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["score", "comment"]);
        assert!(request(6, None).parse().is_err());
    }

    #[test]
    fn only_solved_pqrs_can_be_surveyed() {
        assert!(can_answer(State::Resolved) && can_answer(State::Closed));
        assert!(!can_answer(State::Registered) && !can_answer(State::Rejected));
    }
}
