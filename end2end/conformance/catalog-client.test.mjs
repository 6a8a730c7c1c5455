// Conformance: Backstage's own npm @backstage/catalog-client, unchanged, against our
// /api/catalog. Run by `make test` (node --test) against the server it started, whose demo
// tenant holds Backstage's example catalog.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { CatalogClient } from '@backstage/catalog-client';

const port = process.env.E2E_PORT;
const host = `${process.env.E2E_TENANT}.localhost`;

/** fetch over loopback with the tenant's Host header (Node cannot resolve *.localhost). */
function tenantFetch(cookie) {
  return (input, init = {}) =>
    new Promise((resolve, reject) => {
      const url = new URL(typeof input === 'string' ? input : input.url);
      const headers = Object.fromEntries(new Headers(init.headers ?? {}).entries());
      const request = http.request(
        { host: '127.0.0.1', port, path: url.pathname + url.search, method: init.method ?? 'GET', headers: { ...headers, host, ...(cookie ? { cookie } : {}) } },
        (response) => {
          const chunks = [];
          response.on('data', (c) => chunks.push(c));
          response.on('end', () => {
            const responseHeaders = new Headers();
            for (const [k, v] of Object.entries(response.headers)) responseHeaders.set(k, Array.isArray(v) ? v.join(', ') : v);
            const body = [204, 304].includes(response.statusCode) ? null : Buffer.concat(chunks);
            resolve(new Response(body, { status: response.statusCode, headers: responseHeaders }));
          });
        },
      );
      request.on('error', reject);
      if (init.body) request.write(init.body);
      request.end();
    });
}

let client;

before(async () => {
  const login = await tenantFetch()(`http://${host}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams({ email: process.env.E2E_ADMIN_EMAIL, password: process.env.E2E_ADMIN_PASSWORD }).toString(),
  });
  assert.equal(login.status, 200);
  const cookie = login.headers.get('set-cookie').split(';')[0];
  client = new CatalogClient({
    discoveryApi: { getBaseUrl: async () => `http://${host}/api/catalog` },
    fetchApi: { fetch: tenantFetch(cookie) },
  });
});

test('getEntities filters (OR of ANDs), projects fields and orders', async () => {
  const { items } = await client.getEntities({
    filter: [{ kind: 'Domain' }, { kind: 'System' }],
    fields: ['kind', 'metadata.name'],
    order: { field: 'metadata.name', order: 'asc' },
  });
  assert.equal(items.length, 6);
  assert.deepEqual(Object.keys(items[0]).sort(), ['kind', 'metadata']);
  const names = items.map((e) => e.metadata.name);
  assert.deepEqual(names, [...names].sort());
  const { items: services } = await client.getEntities({ filter: { kind: 'component', 'spec.type': 'service' } });
  assert.ok(services.length > 0 && services.every((e) => e.spec.type === 'service'));
  const { items: owned } = await client.getEntities({ filter: { 'relations.ownedBy': 'group:default/team-c' } });
  assert.ok(owned.some((e) => e.metadata.name === 'petstore'));
});

test('getEntitiesByRefs keeps request order and answers undefined for missing refs', async () => {
  const { items } = await client.getEntitiesByRefs({ entityRefs: ['component:default/petstore', 'component:default/missing', 'group:default/team-a'] });
  assert.equal(items.length, 3);
  assert.equal(items[0].metadata.name, 'petstore');
  assert.equal(items[1], undefined);
  assert.equal(items[2].metadata.name, 'team-a');
});

test('getEntityByRef returns the entity with relations, or undefined', async () => {
  const entity = await client.getEntityByRef('component:default/petstore');
  assert.equal(entity.kind, 'Component');
  assert.ok(entity.relations.some((r) => r.type === 'ownedBy' && r.targetRef === 'group:default/team-c'));
  assert.equal(await client.getEntityByRef('component:default/missing'), undefined);
});

test('queryEntities pages with cursors and counts the total', async () => {
  const first = await client.queryEntities({ filter: { kind: 'user' }, limit: 10, orderFields: { field: 'metadata.name', order: 'asc' } });
  assert.equal(first.totalItems, 17);
  assert.equal(first.items.length, 10);
  assert.ok(first.pageInfo.nextCursor);
  const rest = await client.queryEntities({ cursor: first.pageInfo.nextCursor, limit: 10 });
  assert.equal(rest.items.length, 7);
  assert.equal(rest.pageInfo.nextCursor, undefined);
  const uids = new Set([...first.items, ...rest.items].map((e) => e.metadata.uid));
  assert.equal(uids.size, 17, 'the two pages do not overlap');
  const found = await client.queryEntities({ fullTextFilter: { term: 'wayback' } });
  assert.ok(found.items.length > 0);
});

test('queryEntities with a predicate ($all, $any, $not, $in, $exists) pages like the rest', async () => {
  const page = await client.queryEntities({
    query: { $all: [{ kind: 'component' }, { 'spec.lifecycle': { $in: ['production'] } }, { $not: { 'spec.type': 'website' } }] },
    limit: 3,
  });
  assert.ok(page.totalItems > 3);
  assert.ok(page.items.every((e) => e.kind === 'Component' && e.spec.lifecycle === 'production' && e.spec.type !== 'website'));
  const next = await client.queryEntities({ cursor: page.pageInfo.nextCursor, limit: 3 });
  assert.ok(next.items.every((e) => e.kind === 'Component' && e.spec.lifecycle === 'production'));
  const either = await client.queryEntities({ query: { $any: [{ kind: 'domain' }, { kind: 'system' }] }, limit: 50 });
  assert.equal(either.totalItems, 6);
  const noOwner = await client.queryEntities({ query: { $all: [{ kind: 'user' }, { 'spec.owner': { $exists: false } }] }, limit: 1 });
  assert.equal(noOwner.totalItems, 17);
});

test('getEntityFacets counts values', async () => {
  const { facets } = await client.getEntityFacets({ facets: ['kind'], filter: { kind: 'Component' } });
  assert.deepEqual(facets.kind, [{ value: 'Component', count: 13 }]);
});

test('validateEntity reports valid and invalid entities', async () => {
  const good = await client.validateEntity(
    { apiVersion: 'backstage.io/v1alpha1', kind: 'Component', metadata: { name: 'ok' }, spec: { type: 'service', lifecycle: 'production', owner: 'team-a' } },
    'url:https://example.com/catalog-info.yaml',
  );
  assert.deepEqual(good, { valid: true });
  const bad = await client.validateEntity({ apiVersion: 'backstage.io/v1alpha1', kind: 'Component', metadata: { name: '-bad-' } }, 'url:https://example.com/x.yaml');
  assert.equal(bad.valid, false);
  assert.ok(bad.errors.length >= 1);
});

test('removeEntityByUid deletes, and errors arrive as Backstage errors', async () => {
  const entity = await client.getEntityByRef('resource:default/artists-db');
  await client.removeEntityByUid(entity.metadata.uid);
  assert.equal(await client.getEntityByRef('resource:default/artists-db'), undefined);
  await assert.rejects(
    client.getEntities({ order: { field: 'spec.definition', order: 'asc' } }),
    (e) => e.name === 'ResponseError' && e.response.status === 400 && e.body.error.name === 'InputError' && /cannot order by/.test(e.body.error.message),
  );
});
