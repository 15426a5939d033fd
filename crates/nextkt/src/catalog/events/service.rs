//! The rules of events: what a field may hold, how the status moves, what the ticket types
//! already fixed; each change and its audit entry in one transaction.

use super::store;
use super::types::{Event, EventInput};
use super::{ArtistRef, DEFAULT_HOLD_MINUTES, EventRow, HostRef, VenueRef, Visibility};
use crate::commerce::pricing::FeePayer;
use crate::ids::{EventId, OrgId};
use crate::kisum::snapshots::{self, ArtistSnapshot, Resolved, VenueSnapshot};
use crate::platform::db::Tx;
use crate::platform::error::{ApiError, ApiResult};
use crate::platform::secrets::new_token;
use crate::platform::validate;
use crate::state::AppState;
use crate::tenancy::access::Actor;
use crate::tenancy::audit::{self, Change};

fn opt_time(field: &str, value: &str) -> ApiResult<Option<i64>> {
    if value.is_empty() {
        Ok(None)
    } else {
        validate::instant(field, value).map(Some)
    }
}

fn opt_limit(field: &str, value: i64) -> ApiResult<Option<i64>> {
    validate::range(field, value, 0, 10_000).map(|v| (v > 0).then_some(v))
}

/// Hosts: each named by text or a Kisum company id (or both), shares in basis points that
/// add up to at most 10,000.
fn check_hosts(hosts: &[HostRef]) -> ApiResult<Vec<HostRef>> {
    if hosts.len() > 20 {
        return Err(ApiError::invalid("hosts", "at most 20 hosts"));
    }
    let mut checked = Vec::with_capacity(hosts.len());
    let mut total = 0;
    for (i, host) in hosts.iter().enumerate() {
        let at = |e: ApiError| e.at_item("hosts", i);
        let name = validate::opt_text("name", host.name.as_deref(), 200).map_err(at)?;
        let company = match host.kisum_company_id.as_deref() {
            None | Some("") => None,
            Some(id) if crate::platform::ids::is_valid_external_id(id) => Some(id.to_string()),
            Some(_) => {
                return Err(at(ApiError::invalid(
                    "kisum_company_id",
                    "not a company id",
                )));
            }
        };
        if name.is_none() && company.is_none() {
            return Err(at(ApiError::invalid(
                "name",
                "name the host or give its kisum_company_id",
            )));
        }
        let share = validate::range("share_bps", host.share_bps, 0, 10_000).map_err(at)?;
        total += share;
        checked.push(HostRef {
            name,
            kisum_company_id: company,
            share_bps: share,
        });
    }
    if total > 10_000 {
        return Err(ApiError::invalid(
            "hosts",
            "the hosts' shares add up to more than 10,000 bps",
        ));
    }
    Ok(checked)
}

/// Applies `input` to `row`, checking every field and the rules between them.
fn apply(row: &mut EventRow, input: EventInput) -> ApiResult<()> {
    if let Some(title) = &input.title {
        row.title_json = serde_json::to_string(&validate::localized(
            "title",
            title,
            200,
            validate::Lines::One,
            true,
        )?)
        .unwrap_or_default();
    }
    if let Some(description) = &input.description {
        row.description_json = serde_json::to_string(&validate::localized(
            "description",
            description,
            20_000,
            validate::Lines::Many,
            false,
        )?)
        .unwrap_or_default();
    }
    if let Some(at) = &input.starts_at {
        row.starts_at = validate::instant("starts_at", at)?;
    }
    if let Some(at) = &input.ends_at {
        row.ends_at = validate::instant("ends_at", at)?;
    }
    if let Some(tz) = &input.timezone {
        row.timezone = validate::timezone("timezone", tz)?;
    }
    if let Some(venue) = input.venue {
        let name = if venue.id.is_some() && venue.name.trim().is_empty() {
            // A Kisum venue's name comes from Kisum.
            String::new()
        } else {
            validate::text("venue.name", &venue.name, 200)?
        };
        let city = validate::opt_text("venue.city", venue.city.as_deref(), 100)?;
        let address = validate::opt_text("venue.address", venue.address.as_deref(), 500)?;
        let id = validate::opt_text("venue.id", venue.id.as_deref(), 100)?;
        if let Some(capacity) = venue.capacity {
            validate::range("venue.capacity", capacity, 0, 10_000_000)?;
        }
        row.city = city.clone();
        let venue = VenueRef {
            id,
            name,
            city,
            address,
            // Set from Kisum, never from the request.
            timezone: None,
            snapshot: None,
            company_id: None,
            ..venue
        };
        row.venue_json = Some(serde_json::to_string(&venue).unwrap_or_default());
    }
    if let Some(artists) = &input.artist_ids {
        if artists.len() > 100
            || artists
                .iter()
                .any(|a| !crate::platform::ids::is_valid_external_id(a))
        {
            return Err(ApiError::invalid("artist_ids", "up to 100 plain ids"));
        }
        row.artist_ids_json = serde_json::to_string(artists).unwrap_or_default();
        let plain: Vec<ArtistRef> = artists
            .iter()
            .map(|id| ArtistRef {
                id: id.clone(),
                name: String::new(),
                image_url: None,
                snapshot: None,
                company_id: None,
            })
            .collect();
        row.artists_json = serde_json::to_string(&plain).unwrap_or_default();
    }
    if let Some(hosts) = &input.hosts {
        row.hosts_json = serde_json::to_string(&check_hosts(hosts)?).unwrap_or_default();
    }
    if let Some(visibility) = input.visibility {
        row.visibility = visibility.as_str().to_string();
        if visibility == Visibility::Private && row.access_key.is_none() {
            row.access_key = Some(new_token("ev_"));
        }
    }
    if let Some(mode) = input.mode {
        row.mode = mode.as_str().to_string();
    }
    if let Some(at) = &input.sale_starts_at {
        row.sale_starts_at = opt_time("sale_starts_at", at)?;
    }
    if let Some(at) = &input.sale_ends_at {
        row.sale_ends_at = opt_time("sale_ends_at", at)?;
    }
    if let Some(n) = input.max_per_order {
        row.max_per_order = opt_limit("max_per_order", n)?;
    }
    if let Some(n) = input.max_per_buyer {
        row.max_per_buyer = opt_limit("max_per_buyer", n)?;
    }
    if let Some(m) = input.hold_minutes {
        row.hold_seconds = validate::range("hold_minutes", m, 1, 60)? * 60;
    }
    if let Some(m) = input.hold_extension_minutes {
        row.hold_extension_seconds = validate::range("hold_extension_minutes", m, 0, 60)? * 60;
    }
    if let Some(on) = input.buyer_transfers {
        row.buyer_transfers = i64::from(on);
    }
    if let Some(m) = input.transfer_cutoff_minutes {
        row.transfer_cutoff_seconds =
            validate::range("transfer_cutoff_minutes", m, 0, 10_080)? * 60;
    }
    if let Some(currency) = &input.currency {
        row.currency = validate::currency("currency", currency)?;
    }
    if let Some(payer) = input.fee_payer {
        row.fee_payer = match payer {
            FeePayer::Buyer => "buyer",
            FeePayer::Organizer => "organizer",
        }
        .to_string();
    }
    if let Some(map) = &input.map_image_ref {
        row.map_image_ref = if map.is_empty() {
            None
        } else {
            Some(validate::text("map_image_ref", map, 500)?)
        };
    }
    if row.ends_at <= row.starts_at {
        return Err(ApiError::invalid("ends_at", "must be after starts_at"));
    }
    if let (Some(from), Some(to)) = (row.sale_starts_at, row.sale_ends_at)
        && to <= from
    {
        return Err(ApiError::invalid(
            "sale_ends_at",
            "must be after sale_starts_at",
        ));
    }
    if let (Some(order), Some(buyer)) = (row.max_per_order, row.max_per_buyer)
        && order > buyer
    {
        return Err(ApiError::invalid(
            "max_per_order",
            "cannot exceed max_per_buyer",
        ));
    }
    if row.title_json.is_empty() {
        return Err(ApiError::invalid("title", "required"));
    }
    Ok(())
}

/// What Kisum said of the venue and artists an event input names, read before the event's
/// transaction (Kisum is never called with a transaction open).
#[derive(Default)]
struct KisumRefs {
    venue: Option<(String, Resolved<VenueSnapshot>)>,
    artists: Vec<(String, Resolved<ArtistSnapshot>)>,
}

async fn resolve_refs(state: &AppState, input: &EventInput) -> ApiResult<KisumRefs> {
    let mut refs = KisumRefs::default();
    if let Some(id) = input.venue.as_ref().and_then(|v| v.id.as_deref())
        && let Some(resolved) = snapshots::resolve_venue(state, id).await?
    {
        refs.venue = Some((id.to_string(), resolved));
    }
    if let Some(ids) = &input.artist_ids {
        for id in ids.iter().take(100) {
            if let Some(resolved) = snapshots::resolve_artist(state, id).await? {
                refs.artists.push((id.clone(), resolved));
            }
        }
    }
    Ok(refs)
}

fn venue_from(id: &str, snapshot: &VenueSnapshot) -> VenueRef {
    VenueRef {
        id: Some(id.to_string()),
        name: snapshot.name.clone(),
        city: Some(snapshot.city.clone()),
        address: Some(snapshot.address.clone()),
        capacity: Some(snapshot.capacity),
        timezone: Some(snapshot.timezone.clone()),
        company_id: (!snapshot.company_id.is_empty()).then(|| snapshot.company_id.clone()),
        snapshot: Some(
            if snapshot.archived {
                "archived"
            } else {
                "fresh"
            }
            .to_string(),
        ),
    }
}

fn artist_from(id: &str, resolved: &Resolved<ArtistSnapshot>) -> ArtistRef {
    match resolved {
        Resolved::Fresh(a, _) | Resolved::Stale(a) => ArtistRef {
            id: id.to_string(),
            name: a.name.clone(),
            image_url: a.image_url.clone(),
            snapshot: Some(
                match resolved {
                    Resolved::Fresh(..) if a.archived => "archived",
                    Resolved::Fresh(..) => "fresh",
                    _ => "pending",
                }
                .into(),
            ),
            company_id: (!a.company_id.is_empty()).then(|| a.company_id.clone()),
        },
        Resolved::Pending => ArtistRef {
            id: id.to_string(),
            name: String::new(),
            image_url: None,
            snapshot: Some("pending".into()),
            company_id: None,
        },
    }
}

/// Puts what Kisum said on the row: the venue's fields (and, unless the input named one,
/// its time zone as the event's), and the artists.
fn apply_refs(row: &mut EventRow, refs: &KisumRefs, timezone_given: bool) {
    if let Some((id, resolved)) = &refs.venue {
        let venue = match resolved {
            Resolved::Fresh(snapshot, _) => {
                if !timezone_given {
                    row.timezone = snapshot.timezone.clone();
                }
                venue_from(id, snapshot)
            }
            Resolved::Stale(snapshot) => {
                // The last snapshot held, not confirmed now.
                let mut venue = venue_from(id, snapshot);
                venue.snapshot = Some("pending".into());
                venue
            }
            Resolved::Pending => {
                let mut given: VenueRef = row
                    .venue_json
                    .as_deref()
                    .and_then(|v| serde_json::from_str(v).ok())
                    .unwrap_or(VenueRef {
                        id: Some(id.clone()),
                        name: String::new(),
                        city: None,
                        address: None,
                        capacity: None,
                        timezone: None,
                        snapshot: None,
                        company_id: None,
                    });
                given.snapshot = Some("pending".into());
                given
            }
        };
        row.city = venue.city.clone();
        row.venue_json = Some(serde_json::to_string(&venue).unwrap_or_default());
    }
    if !refs.artists.is_empty() {
        let artists: Vec<ArtistRef> = refs
            .artists
            .iter()
            .map(|(id, resolved)| artist_from(id, resolved))
            .collect();
        row.artists_json = serde_json::to_string(&artists).unwrap_or_default();
    }
}

async fn remember_refs(state: &AppState, tx: &mut Tx, refs: &KisumRefs) -> Result<(), sqlx::Error> {
    if let Some((id, resolved)) = &refs.venue {
        snapshots::remember_venue(state, tx, id, resolved).await?;
    }
    for (id, resolved) in &refs.artists {
        snapshots::remember_artist(state, tx, id, resolved).await?;
    }
    Ok(())
}

/// The refresh job's hand-over: every event showing Kisum venue `venue_id` takes the new
/// snapshot (name, city, address, capacity, time zone of the venue; the event's own time
/// zone stays as set).
pub async fn apply_venue_snapshot(
    tx: &mut Tx,
    venue_id: &str,
    snapshot: &VenueSnapshot,
) -> Result<usize, sqlx::Error> {
    let needle = serde_json::to_string(&serde_json::json!({ "id": venue_id })).unwrap_or_default();
    let needle = needle.trim_start_matches('{').trim_end_matches('}');
    let mut changed = 0;
    for mut row in store::mentioning(tx, "venue_json", needle).await? {
        let current: Option<VenueRef> = row
            .venue_json
            .as_deref()
            .and_then(|v| serde_json::from_str(v).ok());
        if current.and_then(|v| v.id).as_deref() != Some(venue_id) {
            continue;
        }
        let venue =
            Some(serde_json::to_string(&venue_from(venue_id, snapshot)).unwrap_or_default());
        if row.venue_json == venue {
            continue;
        }
        row.city = Some(snapshot.city.clone());
        row.venue_json = venue;
        store::save_references(tx, &row).await?;
        changed += 1;
    }
    Ok(changed)
}

/// Kisum no longer knows venue or artist `kisum_id` (`kind` is `venue` or `artist`): the
/// events that show it keep what they showed, marked `missing`.
pub async fn mark_kisum_missing(
    tx: &mut Tx,
    kind: &str,
    kisum_id: &str,
) -> Result<usize, sqlx::Error> {
    let mut changed = 0;
    if kind == "venue" {
        let needle =
            serde_json::to_string(&serde_json::json!({ "id": kisum_id })).unwrap_or_default();
        let needle = needle.trim_start_matches('{').trim_end_matches('}');
        for mut row in store::mentioning(tx, "venue_json", needle).await? {
            let Some(mut venue) = row
                .venue_json
                .as_deref()
                .and_then(|v| serde_json::from_str::<VenueRef>(v).ok())
                .filter(|v| v.id.as_deref() == Some(kisum_id))
            else {
                continue;
            };
            if venue.snapshot.as_deref() == Some("missing") {
                continue;
            }
            venue.snapshot = Some("missing".into());
            row.venue_json = Some(serde_json::to_string(&venue).unwrap_or_default());
            store::save_references(tx, &row).await?;
            changed += 1;
        }
    } else {
        let needle = serde_json::to_string(kisum_id).unwrap_or_default();
        for mut row in store::mentioning(tx, "artist_ids_json", &needle).await? {
            let mut artists: Vec<ArtistRef> =
                serde_json::from_str(&row.artists_json).unwrap_or_default();
            let mut touched = false;
            for artist in artists.iter_mut().filter(|a| a.id == kisum_id) {
                if artist.snapshot.as_deref() != Some("missing") {
                    artist.snapshot = Some("missing".into());
                    touched = true;
                }
            }
            if touched {
                row.artists_json = serde_json::to_string(&artists).unwrap_or_default();
                store::save_references(tx, &row).await?;
                changed += 1;
            }
        }
    }
    Ok(changed)
}

/// The refresh job's hand-over for an artist: every event showing it takes the new name
/// and image.
pub async fn apply_artist_snapshot(
    tx: &mut Tx,
    artist_id: &str,
    snapshot: &ArtistSnapshot,
) -> Result<usize, sqlx::Error> {
    let needle = serde_json::to_string(artist_id).unwrap_or_default();
    let mut changed = 0;
    for mut row in store::mentioning(tx, "artist_ids_json", &needle).await? {
        let mut artists: Vec<ArtistRef> =
            serde_json::from_str(&row.artists_json).unwrap_or_default();
        for artist in artists.iter_mut().filter(|a| a.id == artist_id) {
            *artist = artist_from(artist_id, &Resolved::Fresh(snapshot.clone(), String::new()));
        }
        let json = serde_json::to_string(&artists).unwrap_or_default();
        if json != row.artists_json {
            row.artists_json = json;
            store::save_references(tx, &row).await?;
            changed += 1;
        }
    }
    Ok(changed)
}

/// Creates an event (as a draft) in the organization's zone and currency, unless `input`
/// says otherwise. The caller has checked that the title and times are there.
#[tracing::instrument(skip_all, fields(org_id = %org_id))]
pub async fn create(
    state: &AppState,
    org_id: &OrgId,
    actor: &Actor,
    input: EventInput,
) -> ApiResult<Event> {
    let org = crate::tenancy::organizations::find(&state.db, org_id)
        .await?
        .ok_or_else(|| ApiError::not_found("organization"))?;
    let now = state.clock.now_ms();
    let mut row = EventRow {
        id: EventId::generate(),
        organization_id: org_id.clone(),
        title_json: String::new(),
        description_json: "{}".into(),
        starts_at: 0,
        ends_at: 0,
        timezone: org.timezone,
        venue_json: None,
        city: None,
        artist_ids_json: "[]".into(),
        status: "draft".into(),
        visibility: "public".into(),
        access_key: None,
        mode: "ga".into(),
        sale_starts_at: None,
        sale_ends_at: None,
        max_per_order: None,
        max_per_buyer: None,
        hold_seconds: DEFAULT_HOLD_MINUTES * 60,
        hold_extension_seconds: 0,
        map_image_ref: None,
        created_at: now,
        updated_at: now,
        published_at: None,
        fee_payer: "buyer".into(),
        buyer_transfers: 0,
        transfer_cutoff_seconds: 0,
        currency: org.currency,
        artists_json: "[]".into(),
        hosts_json: "[]".into(),
    };
    let refs = resolve_refs(state, &input).await?;
    let timezone_given = input.timezone.is_some();
    apply(&mut row, input)?;
    apply_refs(&mut row, &refs, timezone_given);
    let mut tx = state.db.begin().await?;
    store::insert(&mut tx, &row).await?;
    remember_refs(state, &mut tx, &refs).await?;
    let event: Event = row.into();
    audit::record(
        &mut tx,
        Change {
            org_id: Some(org_id),
            actor,
            action: "event.created",
            target_kind: "event",
            target_id: &event.id,
            before: None,
            after: serde_json::to_value(&event).ok(),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(event)
}

/// Changes an event. Its currency is fixed once it has ticket types, and its mode must
/// allow the kinds of those it has.
#[tracing::instrument(skip_all, fields(org_id = %org_id, event_id = %event_id))]
pub async fn update(
    state: &AppState,
    org_id: &OrgId,
    actor: &Actor,
    event_id: &EventId,
    input: EventInput,
) -> ApiResult<Event> {
    let refs = resolve_refs(state, &input).await?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let mut row = store::find_in(&state.db, &mut tx, org_id, event_id).await?;
    let before = serde_json::to_value(Event::from(row.clone())).ok();
    let new_mode = input.mode;
    let old_currency = row.currency.clone();
    let timezone_given = true;
    apply(&mut row, input)?;
    apply_refs(&mut row, &refs, timezone_given);
    remember_refs(state, &mut tx, &refs).await?;
    if row.currency != old_currency {
        let types = store::ticket_type_count(&mut tx, &row.id).await?;
        if types > 0 {
            return Err(ApiError::rule(
                "currency_fixed",
                format!(
                    "the event sells in {old_currency}; its currency cannot change once it has ticket types"
                ),
            ));
        }
    }
    if let Some(mode) = new_mode {
        let kinds = store::ticket_type_kinds(&mut tx, &row.id).await?;
        if let Some(kind) = kinds.iter().find(|k| !mode.allows(k)) {
            return Err(ApiError::rule(
                "mode_conflict",
                format!(
                    "the event has {kind} ticket types, which mode {} does not allow",
                    mode.as_str()
                ),
            ));
        }
    }
    row.updated_at = now;
    store::save(&mut tx, &row).await?;
    let event: Event = row.into();
    audit::record(
        &mut tx,
        Change {
            org_id: Some(org_id),
            actor,
            action: "event.updated",
            target_kind: "event",
            target_id: &event.id,
            before,
            after: serde_json::to_value(&event).ok(),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(event)
}

/// A move of an event's status.
#[derive(Clone, Copy)]
pub enum Transition {
    Publish,
    Unpublish,
    End,
    Cancel,
}

/// Moves an event's status: `draft` → `published` (once it has a ticket type) → `ended`,
/// back to `draft`, or to `cancelled` from either of the first two.
#[tracing::instrument(skip_all, fields(org_id = %org_id, event_id = %event_id))]
pub async fn transition(
    state: &AppState,
    org_id: &OrgId,
    actor: &Actor,
    event_id: &EventId,
    transition: Transition,
) -> ApiResult<Event> {
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let mut row = store::find_in(&state.db, &mut tx, org_id, event_id).await?;
    let from = row.status.clone();
    let (allowed, to, action) = match transition {
        Transition::Publish => (from == "draft", "published", "event.published"),
        Transition::Unpublish => (from == "published", "draft", "event.unpublished"),
        Transition::End => (from == "published", "ended", "event.ended"),
        Transition::Cancel => (
            from == "draft" || from == "published",
            "cancelled",
            "event.cancelled",
        ),
    };
    if !allowed {
        return Err(ApiError::rule(
            "invalid_transition",
            format!("a {from} event cannot become {to}"),
        ));
    }
    if let Transition::Publish = transition {
        let types = store::ticket_type_count(&mut tx, &row.id).await?;
        if types == 0 {
            return Err(ApiError::rule(
                "no_ticket_types",
                "add a ticket type before publishing",
            ));
        }
        row.published_at.get_or_insert(now);
    }
    row.status = to.to_string();
    row.updated_at = now;
    store::save(&mut tx, &row).await?;
    audit::record(
        &mut tx,
        Change {
            org_id: Some(org_id),
            actor,
            action,
            target_kind: "event",
            target_id: &row.id,
            before: Some(serde_json::json!({ "status": from })),
            after: Some(serde_json::json!({ "status": to })),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(row.into())
}
