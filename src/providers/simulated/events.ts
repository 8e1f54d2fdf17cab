import type { ContentBlock } from '../../protocol/content.ts';
import type { ContentDelta, StreamEvent } from '../../protocol/events.ts';
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
      delta: {
        stop_reason: answer.stopReason,
        stop_sequence: answer.stopSequence,
        ...(answer.stopDetails ? { stop_details: answer.stopDetails } : {}),
      },
      usage: {
        output_tokens: answer.outputTokens,
        ...(answer.serverToolUse ? { server_tool_use: answer.serverToolUse } : {}),
      },
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
    ...(answer.stopDetails ? { stop_details: answer.stopDetails } : {}),
    usage: {
      ...usageOf(answer, answer.outputTokens),
      ...(answer.serverToolUse ? { server_tool_use: answer.serverToolUse } : {}),
    },
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
  switch (block.type) {
    case 'text':
      return block.citations ? { type: 'text', text: '', citations: [] } : { type: 'text', text: '' };
    case 'thinking':
      return { type: 'thinking', thinking: '', signature: '' };
    case 'whole':
      return block.block;
    default:
      return { type: block.type, id: block.id, name: block.name, input: {} };
  }
}

function finalBlock(block: SimulatedBlock): ContentBlock {
  switch (block.type) {
    case 'text':
      return block.citations
        ? { type: 'text', text: block.text, citations: block.citations }
        : { type: 'text', text: block.text };
    case 'thinking':
      return { type: 'thinking', thinking: block.thinking, signature: block.signature };
    case 'whole':
      return block.block;
    default:
      return { type: block.type, id: block.id, name: block.name, input: block.input };
  }
}

function blockDeltas(block: SimulatedBlock, options: AnswerEventOptions): ContentDelta[] {
  if (block.type === 'whole') return [];
  if (block.type === 'thinking') {
    // The thinking a few tokens at a time, then its signature whole, as the API streams them.
    return [
      ...groups(tokenize(block.thinking), 4).map(
        (thinking): ContentDelta => ({ type: 'thinking_delta', thinking }),
      ),
      { type: 'signature_delta', signature: block.signature },
    ];
  }
  if (block.type === 'text') {
    const citations = (block.citations ?? []).map(
      (citation): ContentDelta => ({ type: 'citations_delta', citation }),
    );
    const texts = groups(block.tokens ?? tokenize(block.text), options.deltaTokens ?? 1).map(
      (text): ContentDelta => ({ type: 'text_delta', text }),
    );
    return [...citations, ...texts];
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
