-- Guest gate: check-in lists, scanner devices, scans, and each ticket's state on a list.

CREATE TABLE checkin_lists (
    id                   TEXT PRIMARY KEY,
    organization_id      TEXT NOT NULL REFERENCES organizations(id),
    event_id             TEXT NOT NULL REFERENCES events(id),
    name                 TEXT NOT NULL,
    ticket_type_ids_json TEXT NOT NULL,
    starts_at            BIGINT,
    ends_at              BIGINT,
    allow_reentry        BIGINT NOT NULL,
    created_at           BIGINT NOT NULL
);
CREATE INDEX checkin_lists_event ON checkin_lists (event_id);

CREATE TABLE devices (
    id                 TEXT PRIMARY KEY,
    organization_id    TEXT NOT NULL REFERENCES organizations(id),
    name               TEXT NOT NULL,
    list_ids_json      TEXT NOT NULL,
    pairing_code_hash  TEXT UNIQUE,
    pairing_expires_at BIGINT,
    secret_hash        TEXT UNIQUE,
    paired_at          BIGINT,
    revoked_at         BIGINT,
    created_at         BIGINT NOT NULL
);

-- Every scan, once per device and nonce; the answer given is kept so a repeat gets it again.
CREATE TABLE scans (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL,
    device_id       TEXT NOT NULL REFERENCES devices(id),
    nonce           TEXT NOT NULL,
    list_id         TEXT NOT NULL,
    ticket_id       TEXT,
    gate            TEXT NOT NULL,
    direction       TEXT NOT NULL,
    result          TEXT NOT NULL,
    answer_json     TEXT NOT NULL,
    scanned_at      BIGINT NOT NULL,
    UNIQUE (device_id, nonce)
);
CREATE INDEX scans_list ON scans (list_id, scanned_at);

-- A ticket's state on a list. The primary key makes the first entry happen once.
CREATE TABLE ticket_checkins (
    ticket_id     TEXT NOT NULL,
    list_id       TEXT NOT NULL,
    inside        BIGINT NOT NULL,
    first_scan_id TEXT NOT NULL,
    first_at      BIGINT NOT NULL,
    first_gate    TEXT NOT NULL,
    last_at       BIGINT NOT NULL,
    PRIMARY KEY (ticket_id, list_id)
);
