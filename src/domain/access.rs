//! Roles carried by API keys and what each may do.
//!
//! Permissions are decided here, once, so handlers only name the action they perform.

use serde::{Deserialize, Serialize};

/// The role of an API key. A key belongs to exactly one tenant and has exactly one role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Tenant administrator: settings, keys, and everything below.
    Admin,
    /// Call-centre agent: works PQRs and reads customers.
    Agent,
    /// An integration for a channel (IVR, email gateway, chatbot, app, web): registers PQRs.
    Channel,
    /// The tenant's data team: pushes customer data.
    Data,
    /// Managers and auditors: read-only.
    Viewer,
}

/// What a request wants to do; each route declares one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    ReadTenant,
    ManageTenant,
    ReadCustomers,
    WriteCustomers,
    ReadIncidents,
    CreateIncidents,
    WorkIncidents,
    /// Record a customer's satisfaction survey answer (channels that run surveys, agents).
    AnswerSurveys,
    ReadKnowledge,
    WriteKnowledge,
    /// See datasets, models and their metrics.
    ReadModels,
    /// Upload datasets, train, activate and delete models.
    ManageModels,
    /// Ask a model for a score.
    Score,
    /// See the tenant's plan, prices, usage and invoices.
    ReadBilling,
    /// See KPIs and reports over the tenant's PQRs.
    ReadReports,
}

impl Action {
    /// Human wording for error messages ("may not …").
    pub fn describe(self) -> &'static str {
        match self {
            Action::ReadTenant => "read tenant settings",
            Action::ManageTenant => "manage the tenant's settings and keys",
            Action::ReadCustomers => "read customers",
            Action::WriteCustomers => "write customers",
            Action::ReadIncidents => "read incidents",
            Action::CreateIncidents => "register incidents",
            Action::WorkIncidents => "work on incidents",
            Action::AnswerSurveys => "record survey answers",
            Action::ReadKnowledge => "read the knowledge base",
            Action::WriteKnowledge => "write the knowledge base",
            Action::ReadModels => "read datasets and models",
            Action::ManageModels => "upload datasets and train or change models",
            Action::Score => "score records with the tenant's models",
            Action::ReadBilling => "read the tenant's billing and invoices",
            Action::ReadReports => "read KPIs and reports",
        }
    }
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Admin,
        Role::Agent,
        Role::Channel,
        Role::Data,
        Role::Viewer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Agent => "agent",
            Role::Channel => "channel",
            Role::Data => "data",
            Role::Viewer => "viewer",
        }
    }

    pub fn parse(value: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.as_str() == value)
    }

    /// The permission matrix.
    pub fn may(self, action: Action) -> bool {
        use Action::*;
        match self {
            Role::Admin => true,
            Role::Agent => matches!(
                action,
                ReadTenant
                    | ReadCustomers
                    | ReadIncidents
                    | CreateIncidents
                    | WorkIncidents
                    | AnswerSurveys
                    | ReadKnowledge
                    | ReadModels
                    | Score
            ),
            Role::Channel => matches!(
                action,
                ReadTenant
                    | ReadCustomers
                    | ReadIncidents
                    | CreateIncidents
                    | AnswerSurveys
                    | ReadKnowledge
                    | Score
            ),
            Role::Data => matches!(
                action,
                ReadTenant
                    | ReadCustomers
                    | WriteCustomers
                    | ReadIncidents
                    | ReadKnowledge
                    | WriteKnowledge
                    | ReadModels
                    | ManageModels
                    | Score
            ),
            Role::Viewer => matches!(
                action,
                ReadTenant
                    | ReadCustomers
                    | ReadIncidents
                    | ReadKnowledge
                    | ReadModels
                    | ReadBilling
                    | ReadReports
            ),
        }
    }
}

/// Who is calling: resolved from the API key, never from the request body.
#[derive(Debug, Clone)]
pub struct Principal {
    pub tenant_id: String,
    pub key_id: String,
    pub key_name: String,
    pub role: Role,
    /// Version of the tenant's settings, for cache invalidation.
    pub settings_version: i64,
}

impl Principal {
    /// The caller may perform `action`, or gets a `Forbidden` naming its role.
    pub fn require(&self, action: Action) -> Result<(), (Role, Action)> {
        if self.role.may(action) {
            Ok(())
        } else {
            Err((self.role, action))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_admin_manages_the_tenant() {
        for role in Role::ALL {
            assert_eq!(
                role.may(Action::ManageTenant),
                role == Role::Admin,
                "{role:?}"
            );
        }
    }

    #[test]
    fn viewer_cannot_write_anything() {
        for action in [
            Action::ManageTenant,
            Action::WriteCustomers,
            Action::CreateIncidents,
            Action::WorkIncidents,
            Action::WriteKnowledge,
        ] {
            assert!(!Role::Viewer.may(action), "{action:?}");
        }
    }

    #[test]
    fn channel_registers_but_does_not_work_incidents() {
        assert!(Role::Channel.may(Action::CreateIncidents));
        assert!(!Role::Channel.may(Action::WorkIncidents));
        assert!(!Role::Data.may(Action::CreateIncidents));
        assert!(Role::Data.may(Action::WriteCustomers));
        assert!(!Role::Agent.may(Action::WriteCustomers));
    }

    #[test]
    fn role_names_round_trip() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("root"), None);
    }
}
