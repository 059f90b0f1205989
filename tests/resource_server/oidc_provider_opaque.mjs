// A real OpenID provider issuing OPAQUE access tokens (oidc-provider's own
// default format), for tests/resource_server/opaque.rs (issue 23).
//
// `node oidc_provider_opaque.mjs <node_modules dir>` serves on a free loopback
// port and prints `ready http://127.0.0.1:<port>` once it does. Enabled:
// RFC 7662 introspection, RFC 9701 JWT introspection answers, RFC 7009
// revocation, client_credentials, and CIBA (poll mode) as the one flow
// without a browser that gives refresh tokens: the "authentication device"
// approves every request at once for the account named by `login_hint`.
//
// Clients:
// - `rs` / `rs-secret`: the resource server at the introspection endpoint
//   (client_secret_basic); asks for JWT answers with Accept:
//   application/token-introspection+jwt (RS256, signed with the provider's
//   keys, published at its jwks_uri).
// - `rs-hs256` / `rs-hs256-secret…`: as `rs`, but its signed answers are
//   HS256 under its own client secret — not the provider's published keys.
// - `app` / `app-secret`: gets tokens (client_credentials, CIBA + refresh
//   tokens; client_secret_post) and revokes them.
import http from 'node:http';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

// stdout carries the ready line only: the test stops reading it then, and
// oidc-provider's notices (console.log, on a first revocation for one) would
// end the process with EPIPE.
console.log = console.info = (...args) => console.error(...args);

const modules = process.argv[2];
const { default: Provider } = await import(
  pathToFileURL(path.join(modules, 'oidc-provider', 'lib', 'index.js')).href
);

// The resources this provider issues tokens for, and the scopes each allows.
const RESOURCES = {
  'urn:tower-jwt-auth:api': 'read:ping write:ping',
  'urn:tower-jwt-auth:other': 'read:ping',
};
const API = 'urn:tower-jwt-auth:api';

const server = http.createServer();
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  let provider;
  const configuration = {
    clients: [
      {
        client_id: 'rs',
        client_secret: 'rs-secret',
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
        token_endpoint_auth_method: 'client_secret_basic',
        introspection_signed_response_alg: 'RS256',
      },
      {
        client_id: 'rs-hs256',
        client_secret: 'rs-hs256-secret-of-at-least-32-bytes',
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
        token_endpoint_auth_method: 'client_secret_basic',
        introspection_signed_response_alg: 'HS256',
      },
      {
        client_id: 'app',
        client_secret: 'app-secret',
        grant_types: [
          'client_credentials',
          'refresh_token',
          'urn:openid:params:grant-type:ciba',
        ],
        redirect_uris: [],
        response_types: [],
        token_endpoint_auth_method: 'client_secret_post',
        backchannel_token_delivery_mode: 'poll',
      },
    ],
    enabledJWA: { introspectionSigningAlgValues: ['RS256', 'HS256'] },
    scopes: ['openid', 'offline_access', 'read:ping', 'write:ping'],
    findAccount: (_ctx, sub) => ({ accountId: sub, claims: () => ({ sub }) }),
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      jwtIntrospection: { enabled: true },
      revocation: { enabled: true },
      ciba: {
        enabled: true,
        deliveryModes: ['poll'],
        processLoginHint: (_ctx, loginHint) => loginHint,
        validateRequestContext: () => {},
        verifyUserCode: () => {},
        // The user approves at once: the grant is made and handed back
        // before the backchannel request is answered, so the first poll of
        // the token endpoint gets the tokens.
        triggerAuthenticationDevice: async (_ctx, request, account, client) => {
          const grant = new provider.Grant({
            accountId: account.accountId,
            clientId: client.clientId,
          });
          grant.addOIDCScope('openid offline_access');
          grant.addResourceScope(API, 'read:ping');
          await grant.save();
          await provider.backchannelResult(request, grant);
        },
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => API,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, resourceIndicator) => {
          const scope = RESOURCES[resourceIndicator];
          if (!scope) {
            throw new Provider.errors.InvalidTarget();
          }
          return {
            scope,
            audience: resourceIndicator,
            accessTokenTTL: 300,
            accessTokenFormat: 'opaque',
          };
        },
      },
    },
  };
  provider = new Provider(issuer, configuration);
  server.on('request', provider.callback());
  process.stdout.write(`ready ${issuer}\n`);
});

// The test ends the provider by closing its stdin (or killing it).
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
