/** The part of a terminal stream the spinner needs (process.stderr, or a fake in tests). */
export interface SpinnerOutput {
  isTTY?: boolean;
  write(text: string): unknown;
}

export interface Spinner {
  /** Erases the spinner; safe to call more than once. */
  stop(): void;
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const FRAME_MS = 80;
const CLEAR_LINE = '\r\x1b[K';

/**
 * A spinner on a terminal while the model has not answered yet. Nothing at all when the
 * output is not a terminal: control characters would only litter a log file. The first
 * frame waits one tick, so a fast answer does not flicker.
 */
export function startSpinner(out: SpinnerOutput): Spinner {
  if (!out.isTTY) return { stop: () => {} };
  let frame = 0;
  let drawn = false;
  const timer = setInterval(() => {
    out.write(`${CLEAR_LINE}${FRAMES[frame++ % FRAMES.length]} `);
    drawn = true;
  }, FRAME_MS);
  // A spinner must never be what keeps the process alive.
  timer.unref();
  let stopped = false;
  return {
    stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      if (drawn) out.write(CLEAR_LINE);
    },
  };
}
