//! The cart's rules: whose cart it is, what may change once it is an order, how holds are
//! added and changed through the oversell core, and what the cart costs now.

use axum::http::HeaderMap;

use super::store::{self, CartRow};
use super::{
    AddToCart, AppliedDiscount, CART_TOKEN_HEADER, CART_TOKEN_PREFIX, Cart, CartItem, CheckoutCart,
    MAX_QUANTITY,
};
use crate::buyers::access::MaybeBuyer;
use crate::catalog::events::{self, EventRow};
use crate::catalog::ticket_types;
use crate::commerce::discounts::{self, CartLine};
use crate::commerce::fees;
use crate::commerce::points;
use crate::commerce::pricing::{self, LineInput, Quote, QuoteInput};
use crate::ids::{CartId, EventId, OrgId, TicketTypeId};
use crate::inventory::carts;
use crate::inventory::holds::{self, HoldRow};
use crate::inventory::reserve::{self, CartRef, GaRequest, Reserved};
use crate::inventory::seats::{self, SeatRequest};
use crate::platform::clock::{Millis, rfc3339};
use crate::platform::error::{ApiError, ApiResult};
use crate::platform::ids::new_id;
use crate::platform::secrets::{new_token, token_hash};
use crate::platform::validate;
use crate::state::AppState;

/// The token a request names its cart by (`X-Cart-Token`), if any.
pub fn token_of(headers: &HeaderMap) -> Option<&str> {
    headers.get(CART_TOKEN_HEADER).and_then(|v| v.to_str().ok())
}

/// The cart named by the token, if it belongs to this storefront and caller; 404 if not.
async fn cart_of(
    state: &AppState,
    token: Option<&str>,
    caller: &MaybeBuyer,
) -> ApiResult<Option<CartRow>> {
    let Some(token) = token else {
        return Ok(None);
    };
    let row = store::by_token_hash(&state.db, &caller.org.id, &token_hash(token.trim())).await?;
    match row {
        Some(cart) if cart.buyer_id.is_none() || cart.buyer_id == caller.buyer_id => Ok(Some(cart)),
        _ => Err(ApiError::not_found("cart")),
    }
}

async fn require_cart(
    state: &AppState,
    token: Option<&str>,
    caller: &MaybeBuyer,
) -> ApiResult<CartRow> {
    cart_of(state, token, caller).await?.ok_or_else(|| {
        ApiError::bad_request(
            "cart_token_required",
            "send the cart's token as X-Cart-Token",
        )
    })
}

/// The cart, for a change: refused once it became an order.
async fn open_cart(
    state: &AppState,
    token: Option<&str>,
    caller: &MaybeBuyer,
) -> ApiResult<CartRow> {
    let cart = require_cart(state, token, caller).await?;
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
) -> ApiResult<CartId> {
    Ok(require_cart(state, token_of(headers), caller).await?.id)
}

/// The cart in `X-Cart-Token`, checked again for checkout: something still held, on sale,
/// the code still applying, the points still there.
#[tracing::instrument(skip_all, fields(org_id = %caller.org.id, cart_id = tracing::field::Empty))]
pub async fn checkout_view(
    state: &AppState,
    caller: &MaybeBuyer,
    headers: &HeaderMap,
    now: Millis,
) -> ApiResult<CheckoutCart> {
    let cart = open_cart(state, token_of(headers), caller).await?;
    tracing::Span::current().record("cart_id", cart.id.as_str());
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
        event_id: cart.event_id.to_string(),
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

/// What an add held, and the cart it went into.
pub struct Held {
    pub cart_id: String,
    /// The new cart's token, when the add created the cart.
    pub cart_token: Option<String>,
    pub reserved: Vec<Reserved>,
}

/// Holds a quantity of a general-admission type or chosen seats, creating the cart on the
/// first add. `baseline` sends general admission down the naive path (measurement only).
#[tracing::instrument(skip_all, fields(org_id = %caller.org.id, event_id = %body.event_id))]
pub async fn add(
    state: &AppState,
    caller: &MaybeBuyer,
    token: Option<&str>,
    baseline: bool,
    body: &AddToCart,
) -> ApiResult<Held> {
    let cart = cart_of(state, token, caller).await?;
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
        Some(c) => (CartRef::Existing(c.id.to_string()), None),
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
                Some(c) => live_line(state, &c.id, ticket_type_id, now).await?,
                None => None,
            };
            let req = GaRequest {
                org_id: caller.org.id.clone(),
                event_id: EventId::from(body.event_id.as_str()),
                ticket_type_id: TicketTypeId::from(ticket_type_id.as_str()),
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
            let event: EventRow = events::find(
                &state.db,
                &caller.org.id,
                &EventId::from(body.event_id.as_str()),
            )
            .await?;
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
    Ok(Held {
        cart_id: cart_ref.id().to_string(),
        cart_token: new_token_value,
        reserved,
    })
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

/// The cart as shown, priced now.
pub async fn get(state: &AppState, caller: &MaybeBuyer, token: Option<&str>) -> ApiResult<Cart> {
    let cart = require_cart(state, token, caller).await?;
    view(state, &caller.org.id, &cart).await
}

/// Sets a general-admission item's quantity (already validated): more goes through the
/// oversell core, less returns the difference to sale at once.
#[tracing::instrument(skip_all, fields(org_id = %caller.org.id, item_id = %item_id))]
pub async fn change(
    state: &AppState,
    caller: &MaybeBuyer,
    token: Option<&str>,
    item_id: &str,
    quantity: i64,
) -> ApiResult<Cart> {
    let cart = open_cart(state, token, caller).await?;
    let now = state.clock.now_ms();
    let hold = holds::live_in_cart(&state.db, &cart.id, item_id, now).await?;
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
                ticket_type_id: TicketTypeId::from(hold.ticket_type_id.as_str()),
                quantity: quantity - hold.quantity,
                cart: CartRef::Existing(cart.id.to_string()),
                buyer_id: caller.buyer_id.clone(),
                grow_hold_id: Some(hold.id.clone()),
                // Already in the cart: the code was given when it was added.
                unlock_code: ticket_types::find(
                    &state.db,
                    &caller.org.id,
                    &TicketTypeId::from(hold.ticket_type_id.as_str()),
                )
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
    view(state, &caller.org.id, &cart).await
}

/// Removes an item; what it held goes back on sale at once.
#[tracing::instrument(skip_all, fields(org_id = %caller.org.id, item_id = %item_id))]
pub async fn remove(
    state: &AppState,
    caller: &MaybeBuyer,
    token: Option<&str>,
    item_id: &str,
) -> ApiResult<()> {
    let cart = open_cart(state, token, caller).await?;
    holds::release(&state.db, &cart.id, item_id, state.clock.now_ms()).await?;
    Ok(())
}

/// Extends the cart's holds, once, when the event allows it.
#[tracing::instrument(skip_all, fields(org_id = %caller.org.id))]
pub async fn extend(state: &AppState, caller: &MaybeBuyer, token: Option<&str>) -> ApiResult<Cart> {
    let cart = open_cart(state, token, caller).await?;
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
    let cart = require_cart(state, token, caller).await?;
    view(state, &caller.org.id, &cart).await
}

/// Applies a discount code to the cart, if it applies now.
#[tracing::instrument(skip_all, fields(org_id = %caller.org.id))]
pub async fn apply_discount(
    state: &AppState,
    caller: &MaybeBuyer,
    token: Option<&str>,
    code: &str,
) -> ApiResult<Cart> {
    let cart = open_cart(state, token, caller).await?;
    let row = discounts::find_by_code(&state.db, &caller.org.id, code)
        .await?
        .ok_or_else(|| ApiError::not_found("discount code"))?;
    let now = state.clock.now_ms();
    let event = events::find(&state.db, &caller.org.id, &cart.event_id).await?;
    let types = ticket_types::of_event(&state.db, &cart.event_id).await?;
    let live = holds::live_of_cart(&state.db, &cart.id, now).await?;
    let priced = price(
        state,
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
    set_cart_discount(state, &cart.id, Some(&row.id), now).await?;
    let cart = require_cart(state, token, caller).await?;
    view(state, &caller.org.id, &cart).await
}

/// Removes the cart's discount code.
#[tracing::instrument(skip_all, fields(org_id = %caller.org.id))]
pub async fn remove_discount(
    state: &AppState,
    caller: &MaybeBuyer,
    token: Option<&str>,
) -> ApiResult<Cart> {
    let cart = open_cart(state, token, caller).await?;
    set_cart_discount(state, &cart.id, None, state.clock.now_ms()).await?;
    let cart = require_cart(state, token, caller).await?;
    view(state, &caller.org.id, &cart).await
}

async fn set_cart_discount(
    state: &AppState,
    cart_id: &CartId,
    discount_id: Option<&str>,
    now: Millis,
) -> ApiResult<()> {
    let mut tx = state.db.begin().await?;
    carts::set_discount(&mut tx, cart_id, discount_id, now).await?;
    tx.commit().await?;
    Ok(())
}

/// Chooses how many points the logged-in buyer spends on their cart.
#[tracing::instrument(skip_all, fields(org_id = %caller.org.id, buyer_id = %buyer_id))]
pub async fn use_points(
    state: &AppState,
    caller: &MaybeBuyer,
    token: Option<&str>,
    buyer_id: &str,
    points: i64,
) -> ApiResult<Cart> {
    let cart = open_cart(state, token, caller).await?;
    if cart.buyer_id.as_deref() != Some(buyer_id) {
        return Err(ApiError::rule(
            "cart_not_owned",
            "points can be spent on a cart started while logged in",
        ));
    }
    let points = validate::range("points", points, 0, 100_000_000)?;
    let now = state.clock.now_ms();
    if points > 0 {
        let program = points::program(&state.db, &caller.org.id, &caller.org.currency).await?;
        if program.point_value == 0 {
            return Err(ApiError::rule(
                "points_not_accepted",
                "this organization does not take points",
            ));
        }
        if points > points::balance(&state.db, buyer_id, now).await? {
            return Err(ApiError::rule(
                "not_enough_points",
                "the buyer does not have that many points",
            ));
        }
    }
    let mut tx = state.db.begin().await?;
    carts::set_points(&mut tx, &cart.id, points, now).await?;
    tx.commit().await?;
    let cart = require_cart(state, token, caller).await?;
    view(state, &caller.org.id, &cart).await
}

struct Priced {
    quote: Quote,
    discount: Option<AppliedDiscount>,
    discount_problem: Option<String>,
}

/// What is priced: the event, its ticket types and the cart's live holds.
struct Contents<'a> {
    event: &'a EventRow,
    types: &'a [ticket_types::TicketTypeRow],
    live: &'a [HoldRow],
}

/// Prices a cart's live holds: one line per ticket type, the cart's discount if it still
/// applies, the organization's tax and the platform fee deal that applies to it.
async fn price(
    state: &AppState,
    org_id: &OrgId,
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

/// The cart as the API shows it, priced now.
async fn view(state: &AppState, org_id: &OrgId, cart: &CartRow) -> ApiResult<Cart> {
    let now = state.clock.now_ms();
    let event = events::find(&state.db, org_id, &cart.event_id).await?;
    let types = ticket_types::of_event(&state.db, &cart.event_id).await?;
    let live: Vec<HoldRow> = holds::live_of_cart(&state.db, &cart.id, now).await?;
    let seat_labels = store::seat_labels(&state.db, &cart.id).await?;
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
        id: cart.id.to_string(),
        event_id: cart.event_id.to_string(),
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
