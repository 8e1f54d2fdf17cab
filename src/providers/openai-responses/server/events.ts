import type { ContentBlock } from '../../../protocol/content.ts';
import type { ErrorDetail } from '../../../protocol/errors.ts';
import type { StreamEvent } from '../../../protocol/events.ts';
import { emptyUsage, type StopReason, type Usage } from '../../../protocol/message.ts';
import type {
  ResponsesOutputItem,
  ResponsesResponse,
  ResponsesStatus,
  ResponsesStreamEvent,
} from '../wire.ts';
import {
  failureCodeOf,
  finalStatusOf,
  itemId,
  messageItem,
  outputItemOf,
  type ResponsesWireOptions,
  usageToResponses,
} from './output.ts';

// Server side: canonical stream events as the Responses API's semantic events.

/**
 * How the gateway's error for a generation stopped by a cancel begins (see the durable relay's
 * `stoppedError`): a response that failed with it was cancelled, on every replay alike.
 */
export const CANCELLED_MESSAGE = 'The answer was stopped: cancelled.';

type Open =
  | { kind: 'text'; outputIndex: number; id: string; text: string }
  | { kind: 'reasoning'; outputIndex: number; id: string; text: string; signature: string }
  | { kind: 'redacted'; outputIndex: number; item: ResponsesOutputItem }
  | {
      kind: 'call';
      outputIndex: number;
      id: string;
      callId: string;
      name: string;
      args: string;
      input: unknown;
    };

/**
 * Canonical events as Responses events, numbered from 0 by `sequence_number`. A pure function
 * of the events it is given (and its options): the same logged events always give the same
 * numbered events, so a stored response replays exactly and `starting_after=N` names the same
 * event on every replay. Each content block is one output item; blocks this API has no item
 * for (server tools' blocks) are left out. The response object (`response`) is kept as the
 * items complete: it is what `response.completed` carries and a non-streaming call returns.
 */
export class ResponsesEncoder {
  private next = 0;
  private readonly options: ResponsesWireOptions;
  private readonly output: ResponsesOutputItem[] = [];
  private readonly open = new Map<number, Open>();
  private status: ResponsesStatus = 'in_progress';
  private incomplete: ResponsesResponse['incomplete_details'] = null;
  private error: ResponsesResponse['error'] = null;
  private usage: Usage = emptyUsage();
  private stopReason: StopReason | null = null;
  private started = false;
  private ended = false;

  constructor(options: ResponsesWireOptions) {
    this.options = options;
  }

  /** Whether the response ended (completed, incomplete or failed). */
  get isDone(): boolean {
    return this.ended;
  }

  /** The response as it stands: its items so far, its status, and its usage once it ended. */
  get response(): ResponsesResponse {
    const { id, createdAt, model, echo } = this.options;
    return structuredClone({
      id,
      object: 'response' as const,
      created_at: createdAt,
      status: this.status,
      error: this.error,
      incomplete_details: this.incomplete,
      model,
      output: this.output.filter((item) => item !== undefined),
      usage:
        this.status === 'completed' || this.status === 'incomplete' ? usageToResponses(this.usage) : null,
      ...echo,
    });
  }

  /** The Responses events for one canonical event (none for a ping or an unknown event). */
  apply(event: StreamEvent): ResponsesStreamEvent[] {
    if (this.ended) return [];
    const out: ResponsesStreamEvent[] = [];
    switch (event.type) {
      case 'message_start': {
        const message = (event as { message: { usage?: Usage } }).message;
        if (message.usage) this.usage = { ...message.usage };
        this.begin(out);
        break;
      }
      case 'content_block_start': {
        this.begin(out);
        const { index, content_block } = event as { index: number; content_block: ContentBlock };
        this.startBlock(index, content_block, out);
        break;
      }
      case 'content_block_delta': {
        const { index, delta } = event as {
          index: number;
          delta: Record<string, unknown> & { type: string };
        };
        this.addDelta(index, delta, out);
        break;
      }
      case 'content_block_stop':
        this.stopBlock((event as { index: number }).index, out);
        break;
      case 'message_delta': {
        const { delta, usage } = event as {
          delta: { stop_reason?: StopReason | null };
          usage?: Partial<Record<keyof Usage, number | null>>;
        };
        if (delta.stop_reason !== undefined) this.stopReason = delta.stop_reason;
        for (const [key, value] of Object.entries(usage ?? {})) {
          if (typeof value === 'number') (this.usage as Record<string, unknown>)[key] = value;
        }
        break;
      }
      case 'message_stop': {
        this.begin(out);
        const final = finalStatusOf(this.stopReason);
        this.status = final.status;
        this.incomplete = final.incomplete_details;
        this.ended = true;
        const type = this.status === 'completed' ? 'response.completed' : 'response.incomplete';
        this.emit(out, { type, response: this.response });
        break;
      }
      case 'error':
        return this.fail((event as { error: ErrorDetail }).error);
      default:
        break;
    }
    return out;
  }

  /** A failure: the `error` event, then `response.failed` with what was produced before it. */
  fail(error: { type: string; message: string }): ResponsesStreamEvent[] {
    if (this.ended) return [];
    const out: ResponsesStreamEvent[] = [];
    this.begin(out);
    this.ended = true;
    this.status = error.message.startsWith(CANCELLED_MESSAGE) ? 'cancelled' : 'failed';
    if (this.status === 'failed') this.error = { code: failureCodeOf(error.type), message: error.message };
    this.emit(out, { type: 'error', code: error.type, message: error.message, param: null });
    this.emit(out, { type: 'response.failed', response: this.response });
    return out;
  }

  private begin(out: ResponsesStreamEvent[]): void {
    if (this.started) return;
    this.started = true;
    const response = this.response;
    this.emit(out, { type: 'response.created', response });
    this.emit(out, { type: 'response.in_progress', response });
  }

  private emit(out: ResponsesStreamEvent[], event: Omit<ResponsesStreamEvent, 'sequence_number'>): void {
    out.push({ ...event, sequence_number: this.next++ } as ResponsesStreamEvent);
  }

  private startBlock(index: number, block: ContentBlock, out: ResponsesStreamEvent[]): void {
    const outputIndex = this.output.length;
    const id = (kind: 'msg' | 'fc' | 'rs') => itemId(this.options.id, kind, outputIndex);
    const structured =
      block.type === 'tool_use' && (block as { name: string }).name === this.options.structuredTool;
    if (block.type === 'text' || structured) {
      const open: Open = { kind: 'text', outputIndex, id: id('msg'), text: '' };
      this.output.push(messageItem(open.id, '', 'in_progress'));
      this.open.set(index, open);
      this.emit(out, {
        type: 'response.output_item.added',
        output_index: outputIndex,
        item: this.output[outputIndex],
      });
      this.emit(out, {
        type: 'response.content_part.added',
        item_id: open.id,
        output_index: outputIndex,
        content_index: 0,
        part: { type: 'output_text', text: '', annotations: [] },
      });
      const initial = structured ? '' : (block as { text: string }).text;
      if (initial) this.addDelta(index, { type: 'text_delta', text: initial }, out);
      return;
    }
    if (block.type === 'thinking') {
      const thinking = block as { thinking: string; signature: string };
      const open: Open = {
        kind: 'reasoning',
        outputIndex,
        id: id('rs'),
        text: '',
        signature: thinking.signature,
      };
      this.output.push({ id: open.id, type: 'reasoning', summary: [] });
      this.open.set(index, open);
      this.emit(out, {
        type: 'response.output_item.added',
        output_index: outputIndex,
        item: this.output[outputIndex],
      });
      this.emit(out, {
        type: 'response.reasoning_summary_part.added',
        item_id: open.id,
        output_index: outputIndex,
        summary_index: 0,
        part: { type: 'summary_text', text: '' },
      });
      if (thinking.thinking)
        this.addDelta(index, { type: 'thinking_delta', thinking: thinking.thinking }, out);
      return;
    }
    if (block.type === 'tool_use') {
      const use = block as { id: string; name: string; input: unknown };
      const open: Open = {
        kind: 'call',
        outputIndex,
        id: id('fc'),
        callId: use.id,
        name: use.name,
        args: '',
        input: use.input,
      };
      this.output.push({
        id: open.id,
        type: 'function_call',
        call_id: use.id,
        name: use.name,
        arguments: '',
        status: 'in_progress',
      });
      this.open.set(index, open);
      this.emit(out, {
        type: 'response.output_item.added',
        output_index: outputIndex,
        item: this.output[outputIndex],
      });
      return;
    }
    const whole = outputItemOf(block, id, this.options.structuredTool);
    if (!whole) return;
    // A block that arrives whole (redacted thinking): added now, done at its stop.
    this.output.push(whole);
    this.open.set(index, { kind: 'redacted', outputIndex, item: whole });
    this.emit(out, { type: 'response.output_item.added', output_index: outputIndex, item: whole });
  }

  private addDelta(
    index: number,
    delta: Record<string, unknown> & { type: string },
    out: ResponsesStreamEvent[],
  ): void {
    const open = this.open.get(index);
    if (!open) return;
    if (open.kind === 'text') {
      const text = typeof delta.text === 'string' ? delta.text : delta.partial_json;
      if (typeof text !== 'string' || text === '') return;
      open.text += text;
      this.emit(out, {
        type: 'response.output_text.delta',
        item_id: open.id,
        output_index: open.outputIndex,
        content_index: 0,
        delta: text,
        logprobs: [],
      });
    } else if (open.kind === 'reasoning') {
      if (delta.type === 'signature_delta' && typeof delta.signature === 'string') {
        open.signature += delta.signature;
        return;
      }
      if (typeof delta.thinking !== 'string' || delta.thinking === '') return;
      open.text += delta.thinking;
      this.emit(out, {
        type: 'response.reasoning_summary_text.delta',
        item_id: open.id,
        output_index: open.outputIndex,
        summary_index: 0,
        delta: delta.thinking,
      });
    } else if (open.kind === 'call') {
      if (typeof delta.partial_json !== 'string' || delta.partial_json === '') return;
      open.args += delta.partial_json;
      this.emit(out, {
        type: 'response.function_call_arguments.delta',
        item_id: open.id,
        output_index: open.outputIndex,
        delta: delta.partial_json,
      });
    }
  }

  private stopBlock(index: number, out: ResponsesStreamEvent[]): void {
    const open = this.open.get(index);
    if (!open) return;
    this.open.delete(index);
    const base = { output_index: open.outputIndex };
    if (open.kind === 'text') {
      const part = { type: 'output_text', text: open.text, annotations: [] };
      this.emit(out, {
        type: 'response.output_text.done',
        item_id: open.id,
        ...base,
        content_index: 0,
        text: open.text,
        logprobs: [],
      });
      this.emit(out, {
        type: 'response.content_part.done',
        item_id: open.id,
        ...base,
        content_index: 0,
        part,
      });
      this.output[open.outputIndex] = messageItem(open.id, open.text, 'completed');
    } else if (open.kind === 'reasoning') {
      const part = { type: 'summary_text' as const, text: open.text };
      this.emit(out, {
        type: 'response.reasoning_summary_text.done',
        item_id: open.id,
        ...base,
        summary_index: 0,
        text: open.text,
      });
      this.emit(out, {
        type: 'response.reasoning_summary_part.done',
        item_id: open.id,
        ...base,
        summary_index: 0,
        part,
      });
      this.output[open.outputIndex] = {
        id: open.id,
        type: 'reasoning',
        summary: [part],
        encrypted_content: open.signature,
      };
    } else if (open.kind === 'call') {
      // A call streamed with no argument deltas carries its input whole in its start.
      const args = open.args === '' ? JSON.stringify(open.input ?? {}) : open.args;
      this.emit(out, {
        type: 'response.function_call_arguments.done',
        item_id: open.id,
        ...base,
        name: open.name,
        arguments: args,
      });
      this.output[open.outputIndex] = {
        id: open.id,
        type: 'function_call',
        call_id: open.callId,
        name: open.name,
        arguments: args,
        status: 'completed',
      };
    }
    this.emit(out, {
      type: 'response.output_item.done',
      ...base,
      item: structuredClone(this.output[open.outputIndex]),
    });
  }
}

/** One Responses event as SSE: `event: <type>` and its JSON. */
export function encodeResponsesEvent(event: ResponsesStreamEvent): string {
  return `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}

/** The response a complete list of canonical events gives (a stored response's, or a non-streaming call's). */
export function responseFromEvents(
  events: Iterable<StreamEvent>,
  options: ResponsesWireOptions,
): ResponsesResponse {
  const encoder = new ResponsesEncoder(options);
  for (const event of events) encoder.apply(event);
  return encoder.response;
}
