// A real OpenID provider for tests/resource_server: node's `oidc-provider`
// on a free loopback port, issuing RFC 9068 JWT access tokens by
// client_credentials for the resource named by `resource=`.
//
// `node oidc_provider.mjs <node_modules dir>`; with `PROVIDER_JWKS` (a JWK
// Set with private keys) it signs with those keys, so a test can forge other
// tokens under the provider's key. Prints one line,
// `ready http://127.0.0.1:<port>`, once it serves.
import http from 'node:http';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const modules = process.argv[2];
const { default: Provider } = await import(
  pathToFileURL(path.join(modules, 'oidc-provider', 'lib', 'index.js')).href
);

// The resources this provider issues tokens for, and the scopes each allows.
const RESOURCES = {
  'urn:tower-jwt-auth:api': 'read:ping write:ping',
  'urn:tower-jwt-auth:other': 'read:ping',
};

const server = http.createServer();
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const configuration = {
    clients: [
      {
        client_id: 'resource-server-test',
        client_secret: 'resource-server-test-secret',
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
        token_endpoint_auth_method: 'client_secret_post',
      },
    ],
    scopes: ['read:ping', 'write:ping'],
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => 'urn:tower-jwt-auth:api',
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
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
  };
  if (process.env.PROVIDER_JWKS) {
    configuration.jwks = JSON.parse(process.env.PROVIDER_JWKS);
  }
  const provider = new Provider(issuer, configuration);
  server.on('request', provider.callback());
  process.stdout.write(`ready ${issuer}\n`);
});

// The test ends the provider by closing its stdin (or killing it).
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
