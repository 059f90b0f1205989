// A real DPoP client for tests/resource_server/dpop_oidc.rs: node's
// `openid-client` 6 gets a DPoP-bound token from the provider by
// client_credentials (answering its `use_dpop_nonce` by itself), then calls
// the resource server with its own proofs; a copy of the token is tried as
// a bearer token and with another key.
//
// `node openid_client_dpop.mjs <node_modules dir> <issuer> <resource url>`.
// Prints one JSON line: the statuses and what the server answered.
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [modules, issuer, resource] = process.argv.slice(2);
const client = await import(
  pathToFileURL(path.join(modules, 'openid-client', 'build', 'index.js')).href
);

const config = await client.discovery(
  new URL(issuer),
  'dpop-client',
  'dpop-client-secret',
  client.ClientSecretPost('dpop-client-secret'),
  { execute: [client.allowInsecureRequests] },
);
const key = await client.randomDPoPKeyPair('ES256');
const DPoP = client.getDPoPHandle(config, key);
const tokens = await client.clientCredentialsGrant(
  config,
  { resource: 'urn:tower-jwt-auth:api', scope: 'read:ping' },
  { DPoP },
);

/** The status of `GET url` with this access token, by openid-client. */
async function status(token, handle) {
  try {
    const response = await client.fetchProtectedResource(
      config, token, new URL(resource), 'GET', undefined, undefined, handle ? { DPoP: handle } : undefined,
    );
    return { status: response.status, body: await response.text() };
  } catch (error) {
    return { status: error.response?.status ?? error.status ?? 0, error: String(error) };
  }
}

const own = await status(tokens.access_token, DPoP);
const again = await status(tokens.access_token, DPoP);
const thief = client.getDPoPHandle(config, await client.randomDPoPKeyPair('ES256'));
const otherKey = await status(tokens.access_token, thief);
const bearer = await fetch(resource, { headers: { authorization: `Bearer ${tokens.access_token}` } });
process.stdout.write(`${JSON.stringify({
  token_type: tokens.token_type,
  access_token: tokens.access_token,
  own,
  again,
  other_key: otherKey,
  bearer: { status: bearer.status },
})}\n`);
