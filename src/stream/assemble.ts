import type { ContentBlock, TextBlock, ThinkingBlock, ToolUseBlock } from '../protocol/content.ts';
import { errorFromEvent, IncompleteStreamError, ProtocolError } from '../protocol/errors.ts';
import type {
  ContentBlockDeltaEvent,
  ContentBlockStartEvent,
  MessageDeltaEvent,
  MessageStartEvent,
  StreamEvent,
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
    switch (event.type) {
      case 'message_start':
        this.start(event as MessageStartEvent);
        return;
      case 'content_block_start':
        this.startBlock(event as ContentBlockStartEvent);
        return;
      case 'content_block_delta':
        this.applyDelta(event as ContentBlockDeltaEvent);
        return;
      case 'content_block_stop':
        this.stopBlock((event as { index: unknown }).index);
        return;
      case 'message_delta':
        this.applyMessageDelta(event as MessageDeltaEvent);
        return;
      case 'message_stop':
        this.stop();
        return;
      default:
        // ping, error (the stream's owner turns it into a typed error) and event types this
        // version does not know carry nothing for the message.
        return;
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
    const copy = { ...block } as ContentBlock;
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
    switch (delta.type) {
      case 'text_delta':
        this.expect(block, 'text', delta.type, index);
        (block as TextBlock).text += this.stringField(delta.text, 'text_delta.text');
        return;
      case 'citations_delta': {
        this.expect(block, 'text', delta.type, index);
        const text = block as TextBlock;
        if (!Array.isArray(text.citations)) text.citations = [];
        text.citations.push(delta.citation);
        return;
      }
      case 'input_json_delta': {
        const parser = this.open.get(index);
        if (!parser) this.fail(`input_json_delta for block ${index}, a ${block.type} block`);
        parser.push(this.stringField(delta.partial_json, 'input_json_delta.partial_json'));
        (block as ToolUseBlock).input = parser.value() ?? {};
        return;
      }
      case 'thinking_delta':
        this.expect(block, 'thinking', delta.type, index);
        (block as ThinkingBlock).thinking += this.stringField(delta.thinking, 'thinking_delta.thinking');
        return;
      case 'signature_delta': {
        this.expect(block, 'thinking', delta.type, index);
        const thinking = block as ThinkingBlock;
        thinking.signature = (thinking.signature ?? '') + this.stringField(delta.signature, 'signature');
        return;
      }
      default:
        // A delta type added after this version: nothing to fold in, and nothing to reject.
        return;
    }
  }

  private stopBlock(index: unknown): void {
    this.streaming('content_block_stop');
    if (typeof index !== 'number' || !this.open.has(index)) {
      this.fail(`content_block_stop for block ${String(index)}, which is not open`);
    }
    const parser = this.open.get(index);
    this.open.delete(index);
    if (!parser) return;
    const block = this.current!.content[index] as ToolUseBlock;
    // A block whose input never streamed keeps the input its start event carried.
    if (parser.text === '') return;
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
    const delta = event.delta ?? {};
    if (delta.stop_reason !== undefined) message.stop_reason = delta.stop_reason;
    if (delta.stop_sequence !== undefined) message.stop_sequence = delta.stop_sequence;
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

  private expect(block: ContentBlock, type: string, deltaType: string, index: number): void {
    if (block.type !== type) this.fail(`${deltaType} for block ${index}, a ${block.type} block`);
  }

  private stringField(value: unknown, name: string): string {
    if (typeof value !== 'string') this.fail(`${name} is not a string`);
    return value;
  }

  private fail(problem: string): never {
    throw new ProtocolError(`Malformed event stream: ${problem}.`, { partialMessage: this.partialMessage() });
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
