// A real OpenID Connect provider (panva/oidc-provider) on loopback for the end-to-end tests:
// `make test` starts it, Playwright signs in through its login and consent pages.
// Any login/password pair is accepted; the login becomes the subject and the email's local part.
import Provider from 'oidc-provider';

const port = Number(process.env.OIDC_PORT);
const redirectUri = process.env.OIDC_REDIRECT_URI;
if (!port || !redirectUri) throw new Error('OIDC_PORT and OIDC_REDIRECT_URI are set by scripts/test.sh');

const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [{
    client_id: 'beacon-e2e',
    client_secret: 'e2e-client-secret',
    redirect_uris: [redirectUri],
    grant_types: ['authorization_code'],
    response_types: ['code'],
  }],
  cookies: { keys: ['beacon-e2e-cookie-key'] },
  // Scope claims (email, profile) in the ID token itself, as Okta and Entra ID send them.
  conformIdTokenClaims: false,
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  features: { devInteractions: { enabled: true } },
  async findAccount(_ctx, id) {
    return {
      accountId: id,
      async claims() {
        return { sub: id, email: `${id}@sso.example.com`, email_verified: true, name: `SSO ${id}` };
      },
    };
  },
});
provider.proxy = false;
provider.listen(port, '127.0.0.1', () => console.log(`oidc-provider listening on http://127.0.0.1:${port}`));
