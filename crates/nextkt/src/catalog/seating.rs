//! Seated inventory: sections, rows and seats (created in bulk from a compact layout such as
//! `A-Z:1-40`), each seat tied to a ticket type (its price tier); and hotspots, shapes on
//! the venue-map image linked to sections or seats.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::events;
use super::ticket_types;
use crate::platform::clock::Millis;
use crate::platform::db::{Db, placeholder_list, placeholder_rows};
use crate::platform::error::{ApiError, ApiResult, Problem, is_unique_violation};
use crate::platform::ids::new_id;
use crate::platform::json::ApiJson;
use crate::platform::pagination::{Page, PageParams, position_key};
use crate::platform::query::ApiQuery;
use crate::platform::validate;
use crate::state::AppState;
use crate::tenancy::access::AdminAccess;
use crate::tenancy::audit::{self, Change};
use crate::tenancy::roles::Permission;

pub const MAX_SEATS_PER_SECTION: usize = 20_000;

/// Expands one layout line, `ROWS:SEATS`: rows `A-Z`, `1-20` or one label (`AA`); seats
/// `1-40` or one number. Returns (row, seat) pairs in order.
pub fn expand_layout(line: &str) -> Result<Vec<(String, String)>, String> {
    let (rows, seats) = line
        .split_once(':')
        .ok_or_else(|| format!("{line:?}: write ROWS:SEATS, e.g. A-Z:1-40"))?;
    let rows = expand_rows(rows.trim())
        .ok_or_else(|| format!("{line:?}: rows must be like A-Z, 1-20 or AA"))?;
    let seats = expand_numbers(seats.trim())
        .ok_or_else(|| format!("{line:?}: seats must be like 1-40 or 7"))?;
    let total = rows.len() * seats.len();
    if total > MAX_SEATS_PER_SECTION {
        return Err(format!(
            "{line:?}: {total} seats is more than {MAX_SEATS_PER_SECTION}"
        ));
    }
    Ok(rows
        .iter()
        .flat_map(|row| {
            seats
                .iter()
                .map(move |seat| (row.clone(), seat.to_string()))
        })
        .collect())
}

fn expand_numbers(text: &str) -> Option<Vec<u32>> {
    let (from, to) = text.split_once('-').unwrap_or((text, text));
    let (from, to): (u32, u32) = (from.trim().parse().ok()?, to.trim().parse().ok()?);
    (from >= 1 && from <= to && to - from < 1000).then(|| (from..=to).collect())
}

fn expand_rows(text: &str) -> Option<Vec<String>> {
    if let Some(numbers) = expand_numbers(text) {
        return Some(numbers.into_iter().map(|n| n.to_string()).collect());
    }
    match text.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (a.trim(), b.trim());
            let single = |s: &str| {
                let mut chars = s.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) if c.is_ascii_uppercase() => Some(c),
                    _ => None,
                }
            };
            let (a, b) = (single(a)?, single(b)?);
            (a <= b).then(|| (a..=b).map(|c| c.to_string()).collect())
        }
        None => {
            let ok = !text.is_empty()
                && text.len() <= 8
                && text.chars().all(|c| c.is_ascii_alphanumeric());
            ok.then(|| vec![text.to_string()])
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSection {
    pub name: String,
    /// The seated ticket type (price tier) of the section's seats.
    pub ticket_type_id: String,
    /// Layout lines, e.g. `["A-Z:1-40", "AA:1-10"]`.
    pub layout: Vec<String>,
    pub sort_order: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Seat {
    pub id: String,
    pub section_id: String,
    pub row: String,
    pub number: String,
    pub ticket_type_id: String,
    /// Blocked seats are not for sale.
    pub blocked: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Section {
    pub id: String,
    pub event_id: String,
    pub name: String,
    pub sort_order: i64,
    pub seats: Vec<Seat>,
}

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
    let sections: Vec<(String, String, i64)> = sqlx::query_as(
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

/// Sections (id, name, sort order) with their seats, in the sections' order.
fn with_seats(
    event_id: &str,
    sections: Vec<(String, String, i64)>,
    seats: Vec<SeatRow>,
) -> Vec<Section> {
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

/// Add a section with its seats, from a compact layout.
#[utoipa::path(
    post, path = "/admin/events/{event_id}/sections", tag = "seating",
    params(("event_id" = String, Path)),
    request_body = CreateSection,
    responses((status = 201, body = Section), (status = 400, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "A seat position repeats (`duplicate_seat`)", body = Problem)),
    security(("bearer" = []))
)]
pub async fn create_section(
    State(state): State<AppState>,
    access: AdminAccess,
    Path(event_id): Path<String>,
    ApiJson(body): ApiJson<CreateSection>,
) -> ApiResult<(StatusCode, ApiJson<Section>)> {
    access.require(Permission::ManageCatalog)?;
    let name = validate::text("name", &body.name, 100)?;
    let tt = ticket_types::find(&state.db, &access.org_id, &body.ticket_type_id).await?;
    if tt.event_id != event_id {
        return Err(ApiError::not_found("ticket type"));
    }
    if tt.kind != "seated" {
        return Err(ApiError::invalid(
            "ticket_type_id",
            "seats need a seated ticket type",
        ));
    }
    if body.layout.is_empty() {
        return Err(ApiError::invalid(
            "layout",
            "give at least one layout line such as A-Z:1-40",
        ));
    }
    let mut positions = Vec::new();
    for line in &body.layout {
        positions.extend(expand_layout(line).map_err(|e| ApiError::invalid("layout", e))?);
    }
    if positions.len() > MAX_SEATS_PER_SECTION {
        return Err(ApiError::invalid(
            "layout",
            format!("at most {MAX_SEATS_PER_SECTION} seats per section"),
        ));
    }
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    events::find_in(&state.db, &mut tx, &access.org_id, &event_id).await?;
    let section_id = new_id();
    let sort_order = body.sort_order.unwrap_or(0);
    sqlx::query(
        "INSERT INTO sections (id, organization_id, event_id, name, sort_order, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(section_id.clone())
    .bind(access.org_id.clone())
    .bind(event_id.clone())
    .bind(name.clone())
    .bind(sort_order)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let mut seats = Vec::with_capacity(positions.len());
    for (chunk_index, chunk) in positions.chunks(400).enumerate() {
        let sql = format!(
            "INSERT INTO seats (id, organization_id, event_id, section_id, row_label, seat_number, \
             ticket_type_id, blocked, sort_order) VALUES {}",
            placeholder_rows(chunk.len(), 9)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(false);
        for (i, (row, number)) in chunk.iter().enumerate() {
            let id = new_id();
            q = q
                .bind(id.clone())
                .bind(access.org_id.clone())
                .bind(event_id.clone())
                .bind(section_id.clone())
                .bind(row.clone())
                .bind(number.clone())
                .bind(tt.id.clone())
                .bind(0i64)
                .bind((chunk_index * 400 + i) as i64);
            seats.push(Seat {
                id,
                section_id: section_id.clone(),
                row: row.clone(),
                number: number.clone(),
                ticket_type_id: tt.id.clone(),
                blocked: false,
            });
        }
        match q.execute(&mut *tx).await {
            Err(err) if is_unique_violation(&err) => {
                return Err(ApiError::conflict(
                    "duplicate_seat",
                    "the layout names a seat twice",
                ));
            }
            other => other?,
        };
    }
    audit::record(
        &mut tx,
        Change {
            org_id: Some(&access.org_id),
            actor: &access.actor,
            action: "section.created",
            target_kind: "section",
            target_id: &section_id,
            before: None,
            after: Some(
                serde_json::json!({ "name": name, "seats": seats.len(), "layout": body.layout }),
            ),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        ApiJson(Section {
            id: section_id,
            event_id,
            name,
            sort_order,
            seats,
        }),
    ))
}

/// An event's sections and seats, in the sections' `sort_order` (then creation).
#[utoipa::path(
    get, path = "/admin/events/{event_id}/sections", tag = "seating",
    params(("event_id" = String, Path), PageParams),
    responses((status = 200, body = Page<Section>), (status = 400, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
pub async fn list_sections(
    State(state): State<AppState>,
    access: AdminAccess,
    Path(event_id): Path<String>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> ApiResult<ApiJson<Page<Section>>> {
    access.require(Permission::ReadOrganization)?;
    let page = page.parse()?;
    let (after_order, after_id) = page.position()?;
    let event = events::find(&state.db, &access.org_id, &event_id).await?;
    let sections: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT id, name, sort_order FROM sections WHERE event_id = $1 \
         AND ($3 = '' OR sort_order > $2 OR (sort_order = $2 AND id > $3)) \
         ORDER BY sort_order, id LIMIT $4",
    )
    .bind(event.id.clone())
    .bind(after_order)
    .bind(after_id)
    .bind(page.fetch_limit())
    .fetch_all(&state.db.pool)
    .await?;
    let page = page.finish_keyed(sections, |(id, _, order)| position_key(*order, id));
    let seats: Vec<SeatRow> = if page.items.is_empty() {
        Vec::new()
    } else {
        let mut query = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT id, section_id, row_label, seat_number, ticket_type_id, blocked FROM seats \
             WHERE event_id = $1 AND section_id IN ({}) ORDER BY section_id, sort_order",
            placeholder_list(2, page.items.len())
        )))
        .persistent(false)
        .bind(event.id.clone());
        for (id, _, _) in &page.items {
            query = query.bind(id.clone());
        }
        query.fetch_all(&state.db.pool).await?
    };
    Ok(ApiJson(Page {
        items: with_seats(&event.id, page.items, seats),
        next_cursor: page.next_cursor,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSeats {
    pub seat_ids: Vec<String>,
    /// Move the seats to another seated ticket type (price tier) of the event.
    pub ticket_type_id: Option<String>,
    /// Take the seats off sale, or put them back.
    pub blocked: Option<bool>,
}

/// Re-tier or block seats. Seats with a live hold or a ticket cannot change.
#[utoipa::path(
    patch, path = "/admin/events/{event_id}/seats", tag = "seating",
    params(("event_id" = String, Path)),
    request_body = UpdateSeats,
    responses((status = 200, body = Vec<Seat>), (status = 400, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "A seat is held or sold (`seat_claimed`)", body = Problem)),
    security(("bearer" = []))
)]
pub async fn update_seats(
    State(state): State<AppState>,
    access: AdminAccess,
    Path(event_id): Path<String>,
    ApiJson(body): ApiJson<UpdateSeats>,
) -> ApiResult<ApiJson<Vec<Seat>>> {
    access.require(Permission::ManageCatalog)?;
    let mut ids = body.seat_ids.clone();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() || ids.len() > MAX_SEATS_PER_SECTION {
        return Err(ApiError::invalid("seat_ids", "give 1 to 20000 seats"));
    }
    if let Some(tt_id) = &body.ticket_type_id {
        let tt = ticket_types::find(&state.db, &access.org_id, tt_id).await?;
        if tt.event_id != event_id || tt.kind != "seated" {
            return Err(ApiError::invalid(
                "ticket_type_id",
                "must be a seated ticket type of this event",
            ));
        }
    }
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    events::find_in(&state.db, &mut tx, &access.org_id, &event_id).await?;
    let list = placeholder_list(2, ids.len());
    let mut q = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) FROM seats WHERE event_id = $1 AND id IN ({list})"
    )))
    .persistent(false)
    .bind(event_id.clone());
    for id in &ids {
        q = q.bind(id.clone());
    }
    if q.fetch_one(&mut *tx).await? != ids.len() as i64 {
        return Err(ApiError::not_found("seat"));
    }
    let mut q = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) FROM seat_claims WHERE (kind = 'ticket' OR expires_at > $1) AND seat_id IN ({list})"
    )))
    .persistent(false)
    .bind(now);
    for id in &ids {
        q = q.bind(id.clone());
    }
    if q.fetch_one(&mut *tx).await? > 0 {
        return Err(ApiError::conflict(
            "seat_claimed",
            "a seat is held or sold; it cannot change now",
        ));
    }
    for id in &ids {
        sqlx::query(
            "UPDATE seats SET ticket_type_id = COALESCE($1, ticket_type_id), blocked = COALESCE($2, blocked) \
             WHERE id = $3 AND event_id = $4",
        )
        .bind(body.ticket_type_id.clone())
        .bind(body.blocked.map(i64::from))
        .bind(id.clone())
        .bind(event_id.clone())
        .execute(&mut *tx)
        .await?;
    }
    audit::record(
        &mut tx,
        Change {
            org_id: Some(&access.org_id),
            actor: &access.actor,
            action: "seats.updated",
            target_kind: "event",
            target_id: &event_id,
            before: None,
            after: Some(serde_json::json!({ "seat_ids": ids, "ticket_type_id": body.ticket_type_id, "blocked": body.blocked })),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    let sections = sections_of(&state.db, &event_id).await?;
    Ok(ApiJson(
        sections
            .into_iter()
            .flat_map(|s| s.seats)
            .filter(|s| ids.binary_search(&s.id).is_ok())
            .collect(),
    ))
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Shape {
    /// `coords`: x, y, width, height.
    Rect,
    /// `coords`: center x, center y, radius.
    Circle,
    /// `coords`: x1, y1, x2, y2, ... (at least three points).
    Polygon,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum HotspotTarget {
    Section,
    Seat,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateHotspot {
    pub shape: Shape,
    /// Coordinates in image pixels (see `shape`).
    pub coords: Vec<f64>,
    pub target_kind: HotspotTarget,
    pub target_id: String,
    pub label: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Hotspot {
    pub id: String,
    pub shape: Shape,
    pub coords: Vec<f64>,
    pub target_kind: HotspotTarget,
    pub target_id: String,
    pub label: Option<String>,
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

fn check_coords(shape: Shape, coords: &[f64]) -> ApiResult<()> {
    let ok = coords
        .iter()
        .all(|c| c.is_finite() && *c >= 0.0 && *c <= 100_000.0)
        && match shape {
            Shape::Rect => coords.len() == 4 && coords[2] > 0.0 && coords[3] > 0.0,
            Shape::Circle => coords.len() == 3 && coords[2] > 0.0,
            Shape::Polygon => {
                coords.len() >= 6 && coords.len().is_multiple_of(2) && coords.len() <= 2000
            }
        };
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "coords",
            "do not fit the shape (rect: x,y,w,h; circle: x,y,r; polygon: 3+ points)",
        ))
    }
}

/// Add a hotspot to the event's venue map.
#[utoipa::path(
    post, path = "/admin/events/{event_id}/hotspots", tag = "seating",
    params(("event_id" = String, Path)),
    request_body = CreateHotspot,
    responses((status = 201, body = Hotspot), (status = 400, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
pub async fn create_hotspot(
    State(state): State<AppState>,
    access: AdminAccess,
    Path(event_id): Path<String>,
    ApiJson(body): ApiJson<CreateHotspot>,
) -> ApiResult<(StatusCode, ApiJson<Hotspot>)> {
    access.require(Permission::ManageCatalog)?;
    check_coords(body.shape, &body.coords)?;
    let label = body
        .label
        .as_deref()
        .map(|l| validate::text("label", l, 100))
        .transpose()?;
    let event = events::find(&state.db, &access.org_id, &event_id).await?;
    let table = match body.target_kind {
        HotspotTarget::Section => "sections",
        HotspotTarget::Seat => "seats",
    };
    let found: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) FROM {table} WHERE id = $1 AND event_id = $2"
    )))
    .bind(body.target_id.clone())
    .bind(event.id.clone())
    .fetch_one(&state.db.pool)
    .await?;
    if found == 0 {
        return Err(ApiError::not_found(if table == "seats" {
            "seat"
        } else {
            "section"
        }));
    }
    let now: Millis = state.clock.now_ms();
    let hotspot = Hotspot {
        id: new_id(),
        shape: body.shape,
        coords: body.coords,
        target_kind: body.target_kind,
        target_id: body.target_id,
        label,
    };
    let mut tx = state.db.begin().await?;
    sqlx::query(
        "INSERT INTO hotspots (id, organization_id, event_id, shape, coords_json, target_kind, target_id, \
         label, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(hotspot.id.clone())
    .bind(access.org_id.clone())
    .bind(event.id.clone())
    .bind(serde_json::to_value(hotspot.shape).ok().and_then(|v| v.as_str().map(str::to_string)))
    .bind(serde_json::to_string(&hotspot.coords).unwrap_or_default())
    .bind(table.trim_end_matches('s').to_string())
    .bind(hotspot.target_id.clone())
    .bind(hotspot.label.clone())
    .bind(now)
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        Change {
            org_id: Some(&access.org_id),
            actor: &access.actor,
            action: "hotspot.created",
            target_kind: "hotspot",
            target_id: &hotspot.id,
            before: None,
            after: serde_json::to_value(&hotspot).ok(),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, ApiJson(hotspot)))
}

/// Remove a hotspot.
#[utoipa::path(
    delete, path = "/admin/events/{event_id}/hotspots/{hotspot_id}", tag = "seating",
    params(("event_id" = String, Path), ("hotspot_id" = String, Path)),
    responses((status = 204, description = "Removed"), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
pub async fn delete_hotspot(
    State(state): State<AppState>,
    access: AdminAccess,
    Path((event_id, hotspot_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    access.require(Permission::ManageCatalog)?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let deleted = sqlx::query(
        "DELETE FROM hotspots WHERE id = $1 AND event_id = $2 AND organization_id = $3",
    )
    .bind(hotspot_id.clone())
    .bind(event_id.clone())
    .bind(access.org_id.clone())
    .execute(&mut *tx)
    .await?;
    if deleted.rows_affected() != 1 {
        return Err(ApiError::not_found("hotspot"));
    }
    audit::record(
        &mut tx,
        Change {
            org_id: Some(&access.org_id),
            actor: &access.actor,
            action: "hotspot.deleted",
            target_kind: "hotspot",
            target_id: &hotspot_id,
            before: None,
            after: None,
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_expand() {
        let seats = expand_layout("A-C:1-4").unwrap();
        assert_eq!(seats.len(), 12);
        assert_eq!(seats[0], ("A".to_string(), "1".to_string()));
        assert_eq!(seats[11], ("C".to_string(), "4".to_string()));
        assert_eq!(expand_layout("A-Z:1-40").unwrap().len(), 26 * 40);
        assert_eq!(expand_layout("AA:1-10").unwrap().len(), 10);
        assert_eq!(expand_layout("1-3:5").unwrap().len(), 3);
        for bad in [
            "", "A-Z", "Z-A:1-4", "A-Z:4-1", "A-Z:0-3", "a-z:1-2", "A-Z:x", "A/B:1",
        ] {
            assert!(expand_layout(bad).is_err(), "{bad:?}");
        }
    }
}
