//! The SQL of events.

use super::{EventRow, VenueRef};
use crate::ids::{EventId, OrgId};
use crate::platform::db::{Db, Tx};
use crate::platform::error::{ApiError, ApiResult};

pub const EVENT_COLUMNS: &str = "id, organization_id, title_json, description_json, starts_at, \
    ends_at, timezone, venue_json, city, artist_ids_json, artists_json, hosts_json, status, visibility, \
    access_key, mode, sale_starts_at, sale_ends_at, max_per_order, max_per_buyer, hold_seconds, \
    hold_extension_seconds, map_image_ref, created_at, updated_at, published_at, fee_payer, \
    buyer_transfers, transfer_cutoff_seconds, currency";

/// The event of an organization, or 404.
pub async fn find(db: &Db, org_id: &OrgId, event_id: &EventId) -> ApiResult<EventRow> {
    let row: Option<EventRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE id = $1 AND organization_id = $2"
    )))
    .bind(event_id.to_string())
    .bind(org_id.to_string())
    .fetch_optional(&db.pool)
    .await?;
    row.ok_or_else(|| ApiError::not_found("event"))
}

pub async fn find_in(
    db: &Db,
    tx: &mut Tx,
    org_id: &OrgId,
    event_id: &EventId,
) -> ApiResult<EventRow> {
    let row: Option<EventRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE id = $1 AND organization_id = $2{}",
        db.for_update()
    )))
    .bind(event_id.to_string())
    .bind(org_id.to_string())
    .fetch_optional(&mut **tx)
    .await?;
    row.ok_or_else(|| ApiError::not_found("event"))
}

/// A page of the organization's events, newest first: ids below `before` (`""`: from the
/// newest), at most `limit`.
pub async fn page(
    db: &Db,
    org_id: &str,
    before: &str,
    limit: i64,
) -> Result<Vec<EventRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE organization_id = $1 \
         AND ($2 = '' OR id < $2) ORDER BY id DESC LIMIT $3"
    )))
    .bind(org_id.to_string())
    .bind(before.to_string())
    .bind(limit)
    .fetch_all(&db.pool)
    .await
}

/// What the storefront's search matches: the titles, the venue's name and the city.
fn search_text(row: &EventRow) -> String {
    let mut text: Vec<String> = row.title().into_values().collect();
    if let Some(venue) = row
        .venue_json
        .as_deref()
        .and_then(|v| serde_json::from_str::<VenueRef>(v).ok())
    {
        text.push(venue.name);
    }
    if let Some(city) = &row.city {
        text.push(city.clone());
    }
    text.join(" ").to_lowercase()
}

/// A new event; it was created (and last updated) at `row.created_at`.
pub async fn insert(tx: &mut Tx, row: &EventRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO events (id, organization_id, title_json, description_json, starts_at, ends_at, \
         timezone, venue_json, city, artist_ids_json, status, visibility, access_key, mode, \
         sale_starts_at, sale_ends_at, max_per_order, max_per_buyer, hold_seconds, \
         hold_extension_seconds, map_image_ref, search_text, created_at, updated_at, fee_payer, \
         buyer_transfers, transfer_cutoff_seconds, currency, artists_json, hosts_json) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, \
         $19, $20, $21, $22, $23, $23, $24, $25, $26, $27, $28, $29)",
    )
    .bind(row.id.clone())
    .bind(row.organization_id.clone())
    .bind(row.title_json.clone())
    .bind(row.description_json.clone())
    .bind(row.starts_at)
    .bind(row.ends_at)
    .bind(row.timezone.clone())
    .bind(row.venue_json.clone())
    .bind(row.city.clone())
    .bind(row.artist_ids_json.clone())
    .bind(row.status.clone())
    .bind(row.visibility.clone())
    .bind(row.access_key.clone())
    .bind(row.mode.clone())
    .bind(row.sale_starts_at)
    .bind(row.sale_ends_at)
    .bind(row.max_per_order)
    .bind(row.max_per_buyer)
    .bind(row.hold_seconds)
    .bind(row.hold_extension_seconds)
    .bind(row.map_image_ref.clone())
    .bind(search_text(row))
    .bind(row.created_at)
    .bind(row.fee_payer.clone())
    .bind(row.buyer_transfers)
    .bind(row.transfer_cutoff_seconds)
    .bind(row.currency.clone())
    .bind(row.artists_json.clone())
    .bind(row.hosts_json.clone())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Writes every field of the event back.
pub async fn save(tx: &mut Tx, row: &EventRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE events SET title_json = $1, description_json = $2, starts_at = $3, ends_at = $4, \
         timezone = $5, venue_json = $6, city = $7, artist_ids_json = $8, status = $9, \
         visibility = $10, access_key = $11, mode = $12, sale_starts_at = $13, sale_ends_at = $14, \
         max_per_order = $15, max_per_buyer = $16, hold_seconds = $17, \
         hold_extension_seconds = $18, map_image_ref = $19, search_text = $20, updated_at = $21, \
         published_at = $22, fee_payer = $25, buyer_transfers = $26, transfer_cutoff_seconds = $27, \
         currency = $28, artists_json = $29, hosts_json = $30 \
         WHERE id = $23 AND organization_id = $24",
    )
    .bind(row.title_json.clone())
    .bind(row.description_json.clone())
    .bind(row.starts_at)
    .bind(row.ends_at)
    .bind(row.timezone.clone())
    .bind(row.venue_json.clone())
    .bind(row.city.clone())
    .bind(row.artist_ids_json.clone())
    .bind(row.status.clone())
    .bind(row.visibility.clone())
    .bind(row.access_key.clone())
    .bind(row.mode.clone())
    .bind(row.sale_starts_at)
    .bind(row.sale_ends_at)
    .bind(row.max_per_order)
    .bind(row.max_per_buyer)
    .bind(row.hold_seconds)
    .bind(row.hold_extension_seconds)
    .bind(row.map_image_ref.clone())
    .bind(search_text(row))
    .bind(row.updated_at)
    .bind(row.published_at)
    .bind(row.id.clone())
    .bind(row.organization_id.clone())
    .bind(row.fee_payer.clone())
    .bind(row.buyer_transfers)
    .bind(row.transfer_cutoff_seconds)
    .bind(row.currency.clone())
    .bind(row.artists_json.clone())
    .bind(row.hosts_json.clone())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Events (of any organization) whose stored JSON `column` may mention `needle`; the
/// caller checks each, since LIKE's `_` matches any character.
pub async fn mentioning(
    tx: &mut Tx,
    column: &str,
    needle: &str,
) -> Result<Vec<EventRow>, sqlx::Error> {
    let column = match column {
        "venue_json" => "venue_json",
        _ => "artist_ids_json",
    };
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE {column} LIKE $1"
    )))
    .bind(format!("%{needle}%"))
    .fetch_all(&mut **tx)
    .await
}

/// Writes what a Kisum snapshot changes: the venue, its city, the artists, and the search
/// text that follows from them.
pub async fn save_references(tx: &mut Tx, row: &EventRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE events SET venue_json = $2, city = $3, artists_json = $4, search_text = $5 \
         WHERE id = $1",
    )
    .bind(row.id.clone())
    .bind(row.venue_json.clone())
    .bind(row.city.clone())
    .bind(row.artists_json.clone())
    .bind(search_text(row))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// How many ticket types the event has.
pub async fn ticket_type_count(tx: &mut Tx, event_id: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM ticket_types WHERE event_id = $1")
        .bind(event_id.to_string())
        .fetch_one(&mut **tx)
        .await
}

/// The kinds (`ga`, `seated`) of the event's ticket types.
pub async fn ticket_type_kinds(tx: &mut Tx, event_id: &str) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT DISTINCT kind FROM ticket_types WHERE event_id = $1")
        .bind(event_id.to_string())
        .fetch_all(&mut **tx)
        .await
}
