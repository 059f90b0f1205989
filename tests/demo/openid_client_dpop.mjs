// A real DPoP client for tests/demo/dpop.rs: node's `openid-client` 6 logs
// in to the demo (`POST /auth/login`, the RFC 6749 password grant),
// refreshes (`POST /auth/refresh`, the refresh_token grant) and calls a
// protected route, each with its own DPoP proofs, answering `use_dpop_nonce`
// by itself; then a copy of the access token is tried as a bearer token and
// with another key, and the refresh token with another key.
//
// `node openid_client_dpop.mjs <node_modules dir> <demo base url>`. Prints
// one JSON line: what each step got.
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [modules, base] = process.argv.slice(2);
const client = await import(
  pathToFileURL(path.join(modules, 'openid-client', 'build', 'index.js')).href
);

/** A public client of the demo whose token endpoint is `endpoint`. */
function configuration(endpoint) {
  const config = new client.Configuration(
    { issuer: base, token_endpoint: `${base}${endpoint}` },
    'openid-client-test',
    undefined,
    client.None(),
  );
  client.allowInsecureRequests(config);
  return config;
}

/** `{status, ...}` of a call that may throw an OAuth error. */
async function attempt(call) {
  try {
    return { status: 200, ...(await call()) };
  } catch (error) {
    return {
      status: error.status ?? error.response?.status ?? 0,
      error: error.error ?? String(error),
    };
  }
}

const login = configuration('/auth/login');
const refresh = configuration('/auth/refresh');
const key = await client.randomDPoPKeyPair('ES256');
const thiefKey = await client.randomDPoPKeyPair('ES256');

const tokens = await client.genericGrantRequest(
  login,
  'password',
  { username: 'alice', password: 'alice-password' },
  { DPoP: client.getDPoPHandle(login, key) },
);
const refreshed = await client.refreshTokenGrant(refresh, tokens.refresh_token, undefined, {
  DPoP: client.getDPoPHandle(refresh, key),
});

async function me(token, keyPair) {
  const options = keyPair ? { DPoP: client.getDPoPHandle(refresh, keyPair) } : undefined;
  try {
    const response = await client.fetchProtectedResource(
      refresh, token, new URL(`${base}/me`), 'GET', undefined, undefined, options,
    );
    return { status: response.status, body: await response.json() };
  } catch (error) {
    return { status: error.response?.status ?? error.status ?? 0, error: String(error) };
  }
}

const own = await me(refreshed.access_token, key);
const otherKey = await me(refreshed.access_token, thiefKey);
const bearer = await fetch(`${base}/me`, {
  headers: { authorization: `Bearer ${refreshed.access_token}` },
});
const stolenRefresh = await attempt(async () => {
  const t = await client.refreshTokenGrant(refresh, refreshed.refresh_token, undefined, {
    DPoP: client.getDPoPHandle(refresh, thiefKey),
  });
  return { token_type: t.token_type };
});

process.stdout.write(`${JSON.stringify({
  login: { token_type: tokens.token_type, access_token: tokens.access_token },
  refresh: { token_type: refreshed.token_type, access_token: refreshed.access_token },
  own,
  other_key: otherKey,
  bearer: { status: bearer.status },
  stolen_refresh: stolenRefresh,
})}\n`);
