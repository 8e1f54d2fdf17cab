import { isBlock } from '../../../protocol/content.ts';
import { errorFromEvent, IncompleteStreamError } from '../../../protocol/errors.ts';
import {
  type ContentBlockStartEvent,
  type ContentDelta,
  isDelta,
  isKnownEvent,
  type StreamEvent,
  unreachable,
} from '../../../protocol/events.ts';
import type { StopReason, Usage } from '../../../protocol/message.ts';
import type { OpenAIChatChunk, OpenAIChunkDelta, OpenAIErrorBody } from '../wire.ts';
import { finishReasonFromStopReason, usageToOpenAI } from './response.ts';

// Server side (the gateway and the simulator speaking OpenAI to their callers): canonical stream
// events as Chat Completions chunks, and their SSE encoding.

export interface OpenAIChunkOptions {
  id: string;
  /** The model name the client asked for, reported back on every chunk. */
  model: string;
  /** Unix seconds. */
  created: number;
  /** Send the final usage chunk, and `usage: null` on the others, as OpenAI does. */
  includeUsage: boolean;
}

/**
 * Canonical events as Chat Completions chunks. Thinking blocks (no OpenAI field) and server
 * tool blocks (run by Anthropic, nothing for the client to do) are skipped. An `error` event
 * is thrown as its typed error, and a stream ending without message_stop throws
 * `IncompleteStreamError`: the caller decides how to tell its client, and must not send
 * `[DONE]` for a cut answer.
 */
export async function* eventsToOpenAIChunks(
  events: AsyncIterable<StreamEvent>,
  options: OpenAIChunkOptions,
): AsyncGenerator<OpenAIChatChunk> {
  const writer = new ChunkWriter(options);
  for await (const event of events) {
    yield* writer.apply(event);
    if (writer.isDone) return;
  }
  throw new IncompleteStreamError('The upstream stream ended before message_stop; the answer is incomplete.');
}

type BlockState =
  | { kind: 'text' }
  | { kind: 'thinking' }
  | { kind: 'tool'; callIndex: number; input: unknown; sentArguments: boolean };

/** Canonical events as chunks one event at a time (what eventsToOpenAIChunks runs; a resume re-encodes with it). */
export class ChunkWriter {
  private readonly options: OpenAIChunkOptions;
  private started = false;
  private done = false;
  private toolCalls = 0;
  private readonly blocks = new Map<number, BlockState>();
  private readonly usage: Usage = { input_tokens: 0, output_tokens: 0 };
  private stopReason: StopReason | null = null;
  /** A text chunk's JSON before and after its text's literal (every text chunk of a stream is alike). */
  private textAround: [string, string] | undefined;

  constructor(options: OpenAIChunkOptions) {
    this.options = options;
  }

  get isDone(): boolean {
    return this.done;
  }

  apply(event: StreamEvent): OpenAIChatChunk[] {
    // Chat Completions has no place for an event type this version does not know.
    if (!isKnownEvent(event)) return [];
    switch (event.type) {
      case 'message_start': {
        // `?.`: the decoder checks only an event's type, and a message_start may lack its message.
        Object.assign(this.usage, definedCounts(event.message?.usage));
        return this.start();
      }
      case 'content_block_start':
        return [...this.start(), ...this.startBlock(event)];
      case 'content_block_delta':
        return [...this.start(), ...this.delta(event.index, event.delta)];
      case 'content_block_stop':
        return [...this.start(), ...this.stopBlock(event.index)];
      case 'message_delta': {
        const stopReason = event.delta?.stop_reason;
        if (stopReason !== undefined) this.stopReason = stopReason;
        Object.assign(this.usage, definedCounts(event.usage));
        return [];
      }
      case 'message_stop':
        return [...this.start(), ...this.finish()];
      case 'error':
        throw errorFromEvent(event);
      case 'ping':
        return [];
      default:
        return unreachable(event);
    }
  }

  /**
   * The SSE data line of a text delta into block `index` whose text is the JSON string literal
   * `literal`, quotes included, taken as it came (a relay that passes events through does not
   * decode it): byte for byte what `apply` and `encodeOpenAIChunk` make of the decoded event.
   * Undefined where `apply` would do more or other (before the first chunk, an empty text, a
   * block that is not text) or where the literal has an escape, which JSON.stringify might
   * write differently: the caller decodes the event and applies it then.
   */
  encodeTextLiteral(index: number, literal: string): string | undefined {
    if (
      !this.started ||
      literal.length < 3 ||
      literal.includes('\\') ||
      this.blocks.get(index)?.kind !== 'text'
    ) {
      return undefined;
    }
    this.textAround ??= aroundText(JSON.stringify(this.chunk({ content: TEXT_MARK })));
    return `data: ${this.textAround[0]}${literal}${this.textAround[1]}\n\n`;
  }

  private start(): OpenAIChatChunk[] {
    if (this.started) return [];
    this.started = true;
    return [this.chunk({ role: 'assistant', content: '' })];
  }

  private startBlock(event: ContentBlockStartEvent): OpenAIChatChunk[] {
    const block = event.content_block;
    if (isBlock(block, 'text')) {
      this.blocks.set(event.index, { kind: 'text' });
      return block.text ? [this.chunk({ content: block.text })] : [];
    }
    // Thinking as the reasoning_content vLLM, DeepSeek and llama.cpp stream; its signature has no place there.
    if (isBlock(block, 'thinking')) {
      this.blocks.set(event.index, { kind: 'thinking' });
      return block.thinking ? [this.chunk({ reasoning_content: block.thinking })] : [];
    }
    if (!isBlock(block, 'tool_use')) return [];
    const use = block;
    const callIndex = this.toolCalls;
    this.toolCalls += 1;
    this.blocks.set(event.index, { kind: 'tool', callIndex, input: use.input, sentArguments: false });
    return [
      this.chunk({
        tool_calls: [
          { index: callIndex, id: use.id, type: 'function', function: { name: use.name, arguments: '' } },
        ],
      }),
    ];
  }

  private delta(index: number, delta: ContentDelta): OpenAIChatChunk[] {
    const block = this.blocks.get(index);
    if (block?.kind === 'text' && isDelta(delta, 'text_delta') && delta.text !== '') {
      return [this.chunk({ content: delta.text })];
    }
    if (block?.kind === 'thinking' && isDelta(delta, 'thinking_delta') && delta.thinking !== '') {
      return [this.chunk({ reasoning_content: delta.thinking })];
    }
    if (block?.kind === 'tool' && isDelta(delta, 'input_json_delta') && delta.partial_json !== '') {
      block.sentArguments = true;
      return [this.arguments(block.callIndex, delta.partial_json)];
    }
    return [];
  }

  /** A call whose input never streamed (replayed history, an empty input) still gets its JSON. */
  private stopBlock(index: number): OpenAIChatChunk[] {
    const block = this.blocks.get(index);
    this.blocks.delete(index);
    if (block?.kind !== 'tool' || block.sentArguments) return [];
    return [this.arguments(block.callIndex, JSON.stringify(block.input ?? {}))];
  }

  private arguments(callIndex: number, fragment: string): OpenAIChatChunk {
    return this.chunk({ tool_calls: [{ index: callIndex, function: { arguments: fragment } }] });
  }

  private finish(): OpenAIChatChunk[] {
    this.done = true;
    const chunks = [this.chunk({}, finishReasonFromStopReason(this.stopReason))];
    if (this.options.includeUsage)
      chunks.push({ ...this.base(), choices: [], usage: usageToOpenAI(this.usage) });
    return chunks;
  }

  private base(): { id: string; object: 'chat.completion.chunk'; created: number; model: string } {
    const { id, created, model } = this.options;
    return { id, object: 'chat.completion.chunk', created, model };
  }

  private chunk(delta: OpenAIChunkDelta, finishReason: string | null = null): OpenAIChatChunk {
    const chunk: OpenAIChatChunk = {
      ...this.base(),
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
    };
    if (this.options.includeUsage) chunk.usage = null;
    return chunk;
  }
}

// A text no answer holds, to find where a chunk's text goes in its JSON.
const TEXT_MARK = '\u0000sluice-text\u0000';

function aroundText(json: string): [string, string] {
  const mark = JSON.stringify(TEXT_MARK);
  const at = json.indexOf(mark);
  return [json.slice(0, at), json.slice(at + mark.length)];
}

/** The numeric counts of a usage object; nulls and absent fields leave the previous count. */
function definedCounts(usage: object | undefined): Partial<Usage> {
  const counts: Partial<Usage> = {};
  for (const [field, value] of Object.entries(usage ?? {}))
    if (typeof value === 'number') counts[field] = value;
  return counts;
}

export const OPENAI_STREAM_DONE = 'data: [DONE]\n\n';

export function encodeOpenAIChunk(chunk: OpenAIChatChunk | OpenAIErrorBody): string {
  return `data: ${JSON.stringify(chunk)}\n\n`;
}
