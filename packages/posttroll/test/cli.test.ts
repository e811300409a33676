/** viirs-posttroll: decode | encode parity with Python, listen/publish as real processes, bad input. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeInput, messageFromJson, messageToJson } from '../src/tool.js';
import { loadFixture } from '../../../test/helpers/vectors.js';
import { freePort, waitFor } from '../../../test/helpers/net.js';
import { Message, Publisher } from '../src/index.js';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../bin/viirs-posttroll.js');
const decodeVectors = loadFixture('posttroll/decode.json').cases as any[];

test('decode | encode gives what Python decode -> encode gives, for every valid decode vector', () => {
  let n = 0;
  for (const c of decodeVectors) {
    if (c.error) continue;
    const raw = c.raw !== undefined ? Buffer.from(c.raw, 'utf8') : Buffer.from(c.raw_b64, 'base64');
    const json = messageToJson(decodeInput(raw));
    assert.equal(messageFromJson(json).encode(), c.reencoded, c.name);
    n++;
  }
  assert.ok(n > 40);
});

test('decode prints the documented JSON shape with datetimes as ISO strings', () => {
  const raw = decodeVectors.find((c) => c.name === 'seed_v1_2').raw as string;
  const obj = JSON.parse(messageToJson(decodeInput(Buffer.from(raw))));
  assert.deepEqual(Object.keys(obj), ['subject', 'type', 'sender', 'time', 'version', 'binary', 'data']);
  assert.equal(obj.time, '2019-04-22T18:39:27.123456+00:00');
  assert.equal(obj.data.start_time, '2019-04-22T18:28:34.800000');
  assert.equal(obj.data.end_time, '2019-04-22T18:29:59');
});

test('the CLI process: decode and encode through pipes, bad input exits 2 with one line', () => {
  const raw = decodeVectors.find((c) => c.name === 'seed_v1_2').raw as string;
  const dec = spawnSync(process.execPath, [BIN, 'decode'], { input: raw + '\n', encoding: 'utf8' });
  assert.equal(dec.status, 0, dec.stderr);
  const enc = spawnSync(process.execPath, [BIN, 'encode'], { input: dec.stdout, encoding: 'utf8' });
  assert.equal(enc.status, 0, enc.stderr);
  assert.equal(enc.stdout, raw);
  for (const [cmd, input] of [['decode', 'not a message'], ['encode', '{"subject": "/a"}'], ['encode', '{bad json'], ['encode', '{"subject": "/a b", "type": "info"}'], ['encode', '{"subject": "/a", "type": "info", "time": "yesterday"}']] as const) {
    const r = spawnSync(process.execPath, [BIN, cmd], { input, encoding: 'utf8' });
    assert.equal(r.status, 2, `${cmd} ${input}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /^viirs-posttroll: error: /);
  }
  const noCmd = spawnSync(process.execPath, [BIN, 'listen'], { encoding: 'utf8' });
  assert.equal(noCmd.status, 2);
});

test('publish -> listen between two processes on loopback', async () => {
  const port = await freePort();
  const listener = spawn(process.execPath, [BIN, 'listen', '--address', `tcp://127.0.0.1:${port}`, '--topic', '/AVO/viirs'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  listener.stdout.on('data', (d) => (out += d));
  const lines = Array.from({ length: 50 }, (_, i) => JSON.stringify({ subject: '/AVO/viirs/sdr', type: 'file', data: { i, start_time: '2019-04-22T18:28:34.800000' } })).join('\n') + '\n' + JSON.stringify({ subject: '/other', type: 'info', data: 'x' }) + '\n';
  const pub = spawn(process.execPath, [BIN, 'publish', '--port', String(port), '--delay', '1.5', '--linger', '0.5'], { stdio: ['pipe', 'ignore', 'pipe'] });
  pub.stdin.end(lines);
  const pubExit = new Promise<number | null>((r) => pub.on('exit', r));
  try {
    assert.equal(await pubExit, 0);
    await waitFor(() => out.trim().split('\n').filter(Boolean).length >= 50, 5000);
    const got = out.trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(got.length, 50);
    assert.deepEqual(got.map((m) => m.data.i), Array.from({ length: 50 }, (_, i) => i));
    assert.equal(got[0].version, 'v1.2');
    assert.equal(got[0].data.start_time, '2019-04-22T18:28:34.800000');
  } finally {
    listener.kill('SIGTERM');
    const code = await new Promise<number | null>((r) => listener.on('exit', r));
    assert.equal(code, 0, 'listen exits cleanly on SIGTERM');
  }
});

test('listen whose reader goes away (stdout and stderr both a closed pipe, as in `listen 2>&1 | head -3`) exits at once instead of spinning', async () => {
  const port = await freePort();
  const pub = await new Publisher({ port, host: '127.0.0.1' }).start();
  const timer = setInterval(() => pub.publish(new Message({ subject: '/AVO/viirs/sdr', type: 'file', data: { a: 1 } })), 20);
  const listener = spawn(process.execPath, [BIN, 'listen', '--address', `tcp://127.0.0.1:${port}`, '--topic', '/AVO'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((r) => listener.on('exit', r));
  try {
    // The reader takes one line, then closes both pipes.
    await new Promise<void>((r) => listener.stdout.once('data', () => r()));
    listener.stdout.destroy();
    listener.stderr.destroy();
    const code = await Promise.race([exited, new Promise<'running'>((r) => setTimeout(() => r('running'), 5000))]);
    assert.equal(code, 0, 'listen should end quietly when its output is gone');
  } finally {
    clearInterval(timer);
    listener.kill('SIGKILL');
    await pub.stop();
  }
});
