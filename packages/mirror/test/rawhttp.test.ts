import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { parseHead, RawConnection, type RawSink } from '../src/rawhttp.js';
import { parseContentRange, planPieces, splitSegments } from '../src/download.js';

const T = { connectMs: 2000, idleMs: 2000, attemptMs: 10_000 };

/** A sink collecting bytes, with the zero-copy interface; pauses after `pauseEvery` bytes. */
function sink(pauseEvery = Infinity): RawSink & { data: () => Buffer; drains: number } {
  const parts: Buffer[] = [];
  const area = Buffer.alloc(4096);
  let since = 0;
  let waiting: (() => void) | null = null;
  const s = {
    drains: 0,
    data: () => Buffer.concat(parts),
    readTarget: (max: number) => area.subarray(0, Math.min(area.length, max)),
    commitRead: (region: Buffer, n: number) => {
      parts.push(Buffer.from(region.subarray(0, n)));
      since += n;
      if (since >= pauseEvery) {
        since = 0;
        setTimeout(() => {
          s.drains++;
          const w = waiting;
          waiting = null;
          w?.();
        }, 5);
        return false;
      }
      return true;
    },
    push: (chunk: Buffer) => {
      parts.push(Buffer.from(chunk));
      return true;
    },
    onDrain: (cb: () => void) => {
      waiting = cb;
    },
  };
  return s;
}

/** A raw TCP server; handler gets each connection. */
async function server(handler: (s: net.Socket, n: number) => void): Promise<{ url: URL; close: () => void; connections: () => number }> {
  let n = 0;
  const srv = net.createServer((s) => handler(s, ++n));
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return { url: new URL(`http://127.0.0.1:${(srv.address() as AddressInfo).port}/f`), close: () => srv.close(), connections: () => n };
}

/** Reads requests (head only) from a socket. */
function onRequests(s: net.Socket, cb: (head: string) => void): void {
  let buf = '';
  s.on('data', (d) => {
    buf += d.toString('latin1');
    let i;
    while ((i = buf.indexOf('\r\n\r\n')) >= 0) {
      cb(buf.slice(0, i));
      buf = buf.slice(i + 4);
    }
  });
}

test('parseHead: status, case-insensitive headers, length, keep-alive', () => {
  const h = parseHead('HTTP/1.1 206 Partial Content\r\ncontent-RANGE: bytes 0-9/100\r\nContent-Length: 10\r\nX: a\r\nx: b');
  assert.deepEqual(h, { status: 206, headers: { 'content-range': 'bytes 0-9/100', 'content-length': '10', x: 'a, b' }, length: 10, keepAlive: true });
  assert.equal(parseHead('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5')?.length, null);
  assert.equal(parseHead('HTTP/1.0 200 OK\r\nContent-Length: 5')?.keepAlive, false);
  assert.equal(parseHead('HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 5')?.keepAlive, false);
  assert.equal(parseHead('HTTP/2 200'), null);
  assert.equal(parseHead('HTTP/1.1 200 OK\r\nno colon'), null);
  assert.equal(parseHead('HTTP/1.1 200 OK\r\nContent-Length: 5x'), null);
});

test('a head split across packets, body in the same packet as its end, keep-alive reuse, backpressure', async () => {
  const body = crypto.randomBytes(200_000);
  const heads: string[] = [];
  const srv = await server((s) =>
    onRequests(s, (head) => {
      heads.push(head);
      const range = /range: bytes=(\d+)-(\d+)/i.exec(head) as RegExpExecArray;
      const a = Number(range[1]);
      const b = Number(range[2]);
      const part = body.subarray(a, b + 1);
      const h = `HTTP/1.1 206 Partial Content\r\nContent-Range: bytes ${a}-${b}/${body.length}\r\nContent-Length: ${part.length}\r\n\r\n`;
      s.write(h.slice(0, 10));
      setTimeout(() => s.write(Buffer.concat([Buffer.from(h.slice(10)), part.subarray(0, 100)])), 10);
      setTimeout(() => s.write(part.subarray(100)), 60);
    }),
  );
  const c = new RawConnection(T);
  try {
    for (const [a, b] of [[0, 119_999], [120_000, 199_999]] as const) {
      const k = sink(16_384);
      const head = await c.request(srv.url, { Range: `bytes=${a}-${b}` }, () => ({ read: true, sink: k }));
      assert.equal(head.status, 206);
      assert.equal(head.headers['content-range'], `bytes ${a}-${b}/${body.length}`, 'the head of this response');
      assert.ok(k.data().equals(body.subarray(a, b + 1)));
      assert.ok(k.drains > 0, 'paused and resumed');
    }
    assert.equal(srv.connections(), 1, 'one kept-alive connection for both');
    assert.match(heads[0] as string, /^GET \/f HTTP\/1\.1\r\nHost: 127\.0\.0\.1:\d+\r\n.*Accept-Encoding: identity/s);
  } finally {
    c.close();
    srv.close();
  }
});

test('a kept-alive connection the server closed is replaced transparently; a verdict error closes it', async () => {
  const srv = await server((s) =>
    onRequests(s, () => {
      s.end('HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc'); // answers, then closes (keep-alive not honoured)
    }),
  );
  const c = new RawConnection(T);
  try {
    for (let i = 0; i < 3; i++) {
      const k = sink();
      await c.request(srv.url, {}, () => ({ read: true, sink: k }));
      assert.equal(k.data().toString(), 'abc');
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(srv.connections(), 3);
    await assert.rejects(c.request(srv.url, {}, () => ({ read: false, error: new Error('not wanted') })), /not wanted/);
  } finally {
    c.close();
    srv.close();
  }
});

test('premature close, idle timeout and garbage are errors with a code', async () => {
  const srv = await server((s, n) =>
    onRequests(s, () => {
      if (n === 1) s.end('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc');
      else if (n === 2) s.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab'); // then silence
      else s.end('SSH-2.0-OpenSSH\r\n\r\n');
    }),
  );
  const c = new RawConnection({ connectMs: 2000, idleMs: 200, attemptMs: 10_000 });
  try {
    await assert.rejects(c.request(srv.url, {}, () => ({ read: true, sink: sink() })), (e: Error & { code?: string }) => e.code === 'ECONNRESET' && /after 3 body bytes/.test(e.message));
    assert.equal(c.bodyBytes, 3);
    await assert.rejects(c.request(srv.url, {}, () => ({ read: true, sink: sink() })), (e: Error & { code?: string }) => e.code === 'ETIMEDOUT');
    await assert.rejects(c.request(srv.url, {}, () => ({ read: true, sink: sink() })), (e: Error & { code?: string }) => e.code === 'EPROTO');
  } finally {
    c.close();
    srv.close();
  }
});

test('split into segments and pieces', () => {
  assert.deepEqual(splitSegments(10_000, 4), [{ start: 0, end: 9999 }]);
  assert.deepEqual(splitSegments(100_000, 4), [
    { start: 0, end: 24_999 },
    { start: 25_000, end: 49_999 },
    { start: 50_000, end: 74_999 },
    { start: 75_000, end: 99_999 },
  ]);
  assert.deepEqual(splitSegments(49_153, 4).length, 3, '3 × 16 KiB fit, 4 do not');
  // Small files: exactly the N segments.
  assert.deepEqual(planPieces(100_000, 4, 1 << 20), { connections: 4, pieces: splitSegments(100_000, 4) });
  // Large files: equal pieces of at most maxPiece, covering the file exactly.
  const p = planPieces(200 * 1024 * 1024 + 1, 4, 32 * 1024 * 1024);
  assert.equal(p.connections, 4);
  assert.equal(p.pieces.length, 7);
  let next = 0;
  for (const x of p.pieces) {
    assert.equal(x.start, next);
    assert.ok(x.end - x.start + 1 <= 32 * 1024 * 1024);
    next = x.end + 1;
  }
  assert.equal(next, 200 * 1024 * 1024 + 1);
  assert.deepEqual(parseContentRange('bytes 0-9/100'), { start: 0, end: 9, size: 100 });
  assert.deepEqual(parseContentRange('bytes 0-9/*'), { start: 0, end: 9, size: null });
  assert.equal(parseContentRange('bytes */100'), null);
});
