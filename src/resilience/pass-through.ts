import { errorFromEvent, ProtocolError } from '../protocol/errors.ts';
import { isKnownEvent, type StreamEvent, unreachable } from '../protocol/events.ts';
import { emptyUsage, type Usage } from '../protocol/message.ts';
import { foldUsage } from '../protocol/usage.ts';
import { parseStreamEvent, plainTextDeltaIndex } from '../stream/decode-events.ts';
import type { SseBlock } from '../stream/sse-blocks.ts';

/** A block the consumer has open: text passes on, any other kind is held until its stop. */
interface OpenBlock {
  index: number;
  /** The held events' texts (a non-text block while resume is on); undefined when it passes. */
  held: string[] | undefined;
}

/**
 * What `AttemptSplicer` does to a first attempt, done on SSE text: events pass on as they
 * came (their text, not a re-encoding), except that a non-text block is held until its
 * `content_block_stop` while resume is on (so a resume never has to continue half a tool
 * call), and an `error` event throws its typed error. It reads only what that needs: a text
 * delta's form (no text is built), and the other events' JSON (a handful per answer).
 *
 * Whatever it cannot pass on as the full splicer would (a block index out of order, a second
 * `message_start`, an event that is not JSON) throws a ProtocolError, and the relay hands
 * the answer to the full path from what was delivered: this never relays a stream the full
 * path would have relayed differently. Pure: events in, texts out.
 */
export class PassThroughSplicer {
  private readonly holdNonText: boolean;
  private started = false;
  private stopped = false;
  private nextIndex = 0;
  private open: OpenBlock | undefined;
  private attemptUsage: Usage = emptyUsage();
  private contentDeltas = 0;

  constructor(options: { holdNonText: boolean }) {
    this.holdNonText = options.holdNonText;
  }

  /** Whether `message_stop` came: the answer is complete. */
  get sawMessageStop(): boolean {
    return this.stopped;
  }

  /** The content deltas passed on so far (the first one is the first token). */
  get deltasPassed(): number {
    return this.contentDeltas;
  }

  /** The attempt's usage, as the full splicer counts it: the upstream's, or an estimate if it broke off. */
  get usage(): Usage {
    if (this.stopped) return this.attemptUsage;
    return {
      ...this.attemptUsage,
      output_tokens: Math.max(this.attemptUsage.output_tokens, this.contentDeltas),
    };
  }

  /** Accepts one upstream event; appends the texts to pass on (each without its blank line) to `out`. */
  accept(block: SseBlock, out: string[]): void {
    const open = this.open;
    // Most events: a text delta into the open text block, forwarded as it came.
    if (open !== undefined && open.held === undefined && block.event !== undefined) {
      if (plainTextDeltaIndex(block.data) === open.index && block.event === 'content_block_delta') {
        this.contentDeltas++;
        out.push(block.canonical ? block.text : canonicalText('content_block_delta', block.data));
        return;
      }
    }
    const event = parseStreamEvent({
      event: block.event,
      data: block.data,
      unterminated: block.unterminated,
    });
    // An event the body cut off: nothing more to read, and the missing message_stop shows the cut.
    if (event === undefined) return;
    const text = passesAsItCame(block, event.type)
      ? block.text
      : canonicalText(event.type, JSON.stringify(event));
    this.onEvent(event, text, out);
  }

  private onEvent(event: StreamEvent, text: string, out: string[]): void {
    // Event types this version does not know pass on unchanged, as the full splicer passes them.
    if (!isKnownEvent(event)) {
      out.push(text);
      return;
    }
    switch (event.type) {
      case 'message_start':
        if (this.started) throw outOfOrder('a second message_start');
        this.started = true;
        this.attemptUsage = foldUsage(emptyUsage(), event.message?.usage);
        out.push(text);
        return;
      case 'content_block_start': {
        if (this.open !== undefined)
          throw outOfOrder(`block ${event.index} started inside block ${this.open.index}`);
        if (event.index !== this.nextIndex)
          throw outOfOrder(`block ${event.index} started where ${this.nextIndex} was next`);
        const kind = (event.content_block as { type?: unknown } | undefined)?.type;
        if (typeof kind !== 'string') throw outOfOrder(`block ${event.index} started without a type`);
        this.nextIndex++;
        const held = this.holdNonText && kind !== 'text' ? [text] : undefined;
        this.open = { index: event.index, held };
        if (held === undefined) out.push(text);
        return;
      }
      case 'content_block_delta': {
        const open = this.openAt(event.index, 'a delta');
        this.contentDeltas++;
        if (open.held) open.held.push(text);
        else out.push(text);
        return;
      }
      case 'content_block_stop': {
        const open = this.openAt(event.index, 'a stop');
        this.open = undefined;
        if (open.held) out.push(...open.held);
        out.push(text);
        return;
      }
      case 'message_delta':
        this.attemptUsage = foldUsage(this.attemptUsage, event.usage);
        out.push(text);
        return;
      case 'message_stop':
        this.stopped = true;
        out.push(text);
        return;
      case 'error':
        throw errorFromEvent(event);
      case 'ping':
        out.push(text);
        return;
      default:
        unreachable(event);
    }
  }

  private openAt(index: number, what: string): OpenBlock {
    const open = this.open;
    if (open === undefined || open.index !== index)
      throw outOfOrder(`${what} for block ${index}, which is not open`);
    return open;
  }
}

function outOfOrder(what: string): ProtocolError {
  return new ProtocolError(`The upstream sent ${what}; the answer is continued from what was delivered.`);
}

/** An event's text in the log's form (the `event:` line, one `data:` line). */
function canonicalText(type: string, json: string): string {
  return `event: ${type}\ndata: ${json}`;
}

/**
 * Whether the event's own text is already the log's form: the `event:` line names its type, and
 * its data opens with that type, as the API writes it (data without a type of its own, which
 * the decoder gives the `event:` line's, is written again with it).
 */
function passesAsItCame(block: SseBlock, type: string): boolean {
  return block.canonical && block.event === type && block.data.startsWith(`{"type":"${type}"`);
}
