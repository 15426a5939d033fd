-- Email through the shared outbox (the columns `service::outbox` expects; `organization_id`
-- holds the company, when there is one), invitations into a company, and password resets.

CREATE TABLE outbox (
    id              TEXT PRIMARY KEY,
    organization_id TEXT,
    template        TEXT NOT NULL,
    locale          TEXT NOT NULL,
    to_address      TEXT NOT NULL,
    payload_json    TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    sent_at         BIGINT
);
CREATE INDEX outbox_pending ON outbox (status, next_attempt_at);

-- An invitation carries the role and grants the inviter chose (checked against what the
-- inviter may grant when it was sent); accepting it makes the membership. Single use.
CREATE TABLE invitations (
    id                TEXT PRIMARY KEY,
    company_id        TEXT NOT NULL REFERENCES companies(id),
    email             TEXT NOT NULL,
    role              TEXT NOT NULL,
    modules_json      TEXT NOT NULL,
    permissions_json  TEXT NOT NULL,
    token_hash        TEXT NOT NULL UNIQUE,
    invited_by        TEXT NOT NULL,
    expires_at        BIGINT NOT NULL,
    accepted_at       BIGINT,
    created_at        BIGINT NOT NULL
);
CREATE INDEX invitations_by_company ON invitations (company_id, created_at);

CREATE TABLE password_resets (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users(id),
    token_hash  TEXT NOT NULL UNIQUE,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT,
    created_at  BIGINT NOT NULL
);
