// The OpenID Connect IdP of the tests: npm `oidc-provider` (OpenID Certified, nobody here
// wrote it) over HTTPS, with one confidential client (client_secret_basic) for realmgate.
// It lives in tests/peers/ so Node resolves oidc-provider from tests/peers/node_modules.
//
// Its dev interactions sign anyone in: the login typed is the account, its email claim,
// and its `sub`; a login starting with "unverified." gets `email_verified: false`. Consent
// is granted on the spot, so a sign-in is one login form.
//
// Environment: OIDC_PORT, OIDC_CERT, OIDC_KEY (PEM files), OIDC_CLIENT_ID,
// OIDC_CLIENT_SECRET, OIDC_REDIRECT_URI, OIDC_READY_FILE (written with {"issuer"} once
// listening); optionally OIDC_KEY_CLIENT_JWK, the public JWK of a second client
// (`${OIDC_CLIENT_ID}-key`) that authenticates with private_key_jwt. `POST /_test/rotate` replaces the signing key (a new `kid`; the old one is no
// longer published) and answers {"kid"}: the key rotation of a real provider.
import { readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { randomUUID } from 'node:crypto';
import { generateKeyPair, exportJWK } from 'jose';
import Provider from 'oidc-provider';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const port = Number(env('OIDC_PORT'));
const issuer = `https://127.0.0.1:${port}`;

async function signingKey() {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = await exportJWK(privateKey);
  return { ...jwk, kid: randomUUID(), alg: 'RS256', use: 'sig' };
}

const clients = [{
  client_id: env('OIDC_CLIENT_ID'),
  client_secret: env('OIDC_CLIENT_SECRET'),
  redirect_uris: [env('OIDC_REDIRECT_URI')],
  grant_types: ['authorization_code'],
  response_types: ['code'],
  token_endpoint_auth_method: 'client_secret_basic',
}];
if (process.env.OIDC_KEY_CLIENT_JWK) {
  clients.push({
    client_id: `${env('OIDC_CLIENT_ID')}-key`,
    redirect_uris: [env('OIDC_REDIRECT_URI')],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'private_key_jwt',
    jwks: { keys: [JSON.parse(process.env.OIDC_KEY_CLIENT_JWK)] },
  });
}

function provider(key) {
  const p = new Provider(issuer, {
    clients,
    jwks: { keys: [key] },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    // The ID token carries the claims (realmgate does not call userinfo).
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    cookies: { keys: ['realmgate-test-cookie-key'] },
    async findAccount(ctx, id) {
      return {
        accountId: id,
        async claims() {
          return {
            sub: id,
            email: id.replace(/^unverified\./, ''),
            email_verified: !id.startsWith('unverified.'),
            name: `Test ${id}`,
          };
        },
      };
    },
    async loadExistingGrant(ctx) {
      const grant = new ctx.oidc.provider.Grant({
        clientId: ctx.oidc.client.clientId,
        accountId: ctx.oidc.session.accountId,
      });
      grant.addOIDCScope('openid email profile');
      await grant.save();
      return grant;
    },
  });
  return p.callback();
}

let handler = provider(await signingKey());

const server = https.createServer(
  { cert: readFileSync(env('OIDC_CERT')), key: readFileSync(env('OIDC_KEY')) },
  async (req, res) => {
    if (req.method === 'POST' && req.url === '/_test/rotate') {
      const key = await signingKey();
      handler = provider(key);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kid: key.kid }));
      return;
    }
    handler(req, res);
  },
);
server.listen(port, '127.0.0.1', () => {
  writeFileSync(env('OIDC_READY_FILE'), JSON.stringify({ issuer }));
});
