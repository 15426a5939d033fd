//! The rules of seating: seats only for the event's seated ticket types, no seat changed
//! while held or sold, hotspots only on the event's own sections and seats; each change and
//! its audit entry in one transaction.

use super::store;
use super::types::{Hotspot, HotspotTarget, Seat, Section, Shape};
use super::{MAX_SEATS_PER_SECTION, expand_layout};
use crate::catalog::{events, ticket_types};
use crate::ids::{EventId, OrgId, TicketTypeId};
use crate::platform::clock::Millis;
use crate::platform::error::{ApiError, ApiResult, is_unique_violation};
use crate::platform::ids::new_id;
use crate::state::AppState;
use crate::tenancy::access::Actor;
use crate::tenancy::audit::{self, Change};

/// Seats go into the database this many at a time (one statement each).
const SEATS_PER_INSERT: usize = 400;

/// A section to create (its name already checked).
pub struct NewSection<'a> {
    pub name: String,
    pub ticket_type_id: &'a str,
    pub layout: &'a [String],
    pub sort_order: Option<i64>,
}

/// Adds a section with its seats, from a compact layout.
#[tracing::instrument(skip_all, fields(org_id = %org_id, event_id = %event_id))]
pub async fn create_section(
    state: &AppState,
    org_id: &OrgId,
    actor: &Actor,
    event_id: &EventId,
    new: NewSection<'_>,
) -> ApiResult<Section> {
    let NewSection {
        name,
        ticket_type_id,
        layout,
        sort_order,
    } = new;
    let tt = ticket_types::find(&state.db, org_id, &TicketTypeId::from(ticket_type_id)).await?;
    if tt.event_id != *event_id {
        return Err(ApiError::not_found("ticket type"));
    }
    if tt.kind != "seated" {
        return Err(ApiError::invalid(
            "ticket_type_id",
            "seats need a seated ticket type",
        ));
    }
    if layout.is_empty() {
        return Err(ApiError::invalid(
            "layout",
            "give at least one layout line such as A-Z:1-40",
        ));
    }
    let mut positions = Vec::new();
    for line in layout {
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
    events::find_in(&state.db, &mut tx, org_id, event_id).await?;
    let section_id = new_id();
    let sort_order = sort_order.unwrap_or(0);
    store::insert_section(
        &mut tx,
        org_id,
        event_id,
        &section_id,
        &name,
        sort_order,
        now,
    )
    .await?;
    let seats: Vec<Seat> = positions
        .into_iter()
        .map(|(row, number)| Seat {
            id: new_id(),
            section_id: section_id.clone(),
            row,
            number,
            ticket_type_id: tt.id.clone(),
            blocked: false,
        })
        .collect();
    for (chunk_index, chunk) in seats.chunks(SEATS_PER_INSERT).enumerate() {
        let first = chunk_index * SEATS_PER_INSERT;
        match store::insert_seats(&state.db, &mut tx, org_id, event_id, first, chunk).await {
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
            org_id: Some(org_id),
            actor,
            action: "section.created",
            target_kind: "section",
            target_id: &section_id,
            before: None,
            after: Some(
                serde_json::json!({ "name": name, "seats": seats.len(), "layout": layout }),
            ),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(Section {
        id: section_id,
        event_id: event_id.to_string(),
        name,
        sort_order,
        seats,
    })
}

/// Re-tiers or blocks the event's seats `ids` (sorted, without repeats); answers them as
/// they are now. Seats with a live hold or a ticket cannot change.
#[tracing::instrument(skip_all, fields(org_id = %org_id, event_id = %event_id))]
pub async fn update_seats(
    state: &AppState,
    org_id: &OrgId,
    actor: &Actor,
    event_id: &EventId,
    ids: Vec<String>,
    ticket_type_id: Option<&str>,
    blocked: Option<bool>,
) -> ApiResult<Vec<Seat>> {
    if let Some(tt_id) = ticket_type_id {
        let tt = ticket_types::find(&state.db, org_id, &TicketTypeId::from(tt_id)).await?;
        if tt.event_id != *event_id || tt.kind != "seated" {
            return Err(ApiError::invalid(
                "ticket_type_id",
                "must be a seated ticket type of this event",
            ));
        }
    }
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    events::find_in(&state.db, &mut tx, org_id, event_id).await?;
    if store::count_seats(&state.db, &mut tx, event_id, &ids).await? != ids.len() as i64 {
        return Err(ApiError::not_found("seat"));
    }
    if store::count_claimed(&state.db, &mut tx, &ids, now).await? > 0 {
        return Err(ApiError::conflict(
            "seat_claimed",
            "a seat is held or sold; it cannot change now",
        ));
    }
    store::update_seats(&mut tx, event_id, &ids, ticket_type_id, blocked).await?;
    audit::record(
        &mut tx,
        Change {
            org_id: Some(org_id),
            actor,
            action: "seats.updated",
            target_kind: "event",
            target_id: event_id,
            before: None,
            after: Some(serde_json::json!({ "seat_ids": ids, "ticket_type_id": ticket_type_id, "blocked": blocked })),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    let sections = store::sections_of(&state.db, event_id).await?;
    Ok(sections
        .into_iter()
        .flat_map(|s| s.seats)
        .filter(|s| ids.binary_search(&s.id).is_ok())
        .collect())
}

/// A hotspot to add (its coordinates and label already checked).
pub struct NewHotspot {
    pub shape: Shape,
    pub coords: Vec<f64>,
    pub target_kind: HotspotTarget,
    pub target_id: String,
    pub label: Option<String>,
}

/// Adds a hotspot to the event's venue map, on one of the event's sections or seats.
#[tracing::instrument(skip_all, fields(org_id = %org_id, event_id = %event_id))]
pub async fn create_hotspot(
    state: &AppState,
    org_id: &OrgId,
    actor: &Actor,
    event_id: &EventId,
    new: NewHotspot,
) -> ApiResult<Hotspot> {
    let event = events::find(&state.db, org_id, event_id).await?;
    if !store::target_exists(&state.db, new.target_kind, &new.target_id, &event.id).await? {
        return Err(ApiError::not_found(match new.target_kind {
            HotspotTarget::Seat => "seat",
            HotspotTarget::Section => "section",
        }));
    }
    let now: Millis = state.clock.now_ms();
    let hotspot = Hotspot {
        id: new_id(),
        shape: new.shape,
        coords: new.coords,
        target_kind: new.target_kind,
        target_id: new.target_id,
        label: new.label,
    };
    let mut tx = state.db.begin().await?;
    store::insert_hotspot(&mut tx, org_id, &event.id, &hotspot, now).await?;
    audit::record(
        &mut tx,
        Change {
            org_id: Some(org_id),
            actor,
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
    Ok(hotspot)
}

/// Removes a hotspot of the event.
#[tracing::instrument(skip_all, fields(org_id = %org_id, event_id = %event_id, hotspot_id = %hotspot_id))]
pub async fn delete_hotspot(
    state: &AppState,
    org_id: &OrgId,
    actor: &Actor,
    event_id: &EventId,
    hotspot_id: &str,
) -> ApiResult<()> {
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    if !store::delete_hotspot(&mut tx, org_id, event_id, hotspot_id).await? {
        return Err(ApiError::not_found("hotspot"));
    }
    audit::record(
        &mut tx,
        Change {
            org_id: Some(org_id),
            actor,
            action: "hotspot.deleted",
            target_kind: "hotspot",
            target_id: hotspot_id,
            before: None,
            after: None,
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
