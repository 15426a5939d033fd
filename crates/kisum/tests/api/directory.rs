//! The directory: venue and artist companies manage theirs; Nextkt reads every company's
//! through the internal routes.

use reqwest::Method;
use serde_json::json;

use crate::helpers::TestApp;
use crate::on_both_databases;

on_both_databases!(
    venue_companies_publish_venues_that_nextkt_can_find,
    artist_companies_publish_profiles_that_nextkt_can_find,
    the_directory_is_gated_and_checked,
);

fn venue(name: &str, city: &str) -> serde_json::Value {
    json!({
        "name": name, "address": "Jl. Gatot Subroto 1", "city": city, "country": "id",
        "latitude": -6.2297, "longitude": 106.8071, "timezone": "Asia/Jakarta",
        "capacity": 5000, "images": ["https://img.example/hall.jpg"],
        "spaces": [
            { "name": "Main hall", "capacity": 5000, "layouts": ["standing", "seated"] },
            { "name": "Lounge", "capacity": 300, "layouts": ["cabaret"] },
        ],
    })
}

async fn venue_companies_publish_venues_that_nextkt_can_find(app: TestApp) {
    let owner = app.signup("venues@hall.test", "basic_venue", &[]).await;
    let hall = app
        .by(
            &owner,
            Method::POST,
            "/venue/venues",
            Some(venue("Jakarta Hall", "Jakarta")),
        )
        .await
        .expect(201);
    assert_eq!(hall["country"], "ID");
    assert_eq!(hall["latitude"], -6.2297);
    assert_eq!(hall["spaces"].as_array().unwrap().len(), 2);
    assert_eq!(hall["companyId"], owner.company.as_str());
    let id = hall["id"].as_str().unwrap().to_string();
    app.by(
        &owner,
        Method::POST,
        "/venue/venues",
        Some(venue("Bandung Arena", "Bandung")),
    )
    .await
    .expect(201);
    let added = app
        .by(
            &owner,
            Method::POST,
            &format!("/venue/venues/{id}/spaces"),
            Some(json!({ "name": "Rooftop", "capacity": 150, "layouts": ["standing"] })),
        )
        .await
        .expect(201);
    assert_eq!(added["spaces"].as_array().unwrap().len(), 3);
    app.by(
        &owner,
        Method::POST,
        &format!("/venue/venues/{id}/spaces"),
        Some(json!({ "name": "Rooftop", "capacity": 10, "layouts": ["standing"] })),
    )
    .await
    .expect_problem(409, "space_exists");

    // Nextkt's view: search by words and by city.
    let found = app
        .internal(Method::GET, "/internal/venues?q=jakarta%20hall", None)
        .await
        .expect(200);
    assert_eq!(found["items"].as_array().unwrap().len(), 1);
    assert_eq!(found["items"][0]["id"], id.as_str());
    let in_bandung = app
        .internal(Method::GET, "/internal/venues?city=BANDUNG", None)
        .await
        .expect(200);
    assert_eq!(in_bandung["items"][0]["name"], "Bandung Arena");
    let none = app
        .internal(Method::GET, "/internal/venues?q=100%25", None)
        .await
        .expect(200);
    assert_eq!(none["items"], json!([]));

    // A rename shows at once; archiving leaves the list but not the id.
    app.by(
        &owner,
        Method::PATCH,
        &format!("/venue/venues/{id}"),
        Some(json!({ "name": "Jakarta Grand Hall" })),
    )
    .await
    .expect(200);
    let read = app
        .internal(Method::GET, &format!("/internal/venues/{id}"), None)
        .await
        .expect(200);
    assert_eq!(read["name"], "Jakarta Grand Hall");
    app.by(
        &owner,
        Method::PATCH,
        &format!("/venue/venues/{id}"),
        Some(json!({ "archived": true })),
    )
    .await
    .expect(200);
    let listed = app
        .internal(Method::GET, "/internal/venues", None)
        .await
        .expect(200);
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    let archived = app
        .internal(Method::GET, &format!("/internal/venues/{id}"), None)
        .await
        .expect(200);
    assert_eq!(archived["archived"], true);
    let own = app
        .by(&owner, Method::GET, "/venue/venues", None)
        .await
        .expect(200);
    assert_eq!(
        own["items"].as_array().unwrap().len(),
        2,
        "owners still see archived ones"
    );
}

async fn artist_companies_publish_profiles_that_nextkt_can_find(app: TestApp) {
    let agency = app.signup("roster@agency.test", "basic_artist", &[]).await;
    let band = app
        .by(
            &agency,
            Method::POST,
            "/artist/profiles",
            Some(json!({
                "name": "Sore Hari", "country": "ID", "genres": ["Indie Pop", "rock", "ROCK"],
                "imageUrl": "https://img.example/sore.jpg", "bio": "Jakarta quartet.",
                "links": ["https://music.example/sore"],
            })),
        )
        .await
        .expect(201);
    assert_eq!(band["genres"], json!(["indie pop", "rock"]));
    let id = band["id"].as_str().unwrap().to_string();
    app.by(
        &agency,
        Method::POST,
        "/artist/profiles",
        Some(json!({ "name": "DJ Malam", "country": "SG", "genres": ["electronic"] })),
    )
    .await
    .expect(201);
    let rock = app
        .internal(Method::GET, "/internal/artists?genre=Rock", None)
        .await
        .expect(200);
    assert_eq!(rock["items"].as_array().unwrap().len(), 1);
    assert_eq!(rock["items"][0]["id"], id.as_str());
    let by_name = app
        .internal(Method::GET, "/internal/artists?q=malam", None)
        .await
        .expect(200);
    assert_eq!(by_name["items"][0]["name"], "DJ Malam");
    let paged = app
        .internal(Method::GET, "/internal/artists?limit=1", None)
        .await
        .expect(200);
    assert_eq!(paged["items"].as_array().unwrap().len(), 1);
    assert!(paged["nextCursor"].is_string());
    app.by(
        &agency,
        Method::PATCH,
        &format!("/artist/profiles/{id}"),
        Some(json!({ "archived": true, "genres": ["jazz"] })),
    )
    .await
    .expect(200);
    let rock = app
        .internal(Method::GET, "/internal/artists?genre=rock", None)
        .await
        .expect(200);
    assert_eq!(rock["items"], json!([]));
    let read = app
        .internal(Method::GET, &format!("/internal/artists/{id}"), None)
        .await
        .expect(200);
    assert_eq!(read["archived"], true);
    assert_eq!(read["genres"], json!(["jazz"]));
}

async fn the_directory_is_gated_and_checked(app: TestApp) {
    let promoter = app.signup("promo@dir.test", "basic_promoter", &[]).await;
    app.as_member(
        &promoter.token,
        &promoter.company,
        Method::POST,
        "/venue/venues",
        Some(venue("X", "Y")),
    )
    .await
    .expect_problem(403, "venue_module_required");
    app.as_member(
        &promoter.token,
        &promoter.company,
        Method::GET,
        "/artist/profiles",
        None,
    )
    .await
    .expect_problem(403, "artist_module_required");
    let owner = app.signup("owner@dir.test", "basic_venue", &[]).await;
    let other = app.signup("rival@dir.test", "basic_venue", &[]).await;
    let hall = app
        .as_member(
            &owner.token,
            &owner.company,
            Method::POST,
            "/venue/venues",
            Some(venue("Own", "Solo")),
        )
        .await
        .expect(201);
    let id = hall["id"].as_str().unwrap();
    // Another venue company cannot see or change it.
    app.as_member(
        &other.token,
        &other.company,
        Method::GET,
        &format!("/venue/venues/{id}"),
        None,
    )
    .await
    .expect_problem(404, "not_found");
    app.as_member(
        &other.token,
        &other.company,
        Method::PATCH,
        &format!("/venue/venues/{id}"),
        Some(json!({ "name": "Mine" })),
    )
    .await
    .expect_problem(404, "not_found");
    // Bad input changes nothing.
    for (field, value) in [
        ("country", json!("Indonesia")),
        ("timezone", json!("Mars/Olympus")),
        ("capacity", json!(0)),
        ("latitude", json!(95.0)),
        ("images", json!(["ftp://x"])),
    ] {
        let mut body = venue("Bad", "Solo");
        body[field] = value;
        app.as_member(
            &owner.token,
            &owner.company,
            Method::POST,
            "/venue/venues",
            Some(body),
        )
        .await
        .expect_problem(400, "validation_failed");
    }
    let mut bad_space = venue("Bad", "Solo");
    bad_space["spaces"][1]["layouts"] = json!(["underwater"]);
    let problem = app
        .as_member(
            &owner.token,
            &owner.company,
            Method::POST,
            "/venue/venues",
            Some(bad_space),
        )
        .await
        .expect_problem(400, "validation_failed");
    assert_eq!(problem["field"], "spaces[1].layouts");
    let own = app
        .as_member(
            &owner.token,
            &owner.company,
            Method::GET,
            "/venue/venues",
            None,
        )
        .await
        .expect(200);
    assert_eq!(own["items"].as_array().unwrap().len(), 1);
    // The internal routes need the key and leak nothing without it.
    let anonymous = app
        .call(Method::GET, &format!("/internal/venues/{id}"), &[], None)
        .await;
    assert_eq!(anonymous.status, 401);
    assert!(!anonymous.body.to_string().contains("Own"));
    app.internal(Method::GET, "/internal/venues/nope", None)
        .await
        .expect_problem(404, "not_found");
}
