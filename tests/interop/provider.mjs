// An independent OpenID Connect provider for the anaconda-auth interoperability tests.
//
// node-oidc-provider (panva; OpenID Certified) with its own routes, discovery document,
// development login/consent pages and device flow pages, plus the few Anaconda routes the
// client needs after the OAuth part (design §6): POST /api/auth/api-keys and GET /api/account.
//
//   node provider.mjs --cert server.pem --key server-key.pem --client-id ID [--client-id ID2]
//                     [--refresh-without-consent ID2] [--port 0]
//
// It listens on 127.0.0.1 only (port 0: any free port) and prints one JSON line to stdout
// when ready: {"issuer": "https://127.0.0.1:PORT", "port": PORT}. Nothing else is written to
// stdout. It exits when stdin closes (the test process went away) or on SIGTERM.
//
// Test-only routes (under /__interop__/, JSON):
//   GET  /__interop__/requests      what the provider saw: one entry per request to the
//                                   discovery, authorization, token, device authorization,
//                                   userinfo and Anaconda routes, oldest first (with
//                                   "connection": the client's TCP port)
//   POST /__interop__/reset         forget the recorded requests and the device policy
//   POST /__interop__/device-policy {"interval": n | null, "slow_down_polls": n}
//        interval: add "interval": n to the device authorization response (oidc-provider
//        leaves it out: RFC 8628 then says 5 s); slow_down_polls: answer the first n polls
//        of each new device code that are still pending with slow_down, as a loaded server
//        may. Independently of the policy, a device code polled sooner than its interval
//        (the advertised one, or 5 s, plus 5 s per slow_down sent: RFC 8628 §3.5) is answered
//        slow_down, and the entry is marked "early".

import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import { parseArgs } from 'node:util';

import Provider from 'oidc-provider';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    cert: { type: 'string' },
    key: { type: 'string' },
    'client-id': { type: 'string', multiple: true },
    'refresh-without-consent': { type: 'string', multiple: true, default: [] },
  },
});

if (!args.cert || !args.key || !args['client-id']?.length) {
  process.stderr.write('usage: node provider.mjs --cert PEM --key PEM --client-id ID [--port N]\n');
  process.exit(2);
}

const API_KEY_SECRET = crypto.randomBytes(32);
const API_KEY_TTL = 30 * 24 * 3600;
const POLL_TOLERANCE_MS = 250;

// -- recorded requests and the device policy ---------------------------------------------

let recorded = [];
let devicePolicy = { interval: null, slow_down_polls: 0 };
// device_code -> { last: ms, interval: s, slowDowns: n, injected: n }
const deviceCodes = new Map();

function record(entry) {
  recorded.push({ time: Date.now() / 1000, ...entry });
}

// -- API keys: HS256 JWTs signed with a key that lives as long as this process -----------

const b64url = (data) => Buffer.from(data).toString('base64url');

function signApiKey(claims) {
  const header = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const payload = b64url(JSON.stringify(claims));
  const mac = crypto.createHmac('sha256', API_KEY_SECRET).update(`${header}.${payload}`);
  return `${header}.${payload}.${mac.digest('base64url')}`;
}

function verifyApiKey(token) {
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  const mac = crypto.createHmac('sha256', API_KEY_SECRET).update(`${parts[0]}.${parts[1]}`);
  const expected = Buffer.from(mac.digest('base64url'));
  const given = Buffer.from(parts[2]);
  if (expected.length !== given.length || !crypto.timingSafeEqual(expected, given)) return null;
  const claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString());
  if (typeof claims.exp !== 'number' || claims.exp * 1000 < Date.now()) return null;
  return claims;
}

// -- the provider ------------------------------------------------------------------------

function accountClaims(sub) {
  const email = sub.includes('@') ? sub : `${sub}@example.com`;
  return { sub, email, email_verified: true, name: sub, preferred_username: sub };
}

function configuration() {
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    clients: args['client-id'].map((clientId) => ({
      client_id: clientId,
      application_type: 'native', // loopback redirect URIs with any port (RFC 8252 §7.3)
      token_endpoint_auth_method: 'none', // a public client
      redirect_uris: ['http://127.0.0.1/auth/oidc', 'http://localhost/auth/oidc'],
      response_types: ['code'],
      grant_types: [
        'authorization_code',
        'refresh_token',
        'urn:ietf:params:oauth:grant-type:device_code',
      ],
    })),
    jwks: { keys: [{ ...privateKey.export({ format: 'jwk' }), kid: 'interop', use: 'sig' }] },
    cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
    scopes: ['openid', 'offline_access', 'email', 'profile'],
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'preferred_username'],
    },
    // Any login name is accepted by the development login page; the account exists.
    async findAccount(_ctx, sub) {
      return { accountId: sub, async claims() { return accountClaims(sub); } };
    },
    pkce: { methods: ['S256'], required: () => true },
    // OpenID Connect Core §11: offline_access is honoured only with prompt=consent, which
    // anaconda-auth does not send (oidc-provider drops the scope otherwise, and issues no
    // refresh token). --refresh-without-consent CLIENT_ID models a provider whose policy
    // permits offline access for that (first-party) client anyway.
    async issueRefreshToken(_ctx, client, code) {
      if (!client.grantTypeAllowed('refresh_token')) return false;
      return code.scopes.has('offline_access') || args['refresh-without-consent'].includes(client.clientId);
    },
    features: {
      devInteractions: { enabled: true },
      deviceFlow: { enabled: true },
      introspection: { enabled: true },
      revocation: { enabled: true },
    },
    ttl: {
      AccessToken: 3600,
      AuthorizationCode: 60,
      DeviceCode: 600,
      IdToken: 3600,
      Interaction: 600,
      Grant: 3600,
      Session: 3600,
      RefreshToken: 24 * 3600,
    },
  };
}

// -- HTTP handlers -----------------------------------------------------------------------

function sendJson(res, status, body, headers = {}) {
  const data = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(data),
    'Cache-Control': 'no-store',
    ...headers,
  });
  res.end(data);
}

function sendHtml(res, status, title) {
  const data = `<!doctype html><html><head><title>${title}</title></head><body><h1>${title}</h1></body></html>`;
  res.writeHead(status, { 'Content-Type': 'text/html; charset=utf-8' });
  res.end(data);
}

async function readJson(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 64 * 1024) throw new Error('body too large');
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString();
  return text ? JSON.parse(text) : {};
}

function bearer(req) {
  const match = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization || '');
  return match ? match[1] : null;
}

async function anacondaRoute(provider, req, res, url) {
  const entry = {
    route: url.pathname,
    method: req.method,
    user_agent: req.headers['user-agent'] || null,
    connection: req.socket.remotePort,
    authorization: req.headers.authorization ? req.headers.authorization.split(' ')[0] : null,
  };
  if (url.pathname === '/api/auth/api-keys' && req.method === 'POST') {
    let body;
    try {
      body = await readJson(req);
    } catch {
      entry.status = 400;
      record(entry);
      return sendJson(res, 400, { error: 'invalid_request', error_description: 'JSON body expected' });
    }
    entry.json = body;
    // The access token must be one this provider issued and still valid (what the
    // introspection endpoint would say), with the openid scope (userinfo access).
    const token = bearer(req);
    const found = token ? await provider.AccessToken.find(token) : undefined;
    if (!found || found.isExpired) {
      entry.status = 401;
      record(entry);
      return sendJson(res, 401, { error: 'invalid_token', error_description: 'the access token is not valid' }, {
        'WWW-Authenticate': 'Bearer error="invalid_token"',
      });
    }
    const now = Math.floor(Date.now() / 1000);
    const apiKey = signApiKey({
      sub: found.accountId,
      email: accountClaims(found.accountId).email,
      scopes: Array.isArray(body.scopes) ? body.scopes : [],
      client_id: found.clientId,
      iat: now,
      exp: now + API_KEY_TTL,
      jti: crypto.randomUUID(),
    });
    entry.status = 201;
    entry.account = found.accountId;
    entry.client_id = found.clientId;
    entry.access_token_scope = found.scope;
    record(entry);
    return sendJson(res, 201, { api_key: apiKey });
  }
  if (url.pathname === '/api/account' && req.method === 'GET') {
    const token = bearer(req);
    const claims = token ? verifyApiKey(token) : null;
    entry.status = claims ? 200 : 401;
    record(entry);
    if (!claims) return sendJson(res, 401, { error: 'invalid_token' });
    return sendJson(res, 200, { user: { id: claims.sub, email: claims.email }, scopes: claims.scopes });
  }
  entry.status = 404;
  record(entry);
  return sendJson(res, 404, { error: 'not_found' });
}

async function controlRoute(req, res, url) {
  if (url.pathname === '/__interop__/requests' && req.method === 'GET') {
    return sendJson(res, 200, recorded);
  }
  if (url.pathname === '/__interop__/reset' && req.method === 'POST') {
    recorded = [];
    devicePolicy = { interval: null, slow_down_polls: 0 };
    deviceCodes.clear();
    return sendJson(res, 200, {});
  }
  if (url.pathname === '/__interop__/device-policy' && req.method === 'POST') {
    const body = await readJson(req);
    devicePolicy = {
      interval: typeof body.interval === 'number' ? body.interval : null,
      slow_down_polls: typeof body.slow_down_polls === 'number' ? body.slow_down_polls : 0,
    };
    return sendJson(res, 200, devicePolicy);
  }
  return sendJson(res, 404, { error: 'not_found' });
}

// What the OAuth endpoints were asked, after oidc-provider answered (a Koa middleware).
const RECORDED_ROUTES = new Set([
  'discovery', 'authorization', 'token', 'device_authorization', 'userinfo', 'code_verification',
]);

function recordingMiddleware() {
  return async (ctx, next) => {
    const started = Date.now();
    await next();
    const route = ctx.oidc?.route;
    if (!RECORDED_ROUTES.has(route)) return;
    const entry = {
      time: started / 1000,
      route,
      method: ctx.method,
      user_agent: ctx.get('user-agent') || null,
      connection: ctx.req.socket.remotePort, // the client's port: which TCP connection
      query: { ...ctx.query },
      form: ctx.oidc.body ? { ...ctx.oidc.body } : null,
      status: ctx.status,
      location: ctx.response.get('location') || null,
    };
    if (route === 'token' && entry.form?.grant_type === 'urn:ietf:params:oauth:grant-type:device_code') {
      entry.poll = devicePoll(ctx, entry.form.device_code, started);
    }
    const body = ctx.body && typeof ctx.body === 'object' && !Buffer.isBuffer(ctx.body) ? ctx.body : {};
    entry.error = body.error ?? null;
    if (route === 'token' && ctx.status === 200 && ctx.body && typeof ctx.body === 'object') {
      entry.issued = Object.keys(ctx.body).filter((k) => ctx.body[k] !== undefined).sort();
      entry.scope = ctx.body.scope ?? null;
    }
    recorded.push(entry);
  };
}

// RFC 8628 §3.5 on the server side: a pending device code polled too soon gets slow_down.
function devicePoll(ctx, deviceCode, now) {
  const state = deviceCodes.get(deviceCode);
  if (!state) return null;
  const spacing = (now - state.last) / 1000;
  state.last = now;
  const pending = ctx.status === 400 && ctx.body?.error === 'authorization_pending';
  if (!pending) return { spacing };
  let reason = null;
  if (spacing * 1000 < state.interval * 1000 - POLL_TOLERANCE_MS) {
    reason = 'early';
  } else if (state.injected < devicePolicy.slow_down_polls) {
    state.injected += 1;
    reason = 'injected';
  }
  if (reason) {
    state.interval += 5;
    ctx.body = {
      error: 'slow_down',
      error_description: 'you are polling too quickly and should back off at a reasonable rate',
    };
  }
  return { spacing, slow_down: reason, interval: state.interval };
}

// -- start -------------------------------------------------------------------------------

const tls = { cert: fs.readFileSync(args.cert), key: fs.readFileSync(args.key) };
let providerCallback = null;
let provider = null;

const server = https.createServer(tls, (req, res) => {
  const url = new URL(req.url, 'https://127.0.0.1');
  const fail = (err) => {
    process.stderr.write(`provider.mjs: ${err?.stack || err}\n`);
    if (!res.headersSent) sendJson(res, 500, { error: 'server_error' });
  };
  if (!providerCallback) return sendJson(res, 503, { error: 'starting' });
  if (url.pathname.startsWith('/__interop__/')) return controlRoute(req, res, url).catch(fail);
  if (url.pathname.startsWith('/api/')) return anacondaRoute(provider, req, res, url).catch(fail);
  if (url.pathname === '/app/local-login-success') return sendHtml(res, 200, 'Logged in');
  if (url.pathname === '/app/local-login-error') return sendHtml(res, 200, 'Login failed');
  return providerCallback(req, res);
});

server.listen(Number(args.port), '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `https://127.0.0.1:${port}`;
  provider = new Provider(issuer, configuration());
  provider.use(recordingMiddleware());
  provider.on('device_authorization.success', (_ctx, body) => {
    const interval = devicePolicy.interval;
    if (interval !== null) body.interval = interval;
    deviceCodes.set(body.device_code, {
      last: Date.now(), interval: interval ?? 5, injected: 0,
    });
  });
  provider.on('server_error', (_ctx, err) => process.stderr.write(`server_error: ${err.stack}\n`));
  providerCallback = provider.callback();
  process.stdout.write(`${JSON.stringify({ issuer, port })}\n`);
});

const stop = () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.resume();
