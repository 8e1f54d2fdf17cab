import type { ContentBlock, KnownBlockType } from '../protocol/content.ts';
import { isBlock } from '../protocol/content.ts';
import { errorFromEvent, IncompleteStreamError, ProtocolError } from '../protocol/errors.ts';
import {
  type ContentBlockDeltaEvent,
  type ContentBlockStartEvent,
  isDelta,
  isEvent,
  isKnownDelta,
  isKnownEvent,
  type MessageDeltaEvent,
  type MessageStartEvent,
  type StreamEvent,
  type TextDelta,
  type UnknownDelta,
  type UnknownEvent,
  unreachable,
} from '../protocol/events.ts';
import type { Message } from '../protocol/message.ts';
import { foldUsage } from '../protocol/usage.ts';
import { PartialJsonParser } from './partial-json.ts';

/** Why a tool_use block's streamed input is not valid JSON (see `toolInputErrorOf`). */
export interface ToolInputError {
  /** The input text exactly as streamed. */
  raw: string;
  /** What is wrong with it. */
  message: string;
}

// Kept beside the message rather than in it: an extra field on a tool_use block would be
// rejected by the API when the message is sent back as history.
const toolInputErrors = new WeakMap<object, ToolInputError>();

/** Why a tool_use block's input is not what the model meant to send, if its JSON was invalid. */
export function toolInputErrorOf(block: ContentBlock): ToolInputError | undefined {
  return toolInputErrors.get(block);
}

// Also beside the message, for the same reason: a delta type this version does not know is
// kept for whoever can read it, but it must not change what is sent back as history.
const unknownDeltas = new WeakMap<object, UnknownDelta[]>();
const unknownEvents = new WeakMap<object, UnknownEvent[]>();

/**
 * The deltas of kinds this version does not model that arrived for a block, in order, as they
 * came (the official SDK drops them): a newer API feature stays readable before Sluice knows it.
 */
export function unknownDeltasOf(block: ContentBlock): readonly UnknownDelta[] {
  return unknownDeltas.get(block) ?? [];
}

/** The events of kinds this version does not model that arrived while a message streamed, as they came. */
export function unknownEventsOf(message: Message): readonly UnknownEvent[] {
  return unknownEvents.get(message) ?? [];
}

/** Keeps `item` in the list a side table holds for `owner`. */
function keep<Item>(table: WeakMap<object, Item[]>, owner: object, item: Item): void {
  const list = table.get(owner);
  if (list) list.push(item);
  else table.set(owner, [item]);
}

type Phase = 'before_start' | 'streaming' | 'stopped';

/**
 * Reduces stream events to a message, in time linear in the bytes received. The message
 * is built in place (`message` is live while streaming): copying a snapshot per event is
 * what makes other assemblers quadratic.
 */
export class MessageAssembler {
  private phase: Phase = 'before_start';
  private current: Message | undefined;
  /** Blocks started and not yet stopped, with the JSON parser of those that stream input. */
  private readonly open = new Map<number, PartialJsonParser | null>();

  /** The message so far; undefined before `message_start`. Do not mutate it. */
  get message(): Message | undefined {
    return this.current;
  }

  get isComplete(): boolean {
    return this.phase === 'stopped';
  }

  /** Whether block `index` has started and not stopped. */
  isOpen(index: number): boolean {
    return this.open.has(index);
  }

  apply(event: StreamEvent): void {
    // Most events are deltas: one string compare for them, before the known/unknown lookup.
    if (isEvent(event, 'content_block_delta')) {
      this.applyDelta(event);
      return;
    }
    // Event types this version does not know change nothing in the message; they are kept beside it.
    if (!isKnownEvent(event)) {
      if (this.current !== undefined) keep(unknownEvents, this.current, event);
      return;
    }
    switch (event.type) {
      case 'message_start':
        this.start(event);
        return;
      case 'content_block_start':
        this.startBlock(event);
        return;
      case 'content_block_delta':
        this.applyDelta(event);
        return;
      case 'content_block_stop':
        this.stopBlock(event.index);
        return;
      case 'message_delta':
        this.applyMessageDelta(event);
        return;
      case 'message_stop':
        this.stop();
        return;
      case 'ping':
      case 'error':
        // Nothing for the message; the stream's owner turns an error into a typed error.
        return;
      default:
        unreachable(event);
    }
  }

  /** The complete message; raises `IncompleteStreamError` if `message_stop` never came. */
  finish(): Message {
    if (this.phase !== 'stopped' || this.current === undefined) {
      throw new IncompleteStreamError(
        this.current === undefined
          ? 'The stream ended before the message started; no content was received.'
          : 'The stream ended before message_stop; the message is incomplete (see partialMessage).',
        { partialMessage: this.partialMessage() },
      );
    }
    return this.current;
  }

  /** A copy of what has arrived so far, with tool inputs still streaming filled in best-effort. */
  partialMessage(): Message | undefined {
    // Open tool_use blocks already hold their best-effort input: every delta refreshes it.
    return this.current === undefined ? undefined : structuredClone(this.current);
  }

  private start(event: MessageStartEvent): void {
    if (this.phase !== 'before_start') this.fail('a second message_start arrived');
    const message = event.message;
    if (typeof message !== 'object' || message === null || typeof message.id !== 'string') {
      this.fail('message_start carries no message');
    }
    this.current = {
      ...message,
      content: Array.isArray(message.content) ? [...message.content] : [],
      stop_reason: message.stop_reason ?? null,
      stop_sequence: message.stop_sequence ?? null,
      usage: { ...message.usage },
    };
    this.phase = 'streaming';
  }

  private startBlock(event: ContentBlockStartEvent): void {
    const message = this.streaming('content_block_start');
    const { index, content_block: block } = event;
    if (index !== message.content.length) {
      this.fail(
        `content_block_start for index ${index} arrived when index ${message.content.length} was next`,
      );
    }
    if (typeof block !== 'object' || block === null || typeof block.type !== 'string') {
      this.fail(`content_block_start ${index} carries no content block`);
    }
    const copy = { ...block };
    // Citations are pushed into as they stream: an array shared with the event would be
    // filled once per reader of that event.
    if (isBlock(copy, 'text') && Array.isArray(copy.citations)) copy.citations = [...copy.citations];
    message.content.push(copy);
    const streamsInput = copy.type === 'tool_use' || copy.type === 'server_tool_use';
    this.open.set(index, streamsInput ? new PartialJsonParser() : null);
  }

  private applyDelta(event: ContentBlockDeltaEvent): void {
    const message = this.streaming('content_block_delta');
    const { index, delta } = event;
    if (!this.open.has(index)) this.fail(`content_block_delta for block ${index}, which is not open`);
    const block = message.content[index]!;
    if (typeof delta !== 'object' || delta === null)
      this.fail(`content_block_delta ${index} carries no delta`);
    // Most deltas are text: one string compare for them, before the known/unknown lookup.
    if (isDelta(delta, 'text_delta')) {
      this.appendText(block, delta, index);
      return;
    }
    // A delta type added after this version: nothing to fold in and nothing to reject, but kept.
    if (!isKnownDelta(delta)) {
      keep(unknownDeltas, block, delta);
      return;
    }
    switch (delta.type) {
      case 'text_delta':
        this.appendText(block, delta, index);
        return;
      case 'citations_delta': {
        const text = this.blockOf(block, 'text', delta.type, index);
        if (!Array.isArray(text.citations)) text.citations = [];
        text.citations.push(delta.citation);
        return;
      }
      case 'input_json_delta': {
        const parser = this.open.get(index);
        if (!parser || !(isBlock(block, 'tool_use') || isBlock(block, 'server_tool_use'))) {
          this.fail(`input_json_delta for block ${index}, a ${block.type} block`);
        }
        parser.push(this.stringField(delta.partial_json, 'input_json_delta.partial_json'));
        block.input = parser.value() ?? {};
        return;
      }
      case 'thinking_delta': {
        const thinking = this.blockOf(block, 'thinking', delta.type, index);
        thinking.thinking += this.stringField(delta.thinking, 'thinking_delta.thinking');
        return;
      }
      case 'signature_delta': {
        // The API sends the whole signature in one delta: it replaces, it never appends (a
        // signature appended to the empty one of content_block_start would still be right, but
        // one sent twice would not).
        const thinking = this.blockOf(block, 'thinking', delta.type, index);
        thinking.signature = this.stringField(delta.signature, 'signature_delta.signature');
        return;
      }
      default:
        unreachable(delta);
    }
  }

  private appendText(block: ContentBlock, delta: TextDelta, index: number): void {
    const text = this.blockOf(block, 'text', delta.type, index);
    text.text += this.stringField(delta.text, 'text_delta.text');
  }

  private stopBlock(index: number): void {
    this.streaming('content_block_stop');
    if (typeof index !== 'number' || !this.open.has(index)) {
      this.fail(`content_block_stop for block ${String(index)}, which is not open`);
    }
    const parser = this.open.get(index);
    this.open.delete(index);
    if (!parser) return;
    const block = this.current!.content[index]!;
    // A block whose input never streamed keeps the input its start event carried.
    if (parser.text === '' || !(isBlock(block, 'tool_use') || isBlock(block, 'server_tool_use'))) return;
    const result = parser.end();
    if (result.ok) {
      block.input = result.value;
    } else {
      block.input = result.value ?? {};
      toolInputErrors.set(block, { raw: result.raw, message: result.error });
    }
  }

  private applyMessageDelta(event: MessageDeltaEvent): void {
    const message = this.streaming('message_delta');
    applyMessageDeltaFields(message, event.delta);
    message.usage = foldUsage(message.usage, event.usage);
  }

  private stop(): void {
    this.streaming('message_stop');
    if (this.open.size > 0) {
      this.fail(`message_stop arrived while block ${[...this.open.keys()].join(', ')} was still open`);
    }
    this.phase = 'stopped';
  }

  private streaming(eventType: string): Message {
    if (this.phase === 'before_start') this.fail(`${eventType} arrived before message_start`);
    if (this.phase === 'stopped') this.fail(`${eventType} arrived after message_stop`);
    return this.current!;
  }

  /** The block a delta applies to, if it is of the kind the delta needs. */
  private blockOf<Type extends KnownBlockType>(
    block: ContentBlock,
    type: Type,
    deltaType: string,
    index: number,
  ) {
    if (!isBlock(block, type)) this.fail(`${deltaType} for block ${index}, a ${block.type} block`);
    return block;
  }

  private stringField(value: unknown, name: string): string {
    if (typeof value !== 'string') this.fail(`${name} is not a string`);
    return value;
  }

  private fail(problem: string): never {
    throw new ProtocolError(`Malformed event stream: ${problem}.`, { partialMessage: this.partialMessage() });
  }
}

/** Fields a `message_delta` sets as they come, null included: they describe how this message stopped. */
const STOP_FIELDS: ReadonlySet<string> = new Set(['stop_reason', 'stop_sequence', 'stop_details']);

/**
 * Every field of a `message_delta`'s `delta` onto the message, those this version does not
 * know included: the stop fields as they come, any other (`container`, …) unless it is null
 * where the message already has a value (the API reports the container once it exists and may
 * send null after it).
 */
function applyMessageDeltaFields(message: Message, delta: object | undefined): void {
  if (typeof delta !== 'object' || delta === null) return;
  const target = message as Record<string, unknown>;
  for (const [field, value] of Object.entries(delta)) {
    if (value === undefined) continue;
    if (value === null && !STOP_FIELDS.has(field) && target[field] != null) continue;
    target[field] = value;
  }
}

/** Assembles a whole event sequence; throws like the stream would. */
export async function assembleMessage(
  events: AsyncIterable<StreamEvent> | Iterable<StreamEvent>,
): Promise<Message> {
  const assembler = new MessageAssembler();
  for await (const event of events) {
    if (event.type === 'error') throw errorFromEvent(event, { partialMessage: assembler.partialMessage() });
    assembler.apply(event);
  }
  return assembler.finish();
}
