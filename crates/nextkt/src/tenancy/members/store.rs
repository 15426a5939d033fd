//! The SQL of memberships.

use crate::platform::clock::Millis;
use crate::platform::db::{Db, Tx};
use crate::platform::pagination::PageRequest;
use crate::tenancy::roles::Role;

pub async fn insert(
    tx: &mut Tx,
    org_id: &str,
    operator_id: &str,
    role: Role,
    now: Millis,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO memberships (organization_id, operator_id, role, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $4)",
    )
    .bind(org_id.to_string())
    .bind(operator_id.to_string())
    .bind(role.as_str())
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// An operator's membership with its organization's name and suspension.
#[derive(sqlx::FromRow)]
pub struct MembershipRow {
    pub organization_id: String,
    pub organization_name: String,
    pub role: String,
    pub suspended_at: Option<i64>,
}

pub async fn of_operator(db: &Db, operator_id: &str) -> Result<Vec<MembershipRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT m.organization_id, o.name AS organization_name, m.role, o.suspended_at \
         FROM memberships m JOIN organizations o ON o.id = m.organization_id \
         WHERE m.operator_id = $1 ORDER BY o.name, m.organization_id",
    )
    .bind(operator_id.to_string())
    .fetch_all(&db.pool)
    .await
}

/// A member with their operator account.
#[derive(sqlx::FromRow)]
pub struct MemberRow {
    pub operator_id: String,
    pub email: String,
    pub name: String,
    pub role: String,
    pub password_hash: Option<String>,
    pub created_at: i64,
}

const MEMBER_SELECT: &str = "SELECT m.operator_id, p.email, p.name, m.role, p.password_hash, \
                             m.created_at FROM memberships m JOIN operators p ON p.id = m.operator_id";

pub async fn find_member(
    tx: &mut Tx,
    org_id: &str,
    operator_id: &str,
) -> Result<Option<MemberRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{MEMBER_SELECT} WHERE m.organization_id = $1 AND m.operator_id = $2"
    )))
    .bind(org_id.to_string())
    .bind(operator_id.to_string())
    .fetch_optional(&mut **tx)
    .await
}

/// One page of the organization's members, by operator id, newest first.
pub async fn page_of(
    db: &Db,
    org_id: &str,
    page: &PageRequest,
) -> Result<Vec<MemberRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{MEMBER_SELECT} WHERE m.organization_id = $1 AND ($2 = '' OR m.operator_id < $2) \
         ORDER BY m.operator_id DESC LIMIT $3"
    )))
    .bind(org_id.to_string())
    .bind(page.bound())
    .bind(page.fetch_limit())
    .fetch_all(&db.pool)
    .await
}

/// The operator's role in the organization, if a member.
pub async fn role_of(
    tx: &mut Tx,
    org_id: &str,
    operator_id: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT role FROM memberships WHERE organization_id = $1 AND operator_id = $2",
    )
    .bind(org_id.to_string())
    .bind(operator_id.to_string())
    .fetch_optional(&mut **tx)
    .await
}

pub async fn owner_count(tx: &mut Tx, org_id: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM memberships WHERE organization_id = $1 AND role = 'owner'",
    )
    .bind(org_id.to_string())
    .fetch_one(&mut **tx)
    .await
}

pub async fn set_role(
    tx: &mut Tx,
    org_id: &str,
    operator_id: &str,
    role: Role,
    now: Millis,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE memberships SET role = $1, updated_at = $2 \
         WHERE organization_id = $3 AND operator_id = $4",
    )
    .bind(role.as_str())
    .bind(now)
    .bind(org_id.to_string())
    .bind(operator_id.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn delete(tx: &mut Tx, org_id: &str, operator_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM memberships WHERE organization_id = $1 AND operator_id = $2")
        .bind(org_id.to_string())
        .bind(operator_id.to_string())
        .execute(&mut **tx)
        .await?;
    Ok(())
}
