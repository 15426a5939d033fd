//! The SQL of fees: the deal a partner has (partners are tenancy's; this only reads).

use crate::platform::db::Db;

/// A partner's deal as stored (JSON of `FeeDeal`); `None` for no partner or no deal.
pub async fn partner_fee_json(db: &Db, partner_id: &str) -> Result<Option<String>, sqlx::Error> {
    let json: Option<Option<String>> =
        sqlx::query_scalar("SELECT fee_json FROM partners WHERE id = $1")
            .bind(partner_id.to_string())
            .fetch_optional(&db.pool)
            .await?;
    Ok(json.flatten())
}
