//! Offline scanning: the bundle, a reference verifier written from `docs/gate.md` alone
//! (it uses no Nextkt code), offline uploads and their conflicts, and transfers.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use nextkt::platform::clock::Clock;

use crate::gate::{checkin_list, device, scan, tickets, transfer};
use crate::helpers::{Auth, TestApp};
use crate::on_both_databases;

on_both_databases!(
    the_bundle_verifies_qrs_offline_and_hides_attendees,
    offline_uploads_are_idempotent_and_conflicts_are_kept,
    transfers_revoke_the_old_code_and_keep_the_claim
);

/// The reference offline verifier: what a scanner app does with a bundle and a scanned QR.
/// Returns the opened attendee data, or why the QR is refused.
mod reference {
    use super::*;

    fn derive(label: &str, code: &str) -> [u8; 32] {
        Sha256::digest(format!("{label}{code}").as_bytes()).into()
    }

    pub fn lookup_hash(code: &str) -> String {
        URL_SAFE_NO_PAD.encode(&derive("nextkt-gate-v1/lookup:", code)[..16])
    }

    pub fn open(code: &str, sealed: &str) -> Option<Value> {
        let bytes = URL_SAFE_NO_PAD.decode(sealed).ok()?;
        let (nonce, rest) = bytes.split_at_checked(12)?;
        let key = LessSafeKey::new(
            UnboundKey::new(&CHACHA20_POLY1305, &derive("nextkt-gate-v1/key:", code)).ok()?,
        );
        let mut rest = rest.to_vec();
        let aad = lookup_hash(code);
        let plain = key
            .open_in_place(
                Nonce::try_assume_unique_for_key(nonce).ok()?,
                Aad::from(aad.as_bytes()),
                &mut rest,
            )
            .ok()?;
        serde_json::from_slice(plain).ok()
    }

    pub fn verify(bundle: &Value, qr: &str, list_id: &str) -> Result<Value, &'static str> {
        // 1. Shape: NKT1.<payload>.<signature>.
        let parts: Vec<&str> = qr.split('.').collect();
        let [prefix, payload, signature] = parts[..] else {
            return Err("malformed");
        };
        if prefix != "NKT1" {
            return Err("malformed");
        }
        let claims: Value = URL_SAFE_NO_PAD
            .decode(payload)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or("malformed")?;
        // 2. The key named by kid, among the bundle's events' keys; the signature over the
        //    payload text.
        let (event, key) = bundle["events"]
            .as_array()
            .unwrap()
            .iter()
            .find_map(|e| {
                e["keys"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|k| k["id"] == claims["kid"])
                    .map(|k| (e, k))
            })
            .ok_or("unknown_key")?;
        if event["id"] != claims["eid"] {
            return Err("unknown_key");
        }
        let key: [u8; 32] = URL_SAFE_NO_PAD
            .decode(key["public_key"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        let signature: [u8; 64] = URL_SAFE_NO_PAD
            .decode(signature)
            .ok()
            .and_then(|s| s.try_into().ok())
            .ok_or("malformed")?;
        VerifyingKey::from_bytes(&key)
            .unwrap()
            .verify(payload.as_bytes(), &Signature::from_bytes(&signature))
            .map_err(|_| "bad_signature")?;
        // 3. The code's lookup hash: revoked, or the sealed attendee data.
        let code = claims["code"].as_str().ok_or("malformed")?;
        let hash = lookup_hash(code);
        if bundle["revoked"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r == &hash)
        {
            return Err("revoked");
        }
        let sealed = bundle["attendees"][&hash].as_str().ok_or("unknown")?;
        let attendee = open(code, sealed).ok_or("unknown")?;
        // 4. The list's rules.
        let list = bundle["lists"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["id"] == list_id)
            .ok_or("not_on_this_list")?;
        if list["event_id"] != attendee["event_id"] {
            return Err("wrong_event");
        }
        let types = list["ticket_type_ids"].as_array().unwrap();
        if !types.is_empty() && !types.contains(&attendee["ticket_type_id"]) {
            return Err("not_on_this_list");
        }
        if attendee["entered_list_ids"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l == list_id)
            && !list["allow_reentry"].as_bool().unwrap()
        {
            return Err("already_used");
        }
        Ok(attendee)
    }
}

async fn the_bundle_verifies_qrs_offline_and_hides_attendees(app: TestApp) {
    let owner = app.signup("owner@example.com").await;
    let auth = Auth::bearer(&owner.token);
    let ev = app
        .ga_event(&owner, 10, json!({}), json!({ "price": 0 }))
        .await;
    let list = checkin_list(&app, &auth, &ev.event_id, "Main").await;
    let dev = device(&app, &auth, &[&list]).await;
    let issued = tickets(&app, &owner.org_id, &ev, 4).await;
    let qr = |i: usize| issued[i]["qr_payload"].as_str().unwrap().to_string();

    // One ticket went in online; one moved to a new holder; one was refunded.
    assert_eq!(
        scan(&app, &dev, json!({ "nonce": "in-1", "code": qr(1) })).await["result"],
        "valid"
    );
    let moved = transfer(&app, &auth, &issued[2], "Nia Ramadhani", "nia@example.com").await;
    app.post(
        &format!(
            "/admin/orders/{}/refunds",
            issued[3]["order_id"].as_str().unwrap()
        ),
        &auth,
        json!({ "ticket_ids": [issued[3]["id"]] }),
    )
    .await
    .expect(201);

    let resp = app.get("/gate/bundle", &dev).await;
    assert_eq!(
        resp.headers
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    let bundle = resp.expect(200);
    assert_eq!(bundle["format"], "nextkt-gate-bundle/1");
    assert_eq!(bundle["attendees"].as_object().unwrap().len(), 3);

    // Genuine QRs are admitted, with the holder's name opened from the sealed data.
    let first = reference::verify(&bundle, &qr(0), &list).unwrap();
    assert_eq!(first["holder_name"], "Guest One");
    assert_eq!(first["ticket_type"], "GA");
    assert_eq!(first["ticket_id"], issued[0]["id"]);
    assert_eq!(
        reference::verify(&bundle, moved["qr_payload"].as_str().unwrap(), &list).unwrap()["holder_name"],
        "Nia Ramadhani"
    );
    // Already in (online, before the bundle), the old code of a transfer, a refund.
    assert_eq!(
        reference::verify(&bundle, &qr(1), &list),
        Err("already_used")
    );
    assert_eq!(reference::verify(&bundle, &qr(2), &list), Err("revoked"));
    assert_eq!(reference::verify(&bundle, &qr(3), &list), Err("revoked"));
    // A signature from another ticket, a key id the bundle does not have, garbage.
    let (payload0, _) = qr(0)
        .rsplit_once('.')
        .map(|(p, s)| (p.to_string(), s.to_string()))
        .unwrap();
    let (_, sig1) = qr(1)
        .rsplit_once('.')
        .map(|(p, s)| (p.to_string(), s.to_string()))
        .unwrap();
    assert_eq!(
        reference::verify(&bundle, &format!("{payload0}.{sig1}"), &list),
        Err("bad_signature")
    );
    let mut claims: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(qr(0).split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    claims["kid"] = json!("some-other-key");
    let rekeyed = format!(
        "NKT1.{}.{}",
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap()),
        qr(0).rsplit_once('.').unwrap().1
    );
    assert_eq!(
        reference::verify(&bundle, &rekeyed, &list),
        Err("unknown_key")
    );
    assert_eq!(reference::verify(&bundle, "hello", &list), Err("malformed"));
    // Another organization's genuine QR: its key is not in this bundle.
    let stranger = app.signup("stranger@example.com").await;
    let theirs_ev = app
        .ga_event(&stranger, 5, json!({}), json!({ "price": 0 }))
        .await;
    let theirs = tickets(&app, &stranger.org_id, &theirs_ev, 1).await;
    assert_eq!(
        reference::verify(&bundle, theirs[0]["qr_payload"].as_str().unwrap(), &list),
        Err("unknown_key")
    );

    // A lost device leaks nothing: no name or email in the clear, and an entry opens only
    // with its own ticket's code.
    let text = bundle.to_string();
    for secret in ["Guest One", "g@example.com", "Nia", "nia@example.com"] {
        assert!(!text.contains(secret), "{secret} readable in the bundle");
    }
    for t in &issued {
        assert!(
            !text.contains(t["code"].as_str().unwrap()),
            "a code in the bundle"
        );
    }
    let code0 = issued[0]["code"].as_str().unwrap();
    let opened = bundle["attendees"]
        .as_object()
        .unwrap()
        .values()
        .filter(|sealed| reference::open(code0, sealed.as_str().unwrap()).is_some())
        .count();
    assert_eq!(opened, 1);
    let guessed = bundle["attendees"]
        .as_object()
        .unwrap()
        .values()
        .filter(|sealed| reference::open("guessed-code", sealed.as_str().unwrap()).is_some())
        .count();
    assert_eq!(guessed, 0);

    // A bundle fetched right after a transfer already refuses the old code (bundles are
    // shared for a few seconds, but never across a revocation).
    transfer(&app, &auth, &issued[0], "Rina", "rina@example.com").await;
    let fresh = app.get("/gate/bundle", &dev).await.expect(200);
    assert_eq!(reference::verify(&fresh, &qr(0), &list), Err("revoked"));

    // A revoked device gets no bundle.
    let devices = app.get("/admin/devices", &auth).await.expect(200)["items"].clone();
    let device_id = devices[0]["id"].as_str().unwrap();
    app.delete(&format!("/admin/devices/{device_id}"), &auth)
        .await
        .expect(204);
    app.get("/gate/bundle", &dev)
        .await
        .expect_problem(401, "invalid_credentials");
}

async fn offline_uploads_are_idempotent_and_conflicts_are_kept(app: TestApp) {
    let owner = app.signup("owner@example.com").await;
    let auth = Auth::bearer(&owner.token);
    let ev = app
        .ga_event(&owner, 10, json!({}), json!({ "price": 0 }))
        .await;
    let list = checkin_list(&app, &auth, &ev.event_id, "Main").await;
    let online = device(&app, &auth, &[&list]).await;
    let offline = device(&app, &auth, &[&list]).await;
    let issued = tickets(&app, &owner.org_id, &ev, 3).await;
    let code = |i: usize| issued[i]["code"].as_str().unwrap().to_string();
    assert_eq!(
        scan(
            &app,
            &online,
            json!({ "nonce": "on-1", "code": code(0), "gate": "north" })
        )
        .await["result"],
        "valid"
    );

    // The offline gate admitted ticket 0 too (it could not know), and ticket 1; it turned
    // away a code it could not verify.
    let when = nextkt::platform::clock::rfc3339(app.clock.now_ms() - 60_000);
    let batch = json!({ "scans": [
        { "nonce": "off-1", "code": code(0), "gate": "south", "scanned_at": when, "device_result": "valid" },
        { "nonce": "off-2", "code": issued[1]["qr_payload"], "gate": "south", "scanned_at": when, "device_result": "valid" },
        { "nonce": "off-3", "code": "forged", "gate": "south", "scanned_at": when, "device_result": "unknown" },
    ]});
    let scans_before = app.count("scans").await;
    let answer = app
        .post("/gate/scans:batch", &offline, batch.clone())
        .await
        .expect(200);
    let results: Vec<&str> = answer["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["answer"]["result"].as_str().unwrap())
        .collect();
    assert_eq!(results, ["already_used", "valid", "unknown"]);
    assert_eq!(answer["conflicts"], 1);
    assert_eq!(answer["results"][0]["answer"]["conflict"], true);
    assert_eq!(
        answer["results"][0]["answer"]["first_scan"]["gate"],
        "north"
    );
    assert_eq!(app.count("scans").await, scans_before + 3);

    // The same upload again (a retry after a lost answer): the same answers, nothing new.
    let batch_again = batch.clone();
    let again = app
        .post("/gate/scans:batch", &offline, batch)
        .await
        .expect(200);
    assert_eq!(again["results"], answer["results"]);
    assert_eq!(app.count("scans").await, scans_before + 3);
    assert_eq!(app.count("scan_conflicts").await, 1);

    // The operator sees the conflict and the counts.
    let conflicts = app
        .get(
            &format!("/admin/events/{}/scan-conflicts", ev.event_id),
            &auth,
        )
        .await
        .expect(200)["items"]
        .clone();
    assert_eq!(conflicts.as_array().unwrap().len(), 1);
    assert_eq!(conflicts[0]["ticket_id"], issued[0]["id"]);
    assert_eq!(conflicts[0]["kind"], "already_used");
    assert_eq!(conflicts[0]["gate"], "south");
    assert_eq!(conflicts[0]["first_gate"], "north");
    let report = app
        .get(&format!("/admin/events/{}/checkins", ev.event_id), &auth)
        .await
        .expect(200);
    assert_eq!(report["conflicts"], 1);
    assert_eq!(report["lists"][0]["arrived"], 2);
    assert_eq!(report["lists"][0]["expected"], 3);

    // A bad item anywhere: the whole upload is refused and nothing is recorded.
    let bad = json!({ "scans": [
        { "nonce": "off-4", "code": code(2), "scanned_at": when, "device_result": "valid" },
        { "nonce": "off-5", "code": code(2), "direction": "sideways", "scanned_at": when, "device_result": "valid" },
    ]});
    let problem = app
        .post("/gate/scans:batch", &offline, bad)
        .await
        .expect_problem(400, "validation_failed");
    assert_eq!(problem["field"], "scans[1].direction");
    let future = json!({ "scans": [
        { "nonce": "off-6", "code": code(2), "scanned_at": "2099-01-01T00:00:00Z", "device_result": "valid" },
    ]});
    app.post("/gate/scans:batch", &offline, future)
        .await
        .expect_problem(400, "validation_failed");
    app.post("/gate/scans:batch", &offline, json!({ "scans": [] }))
        .await
        .expect_problem(400, "validation_failed");
    assert_eq!(app.count("scans").await, scans_before + 3);
    // Ticket 2 was never admitted: online it still goes in.
    assert_eq!(
        scan(&app, &online, json!({ "nonce": "on-2", "code": code(2) })).await["result"],
        "valid"
    );

    // A device working from an old bundle admits a code that was transferred away: refused
    // now, and kept as a conflict of its own kind.
    let sold = tickets(&app, &owner.org_id, &ev, 1).await;
    transfer(&app, &auth, &sold[0], "Nia", "nia@example.com").await;
    let late = app
        .post(
            "/gate/scans:batch",
            &offline,
            json!({ "scans": [{ "nonce": "off-7", "code": sold[0]["qr_payload"], "scanned_at": when, "device_result": "valid" }] }),
        )
        .await
        .expect(200);
    assert_eq!(late["results"][0]["answer"]["result"], "revoked");
    assert_eq!(late["conflicts"], 1);
    let conflicts = app
        .get(
            &format!("/admin/events/{}/scan-conflicts", ev.event_id),
            &auth,
        )
        .await
        .expect(200)["items"]
        .clone();
    assert_eq!(conflicts[1]["kind"], "revoked");
    assert_eq!(conflicts[1]["ticket_id"], sold[0]["id"]);

    // Weeks later the device uploads its old queue again (a reinstall): the same answers,
    // though the scans are now too old to be taken as new.
    app.clock.advance_secs(40 * 24 * 3600);
    let replay = app
        .post("/gate/scans:batch", &offline, batch_again)
        .await
        .expect(200);
    assert_eq!(replay["results"], answer["results"]);
    assert_eq!(app.count("scan_conflicts").await, 2);
}

async fn transfers_revoke_the_old_code_and_keep_the_claim(app: TestApp) {
    let owner = app.signup("owner@example.com").await;
    let auth = Auth::bearer(&owner.token);
    // Sold out once the buyer has both tickets.
    let ev = app
        .ga_event(&owner, 2, json!({}), json!({ "price": 0 }))
        .await;
    let list = checkin_list(&app, &auth, &ev.event_id, "Main").await;
    let dev = device(&app, &auth, &[&list]).await;
    let (_, buyer_token, _) = app.buyer(&owner.org_id, "budi@example.com").await;
    let buyer = Auth::buyer(&owner.org_id, &buyer_token);
    let added = app
        .post(
            "/consumer/cart/items",
            &buyer,
            json!({ "event_id": ev.event_id, "ticket_type_id": ev.ticket_type_id, "quantity": 2 }),
        )
        .await
        .expect(201);
    let Auth::Headers(mut with_cart) = buyer.clone() else {
        unreachable!()
    };
    with_cart.push((
        "x-cart-token".into(),
        added["cart_token"].as_str().unwrap().into(),
    ));
    let order = app
        .post("/consumer/checkout", &Auth::Headers(with_cart), json!({}))
        .await
        .expect(201);
    let (ticket, kept) = (
        order["order"]["tickets"][0].clone(),
        order["order"]["tickets"][1].clone(),
    );
    let ticket_id = ticket["id"].as_str().unwrap();
    let old_code = ticket["code"].as_str().unwrap();
    let path = |t: &Value| format!("/consumer/tickets/{}/transfer", t["id"].as_str().unwrap());
    let to_sari = json!({ "name": "Sari", "email": "sari@example.com" });

    // Buyers may transfer only when the event allows it; bad input changes nothing.
    app.post(&path(&ticket), &buyer, to_sari.clone())
        .await
        .expect_problem(422, "transfers_not_allowed");
    app.patch(
        &format!("/admin/events/{}", ev.event_id),
        &auth,
        json!({ "buyer_transfers": true, "transfer_cutoff_minutes": 120 }),
    )
    .await
    .expect(200);
    app.post(
        &path(&ticket),
        &buyer,
        json!({ "name": "", "email": "sari@example.com" }),
    )
    .await
    .expect_problem(400, "validation_failed");
    app.post(
        &path(&ticket),
        &buyer,
        json!({ "name": "Sari", "email": "not-an-email" }),
    )
    .await
    .expect_problem(400, "validation_failed");
    // Another buyer account cannot move it.
    let (_, other_token, _) = app.buyer(&owner.org_id, "eve@example.com").await;
    app.post(
        &path(&ticket),
        &Auth::buyer(&owner.org_id, &other_token),
        to_sari.clone(),
    )
    .await
    .expect_problem(404, "not_found");
    assert_eq!(app.count("ticket_transfers").await, 0);

    // The buyer gives it away: the new code goes to Sari, not back to the buyer.
    let moved = app.post(&path(&ticket), &buyer, to_sari).await.expect(200);
    assert_eq!(moved["id"], ticket["id"]);
    assert_eq!(moved["transferred"], true);
    for hidden in ["code", "qr_payload", "url", "holder_name"] {
        assert!(moved.get(hidden).is_none(), "{hidden} shown: {moved}");
    }
    let email = app
        .last_email("ticket_transferred", "sari@example.com")
        .await;
    assert_eq!(email["from"], "Budi");
    let new_code = email["url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let new_qr = email["qr_payload"].as_str().unwrap().to_string();
    assert_ne!(new_code, old_code);
    assert_eq!(app.ticket_json(&new_code).await["holder_name"], "Sari");
    let mine = app.get("/consumer/tickets", &buyer).await.expect(200)["items"].clone();
    let given = mine
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == ticket["id"])
        .unwrap();
    assert!(given.get("code").is_none(), "{given}");
    // A ticket given away is not the buyer's to move again.
    app.post(
        &path(&ticket),
        &buyer,
        json!({ "name": "Eve", "email": "eve@example.com" }),
    )
    .await
    .expect_problem(404, "not_found");

    // The old code and QR are refused at once; the new one goes in.
    for (nonce, code) in [
        ("o1", old_code),
        ("o2", ticket["qr_payload"].as_str().unwrap()),
    ] {
        let answer = scan(&app, &dev, json!({ "nonce": nonce, "code": code })).await;
        assert_eq!(answer["result"], "revoked");
        assert!(answer.get("ticket").is_none());
    }
    let admitted = scan(&app, &dev, json!({ "nonce": "n1", "code": new_qr })).await;
    assert_eq!(admitted["result"], "valid");
    assert_eq!(admitted["ticket"]["holder_name"], "Sari");
    app.get(&format!("/t/{old_code}"), &Auth::None)
        .await
        .expect_problem(404, "not_found");

    // The claim stayed: still sold out, still exact, still two tickets.
    crate::helpers::assert_exact(&app.audit(&owner).await);
    assert_eq!(app.count("tickets").await, 2);
    app.add_to_cart(
        &owner.org_id,
        None,
        json!({ "event_id": ev.event_id, "ticket_type_id": ev.ticket_type_id }),
    )
    .await
    .expect_problem(409, "sold_out");

    // A used ticket stays with its buyer; operators may still move any ticket.
    scan(&app, &dev, json!({ "nonce": "k1", "code": kept["code"] })).await;
    app.post(
        &path(&kept),
        &buyer,
        json!({ "name": "Tono", "email": "tono@example.com" }),
    )
    .await
    .expect_problem(422, "ticket_already_used");
    let by_operator = transfer(&app, &auth, &ticket, "Tono", "tono@example.com").await;
    assert_eq!(by_operator["holder_name"], "Tono");
    assert!(by_operator["code"].is_string());
    let history = app
        .get(&format!("/admin/tickets/{ticket_id}/transfers"), &auth)
        .await
        .expect(200)["items"]
        .clone();
    let moves: Vec<(&str, &str, &str)> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["from_name"].as_str().unwrap(),
                h["to_name"].as_str().unwrap(),
                h["by_kind"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        moves,
        [("Budi", "Sari", "buyer"), ("Sari", "Tono", "operator")]
    );
    // Sari's code is now revoked in the next bundle too.
    let bundle = app.get("/gate/bundle", &dev).await.expect(200);
    assert_eq!(bundle["revoked"].as_array().unwrap().len(), 2);
    assert_eq!(reference::verify(&bundle, &new_qr, &list), Err("revoked"));
    // Another organization cannot move it.
    let stranger = app.signup("stranger@example.com").await;
    app.post(
        &format!("/admin/tickets/{ticket_id}/transfer"),
        &Auth::bearer(&stranger.token),
        json!({ "name": "X", "email": "x@example.com" }),
    )
    .await
    .expect_problem(404, "not_found");

    // Within the cutoff (two hours before the start) buyers can no longer transfer.
    let soon = nextkt::platform::clock::rfc3339(app.clock.now_ms() + 3_600_000);
    app.patch(
        &format!("/admin/events/{}", ev.event_id),
        &auth,
        json!({ "starts_at": soon }),
    )
    .await
    .expect(200);
    app.post(
        &path(&kept),
        &buyer,
        json!({ "name": "Tono", "email": "tono@example.com" }),
    )
    .await
    .expect_problem(422, "transfer_closed");
}
