-- The directory: venues (owned by venue companies) with their spaces, and artist profiles
-- (owned by artist companies). The only Kisum data Nextkt reads. Archived entries stay
-- readable by id (an event may still point at them) and leave the lists.
-- Coordinates are BIGINT micro-degrees (exact on both engines); lists of strings are JSON.

CREATE TABLE venues (
    id             TEXT PRIMARY KEY,
    company_id     TEXT NOT NULL REFERENCES companies(id),
    name           TEXT NOT NULL,
    address        TEXT NOT NULL,
    city           TEXT NOT NULL,
    country        TEXT NOT NULL,
    latitude_e6    BIGINT,
    longitude_e6   BIGINT,
    timezone       TEXT NOT NULL,
    capacity       BIGINT NOT NULL,
    images_json    TEXT NOT NULL,
    archived       BIGINT NOT NULL,
    -- Lower-cased name and city, for `q`.
    search_text    TEXT NOT NULL,
    city_key       TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);
CREATE INDEX venues_by_company ON venues (company_id, id);
CREATE INDEX venues_listing ON venues (archived, city_key, id);

CREATE TABLE venue_spaces (
    id            TEXT PRIMARY KEY,
    venue_id      TEXT NOT NULL REFERENCES venues(id),
    name          TEXT NOT NULL,
    capacity      BIGINT NOT NULL,
    layouts_json  TEXT NOT NULL,
    sort_order    BIGINT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    UNIQUE (venue_id, name)
);

CREATE TABLE artist_profiles (
    id            TEXT PRIMARY KEY,
    company_id    TEXT NOT NULL REFERENCES companies(id),
    name          TEXT NOT NULL,
    country       TEXT NOT NULL,
    image_url     TEXT,
    bio           TEXT NOT NULL,
    links_json    TEXT NOT NULL,
    archived      BIGINT NOT NULL,
    search_text   TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX artist_profiles_by_company ON artist_profiles (company_id, id);
CREATE INDEX artist_profiles_listing ON artist_profiles (archived, id);

-- One row per profile and genre (lower-cased), so `genre=` is an indexed match.
CREATE TABLE artist_genres (
    artist_id  TEXT NOT NULL REFERENCES artist_profiles(id),
    genre      TEXT NOT NULL,
    position   BIGINT NOT NULL,
    PRIMARY KEY (artist_id, genre)
);
CREATE INDEX artist_genres_by_genre ON artist_genres (genre, artist_id);
