import { applyEvent } from './answer.js';
import { GatewayError } from './api.js';
import { readSse } from './sse.js';

/** Waits between reconnection attempts while the gateway cannot be reached. */
const RETRY_DELAYS_MS = [250, 500, 1000, 2000, 4000];

/**
 * Reads one model call's stream into `turn.answer` to its end: from `first` (the response
 * to the request that started it) or, with none, from where the turn was read to (a reload).
 * Whenever the connection drops it asks `GET /v1/streams/{id}` for what follows the last
 * event (or byte of text) applied, retrying with backoff until the network is back.
 *
 * @param {{
 *   gateway: import('./api.js').Gateway,
 *   turn: import('./store.js').AssistantTurn,
 *   first: Response | undefined,
 *   signal: AbortSignal,
 *   onProgress: () => void,
 *   onText: () => void,
 * }} reading `onProgress` after each change to the turn (save it, redraw it); `onText` when text arrived
 */
export async function readAnswer(reading) {
  const { gateway, turn, signal, onProgress } = reading;
  let response = reading.first;
  let failures = 0;
  for (;;) {
    if (response) {
      try {
        await consume(reading, response);
      } catch (error) {
        if (signal.aborted) return;
        if (!(error instanceof TypeError)) throw error;
        // A read that failed: the connection dropped. Take the stream up where it was.
      }
      if (turn.answer.done || signal.aborted) return;
      response = undefined;
    }
    try {
      response = await gateway.resume(turn.stream, turn.position, signal);
      if (response === null) {
        // 204: nothing after what was read, and the stream is over.
        turn.answer.done = true;
        return;
      }
      failures = 0;
      turn.note = undefined;
    } catch (error) {
      if (signal.aborted) return;
      if (error instanceof GatewayError) throw error;
      turn.note = 'Connection lost: reconnecting…';
      onProgress();
      await waitForNetwork(RETRY_DELAYS_MS[Math.min(failures, RETRY_DELAYS_MS.length - 1)], signal);
      failures++;
    }
  }
}

async function consume(reading, response) {
  const { turn, onProgress, onText } = reading;
  if (turn.stream.wire === 'text') return consumeText(reading, response);
  for await (const event of readSse(response.body)) {
    const id = Number(event.id);
    // The stream's ids are contiguous from 1: one already applied is never applied twice.
    if (Number.isInteger(id) && id > 0 && id <= turn.position) continue;
    if (event.event !== 'ping') {
      applyEvent(turn.answer, event.event, JSON.parse(event.data), turn.base ?? 0);
      if (event.event === 'content_block_delta') onText(id);
    }
    if (Number.isInteger(id) && id > 0) turn.position = id;
    onProgress();
  }
}

/** A routed answer: text, resumed by the bytes of it received. */
async function consumeText({ turn, onProgress, onText }, response) {
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  if (turn.answer.blocks.length === 0) turn.answer.blocks.push({ type: 'text', text: '' });
  const block = turn.answer.blocks[0];
  const append = (text) => {
    if (!text) return;
    block.text += text;
    // Bytes of whole characters only: a resume asks for what follows them.
    turn.position += encoder.encode(text).length;
    onText();
    onProgress();
  };
  const reader = response.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      append(decoder.decode(value, { stream: true }));
    }
  } finally {
    reader.releaseLock();
  }
  append(decoder.decode());
  turn.answer.done = true;
}

/** Waits `ms`, or less if the browser says it is back online; rejects when aborted. */
function waitForNetwork(ms, signal) {
  return new Promise((resolve, reject) => {
    const done = () => {
      clearTimeout(timer);
      window.removeEventListener('online', done);
      signal.removeEventListener('abort', abort);
      resolve();
    };
    const abort = () => {
      done();
      reject(signal.reason);
    };
    const timer = setTimeout(done, ms);
    window.addEventListener('online', done);
    signal.addEventListener('abort', abort);
  });
}
