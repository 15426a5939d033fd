//! Roles of operators and API keys, and what each may do. This table is the one place the
//! permission rules live.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Owner,
    Admin,
    Manager,
    Finance,
    Gate,
    Viewer,
}

/// What a caller may do in its organization.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Permission {
    /// Read the organization's own profile and settings.
    ReadOrganization,
    /// Change organization settings.
    ManageOrganization,
    /// Add, change and remove members.
    ManageMembers,
    /// Create and revoke API keys and storefront keys.
    ManageKeys,
    /// Read the audit log.
    ReadAuditLog,
    /// Create and change events, ticket types, seating and hotspots.
    ManageCatalog,
    /// See orders and buyers' details.
    ReadOrders,
    /// Cancel, refund and resend orders.
    ManageOrders,
    /// Check-in lists and scanner devices.
    ManageGate,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::Owner,
        Role::Admin,
        Role::Manager,
        Role::Finance,
        Role::Gate,
        Role::Viewer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Manager => "manager",
            Role::Finance => "finance",
            Role::Gate => "gate",
            Role::Viewer => "viewer",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == text)
    }

    pub fn allows(self, permission: Permission) -> bool {
        use Permission::*;
        use Role::*;
        match permission {
            ReadOrganization => true,
            ManageOrganization | ManageMembers | ManageKeys | ReadAuditLog => {
                matches!(self, Owner | Admin)
            }
            ManageCatalog | ManageOrders => matches!(self, Owner | Admin | Manager),
            ReadOrders => !matches!(self, Gate),
            ManageGate => matches!(self, Owner | Admin | Manager | Gate),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_owners_and_admins_administer() {
        for role in Role::ALL {
            let admin = matches!(role, Role::Owner | Role::Admin);
            assert_eq!(role.allows(Permission::ManageMembers), admin, "{role:?}");
            assert_eq!(role.allows(Permission::ManageKeys), admin, "{role:?}");
            assert_eq!(role.allows(Permission::ReadAuditLog), admin, "{role:?}");
            assert!(role.allows(Permission::ReadOrganization));
            assert_eq!(
                role.allows(Permission::ReadOrders),
                role != Role::Gate,
                "{role:?}"
            );
            assert_eq!(
                role.allows(Permission::ManageOrders),
                matches!(role, Role::Owner | Role::Admin | Role::Manager),
                "{role:?}"
            );
            assert_eq!(
                role.allows(Permission::ManageCatalog),
                matches!(role, Role::Owner | Role::Admin | Role::Manager),
                "{role:?}"
            );
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("root"), None);
    }
}
