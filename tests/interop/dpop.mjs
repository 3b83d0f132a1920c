// DPoP (RFC 9449) with third-party software against a running server: panva's `dpop` makes the key and
// the proofs, the server binds the session, and two resource-server libraries that share no code with
// it accept the bound access token with a proof: oauth4webapi's validateJwtAccessToken with
// requireDPoP, and express-oauth2-jwt-bearer with dpop required, serving a route on loopback.
//
// Environment: ISSUER (where the server listens), AUDIENCE, EMAIL and PASSWORD of an account.
// Prints one line per check and "N passed, M failed" last.

import * as shared from './checks.mjs';
import { expect, finish } from './checks.mjs';
import * as oauth from 'oauth4webapi';
import * as DPoP from 'dpop';
import express from 'express';
import { auth } from 'express-oauth2-jwt-bearer';

const { ISSUER, AUDIENCE, EMAIL, PASSWORD } = process.env;
const insecure = { [oauth.allowInsecureRequests]: true };
const check = (name, body) => shared.check('DPoP', name, body);

const keypair = await DPoP.generateKeyPair('ES256');
let nonce;

// A POST to the server with a fresh proof each time, retrying once with the nonce the server asks for.
async function postWithProof(path, body, extraHeaders = {}) {
  const url = `${ISSUER}${path}`;
  for (let attempt = 0; ; attempt += 1) {
    const proof = await DPoP.generateProof(keypair, url, 'POST', nonce);
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', dpop: proof, ...extraHeaders },
      body: JSON.stringify(body),
    });
    nonce = response.headers.get('dpop-nonce') ?? nonce;
    const json = await response.json();
    if (json.error === 'use_dpop_nonce' && attempt === 0) continue;
    return { status: response.status, json, attempts: attempt + 1 };
  }
}

const as = await oauth.processDiscoveryResponse(
  new URL(ISSUER),
  await oauth.discoveryRequest(new URL(ISSUER), { algorithm: 'oauth2', ...insecure }),
);
let access;
let refresh;

await check('the metadata lists the proof algorithms panva dpop signs with', async () => {
  expect(as.dpop_signing_alg_values_supported?.includes('ES256'), JSON.stringify(as.dpop_signing_alg_values_supported));
  return as.dpop_signing_alg_values_supported.join(',');
});

await check('a login with a panva dpop proof is bound to its key (use_dpop_nonce answered once)', async () => {
  const { status, json, attempts } = await postWithProof('/api/auth/login', { email: EMAIL, password: PASSWORD });
  expect(status === 200 && json.data.token_type === 'DPoP', JSON.stringify(json));
  access = json.data.access_token;
  refresh = json.data.refresh_token;
  const claims = JSON.parse(Buffer.from(access.split('.')[1], 'base64url').toString());
  const jkt = await DPoP.calculateThumbprint(keypair.publicKey);
  expect(claims.cnf?.jkt === jkt, `cnf ${JSON.stringify(claims.cnf)} is not the key's thumbprint ${jkt}`);
  return `${attempts} requests`;
});

await check('oauth4webapi validateJwtAccessToken(requireDPoP) accepts the bound token with a panva proof', async () => {
  const url = 'http://resource.example/orders';
  const proof = await DPoP.generateProof(keypair, url, 'GET', undefined, access);
  const request = new Request(url, { headers: { authorization: `DPoP ${access}`, dpop: proof } });
  const claims = await oauth.validateJwtAccessToken(as, request, AUDIENCE, { requireDPoP: true, ...insecure });
  expect(claims.cnf?.jkt, 'no cnf');
});

await check('oauth4webapi refuses the bound token as a Bearer token when DPoP is required', async () => {
  const request = new Request('http://resource.example/orders', { headers: { authorization: `Bearer ${access}` } });
  try {
    await oauth.validateJwtAccessToken(as, request, AUDIENCE, { requireDPoP: true, ...insecure });
  } catch {
    return;
  }
  throw new Error('accepted without a proof');
});

await check('oauth4webapi refuses a proof by another key', async () => {
  const other = await DPoP.generateKeyPair('ES256');
  const url = 'http://resource.example/orders';
  const proof = await DPoP.generateProof(other, url, 'GET', undefined, access);
  const request = new Request(url, { headers: { authorization: `DPoP ${access}`, dpop: proof } });
  try {
    await oauth.validateJwtAccessToken(as, request, AUDIENCE, { requireDPoP: true, ...insecure });
  } catch {
    return;
  }
  throw new Error('a proof by another key was accepted');
});

await check('express-oauth2-jwt-bearer with dpop required serves the bound token with a panva proof', async () => {
  const app = express();
  app.use(auth({
    issuer: as.issuer,
    jwksUri: as.jwks_uri,
    audience: AUDIENCE,
    tokenSigningAlg: JSON.parse(Buffer.from(access.split('.')[0], 'base64url').toString()).alg,
    dpop: { enabled: true, required: true },
  }));
  app.get('/orders', (req, res) => res.json({ sub: req.auth.payload.sub }));
  // Refusals are expected here: answered quietly rather than with Express's stack trace.
  app.use((error, req, res, next) => res.status(error.status ?? 500).json({ error: error.code ?? 'error' }));
  const server = await new Promise((resolve) => { const s = app.listen(0, '127.0.0.1', () => resolve(s)); });
  try {
    const url = `http://127.0.0.1:${server.address().port}/orders`;
    const send = async (key, scheme) => {
      const proof = await DPoP.generateProof(key, url, 'GET', undefined, access);
      return fetch(url, { headers: { authorization: `${scheme} ${access}`, dpop: proof } });
    };
    const ok = await send(keypair, 'DPoP');
    expect(ok.status === 200, `status ${ok.status}: ${await ok.text()}`);
    const other = await send(await DPoP.generateKeyPair('ES256'), 'DPoP');
    expect(other.status === 401, `a proof by another key: status ${other.status}`);
    const bearer = await fetch(url, { headers: { authorization: `Bearer ${access}` } });
    expect(bearer.status === 401 || bearer.status === 400, `as Bearer: status ${bearer.status}`);
  } finally {
    server.close();
  }
});

await check('our own /api/me takes the DPoP scheme with a panva proof', async () => {
  const url = `${ISSUER}/api/me`;
  const proof = await DPoP.generateProof(keypair, url, 'GET', nonce, access);
  const response = await fetch(url, { headers: { authorization: `DPoP ${access}`, dpop: proof } });
  expect(response.status === 200, `status ${response.status}: ${await response.text()}`);
});

await check('a refresh with a panva proof keeps the binding; without one it is refused', async () => {
  const bare = await fetch(`${ISSUER}/api/auth/refresh-token`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refreshToken: refresh }),
  });
  const refused = await bare.json();
  expect(bare.status === 400 && refused.error === 'invalid_dpop_proof', JSON.stringify(refused));
  const { status, json } = await postWithProof('/api/auth/refresh-token', { refreshToken: refresh });
  expect(status === 200 && json.data.token_type === 'DPoP', JSON.stringify(json));
});

finish();
