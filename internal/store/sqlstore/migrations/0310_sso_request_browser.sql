-- The SHA-256 of the secret in the cookie that /sso/authorize set in the
-- browser that started the login; the ACS and OIDC callback require the
-- same browser (login CSRF). NULL on logins started before this column:
-- they are refused and the user starts again.
ALTER TABLE sso_requests ADD COLUMN browser_hash {{BYTES}};
