/**
 * Messaging through a real viirs-nameserver process (no multicast, free ports): with
 * `nameservers = 127.0.0.1` the gatherer finds the stalker's publisher by its service name and
 * announces its own as segment_gatherer_<section>, where a consumer finds it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Message, NoisyPublisher, Subscriber, getPubAddress, resetConfig, setConfig, type Received } from '@viirs/posttroll';
import { freePort, waitFor } from '../../../test/helpers/net.js';
import { loadConfig } from '../src/config.js';
import { GathererService } from '../src/service.js';
import { MemoryLogger, SHIPPED, VIS, datasetUids, fileMessage, sdrName } from './helpers.js';
import { tempDir } from '../../../test/helpers/tmp.js';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const NS_CLI = path.resolve(ROOT, 'packages/nameserver/src/cli.ts');

test('nameservers = host: the stalker is found by service name, the gatherer is announced as segment_gatherer_viirs_vis', async () => {
  const base = tempDir('gatherer-ns-');
  const ports = { ns: await freePort(), feed: await freePort(), bc: await freePort() };
  const ns = spawn(process.execPath, ['--import', 'tsx', NS_CLI, '--no-multicast', '--port', String(ports.ns), '--address-port', String(ports.feed), '--broadcast-port', String(ports.bc)], {
    cwd: ROOT,
    env: { ...process.env, VIIRS_BASE_DIR: base, VIIRS_ADVERTISE_IP: '127.0.0.1' },
    stdio: 'ignore',
  });
  setConfig({ nameserverPort: ports.ns, addressPublishPort: ports.feed, broadcastPort: ports.bc });
  const cleanup: Array<() => unknown> = [];
  try {
    await waitFor(async () => (await getPubAddress('addresses', { nameserver: '127.0.0.1', timeout: 0.5 }).catch(() => [])).length > 0, 30_000, 100, 'the nameserver');
    const stalker = await new NoisyPublisher({ name: 'trollstalker_viirs', port: 0, host: '127.0.0.1', advertiseIp: '127.0.0.1', nameservers: ['127.0.0.1'], broadcastInterval: 0.2 }).start();
    cleanup.push(() => stalker.stop());

    const text = fs.readFileSync(SHIPPED, 'utf8').replace('publish_topic = /AVO/viirs/granule/vis\n', 'publish_topic = /AVO/viirs/granule/vis\nnameservers = 127.0.0.1\nservices = trollstalker_viirs\n');
    const ini = path.join(base, 'segment_gatherer.ini');
    fs.writeFileSync(ini, text);
    const config = loadConfig(ini, 'viirs_vis');
    assert.deepEqual(config.posttroll.nameservers, ['127.0.0.1']);
    const log = new MemoryLogger();
    const service = await new GathererService({ config, baseDir: base, logger: log, advertiseIp: '127.0.0.1' }).start();
    cleanup.push(() => service.stop());
    assert.ok(log.has('info', /Publishing \/AVO\/viirs\/granule\/vis as segment_gatherer_viirs_vis on port \d+ \(announced to 127\.0\.0\.1\)/), log.text());

    // The consumer's side: find the gatherer through the nameserver.
    let records: Array<{ URI: string }> = [];
    await waitFor(
      async () => {
        records = await getPubAddress('segment_gatherer_viirs_vis', { nameserver: '127.0.0.1', timeout: 0.5 }).catch(() => []);
        return records.length > 0;
      },
      20_000,
      200,
      'the gatherer registered in the nameserver',
    );
    assert.equal(records[0]!.URI, `tcp://127.0.0.1:${service.port}`);
    const got: Received[] = [];
    const sub = new Subscriber({ addresses: [records[0]!.URI], topics: ['/AVO/viirs/granule', '/probe'] }).start();
    const pump = (async () => {
      for await (const r of sub) got.push(r);
    })();
    cleanup.push(async () => {
      sub.close();
      await pump;
    });
    await waitFor(
      () => {
        service.publisherSocket!.publish(new Message({ subject: '/probe', type: 'beat', data: {} }));
        return got.length > 0;
      },
      10_000,
      50,
      'the consumer subscription',
    );
    // The gatherer's side: it found the stalker by name and receives its messages.
    await waitFor(
      () => {
        stalker.publish(new Message({ subject: '/AVO/viirs/sdr', type: 'beat', data: {} }));
        return service.gatherer.stats.messages > 0;
      },
      20_000,
      100,
      'the gatherer to find the stalker',
    );
    for (const b of VIS) stalker.publish(fileMessage(b));
    await waitFor(() => got.some((r) => r.message.subject === '/AVO/viirs/granule/vis'), 10_000);
    const m = got.find((r) => r.message.subject === '/AVO/viirs/granule/vis')!.message;
    assert.deepEqual(datasetUids(m), VIS.map((b) => sdrName(b)));
  } finally {
    for (const c of cleanup.reverse()) await c();
    const gone = new Promise((r) => ns.once('exit', r));
    ns.kill('SIGTERM');
    await gone;
    resetConfig();
  }
});
