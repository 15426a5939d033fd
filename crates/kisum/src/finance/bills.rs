//! Bills (accounts payable): `draft → submitted → approved → paid`, or `rejected` (from
//! submitted) and `void` (any state before paid). Each move needs its permission and is
//! decided on the locked row, so two moves at once (approve and void, say) end with exactly
//! one of them.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::audit;
use super::{amount, date, reference, today, vendors};
use crate::auth::access::Member;
use crate::ids::CompanyId;
use crate::platform::clock::{opt_rfc3339, rfc3339};
use crate::platform::db::{Db, Tx};
use crate::platform::error::{ApiError, ApiResult, Problem, is_unique_violation};
use crate::platform::ids::new_id;
use crate::platform::json::ApiJson;
use crate::platform::list::List;
use crate::platform::pagination::PageParams;
use crate::platform::query::ApiQuery;
use crate::platform::validate;
use crate::state::AppState;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BillStatus {
    Draft,
    Submitted,
    Approved,
    Paid,
    Rejected,
    Void,
}

impl BillStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            BillStatus::Draft => "draft",
            BillStatus::Submitted => "submitted",
            BillStatus::Approved => "approved",
            BillStatus::Paid => "paid",
            BillStatus::Rejected => "rejected",
            BillStatus::Void => "void",
        }
    }

    pub fn parse(text: &str) -> Option<BillStatus> {
        Some(match text {
            "draft" => BillStatus::Draft,
            "submitted" => BillStatus::Submitted,
            "approved" => BillStatus::Approved,
            "paid" => BillStatus::Paid,
            "rejected" => BillStatus::Rejected,
            "void" => BillStatus::Void,
            _ => return None,
        })
    }

    /// Bills that count as expenses in profit and loss: committed ones.
    pub fn is_expense(self) -> bool {
        matches!(self, BillStatus::Approved | BillStatus::Paid)
    }
}

#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct BillRow {
    pub id: String,
    pub number: String,
    pub vendor_id: String,
    pub category: String,
    pub currency: String,
    pub amount: i64,
    pub tax: i64,
    pub issued_on: String,
    pub due_on: String,
    pub event_ref: Option<String>,
    pub description: String,
    pub status: String,
    pub reason: Option<String>,
    pub created_by: String,
    pub submitted_at: Option<i64>,
    pub decided_by: Option<String>,
    pub decided_at: Option<i64>,
    pub paid_on: Option<String>,
    pub created_at: i64,
}

impl BillRow {
    pub fn status(&self) -> BillStatus {
        BillStatus::parse(&self.status).unwrap_or(BillStatus::Void)
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Bill {
    pub id: String,
    pub number: String,
    pub vendor_id: String,
    pub category: String,
    /// ISO 4217.
    pub currency: String,
    /// Minor units, before tax.
    pub amount: i64,
    /// Minor units.
    pub tax: i64,
    /// `amount + tax`.
    pub total: i64,
    pub issued_on: String,
    pub due_on: String,
    pub event_ref: Option<String>,
    pub description: String,
    pub status: BillStatus,
    /// Why it was rejected or voided.
    pub reason: Option<String>,
    pub created_by: String,
    pub submitted_at: Option<String>,
    pub decided_by: Option<String>,
    pub decided_at: Option<String>,
    pub paid_on: Option<String>,
    pub created_at: String,
}

impl From<BillRow> for Bill {
    fn from(row: BillRow) -> Self {
        let status = row.status();
        Bill {
            total: row.amount + row.tax,
            id: row.id,
            number: row.number,
            vendor_id: row.vendor_id,
            category: row.category,
            currency: row.currency,
            amount: row.amount,
            tax: row.tax,
            issued_on: row.issued_on,
            due_on: row.due_on,
            event_ref: row.event_ref,
            description: row.description,
            status,
            reason: row.reason,
            created_by: row.created_by,
            submitted_at: opt_rfc3339(row.submitted_at),
            decided_by: row.decided_by,
            decided_at: opt_rfc3339(row.decided_at),
            paid_on: row.paid_on,
            created_at: rfc3339(row.created_at),
        }
    }
}

// ---- Store ----

const COLUMNS: &str = "id, number, vendor_id, category, currency, amount, tax, issued_on, due_on, \
    event_ref, description, status, reason, created_by, submitted_at, decided_by, decided_at, \
    paid_on, created_at";

pub async fn find(
    conn: &mut sqlx::AnyConnection,
    company: &CompanyId,
    id: &str,
) -> Result<Option<BillRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM finance_bills WHERE company_id = $1 AND id = $2"
    )))
    .bind(company.as_str())
    .bind(id)
    .fetch_optional(conn)
    .await
}

async fn lock(db: &Db, tx: &mut Tx, company: &CompanyId, id: &str) -> ApiResult<BillRow> {
    sqlx::query_as(db.sql(format!(
        "SELECT {COLUMNS} FROM finance_bills WHERE company_id = $1 AND id = $2{}",
        db.for_update()
    )))
    .bind(company.as_str())
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or_else(|| ApiError::not_found("bill"))
}

// ---- Handlers ----

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewBill {
    /// The vendor's invoice number, unique per company.
    pub number: String,
    pub vendor_id: String,
    /// E.g. `production`, `artist_fee`, `marketing`.
    pub category: String,
    pub currency: String,
    pub amount: i64,
    #[serde(default)]
    pub tax: i64,
    /// Default: today.
    pub issued_on: Option<String>,
    pub due_on: String,
    /// The event it belongs to (a Nextkt event id, or any reference).
    pub event_ref: Option<String>,
    pub description: Option<String>,
}

struct Fields {
    number: String,
    category: String,
    currency: String,
    amount: i64,
    tax: i64,
    issued_on: String,
    due_on: String,
    event_ref: Option<String>,
    description: String,
}

/// A bill's fields as given, before checking.
struct Input<'a> {
    number: &'a str,
    category: &'a str,
    currency: &'a str,
    amount: i64,
    tax: i64,
    issued_on: &'a str,
    due_on: &'a str,
    event_ref: Option<&'a str>,
    description: Option<&'a str>,
}

fn check(input: Input<'_>) -> ApiResult<Fields> {
    let issued_on = date("issuedOn", input.issued_on)?;
    let due_on = date("dueOn", input.due_on)?;
    if due_on < issued_on {
        return Err(ApiError::invalid(
            "dueOn",
            "dueOn cannot be before issuedOn",
        ));
    }
    Ok(Fields {
        number: validate::text("number", input.number, 64)?,
        category: validate::text("category", input.category, 64)?,
        currency: validate::currency("currency", input.currency)?,
        amount: amount("amount", input.amount, false)?,
        tax: amount("tax", input.tax, true)?,
        issued_on,
        due_on,
        event_ref: reference("eventRef", input.event_ref)?,
        description: validate::opt_text("description", input.description, 2000)?
            .unwrap_or_default(),
    })
}

fn number_taken() -> ApiError {
    ApiError::conflict(
        "bill_number_taken",
        "the company has a bill with this number",
    )
}

/// Creates a draft bill.
#[utoipa::path(post, path = "/finance/bills", tag = "finance", request_body = NewBill,
    params(("x-org" = String, Header)),
    responses((status = 201, body = Bill), (status = 400, body = Problem), (status = 403, body = Problem),
        (status = 409, description = "`bill_number_taken`", body = Problem), (status = 422, description = "`unknown_vendor`, `vendor_archived`", body = Problem)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    member: Member,
    ApiJson(body): ApiJson<NewBill>,
) -> ApiResult<(StatusCode, ApiJson<Bill>)> {
    member.require("finance.bills.create")?;
    let now = state.clock.now_ms();
    let issued = body.issued_on.clone().unwrap_or_else(|| today(now));
    let f = check(Input {
        number: &body.number,
        category: &body.category,
        currency: &body.currency,
        amount: body.amount,
        tax: body.tax,
        issued_on: &issued,
        due_on: &body.due_on,
        event_ref: body.event_ref.as_deref(),
        description: body.description.as_deref(),
    })?;
    let id = new_id();
    let actor = audit::actor(&member);
    let mut tx = state.db.begin().await?;
    let vendor = vendors::find(&mut tx, &member.company_id, &body.vendor_id)
        .await?
        .ok_or_else(|| ApiError::rule("unknown_vendor", "no such vendor in this company"))?;
    if vendor.archived != 0 {
        return Err(ApiError::rule("vendor_archived", "the vendor is archived"));
    }
    let inserted = sqlx::query(
        "INSERT INTO finance_bills (id, company_id, number, vendor_id, category, currency, amount, \
         tax, issued_on, due_on, event_ref, description, status, reason, created_by, submitted_at, \
         decided_by, decided_at, paid_on, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'draft', NULL, $13, NULL, NULL, \
         NULL, NULL, $14, $14)",
    )
    .bind(&id)
    .bind(member.company_id.as_str())
    .bind(&f.number)
    .bind(&vendor.id)
    .bind(&f.category)
    .bind(&f.currency)
    .bind(f.amount)
    .bind(f.tax)
    .bind(&f.issued_on)
    .bind(&f.due_on)
    .bind(&f.event_ref)
    .bind(&f.description)
    .bind(&actor)
    .bind(now)
    .execute(&mut *tx)
    .await;
    match inserted {
        Err(err) if is_unique_violation(&err) => return Err(number_taken()),
        other => other?,
    };
    let row = find(&mut tx, &member.company_id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("bill"))?;
    audit::changed(
        &mut tx,
        &member,
        "bill.created",
        ("bill", &id),
        None,
        Some(&row),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, ApiJson(row.into())))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct BillFilter {
    pub status: Option<String>,
    pub vendor_id: Option<String>,
    pub event_ref: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// The company's bills, newest first, filtered by status, vendor or event.
#[utoipa::path(get, path = "/finance/bills", tag = "finance", params(BillFilter, ("x-org" = String, Header)),
    responses((status = 200, body = List<Bill>), (status = 400, body = Problem)), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    member: Member,
    ApiQuery(filter): ApiQuery<BillFilter>,
) -> ApiResult<ApiJson<List<Bill>>> {
    member.require("finance.bills.read")?;
    let page = PageParams {
        limit: filter.limit,
        cursor: filter.cursor.clone(),
    }
    .parse()?;
    let status = match filter.status.as_deref() {
        None | Some("") => String::new(),
        Some(s) => BillStatus::parse(s)
            .ok_or_else(|| ApiError::invalid("status", "not a bill status"))?
            .as_str()
            .to_string(),
    };
    let rows: Vec<BillRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM finance_bills WHERE company_id = $1 AND ($2 = '' OR id < $2) \
         AND ($3 = '' OR status = $3) AND ($4 = '' OR vendor_id = $4) AND ($5 = '' OR event_ref = $5) \
         ORDER BY id DESC LIMIT $6"
    )))
    .bind(member.company_id.as_str())
    .bind(page.bound())
    .bind(status)
    .bind(filter.vendor_id.unwrap_or_default())
    .bind(filter.event_ref.unwrap_or_default())
    .bind(page.fetch_limit())
    .fetch_all(&state.db.pool)
    .await?;
    Ok(ApiJson(
        page.finish(rows, |r| r.id.as_str()).map(Bill::from).into(),
    ))
}

/// One bill.
#[utoipa::path(get, path = "/finance/bills/{id}", tag = "finance", params(("id" = String, Path), ("x-org" = String, Header)),
    responses((status = 200, body = Bill), (status = 404, body = Problem)), security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<String>,
) -> ApiResult<ApiJson<Bill>> {
    member.require("finance.bills.read")?;
    let mut conn = state.db.pool.acquire().await?;
    let row = find(&mut conn, &member.company_id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("bill"))?;
    Ok(ApiJson(row.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BillChange {
    pub number: Option<String>,
    pub category: Option<String>,
    pub currency: Option<String>,
    pub amount: Option<i64>,
    pub tax: Option<i64>,
    pub issued_on: Option<String>,
    pub due_on: Option<String>,
    pub event_ref: Option<String>,
    pub description: Option<String>,
}

/// Changes a draft bill (a submitted one is changed by rejecting it and drafting anew).
#[utoipa::path(patch, path = "/finance/bills/{id}", tag = "finance", request_body = BillChange,
    params(("id" = String, Path), ("x-org" = String, Header)),
    responses((status = 200, body = Bill), (status = 400, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "`bill_not_draft`, `bill_number_taken`", body = Problem)),
    security(("bearer" = [])))]
pub async fn update(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<BillChange>,
) -> ApiResult<ApiJson<Bill>> {
    member.require("finance.bills.update")?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let before = lock(&state.db, &mut tx, &member.company_id, &id).await?;
    if before.status() != BillStatus::Draft {
        return Err(ApiError::conflict(
            "bill_not_draft",
            format!("only draft bills change; this one is {}", before.status),
        ));
    }
    let event_ref = match &body.event_ref {
        Some(e) => Some(e.as_str()),
        None => before.event_ref.as_deref(),
    };
    let f = check(Input {
        number: body.number.as_deref().unwrap_or(&before.number),
        category: body.category.as_deref().unwrap_or(&before.category),
        currency: body.currency.as_deref().unwrap_or(&before.currency),
        amount: body.amount.unwrap_or(before.amount),
        tax: body.tax.unwrap_or(before.tax),
        issued_on: body.issued_on.as_deref().unwrap_or(&before.issued_on),
        due_on: body.due_on.as_deref().unwrap_or(&before.due_on),
        event_ref,
        description: Some(body.description.as_deref().unwrap_or(&before.description)),
    })?;
    let updated = sqlx::query(
        "UPDATE finance_bills SET number = $3, category = $4, currency = $5, amount = $6, tax = $7, \
         issued_on = $8, due_on = $9, event_ref = $10, description = $11, updated_at = $12 \
         WHERE company_id = $1 AND id = $2",
    )
    .bind(member.company_id.as_str())
    .bind(&id)
    .bind(&f.number)
    .bind(&f.category)
    .bind(&f.currency)
    .bind(f.amount)
    .bind(f.tax)
    .bind(&f.issued_on)
    .bind(&f.due_on)
    .bind(&f.event_ref)
    .bind(&f.description)
    .bind(now)
    .execute(&mut *tx)
    .await;
    match updated {
        Err(err) if is_unique_violation(&err) => return Err(number_taken()),
        other => other?,
    };
    finish(tx, &member, before, "bill.updated", now).await
}

/// Records a change of a bill (audit) and answers it.
async fn finish(
    mut tx: Tx,
    member: &Member,
    before: BillRow,
    action: &str,
    now: i64,
) -> ApiResult<ApiJson<Bill>> {
    let after = find(&mut tx, &member.company_id, &before.id)
        .await?
        .ok_or_else(|| ApiError::not_found("bill"))?;
    audit::changed(
        &mut tx,
        member,
        action,
        ("bill", &before.id),
        Some(&before),
        Some(&after),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(ApiJson(after.into()))
}

/// One move of the state machine: from which states, to which, needing which permission.
struct Move {
    from: &'static [BillStatus],
    to: BillStatus,
    permission: &'static str,
    action: &'static str,
}

const SUBMIT: Move = Move {
    from: &[BillStatus::Draft],
    to: BillStatus::Submitted,
    permission: "finance.bills.update",
    action: "bill.submitted",
};
const APPROVE: Move = Move {
    from: &[BillStatus::Submitted],
    to: BillStatus::Approved,
    permission: "finance.bills.approve",
    action: "bill.approved",
};
const REJECT: Move = Move {
    from: &[BillStatus::Submitted],
    to: BillStatus::Rejected,
    permission: "finance.bills.approve",
    action: "bill.rejected",
};
const PAY: Move = Move {
    from: &[BillStatus::Approved],
    to: BillStatus::Paid,
    permission: "finance.bills.pay",
    action: "bill.paid",
};
const VOID: Move = Move {
    from: &[
        BillStatus::Draft,
        BillStatus::Submitted,
        BillStatus::Approved,
    ],
    to: BillStatus::Void,
    permission: "finance.bills.void",
    action: "bill.voided",
};

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MoveBody {
    /// Why (rejections need one; voids may give one).
    pub reason: Option<String>,
    /// For `pay`: the payment date; default today.
    pub paid_on: Option<String>,
}

async fn apply(
    state: &AppState,
    member: &Member,
    id: &str,
    step: Move,
    body: MoveBody,
) -> ApiResult<ApiJson<Bill>> {
    member.require(step.permission)?;
    let now = state.clock.now_ms();
    let reason = validate::opt_text("reason", body.reason.as_deref(), 500)?;
    if step.to == BillStatus::Rejected && reason.is_none() {
        return Err(ApiError::invalid("reason", "a rejection needs a reason"));
    }
    let paid_on = match (step.to, body.paid_on.as_deref()) {
        (BillStatus::Paid, Some(d)) => Some(date("paidOn", d)?),
        (BillStatus::Paid, None) => Some(today(now)),
        (_, Some(_)) => return Err(ApiError::invalid("paidOn", "paidOn is only for paying")),
        _ => None,
    };
    let mut tx = state.db.begin().await?;
    let before = lock(&state.db, &mut tx, &member.company_id, id).await?;
    let from = before.status();
    if !step.from.contains(&from) {
        return Err(ApiError::conflict(
            "invalid_transition",
            format!(
                "a {} bill cannot become {}",
                from.as_str(),
                step.to.as_str()
            ),
        ));
    }
    let actor = audit::actor(member);
    let decided = matches!(
        step.to,
        BillStatus::Approved | BillStatus::Rejected | BillStatus::Void
    );
    sqlx::query(
        "UPDATE finance_bills SET status = $3, \
         reason = COALESCE($4, reason), \
         submitted_at = CASE WHEN $3 = 'submitted' THEN $7 ELSE submitted_at END, \
         decided_by = CASE WHEN $5 = 1 THEN $6 ELSE decided_by END, \
         decided_at = CASE WHEN $5 = 1 THEN $7 ELSE decided_at END, \
         paid_on = COALESCE($8, paid_on), updated_at = $7 \
         WHERE company_id = $1 AND id = $2",
    )
    .bind(member.company_id.as_str())
    .bind(id)
    .bind(step.to.as_str())
    .bind(&reason)
    .bind(i64::from(decided))
    .bind(&actor)
    .bind(now)
    .bind(&paid_on)
    .execute(&mut *tx)
    .await?;
    finish(tx, member, before, step.action, now).await
}

macro_rules! move_route {
    ($name:ident, $step:expr, $path:literal, $doc:literal, $perm:literal) => {
        #[doc = $doc]
        #[utoipa::path(post, path = $path, tag = "finance", request_body = Option<MoveBody>,
            params(("id" = String, Path), ("x-org" = String, Header)),
            responses((status = 200, body = Bill), (status = 400, body = Problem),
                (status = 403, description = concat!("needs ", $perm), body = Problem),
                (status = 404, body = Problem), (status = 409, description = "`invalid_transition`", body = Problem)),
            security(("bearer" = [])))]
        pub async fn $name(
            State(state): State<AppState>,
            member: Member,
            Path(id): Path<String>,
            body: Option<ApiJson<MoveBody>>,
        ) -> ApiResult<ApiJson<Bill>> {
            apply(&state, &member, &id, $step, body.map(|b| b.0).unwrap_or_default()).await
        }
    };
}

move_route!(
    submit,
    SUBMIT,
    "/finance/bills/{id}/submit",
    "Submits a draft bill for approval.",
    "finance.bills.update"
);
move_route!(
    approve,
    APPROVE,
    "/finance/bills/{id}/approve",
    "Approves a submitted bill.",
    "finance.bills.approve"
);
move_route!(
    reject,
    REJECT,
    "/finance/bills/{id}/reject",
    "Rejects a submitted bill (a reason is required).",
    "finance.bills.approve"
);
move_route!(
    pay,
    PAY,
    "/finance/bills/{id}/pay",
    "Marks an approved bill paid.",
    "finance.bills.pay"
);
move_route!(
    void,
    VOID,
    "/finance/bills/{id}/void",
    "Voids a bill that is not paid.",
    "finance.bills.void"
);
