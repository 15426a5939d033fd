//! The SQL of online scans' reads: the ticket a code names, a revoked code, answers given
//! before.

use std::collections::HashMap;

use super::ScanAnswer;
use crate::platform::db::{Db, placeholder_list};
use crate::tickets::{TicketRow, ticket_columns_of};

#[derive(sqlx::FromRow)]
pub struct ScannedRow {
    #[sqlx(flatten)]
    pub ticket: TicketRow,
    pub ticket_type: String,
    pub row_label: Option<String>,
    pub seat_number: Option<String>,
}

/// The organization's ticket with this code, with its type's name and seat.
pub async fn ticket_by_code(
    db: &Db,
    org_id: &str,
    code: &str,
) -> Result<Option<ScannedRow>, sqlx::Error> {
    let columns = ticket_columns_of("t");
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {columns}, tt.name AS ticket_type, s.row_label, s.seat_number FROM tickets t \
         JOIN ticket_types tt ON tt.id = t.ticket_type_id LEFT JOIN seats s ON s.id = t.seat_id \
         WHERE t.code = $1 AND t.organization_id = $2"
    )))
    .bind(code.to_string())
    .bind(org_id.to_string())
    .fetch_optional(&db.pool)
    .await
}

/// The ticket whose revoked code has this lookup hash in the organization.
pub async fn revoked_ticket(
    db: &Db,
    org_id: &str,
    code_hash: String,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT ticket_id FROM revoked_codes WHERE code_hash = $1 AND organization_id = $2",
    )
    .bind(code_hash)
    .bind(org_id.to_string())
    .fetch_optional(&db.pool)
    .await
}

/// The answers already given to some of this device's nonces, with what those scans asked
/// (`request_hash`; none for scans recorded before it was kept).
pub async fn stored_answers(
    db: &Db,
    device_id: &str,
    nonces: impl Iterator<Item = &str>,
) -> Result<HashMap<String, (ScanAnswer, Option<String>)>, sqlx::Error> {
    let nonces: Vec<&str> = nonces.collect();
    let mut query = sqlx::query_as::<_, (String, String, Option<String>)>(db.sql(format!(
        "SELECT nonce, answer_json, request_hash FROM scans WHERE device_id = $1 AND result <> 'pending' AND nonce IN ({})",
        placeholder_list(2, nonces.len())
    )))
    .persistent(false)
    .bind(device_id.to_string());
    for nonce in &nonces {
        query = query.bind(nonce.to_string());
    }
    Ok(query
        .fetch_all(&db.pool)
        .await?
        .into_iter()
        .filter_map(|(nonce, json, hash)| Some((nonce, (serde_json::from_str(&json).ok()?, hash))))
        .collect())
}
