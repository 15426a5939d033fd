//! The SQL of the `refunds` table.

use super::super::status::RefundStatus;
use crate::ids::{OrderId, OrgId};
use crate::platform::clock::Millis;
use crate::platform::db::{Db, Tx};
use crate::platform::ids::new_id;
use service::jobs::Lease;

const CLAIM: Lease = Lease {
    table: "refunds",
    work: "status = 'requested'",
    also_set: "attempts = attempts + 1",
    limit: 20,
    returning: "id",
};

/// Records a refund to be submitted to the payment's provider.
pub struct Request<'a> {
    pub org_id: &'a OrgId,
    pub order_id: &'a OrderId,
    pub payment_id: Option<&'a str>,
    pub provider: &'a str,
    pub amount: i64,
    pub currency: &'a str,
    pub reason: Option<&'a str>,
    pub return_to_sale: bool,
    pub created_by_kind: &'a str,
    pub created_by_id: &'a str,
}

pub async fn request(tx: &mut Tx, r: Request<'_>, now: Millis) -> Result<String, sqlx::Error> {
    let id = new_id();
    sqlx::query(
        "INSERT INTO refunds (id, organization_id, order_id, amount, currency, status, reason, return_to_sale, \
         provider, payment_id, created_by_kind, created_by_id, created_at, next_attempt_at) \
         VALUES ($1, $2, $3, $4, $5, 'requested', $6, $7, $8, $9, $10, $11, $12, $12)",
    )
    .bind(id.clone())
    .bind(r.org_id.to_string())
    .bind(r.order_id.to_string())
    .bind(r.amount)
    .bind(r.currency.to_string())
    .bind(r.reason.map(str::to_string))
    .bind(i64::from(r.return_to_sale))
    .bind(r.provider.to_string())
    .bind(r.payment_id.map(str::to_string))
    .bind(r.created_by_kind.to_string())
    .bind(r.created_by_id.to_string())
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

/// Leases refunds waiting to be submitted until `lease_until`; their ids.
pub async fn claim_due(
    db: &Db,
    lease_until: Millis,
    now: Millis,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(CLAIM.sql(db.dialect))
        .bind(lease_until)
        .bind(now)
        .fetch_all(&db.pool)
        .await
}

/// A claimed refund with what submitting it needs.
#[derive(sqlx::FromRow)]
pub struct Due {
    pub id: String,
    pub amount: i64,
    pub provider: String,
    pub attempts: i64,
    pub reason: Option<String>,
    pub invoice_id: Option<String>,
}

pub async fn due(db: &Db, id: String) -> Result<Due, sqlx::Error> {
    sqlx::query_as(
        "SELECT r.id, r.amount, r.provider, r.attempts, r.reason, p.provider_ref AS invoice_id \
         FROM refunds r LEFT JOIN payments p ON p.id = r.payment_id WHERE r.id = $1",
    )
    .bind(id)
    .fetch_one(&db.pool)
    .await
}

/// Records the provider's answer to a submission (`completed_at` once it is final).
pub async fn submitted(
    db: &Db,
    id: &str,
    status: RefundStatus,
    provider_ref: Option<String>,
    now: Millis,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE refunds SET status = $1, provider_ref = COALESCE($2, provider_ref), \
         completed_at = CASE WHEN $1 IN ('succeeded', 'failed') THEN $3 ELSE NULL END WHERE id = $4",
    )
    .bind(status.as_str())
    .bind(provider_ref)
    .bind(now)
    .bind(id.to_string())
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// Puts off the next try of a refund that could not be submitted.
pub async fn retry_at(db: &Db, id: String, at: Millis) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE refunds SET next_attempt_at = $1 WHERE id = $2")
        .bind(at)
        .bind(id)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Finishes a refund the provider was working on, if it still was. True when it changed.
pub async fn finish(
    tx: &mut Tx,
    provider: &str,
    provider_ref: &str,
    status: RefundStatus,
    now: Millis,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE refunds SET status = $1, completed_at = $2 WHERE provider = $3 AND provider_ref = $4 \
         AND status IN ('requested', 'pending')",
    )
    .bind(status.as_str())
    .bind(now)
    .bind(provider.to_string())
    .bind(provider_ref.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}
