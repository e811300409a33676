/** fromisoformat / isoformat against Python's results (golden vectors, plus a live cross-check). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { PyDateTime, PyTimeError } from '../src/index.js';
import { loadFixture } from '../../../test/helpers/vectors.js';

const iso = loadFixture('posttroll/iso_strings.json').cases as Array<{ input: string; becomes_datetime: boolean; python_isoformat: string | null }>;

for (const c of iso) {
  test(`fromisoformat ${JSON.stringify(c.input)}`, () => {
    const d = PyDateTime.tryFromisoformat(c.input);
    if (!c.becomes_datetime) {
      assert.equal(d, null);
      assert.throws(() => PyDateTime.fromisoformat(c.input), PyTimeError);
    } else {
      assert.ok(d, 'should parse');
      assert.equal(d.isoformat(), c.python_isoformat);
    }
  });
}

test('microseconds and naive/aware survive a round trip', () => {
  for (const s of ['2019-04-22T18:28:34.800000', '2019-04-22T18:29:59', '2019-04-22T18:29:59.000001+00:00', '2020-01-01T12:00:00-05:30:07', '2020-01-01T12:00:00+02:00:00.500000']) {
    assert.equal(PyDateTime.fromisoformat(s).isoformat(), s);
  }
  assert.equal(PyDateTime.fromisoformat('2019-04-22T18:29:59').aware, false);
  assert.equal(PyDateTime.fromisoformat('2019-04-22T18:29:59Z').aware, true);
});

test('arithmetic keeps microseconds and crosses days, months and leap years', () => {
  const d = PyDateTime.fromisoformat('2020-02-28T23:59:59.999999');
  assert.equal(d.addMicroseconds(1).isoformat(), '2020-02-29T00:00:00');
  assert.equal(d.addDays(1).isoformat(), '2020-02-29T23:59:59.999999');
  assert.equal(d.addDays(2).isoformat(), '2020-03-01T23:59:59.999999');
  assert.equal(d.addMicroseconds(-999_999 - 86_400_000_000).isoformat(), '2020-02-27T23:59:59');
  const a = PyDateTime.fromisoformat('2019-04-22T18:28:34.800000');
  const b = PyDateTime.fromisoformat('2019-04-22T18:29:59');
  assert.equal(b.diffMicros(a), 84_200_000);
  assert.equal(a.compare(b), -1);
  assert.equal(PyDateTime.fromisoformat('2019-04-22T20:00:00+02:00').compare(PyDateTime.fromisoformat('2019-04-22T18:00:00Z')), 0);
  assert.equal(PyDateTime.fromisoformat('2019-04-22T20:00:00+02:00').toUTC().isoformat(), '2019-04-22T18:00:00+00:00');
  assert.equal(PyDateTime.fromisoformat('0001-01-01').weekday(), 0);
  assert.equal(PyDateTime.fromisoformat('2019-04-22').weekday(), 0);
  assert.equal(PyDateTime.fromisoformat('2019-12-31').yearDay(), 365);
});

test('invalid fields are rejected', () => {
  assert.throws(() => new PyDateTime(2019, 2, 29), PyTimeError);
  assert.throws(() => new PyDateTime(2019, 1, 1, 24), PyTimeError);
  assert.throws(() => new PyDateTime(2019, 1, 1, 0, 0, 0, 1_000_000), PyTimeError);
  assert.throws(() => new PyDateTime(10000, 1, 1), PyTimeError);
});

// A differential check against the machine's own Python (3.11+): random ISO-like strings must be
// accepted or rejected exactly as datetime.fromisoformat does, with the same result.
const py = spawnSync('python3', ['-c', 'import sys; assert sys.version_info >= (3, 11)'], { encoding: 'utf8' });
test('random strings agree with Python datetime.fromisoformat', { skip: py.status !== 0 ? 'python3 >= 3.11 not available' : false }, () => {
  let seed = 12345;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  // Start from valid forms and mutate them: many stay valid, many land on the edges of the grammar.
  const bases = ['2019-04-22', '20190422', '2019-W16-1', '2019W161', '2019-W16', '2019W16', '2019-04-22T18:29:59', '2019-04-22 18:29', '2019-04-22T1829', '20190422T182959.123456789', '2019-04-22T18:29:59,5Z', '2019-04-22T18:29:59.8+02:00', '2019-04-22T18:29:59-05:30:07.25', '2019-04-22T18+0130', '2020-02-29T23:59:59.999999', '2019-W53-7T01'];
  const alphabet = '0123456789-:T .,+ZzW\u00e9x';
  const inputs: string[] = [];
  for (let i = 0; i < 5000; i++) {
    let s = bases[rnd(bases.length)] as string;
    const edits = rnd(4);
    for (let k = 0; k < edits; k++) {
      const pos = rnd(s.length + 1);
      const ch = alphabet[rnd(alphabet.length)] as string;
      const op = rnd(3);
      if (op === 0) s = s.slice(0, pos) + ch + s.slice(pos);
      else if (op === 1) s = s.slice(0, pos) + s.slice(pos + 1);
      else s = s.slice(0, pos) + ch + s.slice(pos + 1);
    }
    inputs.push(s);
  }
  const script = 'import sys,json\nfrom datetime import datetime\nout=[]\nfor s in json.load(sys.stdin):\n  try: out.append(datetime.fromisoformat(s).isoformat())\n  except Exception: out.append(None)\nprint(json.dumps(out))';
  const r = spawnSync('python3', ['-c', script], { input: JSON.stringify(inputs), encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.equal(r.status, 0, r.stderr);
  const expected = JSON.parse(r.stdout) as Array<string | null>;
  let accepted = 0;
  for (let i = 0; i < inputs.length; i++) {
    const got = PyDateTime.tryFromisoformat(inputs[i] as string);
    assert.equal(got ? got.isoformat() : null, expected[i], `input ${JSON.stringify(inputs[i])}`);
    if (got) accepted++;
  }
  assert.ok(accepted > 100, `the generator should produce many valid strings (got ${accepted})`);
});
