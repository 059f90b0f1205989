// A real OpenID provider issuing sender-constrained tokens for
// tests/resource_server/dpop_oidc.rs: node's `oidc-provider` on a free
// loopback port with `features.dPoP` (server nonces on, so clients must
// answer `use_dpop_nonce`) and `features.mTLS.certificateBoundAccessTokens`,
// issuing RFC 9068 JWT access tokens by client_credentials for
// `urn:tower-jwt-auth:api`.
//
// The client certificate of a token request comes from the `x-client-cert`
// header (URL-encoded PEM), as from a TLS-terminating proxy in front of the
// provider: the token is bound to it (`cnf["x5t#S256"]`).
//
// `node oidc_provider_dpop.mjs <node_modules dir>`. Prints one line,
// `ready http://127.0.0.1:<port>`, once it serves.
import crypto from 'node:crypto';
import http from 'node:http';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const modules = process.argv[2];
const { default: Provider } = await import(
  pathToFileURL(path.join(modules, 'oidc-provider', 'lib', 'index.js')).href
);

const API = 'urn:tower-jwt-auth:api';

const server = http.createServer();
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const client = (id, extra) => ({
    client_id: id,
    client_secret: `${id}-secret`,
    grant_types: ['client_credentials'],
    redirect_uris: [],
    response_types: [],
    token_endpoint_auth_method: 'client_secret_post',
    id_token_signed_response_alg: 'ES256',
    ...extra,
  });
  const provider = new Provider(issuer, {
    clients: [
      client('dpop-client', { dpop_bound_access_tokens: true }),
      client('mtls-client', { tls_client_certificate_bound_access_tokens: true }),
    ],
    scopes: ['read:ping'],
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      dPoP: {
        enabled: true,
        nonceSecret: crypto.randomBytes(32),
        requireNonce: () => true,
      },
      mTLS: {
        enabled: true,
        certificateBoundAccessTokens: true,
        getCertificate: (ctx) => {
          const escaped = ctx.get('x-client-cert');
          return escaped ? decodeURIComponent(escaped) : undefined;
        },
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => API,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, resourceIndicator) => {
          if (resourceIndicator !== API) {
            throw new Provider.errors.InvalidTarget();
          }
          return {
            scope: 'read:ping',
            audience: API,
            accessTokenTTL: 300,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'ES256' } },
          };
        },
      },
    },
    jwks: {
      keys: [
        crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }),
      ].map((jwk) => ({ ...jwk, alg: 'ES256', use: 'sig', kid: 'dpop-test' })),
    },
  });
  server.on('request', provider.callback());
  process.stdout.write(`ready ${issuer}\n`);
});

// The test ends the provider by closing its stdin (or killing it).
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
