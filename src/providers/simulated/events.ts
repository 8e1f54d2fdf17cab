import type { ContentBlock } from '../../protocol/content.ts';
import type { StreamEvent } from '../../protocol/events.ts';
import type { Message, Usage } from '../../protocol/message.ts';
import type { SimulatedAnswer, SimulatedBlock } from './answer.ts';
import { simulatedId, stableStringify } from './ids.ts';
import { tokenize } from './tokens.ts';

/** Turns a simulated answer into the exact event sequence of the Messages API. Pure. */

export interface AnswerEventOptions {
  model: string;
  /** Defaults to the answer's own id, else one derived from the answer. */
  messageId?: string;
  /** Tokens per text_delta; default 1, like the real API. */
  deltaTokens?: number;
  /** UTF-16 units per input_json_delta; default 8. */
  jsonFragmentSize?: number;
}

export function answerEvents(answer: SimulatedAnswer, options: AnswerEventOptions): StreamEvent[] {
  const events: StreamEvent[] = [
    {
      type: 'message_start',
      message: {
        ...messageShell(answer, options),
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: usageOf(answer, 1),
      },
    },
  ];
  answer.blocks.forEach((block, index) => {
    events.push({ type: 'content_block_start', index, content_block: startingBlock(block) });
    // One ping early in the stream, where the real API sends it.
    if (index === 0) events.push({ type: 'ping' });
    for (const delta of blockDeltas(block, options))
      events.push({ type: 'content_block_delta', index, delta });
    events.push({ type: 'content_block_stop', index });
  });
  if (answer.blocks.length === 0) events.push({ type: 'ping' });
  events.push(
    {
      type: 'message_delta',
      delta: { stop_reason: answer.stopReason, stop_sequence: answer.stopSequence },
      usage: { output_tokens: answer.outputTokens },
    },
    { type: 'message_stop' },
  );
  return events;
}

/** The non-streaming response: exactly what assembling `answerEvents` gives. */
export function answerMessage(answer: SimulatedAnswer, options: AnswerEventOptions): Message {
  return {
    ...messageShell(answer, options),
    content: answer.blocks.map(finalBlock),
    stop_reason: answer.stopReason,
    stop_sequence: answer.stopSequence,
    usage: usageOf(answer, answer.outputTokens),
  };
}

function messageShell(answer: SimulatedAnswer, options: AnswerEventOptions) {
  const id = options.messageId ?? answer.messageId ?? simulatedId('msg_sim_', stableStringify(answer));
  return { id, type: 'message' as const, role: 'assistant' as const, model: options.model };
}

function usageOf(answer: SimulatedAnswer, outputTokens: number): Usage {
  return {
    input_tokens: answer.inputTokens,
    output_tokens: outputTokens,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
  };
}

function startingBlock(block: SimulatedBlock): ContentBlock {
  if (block.type === 'text') return { type: 'text', text: '' };
  return { type: 'tool_use', id: block.id, name: block.name, input: {} };
}

function finalBlock(block: SimulatedBlock): ContentBlock {
  if (block.type === 'text') return { type: 'text', text: block.text };
  return { type: 'tool_use', id: block.id, name: block.name, input: block.input };
}

function blockDeltas(
  block: SimulatedBlock,
  options: AnswerEventOptions,
): ({ type: 'text_delta'; text: string } | { type: 'input_json_delta'; partial_json: string })[] {
  if (block.type === 'text') {
    return groups(block.tokens ?? tokenize(block.text), options.deltaTokens ?? 1).map((text) => ({
      type: 'text_delta',
      text,
    }));
  }
  return jsonFragments(JSON.stringify(block.input), options.jsonFragmentSize ?? 8).map((partial_json) => ({
    type: 'input_json_delta',
    partial_json,
  }));
}

function groups(tokens: string[], size: number): string[] {
  const step = Math.max(1, Math.floor(size));
  const result: string[] = [];
  for (let i = 0; i < tokens.length; i += step) result.push(tokens.slice(i, i + step).join(''));
  return result;
}

/** `json` cut every `size` units, moving a cut that would split a surrogate pair one unit on. */
export function jsonFragments(json: string, size: number): string[] {
  const step = Math.max(1, Math.floor(size));
  const fragments: string[] = [];
  let start = 0;
  while (start < json.length) {
    let end = Math.min(json.length, start + step);
    const last = json.charCodeAt(end - 1);
    if (last >= 0xd800 && last <= 0xdbff && end < json.length) end++;
    fragments.push(json.slice(start, end));
    start = end;
  }
  return fragments;
}
