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

/** One line of a MultiProgress. */
export interface ProgressLine {
  /** Sets the count (and optionally the total, e.g. once a size is known). */
  update(done: number, total?: number): void;
  /** Replaces the label. */
  label(text: string): void;
  /** Removes the line from the display. */
  remove(): void;
}

export interface MultiProgressOptions {
  /** Where to draw; default process.stderr. */
  stream?: NodeJS.WriteStream;
  /** Minimum time between redraws (default 100 ms). */
  intervalMs?: number;
  /** Bar width in characters (default 24). */
  width?: number;
}

interface LineState {
  label: string;
  done: number;
  total: number;
  unit: string;
  start: number;
}

/**
 * Several progress bars redrawn in place on a TTY (e.g. one per file being fetched plus an
 * overall line). Text printed while bars are shown goes through `print()` (or inside
 * `suspend()`), which clears the bars, prints, and redraws them below. Only for TTYs; callers
 * use log lines otherwise.
 */
export class MultiProgress {
  private readonly lines: LineState[] = [];
  private drawn = 0;
  private lastDraw = 0;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  readonly stream: NodeJS.WriteStream;

  constructor(private readonly o: MultiProgressOptions = {}) {
    this.stream = o.stream ?? process.stderr;
  }

  /** Adds a line; unit "B" formats counts as bytes. */
  add(label: string, total: number, unit = 'B'): ProgressLine {
    const st: LineState = { label, done: 0, total, unit, start: Date.now() };
    this.lines.push(st);
    this.schedule();
    return {
      update: (done, total) => {
        st.done = done;
        if (total !== undefined) st.total = total;
        this.schedule();
      },
      label: (text) => {
        st.label = text;
        this.schedule();
      },
      remove: () => {
        const i = this.lines.indexOf(st);
        if (i >= 0) this.lines.splice(i, 1);
        this.render();
      },
    };
  }

  /** The text of one line (exported for tests). */
  static format(st: { label: string; done: number; total: number; unit: string; start: number }, width = 24, now = Date.now()): string {
    const frac = st.total > 0 ? Math.min(1, st.done / st.total) : 0;
    const filled = Math.round(frac * width);
    const bar = '█'.repeat(filled) + '░'.repeat(width - filled);
    const secs = Math.max(0.001, (now - st.start) / 1000);
    const pct = st.total > 0 ? `${((100 * st.done) / st.total).toFixed(0)}%` : '?';
    const f = (n: number): string => (st.unit === 'B' ? formatBytes(n) : `${n} ${st.unit}`);
    const rate = st.unit === 'B' ? `, ${formatBytes(Math.round(st.done / secs))}/s` : '';
    const count = st.unit === 'B' ? `${f(st.done)}${st.total > 0 ? ` of ${f(st.total)}` : ''}` : `${st.done}${st.total > 0 ? `/${st.total}` : ''} ${st.unit}`;
    return `${bar} ${pct.padStart(4)} ${st.label}: ${count}${rate}`;
  }

  private schedule(): void {
    if (this.stopped) return;
    const wait = (this.o.intervalMs ?? 100) - (Date.now() - this.lastDraw);
    if (wait <= 0) return this.render();
    if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.render();
      }, wait);
      this.timer.unref();
    }
  }

  private erase(): string {
    if (this.drawn === 0) return '';
    // Up to the first drawn line, then clear to the end of the screen.
    const s = `\r${this.drawn > 1 ? `\x1b[${this.drawn - 1}A` : ''}\x1b[J`;
    this.drawn = 0;
    return s;
  }

  /** Redraws now. */
  render(): void {
    if (this.stopped) return;
    this.lastDraw = Date.now();
    const cols = Math.max(20, (this.stream.columns || 100) - 1);
    const text = this.lines.map((l) => MultiProgress.format(l, this.o.width ?? 24).slice(0, cols)).join('\n');
    this.stream.write(this.erase() + text);
    this.drawn = this.lines.length;
  }

  /** Clears the bars, runs fn (which may write to the terminal), and draws the bars again. */
  suspend<T>(fn: () => T): T {
    const e = this.erase();
    if (e) this.stream.write(e);
    try {
      return fn();
    } finally {
      if (!this.stopped && this.lines.length > 0) this.render();
    }
  }

  /** Prints a line above the bars. */
  print(line: string): void {
    this.suspend(() => this.stream.write(`${line}\n`));
  }

  /** Draws the final state and leaves it on screen. */
  stop(): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.lines.length > 0) {
      this.render();
      this.stream.write('\n');
    } else {
      const e = this.erase();
      if (e) this.stream.write(e);
    }
    this.stopped = true;
  }
}
