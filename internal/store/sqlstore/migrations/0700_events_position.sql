-- The outbox's read order moves from seq to pos. seq is drawn at insert (identity/autoincrement) and
-- is not commit order on PostgreSQL; pos is: on SQLite it is set at insert (one writer), on PostgreSQL
-- a sequencing pass sets it after the writing transaction commits (see sqlstore/sequencer.go), so
-- writers take no lock. Readers read only rows with a pos. Existing rows keep their number (pos = seq),
-- so cursors stored before this migration keep their meaning. The consumers' cursor column is renamed
-- because it now holds a pos: a node of an older version still running against this database then fails
-- loudly on every delivery query, rather than storing seq values that a new node would read as positions
-- (pos <= seq, so it would skip events).
ALTER TABLE delivery_consumers RENAME COLUMN cursor_seq TO cursor_pos;
ALTER TABLE events ADD COLUMN pos BIGINT;
UPDATE events SET pos = seq;
CREATE UNIQUE INDEX events_pos ON events (pos);
-- What the sequencer has left to number, in insertion order.
CREATE INDEX events_unpositioned ON events (seq) WHERE pos IS NULL;
DROP INDEX events_org_seq;
DROP INDEX events_name_seq;
CREATE INDEX events_org_pos ON events (organization_id, pos);
CREATE INDEX events_name_pos ON events (name, pos);
