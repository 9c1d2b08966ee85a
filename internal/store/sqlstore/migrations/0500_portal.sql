-- Admin Portal: one-time links and the sessions they start. Both keep only
-- the SHA-256 of their token; sessions live here so that any node serves them.
CREATE TABLE portal_links (
    hash            {{BYTES}} PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    intent          TEXT NOT NULL,
    return_url      TEXT NOT NULL,
    success_url     TEXT NOT NULL,
    options         TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL
);
CREATE INDEX portal_links_expires ON portal_links (expires_at);

CREATE TABLE portal_sessions (
    hash            {{BYTES}} PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    intent          TEXT NOT NULL,
    return_url      TEXT NOT NULL,
    success_url     TEXT NOT NULL,
    options         TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    idle_expires_at BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL
);
CREATE INDEX portal_sessions_expires ON portal_sessions (idle_expires_at);
