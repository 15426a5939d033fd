//! Tenant roles and what each may delegate. Roles never grant a module by themselves:
//! they only bound what a member may hand to others.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
pub enum Role {
    #[serde(rename = "USER")]
    User,
    #[serde(rename = "MANAGER")]
    Manager,
    #[serde(rename = "ADMIN")]
    Admin,
    #[serde(rename = "TENANT_SUPERADMIN")]
    TenantSuperadmin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "USER",
            Role::Manager => "MANAGER",
            Role::Admin => "ADMIN",
            Role::TenantSuperadmin => "TENANT_SUPERADMIN",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        Some(match text {
            "USER" => Role::User,
            "MANAGER" => Role::Manager,
            "ADMIN" => Role::Admin,
            "TENANT_SUPERADMIN" => Role::TenantSuperadmin,
            _ => return None,
        })
    }

    /// Whether this role may manage other members at all (list them, change grants).
    pub fn can_manage_users(self) -> bool {
        self != Role::User
    }

    /// Only a superadmin buys addons for the company.
    pub fn can_buy_addons(self) -> bool {
        self == Role::TenantSuperadmin
    }

    /// Whether this role may hand out modules (a manager hands out permissions only).
    pub fn can_grant_modules(self) -> bool {
        matches!(self, Role::Admin | Role::TenantSuperadmin)
    }

    /// Whether a member of this role may change the grants or role of a member of `target`.
    /// A superadmin manages everyone; an admin those below it; a manager only users.
    pub fn manages(self, target: Role) -> bool {
        match self {
            Role::TenantSuperadmin => true,
            Role::Admin => target < Role::Admin,
            Role::Manager => target == Role::User,
            Role::User => false,
        }
    }
}
