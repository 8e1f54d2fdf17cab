import { type ContentBlockStartEvent, isDelta, isEvent, type StreamEvent } from '../protocol/events.ts';
import { type BatchedIterable, flatMapBatches } from '../stream/batches.ts';

/**
 * Makes a caller's prefill the start of the returned text, as if the model had written it:
 * a text delta with the prefill opens the first text block (a text block is inserted, and
 * later indices shift, when the model starts with something else). The API saw the prefill
 * without its trailing white space, so when the continuation repeats that white space it is
 * dropped: the text reads exactly `prefill + rest`.
 */
export function withPrefill(
  events: AsyncIterable<StreamEvent>,
  prefill: string,
): BatchedIterable<StreamEvent> {
  const splice = new PrefillSplice(prefill);
  return flatMapBatches(events, (event) => splice.accept(event));
}

const MOVES_CONTENT = new Set([
  'content_block_delta',
  'content_block_stop',
  'message_delta',
  'message_stop',
  'error',
]);

class PrefillSplice {
  private readonly prefill: string;
  private skip: string;
  private shift = 0;
  private injected = false;
  /** The first block's start, held until its first delta: see `accept`. */
  private firstStart: ContentBlockStartEvent | undefined;

  constructor(prefill: string) {
    this.prefill = prefill;
    this.skip = prefill.slice(prefill.trimEnd().length);
  }

  accept(event: StreamEvent): StreamEvent[] {
    if (!this.injected && !this.firstStart && isEvent(event, 'content_block_start')) {
      // Held back so the prefill is delivered with the model's first token, not ahead of it:
      // time to first token then measures the model, not our own injected text.
      this.firstStart = event;
      return [];
    }
    // Pings and unknown events carry no content: they pass while the first start is held.
    if (this.firstStart && !MOVES_CONTENT.has(event.type)) return [event];
    const out: StreamEvent[] = [];
    if (this.firstStart) {
      out.push(...this.startWithPrefill(this.firstStart));
      this.firstStart = undefined;
    } else if (!this.injected && (event.type === 'message_delta' || event.type === 'message_stop')) {
      // The model added nothing: the answer is the prefill alone.
      this.injected = true;
      out.push(...this.prefillBlock());
    }
    out.push(...this.shifted(this.withoutRepeatedWhiteSpace(event)));
    return out;
  }

  /** The first block's start with the prefill: inside it if it is text, else in a text block before it. */
  private startWithPrefill(start: ContentBlockStartEvent): StreamEvent[] {
    this.injected = true;
    if (start.content_block.type === 'text') return [start, textDelta(start.index, this.prefill)];
    this.shift = 1;
    return [...this.prefillBlock(), ...this.shifted([start])];
  }

  private prefillBlock(): StreamEvent[] {
    return [
      { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
      textDelta(0, this.prefill),
      { type: 'content_block_stop', index: 0 },
    ];
  }

  /** The event, or none when it only repeated white space the prefill already ends with. */
  private withoutRepeatedWhiteSpace(event: StreamEvent): StreamEvent[] {
    if (this.skip === '' || !isEvent(event, 'content_block_delta')) return [event];
    const delta = event.delta;
    if (!isDelta(delta, 'text_delta')) {
      this.skip = '';
      return [event];
    }
    let i = 0;
    while (i < delta.text.length && i < this.skip.length && delta.text[i] === this.skip[i]) i++;
    if (i === delta.text.length) {
      this.skip = this.skip.slice(i);
      return [];
    }
    this.skip = '';
    return i === 0 ? [event] : [{ ...event, delta: { ...delta, text: delta.text.slice(i) } }];
  }

  private shifted(events: StreamEvent[]): StreamEvent[] {
    if (this.shift === 0) return events;
    return events.map((event) =>
      typeof event.index === 'number' ? { ...event, index: event.index + this.shift } : event,
    );
  }
}

function textDelta(index: number, text: string): StreamEvent {
  return { type: 'content_block_delta', index, delta: { type: 'text_delta', text } };
}
