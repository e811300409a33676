/**
 * Progress display of a pass on a TTY: a bar per file being fetched and an overall line (files
 * and bytes of the pass). Log lines are printed above the bars (wrapLog). Without a TTY nothing is
 * drawn: the mirror logs one line per file (size, time, speed).
 */
import { formatBytes, MultiProgress, type ProgressLine } from '@viirs/common';
import type { Log } from './log.js';
import type { FileProgress, ProgressSink } from './mirror.js';
import { parseSdrName } from './names.js';

/** A short label for a file: channel, platform, granule start and orbit. */
export function shortName(basename: string): string {
  const n = parseSdrName(basename);
  if (!n) return basename.length > 40 ? `${basename.slice(0, 39)}…` : basename;
  return `${n.channel} ${n.platform} ${n.start.toISOString().slice(0, 19).replace('T', ' ')} b${n.orbit}`;
}

export class TtyProgress implements ProgressSink {
  private readonly mp: MultiProgress;
  private overall: ProgressLine | null = null;
  private filesTotal = 0;
  private filesDone = 0;
  private bytesDone = 0;
  private readonly start = Date.now();

  constructor(stream: NodeJS.WriteStream = process.stderr) {
    this.mp = new MultiProgress({ stream });
  }

  private updateOverall(): void {
    const secs = Math.max(0.001, (Date.now() - this.start) / 1000);
    const label = `overall (${formatBytes(this.bytesDone)}, ${formatBytes(Math.round(this.bytesDone / secs))}/s)`;
    if (!this.overall) this.overall = this.mp.add(label, this.filesTotal, 'files');
    this.overall.label(label);
    this.overall.update(this.filesDone, this.filesTotal);
  }

  queued(_queue: string, files: number): void {
    this.filesTotal += files;
    if (this.filesTotal > 0) this.updateOverall();
  }

  fileStart(_queue: string, basename: string): FileProgress {
    const line = this.mp.add(shortName(basename), 0);
    let last = 0;
    return {
      size: (b) => line.update(0, b ?? 0),
      bytes: (w) => {
        this.bytesDone += w - last;
        last = w;
        line.update(w);
        this.updateOverall();
      },
      end: () => {
        this.filesDone++;
        line.remove();
        this.updateOverall();
      },
    };
  }

  /** A Log whose lines are printed above the bars. */
  wrapLog(log: Log): Log {
    const wrap =
      (f: (m: string) => void) =>
      (m: string): void =>
        this.mp.suspend(() => f(m));
    return { debug: wrap(log.debug), info: wrap(log.info), warn: wrap(log.warn), error: wrap(log.error) };
  }

  stop(): void {
    this.mp.stop();
  }
}
