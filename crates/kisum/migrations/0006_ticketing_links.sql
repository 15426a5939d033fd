-- Mode A: a Kisum company's ticketing runs in its own Nextkt organization, which Kisum
-- provisions through its partner key and then drives with that organization's API key.
-- The key is stored sealed (ChaCha20-Poly1305 under KISUM_SECRETS_KEY, the company id as
-- associated data) and is never shown to anyone.

CREATE TABLE ticketing_links (
    company_id      TEXT PRIMARY KEY REFERENCES companies(id),
    nextkt_org_id   TEXT NOT NULL,
    api_key_id      TEXT,
    api_key_sealed  TEXT,
    status          TEXT NOT NULL CHECK (status IN ('linked', 'unlinked')),
    linked_by       TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
