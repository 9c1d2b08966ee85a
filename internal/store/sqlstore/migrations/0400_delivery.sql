-- Outbox consumers: one row per destination (webhook endpoint, log stream, …) with its cursor over
-- events.seq, its lease (one node delivers it at a time) and its failure state.
CREATE TABLE delivery_consumers (
    kind               TEXT NOT NULL,
    destination_id     TEXT NOT NULL,
    organization_id    TEXT NOT NULL DEFAULT '',
    event_names        TEXT NOT NULL DEFAULT '[]',
    cursor_seq         BIGINT NOT NULL DEFAULT 0,
    checked_seq        BIGINT NOT NULL DEFAULT 0, -- the outbox was read to here and nothing was left
    state              TEXT NOT NULL,
    lease_owner        TEXT NOT NULL DEFAULT '',
    lease_until        BIGINT NOT NULL DEFAULT 0,
    attempts           INTEGER NOT NULL DEFAULT 0,
    next_attempt_at    BIGINT NOT NULL DEFAULT 0,
    failing_since      BIGINT NOT NULL DEFAULT 0,
    last_error_code    TEXT NOT NULL DEFAULT '',
    last_error_message TEXT NOT NULL DEFAULT '',
    last_error_at      BIGINT NOT NULL DEFAULT 0,
    last_success_at    BIGINT NOT NULL DEFAULT 0,
    parked_at          BIGINT NOT NULL DEFAULT 0,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    PRIMARY KEY (kind, destination_id)
);
CREATE INDEX delivery_consumers_due ON delivery_consumers (next_attempt_at) WHERE state = 'active';

CREATE TABLE webhook_endpoints (
    id            TEXT PRIMARY KEY,
    url           TEXT NOT NULL UNIQUE,
    sealed_secret TEXT NOT NULL,
    status        TEXT NOT NULL,
    events        TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

-- One row per attempt to deliver one event to one endpoint (pruned after a few days).
CREATE TABLE webhook_deliveries (
    id           TEXT PRIMARY KEY,
    endpoint_id  TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id     TEXT NOT NULL,
    event_name   TEXT NOT NULL,
    attempted_at BIGINT NOT NULL,
    success      BOOLEAN NOT NULL,
    status       INTEGER NOT NULL,
    latency_ms   BIGINT NOT NULL,
    error_code   TEXT NOT NULL,
    message      TEXT NOT NULL,
    response     TEXT NOT NULL
);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, id);
CREATE INDEX webhook_deliveries_attempted ON webhook_deliveries (attempted_at);
