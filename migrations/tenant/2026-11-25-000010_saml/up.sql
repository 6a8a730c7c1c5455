-- SAML 2.0 identity providers. The common columns stay in sso_providers: `issuer` is the IdP's
-- entity id (often a URN, so no URL check for SAML), `client_id` is our SP entity id at that
-- IdP, and `client_secret` holds our SP private key (PKCS#1 DER, sealed like client secrets).
ALTER TABLE sso_providers DROP CONSTRAINT sso_providers_kind_check,
    ADD CONSTRAINT sso_providers_kind_check CHECK (kind IN ('oidc', 'github', 'saml'));
ALTER TABLE sso_providers DROP CONSTRAINT sso_providers_issuer_check,
    ADD CONSTRAINT sso_providers_issuer_check CHECK (kind = 'saml' OR issuer ~ '^https?://');
ALTER TABLE sso_providers ADD CONSTRAINT sso_providers_issuer_length CHECK (length(issuer) BETWEEN 1 AND 1024);

CREATE TABLE saml_providers (
    provider_id          UUID PRIMARY KEY REFERENCES sso_providers (id) ON DELETE CASCADE,
    -- Where AuthnRequests go (HTTP-Redirect binding).
    sso_url              TEXT NOT NULL CHECK (sso_url ~ '^https?://'),
    -- DER X.509 certificates the IdP signs with; never empty, because a provider without one
    -- would have its responses accepted unsigned.
    signing_certificates BYTEA[] NOT NULL CHECK (cardinality(signing_certificates) BETWEEN 1 AND 4),
    -- Our SP certificate (DER), published in our metadata; its key is sso_providers.client_secret.
    sp_certificate       BYTEA NOT NULL,
    -- The attribute preset chosen (okta, entra, google, onelogin, auth0, custom) and the
    -- attribute names in force; a NULL email attribute means the NameID is the email. The
    -- attribute whose values feed the role mapping is sso_providers.role_claim.
    preset               TEXT NOT NULL,
    email_attribute      TEXT,
    first_name_attribute TEXT,
    last_name_attribute  TEXT,
    allow_sha1           BOOLEAN NOT NULL DEFAULT false,
    allow_idp_initiated  BOOLEAN NOT NULL DEFAULT false,
    clock_skew_seconds   INTEGER NOT NULL DEFAULT 60 CHECK (clock_skew_seconds BETWEEN 0 AND 300)
);
