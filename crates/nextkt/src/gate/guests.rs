//! Guest lists: named guests with complimentary tickets. Each guest gets an order of kind
//! `complimentary` (total 0) and real tickets, claimed from the ticket type's capacity
//! through the oversell core, so a guest list can never push an event past its capacity.
//! Guests are added one at a time or imported from CSV; an import is checked whole and
//! either every line is added or none is.

use std::collections::{BTreeMap, HashSet};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use crate::catalog::events::{self, EventRow};
use crate::catalog::ticket_types::{self, TicketTypeRow};
use crate::commerce::orders::{self, NewOrder};
use crate::commerce::pricing::Quote;
use crate::inventory::carts::{self, NewCart};
use crate::inventory::convert::Claimed;
use crate::inventory::pools::{self, Sale};
use crate::notify::outbox::{self, Email};
use crate::platform::clock::{Millis, opt_rfc3339, rfc3339};
use crate::platform::csv;
use crate::platform::db::Tx;
use crate::platform::error::{ApiError, ApiResult, Problem};
use crate::platform::ids::new_id;
use crate::platform::json::ApiJson;
use crate::platform::pagination::{Page, PageParams};
use crate::platform::query::ApiQuery;
use crate::platform::secrets::{new_token, token_hash};
use crate::platform::validate;
use crate::state::AppState;
use crate::tenancy::access::AdminAccess;
use crate::tenancy::audit::{self, Change};
use crate::tenancy::roles::Permission;
use crate::tickets::{self, Issue};

const MAX_PER_GUEST: i64 = 20;
const MAX_IMPORT_LINES: usize = 5_000;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewGuest {
    pub name: String,
    pub email: String,
    /// A general-admission ticket type of the event; its capacity is used.
    pub ticket_type_id: String,
    /// Tickets for this guest (1–20, default 1).
    pub quantity: Option<i64>,
    pub note: Option<String>,
    /// Email the guest their tickets (default true).
    pub send_email: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GuestTicket {
    pub id: String,
    pub code: String,
    /// The signed text of the ticket's QR code.
    pub qr_payload: String,
    pub url: String,
    pub status: String,
    /// When the ticket first went in on any list.
    pub arrived_at: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Guest {
    pub id: String,
    pub name: String,
    pub email: String,
    pub ticket_type_id: String,
    pub quantity: i64,
    pub note: String,
    pub order_id: String,
    /// `manual` or `csv`.
    pub source: String,
    pub created_at: String,
    /// Whether any of the guest's tickets has gone in.
    pub arrived: bool,
    pub tickets: Vec<GuestTicket>,
}

/// A guest checked and ready to be written.
struct Entry {
    name: String,
    email: String,
    ticket_type_id: String,
    quantity: i64,
    note: String,
}

fn ga_type<'a>(types: &'a [TicketTypeRow], id_or_name: &str) -> Result<&'a TicketTypeRow, String> {
    let found = types
        .iter()
        .find(|t| t.id == id_or_name)
        .or_else(|| {
            types
                .iter()
                .find(|t| t.name.eq_ignore_ascii_case(id_or_name))
        })
        .ok_or_else(|| format!("no ticket type {id_or_name:?} in this event"))?;
    if found.kind != "ga" {
        return Err("guest tickets need a general-admission ticket type".into());
    }
    Ok(found)
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
    let locale: String = sqlx::query_scalar("SELECT locale FROM organizations WHERE id = $1")
        .bind(event.organization_id.clone())
        .fetch_one(&mut **tx)
        .await?;
    let mut ids = Vec::with_capacity(entries.len());
    for e in entries {
        let ticket_type = type_of(&e.ticket_type_id)?;
        let (guest_id, cart_id, order_id) = (new_id(), new_id(), new_id());
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
        sqlx::query(
            "INSERT INTO guests (id, organization_id, event_id, name, email, ticket_type_id, quantity, note, \
             order_id, source, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(guest_id.clone())
        .bind(event.organization_id.clone())
        .bind(event.id.clone())
        .bind(e.name.clone())
        .bind(e.email.clone())
        .bind(e.ticket_type_id.clone())
        .bind(e.quantity)
        .bind(e.note.clone())
        .bind(order_id)
        .bind(source.to_string())
        .bind(now)
        .execute(&mut **tx)
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
    access: &AdminAccess,
    event_id: &str,
    action: &str,
    after: serde_json::Value,
    now: Millis,
) -> ApiResult<()> {
    audit::record(
        tx,
        Change {
            org_id: Some(&access.org_id),
            actor: &access.actor,
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

/// Add a guest with complimentary tickets.
#[utoipa::path(
    post, path = "/admin/events/{event_id}/guest-list", tag = "gate",
    params(("event_id" = String, Path)),
    request_body = NewGuest,
    responses((status = 201, body = Guest), (status = 400, body = Problem), (status = 404, body = Problem),
        (status = 422, description = "`sold_out` (the ticket type's capacity is used up)", body = Problem)),
    security(("bearer" = []))
)]
pub async fn add(
    State(state): State<AppState>,
    access: AdminAccess,
    Path(event_id): Path<String>,
    ApiJson(body): ApiJson<NewGuest>,
) -> ApiResult<(StatusCode, ApiJson<Guest>)> {
    access.require(Permission::ManageOrders)?;
    let event = events::find(&state.db, &access.org_id, &event_id).await?;
    let types = ticket_types::of_event(&state.db, &event.id).await?;
    let entry = Entry {
        name: validate::text("name", &body.name, 200)?,
        email: validate::email("email", &body.email)?,
        ticket_type_id: ga_type(&types, &body.ticket_type_id)
            .map_err(|e| ApiError::invalid("ticket_type_id", e))?
            .id
            .clone(),
        quantity: validate::range("quantity", body.quantity.unwrap_or(1), 1, MAX_PER_GUEST)?,
        note: match &body.note {
            Some(n) if !n.trim().is_empty() => validate::text("note", n, 500)?,
            _ => String::new(),
        },
    };
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let ids = add_all(
        &state,
        &mut tx,
        &event,
        &types,
        Batch {
            entries: std::slice::from_ref(&entry),
            source: "manual",
            send_email: body.send_email.unwrap_or(true),
        },
        now,
    )
    .await?;
    record_audit(
        &mut tx,
        &access,
        &event.id,
        "guest.added",
        json!({ "guest_id": ids[0], "name": entry.name, "email": entry.email, "quantity": entry.quantity }),
        now,
    )
    .await?;
    tx.commit().await?;
    let guest = of_event(&state, &event.id, Some(&ids[0]), "", 1)
        .await?
        .pop()
        .ok_or_else(|| ApiError::not_found("guest"))?;
    Ok((StatusCode::CREATED, ApiJson(guest)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LineError {
    /// The CSV line (1 is the header).
    pub line: usize,
    pub field: Option<String>,
    pub detail: String,
}

/// The problem document (code `import_failed`) with every bad line.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportFailed {
    #[serde(flatten)]
    pub problem: Problem,
    /// Every bad line; nothing was imported.
    pub errors: Vec<LineError>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Imported {
    pub imported: usize,
    pub tickets: i64,
    pub guest_ids: Vec<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ImportParams {
    /// Email each guest their tickets (default true).
    pub send_email: Option<bool>,
}

/// Checks every line; the entries, or every line's error.
/// `existing`: (lower-cased email, ticket type id) of the guests already on the list; a
/// line naming one again is refused, so uploading a file twice adds no one twice.
fn read_csv(
    text: &str,
    types: &[TicketTypeRow],
    existing: &HashSet<(String, String)>,
) -> Result<Vec<Entry>, Vec<LineError>> {
    let err = |line, field: Option<&str>, detail: String| LineError {
        line,
        field: field.map(str::to_string),
        detail,
    };
    let records =
        csv::parse(text).map_err(|bad| vec![err(bad.line, None, bad.detail.to_string())])?;
    let Some((header, rows)) = records.split_first() else {
        return Err(vec![err(1, None, "the file is empty".into())]);
    };
    let columns: Vec<String> = header
        .fields
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    let col = |name: &str| columns.iter().position(|c| c == name);
    let (Some(name_col), Some(email_col), Some(type_col)) =
        (col("name"), col("email"), col("ticket_type"))
    else {
        return Err(vec![err(
            header.line,
            None,
            "the header must name the columns name, email and ticket_type (quantity and note are optional)"
                .into(),
        )]);
    };
    if let Some((_, twice)) = columns
        .iter()
        .enumerate()
        .find(|(i, c)| columns[..*i].contains(c))
    {
        return Err(vec![err(
            header.line,
            Some(twice),
            format!("the column {twice:?} appears twice"),
        )]);
    }
    if let Some(unknown) = columns
        .iter()
        .find(|c| !["name", "email", "ticket_type", "quantity", "note"].contains(&c.as_str()))
    {
        return Err(vec![err(
            header.line,
            Some(unknown),
            format!("unknown column {unknown:?}"),
        )]);
    }
    if rows.len() > MAX_IMPORT_LINES {
        return Err(vec![err(
            rows[MAX_IMPORT_LINES].line,
            None,
            format!("at most {MAX_IMPORT_LINES} guests per import"),
        )]);
    }
    if rows.is_empty() {
        return Err(vec![err(
            header.line,
            None,
            "no guests after the header".into(),
        )]);
    }
    let (qty_col, note_col) = (col("quantity"), col("note"));
    let mut entries = Vec::new();
    let mut errors = Vec::new();
    let mut seen = HashSet::new();
    for row in rows {
        if row.fields.len() != columns.len() {
            errors.push(err(
                row.line,
                None,
                format!(
                    "{} fields; the header has {}",
                    row.fields.len(),
                    columns.len()
                ),
            ));
            continue;
        }
        let get = |i: Option<usize>| i.map(|i| row.fields[i].trim()).unwrap_or("");
        let name = validate::text("name", get(Some(name_col)), 200);
        let email = validate::email("email", get(Some(email_col)));
        let ticket_type = ga_type(types, get(Some(type_col))).map(|t| t.id.clone());
        let quantity = match get(qty_col) {
            "" => Ok(1),
            q => q
                .parse::<i64>()
                .ok()
                .filter(|q| (1..=MAX_PER_GUEST).contains(q))
                .ok_or_else(|| {
                    format!("quantity must be a whole number from 1 to {MAX_PER_GUEST}")
                }),
        };
        let note = validate::text("note", get(note_col), 500).or_else(|e| {
            if get(note_col).is_empty() {
                Ok(String::new())
            } else {
                Err(e)
            }
        });
        let mut bad = |field: &str, detail: String| errors.push(err(row.line, Some(field), detail));
        match (name, email, ticket_type, quantity, note) {
            (Ok(name), Ok(email), Ok(ticket_type_id), Ok(quantity), Ok(note)) => {
                if existing.contains(&(email.to_ascii_lowercase(), ticket_type_id.clone())) {
                    bad(
                        "email",
                        format!("{email} is already on the guest list for this ticket type"),
                    );
                    continue;
                }
                if !seen.insert((email.to_ascii_lowercase(), ticket_type_id.clone())) {
                    bad(
                        "email",
                        format!("{email} appears twice for the same ticket type"),
                    );
                    continue;
                }
                entries.push(Entry {
                    name,
                    email,
                    ticket_type_id,
                    quantity,
                    note,
                });
            }
            (name, email, ticket_type, quantity, note) => {
                if let Err(e) = name {
                    bad("name", e.detail);
                }
                if let Err(e) = email {
                    bad("email", e.detail);
                }
                if let Err(e) = ticket_type {
                    bad("ticket_type", e);
                }
                if let Err(e) = quantity {
                    bad("quantity", e);
                }
                if let Err(e) = note {
                    bad("note", e.detail);
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(entries)
    } else {
        Err(errors)
    }
}

/// Import guests from CSV (`content-type: text/csv`). Columns: `name`, `email`,
/// `ticket_type` (id or name), optional `quantity` and `note`. Every line is checked first;
/// if any is bad, nothing is imported and each bad line is reported.
#[utoipa::path(
    post, path = "/admin/events/{event_id}/guest-list/import", tag = "gate",
    params(("event_id" = String, Path), ImportParams),
    request_body(content = String, content_type = "text/csv"),
    responses((status = 201, body = Imported),
        (status = 400, description = "Not UTF-8 text (`invalid_body`), a NUL character, or a bad query parameter", body = Problem),
        (status = 404, body = Problem),
        (status = 415, description = "Not text/csv", body = Problem),
        (status = 422, description = "Bad lines (`import_failed`, with every line's error) or `sold_out`", body = ImportFailed)),
    security(("bearer" = []))
)]
pub async fn import(
    State(state): State<AppState>,
    access: AdminAccess,
    Path(event_id): Path<String>,
    ApiQuery(params): ApiQuery<ImportParams>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    access.require(Permission::ManageOrders)?;
    let is_csv = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("text/csv"));
    if !is_csv {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the guest list as text/csv",
        ));
    }
    let body = body.map_err(|_| crate::platform::json::payload_too_large())?;
    let body = std::str::from_utf8(&body).map_err(|e| {
        ApiError::bad_request(
            "invalid_body",
            format!(
                "the file is not UTF-8 text (byte {} is not); save it as CSV UTF-8",
                e.valid_up_to() + 1
            ),
        )
    })?;
    let event = events::find(&state.db, &access.org_id, &event_id).await?;
    let types = ticket_types::of_event(&state.db, &event.id).await?;
    let existing: HashSet<(String, String)> = sqlx::query_as::<_, (String, String)>(
        "SELECT email, ticket_type_id FROM guests WHERE event_id = $1",
    )
    .bind(event.id.clone())
    .fetch_all(&state.db.pool)
    .await?
    .into_iter()
    .map(|(email, tt)| (email.to_ascii_lowercase(), tt))
    .collect();
    let entries = match read_csv(body, &types, &existing) {
        Ok(entries) => entries,
        Err(errors) => {
            let failed = ImportFailed {
                problem: ApiError::rule(
                    "import_failed",
                    format!(
                        "{} problem(s) in the file; nothing was imported",
                        errors.len()
                    ),
                )
                .problem(),
                errors,
            };
            return Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                [(header::CONTENT_TYPE, "application/problem+json")],
                axum::Json(failed),
            )
                .into_response());
        }
    };
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let ids = add_all(
        &state,
        &mut tx,
        &event,
        &types,
        Batch {
            entries: &entries,
            source: "csv",
            send_email: params.send_email.unwrap_or(true),
        },
        now,
    )
    .await?;
    let tickets: i64 = entries.iter().map(|e| e.quantity).sum();
    record_audit(
        &mut tx,
        &access,
        &event.id,
        "guests.imported",
        json!({ "guests": ids.len(), "tickets": tickets }),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        ApiJson(Imported {
            imported: ids.len(),
            tickets,
            guest_ids: ids,
        }),
    )
        .into_response())
}

#[derive(sqlx::FromRow)]
struct GuestTicketRow {
    guest_id: String,
    name: String,
    email: String,
    ticket_type_id: String,
    quantity: i64,
    note: String,
    order_id: String,
    source: String,
    created_at: i64,
    ticket_id: Option<String>,
    code: Option<String>,
    qr_payload: Option<String>,
    status: Option<String>,
    arrived_at: Option<i64>,
}

/// Guests of the event with their tickets, oldest first: `only` that one, or up to `limit`
/// after the id `after` (`""`: from the first).
async fn of_event(
    state: &AppState,
    event_id: &str,
    only: Option<&str>,
    after: &str,
    limit: i64,
) -> ApiResult<Vec<Guest>> {
    let rows: Vec<GuestTicketRow> = sqlx::query_as(
        "SELECT g.id AS guest_id, g.name, g.email, g.ticket_type_id, g.quantity, g.note, g.order_id, g.source, \
         g.created_at, t.id AS ticket_id, t.code, t.qr_payload, t.status, \
         (SELECT MIN(c.first_at) FROM ticket_checkins c WHERE c.ticket_id = t.id) AS arrived_at \
         FROM guests g LEFT JOIN tickets t ON t.order_id = g.order_id \
         WHERE g.id IN (SELECT id FROM guests WHERE event_id = $1 AND ($2 = '' OR id = $2) \
         AND ($3 = '' OR id > $3) ORDER BY id LIMIT $4) ORDER BY g.id, t.id",
    )
    .bind(event_id.to_string())
    .bind(only.unwrap_or_default().to_string())
    .bind(after.to_string())
    .bind(limit)
    .fetch_all(&state.db.pool)
    .await?;
    let mut guests: Vec<Guest> = Vec::new();
    for r in rows {
        if guests.last().is_none_or(|g| g.id != r.guest_id) {
            guests.push(Guest {
                id: r.guest_id.clone(),
                name: r.name,
                email: r.email,
                ticket_type_id: r.ticket_type_id,
                quantity: r.quantity,
                note: r.note,
                order_id: r.order_id,
                source: r.source,
                created_at: rfc3339(r.created_at),
                arrived: false,
                tickets: Vec::new(),
            });
        }
        if let (Some(guest), Some(id), Some(code)) = (guests.last_mut(), r.ticket_id, r.code) {
            guest.arrived |= r.arrived_at.is_some();
            guest.tickets.push(GuestTicket {
                id,
                url: format!("{}/t/{code}", state.base_url),
                code,
                qr_payload: r.qr_payload.unwrap_or_default(),
                status: r.status.unwrap_or_default(),
                arrived_at: opt_rfc3339(r.arrived_at),
            });
        }
    }
    Ok(guests)
}

/// The event's guest list, with who has arrived, oldest first.
#[utoipa::path(
    get, path = "/admin/events/{event_id}/guest-list", tag = "gate",
    params(("event_id" = String, Path), PageParams),
    responses((status = 200, body = Page<Guest>), (status = 400, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    access: AdminAccess,
    Path(event_id): Path<String>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> ApiResult<ApiJson<Page<Guest>>> {
    access.require(Permission::ReadOrders)?;
    let page = page.parse()?;
    let event = events::find(&state.db, &access.org_id, &event_id).await?;
    let guests = of_event(&state, &event.id, None, &page.bound(), page.fetch_limit()).await?;
    Ok(ApiJson(page.finish(guests, |g| &g.id)))
}
