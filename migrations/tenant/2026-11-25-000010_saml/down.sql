DROP TABLE saml_providers;
DELETE FROM sso_providers WHERE kind = 'saml';
ALTER TABLE sso_providers DROP CONSTRAINT sso_providers_issuer_length;
ALTER TABLE sso_providers DROP CONSTRAINT sso_providers_issuer_check,
    ADD CONSTRAINT sso_providers_issuer_check CHECK (issuer ~ '^https?://');
ALTER TABLE sso_providers DROP CONSTRAINT sso_providers_kind_check,
    ADD CONSTRAINT sso_providers_kind_check CHECK (kind IN ('oidc', 'github'));
