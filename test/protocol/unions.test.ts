import { describe, expect, it } from 'vitest';
import { ContentBlockSchema, isBlock, isKnownBlock } from '../../src/protocol/content.ts';
import {
  isDelta,
  isEvent,
  isKnownDelta,
  isKnownEvent,
  KNOWN_EVENT_TYPES,
  type StreamEvent,
  StreamEventSchema,
} from '../../src/protocol/events.ts';

// The closed unions: a known kind validates against its own schema, anything else is kept
// whole as the unknown variant, and the guards split the two by the type string alone.

describe('StreamEventSchema', () => {
  it('keeps an unknown event whole, every field as it came', () => {
    const event = { type: 'future_event', payload: { anything: [1, 2, 3] }, index: 4 };
    expect(StreamEventSchema.parse(event)).toEqual(event);
  });

  it('checks a known event against its own schema and names the field at fault', () => {
    const result = StreamEventSchema.safeParse({
      type: 'content_block_delta',
      index: 'one',
      delta: { type: 'text_delta', text: 'x' },
    });
    expect(result.success).toBe(false);
    expect(JSON.stringify(result.error?.issues)).toContain('"index"');
  });

  it('refuses a known event type in the unknown variant (a malformed event is not "unknown")', () => {
    expect(StreamEventSchema.safeParse({ type: 'message_stop', extra: 1 }).success).toBe(true);
    expect(StreamEventSchema.safeParse({ type: 'content_block_stop' }).success).toBe(false);
  });

  it('keeps unknown delta kinds and unknown blocks, and still rejects a malformed known block', () => {
    const delta = { type: 'content_block_delta', index: 0, delta: { type: 'future_delta', value: 42 } };
    expect(StreamEventSchema.parse(delta)).toEqual(delta);
    const block = { type: 'web_search_tool_result', tool_use_id: 'srvtoolu_01', content: [] };
    expect(ContentBlockSchema.parse(block)).toEqual(block);
    expect(ContentBlockSchema.safeParse({ type: 'text' }).success).toBe(false);
  });
});

describe('the guards', () => {
  it('tell every known event type from an unknown one', () => {
    for (const type of KNOWN_EVENT_TYPES) expect(isKnownEvent({ type } as StreamEvent), type).toBe(true);
    expect(isKnownEvent({ type: 'future_event' })).toBe(false);
    expect(isEvent({ type: 'ping' }, 'ping')).toBe(true);
    expect(isEvent({ type: 'ping' }, 'message_stop')).toBe(false);
  });

  it('tell known deltas and blocks from unknown ones', () => {
    expect(isKnownDelta({ type: 'text_delta', text: '' })).toBe(true);
    expect(isKnownDelta({ type: 'future_delta' })).toBe(false);
    expect(isDelta({ type: 'thinking_delta', thinking: '' }, 'thinking_delta')).toBe(true);
    expect(isKnownBlock({ type: 'image', source: { type: 'url', url: 'https://example.com/a.png' } })).toBe(
      true,
    );
    expect(isKnownBlock({ type: 'container_upload', file_id: 'f' })).toBe(false);
    expect(isBlock({ type: 'text', text: 'x' }, 'text')).toBe(true);
    expect(isBlock({ type: 'text', text: 'x' }, 'tool_use')).toBe(false);
  });

  it('let a switch over the known kinds be exhaustive', () => {
    // Compiles only because every known type has a case; a kind added to the schemas without
    // one here is a type error in this file, as in every switch of the code.
    const kindOf = (event: StreamEvent): string => {
      if (!isKnownEvent(event)) return `unknown ${event.type}`;
      switch (event.type) {
        case 'message_start':
          return event.message.id;
        case 'content_block_start':
          return event.content_block.type;
        case 'content_block_delta':
          return event.delta.type;
        case 'content_block_stop':
          return String(event.index);
        case 'message_delta':
          return String(event.delta.stop_reason);
        case 'message_stop':
        case 'ping':
          return event.type;
        case 'error':
          return event.error.type;
        default: {
          const unreachable: never = event;
          return unreachable;
        }
      }
    };
    expect(kindOf({ type: 'error', error: { type: 'overloaded_error', message: 'busy' } })).toBe(
      'overloaded_error',
    );
    expect(kindOf({ type: 'future_event' })).toBe('unknown future_event');
  });
});
