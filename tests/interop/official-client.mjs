// The official TypeScript client (@atproto/oauth-client-node 0.5.3, Node 22)
// completes the whole flow against a running atauth through the real pages
// in headless Chromium:
//
//   resolve handle → authorize (PAR) → sign in → approve → callback →
//   getSession (resource-server nonce) → wait past the access-token lifetime →
//   getSession again (refresh) → signOut (revocation) → restore fails.
//
// Environment: ATAUTH_ISSUER (e.g. http://localhost:PORT), ATAUTH_HANDLE,
// ATAUTH_PASSWORD, ATAUTH_ACCESS_TTL (seconds). Every step asserts what it
// got; any failure exits non-zero with the step named.

import assert from 'node:assert/strict'
import http from 'node:http'
import { NodeOAuthClient } from '@atproto/oauth-client-node'
import { chromium } from 'playwright-core'

const issuer = process.env.ATAUTH_ISSUER
const handle = process.env.ATAUTH_HANDLE
const password = process.env.ATAUTH_PASSWORD
const accessTtl = Number(process.env.ATAUTH_ACCESS_TTL ?? '3')
assert.ok(issuer && handle && password, 'ATAUTH_ISSUER, ATAUTH_HANDLE, ATAUTH_PASSWORD are required')

let step = 'setup'
const log = (msg) => console.log(`[official-client] ${msg}`)
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

// A loopback callback server on a free port.
const callbacks = []
const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://127.0.0.1')
  if (url.pathname === '/callback') {
    callbacks.push(url)
    res.writeHead(200, { 'content-type': 'text/plain' })
    res.end('signed in; you can close this window')
  } else {
    res.writeHead(404)
    res.end()
  }
})
await new Promise((r) => server.listen(0, '127.0.0.1', r))
const port = server.address().port
const redirectUri = `http://127.0.0.1:${port}/callback`
const scope = 'atproto transition:generic'

const locks = new Map()
const stateMap = new Map()
const sessionMap = new Map()
const storeOf = (map) => ({
  async get(key) { return map.get(key) },
  async set(key, value) { map.set(key, value) },
  async del(key) { map.delete(key) },
})

const client = new NodeOAuthClient({
  clientMetadata: {
    client_id: `http://localhost?redirect_uri=${encodeURIComponent(redirectUri)}&scope=${encodeURIComponent(scope)}`,
    redirect_uris: [redirectUri],
    scope,
    response_types: ['code'],
    grant_types: ['authorization_code', 'refresh_token'],
    application_type: 'native',
    token_endpoint_auth_method: 'none',
    dpop_bound_access_tokens: true,
  },
  stateStore: storeOf(stateMap),
  sessionStore: storeOf(sessionMap),
  // One process, so an in-process lock serialises refreshes.
  requestLock: async (name, fn) => {
    const prev = locks.get(name) ?? Promise.resolve()
    const run = prev.then(fn, fn)
    locks.set(name, run.catch(() => {}))
    return run
  },
  allowHttp: true,
  handleResolver: issuer,
  plcDirectoryUrl: issuer,
})

// playwright gives every launch a fresh temporary profile.
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ],
})

try {
  step = 'authorize (handle resolution, PAR)'
  const authUrl = await client.authorize(handle, { state: 'interop-state' })
  assert.equal(authUrl.origin, new URL(issuer).origin, 'authorization URL is on the issuer')
  assert.ok(authUrl.searchParams.get('request_uri')?.startsWith('urn:ietf:params:oauth:request_uri:'))
  log(`authorize URL ${authUrl.pathname}`)

  step = 'sign in through the page'
  const page = await browser.newPage()
  await page.goto(authUrl.href)
  // The client sends login_hint, so the page pre-fills and fixes the
  // account; fill it only when it is editable.
  if (await page.isEditable('#identifier')) await page.fill('#identifier', handle)
  else assert.equal(await page.inputValue('#identifier'), handle, 'login_hint pre-fills the account')
  await page.fill('#password', password)
  await page.click('form.sign-in button[type=submit]')

  step = 'approve on the consent page'
  await page.waitForSelector('button[name=decision][value=approve]', { timeout: 15000 })
  const consentText = await page.textContent('body')
  assert.ok(consentText.includes('application on this device'), 'loopback client shown as an application on this device')
  await page.click('button[name=decision][value=approve]')

  step = 'callback'
  for (let i = 0; i < 100 && callbacks.length === 0; i++) await sleep(100)
  assert.equal(callbacks.length, 1, 'the browser came back to the redirect URI')
  const params = callbacks[0].searchParams
  assert.equal(params.get('iss'), new URL(issuer).origin, 'iss in the redirect (RFC 9207)')
  const { session, state } = await client.callback(params)
  assert.equal(state, 'interop-state')
  const did = session.did
  assert.ok(did.startsWith('did:'), `session DID ${did}`)
  log(`signed in as ${did}`)

  step = 'getSession through the session (resource-server nonce)'
  const r1 = await session.fetchHandler('/xrpc/com.atproto.server.getSession')
  assert.equal(r1.status, 200, `getSession status ${r1.status}: ${await r1.clone().text()}`)
  const body1 = await r1.json()
  assert.equal(body1.did, did)
  assert.equal(body1.handle, handle)
  const firstRefresh = sessionMap.get(did).tokenSet.refresh_token

  step = 'wait past the access-token lifetime, call again (refresh)'
  await sleep((accessTtl + 1) * 1000)
  const r2 = await session.fetchHandler('/xrpc/com.atproto.server.getSession')
  assert.equal(r2.status, 200, `getSession after expiry: ${r2.status}`)
  const secondRefresh = sessionMap.get(did).tokenSet.refresh_token
  assert.notEqual(secondRefresh, firstRefresh, 'the refresh token rotated')

  step = 'signOut (revocation)'
  const saved = sessionMap.get(did)
  await session.signOut()
  assert.equal(sessionMap.has(did), false, 'session removed locally')

  step = 'restoring the session fails'
  // Put the revoked tokens back as a client that missed the sign-out would
  // hold them, and force a refresh: the server must refuse it.
  sessionMap.set(did, saved)
  let restored = true
  try {
    await client.restore(did, true)
  } catch (e) {
    restored = false
    log(`restore refused as expected: ${e?.message ?? e}`)
  }
  assert.equal(restored, false, 'a revoked session cannot be restored')
  log('all steps passed')
} catch (e) {
  console.error(`[official-client] FAILED at step "${step}":`, e)
  process.exitCode = 1
} finally {
  await browser.close()
  server.close()
}
