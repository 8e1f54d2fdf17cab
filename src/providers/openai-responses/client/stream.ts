import type { ContentBlock } from '../../../protocol/content.ts';
import { errorFromDetail, ProtocolError } from '../../../protocol/errors.ts';
import type { StreamEvent } from '../../../protocol/events.ts';
import type { StopReason, Usage } from '../../../protocol/message.ts';
import { errorDetailFromOpenAI } from '../../openai/client/errors.ts';
import { REDACTED_PREFIX } from '../server/output.ts';

// Client side (Sluice calling an upstream that speaks the Responses API): its semantic events
// as canonical stream events.

export interface ResponsesStreamOptions {
  /** The model to report when the events do not name one. */
  model: string;
}

type Json = Record<string, unknown>;

interface OpenItem {
  index: number;
  kind: 'text' | 'thinking' | 'redacted' | 'call';
  /** Whether any delta arrived (otherwise the done item's content is sent whole). */
  streamed: boolean;
  /** Summary parts seen, to separate the next one. */
  parts: number;
}

/**
 * Responses events as canonical events: one content block per output item (a message's text,
 * a function call, a reasoning item's summary as thinking with its `encrypted_content` as
 * the signature), opened by `output_item.added` and closed by `output_item.done`. The message
 * ends with `response.completed` or `response.incomplete`; `response.failed` and `error`
 * throw the typed error. A source that ends before either leaves the events without
 * message_stop, so the cut is visible downstream.
 */
export class ResponsesStreamTranslator {
  private readonly options: ResponsesStreamOptions;
  private readonly items = new Map<string, OpenItem>();
  private nextIndex = 0;
  private started = false;
  private done = false;

  constructor(options: ResponsesStreamOptions) {
    this.options = options;
  }

  get isDone(): boolean {
    return this.done;
  }

  /** The canonical events for one Responses event. */
  push(event: Json): StreamEvent[] {
    if (this.done) return [];
    if ('error' in event && event.type !== 'response.failed') {
      throw errorFromDetail(errorDetailFromOpenAI(event.error));
    }
    const out: StreamEvent[] = [];
    switch (event.type) {
      case 'response.created':
      case 'response.in_progress':
        this.start(out, event.response as Json | undefined);
        break;
      case 'response.output_item.added':
        this.start(out, undefined);
        this.openItem(out, event.item as Json);
        break;
      case 'response.output_text.delta':
      case 'response.refusal.delta':
        this.delta(out, event.item_id, { type: 'text_delta', text: event.delta });
        break;
      case 'response.reasoning_summary_part.added': {
        const item = this.items.get(String(event.item_id));
        if (item && item.parts++ > 0)
          this.delta(out, event.item_id, { type: 'thinking_delta', thinking: '\n\n' });
        break;
      }
      case 'response.reasoning_summary_text.delta':
        this.delta(out, event.item_id, { type: 'thinking_delta', thinking: event.delta });
        break;
      case 'response.function_call_arguments.delta':
        this.delta(out, event.item_id, { type: 'input_json_delta', partial_json: event.delta });
        break;
      case 'response.output_item.done':
        this.closeItem(out, event.item as Json);
        break;
      case 'response.completed':
      case 'response.incomplete':
        this.start(out, event.response as Json);
        this.finish(out, event.response as Json);
        break;
      case 'response.failed': {
        const error = (event.response as Json | undefined)?.error as Json | undefined;
        throw errorFromDetail(errorDetailFromOpenAI({ message: error?.message, code: error?.code }));
      }
      default:
        // Other events (content_part.*, *.done text events, built-in tools') add nothing the deltas did not.
        break;
    }
    return out;
  }

  private start(out: StreamEvent[], response: Json | undefined): void {
    if (this.started) return;
    this.started = true;
    const id = typeof response?.id === 'string' ? response.id : `resp_${Date.now()}`;
    out.push({
      type: 'message_start',
      message: {
        id: `msg_${id}`,
        type: 'message',
        role: 'assistant',
        model: typeof response?.model === 'string' ? response.model : this.options.model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: 0, output_tokens: 0 },
      },
    });
  }

  private openItem(out: StreamEvent[], item: Json): void {
    const id = String(item.id);
    let block: ContentBlock;
    let kind: OpenItem['kind'];
    if (item.type === 'message') {
      kind = 'text';
      block = { type: 'text', text: '' };
    } else if (item.type === 'function_call') {
      kind = 'call';
      block = { type: 'tool_use', id: String(item.call_id), name: String(item.name), input: {} };
    } else if (item.type === 'reasoning') {
      const sealed = typeof item.encrypted_content === 'string' ? item.encrypted_content : '';
      if (sealed.startsWith(REDACTED_PREFIX)) {
        kind = 'redacted';
        block = { type: 'redacted_thinking', data: sealed.slice(REDACTED_PREFIX.length) };
      } else {
        kind = 'thinking';
        block = { type: 'thinking', thinking: '', signature: '' };
      }
    } else {
      // A built-in tool's item: nothing a Messages client could use.
      return;
    }
    const index = this.nextIndex++;
    this.items.set(id, { index, kind, streamed: false, parts: 0 });
    out.push({ type: 'content_block_start', index, content_block: block });
  }

  private delta(out: StreamEvent[], itemId: unknown, delta: Json & { type: string }): void {
    const item = this.items.get(String(itemId));
    if (!item || item.kind === 'redacted') return;
    const text = delta.text ?? delta.thinking ?? delta.partial_json;
    if (typeof text !== 'string' || text === '') return;
    item.streamed = true;
    out.push({ type: 'content_block_delta', index: item.index, delta } as StreamEvent);
  }

  private closeItem(out: StreamEvent[], item: Json): void {
    const open = this.items.get(String(item.id));
    if (!open) return;
    this.items.delete(String(item.id));
    if (!open.streamed) this.sendWhole(out, open, item);
    if (
      open.kind === 'thinking' &&
      typeof item.encrypted_content === 'string' &&
      item.encrypted_content !== ''
    ) {
      out.push({
        type: 'content_block_delta',
        index: open.index,
        delta: { type: 'signature_delta', signature: item.encrypted_content },
      });
    }
    out.push({ type: 'content_block_stop', index: open.index });
  }

  /** An item whose content came only in its done event (no deltas). */
  private sendWhole(out: StreamEvent[], open: OpenItem, item: Json): void {
    let delta: Json | undefined;
    if (open.kind === 'text') {
      const parts = Array.isArray(item.content) ? (item.content as Json[]) : [];
      const text = parts.map((part) => String(part.text ?? part.refusal ?? '')).join('');
      if (text) delta = { type: 'text_delta', text };
    } else if (open.kind === 'call' && typeof item.arguments === 'string' && item.arguments !== '') {
      delta = { type: 'input_json_delta', partial_json: item.arguments };
    } else if (open.kind === 'thinking') {
      const summary = Array.isArray(item.summary) ? (item.summary as Json[]) : [];
      const thinking = summary.map((part) => String(part.text ?? '')).join('\n\n');
      if (thinking) delta = { type: 'thinking_delta', thinking };
    }
    if (delta) out.push({ type: 'content_block_delta', index: open.index, delta } as StreamEvent);
  }

  private finish(out: StreamEvent[], response: Json): void {
    if (this.items.size > 0) {
      throw new ProtocolError('The upstream ended the response with output items still open.');
    }
    this.done = true;
    const usage = (response.usage ?? {}) as Json;
    const cached = Number((usage.input_tokens_details as Json | undefined)?.cached_tokens ?? 0);
    const deltaUsage: Partial<Usage> = {
      input_tokens: Math.max(0, Number(usage.input_tokens ?? 0) - cached),
      output_tokens: Number(usage.output_tokens ?? 0),
      cache_read_input_tokens: cached,
    };
    out.push({
      type: 'message_delta',
      delta: { stop_reason: stopReasonOf(response), stop_sequence: null },
      usage: deltaUsage,
    });
    out.push({ type: 'message_stop' });
  }
}

function stopReasonOf(response: Json): StopReason {
  const reason = (response.incomplete_details as Json | null | undefined)?.reason;
  if (response.status === 'incomplete') return reason === 'content_filter' ? 'refusal' : 'max_tokens';
  const output = Array.isArray(response.output) ? (response.output as Json[]) : [];
  return output.some((item) => item.type === 'function_call') ? 'tool_use' : 'end_turn';
}

/** Responses events (decoded SSE data objects) as canonical events. */
export async function* responsesStreamToEvents(
  events: AsyncIterable<Json>,
  options: ResponsesStreamOptions,
): AsyncGenerator<StreamEvent> {
  const translator = new ResponsesStreamTranslator(options);
  for await (const event of events) {
    yield* translator.push(event);
    if (translator.isDone) return;
  }
}
