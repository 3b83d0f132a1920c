// Third-party software against a running server: every check uses a widely installed library that
// shares no code with the server, configured from the server's published metadata alone.
//
// Environment: ISSUER (the server's JWT_ISSUER, where it listens), AUDIENCE, ALG (the token's
// expected `alg`), ACCESS and REFRESH (a fresh login's tokens), CLIENT_ID and CLIENT_SECRET (an
// INTROSPECTION_CLIENTS entry). Prints one line per check and "N passed, M failed" last.

import * as shared from './checks.mjs';
import { expect, finish } from './checks.mjs';
import * as oauth from 'oauth4webapi';
import * as jose from 'jose';
import jsonwebtoken from 'jsonwebtoken';
import jwksRsa from 'jwks-rsa';

const { ISSUER, AUDIENCE, ALG, ACCESS, REFRESH, CLIENT_ID, CLIENT_SECRET } = process.env;
const insecure = { [oauth.allowInsecureRequests]: true }; // the test server is plain HTTP on loopback
const check = (name, body) => shared.check(ALG, name, body);

const issuer = new URL(ISSUER);
let as;
const client = { client_id: CLIENT_ID };

await check('oauth4webapi discovers the RFC 8414 metadata', async () => {
  const response = await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure });
  as = await oauth.processDiscoveryResponse(issuer, response);
  expect(as.issuer === ISSUER, `issuer ${as.issuer}`);
  expect(as.introspection_endpoint && as.revocation_endpoint && as.jwks_uri, 'an endpoint is missing');
  return as.access_token_signing_alg_values_supported.join(',');
});

await check('oauth4webapi validateJwtAccessToken accepts the access token (RFC 9068)', async () => {
  const request = new Request('http://resource.example/', { headers: { authorization: `Bearer ${ACCESS}` } });
  const claims = await oauth.validateJwtAccessToken(as, request, AUDIENCE, insecure);
  expect(claims.client_id, 'no client_id');
  return `client_id ${claims.client_id}`;
});

await check('oauth4webapi validateJwtAccessToken refuses a tampered token', async () => {
  const [head, body, signature] = ACCESS.split('.');
  const forged = [head, body.slice(0, -2) + (body.endsWith('A') ? 'BB' : 'AA'), signature].join('.');
  const request = new Request('http://resource.example/', { headers: { authorization: `Bearer ${forged}` } });
  try {
    await oauth.validateJwtAccessToken(as, request, AUDIENCE, insecure);
  } catch {
    return;
  }
  throw new Error('a tampered token was accepted');
});

await check('jose jwtVerify with a remote JWKS', async () => {
  const keys = jose.createRemoteJWKSet(new URL(as.jwks_uri));
  const { protectedHeader } = await jose.jwtVerify(ACCESS, keys, {
    issuer: ISSUER, audience: AUDIENCE, typ: 'at+jwt', algorithms: [ALG],
  });
  expect(protectedHeader.alg === ALG, `alg ${protectedHeader.alg}`);
});

if (ALG === 'EdDSA') {
  // jsonwebtoken 9 has no EdDSA; that is why RS256 and ES256 exist. Said, not counted.
  console.log('skip  EdDSA jsonwebtoken + jwks-rsa: jsonwebtoken 9 cannot verify EdDSA (use JWT_ALGORITHM=es256 or rs256 for it)');
} else {
  await check('jsonwebtoken + jwks-rsa verify with the key named by kid', async () => {
    const keys = jwksRsa({ jwksUri: as.jwks_uri });
    const { kid } = jose.decodeProtectedHeader(ACCESS);
    const key = await keys.getSigningKey(kid);
    const claims = jsonwebtoken.verify(ACCESS, key.getPublicKey(), {
      algorithms: [ALG], issuer: ISSUER, audience: AUDIENCE,
    });
    expect(claims.sub, 'no sub');
  });
}

async function introspect(token) {
  const response = await oauth.introspectionRequest(as, client, oauth.ClientSecretBasic(CLIENT_SECRET), token, insecure);
  return oauth.processIntrospectionResponse(as, client, response);
}

await check('oauth4webapi introspects the access token as active (RFC 7662)', async () => {
  const result = await introspect(ACCESS);
  expect(result.active === true && result.token_type === 'access_token', JSON.stringify(result));
});

await check('oauth4webapi introspects the refresh token as active', async () => {
  const result = await introspect(REFRESH);
  expect(result.active === true && result.token_type === 'refresh_token', JSON.stringify(result));
});

await check('oauth4webapi is refused with a wrong client secret', async () => {
  const response = await oauth.introspectionRequest(as, client, oauth.ClientSecretBasic('not-the-secret-0123'), ACCESS, insecure);
  expect(response.status === 401, `status ${response.status}`);
  expect((response.headers.get('www-authenticate') ?? '').startsWith('Basic'), 'no Basic challenge');
});

await check('oauth4webapi revokes the refresh token (RFC 7009), and both tokens turn inactive', async () => {
  const response = await oauth.revocationRequest(as, client, oauth.None(), REFRESH, insecure);
  await oauth.processRevocationResponse(response);
  const access = await introspect(ACCESS);
  const refresh = await introspect(REFRESH);
  expect(access.active === false && refresh.active === false, JSON.stringify({ access, refresh }));
});

finish();
