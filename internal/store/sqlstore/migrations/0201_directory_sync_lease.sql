-- A running Google Workspace pull holds its directory until sync_lease_until, so an on-demand pull and a
-- scheduled one (possibly on another node) never run over the same directory at once.
ALTER TABLE directories ADD COLUMN sync_lease_until BIGINT NOT NULL DEFAULT 0;
