/**
 * viirs-posttroll: operator's tool for posttroll messages.
 *   decode   raw message on stdin -> JSON object on stdout
 *   encode   JSON object on stdin -> raw message on stdout
 *   listen   print every message received (one JSON line each)
 *   publish  publish JSON lines read from stdin
 */
import { cli, ConfigError, envHelp, runMain } from '@viirs/common';
import { PyDateTime, dumps, loads, reviveDatetimes, PyJSONError } from '@viirs/pytime';
import { Message, MessageError, decodeMessage } from './message.js';
import { ConfigError as PtConfigError, getConfig, readConfig } from './config.js';
import { createSubscriber, type Subscriber } from './subscriber.js';
import { NoisyPublisher, Publisher } from './publisher.js';
import { stderrLogger } from './log.js';

const PROG = 'viirs-posttroll';

/** The JSON shape decode prints and encode reads. */
export function messageToJson(m: Message): string {
  return dumps({ subject: m.subject, type: m.type, sender: m.sender, time: m.time, version: m.version, binary: m.binary, data: m.data });
}

function asString(o: Record<string, unknown>, key: string, required: boolean): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) {
    if (required) throw new ConfigError(`"${key}" is required`);
    return undefined;
  }
  if (typeof v !== 'string') throw new ConfigError(`"${key}" must be a string`);
  return v;
}

/**
 * Builds a message from decode's JSON shape. Strings that posttroll's decoder would revive as
 * datetimes (inside objects, and lists under objects) become datetimes, so decode | encode gives
 * what Python's decode -> encode gives.
 */
export function messageFromJson(text: string): Message {
  let obj: unknown;
  try {
    obj = loads(text);
  } catch (e) {
    throw new ConfigError(`input is not JSON: ${(e as PyJSONError).message}`);
  }
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) throw new ConfigError('input must be a JSON object with "subject", "type" and "data"');
  const o = obj as Record<string, unknown>;
  const known = new Set(['subject', 'type', 'sender', 'time', 'version', 'binary', 'data']);
  for (const k of Object.keys(o)) if (!known.has(k)) throw new ConfigError(`unknown key "${k}" (expected ${[...known].join(', ')})`);
  const timeStr = asString(o, 'time', false);
  let time: PyDateTime | undefined;
  if (timeStr !== undefined) {
    const t = PyDateTime.tryFromisoformat(timeStr);
    if (!t) throw new ConfigError(`"time" is not an ISO datetime: ${JSON.stringify(timeStr)}`);
    time = t;
  }
  if (o.binary !== undefined && typeof o.binary !== 'boolean') throw new ConfigError('"binary" must be true or false');
  const data = o.data === undefined ? '' : reviveDatetimes(o.data);
  try {
    return new Message({
      subject: asString(o, 'subject', true) as string,
      type: asString(o, 'type', true) as string,
      sender: asString(o, 'sender', false),
      time,
      version: asString(o, 'version', false) ?? null,
      binary: o.binary === true,
      data,
    });
  } catch (e) {
    if (e instanceof MessageError) throw new ConfigError(e.message);
    throw e;
  }
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Decodes stdin; a single trailing newline (as `echo` adds) is dropped only if the message is otherwise invalid. */
export function decodeInput(raw: Buffer): Message {
  try {
    return decodeMessage(raw);
  } catch (e) {
    let trimmed = raw;
    if (trimmed.length && trimmed[trimmed.length - 1] === 0x0a) trimmed = trimmed.subarray(0, -1);
    if (trimmed.length && trimmed[trimmed.length - 1] === 0x0d) trimmed = trimmed.subarray(0, -1);
    if (trimmed.length !== raw.length) {
      try {
        return decodeMessage(trimmed);
      } catch {
        /* report the original error */
      }
    }
    throw new ConfigError(`invalid message: ${(e as Error).message}`);
  }
}

function checkPosttrollEnv(): void {
  try {
    readConfig();
  } catch (e) {
    if (e instanceof PtConfigError) throw new ConfigError(e.message);
    throw e;
  }
}

async function listen(argv: { address?: string[]; nameserver?: string; service?: string[]; topic?: string[]; addrListener: boolean; timeout: number }): Promise<void> {
  checkPosttrollEnv();
  if (!argv.address?.length && !argv.nameserver) throw new ConfigError('give --address or --nameserver');
  const sub: Subscriber = createSubscriber({
    addresses: argv.address,
    nameserver: argv.address?.length && !argv.nameserver ? false : argv.nameserver ?? 'localhost',
    services: argv.service?.length ? argv.service : '',
    topics: argv.topic?.length ? argv.topic : 'pytroll:/',
    addrListener: argv.addrListener,
    timeout: argv.timeout,
    logger: stderrLogger,
  });
  const stop = (): void => sub.close();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  for await (const r of sub) {
    if (!process.stdout.write(messageToJson(r.message) + '\n')) {
      await new Promise((res) => process.stdout.once('drain', res));
    }
  }
}

async function publish(argv: { port?: number; nameservers?: string[]; name: string; delay: number; linger: number }): Promise<void> {
  checkPosttrollEnv();
  if (argv.port === undefined && !argv.nameservers?.length) throw new ConfigError('give --port or --nameservers');
  const pub: Publisher = argv.nameservers?.length
    ? new NoisyPublisher({ name: argv.name, port: argv.port ?? 0, nameservers: argv.nameservers, logger: stderrLogger })
    : new Publisher({ name: argv.name, port: argv.port ?? 0, logger: stderrLogger });
  try {
    await pub.start();
  } catch (e) {
    throw new ConfigError(`cannot bind port ${argv.port ?? 0}: ${(e as Error).message}`);
  }
  process.stderr.write(`${PROG}: publishing as ${argv.name} on port ${pub.port}\n`);
  await new Promise((r) => setTimeout(r, argv.delay * 1000));
  let lineNo = 0;
  let pending = '';
  const handle = (line: string): void => {
    lineNo++;
    if (line.trim() === '') return;
    let m: Message;
    try {
      m = messageFromJson(line);
    } catch (e) {
      throw new ConfigError(`line ${lineNo}: ${(e as Error).message}`);
    }
    pub.publish(m);
  };
  try {
    for await (const chunk of process.stdin) {
      pending += (chunk as Buffer).toString('utf8');
      let i: number;
      while ((i = pending.indexOf('\n')) >= 0) {
        handle(pending.slice(0, i));
        pending = pending.slice(i + 1);
      }
    }
    if (pending) handle(pending);
    await new Promise((r) => setTimeout(r, argv.linger * 1000));
  } finally {
    await pub.stop();
  }
}

export async function main(args: string[] = process.argv.slice(2)): Promise<void> {
  const y = cli(PROG, args)
    .usage('$0 <command> [options]\n\nDecode, encode, listen to and publish posttroll messages (byte-compatible with Python posttroll).')
    .command('decode', 'Read one raw message on stdin, print it as one JSON object {"subject","type","sender","time","version","binary","data"} (datetimes as ISO strings)', {}, async () => {
      const m = decodeInput(await readStdin());
      process.stdout.write(messageToJson(m) + '\n');
    })
    .command('encode', "Read decode's JSON object on stdin, print the raw message (no newline). Missing time = now, sender = user@host, version = chosen as posttroll does", {}, async () => {
      const m = messageFromJson((await readStdin()).toString('utf8'));
      process.stdout.write(m.encode());
    })
    .command(
      'listen',
      'Print every received message as one JSON line (decode\'s shape) until SIGINT/SIGTERM',
      (c) =>
        c
          .option('address', { type: 'string', array: true, describe: 'Publisher address tcp://HOST:PORT to subscribe to directly (repeatable); without --nameserver no nameserver is used' })
          .option('nameserver', { type: 'string', describe: 'Nameserver host to ask for publishers (port from POSTTROLL_NAMESERVER_PORT)' })
          .option('service', { type: 'string', array: true, describe: 'Service name(s) to look up; default all' })
          .option('topic', { type: 'string', array: true, describe: 'Topic prefix(es), e.g. /AVO/viirs/sdr; default everything' })
          .option('addr-listener', { type: 'boolean', default: false, describe: "Follow the nameserver's address feed (POSTTROLL_ADDRESS_PUBLISH_PORT) to pick up publishers that start later" })
          .option('timeout', { type: 'number', default: 10, describe: 'Seconds to keep asking the nameserver at start' }),
      async (a) => listen(a as never),
    )
    .command(
      'publish',
      'Publish JSON lines {"subject","type","data"} read from stdin (datetimes revived as in encode)',
      (c) =>
        c
          .option('port', { type: 'number', describe: 'Port to bind (tcp://*:PORT); 0 = random' })
          .option('nameservers', { type: 'string', array: true, describe: 'Announce /address/<name> to these nameserver hosts (REQ to POSTTROLL_BROADCAST_PORT)' })
          .option('name', { type: 'string', default: 'viirs_posttroll', describe: 'Publisher (service) name' })
          .option('delay', { type: 'number', default: 1, describe: 'Seconds to wait after binding before the first message (subscribers need time to connect)' })
          .option('linger', { type: 'number', default: 0.5, describe: 'Seconds to wait after the last message before exiting' }),
      async (a) => publish(a as never),
    )
    .demandCommand(1, 'give a command: decode, encode, listen or publish')
    .epilogue(
      [
        'Environment (as Python posttroll):',
        `  ${envHelp('POSTTROLL_NAMESERVER_PORT (5557), POSTTROLL_ADDRESS_PUBLISH_PORT (16543), POSTTROLL_BROADCAST_PORT (21200)', 'POSTTROLL_NAMESERVER_PORT')}`,
        '  POSTTROLL_MESSAGE_VERSION forces the version written; POSTTROLL_PUB_MIN_PORT/MAX_PORT limit random ports.',
        'Bad input: one error line on stderr, exit code 2.',
      ].join('\n'),
    );
  await y.parseAsync();
  void getConfig;
}

/** Entry point of the bin. */
export function run(): void {
  void runMain(PROG, () => main());
}
