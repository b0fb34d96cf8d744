//! Retention offers: the tenant's catalogue, ordered from most to least preferred, each with
//! eligibility rules. When a customer's churn probability reaches the tenant's threshold, the
//! first eligible offer is proposed, with the reasons it applies, in words an agent can read out.

use serde::{Deserialize, Serialize};

use super::validation::Errors;

/// Who an offer is for. Every rule that is set must hold.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Eligibility {
    /// Customer segments it applies to (empty: all).
    #[serde(default)]
    pub segments: Vec<String>,
    /// Months with the company, read from the customer attribute `tenure`.
    pub min_tenure_months: Option<f64>,
    pub max_tenure_months: Option<f64>,
    /// Churn probability from which it is offered (on top of the tenant's threshold).
    pub min_churn_probability: Option<f64>,
    /// Customer value: its importance score (0–100).
    pub min_importance_score: Option<f64>,
}

/// One offer of the catalogue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Offer {
    /// The tenant's code, e.g. `DESC-30-6M`.
    pub code: String,
    /// What the agent offers, in the customer's language.
    pub description: String,
    #[serde(default)]
    pub eligibility: Eligibility,
}

/// The tenant's retention policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetentionPolicy {
    /// Churn probability from which insights propose an offer.
    pub churn_threshold: f64,
    /// Most preferred first.
    pub offers: Vec<Offer>,
}

impl Default for RetentionPolicy {
    fn default() -> Self {
        Self {
            churn_threshold: 0.5,
            offers: vec![
                Offer {
                    code: "DESC-30-6M".into(),
                    description: "30% de descuento en la renta mensual durante 6 meses a cambio \
                        de permanecer 12 meses"
                        .into(),
                    eligibility: Eligibility {
                        min_churn_probability: Some(0.7),
                        min_importance_score: Some(60.0),
                        ..Eligibility::default()
                    },
                },
                Offer {
                    code: "VEL-X2-3M".into(),
                    description: "El doble de velocidad sin costo durante 3 meses".into(),
                    eligibility: Eligibility {
                        max_tenure_months: Some(12.0),
                        ..Eligibility::default()
                    },
                },
                Offer {
                    code: "FIDELIDAD".into(),
                    description: "Un mes de servicio gratis por fidelidad".into(),
                    eligibility: Eligibility {
                        min_tenure_months: Some(24.0),
                        ..Eligibility::default()
                    },
                },
            ],
        }
    }
}

/// What is known of the customer when choosing.
#[derive(Debug, Clone, Default)]
pub struct Facts<'a> {
    pub churn_probability: f64,
    pub segment: Option<&'a str>,
    pub tenure_months: Option<f64>,
    pub importance_score: f64,
}

/// The offer proposed and why.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Proposal {
    pub code: String,
    pub description: String,
    /// Each rule that made the customer eligible, and the churn threshold that was passed.
    pub reasons: Vec<String>,
}

impl RetentionPolicy {
    pub fn validate(&self, errors: &mut Errors) {
        if !(0.0..=1.0).contains(&self.churn_threshold) {
            errors.add("retention.churn_threshold", "must be between 0 and 1");
        }
        if self.offers.len() > 50 {
            errors.add("retention.offers", "must have at most 50 offers");
        }
        for (i, offer) in self.offers.iter().enumerate() {
            let field = |name: &str| format!("retention.offers[{i}].{name}");
            if offer.code.trim().is_empty() || offer.code.chars().count() > 40 {
                errors.add(field("code"), "must be 1 to 40 characters");
            }
            if offer.description.trim().is_empty() || offer.description.chars().count() > 500 {
                errors.add(field("description"), "must be 1 to 500 characters");
            }
            let rules = &offer.eligibility;
            if rules
                .min_churn_probability
                .is_some_and(|p| !(0.0..=1.0).contains(&p))
            {
                errors.add(
                    field("eligibility.min_churn_probability"),
                    "must be between 0 and 1",
                );
            }
            if let (Some(min), Some(max)) = (rules.min_tenure_months, rules.max_tenure_months)
                && min > max
            {
                errors.add(
                    field("eligibility.min_tenure_months"),
                    "must not exceed max_tenure_months",
                );
            }
        }
    }

    /// The first eligible offer once churn reaches the threshold; `None` below it or when no
    /// offer applies.
    pub fn propose(&self, facts: &Facts<'_>) -> Option<Proposal> {
        if facts.churn_probability < self.churn_threshold {
            return None;
        }
        let threshold = format!(
            "probabilidad de baja {:.0}% ≥ umbral {:.0}%",
            facts.churn_probability * 100.0,
            self.churn_threshold * 100.0
        );
        self.offers.iter().find_map(|offer| {
            let mut reasons = vec![threshold.clone()];
            let rules = &offer.eligibility;
            if !rules.segments.is_empty() {
                let segment = facts.segment?;
                if !rules.segments.iter().any(|s| s == segment) {
                    return None;
                }
                reasons.push(format!("segmento {segment}"));
            }
            if let Some(min) = rules.min_churn_probability {
                if facts.churn_probability < min {
                    return None;
                }
                reasons.push(format!("probabilidad de baja ≥ {:.0}%", min * 100.0));
            }
            if let Some(min) = rules.min_tenure_months {
                if facts.tenure_months? < min {
                    return None;
                }
                reasons.push(format!(
                    "{} meses de antigüedad ≥ {min}",
                    facts.tenure_months?
                ));
            }
            if let Some(max) = rules.max_tenure_months {
                if facts.tenure_months? > max {
                    return None;
                }
                reasons.push(format!(
                    "{} meses de antigüedad ≤ {max}",
                    facts.tenure_months?
                ));
            }
            if let Some(min) = rules.min_importance_score {
                if facts.importance_score < min {
                    return None;
                }
                reasons.push(format!(
                    "valor del cliente {} ≥ {min}",
                    facts.importance_score
                ));
            }
            Some(Proposal {
                code: offer.code.clone(),
                description: offer.description.clone(),
                reasons,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(churn: f64, tenure: Option<f64>, score: f64) -> Facts<'static> {
        Facts {
            churn_probability: churn,
            segment: Some("residencial"),
            tenure_months: tenure,
            importance_score: score,
        }
    }

    #[test]
    fn the_first_eligible_offer_is_proposed_with_its_reasons() {
        let policy = RetentionPolicy::default();
        assert_eq!(
            policy.propose(&facts(0.4, Some(3.0), 90.0)),
            None,
            "below threshold"
        );
        let valuable = policy.propose(&facts(0.8, Some(3.0), 90.0)).unwrap();
        assert_eq!(valuable.code, "DESC-30-6M");
        assert!(valuable.reasons[0].contains("80%"), "{valuable:?}");
        let new_customer = policy.propose(&facts(0.6, Some(3.0), 10.0)).unwrap();
        assert_eq!(new_customer.code, "VEL-X2-3M");
        assert!(new_customer.reasons.iter().any(|r| r.contains("≤ 12")));
        let loyal = policy.propose(&facts(0.6, Some(40.0), 10.0)).unwrap();
        assert_eq!(loyal.code, "FIDELIDAD");
        // Unknown tenure: only offers without tenure rules apply.
        assert_eq!(policy.propose(&facts(0.6, None, 10.0)), None);
    }

    #[test]
    fn segments_restrict_offers() {
        let policy = RetentionPolicy {
            churn_threshold: 0.3,
            offers: vec![Offer {
                code: "EMP".into(),
                description: "Descuento empresarial".into(),
                eligibility: Eligibility {
                    segments: vec!["empresas".into()],
                    ..Eligibility::default()
                },
            }],
        };
        assert_eq!(policy.propose(&facts(0.9, Some(1.0), 0.0)), None);
        let business = Facts {
            segment: Some("empresas"),
            ..facts(0.9, Some(1.0), 0.0)
        };
        assert_eq!(policy.propose(&business).unwrap().code, "EMP");
    }

    #[test]
    fn bad_policies_name_their_fields() {
        let mut policy = RetentionPolicy {
            churn_threshold: 1.5,
            ..RetentionPolicy::default()
        };
        policy.offers[1].eligibility.min_tenure_months = Some(20.0);
        let mut errors = Errors::new();
        policy.validate(&mut errors);
        let fields: Vec<String> = errors.into_vec().into_iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            [
                "retention.churn_threshold",
                "retention.offers[1].eligibility.min_tenure_months"
            ]
        );
    }
}
