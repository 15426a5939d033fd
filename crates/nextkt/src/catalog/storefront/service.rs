//! What a storefront may see of an event, and what it sells: the offer, the seats and the
//! map, live availability.

use std::collections::{HashMap, HashSet};

use super::store;
use super::types::{
    Availability, EventAccess, Inventory, PublicTicketType, Remaining, SeatAvailability,
};
use crate::catalog::events::{self, EventRow, Visibility};
use crate::catalog::seating;
use crate::catalog::ticket_types::{self, TicketTypeRow};
use crate::ids::{EventId, OrgId};
use crate::inventory::pools;
use crate::platform::clock::opt_rfc3339;
use crate::platform::error::{ApiError, ApiResult};
use crate::state::AppState;

/// An event a storefront may show, or 404.
pub async fn visible_event(
    state: &AppState,
    org_id: &OrgId,
    event_id: &EventId,
    access_key: Option<&str>,
) -> ApiResult<EventRow> {
    let row = events::find(&state.db, org_id, event_id).await?;
    if row.status == "draft" {
        return Err(ApiError::not_found("event"));
    }
    if row.visibility() == Visibility::Private && access_key != row.access_key.as_deref() {
        return Err(ApiError::not_found("event"));
    }
    Ok(row)
}

/// The event a storefront may show, with the ticket types this caller may see (hidden
/// ones only with their unlock code).
async fn visible_offer(
    state: &AppState,
    org_id: &OrgId,
    event_id: &EventId,
    access: &EventAccess,
) -> ApiResult<(EventRow, Vec<TicketTypeRow>)> {
    let event = visible_event(state, org_id, event_id, access.access_key.as_deref()).await?;
    let types = ticket_types::of_event(&state.db, &event.id)
        .await?
        .into_iter()
        .filter(|t| t.unlocked_by(access.unlock.as_deref()))
        .collect();
    Ok((event, types))
}

/// What an event sells to this caller: ticket types, the sections and seats of those, and
/// the map's hotspots on them.
#[tracing::instrument(skip_all, fields(org_id = %org_id, event_id = %event_id))]
pub async fn inventory(
    state: &AppState,
    org_id: &OrgId,
    event_id: &EventId,
    access: &EventAccess,
) -> ApiResult<Inventory> {
    let (event, types) = visible_offer(state, org_id, event_id, access).await?;
    let shown: HashSet<String> = types.iter().map(|t| t.id.clone()).collect();
    let mut sections = seating::sections_of(&state.db, &event.id).await?;
    for section in &mut sections {
        section.seats.retain(|s| shown.contains(&s.ticket_type_id));
    }
    sections.retain(|s| !s.seats.is_empty());
    let section_ids: HashSet<String> = sections.iter().map(|s| s.id.clone()).collect();
    let seat_ids: HashSet<String> = sections
        .iter()
        .flat_map(|s| s.seats.iter().map(|x| x.id.clone()))
        .collect();
    let hotspots = seating::hotspots_of(&state.db, &event.id)
        .await?
        .into_iter()
        .filter(|h| section_ids.contains(&h.target_id) || seat_ids.contains(&h.target_id))
        .collect();
    Ok(Inventory {
        mode: event.mode(),
        map_image_ref: event.map_image_ref.clone(),
        event_id: event.id.into_string(),
        ticket_types: types
            .into_iter()
            .map(|t| PublicTicketType {
                id: t.id,
                name: t.name,
                kind: t.kind,
                price: t.price,
                currency: t.currency,
                sale_starts_at: opt_rfc3339(t.sale_starts_at),
                sale_ends_at: opt_rfc3339(t.sale_ends_at),
                min_per_order: t.min_per_order,
                max_per_order: t.max_per_order,
            })
            .collect(),
        sections,
        hotspots,
    })
}

/// What is left right now, per ticket type, section and seat this caller may see.
#[tracing::instrument(skip_all, fields(org_id = %org_id, event_id = %event_id))]
pub async fn availability(
    state: &AppState,
    org_id: &OrgId,
    event_id: &EventId,
    access: &EventAccess,
) -> ApiResult<Availability> {
    let (event, types) = visible_offer(state, org_id, event_id, access).await?;
    let now = state.clock.now_ms();
    let figures = pools::figures_for_event(&state.db, &event.id, now).await?;
    let claimed = store::claimed_seats(&state.db, &event.id, now).await?;
    let shown: HashSet<&str> = types.iter().map(|t| t.id.as_str()).collect();
    let sections = seating::sections_of(&state.db, &event.id).await?;
    let mut seats = Vec::new();
    let mut per_section: HashMap<String, i64> = HashMap::new();
    for section in &sections {
        for seat in section
            .seats
            .iter()
            .filter(|s| shown.contains(s.ticket_type_id.as_str()))
        {
            let available = !seat.blocked && !claimed.contains(&seat.id);
            *per_section.entry(section.id.clone()).or_default() += i64::from(available);
            seats.push(SeatAvailability {
                id: seat.id.clone(),
                available,
            });
        }
    }
    Ok(Availability {
        event_id: event.id.into_string(),
        ticket_types: types
            .iter()
            .map(|t| Remaining {
                id: t.id.clone(),
                remaining: figures.get(&t.id).map(|f| f.remaining()).unwrap_or(0),
            })
            .collect(),
        sections: sections
            .iter()
            .filter(|s| per_section.contains_key(&s.id))
            .map(|s| Remaining {
                id: s.id.clone(),
                remaining: per_section[&s.id],
            })
            .collect(),
        seats,
    })
}
