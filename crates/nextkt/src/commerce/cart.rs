//! The cart (`/consumer/cart*`). A cart belongs to one event; each item is a hold with an
//! expiry. Anonymous carts are reached with the `X-Cart-Token` the first add returns; a
//! logged-in buyer's cart also needs that buyer's token. Adding goes through the oversell
//! core: coalesced batches for general admission, one transaction for seats.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::discounts::{self, CartLine, DiscountKind};
use super::fees;
use super::points;
use super::pricing::{self, FeePayer, LineInput, Quote, QuoteInput};
use crate::buyers::access::MaybeBuyer;
use crate::catalog::events::{self, EventRow};
use crate::catalog::ticket_types;
use crate::inventory::carts;
use crate::inventory::holds::{self, HoldRow};
use crate::inventory::reserve::{self, CartRef, GaRequest, Reserved};
use crate::inventory::seats::{self, SeatRequest};
use crate::platform::clock::{Millis, rfc3339};
use crate::platform::error::{ApiError, ApiResult, Problem};
use crate::platform::ids::new_id;
use crate::platform::json::ApiJson;
use crate::platform::secrets::{new_token, token_hash};
use crate::platform::validate;
use crate::state::AppState;

pub const CART_TOKEN_HEADER: &str = "x-cart-token";
pub const CART_TOKEN_PREFIX: &str = "nkt_cart_";
/// Measurement only: sends a reservation down the naive path (see `--enable-baseline-reservations`).
pub const RESERVATION_PATH_HEADER: &str = "x-reservation-path";
pub const MAX_QUANTITY: i64 = 100;

#[derive(sqlx::FromRow)]
struct CartRow {
    id: String,
    event_id: String,
    buyer_id: Option<String>,
    extended_at: Option<i64>,
    discount_id: Option<String>,
    points: i64,
    /// 1 once the cart became an order.
    ordered: i64,
}

/// The cart named by `X-Cart-Token`, if it belongs to this storefront and caller; 404 if not.
async fn cart_of(
    state: &AppState,
    headers: &HeaderMap,
    caller: &MaybeBuyer,
) -> ApiResult<Option<CartRow>> {
    let Some(token) = headers.get(CART_TOKEN_HEADER).and_then(|v| v.to_str().ok()) else {
        return Ok(None);
    };
    let row: Option<CartRow> = sqlx::query_as(
        "SELECT c.id, c.event_id, c.buyer_id, c.extended_at, c.discount_id, c.points, \
         (SELECT COUNT(*) FROM orders o WHERE o.cart_id = c.id) AS ordered FROM carts c \
         WHERE c.token_hash = $1 AND c.organization_id = $2",
    )
    .bind(token_hash(token.trim()))
    .bind(caller.org.id.clone())
    .fetch_optional(&state.db.pool)
    .await?;
    match row {
        Some(cart) if cart.buyer_id.is_none() || cart.buyer_id == caller.buyer_id => Ok(Some(cart)),
        _ => Err(ApiError::not_found("cart")),
    }
}

async fn require_cart(
    state: &AppState,
    headers: &HeaderMap,
    caller: &MaybeBuyer,
) -> ApiResult<CartRow> {
    cart_of(state, headers, caller).await?.ok_or_else(|| {
        ApiError::bad_request(
            "cart_token_required",
            "send the cart's token as X-Cart-Token",
        )
    })
}

/// The cart, for a change: refused once it became an order.
async fn open_cart(
    state: &AppState,
    headers: &HeaderMap,
    caller: &MaybeBuyer,
) -> ApiResult<CartRow> {
    let cart = require_cart(state, headers, caller).await?;
    refuse_ordered(&cart)?;
    Ok(cart)
}

fn refuse_ordered(cart: &CartRow) -> ApiResult<()> {
    if cart.ordered > 0 {
        return Err(ApiError::conflict(
            "cart_checked_out",
            "this cart has an order; start a new cart",
        ));
    }
    Ok(())
}

/// The id of the cart in `X-Cart-Token`.
pub async fn cart_id_of(
    state: &AppState,
    caller: &MaybeBuyer,
    headers: &HeaderMap,
) -> ApiResult<String> {
    Ok(require_cart(state, headers, caller).await?.id)
}

/// Everything checkout needs from the cart, checked again now.
pub struct CheckoutCart {
    pub cart_id: String,
    pub event_id: String,
    pub currency: String,
    pub pricing: Quote,
    pub discount_id: Option<String>,
    pub fee_payer: String,
    /// The earliest expiry of the cart's holds: the order's payment deadline.
    pub deadline: Millis,
    pub hold_count: u64,
    /// The ticket type (id, name) of each pricing line, in order.
    pub line_types: Vec<(String, String)>,
}

pub async fn checkout_view(
    state: &AppState,
    caller: &MaybeBuyer,
    headers: &HeaderMap,
    now: Millis,
) -> ApiResult<CheckoutCart> {
    let cart = open_cart(state, headers, caller).await?;
    let event = events::find(&state.db, &caller.org.id, &cart.event_id).await?;
    let types = ticket_types::of_event(&state.db, &cart.event_id).await?;
    let live = holds::live_of_cart(&state.db, &cart.id, now).await?;
    if live.is_empty() {
        return Err(ApiError::conflict(
            "cart_empty",
            "nothing in this cart is held any more",
        ));
    }
    event.on_sale(now)?;
    for tt in types
        .iter()
        .filter(|t| live.iter().any(|h| h.ticket_type_id == t.id))
    {
        tt.on_sale(now)?;
    }
    let priced = price(
        state,
        &caller.org.id,
        Contents {
            event: &event,
            types: &types,
            live: &live,
        },
        &cart,
        cart.discount_id.as_deref(),
        now,
    )
    .await?;
    if let Some(problem) = priced.discount_problem {
        return Err(ApiError::rule("discount_not_applicable", problem));
    }
    if let Some(buyer) = &cart.buyer_id
        && cart.points > 0
        && points::balance(&state.db, buyer, now).await? < cart.points
    {
        return Err(ApiError::rule(
            "not_enough_points",
            "the points chosen for this cart are no longer there",
        ));
    }
    let ordered_types: Vec<&ticket_types::TicketTypeRow> = types
        .iter()
        .filter(|t| live.iter().any(|h| h.ticket_type_id == t.id))
        .collect();
    Ok(CheckoutCart {
        cart_id: cart.id.clone(),
        event_id: cart.event_id.clone(),
        currency: ordered_types
            .first()
            .map(|t| t.currency.clone())
            .unwrap_or_default(),
        line_types: ordered_types
            .iter()
            .map(|t| (t.id.clone(), t.name.clone()))
            .collect(),
        discount_id: priced
            .discount
            .is_some()
            .then(|| cart.discount_id.clone())
            .flatten(),
        pricing: priced.quote,
        fee_payer: event.fee_payer.clone(),
        deadline: live.iter().map(|h| h.expires_at).min().unwrap_or(now),
        hold_count: live.len() as u64,
    })
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddToCart {
    pub event_id: String,
    /// A general-admission ticket type, with `quantity`.
    pub ticket_type_id: Option<String>,
    /// 1–100; default 1.
    pub quantity: Option<i64>,
    /// Or: specific seats (up to 50).
    pub seat_ids: Option<Vec<String>>,
    /// Unlocks a hidden ticket type.
    pub unlock_code: Option<String>,
    /// For private events: the key from the event's link.
    pub access_key: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HeldItem {
    pub id: String,
    /// Units held by this item after the request.
    pub quantity: i64,
    pub expires_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Added {
    pub cart_id: String,
    /// Present when this request created the cart: send it as `X-Cart-Token` from now on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cart_token: Option<String>,
    pub items: Vec<HeldItem>,
}

fn held(reserved: &[Reserved]) -> Vec<HeldItem> {
    reserved
        .iter()
        .map(|r| HeldItem {
            id: r.hold_id.clone(),
            quantity: r.quantity,
            expires_at: rfc3339(r.expires_at),
        })
        .collect()
}

fn uses_baseline(state: &AppState, headers: &HeaderMap) -> ApiResult<bool> {
    match headers
        .get(RESERVATION_PATH_HEADER)
        .and_then(|v| v.to_str().ok())
    {
        None | Some("batched") => Ok(false),
        Some("baseline") if state.config.enable_baseline_reservations => Ok(true),
        Some("baseline") => Err(ApiError::bad_request(
            "baseline_disabled",
            "the naive reservation path exists for measurement only; start the server with --enable-baseline-reservations",
        )),
        Some(_) => Err(ApiError::invalid(
            "X-Reservation-Path",
            "must be batched or baseline",
        )),
    }
}

/// Hold tickets: a quantity of a general-admission type, or chosen seats. Creates the cart
/// on the first add (its token is in the answer). Answered only once the hold is committed.
#[utoipa::path(
    post, path = "/consumer/cart/items", tag = "cart",
    request_body = AddToCart,
    params(("x-cart-token" = Option<String>, Header, description = "The cart to add to; absent for a new cart")),
    responses(
        (status = 201, body = Added),
        (status = 400, body = Problem),
        (status = 404, description = "Unknown event, ticket type, seat or cart (or not yours)", body = Problem),
        (status = 409, description = "`sold_out`, `not_enough_left`, `seat_taken`, `cart_event_mismatch`", body = Problem),
        (status = 422, description = "`not_on_sale`, `sale_not_started`, `sale_ended`, `limit_exceeded`, `below_minimum`", body = Problem),
    ),
    security(("internal_key" = [], "tenant" = []), ("storefront_key" = []))
)]
pub async fn add(
    State(state): State<AppState>,
    caller: MaybeBuyer,
    headers: HeaderMap,
    ApiJson(body): ApiJson<AddToCart>,
) -> ApiResult<(StatusCode, ApiJson<Added>)> {
    let baseline = uses_baseline(&state, &headers)?;
    let cart = cart_of(&state, &headers, &caller).await?;
    if let Some(cart) = &cart {
        refuse_ordered(cart)?;
    }
    if cart.as_ref().is_some_and(|c| c.event_id != body.event_id) {
        return Err(ApiError::conflict(
            "cart_event_mismatch",
            "a cart holds tickets of one event; start a new cart",
        ));
    }
    let (cart_ref, new_token_value) = match &cart {
        Some(c) => (CartRef::Existing(c.id.clone()), None),
        None => {
            let token = new_token(CART_TOKEN_PREFIX);
            (
                CartRef::New {
                    id: new_id(),
                    token_hash: token_hash(&token),
                },
                Some(token),
            )
        }
    };
    let now = state.clock.now_ms();
    let reserved = match (&body.ticket_type_id, &body.seat_ids) {
        (Some(ticket_type_id), None) => {
            let quantity =
                validate::range("quantity", body.quantity.unwrap_or(1), 1, MAX_QUANTITY)?;
            let grow_hold_id = match &cart {
                Some(c) => live_line(&state, &c.id, ticket_type_id, now).await?,
                None => None,
            };
            let req = GaRequest {
                org_id: caller.org.id.clone(),
                event_id: body.event_id.clone(),
                ticket_type_id: ticket_type_id.clone(),
                quantity,
                cart: cart_ref.clone(),
                buyer_id: caller.buyer_id.clone(),
                grow_hold_id,
                unlock_code: body.unlock_code.clone(),
                access_key: body.access_key.clone(),
            };
            let reserved = if baseline {
                reserve::decide_naive(&state.db, &req, now).await?
            } else {
                state.reserver.reserve(req).await?
            };
            vec![reserved]
        }
        (None, Some(seat_ids)) => {
            if body.quantity.is_some() {
                return Err(ApiError::invalid(
                    "quantity",
                    "seats are chosen one by one; leave quantity out",
                ));
            }
            let event: EventRow = events::find(&state.db, &caller.org.id, &body.event_id).await?;
            let types = ticket_types::of_event(&state.db, &event.id).await?;
            seats::reserve(
                &state.db,
                &types,
                SeatRequest {
                    event,
                    seat_ids: seat_ids.clone(),
                    cart: cart_ref.clone(),
                    buyer_id: caller.buyer_id.clone(),
                    unlock_code: body.unlock_code.clone(),
                    access_key: body.access_key.clone(),
                },
                now,
            )
            .await?
        }
        _ => {
            return Err(ApiError::bad_request(
                "invalid_body",
                "give either ticket_type_id (with quantity) or seat_ids",
            ));
        }
    };
    Ok((
        StatusCode::CREATED,
        ApiJson(Added {
            cart_id: cart_ref.id().to_string(),
            cart_token: new_token_value,
            items: held(&reserved),
        }),
    ))
}

/// The cart's live hold of a GA ticket type, to grow instead of adding a second line.
async fn live_line(
    state: &AppState,
    cart_id: &str,
    ticket_type_id: &str,
    now: Millis,
) -> ApiResult<Option<String>> {
    Ok(holds::live_of_cart(&state.db, cart_id, now)
        .await?
        .into_iter()
        .find(|h| h.ticket_type_id == ticket_type_id && h.seat_id.is_none())
        .map(|h| h.id))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CartItem {
    pub id: String,
    pub ticket_type_id: String,
    pub ticket_type_name: String,
    pub seat_id: Option<String>,
    /// `Row-Number` of the seat, e.g. `C-12`.
    pub seat_label: Option<String>,
    pub quantity: i64,
    pub unit_price: i64,
    pub currency: String,
    pub expires_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AppliedDiscount {
    pub code: String,
    pub kind: DiscountKind,
    pub value: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Cart {
    pub id: String,
    pub event_id: String,
    pub items: Vec<CartItem>,
    pub total_quantity: i64,
    /// Sum of the items' prices.
    pub subtotal: i64,
    pub currency: Option<String>,
    /// The code applied to this cart, while it still applies.
    pub discount: Option<AppliedDiscount>,
    /// Why the applied code no longer applies (it is left out of the price).
    pub discount_problem: Option<String>,
    /// The full price: per ticket type, the discount, tax, the platform fee and the total.
    pub pricing: Quote,
    /// Who pays the platform fee for this event.
    pub fee_payer: FeePayer,
    /// When the first item lapses.
    pub expires_at: Option<String>,
    pub extended: bool,
    pub can_extend: bool,
}

async fn view(state: &AppState, org_id: &str, cart: &CartRow) -> ApiResult<Cart> {
    let now = state.clock.now_ms();
    let event = events::find(&state.db, org_id, &cart.event_id).await?;
    let types = ticket_types::of_event(&state.db, &cart.event_id).await?;
    let live: Vec<HoldRow> = holds::live_of_cart(&state.db, &cart.id, now).await?;
    let seat_labels: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT s.id, s.row_label, s.seat_number FROM seats s JOIN holds h ON h.seat_id = s.id \
         WHERE h.cart_id = $1 AND h.status = 'active'",
    )
    .bind(cart.id.clone())
    .fetch_all(&state.db.pool)
    .await?;
    let items: Vec<CartItem> = live
        .iter()
        .map(|h| {
            let tt = types.iter().find(|t| t.id == h.ticket_type_id);
            CartItem {
                id: h.id.clone(),
                ticket_type_id: h.ticket_type_id.clone(),
                ticket_type_name: tt.map(|t| t.name.clone()).unwrap_or_default(),
                seat_id: h.seat_id.clone(),
                seat_label: h.seat_id.as_ref().and_then(|id| {
                    seat_labels
                        .iter()
                        .find(|(s, _, _)| s == id)
                        .map(|(_, r, n)| format!("{r}-{n}"))
                }),
                quantity: h.quantity,
                unit_price: tt.map(|t| t.price).unwrap_or(0),
                currency: tt.map(|t| t.currency.clone()).unwrap_or_default(),
                expires_at: rfc3339(h.expires_at),
            }
        })
        .collect();
    let priced = price(
        state,
        org_id,
        Contents {
            event: &event,
            types: &types,
            live: &live,
        },
        cart,
        cart.discount_id.as_deref(),
        now,
    )
    .await?;
    Ok(Cart {
        id: cart.id.clone(),
        event_id: cart.event_id.clone(),
        total_quantity: items.iter().map(|i| i.quantity).sum(),
        subtotal: items.iter().map(|i| i.quantity * i.unit_price).sum(),
        currency: items.first().map(|i| i.currency.clone()),
        discount: priced.discount,
        discount_problem: priced.discount_problem,
        pricing: priced.quote,
        fee_payer: event.fee_payer(),
        expires_at: live.iter().map(|h| h.expires_at).min().map(rfc3339),
        extended: cart.extended_at.is_some(),
        can_extend: cart.extended_at.is_none()
            && event.hold_extension_seconds > 0
            && !items.is_empty(),
        items,
    })
}

/// The cart, with each item's hold expiry.
#[utoipa::path(
    get, path = "/consumer/cart", tag = "cart",
    params(("x-cart-token" = String, Header)),
    responses((status = 200, body = Cart), (status = 400, body = Problem), (status = 404, body = Problem)),
    security(("internal_key" = [], "tenant" = []), ("storefront_key" = []))
)]
pub async fn get(
    State(state): State<AppState>,
    caller: MaybeBuyer,
    headers: HeaderMap,
) -> ApiResult<ApiJson<Cart>> {
    let cart = require_cart(&state, &headers, &caller).await?;
    Ok(ApiJson(view(&state, &caller.org.id, &cart).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeQuantity {
    /// The item's new quantity, 1–100 (remove an item with DELETE).
    pub quantity: i64,
}

/// Change a general-admission item's quantity. More goes through the oversell core; less
/// returns the difference to sale at once.
#[utoipa::path(
    patch, path = "/consumer/cart/items/{item_id}", tag = "cart",
    params(("item_id" = String, Path), ("x-cart-token" = String, Header)),
    request_body = ChangeQuantity,
    responses((status = 200, body = Cart), (status = 400, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("internal_key" = [], "tenant" = []), ("storefront_key" = []))
)]
pub async fn change(
    State(state): State<AppState>,
    caller: MaybeBuyer,
    headers: HeaderMap,
    Path(item_id): Path<String>,
    ApiJson(body): ApiJson<ChangeQuantity>,
) -> ApiResult<ApiJson<Cart>> {
    let quantity = validate::range("quantity", body.quantity, 1, MAX_QUANTITY)?;
    let cart = open_cart(&state, &headers, &caller).await?;
    let now = state.clock.now_ms();
    let hold = holds::live_in_cart(&state.db, &cart.id, &item_id, now).await?;
    if hold.seat_id.is_some() {
        return Err(ApiError::bad_request(
            "seat_item",
            "a seat is one ticket; remove it instead",
        ));
    }
    if quantity > hold.quantity {
        state
            .reserver
            .reserve(GaRequest {
                org_id: caller.org.id.clone(),
                event_id: cart.event_id.clone(),
                ticket_type_id: hold.ticket_type_id.clone(),
                quantity: quantity - hold.quantity,
                cart: CartRef::Existing(cart.id.clone()),
                buyer_id: caller.buyer_id.clone(),
                grow_hold_id: Some(hold.id.clone()),
                // Already in the cart: the code was given when it was added.
                unlock_code: ticket_types::find(&state.db, &caller.org.id, &hold.ticket_type_id)
                    .await?
                    .unlock_code,
                access_key: events::find(&state.db, &caller.org.id, &cart.event_id)
                    .await?
                    .access_key,
            })
            .await?;
    } else if quantity < hold.quantity {
        holds::shrink(&state.db, &hold, quantity, now).await?;
    }
    Ok(ApiJson(view(&state, &caller.org.id, &cart).await?))
}

/// Remove an item; what it held goes back on sale at once.
#[utoipa::path(
    delete, path = "/consumer/cart/items/{item_id}", tag = "cart",
    params(("item_id" = String, Path), ("x-cart-token" = String, Header)),
    responses((status = 204, description = "Removed"), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("internal_key" = [], "tenant" = []), ("storefront_key" = []))
)]
pub async fn remove(
    State(state): State<AppState>,
    caller: MaybeBuyer,
    headers: HeaderMap,
    Path(item_id): Path<String>,
) -> ApiResult<StatusCode> {
    let cart = open_cart(&state, &headers, &caller).await?;
    holds::release(&state.db, &cart.id, &item_id, state.clock.now_ms()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Extend the cart's holds, once, when the event allows it.
#[utoipa::path(
    post, path = "/consumer/cart/extend", tag = "cart",
    params(("x-cart-token" = String, Header)),
    responses((status = 200, body = Cart), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, description = "`extension_not_allowed` or `already_extended`", body = Problem)),
    security(("internal_key" = [], "tenant" = []), ("storefront_key" = []))
)]
pub async fn extend(
    State(state): State<AppState>,
    caller: MaybeBuyer,
    headers: HeaderMap,
) -> ApiResult<ApiJson<Cart>> {
    let cart = open_cart(&state, &headers, &caller).await?;
    let event = events::find(&state.db, &caller.org.id, &cart.event_id).await?;
    if event.hold_extension_seconds == 0 {
        return Err(ApiError::rule(
            "extension_not_allowed",
            "this event's carts cannot be extended",
        ));
    }
    holds::extend(
        &state.db,
        &cart.id,
        event.hold_extension_seconds,
        state.clock.now_ms(),
    )
    .await?;
    let cart = require_cart(&state, &headers, &caller).await?;
    Ok(ApiJson(view(&state, &caller.org.id, &cart).await?))
}

struct Priced {
    quote: Quote,
    discount: Option<AppliedDiscount>,
    discount_problem: Option<String>,
}

/// Prices a cart's live holds: one line per ticket type, the cart's discount if it still
/// applies, the organization's tax and the platform fee deal that applies to it.
/// What is priced: the event, its ticket types and the cart's live holds.
struct Contents<'a> {
    event: &'a EventRow,
    types: &'a [ticket_types::TicketTypeRow],
    live: &'a [HoldRow],
}

async fn price(
    state: &AppState,
    org_id: &str,
    contents: Contents<'_>,
    cart: &CartRow,
    discount_id: Option<&str>,
    now: Millis,
) -> ApiResult<Priced> {
    let Contents { event, types, live } = contents;
    let org = crate::tenancy::organizations::find(&state.db, org_id)
        .await?
        .ok_or_else(|| ApiError::not_found("organization"))?;
    // One line per ticket type, in the event's order.
    let lines: Vec<(&ticket_types::TicketTypeRow, i64)> = types
        .iter()
        .map(|t| {
            (
                t,
                live.iter()
                    .filter(|h| h.ticket_type_id == t.id)
                    .map(|h| h.quantity)
                    .sum::<i64>(),
            )
        })
        .filter(|(_, q)| *q > 0)
        .collect();
    // Amounts are only ever added up in one currency: the event's. Ticket types are refused
    // in another, so this only guards data from before that rule.
    let currency = event.currency.clone();
    if let Some((t, _)) = lines.iter().find(|(t, _)| t.currency != currency) {
        return Err(ApiError::rule(
            "mixed_currencies",
            format!(
                "ticket type {} is priced in {}, the event in {currency}",
                t.id, t.currency
            ),
        ));
    }
    let mut discount = None;
    let mut discount_problem = None;
    let mut mask = vec![false; lines.len()];
    let mut rule = None;
    if let Some(id) = discount_id
        && let Some(row) = discounts::find(&state.db, org_id, id).await?
    {
        let cart_lines: Vec<CartLine<'_>> = lines
            .iter()
            .map(|(t, q)| CartLine {
                event_id: &event.id,
                ticket_type_id: &t.id,
                currency: &t.currency,
                quantity: *q,
            })
            .collect();
        match discounts::eligible_lines(&row, &cart_lines, now) {
            Ok(eligible) => {
                mask = eligible;
                rule = Some(row.rule());
                discount = Some(AppliedDiscount {
                    code: row.code.clone(),
                    kind: row.kind(),
                    value: row.value,
                });
            }
            Err(err) => discount_problem = Some(err.detail),
        }
    }
    let fee = fees::effective(state, &org).await?;
    // Points chosen for this cart, as far as the buyer still has them.
    let (points, point_value) = match &cart.buyer_id {
        Some(buyer) if cart.points > 0 => {
            let program = points::program(&state.db, org_id, &org.currency).await?;
            let usable = if program.currency == currency {
                program.point_value
            } else {
                0
            };
            (
                cart.points
                    .min(points::balance(&state.db, buyer, now).await?),
                usable,
            )
        }
        _ => (0, 0),
    };
    let quote = pricing::quote(&QuoteInput {
        lines: lines
            .iter()
            .zip(&mask)
            .map(|((t, q), m)| LineInput {
                unit_price: t.price,
                quantity: *q,
                discounted: *m,
            })
            .collect(),
        discount: rule,
        fee: fee.deal.rule_for(&currency),
        fee_payer: event.fee_payer(),
        points,
        point_value,
        tax_bps: org.tax_bps,
    });
    Ok(Priced {
        quote,
        discount,
        discount_problem,
    })
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplyDiscount {
    pub code: String,
}

/// Apply a discount code to the cart. It is checked now and again whenever the cart is
/// priced.
#[utoipa::path(
    put, path = "/consumer/cart/discount", tag = "cart",
    params(("x-cart-token" = String, Header)),
    request_body = ApplyDiscount,
    responses((status = 200, body = Cart), (status = 404, description = "Unknown code or cart", body = Problem),
        (status = 422, description = "`discount_not_applicable`, with the reason", body = Problem)),
    security(("internal_key" = [], "tenant" = []), ("storefront_key" = []))
)]
pub async fn apply_discount(
    State(state): State<AppState>,
    caller: MaybeBuyer,
    headers: HeaderMap,
    ApiJson(body): ApiJson<ApplyDiscount>,
) -> ApiResult<ApiJson<Cart>> {
    let cart = open_cart(&state, &headers, &caller).await?;
    let row = discounts::find_by_code(&state.db, &caller.org.id, &body.code)
        .await?
        .ok_or_else(|| ApiError::not_found("discount code"))?;
    let now = state.clock.now_ms();
    let event = events::find(&state.db, &caller.org.id, &cart.event_id).await?;
    let types = ticket_types::of_event(&state.db, &cart.event_id).await?;
    let live = holds::live_of_cart(&state.db, &cart.id, now).await?;
    let priced = price(
        &state,
        &caller.org.id,
        Contents {
            event: &event,
            types: &types,
            live: &live,
        },
        &cart,
        Some(&row.id),
        now,
    )
    .await?;
    if let Some(problem) = priced.discount_problem {
        return Err(ApiError::rule("discount_not_applicable", problem));
    }
    set_cart_discount(&state, &cart.id, Some(&row.id), now).await?;
    let cart = require_cart(&state, &headers, &caller).await?;
    Ok(ApiJson(view(&state, &caller.org.id, &cart).await?))
}

/// Remove the cart's discount code.
#[utoipa::path(
    delete, path = "/consumer/cart/discount", tag = "cart",
    params(("x-cart-token" = String, Header)),
    responses((status = 200, body = Cart), (status = 404, body = Problem)),
    security(("internal_key" = [], "tenant" = []), ("storefront_key" = []))
)]
pub async fn remove_discount(
    State(state): State<AppState>,
    caller: MaybeBuyer,
    headers: HeaderMap,
) -> ApiResult<ApiJson<Cart>> {
    let cart = open_cart(&state, &headers, &caller).await?;
    set_cart_discount(&state, &cart.id, None, state.clock.now_ms()).await?;
    let cart = require_cart(&state, &headers, &caller).await?;
    Ok(ApiJson(view(&state, &caller.org.id, &cart).await?))
}

async fn set_cart_discount(
    state: &AppState,
    cart_id: &str,
    discount_id: Option<&str>,
    now: Millis,
) -> ApiResult<()> {
    let mut tx = state.db.begin().await?;
    carts::set_discount(&mut tx, cart_id, discount_id, now).await?;
    tx.commit().await?;
    Ok(())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UsePoints {
    /// Points to spend on this cart at checkout (0 to spend none).
    pub points: i64,
}

/// Choose how many points to spend on the cart (logged-in buyers; the cart must be theirs).
/// The price shows their value, capped at what the tickets cost.
#[utoipa::path(
    put, path = "/consumer/cart/points", tag = "cart",
    params(("x-cart-token" = String, Header)),
    request_body = UsePoints,
    responses((status = 200, body = Cart), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 422, description = "`not_enough_points` or `points_not_accepted`", body = Problem)),
    security(("internal_key" = [], "tenant" = [], "buyer" = []), ("storefront_key" = [], "buyer" = []))
)]
pub async fn use_points(
    State(state): State<AppState>,
    caller: MaybeBuyer,
    headers: HeaderMap,
    ApiJson(body): ApiJson<UsePoints>,
) -> ApiResult<ApiJson<Cart>> {
    let Some(buyer_id) = caller.buyer_id.clone() else {
        return Err(ApiError::unauthorized(
            "buyer_login_required",
            "log in as a buyer to spend points",
        ));
    };
    let cart = open_cart(&state, &headers, &caller).await?;
    if cart.buyer_id.as_deref() != Some(buyer_id.as_str()) {
        return Err(ApiError::rule(
            "cart_not_owned",
            "points can be spent on a cart started while logged in",
        ));
    }
    let points = validate::range("points", body.points, 0, 100_000_000)?;
    let now = state.clock.now_ms();
    if points > 0 {
        let program = points::program(&state.db, &caller.org.id, &caller.org.currency).await?;
        if program.point_value == 0 {
            return Err(ApiError::rule(
                "points_not_accepted",
                "this organization does not take points",
            ));
        }
        if points > points::balance(&state.db, &buyer_id, now).await? {
            return Err(ApiError::rule(
                "not_enough_points",
                "the buyer does not have that many points",
            ));
        }
    }
    let mut tx = state.db.begin().await?;
    carts::set_points(&mut tx, &cart.id, points, now).await?;
    tx.commit().await?;
    let cart = require_cart(&state, &headers, &caller).await?;
    Ok(ApiJson(view(&state, &caller.org.id, &cart).await?))
}
