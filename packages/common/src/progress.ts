/**
 * Progress for long work: a bar redrawn in place on a TTY, periodic log lines otherwise.
 */
export interface ProgressOptions {
  label: string;
  total: number;
  /** Units of the counts, e.g. "B" (bytes get KiB/MiB formatting) or "files". */
  unit?: string;
  /** Where to draw; default process.stderr. */
  stream?: NodeJS.WriteStream;
  /** Non-TTY: a log line at most this often (default 10 s). */
  intervalMs?: number;
  log?: (msg: string) => void;
  /** Force the TTY or non-TTY behaviour (tests). */
  tty?: boolean;
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v.toFixed(0) : v.toFixed(1)} ${units[i]}`;
}

function fmt(n: number, unit: string): string {
  return unit === 'B' ? formatBytes(n) : `${n} ${unit}`;
}

export class Progress {
  private done = 0;
  private readonly start = Date.now();
  private lastDraw = 0;
  private readonly tty: boolean;
  private readonly stream: NodeJS.WriteStream;
  private readonly unit: string;
  private finished = false;

  constructor(private readonly o: ProgressOptions) {
    this.stream = o.stream ?? process.stderr;
    this.tty = o.tty ?? Boolean(this.stream.isTTY);
    this.unit = o.unit ?? '';
  }

  get value(): number {
    return this.done;
  }

  add(n: number): void {
    this.update(this.done + n);
  }

  update(done: number): void {
    this.done = done;
    const now = Date.now();
    if (this.tty) {
      if (now - this.lastDraw >= 100) {
        this.lastDraw = now;
        this.draw();
      }
    } else if (this.o.log && now - this.lastDraw >= (this.o.intervalMs ?? 10_000)) {
      if (this.lastDraw !== 0) this.o.log(this.line());
      this.lastDraw = now;
    }
  }

  private line(): string {
    const secs = Math.max(0.001, (Date.now() - this.start) / 1000);
    const pct = this.o.total > 0 ? ((100 * this.done) / this.o.total).toFixed(0) : '?';
    const rate = this.done / secs;
    return `${this.o.label}: ${fmt(this.done, this.unit)} of ${fmt(this.o.total, this.unit)} (${pct}%), ${fmt(Math.round(rate), this.unit)}/s`;
  }

  private draw(): void {
    const width = 30;
    const frac = this.o.total > 0 ? Math.min(1, this.done / this.o.total) : 0;
    const filled = Math.round(frac * width);
    const bar = '█'.repeat(filled) + '░'.repeat(width - filled);
    this.stream.write(`\r${bar} ${this.line()}\x1b[K`);
  }

  /** Final line: on a TTY the completed bar; otherwise nothing (callers log their own summary). */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.tty) {
      this.draw();
      this.stream.write('\n');
    }
  }
}
