import type { ContentBlockDeltaEvent, ContentBlockStartEvent, StreamEvent } from '../protocol/events.ts';

/**
 * Makes a caller's prefill the start of the returned text, as if the model had written it:
 * a text delta with the prefill opens the first text block (a text block is inserted, and
 * later indices shift, when the model starts with something else). The API saw the prefill
 * without its trailing white space, so when the continuation repeats that white space it is
 * dropped: the text reads exactly `prefill + rest`.
 */
export async function* withPrefill(
  events: AsyncIterable<StreamEvent>,
  prefill: string,
): AsyncGenerator<StreamEvent> {
  let skip = prefill.slice(prefill.trimEnd().length);
  let shift = 0;
  let injected = false;
  for await (const event of events) {
    if (!injected && event.type === 'content_block_start') {
      injected = true;
      const start = event as ContentBlockStartEvent;
      if (start.content_block.type === 'text') {
        yield event;
        yield textDelta(start.index, prefill);
        continue;
      }
      yield { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } };
      yield textDelta(0, prefill);
      yield { type: 'content_block_stop', index: 0 };
      shift = 1;
    } else if (!injected && (event.type === 'message_delta' || event.type === 'message_stop')) {
      // The model added nothing: the answer is the prefill alone.
      injected = true;
      yield { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } };
      yield textDelta(0, prefill);
      yield { type: 'content_block_stop', index: 0 };
    }
    if (skip !== '' && event.type === 'content_block_delta') {
      const delta = (event as ContentBlockDeltaEvent).delta;
      if (delta.type === 'text_delta') {
        let i = 0;
        while (i < delta.text.length && i < skip.length && delta.text[i] === skip[i]) i++;
        skip = i === delta.text.length ? skip.slice(i) : '';
        if (i === delta.text.length) continue;
        yield {
          ...event,
          index: (event as ContentBlockDeltaEvent).index + shift,
          delta: { ...delta, text: delta.text.slice(i) },
        };
        continue;
      }
      skip = '';
    }
    yield shift === 0 || !('index' in event)
      ? event
      : { ...event, index: (event as { index: number }).index + shift };
  }
}

function textDelta(index: number, text: string): StreamEvent {
  return { type: 'content_block_delta', index, delta: { type: 'text_delta', text } };
}
