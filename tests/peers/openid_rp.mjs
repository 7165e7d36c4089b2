// A small web application signing people in with openid-client (panva), the relying
// party the browser test drives against realmgate: discovery, the code flow with PKCE
// S256, state and nonce, client_secret_basic, openid-client's own ID token validation,
// userinfo, RP-initiated logout, and a back-channel logout endpoint that verifies logout
// tokens with jose. Nothing here is realmgate's code: it only uses the libraries.
//
//   ISSUER=https://127.0.0.1:8443 CLIENT_ID=node-rp CLIENT_SECRET=... PORT=3000 \
//   NODE_EXTRA_CA_CERTS=gateway-cert.pem node tests/peers/openid_rp.mjs
//
// Pages: /login[?hint=EMAIL][&nonce=previous], /cb, /logout, /signed-out, /events (JSON).
// `nonce=previous` makes the app expect the nonce of its previous sign-in: an ID token
// replayed into another sign-in, which openid-client must refuse.
import http from 'node:http';
import * as client from 'openid-client';
import * as jose from 'jose';

const { ISSUER, CLIENT_ID, CLIENT_SECRET, PORT } = process.env;
const base = `http://127.0.0.1:${PORT}`;
const config = await client.discovery(
  new URL(ISSUER),
  CLIENT_ID,
  { id_token_signed_response_alg: 'ES256' },
  client.ClientSecretBasic(CLIENT_SECRET),
);
const meta = config.serverMetadata();
const jwks = jose.createRemoteJWKSet(new URL(meta.jwks_uri));

const pending = new Map(); // state -> { verifier, nonce }
let previousNonce = null;
let lastIdToken = null;
const events = [];

const escape = (s) => String(s).replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
const page = (res, status, id, body) => {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8' });
  res.end(`<!doctype html><title>RP</title><pre id="${id}">${escape(body)}</pre>`);
};

async function login(url, res) {
  const verifier = client.randomPKCECodeVerifier();
  const nonce = client.randomNonce();
  const state = client.randomState();
  const expected = url.searchParams.get('nonce') === 'previous' ? previousNonce : nonce;
  pending.set(state, { verifier, nonce: expected });
  previousNonce = nonce;
  const params = {
    redirect_uri: `${base}/cb`,
    scope: 'openid email profile',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  };
  const hint = url.searchParams.get('hint');
  if (hint) params.login_hint = hint;
  res.writeHead(302, { location: client.buildAuthorizationUrl(config, params).href });
  res.end();
}

async function callback(url, res) {
  const state = url.searchParams.get('state');
  const p = pending.get(state);
  pending.delete(state);
  if (!p) return page(res, 400, 'error', 'unknown state');
  try {
    const tokens = await client.authorizationCodeGrant(config, url, {
      pkceCodeVerifier: p.verifier,
      expectedState: state,
      expectedNonce: p.nonce,
      idTokenExpected: true,
    });
    const claims = tokens.claims();
    const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
    lastIdToken = tokens.id_token;
    page(res, 200, 'result', JSON.stringify({ claims, userinfo }));
  } catch (e) {
    page(res, 400, 'error', `${e.name}: ${e.message} ${e.code ?? ''} claim=${e.cause?.claim ?? e.cause?.cause?.claim ?? ''}`);
  }
}

async function backchannel(req, res) {
  let body = '';
  for await (const chunk of req) body += chunk;
  const token = new URLSearchParams(body).get('logout_token');
  try {
    // Back-Channel Logout 1.0 §2.6: signature, iss, aud, iat, typ, the event, no nonce.
    const { payload } = await jose.jwtVerify(token, jwks, {
      issuer: meta.issuer,
      audience: CLIENT_ID,
      typ: 'logout+jwt',
      algorithms: ['ES256'],
      requiredClaims: ['iat', 'jti'],
    });
    const event = payload.events?.['http://schemas.openid.net/event/backchannel-logout'];
    if (typeof event !== 'object' || 'nonce' in payload || !(payload.sub || payload.sid)) {
      throw new Error('not a logout token');
    }
    events.push(payload);
    res.writeHead(200, { 'cache-control': 'no-store' });
    res.end();
  } catch (e) {
    events.push({ refused: e.message });
    res.writeHead(400);
    res.end();
  }
}

http
  .createServer(async (req, res) => {
    const url = new URL(req.url, base);
    try {
      if (req.method === 'POST' && url.pathname === '/backchannel-logout') return await backchannel(req, res);
      if (url.pathname === '/login') return await login(url, res);
      if (url.pathname === '/cb') return await callback(url, res);
      if (url.pathname === '/logout') {
        const to = client.buildEndSessionUrl(config, {
          id_token_hint: lastIdToken,
          post_logout_redirect_uri: `${base}/signed-out`,
          state: 'bye',
        });
        res.writeHead(302, { location: to.href });
        return res.end();
      }
      if (url.pathname === '/signed-out') return page(res, 200, 'signed-out', url.searchParams.get('state'));
      if (url.pathname === '/events') {
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(JSON.stringify(events));
      }
      page(res, 404, 'error', 'not found');
    } catch (e) {
      page(res, 500, 'error', e.message);
    }
  })
  .listen(Number(PORT), '127.0.0.1', () => console.log(`READY ${base}`));
