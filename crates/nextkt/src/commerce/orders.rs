//! Orders: checkout turns a cart into an order (`pending_payment`) and a payment; the
//! provider's callback makes it `paid`, converting the holds, issuing the tickets, crediting
//! points and queueing the confirmation email, all in one transaction. An order not paid by
//! its deadline (the holds' expiry) is `expired`; a payment that arrives after that claims
//! the stock again if it is still there, or is refunded.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::points::{self, Movement};
use super::pricing::Quote;
use crate::buyers::access::{BuyerAccess, KeyMode, MaybeBuyer};
use crate::inventory::convert;
use crate::notify::outbox::{self, Email};
use crate::payments::{self, Payment, PaymentRow};
use crate::platform::clock::{Millis, opt_rfc3339, rfc3339};
use crate::platform::db::Tx;
use crate::platform::error::{ApiError, ApiResult, Problem, is_unique_violation};
use crate::platform::ids::new_id;
use crate::platform::json::ApiJson;
use crate::platform::pagination::{Page, PageParams};
use crate::platform::query::ApiQuery;
use crate::platform::validate;
use crate::state::AppState;
use crate::tickets::{self, Issue, Ticket};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OrderRow {
    pub id: String,
    pub organization_id: String,
    pub event_id: String,
    pub cart_id: String,
    pub buyer_id: Option<String>,
    pub email: String,
    pub name: String,
    pub locale: String,
    pub status: String,
    pub currency: String,
    pub subtotal: i64,
    pub discount: i64,
    pub discount_id: Option<String>,
    pub points_used: i64,
    pub points_value: i64,
    pub tax: i64,
    pub fee: i64,
    pub fee_absorbed: i64,
    pub total: i64,
    pub fee_payer: String,
    pub payment_deadline: i64,
    pub created_at: i64,
    pub paid_at: Option<i64>,
    pub livemode: i64,
}

pub const ORDER_COLUMNS: &str = "id, organization_id, event_id, cart_id, buyer_id, email, name, locale, \
    status, currency, subtotal, discount, discount_id, points_used, points_value, tax, fee, fee_absorbed, \
    total, fee_payer, payment_deadline, created_at, paid_at, livemode";

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct OrderLine {
    pub ticket_type_id: String,
    pub name: String,
    pub quantity: i64,
    pub unit_price: i64,
    pub discount: i64,
    pub points_value: i64,
    pub tax: i64,
    pub fee_per_ticket: i64,
    pub fee: i64,
    pub total: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Order {
    pub id: String,
    pub event_id: String,
    /// `pending_payment`, `paid`, `partially_refunded`, `refunded`, `expired`, `cancelled`.
    pub status: String,
    pub email: String,
    pub name: String,
    pub currency: String,
    pub subtotal: i64,
    pub discount: i64,
    pub points_used: i64,
    pub points_value: i64,
    pub tax: i64,
    /// Platform fee the buyer pays.
    pub fee: i64,
    /// Platform fee the organizer absorbs.
    pub fee_absorbed: i64,
    pub total: i64,
    pub lines: Vec<OrderLine>,
    /// Pay before this, or the order expires with its holds.
    pub payment_deadline: String,
    pub payments: Vec<Payment>,
    pub tickets: Vec<Ticket>,
    /// Money given back or on its way (`requested`, `pending` or `succeeded`), oldest first.
    pub refunds: Vec<super::refunds::Refund>,
    /// The sum of the refunds that did not fail.
    pub refunded: i64,
    /// What can still be refunded: `total − refunded` for a paid order, else 0.
    pub refundable: i64,
    pub created_at: String,
    pub paid_at: Option<String>,
    /// False for a test order: paid through the simulated provider (no money moved) or made
    /// with a test storefront key.
    pub livemode: bool,
}

pub async fn find(state: &AppState, org_id: &str, order_id: &str) -> ApiResult<OrderRow> {
    let row: Option<OrderRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ORDER_COLUMNS} FROM orders WHERE id = $1 AND organization_id = $2"
    )))
    .bind(order_id.to_string())
    .bind(org_id.to_string())
    .fetch_optional(&state.db.pool)
    .await?;
    row.ok_or_else(|| ApiError::not_found("order"))
}

async fn lock(
    state: &AppState,
    tx: &mut Tx,
    order_id: &str,
) -> Result<Option<OrderRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ORDER_COLUMNS} FROM orders WHERE id = $1{}",
        state.db.for_update()
    )))
    .bind(order_id.to_string())
    .fetch_optional(&mut **tx)
    .await
}

/// The order of an organization, locked for the rest of the transaction (404 when it is not
/// the organization's).
pub async fn lock_of_org(
    state: &AppState,
    tx: &mut Tx,
    org_id: &str,
    order_id: &str,
) -> ApiResult<OrderRow> {
    match lock(state, tx, order_id).await? {
        Some(order) if order.organization_id == org_id => Ok(order),
        _ => Err(ApiError::not_found("order")),
    }
}

pub async fn view(state: &AppState, row: OrderRow) -> ApiResult<Order> {
    let lines: Vec<OrderLine> = sqlx::query_as(
        "SELECT ticket_type_id, name, quantity, unit_price, discount, points_value, tax, fee_per_ticket, fee, total \
         FROM order_lines WHERE order_id = $1 ORDER BY id",
    )
    .bind(row.id.clone())
    .fetch_all(&state.db.pool)
    .await?;
    let payments = payments::of_order(&state.db, &row.id)
        .await?
        .iter()
        .map(PaymentRow::to_api)
        .collect();
    let tickets = tickets::of_order(&state.db, &row.id)
        .await?
        .iter()
        .map(|t| t.to_api(&state.base_url))
        .collect();
    let refunds = super::refunds::of_order(&state.db, &row.id).await?;
    let refunded: i64 = refunds
        .iter()
        .filter(|r| r.status != "failed")
        .map(|r| r.amount)
        .sum();
    let refundable = if matches!(row.status.as_str(), "paid" | "partially_refunded") {
        row.total - refunded
    } else {
        0
    };
    Ok(Order {
        id: row.id,
        event_id: row.event_id,
        status: row.status,
        email: row.email,
        name: row.name,
        currency: row.currency,
        subtotal: row.subtotal,
        discount: row.discount,
        points_used: row.points_used,
        points_value: row.points_value,
        tax: row.tax,
        fee: row.fee,
        fee_absorbed: row.fee_absorbed,
        total: row.total,
        lines,
        payment_deadline: rfc3339(row.payment_deadline),
        payments,
        tickets,
        refunds,
        refunded,
        refundable,
        created_at: rfc3339(row.created_at),
        paid_at: opt_rfc3339(row.paid_at),
        livemode: row.livemode != 0,
    })
}

/// A page of orders, each with its lines, payments and tickets.
pub async fn view_page(state: &AppState, page: Page<OrderRow>) -> ApiResult<Page<Order>> {
    let mut items = Vec::with_capacity(page.items.len());
    for row in page.items {
        items.push(view(state, row).await?);
    }
    Ok(Page {
        items,
        next_cursor: page.next_cursor,
    })
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckoutRequest {
    /// Where the confirmation goes; a logged-in buyer's own by default.
    pub email: Option<String>,
    /// The ticket holder's name; a logged-in buyer's own by default.
    pub name: Option<String>,
    /// Language of the emails (`en` or `id`); the organization's by default.
    pub locale: Option<String>,
    /// Where the buyer is sent after paying: the storefront's own page, an absolute https
    /// URL (http only for localhost). By default this server's status page of the payment.
    pub return_url: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CheckoutAnswer {
    pub order: Order,
    /// Send the buyer here to pay; absent for free orders, which are paid at once.
    pub payment_url: Option<String>,
}

/// Turn the cart into an order and a payment. Everything is checked again (sale windows,
/// holds, discount code, points). Send `Idempotency-Key`: a retry gets the same answer.
#[utoipa::path(
    post, path = "/consumer/checkout", tag = "checkout",
    params(("x-cart-token" = String, Header)),
    request_body = CheckoutRequest,
    responses(
        (status = 201, body = CheckoutAnswer),
        (status = 400, body = Problem),
        (status = 409, description = "`cart_empty`, `cart_checked_out`, `hold_expired`", body = Problem),
        (status = 422, description = "`sale_ended`, `discount_not_applicable`, `not_enough_points`, ...", body = Problem),
        (status = 503, description = "`payment_provider_unavailable`: the invoice could not be created; the cart is kept", body = Problem),
    ),
    security(("internal_key" = [], "tenant" = []), ("storefront_key" = []))
)]
pub async fn checkout(
    State(state): State<AppState>,
    caller: MaybeBuyer,
    headers: HeaderMap,
    ApiJson(body): ApiJson<CheckoutRequest>,
) -> ApiResult<(StatusCode, ApiJson<CheckoutAnswer>)> {
    let now = state.clock.now_ms();
    let cart = super::cart::checkout_view(&state, &caller, &headers, now).await?;
    let buyer = match &caller.buyer_id {
        Some(id) => Some(
            sqlx::query_as::<_, (String, String)>("SELECT email, name FROM buyers WHERE id = $1")
                .bind(id.clone())
                .fetch_one(&state.db.pool)
                .await?,
        ),
        None => None,
    };
    let email = match (&body.email, &buyer) {
        (Some(email), _) => validate::email("email", email)?,
        (None, Some((email, _))) => email.clone(),
        (None, None) => return Err(ApiError::invalid("email", "required")),
    };
    let name = match (&body.name, &buyer) {
        (Some(name), _) => validate::text("name", name, 200)?,
        (None, Some((_, name))) => name.clone(),
        (None, None) => return Err(ApiError::invalid("name", "required")),
    };
    let locale = match &body.locale {
        Some(l) => validate::locale("locale", l)?,
        None => caller.org.locale.clone(),
    };
    let return_url = body
        .return_url
        .as_deref()
        .map(|u| validate::return_url("return_url", u))
        .transpose()?;
    let quote = &cart.pricing;
    // The simulated provider takes no money: a live storefront key may not sell through
    // it unless the platform says so, and its orders are test orders.
    let simulated = state.config.simulated_payments();
    if simulated
        && quote.total > 0
        && caller.key_mode == KeyMode::Live
        && !state.config.allow_simulated_for_live_keys
    {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "live_payments_unavailable",
            "this server takes test payments only (simulated provider); check out with a test \
             storefront key, or configure a real payment provider",
        ));
    }
    let livemode = !simulated && caller.key_mode != KeyMode::Test;
    let order_id = new_id();
    // The provider is asked before the transaction opens (its API is a network call).
    let opened = if quote.total > 0 {
        let description = format!("Order {order_id}");
        Some(
            payments::open(
                &state,
                payments::OpenRequest {
                    amount: quote.total,
                    currency: &cart.currency,
                    email: &email,
                    description: &description,
                    deadline: cart.deadline,
                    now,
                    return_url: return_url.as_deref(),
                },
            )
            .await?,
        )
    } else {
        None
    };
    let mut tx = state.db.begin().await?;
    let order = NewOrder {
        id: &order_id,
        org_id: &caller.org.id,
        event_id: &cart.event_id,
        cart_id: &cart.cart_id,
        buyer_id: caller.buyer_id.as_deref(),
        email: &email,
        name: &name,
        locale: &locale,
        status: "pending_payment",
        kind: "sale",
        currency: &cart.currency,
        pricing: quote,
        line_types: &cart.line_types,
        discount_id: cart.discount_id.as_deref(),
        fee_payer: &cart.fee_payer,
        payment_deadline: cart.deadline,
        paid_at: None,
        livemode,
    };
    match insert(&mut tx, &order, now).await {
        Err(err) if is_unique_violation(&err) => {
            return Err(ApiError::conflict(
                "cart_checked_out",
                "this cart has an order already",
            ));
        }
        other => other?,
    };
    // The holds priced are the holds ordered: if one lapsed meanwhile, start again.
    if convert::attach(&mut tx, &cart.cart_id, &order_id, now).await? != cart.hold_count {
        return Err(ApiError::conflict(
            "hold_expired",
            "an item expired during checkout; review the cart",
        ));
    }
    if let Some(discount_id) = &cart.discount_id {
        claim_discount_use(&mut tx, discount_id, caller.buyer_id.as_deref(), &order_id).await?;
    }
    if let Some(buyer_id) = &caller.buyer_id {
        let movement = Movement {
            org_id: &caller.org.id,
            buyer_id,
            kind: "spend",
            reference_id: Some(&order_id),
            note: None,
        };
        points::debit(&state.db, &mut tx, &movement, quote.points_used, now).await?;
    }
    let payment_url = match &opened {
        None => {
            settle_paid(&state, &mut tx, &order_id, now).await?;
            None
        }
        Some(opened) => {
            payments::record(
                &mut tx,
                opened,
                &caller.org.id,
                &order_id,
                quote.total,
                &cart.currency,
                now,
            )
            .await?;
            Some(opened.redirect_url.clone())
        }
    };
    tx.commit().await?;
    let order = view(&state, find(&state, &caller.org.id, &order_id).await?).await?;
    Ok((
        StatusCode::CREATED,
        ApiJson(CheckoutAnswer { order, payment_url }),
    ))
}

/// An order as it is first written, with the lines it was priced with.
pub struct NewOrder<'a> {
    pub id: &'a str,
    pub org_id: &'a str,
    pub event_id: &'a str,
    pub cart_id: &'a str,
    pub buyer_id: Option<&'a str>,
    pub email: &'a str,
    pub name: &'a str,
    pub locale: &'a str,
    pub status: &'a str,
    /// `sale` or `complimentary`.
    pub kind: &'a str,
    pub currency: &'a str,
    pub pricing: &'a Quote,
    /// The ticket type (id, name) of each pricing line, in order.
    pub line_types: &'a [(String, String)],
    pub discount_id: Option<&'a str>,
    pub fee_payer: &'a str,
    pub payment_deadline: Millis,
    pub paid_at: Option<Millis>,
    pub livemode: bool,
}

/// Writes a new order and its lines: the one place orders are made. A second order for
/// the same cart fails with a unique violation.
pub async fn insert(tx: &mut Tx, order: &NewOrder<'_>, now: Millis) -> Result<(), sqlx::Error> {
    let quote = order.pricing;
    sqlx::query(
        "INSERT INTO orders (id, organization_id, event_id, cart_id, buyer_id, email, name, locale, status, \
         currency, subtotal, discount, discount_id, points_used, points_value, tax, fee, fee_absorbed, total, \
         fee_payer, payment_deadline, created_at, updated_at, paid_at, livemode, kind) VALUES ($1, $2, $3, $4, \
         $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $22, $23, $24, $25)",
    )
    .bind(order.id.to_string())
    .bind(order.org_id.to_string())
    .bind(order.event_id.to_string())
    .bind(order.cart_id.to_string())
    .bind(order.buyer_id.map(str::to_string))
    .bind(order.email.to_string())
    .bind(order.name.to_string())
    .bind(order.locale.to_string())
    .bind(order.status.to_string())
    .bind(order.currency.to_string())
    .bind(quote.subtotal)
    .bind(quote.discount)
    .bind(order.discount_id.map(str::to_string))
    .bind(quote.points_used)
    .bind(quote.points_value)
    .bind(quote.tax)
    .bind(quote.fee)
    .bind(quote.fee_absorbed)
    .bind(quote.total)
    .bind(order.fee_payer.to_string())
    .bind(order.payment_deadline)
    .bind(now)
    .bind(order.paid_at)
    .bind(i64::from(order.livemode))
    .bind(order.kind.to_string())
    .execute(&mut **tx)
    .await?;
    for (line, (tt_id, name)) in quote.lines.iter().zip(order.line_types) {
        sqlx::query(
            "INSERT INTO order_lines (id, order_id, ticket_type_id, name, quantity, unit_price, discount, \
             points_value, tax, fee_per_ticket, fee, total) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(new_id())
        .bind(order.id.to_string())
        .bind(tt_id.clone())
        .bind(name.clone())
        .bind(line.quantity)
        .bind(line.unit_price)
        .bind(line.discount)
        .bind(line.points_value)
        .bind(line.tax)
        .bind(line.fee_per_ticket)
        .bind(line.fee)
        .bind(line.total)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Takes one use of a code for an order. The conditional update makes concurrent
/// checkouts of the last use yield exactly one winner.
async fn claim_discount_use(
    tx: &mut Tx,
    discount_id: &str,
    buyer_id: Option<&str>,
    order_id: &str,
) -> ApiResult<()> {
    if let Some(buyer) = buyer_id {
        let (per_buyer, used): (Option<i64>, i64) = sqlx::query_as(
            "SELECT d.max_uses_per_buyer, (SELECT COUNT(*) FROM orders o WHERE o.discount_id = d.id \
             AND o.buyer_id = $2 AND o.status IN ('pending_payment', 'paid') AND o.id <> $3) \
             FROM discounts d WHERE d.id = $1",
        )
        .bind(discount_id.to_string())
        .bind(buyer.to_string())
        .bind(order_id.to_string())
        .fetch_one(&mut **tx)
        .await?;
        if per_buyer.is_some_and(|max| used >= max) {
            return Err(ApiError::rule(
                "discount_not_applicable",
                "you have used this code as often as allowed",
            ));
        }
    }
    let claimed = sqlx::query(
        "UPDATE discounts SET uses = uses + 1 WHERE id = $1 AND (max_uses IS NULL OR uses < max_uses)",
    )
    .bind(discount_id.to_string())
    .execute(&mut **tx)
    .await?;
    if claimed.rows_affected() != 1 {
        return Err(ApiError::rule(
            "discount_not_applicable",
            "this code has been used up",
        ));
    }
    Ok(())
}

/// Marks the order paid: inventory converted (or claimed again), tickets issued, points
/// earned, confirmation queued. Returns false when a late payment found the stock gone
/// (the caller refunds).
async fn settle_paid(
    state: &AppState,
    tx: &mut Tx,
    order_id: &str,
    now: Millis,
) -> ApiResult<bool> {
    let order = lock(state, tx, order_id)
        .await?
        .ok_or_else(|| ApiError::not_found("order"))?;
    let units: i64 = sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(quantity), 0) AS BIGINT) FROM order_lines WHERE order_id = $1",
    )
    .bind(order.id.clone())
    .fetch_one(&mut **tx)
    .await?;
    // An expired or cancelled order gave its code's use and its points back; a late payment
    // is honoured only if it can take them again, as it must the stock.
    let reopening = order.status != "pending_payment";
    if reopening && !can_take_again(state, tx, &order, now).await? {
        return Ok(false);
    }
    let Some(claimed) = convert::claim_for_order(&state.db, tx, order_id, units, now).await? else {
        return Ok(false);
    };
    if reopening {
        take_again(state, tx, &order, now).await?;
    }
    let to = Issue {
        org_id: &order.organization_id,
        event_id: &order.event_id,
        order_id: &order.id,
        holder_name: &order.name,
        holder_email: &order.email,
        livemode: order.livemode != 0,
    };
    let issued = tickets::issue(&state.db, tx, to, &claimed, now).await?;
    sqlx::query("UPDATE orders SET status = 'paid', paid_at = $1, updated_at = $1 WHERE id = $2")
        .bind(now)
        .bind(order.id.clone())
        .execute(&mut **tx)
        .await?;
    if let Some(buyer_id) = &order.buyer_id {
        let org = crate::tenancy::organizations::find(&state.db, &order.organization_id)
            .await?
            .ok_or_else(|| ApiError::not_found("organization"))?;
        let program = points::program(&state.db, &org.id, &org.currency).await?;
        let earned = program.earned_on(
            order.subtotal - order.discount - order.points_value,
            &order.currency,
        );
        let movement = Movement {
            org_id: &org.id,
            buyer_id,
            kind: "earn",
            reference_id: Some(&order.id),
            note: None,
        };
        points::credit(tx, &movement, earned, program.expiry_days, now).await?;
    }
    let links: Vec<serde_json::Value> = issued
        .iter()
        .map(|t| json!({ "url": format!("{}/t/{}", state.base_url, t.code), "holder": t.holder_name, "qr_payload": t.qr_payload }))
        .collect();
    // The email names the event, its local start and its venue.
    let event: crate::catalog::events::EventRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {} FROM events WHERE id = $1",
        crate::catalog::events::EVENT_COLUMNS
    )))
    .bind(order.event_id.clone())
    .fetch_one(&mut **tx)
    .await?;
    let mut payload = json!({ "order_id": order.id, "name": order.name, "total": order.total, "currency": order.currency,
        "subtotal": order.subtotal, "discount": order.discount, "points_value": order.points_value,
        "tax": order.tax, "fee": order.fee, "tickets": links });
    if let Some(fields) = payload.as_object_mut() {
        fields.extend(event.email_details(&order.locale));
    }
    outbox::enqueue(
        tx,
        Email {
            organization_id: Some(&order.organization_id),
            template: "order_confirmation",
            locale: &order.locale,
            to: &order.email,
            payload,
        },
        now,
    )
    .await?;
    metrics::counter!("nextkt_orders_paid_total").increment(1);
    metrics::counter!("nextkt_tickets_issued_total").increment(issued.len() as u64);
    Ok(true)
}

/// Whether the code's use and the points a closed order gave back are still there.
async fn can_take_again(
    state: &AppState,
    tx: &mut Tx,
    order: &OrderRow,
    now: Millis,
) -> ApiResult<bool> {
    if let Some(discount_id) = &order.discount_id {
        let (uses, max_uses): (i64, Option<i64>) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT uses, max_uses FROM discounts WHERE id = $1{}",
            state.db.for_update()
        )))
        .bind(discount_id.clone())
        .fetch_one(&mut **tx)
        .await?;
        if max_uses.is_some_and(|max| uses >= max) {
            return Ok(false);
        }
    }
    if let (Some(buyer_id), true) = (&order.buyer_id, order.points_used > 0) {
        let live = points::balance_locked(&state.db, tx, buyer_id, now).await?;
        if live < order.points_used {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Takes the code's use and the points of a closed order again (checked by `can_take_again`
/// in the same transaction).
async fn take_again(state: &AppState, tx: &mut Tx, order: &OrderRow, now: Millis) -> ApiResult<()> {
    if let Some(discount_id) = &order.discount_id {
        sqlx::query("UPDATE discounts SET uses = uses + 1 WHERE id = $1")
            .bind(discount_id.clone())
            .execute(&mut **tx)
            .await?;
    }
    if let Some(buyer_id) = &order.buyer_id {
        let movement = Movement {
            org_id: &order.organization_id,
            buyer_id,
            kind: "spend",
            reference_id: Some(&order.id),
            note: Some("late payment"),
        };
        points::debit(&state.db, tx, &movement, order.points_used, now).await?;
    }
    Ok(())
}

pub struct ProviderEvent<'a> {
    pub provider: &'a str,
    pub event_id: &'a str,
    pub kind: &'a str,
    pub payment: &'a PaymentRow,
    pub amount: i64,
    pub currency: &'a str,
}

/// Applies one provider callback, exactly once.
pub async fn apply_provider_event(
    state: &AppState,
    event: ProviderEvent<'_>,
    now: Millis,
) -> ApiResult<String> {
    let mut tx = state.db.begin().await?;
    let recorded = payments::events::record(
        &mut tx,
        payments::events::Received {
            provider: event.provider,
            event_id: event.event_id,
            payment_id: Some(&event.payment.id),
            kind: event.kind,
            outcome: "pending",
        },
        now,
    )
    .await?;
    if !recorded {
        return Ok("duplicate".into());
    }
    let payment = payments::lock(&state.db, &mut tx, &event.payment.id).await?;
    let outcome = match event.kind {
        "payment.paid" if payment.status == "paid" => "already_paid".to_string(),
        "payment.paid" => {
            if event.amount != payment.amount || event.currency != payment.currency {
                tracing::error!(payment = %payment.id, "provider reported a different amount; not settling");
                "amount_mismatch".to_string()
            } else {
                payments::mark(&mut tx, &payment.id, "paid", now).await?;
                let order = lock(state, &mut tx, &payment.order_id)
                    .await?
                    .ok_or_else(|| ApiError::not_found("order"))?;
                match order.status.as_str() {
                    "pending_payment" | "expired" | "cancelled" => {
                        if settle_paid(state, &mut tx, &order.id, now).await? {
                            if order.status == "pending_payment" {
                                "paid"
                            } else {
                                "paid_late"
                            }
                            .to_string()
                        } else {
                            refund_late(state, &mut tx, &order, now).await?;
                            "refunded_late".to_string()
                        }
                    }
                    // A second successful payment for a settled order is given back.
                    _ => {
                        refund_payment(&mut tx, &payment, &order, "duplicate payment", now).await?;
                        "refunded_duplicate_payment".to_string()
                    }
                }
            }
        }
        "payment.failed" if payment.status == "pending" => {
            payments::mark(&mut tx, &payment.id, "failed", now).await?;
            "failed".to_string()
        }
        _ => "ignored".to_string(),
    };
    payments::events::set_outcome(&mut tx, event.provider, event.event_id, &outcome).await?;
    tx.commit().await?;
    Ok(outcome)
}

/// Gives a captured payment back in full, through its provider.
async fn refund_payment(
    tx: &mut Tx,
    payment: &PaymentRow,
    order: &OrderRow,
    reason: &str,
    now: Millis,
) -> Result<(), sqlx::Error> {
    payments::refunds::request(
        tx,
        payments::refunds::Request {
            org_id: &order.organization_id,
            order_id: &order.id,
            payment_id: Some(&payment.id),
            provider: &payment.provider,
            amount: payment.amount,
            currency: &payment.currency,
            reason: Some(reason),
            return_to_sale: false,
            created_by_kind: "system",
            created_by_id: "nextkt",
        },
        now,
    )
    .await?;
    Ok(())
}

/// A payment arrived after the holds lapsed and the stock is gone: give the money back and
/// tell the buyer.
async fn refund_late(
    state: &AppState,
    tx: &mut Tx,
    order: &OrderRow,
    now: Millis,
) -> ApiResult<()> {
    let paid: Vec<PaymentRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {} FROM payments WHERE order_id = $1 AND status = 'paid'",
        payments::PAYMENT_COLUMNS
    )))
    .bind(order.id.clone())
    .fetch_all(&mut **tx)
    .await?;
    for payment in &paid {
        refund_payment(tx, payment, order, "late payment: sold out", now).await?;
    }
    sqlx::query("UPDATE orders SET status = 'refunded', updated_at = $1 WHERE id = $2")
        .bind(now)
        .bind(order.id.clone())
        .execute(&mut **tx)
        .await?;
    outbox::enqueue(
        tx,
        Email {
            organization_id: Some(&order.organization_id),
            template: "late_payment_refund",
            locale: &order.locale,
            to: &order.email,
            payload: json!({ "order_id": order.id, "name": order.name, "total": order.total, "currency": order.currency }),
        },
        now,
    )
    .await?;
    let _ = state;
    metrics::counter!("nextkt_orders_refunded_late_total").increment(1);
    Ok(())
}

/// Closes an unpaid order as `expired` or `cancelled`: pending payments lapse, the code's
/// use and the points go back. False when the order is not (or no longer) unpaid, or a
/// payment for it has been captured (its callback settles it).
pub async fn close_unpaid(
    state: &AppState,
    tx: &mut Tx,
    order_id: &str,
    status: &str,
    now: Millis,
) -> ApiResult<bool> {
    let Some(order) = lock(state, tx, order_id).await? else {
        return Ok(false);
    };
    if order.status != "pending_payment" {
        return Ok(false);
    }
    let paid: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM payments WHERE order_id = $1 AND status = 'paid'")
            .bind(order.id.clone())
            .fetch_one(&mut **tx)
            .await?;
    if paid > 0 {
        return Ok(false);
    }
    sqlx::query("UPDATE orders SET status = $1, updated_at = $2 WHERE id = $3")
        .bind(status.to_string())
        .bind(now)
        .bind(order.id.clone())
        .execute(&mut **tx)
        .await?;
    payments::expire_pending(tx, &order.id, now).await?;
    if let Some(discount_id) = &order.discount_id {
        sqlx::query("UPDATE discounts SET uses = uses - 1 WHERE id = $1 AND uses > 0")
            .bind(discount_id.clone())
            .execute(&mut **tx)
            .await?;
    }
    if let (Some(buyer_id), true) = (&order.buyer_id, order.points_used > 0) {
        let program = points::program(&state.db, &order.organization_id, &order.currency).await?;
        let movement = Movement {
            org_id: &order.organization_id,
            buyer_id,
            kind: "reversal",
            reference_id: Some(&order.id),
            note: Some(if status == "expired" {
                "order expired"
            } else {
                "order cancelled"
            }),
        };
        points::credit(tx, &movement, order.points_used, program.expiry_days, now).await?;
    }
    Ok(true)
}

/// Expires unpaid orders whose deadline passed. An order whose payment the provider has
/// captured is left for its callback to settle.
pub async fn expire_due(state: &AppState, now: Millis) -> ApiResult<u64> {
    let due: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM orders WHERE status = 'pending_payment' AND payment_deadline <= $1 ORDER BY payment_deadline LIMIT 100",
    )
    .bind(now)
    .fetch_all(&state.db.pool)
    .await?;
    let mut expired = 0;
    for id in due {
        // Ask the provider about payments still open: one captured meanwhile is settled
        // now instead of letting its order lapse.
        if settle_if_captured(state, &id, now).await? {
            continue;
        }
        let mut tx = state.db.begin().await?;
        if close_unpaid(state, &mut tx, &id, "expired", now).await? {
            tx.commit().await?;
            expired += 1;
        }
    }
    Ok(expired)
}

/// Asks Xendit about the order's pending invoices (the simulated provider reports through
/// its callback only). True when one was captured and the order was settled.
async fn settle_if_captured(state: &AppState, order_id: &str, now: Millis) -> ApiResult<bool> {
    let Some(xendit) = state.config.xendit() else {
        return Ok(false);
    };
    let pending: Vec<PaymentRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {} FROM payments WHERE order_id = $1 AND status = 'pending' AND provider = $2",
        payments::PAYMENT_COLUMNS
    )))
    .bind(order_id.to_string())
    .bind(payments::XENDIT)
    .fetch_all(&state.db.pool)
    .await?;
    for payment in pending {
        let invoice = match xendit.invoice(&state.http, &payment.provider_ref).await {
            Ok(invoice) => invoice,
            Err(err) => {
                tracing::warn!(payment = %payment.id, error = %err, "could not ask Xendit about a payment");
                continue;
            }
        };
        if matches!(invoice.status.as_str(), "PAID" | "SETTLED") {
            let event_id = format!("{}:PAID", payment.provider_ref);
            let event = ProviderEvent {
                provider: payments::XENDIT,
                event_id: &event_id,
                kind: "payment.paid",
                payment: &payment,
                amount: payment.amount,
                currency: &payment.currency,
            };
            let outcome = apply_provider_event(state, event, now).await?;
            tracing::info!(payment = %payment.id, %outcome, "payment found captured before its order expired");
            return Ok(true);
        }
    }
    Ok(false)
}

/// The logged-in buyer's orders, newest first.
#[utoipa::path(
    get, path = "/consumer/orders", tag = "checkout",
    params(PageParams),
    responses((status = 200, body = Page<Order>), (status = 401, body = Problem)),
    security(("internal_key" = [], "tenant" = [], "buyer" = []), ("storefront_key" = [], "buyer" = []))
)]
pub async fn my_orders(
    State(state): State<AppState>,
    buyer: BuyerAccess,
    ApiQuery(page): ApiQuery<PageParams>,
) -> ApiResult<ApiJson<Page<Order>>> {
    let page = page.parse()?;
    let rows: Vec<OrderRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ORDER_COLUMNS} FROM orders WHERE organization_id = $1 AND buyer_id = $2 \
         AND ($3 = '' OR id < $3) ORDER BY id DESC LIMIT $4"
    )))
    .bind(buyer.org.id.clone())
    .bind(buyer.buyer_id.clone())
    .bind(page.bound())
    .bind(page.fetch_limit())
    .fetch_all(&state.db.pool)
    .await?;
    Ok(ApiJson(
        view_page(&state, page.finish(rows, |r| &r.id)).await?,
    ))
}

/// One of the logged-in buyer's orders.
#[utoipa::path(
    get, path = "/consumer/orders/{order_id}", tag = "checkout",
    params(("order_id" = String, Path)),
    responses((status = 200, body = Order), (status = 401, body = Problem), (status = 404, body = Problem)),
    security(("internal_key" = [], "tenant" = [], "buyer" = []), ("storefront_key" = [], "buyer" = []))
)]
pub async fn my_order(
    State(state): State<AppState>,
    buyer: BuyerAccess,
    Path(order_id): Path<String>,
) -> ApiResult<ApiJson<Order>> {
    let row = find(&state, &buyer.org.id, &order_id).await?;
    if row.buyer_id.as_deref() != Some(buyer.buyer_id.as_str()) {
        return Err(ApiError::not_found("order"));
    }
    Ok(ApiJson(view(&state, row).await?))
}

/// The order made from the cart in `X-Cart-Token` (for buyers who did not log in).
#[utoipa::path(
    get, path = "/consumer/cart/order", tag = "checkout",
    params(("x-cart-token" = String, Header)),
    responses((status = 200, body = Order), (status = 404, body = Problem)),
    security(("internal_key" = [], "tenant" = []), ("storefront_key" = []))
)]
pub async fn cart_order(
    State(state): State<AppState>,
    caller: MaybeBuyer,
    headers: HeaderMap,
) -> ApiResult<ApiJson<Order>> {
    let cart_id = super::cart::cart_id_of(&state, &caller, &headers).await?;
    let row: Option<OrderRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ORDER_COLUMNS} FROM orders WHERE cart_id = $1 AND organization_id = $2"
    )))
    .bind(cart_id)
    .bind(caller.org.id.clone())
    .fetch_optional(&state.db.pool)
    .await?;
    Ok(ApiJson(
        view(&state, row.ok_or_else(|| ApiError::not_found("order"))?).await?,
    ))
}

/// The logged-in buyer's tickets, newest first.
#[utoipa::path(
    get, path = "/consumer/tickets", tag = "checkout",
    params(PageParams),
    responses((status = 200, body = Page<Ticket>), (status = 400, body = Problem), (status = 401, body = Problem)),
    security(("internal_key" = [], "tenant" = [], "buyer" = []), ("storefront_key" = [], "buyer" = []))
)]
pub async fn my_tickets(
    State(state): State<AppState>,
    buyer: BuyerAccess,
    ApiQuery(page): ApiQuery<PageParams>,
) -> ApiResult<ApiJson<Page<Ticket>>> {
    let page = page.parse()?;
    let rows: Vec<tickets::TicketRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {} FROM tickets t WHERE t.order_id IN (SELECT id FROM orders WHERE buyer_id = $1 \
         AND organization_id = $2) AND ($3 = '' OR t.id < $3) ORDER BY t.id DESC LIMIT $4",
        tickets::ticket_columns_of("t")
    )))
    .bind(buyer.buyer_id.clone())
    .bind(buyer.org.id.clone())
    .bind(page.bound())
    .bind(page.fetch_limit())
    .fetch_all(&state.db.pool)
    .await?;
    Ok(ApiJson(
        page.finish(rows, |t| &t.id)
            .map(|t| t.to_api(&state.base_url)),
    ))
}
