/** The message codec against the golden vectors produced by Python posttroll. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Message, MessageError, decodeMessage, resetConfig, setConfig } from '../src/index.js';
import { loadFixture, tag, untag } from '../../../test/helpers/vectors.js';
import { PyDateTime } from '@viirs/pytime';

const encodeVectors = loadFixture('posttroll/encode.json').cases as any[];
const decodeVectors = loadFixture('posttroll/decode.json').cases as any[];

for (const c of encodeVectors) {
  test(`encode vector ${c.name}`, () => {
    setConfig({ messageVersion: c.config_message_version });
    try {
      const build = () => {
        const msg = new Message({
          subject: c.subject,
          type: c.type,
          sender: c.sender,
          time: untag(c.time),
          data: untag(c.data),
          binary: c.binary,
          version: c.version_given,
        });
        return { msg, wire: msg.encode() };
      };
      if (c.error) {
        assert.throws(build, (e: unknown) => {
          assert.ok(e instanceof MessageError, `expected MessageError, got ${e}`);
          assert.equal(e.pythonClass, c.error_class);
          return true;
        });
        return;
      }
      const { msg, wire } = build();
      assert.equal(wire, c.expected_encoded);
      assert.equal(msg.toBuffer().toString('base64'), c.expected_wire_b64);
      assert.equal(msg.renderVersion(), c.expected_version);
      assert.deepEqual(tag(decodeMessage(wire).data), c.decoded_back_data);
    } finally {
      resetConfig();
    }
  });
}

for (const c of decodeVectors) {
  test(`decode vector ${c.name}`, () => {
    const input = c.raw !== undefined ? c.raw : Buffer.from(c.raw_b64, 'base64');
    if (c.error) {
      assert.throws(() => decodeMessage(input), (e: unknown) => {
        assert.ok(e instanceof MessageError, `expected MessageError, got ${e}`);
        assert.equal(e.pythonClass, c.error_class, (e as Error).message);
        return true;
      });
      return;
    }
    const m = decodeMessage(input);
    const exp = c.expected;
    assert.equal(m.subject, exp.subject);
    assert.equal(m.type, exp.type);
    assert.equal(m.sender, exp.sender);
    assert.equal(m.time.isoformat(), untag(exp.time).isoformat());
    assert.equal(m.version, exp.version);
    assert.equal(m.binary, exp.binary);
    assert.deepEqual(tag(m.data), exp.data);
    assert.equal(m.encode(), c.reencoded, 'decode -> encode must give what Python re-encodes');
  });
}

test('writer rejects whitespace in subject, type and sender (it would shift fields on decode)', () => {
  assert.throws(() => new Message({ subject: '/a b', type: 'info' }), /subject/);
  assert.throws(() => new Message({ subject: '/a', type: 'in\tfo' }), /type/);
  assert.throws(() => new Message({ subject: '/a', type: 'info', sender: 'u\u00a0@h' }), /sender/);
});

test('header time defaults to now, aware UTC, with microseconds', () => {
  const before = Date.now();
  const m = new Message({ subject: '/a', type: 'info', data: 'x' });
  assert.ok(m.time.aware);
  assert.equal(m.time.offset, 0);
  assert.ok(Math.abs(m.time.epochMillis - before) < 1000);
  assert.match(m.encode(), /^pytroll:\/\/a info \S+@\S+ \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})? v1\.01 text\/ascii x$/);
});

test('POSTTROLL_MESSAGE_VERSION in the environment forces the version', () => {
  process.env.POSTTROLL_MESSAGE_VERSION = 'v1.01';
  resetConfig();
  try {
    const m = new Message({ subject: '/a', type: 'info', time: PyDateTime.fromisoformat('2020-01-01T00:00:00+00:00'), data: { t: PyDateTime.fromisoformat('2020-01-01T00:00:00+02:00') } });
    assert.equal(m.encode(), 'pytroll://a info ' + m.sender + ' 2020-01-01T00:00:00 v1.01 application/json {"t": "2020-01-01T00:00:00"}');
  } finally {
    delete process.env.POSTTROLL_MESSAGE_VERSION;
    resetConfig();
  }
});

test('integer-like keys keep their decoded order through decode -> encode', () => {
  const raw = 'pytroll://a info u@h 2019-04-22T18:39:27 v1.01 application/json {"b": 1, "10": 2, "a": {"2": 3, "1": 4}}';
  assert.equal(decodeMessage(raw).encode(), raw);
});
