// Kizuna driven by third-party TAK client code: @tak-ps/node-tak and
// @tak-ps/node-cot (the libraries behind CloudTAK), against a real
// `kizuna serve` with a PKI made by `kizuna pki`. Loopback only.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import TAK, { TAKAPI, APIAuthCertificate } from '@tak-ps/node-tak';
import { CoTParser, FileShare } from '@tak-ps/node-cot';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const work = mkdtempSync(path.join(tmpdir(), 'kizuna-node-tak-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

let bin;
let server;
let serverLog = '';
let listeners;
const ids = {};

function kizuna(...args) {
  return execFileSync(bin, args, { cwd: work, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

async function until(what, fn, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function identity(name) {
  const dir = path.join(work, 'clients', name);
  return { cert: readFileSync(path.join(dir, `${name}.pem`), 'utf8'), key: readFileSync(path.join(dir, `${name}.key`), 'utf8') };
}

before(async () => {
  bin = process.env.KIZUNA_BIN;
  if (!bin) {
    bin = path.join(work, 'kizuna');
    execFileSync('go', ['build', '-o', bin, './cmd/kizuna'], { cwd: repo, env: { ...process.env, CGO_ENABLED: '0' }, stdio: ['ignore', 'inherit', 'inherit'] });
  }
  kizuna('pki', 'init', '--nation', 'JPN', '--out', 'ca/JPN');
  kizuna('pki', 'init', '--nation', 'KOR', '--out', 'ca/KOR');
  kizuna('pki', 'server', '--ca', 'ca/JPN', '--host', 'localhost', '--host', '127.0.0.1', '--out', 'node');
  for (const [nation, name] of [['JPN', 'SAKURA-1'], ['JPN', 'SAKURA-2'], ['KOR', 'TIGER-1']]) {
    kizuna('pki', 'issue', '--ca', `ca/${nation}`, '--name', name, '--nation', nation, '--clearance', 'SECRET', '--out', `clients/${name}`);
    ids[name] = identity(name);
  }
  const data = path.join(work, 'data');
  server = spawn(bin, ['serve', '--data', data, '--nation', 'JPN', '--node-id', 'localhost',
    '--tls-cert', 'node/server.pem', '--tls-key', 'node/server.key',
    '--trust', 'JPN=ca/JPN/ca.pem', '--trust', 'KOR=ca/KOR/ca.pem',
    '--cot-tls', '127.0.0.1:0', '--https', '127.0.0.1:0', '--http', '127.0.0.1:0@JPN:SECRET'], { cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });
  const keep = (b) => { serverLog = (serverLog + b.toString()).slice(-100000); };
  server.stdout.on('data', keep);
  server.stderr.on('data', keep);
  const lj = path.join(data, 'listeners.json');
  listeners = await until('listeners.json', () => existsSync(lj) && JSON.parse(readFileSync(lj, 'utf8')));
  const http = listeners.find((l) => l.kind === 'http').addr;
  await until('healthz', async () => (await fetch(`http://${http}/healthz`)).ok);
});

after(async () => {
  if (server && server.exitCode === null) {
    const exited = new Promise((r) => server.once('exit', r));
    server.kill('SIGTERM');
    await exited;
  }
});

const addr = (kind) => listeners.find((l) => l.kind === kind).addr;

// connect opens a node-tak stream with a Kizuna-issued certificate and
// collects what it receives.
async function connect(name) {
  const tak = new TAK(new URL(`ssl://${addr('cot-tls')}`), { ...ids[name], ca: readFileSync(path.join(work, 'ca/JPN/ca.pem'), 'utf8'), rejectUnauthorized: true }, { id: name });
  const got = [];
  tak.on('cot', (cot) => got.push(cot));
  tak.on('error', (err) => { got.error = err; }); // node-tak throws without a listener
  await tak.connect_ssl();
  await until(`${name} connected`, () => tak.open);
  return { tak, got, name };
}

const uidOf = (cot) => cot.raw.event._attributes.uid;

function sa(uid, callsign, extra = '', access = 'Undefined') {
  const now = new Date();
  const t = now.toISOString();
  const stale = new Date(now.getTime() + 5 * 60000).toISOString();
  return CoTParser.from_xml(`<event version="2.0" uid="${uid}" type="a-f-G-U-C" how="m-g" time="${t}" start="${t}" stale="${stale}" access="${access}"${extra}><point lat="35.68" lon="139.76" hae="40" ce="10" le="10"/><detail><contact callsign="${callsign}" endpoint="*:-1:stcp"/><takv platform="node-tak" version="12" device="test" os="node"/><__group name="Cyan" role="Team Member"/></detail></event>`);
}

async function api(name) {
  return TAKAPI.init(new URL(`https://${addr('https')}`), new APIAuthCertificate(ids[name].cert, ids[name].key));
}

test('stream over TLS: an unmarked SA reaches its own nation only', async () => {
  const a = await connect('SAKURA-1');
  const b = await connect('SAKURA-2');
  const k = await connect('TIGER-1');
  try {
    await a.tak.write([sa('NODE-TAK-SAKURA-1', 'SAKURA-1')]);
    // A sentinel KOR may see, sent after the SA on the same stream.
    await a.tak.write([sa('NODE-TAK-SENTINEL', 'SENTINEL', ' releasableTo="KOR"', 'UNCLASSIFIED')]);
    const got = await until('SAKURA-2 receives the SA', () => b.got.find((c) => uidOf(c) === 'NODE-TAK-SAKURA-1'));
    assert.equal(got.raw.event._attributes.how, 'm-g');
    assert.equal(got.raw.event._attributes.access, 'SECRET', 'the default label: the sender\'s clearance');
    assert.equal(got.raw.event._attributes.releasableTo, 'JPN');
    assert.equal(got.callsign(), 'SAKURA-1');
    await until('TIGER-1 receives the sentinel', () => k.got.find((c) => uidOf(c) === 'NODE-TAK-SENTINEL'));
    assert.equal(k.got.find((c) => uidOf(c) === 'NODE-TAK-SAKURA-1'), undefined, 'KOR received JPN\'s unmarked SA');
    // node-tak's ping is answered.
    let pongs = 0;
    a.tak.on('ping', () => { pongs++; });
    await a.tak.ping();
    await until('pong', () => pongs > 0);
  } finally {
    for (const c of [a, b, k]) c.tak.destroy();
  }
});

test('Marti API through TAKAPI with a client certificate', async () => {
  const a = await connect('SAKURA-1');
  const k = await connect('TIGER-1');
  try {
    await a.tak.write([sa('NODE-TAK-PRESENCE-JPN', 'PRESENCE-JPN')]);
    await k.tak.write([sa('NODE-TAK-PRESENCE-KOR', 'PRESENCE-KOR')]);
    const jpn = await api('SAKURA-2');
    const kor = await api('TIGER-1');
    const jl = await until('JPN contact list', async () => {
      const l = await jpn.Client.list();
      return l.data.some((c) => c.callsign === 'PRESENCE-JPN') && l;
    });
    assert.equal(jl.type, 'com.bbn.marti.remote.ClientEndpoint');
    assert.ok(!jl.data.some((c) => c.callsign === 'PRESENCE-KOR'), 'JPN sees a KOR-only presence');
    const kl = await until('KOR contact list', async () => {
      const l = await kor.Client.list();
      return l.data.some((c) => c.callsign === 'PRESENCE-KOR') && l;
    });
    assert.ok(!kl.data.some((c) => c.callsign.startsWith('PRESENCE-JPN') || c.callsign.startsWith('SAKURA')), 'KOR sees a JPN-only presence');
    const cfg = await jpn.fetch('/Marti/api/version/config', { method: 'GET' });
    assert.equal(cfg.type, 'ServerConfig');
    assert.equal(cfg.data.api, '3');
    const v = await jpn.fetch('/Marti/api/version', { method: 'GET' });
    assert.match(v, /Kizuna/);
  } finally {
    a.tak.destroy();
    k.tak.destroy();
  }
});

test('file transfer between two node-tak clients through the server', async () => {
  const sender = await connect('SAKURA-1');
  const receiver = await connect('SAKURA-2');
  const outsider = await connect('TIGER-1');
  try {
    const content = Buffer.concat([Buffer.from('PK\x03\x04'), Buffer.from('a mission package from node-tak '.repeat(4096))]);
    const hash = createHash('sha256').update(content).digest('hex');
    const up = await api('SAKURA-1');
    const res = await up.Files.uploadPackage({ name: 'node-tak.zip', creatorUid: 'NODE-TAK-SAKURA-1', hash }, content);
    assert.match(String(res), new RegExp(`/Marti/sync/content\\?hash=${hash}$`));
    const q = await up.fetch(`/Marti/sync/missionquery?hash=${hash}`, { method: 'GET' });
    assert.match(q, /content\?hash=/);

    // The sender tells the receiver with a b-f-t-r file transfer request.
    const fs = new FileShare({ filename: 'node-tak.zip', name: 'node-tak', senderCallsign: 'SAKURA-1', senderUid: 'NODE-TAK-SAKURA-1', senderUrl: String(res), sha256: hash, sizeInBytes: content.length });
    await sender.tak.write([fs]);
    const req = await until('file transfer request', () => receiver.got.find((c) => c.raw.event._attributes.type === 'b-f-t-r'));
    const share = req.raw.event.detail.fileshare._attributes;
    assert.equal(share.sha256, hash);

    const down = await api('SAKURA-2');
    const body = await down.Files.download(share.sha256);
    const chunks = [];
    for await (const c of body) chunks.push(c);
    assert.ok(Buffer.concat(chunks).equals(content), 'downloaded content differs');

    // KOR holds the hash but the file is JPN's: 404, like a file that does not exist.
    const kor = await api('TIGER-1');
    const denied = await kor.fetch(`/Marti/sync/content?hash=${hash}`, { method: 'GET' }, true);
    assert.equal(denied.status, 404);
    const absent = await kor.fetch(`/Marti/sync/content?hash=${'0'.repeat(64)}`, { method: 'GET' }, true);
    assert.equal(absent.status, 404);
    assert.equal(await denied.text(), await absent.text());
    assert.equal(outsider.got.find((c) => c.raw.event._attributes.type === 'b-f-t-r'), undefined, 'KOR received the file transfer request');

    // The owner deletes it with node-tak's delete.
    await up.Files.delete(hash);
    const gone = await down.fetch(`/Marti/sync/missionquery?hash=${hash}`, { method: 'GET' }, true);
    assert.equal(gone.status, 404);
  } finally {
    for (const c of [sender, receiver, outsider]) c.tak.destroy();
  }
});

test('missions through node-tak: create, attach, subscribe, a change on the stream, late join; labels per item', async () => {
  const a = await connect('SAKURA-1');
  const k = await connect('TIGER-1');
  try {
    await a.tak.write([sa('NODE-TAK-M-JPN', 'M-JPN')]);
    await a.tak.write([sa('NODE-TAK-M-SECRET', 'M-SECRET', ' releasableTo="JPN"', 'SECRET')]);
    await a.tak.write([sa('NODE-TAK-M-SHARED', 'M-SHARED', ' releasableTo="KOR"', 'SECRET')]);
    await k.tak.write([sa('NODE-TAK-M-KOR', 'M-KOR')]);
    const jpn = await api('SAKURA-1');
    const kor = await api('TIGER-1');
    // node-tak's create sends its fields as query parameters: the label
    // rides along as CoT's marking names.
    const m = await jpn.Mission.create({ name: 'node-tak-op', creatorUid: 'NODE-TAK-M-JPN', description: 'shared with KOR', access: 'SECRET', releasableTo: 'KOR' });
    assert.equal(m.name, 'node-tak-op');
    assert.equal(m.classification, 'SECRET');
    await jpn.Mission.create({ name: 'node-tak-jpn-only', creatorUid: 'NODE-TAK-M-JPN' });
    const sub = await kor.Mission.subscribe('node-tak-op', { uid: 'NODE-TAK-M-KOR' });
    assert.equal(sub.data.clientUid, 'NODE-TAK-M-KOR');
    assert.equal(sub.data.role.type, 'MISSION_SUBSCRIBER');
    await until('the JPN-only object is filed', async () => (await jpn.Mission.attachContents('node-tak-op', { uids: ['NODE-TAK-M-SECRET'] })).data[0].uids.length === 1);
    await until('the shared object is filed', async () => (await jpn.Mission.attachContents('node-tak-op', { uids: ['NODE-TAK-M-SHARED'] })).data[0].uids.length === 2);
    const change = (c, uid) => c.raw.event._attributes.type === 't-x-m-c' && JSON.stringify(c.raw).includes(uid);
    await until('KOR gets the change on its stream', () => k.got.find((c) => change(c, 'NODE-TAK-M-SHARED')));
    assert.equal(k.got.find((c) => change(c, 'NODE-TAK-M-SECRET')), undefined, 'KOR was told of the JPN-only object');
    await until('JPN gets both changes', () => a.got.find((c) => change(c, 'NODE-TAK-M-SECRET')) && a.got.find((c) => change(c, 'NODE-TAK-M-SHARED')));

    // Late join: KOR reads the mission, its changes and its CoT.
    const seen = await kor.Mission.get('node-tak-op', { changes: true });
    assert.deepEqual(seen.uids.map((u) => u.data), ['NODE-TAK-M-SHARED']);
    const changes = await kor.Mission.changes('node-tak-op');
    assert.deepEqual(changes.data.map((c) => c.type), ['CREATE_MISSION', 'ADD_CONTENT']);
    const cot = await kor.fetch('/Marti/api/missions/node-tak-op/cot', { method: 'GET' });
    assert.match(String(cot), /NODE-TAK-M-SHARED/);
    const all = JSON.stringify([seen, changes, String(cot), await kor.Mission.list({})]);
    assert.ok(!all.includes('NODE-TAK-M-SECRET') && !all.includes('node-tak-jpn-only'), 'KOR sees JPN-only mission data');
    await assert.rejects(kor.Mission.get('node-tak-jpn-only', {}), (err) => err.status === 404);
  } finally {
    a.tak.destroy();
    k.tak.destroy();
  }
});

test('mission layers, guid routes and a password through node-tak; a client uid is its own principal\'s', async () => {
  const a = await connect('SAKURA-1');
  const k = await connect('TIGER-1');
  try {
    await a.tak.write([sa('NODE-TAK-L-JPN', 'L-JPN', ' releasableTo="KOR"', 'SECRET')]);
    await k.tak.write([sa('NODE-TAK-L-KOR', 'L-KOR')]);
    const jpn = await api('SAKURA-1');
    const kor = await api('TIGER-1');
    const m = await jpn.Mission.create({ name: 'node-tak-layers', creatorUid: 'NODE-TAK-L-JPN', access: 'SECRET', releasableTo: 'KOR', password: 'pw-node-tak' });
    assert.equal(m.passwordProtected, true);
    // node-tak takes the /missions/guid/{guid} forms when given a guid.
    assert.equal((await jpn.Mission.get(m.guid, {})).name, 'node-tak-layers');
    await jpn.MissionLayer.create(m.guid, { name: 'Sector', type: 'GROUP', uid: 'NODE-TAK-LAYER-1', creatorUid: 'NODE-TAK-L-JPN' });
    await jpn.MissionLayer.create('node-tak-layers', { name: 'Units', type: 'UID', uid: 'NODE-TAK-LAYER-2', parentUid: 'NODE-TAK-LAYER-1', creatorUid: 'NODE-TAK-L-JPN' });
    await jpn.MissionLayer.rename(m.guid, 'NODE-TAK-LAYER-1', { name: 'North', creatorUid: 'NODE-TAK-L-JPN' });
    const layers = await jpn.MissionLayer.list(m.guid);
    assert.equal(layers.data.length, 1);
    assert.equal(layers.data[0].name, 'North');
    assert.equal(layers.data[0].mission_layers[0].name, 'Units');
    assert.equal((await jpn.MissionLayer.get('node-tak-layers', 'NODE-TAK-LAYER-1')).data.uid, 'NODE-TAK-LAYER-1');
    // The password: needed to subscribe, never shown.
    await assert.rejects(kor.Mission.subscribe('node-tak-layers', { uid: 'NODE-TAK-L-KOR' }), (err) => err.status === 403);
    await assert.rejects(kor.Mission.subscribe('node-tak-layers', { uid: 'NODE-TAK-L-KOR', password: 'wrong' }), (err) => err.status === 403);
    // JPN's stream holds NODE-TAK-L-JPN (filing it proves the node has it): KOR may not subscribe it.
    await until('the JPN object is filed', async () => (await jpn.Mission.attachContents(m.guid, { uids: ['NODE-TAK-L-JPN'] })).data[0].uids.length === 1);
    await assert.rejects(kor.Mission.subscribe('node-tak-layers', { uid: 'NODE-TAK-L-JPN', password: 'pw-node-tak' }), (err) => err.status === 403);
    const sub = await kor.Mission.subscribe(m.guid, { uid: 'NODE-TAK-L-KOR', password: 'pw-node-tak' });
    assert.equal(sub.data.clientUid, 'NODE-TAK-L-KOR');
    assert.equal((await kor.MissionLayer.list('node-tak-layers')).data[0].name, 'North');
    await jpn.MissionLayer.delete(m.guid, { uid: ['NODE-TAK-LAYER-1'], creatorUid: 'NODE-TAK-L-JPN' });
    assert.equal((await kor.MissionLayer.list(m.guid)).data.length, 0);
    const shown = JSON.stringify([await jpn.Mission.list({}), await kor.Mission.get(m.guid, { changes: true }), sub]);
    assert.ok(!shown.includes('pw-node-tak') && !shown.includes('$2a$'), 'the password is shown');
  } finally {
    a.tak.destroy();
    k.tak.destroy();
  }
});

process.on('exit', (code) => { if (code !== 0 && serverLog) console.error(serverLog.slice(-5000)); });
