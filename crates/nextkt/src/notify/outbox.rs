use serde_json::Value;

use crate::platform::clock::Millis;
use crate::platform::db::Tx;
use crate::platform::ids::new_id;

pub struct Email<'a> {
    pub organization_id: Option<&'a str>,
    /// Template name, e.g. `buyer_password_reset`.
    pub template: &'a str,
    pub locale: &'a str,
    pub to: &'a str,
    /// The template's variables.
    pub payload: Value,
}

pub async fn enqueue(tx: &mut Tx, email: Email<'_>, now: Millis) -> Result<String, sqlx::Error> {
    let id = new_id();
    sqlx::query(
        "INSERT INTO outbox (id, organization_id, template, locale, to_address, payload_json, \
         status, attempts, next_attempt_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, $7)",
    )
    .bind(id.clone())
    .bind(email.organization_id.map(str::to_string))
    .bind(email.template.to_string())
    .bind(email.locale.to_string())
    .bind(email.to.to_string())
    .bind(email.payload.to_string())
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(id)
}
