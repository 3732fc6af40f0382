// The demo's progress display: one line per step with its elapsed time. On a terminal the running
// step shows a spinner, its elapsed time and what it last saw; elsewhere (CI, a pipe) each step
// prints one line when it ends, so logs stay readable.

const FRAMES = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/** A step that failed: its title, how long it ran, and where to look. */
export class StepError extends Error {
  readonly step: string;
  readonly seconds: number;
  /** Last lines of the log that matters for this step (already formatted). */
  readonly logTail: string;
  constructor(step: string, seconds: number, cause: unknown, logTail: string) {
    super((cause as Error)?.message ?? String(cause), { cause });
    this.step = step;
    this.seconds = seconds;
    this.logTail = logTail;
  }
}

const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

export class Progress {
  readonly #out: NodeJS.WriteStream;
  readonly #tty: boolean;

  constructor(out: NodeJS.WriteStream = process.stdout) {
    this.#out = out;
    this.#tty = out.isTTY === true;
  }

  line(text: string): void {
    this.#out.write(`${text}\n`);
  }

  /**
   * Runs one step. `fn` may call `note(text)` to say what it is waiting for (shown beside the
   * spinner). On failure, `logTail()` is asked for the last lines of the log that matters and the
   * step is rethrown as a StepError.
   */
  async step<T>(
    title: string,
    fn: (note: (text: string) => void) => Promise<T>,
    logTail: () => Promise<string> = async () => "",
  ): Promise<T> {
    const started = Date.now();
    let note = "";
    let frame = 0;
    const width = () => (this.#out.columns ?? 100) - 1;
    const draw = () => {
      const text = `${FRAMES[frame++ % FRAMES.length]} ${title} (${secs(Date.now() - started)})${note ? ` ${note}` : ""}`;
      this.#out.write(`\r${text.slice(0, width())}\x1b[K`);
    };
    const timer = this.#tty ? setInterval(draw, 100) : undefined;
    if (this.#tty) draw();
    try {
      const value = await fn((text) => {
        note = text;
      });
      clearInterval(timer);
      this.#finish(`✓ ${title} (${secs(Date.now() - started)})`);
      return value;
    } catch (err) {
      clearInterval(timer);
      this.#finish(`✗ ${title} (${secs(Date.now() - started)})`);
      const tail = await logTail().catch((e: Error) => `(could not read the log: ${e.message})`);
      throw new StepError(title, (Date.now() - started) / 1000, err, tail);
    } finally {
      if (timer) clearInterval(timer);
    }
  }

  #finish(text: string): void {
    this.#out.write(this.#tty ? `\r${text}\x1b[K\n` : `${text}\n`);
  }
}
