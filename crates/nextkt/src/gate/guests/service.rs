//! Adding guests: units claimed through the oversell core, an order and tickets for each
//! guest, their emails and the audit entry, all in one transaction.

use std::collections::BTreeMap;

use serde_json::json;

use super::{Entry, store};
use crate::catalog::events::EventRow;
use crate::catalog::ticket_types::TicketTypeRow;
use crate::commerce::orders::{self, NewOrder};
use crate::commerce::pricing::Quote;
use crate::ids::{OrderId, OrgId};
use crate::inventory::carts::{self, NewCart};
use crate::inventory::convert::Claimed;
use crate::inventory::pools::{self, Sale};
use crate::notify::outbox::{self, Email};
use crate::platform::clock::Millis;
use crate::platform::db::Tx;
use crate::platform::error::{ApiError, ApiResult};
use crate::platform::ids::new_id;
use crate::platform::secrets::{new_token, token_hash};
use crate::state::AppState;
use crate::tenancy::access::Actor;
use crate::tenancy::audit::{self, Change};
use crate::tickets::{self, Issue};

/// Who adds the guests.
#[derive(Clone, Copy)]
pub struct By<'a> {
    pub org_id: &'a OrgId,
    pub actor: &'a Actor,
}

/// Adds one guest (checked); the guest's id.
#[tracing::instrument(skip_all, fields(org_id = %by.org_id, event_id = %event.id))]
pub async fn add(
    state: &AppState,
    by: By<'_>,
    event: &EventRow,
    types: &[TicketTypeRow],
    entry: &Entry,
    send_email: bool,
) -> ApiResult<String> {
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let ids = add_all(
        state,
        &mut tx,
        event,
        types,
        Batch {
            entries: std::slice::from_ref(entry),
            source: "manual",
            send_email,
        },
        now,
    )
    .await?;
    record_audit(
        &mut tx,
        by,
        &event.id,
        "guest.added",
        json!({ "guest_id": ids[0], "name": entry.name, "email": entry.email, "quantity": entry.quantity }),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(ids[0].clone())
}

/// Adds every guest of an imported file (all checked), or none; their ids.
#[tracing::instrument(skip_all, fields(org_id = %by.org_id, event_id = %event.id, guests = entries.len()))]
pub async fn import(
    state: &AppState,
    by: By<'_>,
    event: &EventRow,
    types: &[TicketTypeRow],
    entries: &[Entry],
    send_email: bool,
) -> ApiResult<Vec<String>> {
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let ids = add_all(
        state,
        &mut tx,
        event,
        types,
        Batch {
            entries,
            source: "csv",
            send_email,
        },
        now,
    )
    .await?;
    let tickets: i64 = entries.iter().map(|e| e.quantity).sum();
    record_audit(
        &mut tx,
        by,
        &event.id,
        "guests.imported",
        json!({ "guests": ids.len(), "tickets": tickets }),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(ids)
}

/// Guests to add, where they come from (`manual`, `csv`), and whether to email them.
struct Batch<'a> {
    entries: &'a [Entry],
    source: &'a str,
    send_email: bool,
}

/// Claims the units, writes the guests, their orders and tickets, and queues their emails:
/// all in the caller's transaction, all or nothing.
async fn add_all(
    state: &AppState,
    tx: &mut Tx,
    event: &EventRow,
    types: &[TicketTypeRow],
    batch: Batch<'_>,
    now: Millis,
) -> ApiResult<Vec<String>> {
    let Batch {
        entries,
        source,
        send_email,
    } = batch;
    let db = &state.db;
    // The oversell core's rule, as for any hold; pools are taken in id order.
    let mut wanted: BTreeMap<&str, i64> = BTreeMap::new();
    for e in entries {
        *wanted.entry(e.ticket_type_id.as_str()).or_default() += e.quantity;
    }
    let type_of = |id: &str| {
        types
            .iter()
            .find(|t| t.id == id)
            .ok_or_else(|| ApiError::not_found("ticket type"))
    };
    for (type_id, units) in &wanted {
        let type_name = &type_of(type_id)?.name;
        if let Sale::Short { left } = pools::sell_outright(db, tx, type_id, *units, now).await? {
            return Err(ApiError::rule(
                "sold_out",
                format!("{type_name} has {left} left; the guests need {units}"),
            ));
        }
    }
    let locale = store::org_locale(tx, &event.organization_id).await?;
    let mut ids = Vec::with_capacity(entries.len());
    for e in entries {
        let ticket_type = type_of(&e.ticket_type_id)?;
        let (guest_id, cart_id, order_id) = (new_id(), new_id(), OrderId::generate());
        // An order is made from a cart; this one is never handed out.
        let cart = NewCart {
            id: &cart_id,
            org_id: &event.organization_id,
            event_id: &event.id,
            token_hash: &token_hash(&new_token("guest_")),
            buyer_id: None,
        };
        carts::create(tx, &cart, now).await?;
        let line_types = [(ticket_type.id.clone(), ticket_type.name.clone())];
        let order = NewOrder {
            id: &order_id,
            org_id: &event.organization_id,
            event_id: &event.id,
            cart_id: &cart_id,
            buyer_id: None,
            email: &e.email,
            name: &e.name,
            locale: &locale,
            status: "paid",
            kind: "complimentary",
            currency: &ticket_type.currency,
            pricing: &Quote::free(e.quantity),
            line_types: &line_types,
            discount_id: None,
            fee_payer: "organizer",
            payment_deadline: now,
            paid_at: Some(now),
            // Guests' tickets are real (their orders are live, complimentary).
            livemode: true,
        };
        orders::insert(tx, &order, now).await?;
        let claimed: Vec<Claimed> = (0..e.quantity)
            .map(|_| Claimed {
                ticket_type_id: e.ticket_type_id.clone(),
                seat_id: None,
            })
            .collect();
        let issued = tickets::issue(
            db,
            tx,
            Issue {
                org_id: &event.organization_id,
                event_id: &event.id,
                order_id: &order_id,
                holder_name: &e.name,
                holder_email: &e.email,
                livemode: true,
            },
            &claimed,
            now,
        )
        .await?;
        store::insert(
            tx,
            store::NewGuest {
                id: &guest_id,
                org_id: &event.organization_id,
                event_id: &event.id,
                order_id: order_id.into_string(),
                source,
            },
            e,
            now,
        )
        .await?;
        if send_email {
            let links: Vec<serde_json::Value> = issued
                .iter()
                .map(|t| json!({ "url": format!("{}/t/{}", state.base_url, t.code), "qr_payload": t.qr_payload }))
                .collect();
            outbox::enqueue(
                tx,
                Email {
                    organization_id: Some(&event.organization_id),
                    template: "guest_ticket",
                    locale: &locale,
                    to: &e.email,
                    payload: {
                        let mut payload = json!({ "name": e.name, "tickets": links });
                        if let Some(fields) = payload.as_object_mut() {
                            fields.extend(event.email_details(&locale));
                        }
                        payload
                    },
                },
                now,
            )
            .await?;
        }
        ids.push(guest_id);
    }
    metrics::counter!("nextkt_guests_added_total").increment(entries.len() as u64);
    Ok(ids)
}

async fn record_audit(
    tx: &mut Tx,
    by: By<'_>,
    event_id: &str,
    action: &str,
    after: serde_json::Value,
    now: Millis,
) -> ApiResult<()> {
    audit::record(
        tx,
        Change {
            org_id: Some(by.org_id),
            actor: by.actor,
            action,
            target_kind: "event",
            target_id: event_id,
            before: None,
            after: Some(after),
        },
        now,
    )
    .await?;
    Ok(())
}
