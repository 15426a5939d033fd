//! A published event's sales and availability, read back from Nextkt's network routes (as
//! the organizer: the company id is the organization's external reference). Read live on
//! each request; Nextkt is the only truth about what sold.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::events;
use crate::auth::access::Member;
use crate::platform::error::{ApiError, ApiResult, Problem};
use crate::platform::json::ApiJson;
use crate::state::AppState;
use crate::ticketing::nextkt::NextktError;

/// What Nextkt's `GET /network/events/{id}` answers (the parts shown here).
#[derive(Debug, Deserialize)]
struct NetworkDetail {
    currency: String,
    ticket_types: Vec<NetworkType>,
    tickets_sold: i64,
    by_day: Vec<NetworkDay>,
    net: Option<i64>,
    checked_in: i64,
    event: NetworkEvent,
}

#[derive(Debug, Deserialize)]
struct NetworkEvent {
    status: String,
}

#[derive(Debug, Deserialize)]
struct NetworkType {
    ticket_type_id: String,
    name: String,
    price: i64,
    capacity: Option<i64>,
    held: i64,
    sold: i64,
}

#[derive(Debug, Deserialize)]
struct NetworkDay {
    date: String,
    orders: i64,
    tickets: i64,
    gross: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TierSales {
    /// The Kisum tier (absent for a ticket type added in Nextkt directly).
    pub tier_id: Option<String>,
    pub nextkt_ticket_type_id: String,
    pub name: String,
    pub price: i64,
    pub capacity: Option<i64>,
    /// In buyers' carts now.
    pub held: i64,
    pub sold: i64,
    /// Capacity less sold and held.
    pub available: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DaySales {
    /// `YYYY-MM-DD` in the event's time zone.
    pub date: String,
    pub orders: i64,
    pub tickets: i64,
    /// Minor units.
    pub gross: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventSales {
    pub event_id: String,
    pub nextkt_event_id: String,
    /// The event's status in Nextkt (`draft`, `published`, `ended`, `cancelled`).
    pub nextkt_status: String,
    pub currency: String,
    pub tiers: Vec<TierSales>,
    pub tickets_sold: i64,
    pub checked_in: i64,
    /// What buyers paid (with the platform fee when buyers pay it) less refunds, minor
    /// units.
    pub net: Option<i64>,
    pub by_day: Vec<DaySales>,
}

/// Sales and availability of a published event, live from Nextkt.
#[utoipa::path(get, path = "/promoter/events/{id}/sales", tag = "promoter",
    params(("id" = String, Path), ("x-org" = String, Header)),
    responses((status = 200, body = EventSales), (status = 404, body = Problem),
        (status = 409, description = "`not_published`", body = Problem),
        (status = 503, description = "`ticketing_not_configured`, `network_not_configured`, `nextkt_unavailable`", body = Problem)),
    security(("bearer" = [])))]
pub async fn sales(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<String>,
) -> ApiResult<ApiJson<EventSales>> {
    member.require("promoter.events.read")?;
    let (row, tiers) = {
        let mut conn = state.db.pool.acquire().await?;
        let row = events::find(&mut conn, &id, &member.company_id, "").await?;
        let tiers = events::tiers_of(&mut conn, &id).await?;
        (row, tiers)
    };
    let nextkt = state
        .nextkt
        .clone()
        .ok_or_else(crate::ticketing::link::not_configured)?;
    let nextkt_event = row.nextkt_event_id.clone().ok_or_else(|| {
        ApiError::conflict(
            "not_published",
            "the event is not in Nextkt yet: publish it",
        )
    })?;
    let answer = nextkt
        .network(
            member.company_id.as_str(),
            &format!("/network/events/{nextkt_event}"),
        )
        .await
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "network_not_configured",
                "this server cannot read Nextkt's sales (KISUM_NEXTKT_INTERNAL_API_KEY)",
            )
        })?
        .map_err(|err| match err {
            // Nextkt no longer shows it to this company (the organization changed hands).
            NextktError::Refused(404, _) => ApiError::not_found("event in Nextkt"),
            other => other.into(),
        })?;
    let detail: NetworkDetail = serde_json::from_value(answer).map_err(|e| {
        ApiError::from(NextktError::Unavailable(format!(
            "unreadable network answer: {e}"
        )))
    })?;
    Ok(ApiJson(EventSales {
        event_id: row.id,
        nextkt_event_id: nextkt_event,
        nextkt_status: detail.event.status,
        currency: detail.currency,
        tiers: detail
            .ticket_types
            .into_iter()
            .map(|t| TierSales {
                tier_id: tiers
                    .iter()
                    .find(|k| k.nextkt_ticket_type_id.as_deref() == Some(&t.ticket_type_id))
                    .map(|k| k.id.clone()),
                available: t.capacity.map(|c| (c - t.sold - t.held).max(0)),
                nextkt_ticket_type_id: t.ticket_type_id,
                name: t.name,
                price: t.price,
                capacity: t.capacity,
                held: t.held,
                sold: t.sold,
            })
            .collect(),
        tickets_sold: detail.tickets_sold,
        checked_in: detail.checked_in,
        net: detail.net,
        by_day: detail
            .by_day
            .into_iter()
            .map(|d| DaySales {
                date: d.date,
                orders: d.orders,
                tickets: d.tickets,
                gross: d.gross,
            })
            .collect(),
    }))
}
