//! Seat reservations. Each seat has at most one live claim, by construction: `seat_claims`
//! is keyed by seat. A reservation deletes the seats' expired claims, then inserts one
//! claim and one hold per seat in one transaction; a seat someone else holds makes the
//! whole request fail with nothing written. The SQL is in `store` (holds, claims) and
//! `carts`; what the seats are comes from the seat map below.

use std::collections::HashMap;

use super::carts::{self, NewCart};
use super::reserve::{CartRef, Reserved, Terms, check_limits};
use super::store::{self, NewSeatHold};
use crate::catalog::events::{EventRow, Visibility};
use crate::catalog::ticket_types::TicketTypeRow;
use crate::ids::BuyerId;
use crate::platform::clock::Millis;
use crate::platform::db::{Db, Tx, placeholder_list};
use crate::platform::error::{ApiError, ApiResult, is_unique_violation};
use crate::platform::ids::new_id;

pub const MAX_SEATS_PER_REQUEST: usize = 50;

pub struct SeatRequest {
    pub event: EventRow,
    pub seat_ids: Vec<String>,
    pub cart: CartRef,
    pub buyer_id: Option<BuyerId>,
    pub unlock_code: Option<String>,
    pub access_key: Option<String>,
}

#[derive(sqlx::FromRow)]
struct SeatRow {
    id: String,
    ticket_type_id: String,
    blocked: i64,
}

#[tracing::instrument(skip_all, fields(event = %req.event.id, seats = req.seat_ids.len()))]
pub async fn reserve(
    db: &Db,
    types: &[TicketTypeRow],
    req: SeatRequest,
    now: Millis,
) -> ApiResult<Vec<Reserved>> {
    let event = &req.event;
    if event.visibility() == Visibility::Private
        && req.access_key.as_deref() != event.access_key.as_deref()
    {
        return Err(ApiError::not_found("event"));
    }
    event.on_sale(now)?;
    let mut seat_ids = req.seat_ids.clone();
    seat_ids.sort_unstable();
    seat_ids.dedup();
    if seat_ids.is_empty() || seat_ids.len() > MAX_SEATS_PER_REQUEST {
        return Err(ApiError::invalid(
            "seat_ids",
            format!("give 1 to {MAX_SEATS_PER_REQUEST} seats"),
        ));
    }
    let mut tx = db.begin().await?;
    let seats = seats_of_event(db, &mut tx, &event.id, &seat_ids).await?;
    if seats.len() != seat_ids.len() {
        return Err(ApiError::not_found("seat"));
    }
    if seats.iter().any(|s| s.blocked != 0) {
        return Err(ApiError::conflict(
            "seat_unavailable",
            "a chosen seat is not for sale",
        ));
    }
    // Every seat's ticket type must be on sale and unlocked; limits count per type.
    let mut per_type: HashMap<&str, i64> = HashMap::new();
    for seat in &seats {
        *per_type.entry(seat.ticket_type_id.as_str()).or_default() += 1;
    }
    if let CartRef::Existing(cart_id) = &req.cart {
        carts::lock(db, &mut tx, cart_id).await?;
    }
    let (lines, cart_total) = cart_lines(&mut tx, req.cart.id(), now).await?;
    let buyer_total = match &req.buyer_id {
        Some(buyer) if event.max_per_buyer.is_some() => Some(
            store::buyer_totals_locked(db, &mut tx, &event.id, &[buyer.as_str()], now)
                .await?
                .get(buyer)
                .copied()
                .unwrap_or(0),
        ),
        Some(_) => Some(0),
        None => None,
    };
    let mut added = 0;
    for (type_id, count) in &per_type {
        let tt = types
            .iter()
            .find(|t| t.id == *type_id)
            .ok_or_else(|| ApiError::not_found("ticket type"))?;
        if !tt.unlocked_by(req.unlock_code.as_deref()) {
            return Err(ApiError::not_found("seat"));
        }
        tt.on_sale(now)?;
        let terms = Terms {
            event: event.clone(),
            ticket_type: tt.clone(),
        };
        let line = lines.get(*type_id).copied().unwrap_or(0);
        check_limits(
            &terms,
            *count,
            line + count,
            cart_total + added,
            buyer_total.map(|b| b + added),
        )?;
        added += count;
    }

    // Expired claims of these seats go first; then any claim left is someone else's.
    store::expire_holds_of_seats(db, &mut tx, &seat_ids, now).await?;
    store::delete_expired_claims_of_seats(db, &mut tx, &seat_ids, now).await?;
    let taken = store::claimed_seats(db, &mut tx, &seat_ids).await?;
    if !taken.is_empty() {
        return Err(seat_taken(&taken));
    }

    if let CartRef::New { id, token_hash } = &req.cart {
        let cart = NewCart {
            id,
            org_id: &event.organization_id,
            event_id: &event.id,
            token_hash,
            buyer_id: req.buyer_id.as_deref(),
        };
        carts::create(&mut tx, &cart, now).await?;
    }
    let expires_at = now + event.hold_seconds * 1000;
    let mut reserved = Vec::new();
    for seat in &seats {
        let hold_id = new_id();
        let hold = NewSeatHold {
            id: &hold_id,
            org_id: &event.organization_id,
            event_id: &event.id,
            cart_id: req.cart.id(),
            buyer_id: req.buyer_id.as_deref(),
            ticket_type_id: &seat.ticket_type_id,
            seat_id: &seat.id,
            expires_at,
        };
        match store::insert_hold_claim(&mut tx, &hold, now).await {
            Err(err) if is_unique_violation(&err) => {
                return Err(seat_taken(std::slice::from_ref(&seat.id)));
            }
            other => other?,
        };
        store::insert_seat_hold(&mut tx, &hold, now).await?;
        reserved.push(Reserved {
            hold_id,
            cart_id: req.cart.id().to_string(),
            quantity: 1,
            expires_at,
        });
    }
    tx.commit().await?;
    metrics::counter!("nextkt_reservations_total", "outcome" => "seats_held")
        .increment(reserved.len() as u64);
    Ok(reserved)
}

fn seat_taken(seats: &[String]) -> ApiError {
    metrics::counter!("nextkt_reservations_total", "outcome" => "seat_taken").increment(1);
    ApiError::conflict(
        "seat_taken",
        format!("already held or sold: {}", seats.join(", ")),
    )
}

/// Live quantities of a cart per ticket type, and in all.
async fn cart_lines(
    tx: &mut Tx,
    cart_id: &str,
    now: Millis,
) -> Result<(HashMap<String, i64>, i64), sqlx::Error> {
    let rows = store::cart_lines(tx, cart_id, now).await?;
    let total = rows.iter().map(|(_, n)| n).sum();
    Ok((rows.into_iter().collect(), total))
}

/// The chosen seats of the event (read from the catalog's seat map).
async fn seats_of_event(
    db: &Db,
    tx: &mut Tx,
    event_id: &str,
    seat_ids: &[String],
) -> Result<Vec<SeatRow>, sqlx::Error> {
    let sql = format!(
        "SELECT id, ticket_type_id, blocked FROM seats WHERE event_id = $1 AND id IN ({})",
        placeholder_list(2, seat_ids.len())
    );
    let mut q = sqlx::query_as::<_, SeatRow>(db.sql(sql))
        .persistent(false)
        .bind(event_id.to_string());
    for id in seat_ids {
        q = q.bind(id.clone());
    }
    q.fetch_all(&mut **tx).await
}
