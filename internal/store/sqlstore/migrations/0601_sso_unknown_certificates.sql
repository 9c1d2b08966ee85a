-- Certificates an IdP signed with that the connection did not trust: the first sighting of each sends one
-- renewal notice (across nodes, by the primary key), later ones only fail with the same plain reason.
CREATE TABLE sso_unknown_certificates (
    connection_id TEXT NOT NULL REFERENCES sso_connections (id) ON DELETE CASCADE,
    fingerprint   TEXT NOT NULL,
    not_after     BIGINT NOT NULL,
    first_seen_at BIGINT NOT NULL,
    PRIMARY KEY (connection_id, fingerprint)
);
