-- Catalog (events, ticket types, seating, hotspots) and the inventory core (pools, carts,
-- holds, seat claims). Same conventions as 0001.

CREATE TABLE events (
    id                 TEXT PRIMARY KEY,
    organization_id    TEXT NOT NULL REFERENCES organizations(id),
    title_json         TEXT NOT NULL,
    description_json   TEXT NOT NULL,
    starts_at          BIGINT NOT NULL,
    ends_at            BIGINT NOT NULL,
    timezone           TEXT NOT NULL,
    venue_json         TEXT,
    city               TEXT,
    artist_ids_json    TEXT NOT NULL,
    status             TEXT NOT NULL,
    visibility         TEXT NOT NULL,
    access_key         TEXT,
    mode               TEXT NOT NULL,
    sale_starts_at     BIGINT,
    sale_ends_at       BIGINT,
    max_per_order      BIGINT,
    max_per_buyer      BIGINT,
    hold_seconds       BIGINT NOT NULL,
    hold_extension_seconds BIGINT NOT NULL,
    map_image_ref      TEXT,
    search_text        TEXT NOT NULL,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    published_at       BIGINT
);
CREATE INDEX events_org ON events (organization_id, id);
CREATE INDEX events_listing ON events (organization_id, status, visibility, starts_at, id);

CREATE TABLE ticket_types (
    id               TEXT PRIMARY KEY,
    organization_id  TEXT NOT NULL REFERENCES organizations(id),
    event_id         TEXT NOT NULL REFERENCES events(id),
    name             TEXT NOT NULL,
    kind             TEXT NOT NULL,
    price            BIGINT NOT NULL,
    currency         TEXT NOT NULL,
    sale_starts_at   BIGINT,
    sale_ends_at     BIGINT,
    min_per_order    BIGINT NOT NULL,
    max_per_order    BIGINT,
    unlock_code      TEXT,
    sort_order       BIGINT NOT NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX ticket_types_event ON ticket_types (event_id, sort_order, id);

CREATE TABLE sections (
    id               TEXT PRIMARY KEY,
    organization_id  TEXT NOT NULL REFERENCES organizations(id),
    event_id         TEXT NOT NULL REFERENCES events(id),
    name             TEXT NOT NULL,
    sort_order       BIGINT NOT NULL,
    created_at       BIGINT NOT NULL
);
CREATE INDEX sections_event ON sections (event_id, sort_order, id);

CREATE TABLE seats (
    id               TEXT PRIMARY KEY,
    organization_id  TEXT NOT NULL REFERENCES organizations(id),
    event_id         TEXT NOT NULL REFERENCES events(id),
    section_id       TEXT NOT NULL REFERENCES sections(id),
    row_label        TEXT NOT NULL,
    seat_number      TEXT NOT NULL,
    ticket_type_id   TEXT NOT NULL REFERENCES ticket_types(id),
    blocked          BIGINT NOT NULL,
    sort_order       BIGINT NOT NULL
);
CREATE UNIQUE INDEX seats_position ON seats (section_id, row_label, seat_number);
CREATE INDEX seats_event ON seats (event_id, section_id, sort_order);
CREATE INDEX seats_ticket_type ON seats (ticket_type_id);

CREATE TABLE hotspots (
    id               TEXT PRIMARY KEY,
    organization_id  TEXT NOT NULL REFERENCES organizations(id),
    event_id         TEXT NOT NULL REFERENCES events(id),
    shape            TEXT NOT NULL,
    coords_json      TEXT NOT NULL,
    target_kind      TEXT NOT NULL,
    target_id        TEXT NOT NULL,
    label            TEXT,
    created_at       BIGINT NOT NULL
);
CREATE INDEX hotspots_event ON hotspots (event_id, id);

-- One pool per general-admission ticket type: the numbers the oversell invariant is about.
-- held counts active holds (including expired ones not yet swept, which a reservation batch
-- sweeps first once next_expiry_at has passed); sold counts issued tickets. next_expiry_at
-- is at or before the earliest expiry of the pool's active holds (NULL: none).
CREATE TABLE inventory_pools (
    ticket_type_id   TEXT PRIMARY KEY REFERENCES ticket_types(id),
    organization_id  TEXT NOT NULL,
    event_id         TEXT NOT NULL,
    capacity         BIGINT NOT NULL,
    held             BIGINT NOT NULL,
    sold             BIGINT NOT NULL,
    next_expiry_at   BIGINT,
    updated_at       BIGINT NOT NULL
);

CREATE TABLE carts (
    id               TEXT PRIMARY KEY,
    organization_id  TEXT NOT NULL REFERENCES organizations(id),
    event_id         TEXT NOT NULL REFERENCES events(id),
    token_hash       TEXT NOT NULL UNIQUE,
    buyer_id         TEXT,
    extended_at      BIGINT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);

-- status: active, released (by the buyer), expired, converted (to tickets)
CREATE TABLE holds (
    id               TEXT PRIMARY KEY,
    organization_id  TEXT NOT NULL,
    event_id         TEXT NOT NULL,
    cart_id          TEXT NOT NULL REFERENCES carts(id),
    buyer_id         TEXT,
    ticket_type_id   TEXT NOT NULL,
    seat_id          TEXT,
    quantity         BIGINT NOT NULL,
    status           TEXT NOT NULL,
    expires_at       BIGINT NOT NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX holds_cart ON holds (cart_id, status);
CREATE INDEX holds_pool_live ON holds (ticket_type_id, status, expires_at);
CREATE INDEX holds_buyer ON holds (event_id, buyer_id, status);
CREATE INDEX holds_expiry ON holds (status, expires_at);

-- At most one live claim per seat, by construction: the seat id is the key. A hold's claim
-- carries its expiry and is deleted (in the same transaction) before a new claim is made.
CREATE TABLE seat_claims (
    seat_id          TEXT PRIMARY KEY REFERENCES seats(id),
    organization_id  TEXT NOT NULL,
    event_id         TEXT NOT NULL,
    hold_id          TEXT,
    kind             TEXT NOT NULL,
    expires_at       BIGINT,
    created_at       BIGINT NOT NULL
);
CREATE INDEX seat_claims_expiry ON seat_claims (kind, expires_at);
