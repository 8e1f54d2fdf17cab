import type { ContentBlockDeltaEvent, ContentBlockStartEvent, StreamEvent } from '../protocol/events.ts';
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

class PrefillSplice {
  private readonly prefill: string;
  private skip: string;
  private shift = 0;
  private injected = false;

  constructor(prefill: string) {
    this.prefill = prefill;
    this.skip = prefill.slice(prefill.trimEnd().length);
  }

  accept(event: StreamEvent): StreamEvent[] {
    const out: StreamEvent[] = [];
    if (!this.injected && event.type === 'content_block_start') {
      this.injected = true;
      const start = event as ContentBlockStartEvent;
      if (start.content_block.type === 'text') return [event, textDelta(start.index, this.prefill)];
      out.push(...this.prefillBlock());
      this.shift = 1;
    } else if (!this.injected && (event.type === 'message_delta' || event.type === 'message_stop')) {
      // The model added nothing: the answer is the prefill alone.
      this.injected = true;
      out.push(...this.prefillBlock());
    }
    out.push(...this.shifted(this.withoutRepeatedWhiteSpace(event)));
    return out;
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
    if (this.skip === '' || event.type !== 'content_block_delta') return [event];
    const delta = (event as ContentBlockDeltaEvent).delta;
    if (delta.type !== 'text_delta') {
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
    return i === 0 ? [event] : [{ ...event, delta: { ...delta, text: delta.text.slice(i) } } as StreamEvent];
  }

  private shifted(events: StreamEvent[]): StreamEvent[] {
    if (this.shift === 0) return events;
    return events.map((event) =>
      'index' in event
        ? ({ ...event, index: (event as { index: number }).index + this.shift } as StreamEvent)
        : event,
    );
  }
}

function textDelta(index: number, text: string): StreamEvent {
  return { type: 'content_block_delta', index, delta: { type: 'text_delta', text } };
}
