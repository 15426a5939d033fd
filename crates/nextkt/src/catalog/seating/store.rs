//! The SQL of sections, seats and hotspots.

use super::types::{Hotspot, HotspotTarget, Seat, Section};
use crate::platform::clock::Millis;
use crate::platform::db::{Db, Tx, placeholder_list, placeholder_rows};

/// A section as listed: id, name, sort order.
pub type SectionHead = (String, String, i64);

#[derive(sqlx::FromRow)]
struct SeatRow {
    id: String,
    section_id: String,
    row_label: String,
    seat_number: String,
    ticket_type_id: String,
    blocked: i64,
}

impl From<SeatRow> for Seat {
    fn from(r: SeatRow) -> Self {
        Seat {
            id: r.id,
            section_id: r.section_id,
            row: r.row_label,
            number: r.seat_number,
            ticket_type_id: r.ticket_type_id,
            blocked: r.blocked != 0,
        }
    }
}

/// An event's sections with their seats.
pub async fn sections_of(db: &Db, event_id: &str) -> Result<Vec<Section>, sqlx::Error> {
    let sections: Vec<SectionHead> = sqlx::query_as(
        "SELECT id, name, sort_order FROM sections WHERE event_id = $1 ORDER BY sort_order, id",
    )
    .bind(event_id.to_string())
    .fetch_all(&db.pool)
    .await?;
    let seats: Vec<SeatRow> = sqlx::query_as(
        "SELECT id, section_id, row_label, seat_number, ticket_type_id, blocked FROM seats \
         WHERE event_id = $1 ORDER BY section_id, sort_order",
    )
    .bind(event_id.to_string())
    .fetch_all(&db.pool)
    .await?;
    Ok(with_seats(event_id, sections, seats))
}

/// A page of an event's sections in their `sort_order` (then id): those after the position
/// (`after_order`, `after_id`; an empty id starts at the first), at most `limit`.
pub async fn section_page(
    db: &Db,
    event_id: &str,
    after_order: i64,
    after_id: &str,
    limit: i64,
) -> Result<Vec<SectionHead>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, name, sort_order FROM sections WHERE event_id = $1 \
         AND ($3 = '' OR sort_order > $2 OR (sort_order = $2 AND id > $3)) \
         ORDER BY sort_order, id LIMIT $4",
    )
    .bind(event_id.to_string())
    .bind(after_order)
    .bind(after_id.to_string())
    .bind(limit)
    .fetch_all(&db.pool)
    .await
}

/// The given sections of an event with their seats.
pub async fn sections_with_seats(
    db: &Db,
    event_id: &str,
    sections: Vec<SectionHead>,
) -> Result<Vec<Section>, sqlx::Error> {
    let seats: Vec<SeatRow> = if sections.is_empty() {
        Vec::new()
    } else {
        let mut query = sqlx::query_as(db.sql(format!(
            "SELECT id, section_id, row_label, seat_number, ticket_type_id, blocked FROM seats \
             WHERE event_id = $1 AND section_id IN ({}) ORDER BY section_id, sort_order",
            placeholder_list(2, sections.len())
        )))
        .persistent(false)
        .bind(event_id.to_string());
        for (id, _, _) in &sections {
            query = query.bind(id.clone());
        }
        query.fetch_all(&db.pool).await?
    };
    Ok(with_seats(event_id, sections, seats))
}

/// Sections (id, name, sort order) with their seats, in the sections' order.
fn with_seats(event_id: &str, sections: Vec<SectionHead>, seats: Vec<SeatRow>) -> Vec<Section> {
    let mut out: Vec<Section> = sections
        .into_iter()
        .map(|(id, name, sort_order)| Section {
            id,
            event_id: event_id.to_string(),
            name,
            sort_order,
            seats: Vec::new(),
        })
        .collect();
    let index: std::collections::HashMap<String, usize> = out
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.clone(), i))
        .collect();
    for seat in seats {
        if let Some(&i) = index.get(&seat.section_id) {
            out[i].seats.push(seat.into());
        }
    }
    out
}

pub async fn insert_section(
    tx: &mut Tx,
    org_id: &str,
    event_id: &str,
    section_id: &str,
    name: &str,
    sort_order: i64,
    now: Millis,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO sections (id, organization_id, event_id, name, sort_order, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(section_id.to_string())
    .bind(org_id.to_string())
    .bind(event_id.to_string())
    .bind(name.to_string())
    .bind(sort_order)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Seats in one statement; their sort orders run from `first_sort_order`. A position
/// taken twice fails with a unique violation.
pub async fn insert_seats(
    db: &Db,
    tx: &mut Tx,
    org_id: &str,
    event_id: &str,
    first_sort_order: usize,
    seats: &[Seat],
) -> Result<(), sqlx::Error> {
    let sql = format!(
        "INSERT INTO seats (id, organization_id, event_id, section_id, row_label, seat_number, \
         ticket_type_id, blocked, sort_order) VALUES {}",
        placeholder_rows(seats.len(), 9)
    );
    let mut q = sqlx::query(db.sql(sql)).persistent(false);
    for (i, seat) in seats.iter().enumerate() {
        q = q
            .bind(seat.id.clone())
            .bind(org_id.to_string())
            .bind(event_id.to_string())
            .bind(seat.section_id.clone())
            .bind(seat.row.clone())
            .bind(seat.number.clone())
            .bind(seat.ticket_type_id.clone())
            .bind(i64::from(seat.blocked))
            .bind((first_sort_order + i) as i64);
    }
    q.execute(&mut **tx).await?;
    Ok(())
}

/// How many of `ids` are seats of the event.
pub async fn count_seats(
    db: &Db,
    tx: &mut Tx,
    event_id: &str,
    ids: &[String],
) -> Result<i64, sqlx::Error> {
    let mut q = sqlx::query_scalar::<_, i64>(db.sql(format!(
        "SELECT COUNT(*) FROM seats WHERE event_id = $1 AND id IN ({})",
        placeholder_list(2, ids.len())
    )))
    .persistent(false)
    .bind(event_id.to_string());
    for id in ids {
        q = q.bind(id.clone());
    }
    q.fetch_one(&mut **tx).await
}

/// How many of `ids` are sold, or held at `now`.
pub async fn count_claimed(
    db: &Db,
    tx: &mut Tx,
    ids: &[String],
    now: Millis,
) -> Result<i64, sqlx::Error> {
    let mut q = sqlx::query_scalar::<_, i64>(db.sql(format!(
        "SELECT COUNT(*) FROM seat_claims WHERE (kind = 'ticket' OR expires_at > $1) AND seat_id IN ({})",
        placeholder_list(2, ids.len())
    )))
    .persistent(false)
    .bind(now);
    for id in ids {
        q = q.bind(id.clone());
    }
    q.fetch_one(&mut **tx).await
}

/// Moves the event's seats `ids` to a ticket type and (un)blocks them; `None` keeps what
/// they have.
pub async fn update_seats(
    tx: &mut Tx,
    event_id: &str,
    ids: &[String],
    ticket_type_id: Option<&str>,
    blocked: Option<bool>,
) -> Result<(), sqlx::Error> {
    for id in ids {
        sqlx::query(
            "UPDATE seats SET ticket_type_id = COALESCE($1, ticket_type_id), blocked = COALESCE($2, blocked) \
             WHERE id = $3 AND event_id = $4",
        )
        .bind(ticket_type_id.map(str::to_string))
        .bind(blocked.map(i64::from))
        .bind(id.clone())
        .bind(event_id.to_string())
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

#[derive(sqlx::FromRow)]
struct HotspotRow {
    id: String,
    shape: String,
    coords_json: String,
    target_kind: String,
    target_id: String,
    label: Option<String>,
}

pub async fn hotspots_of(db: &Db, event_id: &str) -> Result<Vec<Hotspot>, sqlx::Error> {
    let rows: Vec<HotspotRow> = sqlx::query_as(
        "SELECT id, shape, coords_json, target_kind, target_id, label FROM hotspots \
         WHERE event_id = $1 ORDER BY id",
    )
    .bind(event_id.to_string())
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            Some(Hotspot {
                shape: serde_json::from_value(serde_json::Value::String(r.shape)).ok()?,
                target_kind: serde_json::from_value(serde_json::Value::String(r.target_kind))
                    .ok()?,
                coords: serde_json::from_str(&r.coords_json).ok()?,
                id: r.id,
                target_id: r.target_id,
                label: r.label,
            })
        })
        .collect())
}

fn table_of(target: HotspotTarget) -> &'static str {
    match target {
        HotspotTarget::Section => "sections",
        HotspotTarget::Seat => "seats",
    }
}

/// Whether the event has the section or seat a hotspot points at.
pub async fn target_exists(
    db: &Db,
    target: HotspotTarget,
    target_id: &str,
    event_id: &str,
) -> Result<bool, sqlx::Error> {
    let table = table_of(target);
    let found: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) FROM {table} WHERE id = $1 AND event_id = $2"
    )))
    .bind(target_id.to_string())
    .bind(event_id.to_string())
    .fetch_one(&db.pool)
    .await?;
    Ok(found != 0)
}

pub async fn insert_hotspot(
    tx: &mut Tx,
    org_id: &str,
    event_id: &str,
    hotspot: &Hotspot,
    now: Millis,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO hotspots (id, organization_id, event_id, shape, coords_json, target_kind, target_id, \
         label, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(hotspot.id.clone())
    .bind(org_id.to_string())
    .bind(event_id.to_string())
    .bind(serde_json::to_value(hotspot.shape).ok().and_then(|v| v.as_str().map(str::to_string)))
    .bind(serde_json::to_string(&hotspot.coords).unwrap_or_default())
    .bind(table_of(hotspot.target_kind).trim_end_matches('s').to_string())
    .bind(hotspot.target_id.clone())
    .bind(hotspot.label.clone())
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Deletes the organization's hotspot of the event; whether there was one.
pub async fn delete_hotspot(
    tx: &mut Tx,
    org_id: &str,
    event_id: &str,
    hotspot_id: &str,
) -> Result<bool, sqlx::Error> {
    let deleted = sqlx::query(
        "DELETE FROM hotspots WHERE id = $1 AND event_id = $2 AND organization_id = $3",
    )
    .bind(hotspot_id.to_string())
    .bind(event_id.to_string())
    .bind(org_id.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(deleted.rows_affected() == 1)
}
