#!/usr/bin/env node
// Fidelity check: the real `@apigrate/autotask-restapi` client against the sandbox's Autotask API.
//
// The client discovers the zone itself: it GETs `${base_url}v1.0/zoneInformation?user=...` and then
// sends every call to `${zoneInfo.url}V1.0/...` with the ApiIntegrationcode/UserName/Secret headers.
// We only point `base_url` (a constructor option) at the sandbox's zone-lookup root.
//
// Asserts:
//  * zone discovery succeeded through the client (zoneInfo set, its url on loopback);
//  * Companies/query/count (client's `count`) equals the size the sandbox printed (if known);
//  * POST Companies/query, then following pageDetails.nextPageUrl with POST + the same body (through
//    the client's own transport), yields >= AT_MIN_PAGES pages of <= 500 items whose total equals the
//    count, ids unique, pageDetails consistent (count == items.length, requestCount == 500, last page
//    has nextPageUrl null);
//  * the same through GET Companies/query?search=..., following nextPageUrl with GET;
//  * GET on a nextPageUrl issued for a POST query answers 405 (the real API does: brief section 3.3);
//  * Companies.get(id) returns {item} for a listed id, and null (HTTP 404) for an unknown id.
// Every fetch is guarded: a URL outside loopback is refused (and fails the check), each has a timeout.
'use strict';

const TIMEOUT_MS = Number(process.env.CHECK_TIMEOUT || '240') * 1000;
const overall = setTimeout(() => {
  console.log(`  FAIL: check did not finish within ${TIMEOUT_MS / 1000}s`);
  console.log('autotask-restapi: FAILED (timeout)');
  process.exit(1);
}, TIMEOUT_MS);
overall.unref();

const failures = [];
const fail = (m) => { failures.push(m); console.log(`  FAIL: ${m}`); };
const ok = (m) => console.log(`  ok: ${m}`);
const need = (n, d) => {
  const v = process.env[n] ?? d;
  if (v === undefined) { console.error(`check_autotask: missing environment variable ${n}`); process.exit(2); }
  return v;
};

// --- loopback guard + request log around the global fetch the client uses -------------------------
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);
const requests = [];
const realFetch = globalThis.fetch;
globalThis.fetch = async (url, init = {}) => {
  const u = new URL(String(url));
  requests.push(`${init.method || 'GET'} ${u.href}`);
  if (!LOOPBACK.has(u.hostname) && !u.hostname.startsWith('127.')) {
    const msg = `client tried to reach a non-loopback URL: ${u.href}`;
    fail(msg);
    throw new Error(msg);
  }
  return realFetch(url, { ...init, signal: init.signal ?? AbortSignal.timeout(30000) });
};

const { AutotaskRestApi, AutotaskApiError } = require('@apigrate/autotask-restapi');

async function pageThrough(api, label, first, follow) {
  const pages = [];
  let page = first;
  const seen = new Set();
  let total = 0;
  for (let n = 1; ; n++) {
    if (!page || !Array.isArray(page.items) || typeof page.pageDetails !== 'object' || page.pageDetails === null) {
      fail(`${label} page ${n}: not a {items, pageDetails} envelope: ${JSON.stringify(page).slice(0, 300)}`);
      break;
    }
    const pd = page.pageDetails;
    pages.push(page.items.length);
    if (pd.count !== page.items.length) fail(`${label} page ${n}: pageDetails.count ${pd.count} != items.length ${page.items.length}`);
    if (pd.requestCount !== 500) fail(`${label} page ${n}: pageDetails.requestCount ${pd.requestCount}, expected 500 (MaxRecords omitted)`);
    if (page.items.length > 500) fail(`${label} page ${n}: ${page.items.length} items > 500`);
    for (const key of ['prevPageUrl', 'nextPageUrl']) {
      if (!(key in pd)) fail(`${label} page ${n}: pageDetails has no ${key} key (the real API sends it, null when absent)`);
    }
    for (const it of page.items) {
      if (seen.has(it.id)) fail(`${label}: id ${it.id} returned twice`);
      seen.add(it.id);
    }
    total += page.items.length;
    if (!pd.nextPageUrl) break;
    if (page.items.length !== 500) fail(`${label} page ${n}: a non-final page with ${page.items.length} items`);
    if (n > 1000) { fail(`${label}: paging does not terminate`); break; }
    page = await follow(pd.nextPageUrl, n + 1);
  }
  return { total, pages, seen };
}

function endpointOf(api, url, label) {
  // nextPageUrl is absolute; the client's transport takes an endpoint relative to `${zoneInfo.url}V1.0`.
  const root = `${api.zoneInfo.url}V${api.version}`;
  if (!url.toLowerCase().startsWith(root.toLowerCase())) {
    fail(`${label}: nextPageUrl ${url} is not under the zone URL ${root} the sandbox itself announced`);
    return null;
  }
  return url.slice(root.length);
}

async function main() {
  const base = need('AT_ZONE_LOOKUP_BASE'); // e.g. https://127.0.0.1:PORT/ATServicesRest/
  const api = new AutotaskRestApi(
    need('AT_USER', 'sbxfullapi00001@SANDBOX.EXAMPLE'),
    need('AT_SECRET', 'Full*Secret#001'),
    need('AT_CODE', 'SYNC365SANDBOXCODE'),
    { base_url: base },
  );
  const body = { filter: [{ op: 'gte', field: 'id', value: 0 }] };
  const t0 = Date.now();

  const countResult = await api.Companies.count(body);
  if (!api.zoneInfo) {
    fail(`zone discovery failed: the client fell back to ${base} (requests: ${requests.join(' | ')})`);
    return;
  }
  ok(`zone discovery: ${JSON.stringify(api.zoneInfo)} (lookup request: ${requests[0]})`);
  const wantZone = process.env.AT_EXPECT_ZONE;
  if (wantZone && !String(api.zoneInfo.url).toLowerCase().includes(`/${wantZone.toLowerCase()}/`)) {
    fail(`zone discovery: expected the ${wantZone} zone URL, got ${api.zoneInfo.url}`);
  }
  const count = countResult && countResult.queryCount;
  if (!Number.isInteger(count)) { fail(`Companies count: unexpected body ${JSON.stringify(countResult)}`); return; }
  ok(`Companies/query/count -> ${count}`);
  const expected = process.env.EXPECT_AT_COMPANIES;
  if (expected) {
    if (Number(expected) !== count) fail(`the sandbox was started with --companies ${expected} but count says ${count}`);
    else ok(`count matches --companies ${expected}`);
  }
  const minPages = Number(process.env.AT_MIN_PAGES || '3');
  if (count <= 500 * (minPages - 1)) fail(`only ${count} companies: fewer than ${minPages} pages of 500 (seed more with --companies)`);

  // 1. POST query, follow nextPageUrl with POST + same body through the client's transport.
  const first = await api.Companies.query(body);
  let firstNext = first && first.pageDetails && first.pageDetails.nextPageUrl;
  const post = await pageThrough(api, 'POST Companies/query', first, async (url, n) => {
    const ep = endpointOf(api, url, `POST page ${n}`);
    if (ep === null) return null;
    return api._post(ep, body);
  });
  console.log(`  POST paging: ${post.pages.length} pages [${post.pages.join(', ')}], ${post.total} companies`);
  if (post.total !== count) fail(`POST paging yielded ${post.total} companies, count says ${count}`);
  if (post.pages.length < minPages) fail(`POST paging: ${post.pages.length} pages, expected at least ${minPages}`);
  if (post.total === count && post.pages.length >= minPages) ok(`POST paging: all ${count} companies over ${post.pages.length} pages`);

  // 2. GET query?search=..., follow nextPageUrl with GET.
  const getFirst = await api._get('/Companies/query', { search: JSON.stringify(body) });
  const get = await pageThrough(api, 'GET Companies/query', getFirst, async (url, n) => {
    const ep = endpointOf(api, url, `GET page ${n}`);
    if (ep === null) return null;
    return api._get(ep);
  });
  console.log(`  GET paging: ${get.pages.length} pages [${get.pages.join(', ')}], ${get.total} companies`);
  if (get.total !== count) fail(`GET paging yielded ${get.total} companies, count says ${count}`);
  else ok(`GET ?search= paging: all ${count} companies`);
  const same = get.seen.size === post.seen.size && [...get.seen].every((id) => post.seen.has(id));
  if (!same) fail('GET and POST paging returned different id sets');

  // 3. A POST query's nextPageUrl fetched with GET -> 405 (real API: brief section 3.3, R7 PR #170).
  if (firstNext) {
    const ep = endpointOf(api, firstNext, 'POST nextPageUrl with GET');
    if (ep !== null) {
      try {
        const r = await api._get(ep);
        fail(`GET on a POST query's nextPageUrl answered 2xx (real API: 405 {"Message":"The requested resource does not support http method 'GET'."}); got ${JSON.stringify(r).slice(0, 200)}`);
      } catch (e) {
        if (e instanceof AutotaskApiError && e.status === 405) ok(`GET on a POST query's nextPageUrl -> 405 ${JSON.stringify(e.details)}`);
        else fail(`GET on a POST query's nextPageUrl: expected HTTP 405, got ${e.status || e} ${JSON.stringify(e.details || '')}`);
      }
    }
  }

  // 4. get by id, and an unknown id (the client maps HTTP 404 to null).
  const anyId = [...post.seen][0];
  if (anyId !== undefined) {
    const one = await api.Companies.get(anyId);
    if (!one || !one.item || one.item.id !== anyId) fail(`Companies.get(${anyId}): expected {item:{id:${anyId},...}}, got ${JSON.stringify(one).slice(0, 200)}`);
    else ok(`Companies.get(${anyId}) -> {item: ${one.item.companyName}}`);
  }
  const missing = await api.Companies.get(2147480000).catch((e) => e);
  if (missing !== null) fail(`Companies.get(unknown id): expected HTTP 404 (client returns null), got ${missing instanceof Error ? `${missing.status} ${JSON.stringify(missing.details)}` : JSON.stringify(missing).slice(0, 200)}`);
  else ok('Companies.get(unknown id) -> 404 (null)');

  console.log(`  ${requests.length} requests, elapsed ${((Date.now() - t0) / 1000).toFixed(1)}s`);
}

main()
  .catch((e) => fail(`${e && e.stack || e}${e && e.details ? ` details=${JSON.stringify(e.details)}` : ''}`))
  .finally(() => {
    if (failures.length) {
      console.log(`  last requests: ${requests.slice(-3).join(' | ')}`);
      console.log(`autotask-restapi: FAILED (${failures.length} problem(s))`);
      process.exit(1);
    }
    console.log('autotask-restapi: passed');
    process.exit(0);
  });
