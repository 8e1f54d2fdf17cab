/** The events of a Node writable that end a wait for room in it. */
interface WritableLike {
  once(event: 'drain' | 'close' | 'error', listener: () => void): unknown;
  off(event: 'drain' | 'close' | 'error', listener: () => void): unknown;
}

/**
 * Resolves when a writable that refused a write (`write()` returned false) can take more, or
 * when it is gone (closed, failed): a writer that waits on this never outlives its reader.
 */
export function writableReady(out: WritableLike): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      out.off('drain', done);
      out.off('close', done);
      out.off('error', done);
      resolve();
    };
    out.once('drain', done);
    out.once('close', done);
    out.once('error', done);
  });
}
