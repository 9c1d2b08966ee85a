-- When a certificate last verified a sign-in (Unix ms; 0 = never), so the admin who added the IdP's next
-- certificate sees it take over. Written at most about once a minute per certificate, in the ACS's
-- success transaction.
ALTER TABLE sso_certificates ADD COLUMN last_verified_at BIGINT NOT NULL DEFAULT 0;
