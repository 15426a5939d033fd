//! Signup, sessions, JWKS rotation, effective access, delegation, and revocation across
//! processes.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{PASSWORD, TestApp, second_process, strings};
use crate::on_both_databases;

on_both_databases!(
    signup_makes_a_superadmin_of_a_trial_company,
    signup_refuses_what_needs_payment_and_writes_nothing,
    refresh_tokens_rotate_and_a_replay_revokes_the_session,
    logout_and_password_change_revoke_access_tokens_at_once,
    the_chain_answers_401_400_403_in_order,
    rotated_keys_keep_verifying_and_other_processes_follow,
    delegation_stays_within_what_the_grantor_holds,
    a_revocation_in_one_process_is_honoured_by_the_next_request_in_another,
    access_that_cannot_be_proven_current_is_refused,
    two_superadmins_stepping_each_other_down_at_once_leave_one,
);

async fn signup_makes_a_superadmin_of_a_trial_company(app: TestApp) {
    let ana = app
        .signup("ana@promo.test", "basic_promoter", &["finance"])
        .await;
    let access = app.access(&ana.token, &ana.company).await.expect(200);
    assert_eq!(access["userId"], ana.user_id.as_str());
    assert_eq!(access["companyId"], ana.company.as_str());
    assert_eq!(access["tenantRole"], "TENANT_SUPERADMIN");
    assert_eq!(strings(&access["modules"]), ["promoter", "finance"]);
    let permissions = strings(&access["permissions"]);
    assert!(permissions.contains(&"finance.bills.approve".to_string()));
    assert!(permissions.contains(&"promoter.events.manage".to_string()));
    assert!(!permissions.iter().any(|p| p.starts_with("venue.")));
    assert_eq!(access["delegation"]["canManageUsers"], true);
    assert_eq!(access["delegation"]["canBuyAddons"], true);
    assert_eq!(
        strings(&access["delegation"]["grantableModules"]),
        ["promoter", "finance"]
    );
    assert_eq!(access["meta"]["tokenVersion"], 1);
    assert_eq!(access["meta"]["accessVersion"], 2);
    assert_eq!(access["meta"]["entitlementVersion"], 2);

    let owned = app.entitlements(&ana.company).await;
    assert_eq!(owned["subscription"]["status"], "trial");
    assert_eq!(owned["addons"][0]["status"], "trial");
    let history = app
        .internal(
            Method::GET,
            &format!("/internal/companies/{}/history", ana.company),
            None,
        )
        .await
        .expect(200);
    assert_eq!(history["items"][0]["source"], "checkout");
    let company = app
        .internal(
            Method::GET,
            &format!("/internal/companies/{}", ana.company),
            None,
        )
        .await
        .expect(200);
    assert_eq!(company["hadTrial"], true);

    // The same person logs in again.
    let login = app
        .call(
            Method::POST,
            "/auth/login",
            &[],
            Some(json!({ "email": "ANA@promo.test", "password": PASSWORD })),
        )
        .await
        .expect(200);
    assert_eq!(login["userId"], ana.user_id.as_str());
    assert_eq!(login["expiresIn"], 900);
    app.call(
        Method::POST,
        "/auth/login",
        &[],
        Some(json!({ "email": "ana@promo.test", "password": "wrong password!" })),
    )
    .await
    .expect_problem(401, "invalid_credentials");
    app.call(
        Method::POST,
        "/auth/login",
        &[],
        Some(json!({ "email": "nobody@promo.test", "password": PASSWORD })),
    )
    .await
    .expect_problem(401, "invalid_credentials");
}

async fn signup_refuses_what_needs_payment_and_writes_nothing(app: TestApp) {
    let base = json!({
        "email": "vera@vendor.test", "password": PASSWORD, "name": "Vera",
        "companyName": "Vera Vending", "package": "basic_vendor", "addons": [],
    });
    app.call(Method::POST, "/auth/signup", &[], Some(base.clone()))
        .await
        .expect_problem(422, "payment_required");
    let mut marketplace = base.clone();
    marketplace["package"] = json!("basic_promoter");
    marketplace["addons"] = json!(["venue_marketplace"]);
    app.call(Method::POST, "/auth/signup", &[], Some(marketplace))
        .await
        .expect_problem(422, "payment_required");
    let mut wrong_persona = base.clone();
    wrong_persona["package"] = json!("basic_venue");
    wrong_persona["addons"] = json!(["touring"]);
    app.call(Method::POST, "/auth/signup", &[], Some(wrong_persona))
        .await
        .expect_problem(422, "addon_not_available");
    let mut short = base.clone();
    short["package"] = json!("basic_promoter");
    short["password"] = json!("short");
    app.call(Method::POST, "/auth/signup", &[], Some(short))
        .await
        .expect_problem(400, "validation_failed");
    let mut bad_email = base.clone();
    bad_email["package"] = json!("basic_promoter");
    bad_email["email"] = json!("not-an-email");
    app.call(Method::POST, "/auth/signup", &[], Some(bad_email))
        .await
        .expect_problem(400, "validation_failed");
    // Nothing was written: no company, and the email is still free.
    let companies = app
        .internal(Method::GET, "/internal/companies", None)
        .await
        .expect(200);
    assert_eq!(companies["items"], json!([]));
    app.call(
        Method::POST,
        "/auth/login",
        &[],
        Some(json!({ "email": "vera@vendor.test", "password": PASSWORD })),
    )
    .await
    .expect_problem(401, "invalid_credentials");
    app.signup("vera@vendor.test", "basic_promoter", &[]).await;
    let mut again = base;
    again["package"] = json!("basic_promoter");
    app.call(Method::POST, "/auth/signup", &[], Some(again))
        .await
        .expect_problem(409, "email_taken");
}

async fn refresh_tokens_rotate_and_a_replay_revokes_the_session(app: TestApp) {
    let bo = app.user("bo@artist.test").await;
    let first = app
        .call(
            Method::POST,
            "/auth/refresh",
            &[],
            Some(json!({ "refreshToken": bo.refresh })),
        )
        .await
        .expect(200);
    let second_refresh = first["refreshToken"].as_str().unwrap().to_string();
    assert_ne!(second_refresh, bo.refresh);
    app.access(first["accessToken"].as_str().unwrap(), &bo.company)
        .await
        .expect(200);
    // The first refresh token again: a replay. The whole session ends.
    app.call(
        Method::POST,
        "/auth/refresh",
        &[],
        Some(json!({ "refreshToken": bo.refresh })),
    )
    .await
    .expect_problem(401, "refresh_reused");
    app.call(
        Method::POST,
        "/auth/refresh",
        &[],
        Some(json!({ "refreshToken": second_refresh })),
    )
    .await
    .expect_problem(401, "session_revoked");
    app.call(
        Method::POST,
        "/auth/refresh",
        &[],
        Some(json!({ "refreshToken": "ksm_rt_made-up" })),
    )
    .await
    .expect_problem(401, "invalid_refresh_token");
}

async fn logout_and_password_change_revoke_access_tokens_at_once(app: TestApp) {
    let cy = app.user("cy@artist.test").await;
    app.access(&cy.token, &cy.company).await.expect(200);
    let auth = format!("Bearer {}", cy.token);
    let resp = app
        .call(
            Method::POST,
            "/auth/logout",
            &[("authorization", auth.as_str())],
            None,
        )
        .await;
    assert_eq!(resp.status, 204);
    app.access(&cy.token, &cy.company)
        .await
        .expect_problem(401, "session_revoked");
    app.call(
        Method::POST,
        "/auth/refresh",
        &[],
        Some(json!({ "refreshToken": cy.refresh })),
    )
    .await
    .expect_problem(401, "session_revoked");

    let login = app
        .call(
            Method::POST,
            "/auth/login",
            &[],
            Some(json!({ "email": "cy@artist.test", "password": PASSWORD })),
        )
        .await
        .expect(200);
    let token = login["accessToken"].as_str().unwrap().to_string();
    let auth = format!("Bearer {token}");
    app.call(
        Method::POST,
        "/auth/password",
        &[("authorization", auth.as_str())],
        Some(json!({ "currentPassword": "not it at all", "newPassword": "a brand new password" })),
    )
    .await
    .expect_problem(401, "invalid_credentials");
    let changed = app
        .call(
            Method::POST,
            "/auth/password",
            &[("authorization", auth.as_str())],
            Some(json!({ "currentPassword": PASSWORD, "newPassword": "a brand new password" })),
        )
        .await;
    assert_eq!(changed.status, 204);
    app.access(&token, &cy.company)
        .await
        .expect_problem(401, "session_revoked");
    app.call(
        Method::POST,
        "/auth/login",
        &[],
        Some(json!({ "email": "cy@artist.test", "password": "a brand new password" })),
    )
    .await
    .expect(200);
}

async fn the_chain_answers_401_400_403_in_order(app: TestApp) {
    let dee = app.user("dee@artist.test").await;
    let other = app.user("eve@artist.test").await;
    app.call(
        Method::GET,
        "/auth/me/access",
        &[("x-org", dee.company.as_str())],
        None,
    )
    .await
    .expect_problem(401, "unauthorized");
    app.as_member(
        "not.a.jwt",
        &dee.company,
        Method::GET,
        "/auth/me/access",
        None,
    )
    .await
    .expect_problem(401, "unauthorized");
    // A token forged with a made-up key id never verifies.
    let forged = format!(
        "{}.{}.{}",
        "eyJhbGciOiJFZERTQSIsImtpZCI6Im5vcGUifQ",
        "eyJzdWIiOiJ4IiwidHYiOjEsInNpZCI6IngiLCJpYXQiOjEsImV4cCI6OTk5OTk5OTk5OSwiaXNzIjoia2lzdW0ifQ",
        "AAAA"
    );
    app.as_member(&forged, &dee.company, Method::GET, "/auth/me/access", None)
        .await
        .expect_problem(401, "unauthorized");
    let auth = format!("Bearer {}", dee.token);
    app.call(
        Method::GET,
        "/auth/me/access",
        &[("authorization", auth.as_str())],
        None,
    )
    .await
    .expect_problem(400, "x_org_required");
    app.as_member(&dee.token, "bad org!", Method::GET, "/auth/me/access", None)
        .await
        .expect_problem(400, "x_org_required");
    app.access(&dee.token, &other.company)
        .await
        .expect_problem(403, "not_a_member");
    // The access token expires by the server's clock.
    app.clock.advance_secs(901);
    app.access(&dee.token, &dee.company)
        .await
        .expect_problem(401, "token_expired");
}

async fn rotated_keys_keep_verifying_and_other_processes_follow(app: TestApp) {
    let other = second_process(&app).await;
    let fay = app.user("fay@artist.test").await;
    let jwks = app
        .call(Method::GET, "/.well-known/jwks.json", &[], None)
        .await
        .expect(200);
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
    assert_eq!(jwks["keys"][0]["kty"], "OKP");
    assert_eq!(jwks["keys"][0]["alg"], "EdDSA");
    let old_kid = jwks["keys"][0]["kid"].as_str().unwrap().to_string();

    let rotated = app
        .internal(Method::POST, "/internal/auth/keys/rotate", None)
        .await
        .expect(200);
    let new_kid = rotated["kid"].as_str().unwrap().to_string();
    assert_ne!(new_kid, old_kid);
    let jwks = app
        .call(Method::GET, "/.well-known/jwks.json", &[], None)
        .await
        .expect(200);
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);

    // The old token still verifies, in both processes.
    app.access(&fay.token, &fay.company).await.expect(200);
    other.access(&fay.token, &fay.company).await.expect(200);
    // A new login is signed with the new key, and the other process (which has not seen
    // it) loads it when the token names it.
    let login = other
        .call(
            Method::POST,
            "/auth/login",
            &[],
            Some(json!({ "email": "fay@artist.test", "password": PASSWORD })),
        )
        .await
        .expect(200);
    let token = login["accessToken"].as_str().unwrap();
    let header: serde_json::Value = {
        use base64::Engine;
        let part = token.split('.').next().unwrap();
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(part)
                .unwrap(),
        )
        .unwrap()
    };
    assert_eq!(header["kid"], new_kid.as_str());
    app.clock.advance_secs(2);
    other.access(token, &fay.company).await.expect(200);
    app.access(token, &fay.company).await.expect(200);

    // Once every token the old key signed has expired, it leaves the JWKS.
    app.clock.advance_secs(900 + 120);
    app.internal(Method::POST, "/internal/auth/keys/rotate", None)
        .await
        .expect(200);
    let jwks = app
        .call(Method::GET, "/.well-known/jwks.json", &[], None)
        .await
        .expect(200);
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert!(!kids.contains(&old_kid.as_str()), "{kids:?}");
    assert!(kids.contains(&new_kid.as_str()));
}

async fn delegation_stays_within_what_the_grantor_holds(app: TestApp) {
    let boss = app
        .signup("boss@promo.test", "basic_promoter", &["finance", "ai"])
        .await;
    let admin = app.user("admin@promo.test").await;
    let manager = app.user("manager@promo.test").await;
    let worker = app.user("worker@promo.test").await;
    let members = "/auth/members";

    // The superadmin adds an admin with finance (not ai), and a few permissions.
    let added = app
        .as_member(
            &boss.token,
            &boss.company,
            Method::POST,
            members,
            Some(json!({
                "email": "admin@promo.test", "role": "ADMIN",
                "modules": ["finance"],
                "permissions": ["finance.income.read", "finance.income.create", "finance.bills.read"],
            })),
        )
        .await
        .expect(201);
    assert_eq!(added["role"], "ADMIN");
    let admin_access = app.access(&admin.token, &boss.company).await.expect(200);
    assert_eq!(strings(&admin_access["modules"]), ["finance"]);
    assert_eq!(
        strings(&admin_access["delegation"]["grantableModules"]),
        ["finance"]
    );
    assert_eq!(admin_access["delegation"]["canBuyAddons"], false);

    // The admin may grant only what it holds.
    app.as_member(
        &admin.token,
        &boss.company,
        Method::POST,
        members,
        Some(json!({ "email": "worker@promo.test", "role": "USER", "modules": ["ai"] })),
    )
    .await
    .expect_problem(422, "not_grantable");
    app.as_member(
        &admin.token,
        &boss.company,
        Method::POST,
        members,
        Some(json!({
            "email": "worker@promo.test", "role": "USER", "modules": ["finance"],
            "permissions": ["finance.bills.approve"],
        })),
    )
    .await
    .expect_problem(422, "not_grantable");
    // ... and no one at or above itself.
    app.as_member(
        &admin.token,
        &boss.company,
        Method::POST,
        members,
        Some(json!({ "email": "worker@promo.test", "role": "ADMIN" })),
    )
    .await
    .expect_problem(403, "delegation_denied");
    app.as_member(
        &admin.token,
        &boss.company,
        Method::POST,
        members,
        Some(json!({
            "email": "worker@promo.test", "role": "USER", "modules": ["finance"],
            "permissions": ["finance.income.read"],
        })),
    )
    .await
    .expect(201);
    app.as_member(
        &admin.token,
        &boss.company,
        Method::POST,
        members,
        Some(json!({
            "email": "manager@promo.test", "role": "MANAGER", "modules": ["finance"],
            "permissions": ["finance.income.read", "finance.income.create"],
        })),
    )
    .await
    .expect(201);

    // A manager hands out permissions inside its modules, to users only, and no modules.
    let worker_grants = format!("/auth/members/{}/grants", worker.user_id);
    app.as_member(
        &manager.token,
        &boss.company,
        Method::PUT,
        &worker_grants,
        Some(json!({ "modules": ["finance"], "permissions": [] })),
    )
    .await
    .expect_problem(403, "delegation_denied");
    let changed = app
        .as_member(
            &manager.token,
            &boss.company,
            Method::PUT,
            &worker_grants,
            Some(json!({ "permissions": ["finance.income.read", "finance.income.create"] })),
        )
        .await
        .expect(200);
    assert_eq!(
        strings(&changed["permissions"]),
        ["finance.income.create", "finance.income.read"]
    );
    app.as_member(
        &manager.token,
        &boss.company,
        Method::PUT,
        &format!("/auth/members/{}/grants", admin.user_id),
        Some(json!({ "permissions": [] })),
    )
    .await
    .expect_problem(403, "delegation_denied");
    // Users manage no one.
    app.as_member(&worker.token, &boss.company, Method::GET, members, None)
        .await
        .expect_problem(403, "delegation_denied");
    let worker_access = app.access(&worker.token, &boss.company).await.expect(200);
    assert_eq!(worker_access["tenantRole"], "USER");
    assert_eq!(
        worker_access["delegation"]["grantablePermissions"],
        json!([])
    );

    // The admin cannot touch the superadmin; the last superadmin cannot step down.
    app.as_member(
        &admin.token,
        &boss.company,
        Method::PUT,
        &format!("/auth/members/{}/grants", boss.user_id),
        Some(json!({ "permissions": [] })),
    )
    .await
    .expect_problem(403, "delegation_denied");
    app.as_member(
        &boss.token,
        &boss.company,
        Method::PUT,
        &format!("/auth/members/{}/role", boss.user_id),
        Some(json!({ "role": "ADMIN" })),
    )
    .await
    .expect_problem(409, "last_superadmin");

    // The admin removes finance.income.create from the worker; what it cannot grant stays.
    let before = app.access(&worker.token, &boss.company).await.expect(200);
    let after = app
        .as_member(
            &admin.token,
            &boss.company,
            Method::PUT,
            &worker_grants,
            Some(json!({ "modules": ["finance"], "permissions": ["finance.income.read"] })),
        )
        .await
        .expect(200);
    assert_eq!(strings(&after["permissions"]), ["finance.income.read"]);
    let now = app.access(&worker.token, &boss.company).await.expect(200);
    assert!(
        now["meta"]["accessVersion"].as_i64() > before["meta"]["accessVersion"].as_i64(),
        "every grant change bumps the access version"
    );
    let listed = app
        .as_member(&boss.token, &boss.company, Method::GET, members, None)
        .await
        .expect(200);
    assert_eq!(listed["members"].as_array().unwrap().len(), 4);
}

async fn a_revocation_in_one_process_is_honoured_by_the_next_request_in_another(app: TestApp) {
    let other = second_process(&app).await;
    let boss = app
        .signup("chief@promo.test", "basic_promoter", &["finance"])
        .await;
    let clerk = app.user("clerk@promo.test").await;
    app.as_member(
        &boss.token,
        &boss.company,
        Method::POST,
        "/auth/members",
        Some(json!({
            "email": "clerk@promo.test", "role": "USER", "modules": ["finance"],
            "permissions": ["finance.income.read"],
        })),
    )
    .await
    .expect(201);
    // The other process caches the clerk's access.
    for _ in 0..3 {
        let access = other.access(&clerk.token, &boss.company).await.expect(200);
        assert_eq!(strings(&access["modules"]), ["finance"]);
    }
    // The grant is revoked through the first process ...
    app.as_member(
        &boss.token,
        &boss.company,
        Method::PUT,
        &format!("/auth/members/{}/grants", clerk.user_id),
        Some(json!({ "modules": [], "permissions": [] })),
    )
    .await
    .expect(200);
    // ... and the very next request to the second process sees it.
    let access = other.access(&clerk.token, &boss.company).await.expect(200);
    assert_eq!(access["modules"], json!([]));
    assert_eq!(access["permissions"], json!([]));

    // The same for the company's addon, changed through Core.
    let boss_access = other.access(&boss.token, &boss.company).await.expect(200);
    assert!(strings(&boss_access["modules"]).contains(&"finance".to_string()));
    app.set_addon(&boss.company, "finance", json!({ "status": "canceled" }))
        .await
        .expect(200);
    let boss_access = other.access(&boss.token, &boss.company).await.expect(200);
    assert_eq!(strings(&boss_access["modules"]), ["promoter"]);

    // And a logout.
    let auth = format!("Bearer {}", clerk.token);
    app.call(
        Method::POST,
        "/auth/logout",
        &[("authorization", auth.as_str())],
        None,
    )
    .await;
    other
        .access(&clerk.token, &boss.company)
        .await
        .expect_problem(401, "session_revoked");
}

async fn access_that_cannot_be_proven_current_is_refused(app: TestApp) {
    let ivy = app
        .signup("ivy@promo.test", "basic_promoter", &["finance"])
        .await;
    // Cached now.
    app.access(&ivy.token, &ivy.company).await.expect(200);
    app.as_member(
        &ivy.token,
        &ivy.company,
        Method::GET,
        "/finance/income",
        None,
    )
    .await
    .expect(200);
    // The database is gone: the cached entry can no longer be proven current.
    app.state.db.pool.close().await;
    app.access(&ivy.token, &ivy.company)
        .await
        .expect_problem(503, "access_unavailable");
    app.as_member(
        &ivy.token,
        &ivy.company,
        Method::GET,
        "/finance/income",
        None,
    )
    .await
    .expect_problem(503, "access_unavailable");
}

async fn two_superadmins_stepping_each_other_down_at_once_leave_one(app: TestApp) {
    let a = app.signup("first@chiefs.test", "basic_promoter", &[]).await;
    let b = app.user("second@chiefs.test").await;
    app.by(
        &a,
        Method::POST,
        "/auth/members",
        Some(json!({ "email": "second@chiefs.test", "role": "TENANT_SUPERADMIN" })),
    )
    .await
    .expect(201);
    let demote_b = format!("/auth/members/{}/role", b.user_id);
    let demote_a = format!("/auth/members/{}/role", a.user_id);
    let (x, y) = tokio::join!(
        app.as_member(
            &a.token,
            &a.company,
            Method::PUT,
            &demote_b,
            Some(json!({ "role": "ADMIN" }))
        ),
        app.as_member(
            &b.token,
            &a.company,
            Method::PUT,
            &demote_a,
            Some(json!({ "role": "ADMIN" }))
        ),
    );
    assert_eq!(
        [x.status, y.status].iter().filter(|s| **s == 200).count(),
        1,
        "exactly one wins: {} {}",
        x.body,
        y.body
    );
    // The loser is refused either by the count (both were still superadmins when it
    // resolved) or by its role (it had already been stepped down).
    let loser = if x.status == 200 { &y } else { &x };
    assert!(
        (loser.status, loser.code()) == (409, "last_superadmin")
            || (loser.status, loser.code()) == (403, "delegation_denied"),
        "{}",
        loser.body
    );
    let members = app.by(&a, Method::GET, "/auth/members", None).await;
    let members = if members.status == 200 {
        members.body
    } else {
        app.as_member(&b.token, &a.company, Method::GET, "/auth/members", None)
            .await
            .expect(200)
    };
    let superadmins = members["members"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "TENANT_SUPERADMIN")
        .count();
    assert_eq!(superadmins, 1);
}

mod by_email {
    use reqwest::Method;
    use serde_json::json;

    use crate::helpers::{PASSWORD, TestApp, strings};
    use crate::on_both_databases;

    on_both_databases!(
        an_invitation_makes_the_account_and_the_membership_once,
        a_password_reset_works_once_and_ends_every_session,
    );

    async fn an_invitation_makes_the_account_and_the_membership_once(app: TestApp) {
        let boss = app
            .signup("host@promo.test", "basic_promoter", &["finance"])
            .await;
        let invited = app
            .as_member(
                &boss.token,
                &boss.company,
                Method::POST,
                "/auth/invitations",
                Some(json!({
                    "email": "newbie@promo.test", "role": "USER", "modules": ["finance"],
                    "permissions": ["finance.income.read"],
                })),
            )
            .await
            .expect(201);
        assert_eq!(invited["role"], "USER");
        let code = app.emailed_code("newbie@promo.test").await;
        assert!(code.starts_with("ksm_inv_"), "{code}");
        app.call(
            Method::POST,
            "/auth/invitations/accept",
            &[],
            Some(json!({ "token": code, "password": "short" })),
        )
        .await
        .expect_problem(400, "validation_failed");
        let accepted = app
            .call(
                Method::POST,
                "/auth/invitations/accept",
                &[],
                Some(json!({ "token": code, "password": PASSWORD, "name": "Newbie" })),
            )
            .await
            .expect(200);
        let token = accepted["accessToken"].as_str().unwrap();
        let access = app.access(token, &boss.company).await.expect(200);
        assert_eq!(access["tenantRole"], "USER");
        assert_eq!(strings(&access["permissions"]), ["finance.income.read"]);
        app.call(
            Method::POST,
            "/auth/invitations/accept",
            &[],
            Some(json!({ "token": code, "password": PASSWORD, "name": "Again" })),
        )
        .await
        .expect_problem(404, "invitation_not_found");

        // An existing account joins with its own password; a member cannot be invited twice.
        let other = app.user("veteran@artist.test").await;
        app.as_member(
            &boss.token,
            &boss.company,
            Method::POST,
            "/auth/invitations",
            Some(json!({ "email": "veteran@artist.test", "role": "MANAGER" })),
        )
        .await
        .expect(201);
        let code = app.emailed_code("veteran@artist.test").await;
        app.call(
            Method::POST,
            "/auth/invitations/accept",
            &[],
            Some(json!({ "token": code, "password": "not the password" })),
        )
        .await
        .expect_problem(401, "invalid_credentials");
        let joined = app
            .call(
                Method::POST,
                "/auth/invitations/accept",
                &[],
                Some(json!({ "token": code, "password": PASSWORD })),
            )
            .await
            .expect(200);
        assert_eq!(joined["userId"], other.user_id.as_str());
        app.as_member(
            &boss.token,
            &boss.company,
            Method::POST,
            "/auth/invitations",
            Some(json!({ "email": "veteran@artist.test", "role": "USER" })),
        )
        .await
        .expect_problem(409, "already_a_member");
        // Invitations expire.
        app.as_member(
            &boss.token,
            &boss.company,
            Method::POST,
            "/auth/invitations",
            Some(json!({ "email": "late@promo.test", "role": "USER" })),
        )
        .await
        .expect(201);
        let code = app.emailed_code("late@promo.test").await;
        app.clock.advance_secs(8 * 86_400);
        app.call(
            Method::POST,
            "/auth/invitations/accept",
            &[],
            Some(json!({ "token": code, "password": PASSWORD, "name": "Late" })),
        )
        .await
        .expect_problem(404, "invitation_not_found");
    }

    async fn a_password_reset_works_once_and_ends_every_session(app: TestApp) {
        let gus = app.user("gus@artist.test").await;
        let asked = app
            .call(
                Method::POST,
                "/auth/password-reset",
                &[],
                Some(json!({ "email": "gus@artist.test" })),
            )
            .await;
        assert_eq!(asked.status, 202);
        // An unknown address gets the same answer and no email.
        let unknown = app
            .call(
                Method::POST,
                "/auth/password-reset",
                &[],
                Some(json!({ "email": "who@artist.test" })),
            )
            .await;
        assert_eq!(unknown.status, 202);
        let code = app.emailed_code("gus@artist.test").await;
        assert!(!std::fs::read_dir(app.mail_dir.path()).unwrap().any(|e| {
            std::fs::read_to_string(e.unwrap().path())
                .unwrap()
                .contains("who@artist.test")
        }));
        let confirmed = app
            .call(
                Method::POST,
                "/auth/password-reset/confirm",
                &[],
                Some(json!({ "token": code, "newPassword": "a fresh new password" })),
            )
            .await;
        assert_eq!(confirmed.status, 204);
        app.access(&gus.token, &gus.company)
            .await
            .expect_problem(401, "session_revoked");
        app.call(
            Method::POST,
            "/auth/refresh",
            &[],
            Some(json!({ "refreshToken": gus.refresh })),
        )
        .await
        .expect_problem(401, "session_revoked");
        app.call(
            Method::POST,
            "/auth/password-reset/confirm",
            &[],
            Some(json!({ "token": code, "newPassword": "yet another password" })),
        )
        .await
        .expect_problem(400, "invalid_reset_token");
        app.call(
            Method::POST,
            "/auth/login",
            &[],
            Some(json!({ "email": "gus@artist.test", "password": "a fresh new password" })),
        )
        .await
        .expect(200);
    }
}
