-- The smallest days-before-expiry threshold for which a certificate's
-- renewal notice (connection.saml_certificate_renewal_required) was sent;
-- -1 = none yet. Compare-and-set on it makes each notice go out once
-- across nodes.
ALTER TABLE sso_certificates ADD COLUMN renewal_notified INTEGER NOT NULL DEFAULT -1;
CREATE INDEX sso_certificates_not_after ON sso_certificates (not_after);
