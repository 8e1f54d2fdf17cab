/**
 * The load generator as a child process: runs `runLoad` for each options message from the
 * bench and answers with the result, one run at a time. Exits with its parent.
 */
import { type LoadOptions, type LoadResult, runLoad } from './load.ts';

export interface LoadRequest {
  id: number;
  options: LoadOptions;
}

export type LoadReply = { id: number; result: LoadResult } | { id: number; error: string };

if (process.send === undefined) throw new Error('load-child.ts runs as a forked child of the gateway bench');

process.on('message', (message: LoadRequest) => {
  runLoad(message.options).then(
    (result) => process.send?.({ id: message.id, result } satisfies LoadReply),
    (error: unknown) => process.send?.({ id: message.id, error: String(error) } satisfies LoadReply),
  );
});
// The bench went away (Ctrl-C, a crash): nothing left to measure for.
process.on('disconnect', () => process.exit(0));
process.send({ ready: true });
