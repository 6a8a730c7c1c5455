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
let sessionCookie;

before(async () => {
  const login = await tenantFetch()(`http://${host}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams({ email: process.env.E2E_ADMIN_EMAIL, password: process.env.E2E_ADMIN_PASSWORD }).toString(),
  });
  assert.equal(login.status, 200);
  const cookie = login.headers.get('set-cookie').split(';')[0];
  sessionCookie = cookie;
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
  // Several values of one key are alternatives: the client sends `kind=Domain,kind=System`.
  const { items: either } = await client.getEntities({ filter: { kind: ['Domain', 'System'] }, fields: ['kind'] });
  assert.equal(either.length, 6);
  const { items: eitherKindServices } = await client.getEntities({ filter: { kind: ['Component', 'API'], 'spec.type': 'service' } });
  assert.deepEqual(eitherKindServices.map((e) => e.metadata.name).sort(), services.map((e) => e.metadata.name).sort());
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
  // fields and limit come with each request; the cursor carries the query only.
  const projected = await client.queryEntities({ filter: { kind: 'user' }, limit: 5, fields: ['metadata.name'] });
  assert.equal(projected.items[0].spec, undefined);
  const whole = await client.queryEntities({ cursor: projected.pageInfo.nextCursor, limit: 12 });
  assert.equal(whole.items.length, 12);
  assert.ok(whole.items.every((e) => e.kind === 'User' && e.spec !== undefined));
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
  // Removing what is not there is a no-op, not an error.
  await client.removeEntityByUid(entity.metadata.uid);
  await assert.rejects(
    client.getEntities({ order: { field: 'spec.definition', order: 'asc' } }),
    (e) => e.name === 'ResponseError' && e.response.status === 400 && e.body.error.name === 'InputError' && /cannot order by/.test(e.body.error.message),
  );
});

/** Serves `files` (path → text) on loopback, as a Git host would serve raw files. */
async function fileServer(files) {
  const server = http.createServer((request, response) => {
    const body = files.get(request.url);
    response.statusCode = body === undefined ? 404 : 200;
    response.end(body ?? '');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

test('locations: add (dry run, real, on conflict), list, query, get, ancestors, analyze, refresh, update, remove', async () => {
  const component = (description) =>
    `apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {name: conf-svc, description: ${description}}\n` +
    'spec: {type: service, lifecycle: production, owner: team-a, providesApis: [conf-api]}\n---\n' +
    'apiVersion: backstage.io/v1alpha1\nkind: API\nmetadata: {name: conf-api}\n' +
    'spec: {type: openapi, lifecycle: production, owner: team-a, definition: {$text: ./api.yaml}}\n';
  const files = new Map([
    ['/repo/catalog-info.yaml', component('first')],
    ['/repo/api.yaml', 'openapi: 3.0.0\n'],
    ['/moved/catalog-info.yaml', component('moved')],
    ['/moved/api.yaml', 'openapi: 3.0.0\n'],
  ]);
  const server = await fileServer(files);
  const origin = `http://127.0.0.1:${server.address().port}`;
  try {
    // The tenant admin allows the host (the Locations page's server function).
    const allowed = await tenantFetch(sessionCookie)(`http://${host}/api/ui/catalog/allow-host`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams({ pattern: origin.slice('http://'.length) }).toString(),
    });
    assert.equal(allowed.status, 200);

    const target = `${origin}/repo/catalog-info.yaml`;
    const dry = await client.addLocation({ target, dryRun: true });
    assert.equal(dry.location.target, target);
    assert.ok(dry.entities.some((e) => e.metadata.name === 'conf-svc'));
    assert.equal(await client.getEntityByRef('component:default/conf-svc'), undefined, 'a dry run writes nothing');

    const added = await client.addLocation({ target });
    const id = added.location.id;
    assert.ok(added.entities.some((e) => e.metadata.name === 'conf-api'));
    await assert.rejects(client.addLocation({ target }), (e) => e.response.status === 409);
    const again = await client.addLocation({ target, onConflict: 'refresh' });
    assert.equal(again.location.id, id);
    assert.equal(again.exists, true);

    assert.ok((await client.getLocations()).items.some((l) => l.id === id && l.type === 'url' && l.target === target));
    const queried = await client.queryLocations({ query: { type: 'url', target: { $hasPrefix: origin } }, limit: 1 });
    assert.deepEqual(queried.items.map((l) => l.id), [id]);
    assert.equal(queried.totalItems, 1);
    assert.equal((await client.getLocationById(id)).target, target);
    assert.equal(await client.getLocationById('00000000-0000-0000-0000-000000000000'), undefined);
    assert.equal((await client.getLocationByRef(`url:${target}`)).id, id);
    assert.equal((await client.getLocationByEntity('component:default/conf-svc')).id, id);

    const ancestry = await client.getEntityAncestors({ entityRef: 'component:default/conf-svc' });
    assert.equal(ancestry.rootEntityRef, 'component:default/conf-svc');
    assert.match(ancestry.items[0].parentEntityRefs[0], /^location:default\/generated-[0-9a-f]{40}$/);
    assert.equal(ancestry.items[1].entity.kind, 'Location');

    const analysis = await client.analyzeLocation({ location: { type: 'url', target } });
    assert.equal(analysis.existingEntityFiles.length, 2);
    assert.ok(analysis.existingEntityFiles.every((f) => f.isRegistered));

    files.set('/repo/catalog-info.yaml', component('second'));
    await client.refreshEntity('component:default/conf-svc');
    assert.equal((await client.getEntityByRef('component:default/conf-svc')).metadata.description, 'second');

    const facets = await client.getEntityFacetsByPredicate({ facets: ['kind'], query: { 'metadata.name': { $in: ['conf-svc', 'conf-api'] } } });
    assert.deepEqual(facets.facets.kind.map((f) => [f.value, f.count]).sort(), [['API', 1], ['Component', 1]]);

    const moved = await client.updateLocation(id, { type: 'url', target: `${origin}/moved/catalog-info.yaml` });
    assert.equal(moved.target, `${origin}/moved/catalog-info.yaml`);
    assert.equal((await client.getEntityByRef('component:default/conf-svc')).metadata.description, 'moved');

    await client.removeLocationById(id);
    assert.equal(await client.getLocationById(id), undefined);
    assert.equal(await client.getEntityByRef('component:default/conf-svc'), undefined, 'its entities go with it');
  } finally {
    server.close();
  }
});
