import { type ContentBlock, isBlock, isKnownBlock } from '../protocol/content.ts';
import { errorFromEvent, IncompleteStreamError, StreamInterruptedError } from '../protocol/errors.ts';
import {
  type ContentBlockDeltaEvent,
  type ContentBlockStartEvent,
  isDelta,
  isEvent,
  isKnownEvent,
  type MessageDeltaEvent,
  type MessageStartEvent,
  type StreamEvent,
  unreachable,
} from '../protocol/events.ts';
import { emptyUsage, type Usage } from '../protocol/message.ts';
import { addUsage, foldUsage, USAGE_COUNTS } from '../protocol/usage.ts';
import { type MessageAssembler, unknownEventsOf } from '../stream/assemble.ts';

/**
 * How an attempt relates to what the consumer already has:
 * - `fresh`: nothing delivered yet (a first attempt, or a retry before any content);
 * - `resume`: the consumer's text was sent back as an assistant prefill; the answer continues
 *   it. `skip` is the trailing white space trimmed from the prefill, which the continuation
 *   usually repeats and the consumer already has;
 * - `restart`: the request was sent again as it was; the answer must repeat what was
 *   delivered, which is checked and skipped.
 */
export type AttemptPlan = { mode: 'fresh' } | { mode: 'resume'; skip: string } | { mode: 'restart' };

type Disposition =
  | { kind: 'pass'; index: number }
  /**
   * A new text block that so far only repeats white space the consumer has: not started yet,
   * and never, if nothing else comes.
   */
  | { kind: 'unstarted'; start: ContentBlockStartEvent }
  | { kind: 'hold'; index: number; events: StreamEvent[] }
  /**
   * Continues the consumer's open text block; `added` once anything reached it. `citations`:
   * how many of its first citations the consumer already has (an open block without text is
   * sent again whole, citations included).
   */
  | { kind: 'continue'; index: number; added: boolean; citations: number }
  | { kind: 'verify'; expected: ContentBlock; text: string; json: string; done: boolean }
  /** Restart into the consumer's open text block: its text and citations are skipped, then pass. */
  | {
      kind: 'verifyOpen';
      index: number;
      expected: string;
      matched: number;
      /** Citations the consumer has in the block, left to skip. */
      citations: number;
    };

/**
 * Turns one attempt's upstream events into the events the consumer should see, so that
 * across attempts the consumer sees a single message: one `message_start`, block indices
 * that continue where they were, no repeated and no missing text, and usage summed over
 * every attempt. Pure: it neither reads nor writes anything but its arguments.
 */
export class AttemptSplicer {
  private readonly plan: AttemptPlan;
  private readonly holdNonText: boolean;
  private readonly usageBase: Usage;
  /** No earlier attempt used a token: this attempt's usage reports pass on as the upstream sent them. */
  private readonly noEarlierUsage: boolean;
  private readonly consumerStarted: boolean;
  /** Restart: the delivered blocks as they were when this attempt began. */
  private readonly expected: ContentBlock[];
  /** The consumer block still open (always text: other kinds are held until complete). */
  private openIndex: number | undefined;
  /** When the consumer's open block has no text yet: how many citations it has. */
  private readonly openBlockCitations: number | undefined;
  private nextIndex: number;
  private readonly blocks = new Map<number, Disposition>();
  private skip: string;
  private attemptUsage: Usage = emptyUsage();
  private contentDeltas = 0;
  private stopped = false;
  /** Events of unknown kinds the consumer has, which an answer from the start repeats; and how many it did. */
  private readonly deliveredUnknown: readonly StreamEvent[];
  private unknownRepeated = 0;

  constructor(
    delivered: MessageAssembler,
    plan: AttemptPlan,
    options: { holdNonText: boolean; usageBase: Usage },
  ) {
    this.plan = plan;
    this.holdNonText = options.holdNonText;
    this.usageBase = options.usageBase;
    this.noEarlierUsage = USAGE_COUNTS.every((count) => !options.usageBase[count]);
    const content = delivered.message?.content ?? [];
    this.consumerStarted = delivered.message !== undefined;
    this.expected = plan.mode === 'restart' ? structuredClone(content) : [];
    const last = content.length - 1;
    this.openIndex = last >= 0 && delivered.isOpen(last) ? last : undefined;
    const open = this.openIndex === undefined ? undefined : content[this.openIndex];
    this.openBlockCitations =
      open !== undefined && isBlock(open, 'text') && open.text === ''
        ? (open.citations?.length ?? 0)
        : undefined;
    this.nextIndex = content.length;
    this.skip = plan.mode === 'resume' ? plan.skip : '';
    this.deliveredUnknown =
      plan.mode !== 'resume' && delivered.message ? [...unknownEventsOf(delivered.message)] : [];
  }

  /** This attempt's usage: the upstream's latest counts, or an estimate if it broke off before reporting. */
  get usage(): Usage {
    if (this.stopped) return this.attemptUsage;
    return {
      ...this.attemptUsage,
      output_tokens: Math.max(this.attemptUsage.output_tokens, this.contentDeltas),
    };
  }

  get sawMessageStop(): boolean {
    return this.stopped;
  }

  /** The events to deliver for one upstream event, in order (often none or one). */
  accept(event: StreamEvent): StreamEvent[] {
    // Most events are deltas: one string compare for them, before the known/unknown lookup.
    if (isEvent(event, 'content_block_delta')) {
      this.contentDeltas++;
      return this.onBlockDelta(event);
    }
    // An event type this version does not know passes on unchanged, unless an answer asked for
    // again repeats one the consumer already has.
    if (!isKnownEvent(event)) return this.repeatsDeliveredUnknown(event) ? [] : [event];
    switch (event.type) {
      case 'message_start':
        return this.onMessageStart(event);
      case 'content_block_start':
        return this.onBlockStart(event);
      case 'content_block_delta':
        this.contentDeltas++;
        return this.onBlockDelta(event);
      case 'content_block_stop':
        return this.onBlockStop(event.index);
      case 'message_delta':
        return this.onMessageDelta(event);
      case 'message_stop':
        this.stopped = true;
        return [event];
      case 'error':
        throw errorFromEvent(event);
      case 'ping':
        return [event];
      default:
        return unreachable(event);
    }
  }

  /** The upstream ended; an answer without `message_stop` was cut off, which is retryable. */
  finish(): void {
    if (!this.stopped) {
      throw new IncompleteStreamError('The upstream closed the stream before message_stop.');
    }
  }

  private onMessageStart(event: MessageStartEvent): StreamEvent[] {
    this.attemptUsage = foldUsage(emptyUsage(), event.message?.usage);
    if (this.consumerStarted) return [];
    // The only attempt so far: its usage is the upstream's, passed on as reported.
    if (this.noEarlierUsage) return [event];
    return [{ ...event, message: { ...event.message, usage: addUsage(this.usageBase, this.attemptUsage) } }];
  }

  private onBlockStart(event: ContentBlockStartEvent): StreamEvent[] {
    const upstreamIndex = event.index;
    const block = event.content_block;
    const out: StreamEvent[] = [];

    if (this.plan.mode === 'restart' && upstreamIndex < this.expected.length) {
      const expected = this.expected[upstreamIndex]!;
      if (block.type !== expected.type)
        this.diverged(upstreamIndex, `a ${block.type} block instead of ${expected.type}`);
      this.blocks.set(
        upstreamIndex,
        upstreamIndex === this.openIndex
          ? {
              kind: 'verifyOpen',
              index: upstreamIndex,
              expected: expectedTextOf(expected),
              matched: 0,
              citations: isBlock(expected, 'text') ? (expected.citations?.length ?? 0) : 0,
            }
          : { kind: 'verify', expected, text: '', json: '', done: false },
      );
      return out;
    }

    // The answer's first text block continues the consumer's open one (a later one does only
    // when the first repeated nothing but white space: see onBlockStop).
    if (this.plan.mode === 'resume' && block.type === 'text' && this.openIndex !== undefined) {
      this.blocks.set(upstreamIndex, {
        kind: 'continue',
        index: this.openIndex,
        added: false,
        citations: this.openBlockCitations ?? 0,
      });
      this.openIndex = undefined;
      return out;
    }

    out.push(...this.closeOpenBlock());
    if (this.skip !== '' && upstreamIndex === 0 && isBlock(block, 'text') && block.text === '') {
      // The answer may open with a block holding nothing but the trimmed white space; an empty
      // block would be rejected when the message is sent back as history, so wait for content.
      this.blocks.set(upstreamIndex, { kind: 'unstarted', start: event });
      return out;
    }
    const index = this.nextIndex++;
    const started: StreamEvent = { ...event, index };
    if (this.holdNonText && block.type !== 'text') {
      this.blocks.set(upstreamIndex, { kind: 'hold', index, events: [started] });
    } else {
      this.blocks.set(upstreamIndex, { kind: 'pass', index });
      out.push(started);
    }
    return out;
  }

  private onBlockDelta(event: ContentBlockDeltaEvent): StreamEvent[] {
    const disposition = this.blocks.get(event.index);
    // An unknown index passes through untouched so the consumer's assembler names the fault.
    if (!disposition) return [event];
    const delta = event.delta;
    switch (disposition.kind) {
      case 'pass':
        return this.passDelta(event, disposition.index);
      case 'continue': {
        if (isDelta(delta, 'citations_delta') && disposition.citations > 0) {
          disposition.citations--;
          return [];
        }
        const out = this.passDelta(event, disposition.index);
        if (out.length > 0) disposition.added = true;
        return out;
      }
      case 'unstarted': {
        const text = isDelta(delta, 'text_delta') ? this.skipRepeatedWhiteSpace(delta.text) : undefined;
        if (text === '') return [];
        const index = this.nextIndex++;
        this.blocks.set(event.index, { kind: 'pass', index });
        const rest = text === undefined || !isDelta(delta, 'text_delta') ? delta : { ...delta, text };
        return [
          { ...disposition.start, index },
          { ...event, index, delta: rest },
        ];
      }
      case 'hold':
        disposition.events.push({ ...event, index: disposition.index });
        return [];
      case 'verify':
        if (isDelta(delta, 'text_delta')) disposition.text += delta.text;
        else if (isDelta(delta, 'thinking_delta')) disposition.text += delta.thinking;
        else if (isDelta(delta, 'input_json_delta')) disposition.json += delta.partial_json;
        if (disposition.text !== '' && !expectedTextOf(disposition.expected).startsWith(disposition.text)) {
          this.diverged(event.index, 'different text');
        }
        return [];
      case 'verifyOpen': {
        if (isDelta(delta, 'citations_delta') && disposition.citations > 0) {
          disposition.citations--;
          return [];
        }
        if (!isDelta(delta, 'text_delta'))
          return disposition.matched < disposition.expected.length
            ? []
            : [{ ...event, index: disposition.index }];
        const overlap = Math.min(delta.text.length, disposition.expected.length - disposition.matched);
        const repeated = delta.text.slice(0, overlap);
        if (repeated !== disposition.expected.slice(disposition.matched, disposition.matched + overlap)) {
          this.diverged(event.index, 'different text');
        }
        disposition.matched += overlap;
        const rest = delta.text.slice(overlap);
        return rest === '' ? [] : [{ ...event, index: disposition.index, delta: { ...delta, text: rest } }];
      }
    }
  }

  private onBlockStop(upstreamIndex: number): StreamEvent[] {
    const disposition = this.blocks.get(upstreamIndex);
    const stop = (index: number): StreamEvent => ({ type: 'content_block_stop', index });
    if (!disposition) return [stop(upstreamIndex)];
    switch (disposition.kind) {
      case 'pass':
        return [stop(disposition.index)];
      case 'continue':
        if (!disposition.added && this.openBlockCitations !== undefined) {
          // The consumer's block has no text and this one only repeated white space: it stays
          // open for the answer's next text block, so it does not end empty (an empty text
          // block is refused when the message is sent back as history).
          this.openIndex = disposition.index;
          return [];
        }
        return [stop(disposition.index)];
      case 'hold':
        return [...disposition.events, stop(disposition.index)];
      case 'unstarted':
        return [];
      case 'verify':
        if (!sameBlock(disposition.expected, disposition.text, disposition.json)) {
          this.diverged(upstreamIndex, 'a different block');
        }
        disposition.done = true;
        return [];
      case 'verifyOpen':
        if (disposition.matched < disposition.expected.length) this.diverged(upstreamIndex, 'a shorter text');
        return [stop(disposition.index)];
    }
  }

  private onMessageDelta(event: MessageDeltaEvent): StreamEvent[] {
    if (this.plan.mode === 'restart') {
      for (let index = 0; index < this.expected.length; index++) {
        const disposition = this.blocks.get(index);
        const done =
          (disposition?.kind === 'verify' && disposition.done) ||
          (disposition?.kind === 'verifyOpen' && disposition.matched === disposition.expected.length);
        if (!done) this.diverged(index, 'an answer that ends before it');
      }
    }
    this.attemptUsage = foldUsage(this.attemptUsage, event.usage);
    return [
      ...this.closeOpenBlock(),
      this.noEarlierUsage
        ? event
        : { ...event, usage: { ...event.usage, ...addUsage(this.usageBase, this.attemptUsage) } },
    ];
  }

  /**
   * Whether an unknown event is the next of those the consumer already has, repeated by an
   * answer asked for again from the start (a prefill's continuation repeats none).
   */
  private repeatsDeliveredUnknown(event: StreamEvent): boolean {
    const next = this.deliveredUnknown[this.unknownRepeated];
    if (next === undefined || !deepEqual(event, next)) return false;
    this.unknownRepeated++;
    return true;
  }

  /** A delta of a block that passes, less the white space the consumer already has. */
  private passDelta(event: ContentBlockDeltaEvent, index: number): StreamEvent[] {
    const delta = event.delta;
    if (!isDelta(delta, 'text_delta') || this.skip === '' || event.index !== 0) {
      // Most deltas keep their index: passing the event itself spares a copy per token.
      return [event.index === index ? event : { ...event, index }];
    }
    const text = this.skipRepeatedWhiteSpace(delta.text);
    return text === '' ? [] : [{ ...event, index, delta: { ...delta, text } }];
  }

  /** Resume left the consumer's text block open; if the answer does not continue it, close it. */
  private closeOpenBlock(): StreamEvent[] {
    if (this.plan.mode !== 'resume' || this.openIndex === undefined) return [];
    const index = this.openIndex;
    this.openIndex = undefined;
    return [{ type: 'content_block_stop', index }];
  }

  /** Drops the white space the consumer already has, for as long as the answer repeats it. */
  private skipRepeatedWhiteSpace(text: string): string {
    let i = 0;
    while (i < text.length && i < this.skip.length && text[i] === this.skip[i]) i++;
    this.skip = i === text.length ? this.skip.slice(i) : '';
    return text.slice(i);
  }

  private diverged(index: number, what: string): never {
    throw new StreamInterruptedError(
      `The stream broke off, and the answer asked for again has ${what} at block ${index} than what was already delivered, so it cannot be continued exactly. Use temperature 0 or a provider with prefill support to make resumes reliable.`,
    );
  }
}

function expectedTextOf(block: ContentBlock): string {
  if (isBlock(block, 'text')) return block.text;
  if (isBlock(block, 'thinking')) return block.thinking;
  return '';
}

/** Whether a re-sent block says the same as the delivered one; ids and signatures may differ. */
function sameBlock(expected: ContentBlock, text: string, json: string): boolean {
  // A block of a kind this version does not know streams nothing it could compare.
  if (!isKnownBlock(expected)) return true;
  switch (expected.type) {
    case 'text':
    case 'thinking':
      return expectedTextOf(expected) === text;
    case 'tool_use':
    case 'server_tool_use': {
      if (json === '') return true;
      try {
        return deepEqual(JSON.parse(json), expected.input);
      } catch {
        return false;
      }
    }
    case 'redacted_thinking':
      return true;
    default:
      return unreachable(expected);
  }
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const keysA = Object.keys(a);
  const keysB = Object.keys(b);
  if (keysA.length !== keysB.length) return false;
  return keysA.every((key) => Object.hasOwn(b, key) && deepEqual(Reflect.get(a, key), Reflect.get(b, key)));
}
