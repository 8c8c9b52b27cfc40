// The live progress line: rewritten in place with \r on a terminal, or a plain line at most every
// few seconds when stderr is a file or a CI log.
export class ProgressLine {
  private lastPlainMs = 0;
  private shown = false;

  constructor(private readonly stream: NodeJS.WriteStream = process.stderr, private readonly plainEveryMs = 2_000) {}

  update(text: string): void {
    if (this.stream.isTTY) {
      const width = (this.stream.columns ?? 120) - 1;
      this.stream.write('\r' + text.slice(0, width) + '\x1b[K');
      this.shown = true;
      return;
    }
    const now = Date.now();
    if (now - this.lastPlainMs < this.plainEveryMs) return;
    this.lastPlainMs = now;
    this.stream.write(text + '\n');
  }

  /** Ends the in-place line so the next output starts on its own line. */
  done(): void {
    if (this.shown) this.stream.write('\n');
    this.shown = false;
    this.lastPlainMs = 0;
  }
}
