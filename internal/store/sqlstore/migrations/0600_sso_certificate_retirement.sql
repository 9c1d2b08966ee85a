-- A certificate that disappeared from the IdP's metadata stays trusted until retire_at (Unix ms; 0 = not
-- retiring), so a rollover has an overlap in which logins signed with either certificate verify.
ALTER TABLE sso_certificates ADD COLUMN retire_at BIGINT NOT NULL DEFAULT 0;
CREATE INDEX sso_certificates_retire_at ON sso_certificates (retire_at) WHERE retire_at > 0;
