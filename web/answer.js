/**
 * An assistant answer assembled from Messages API stream events, as plain data the page can
 * keep in local storage: content blocks, usage, stop reason, error.
 *
 * @typedef {{ type: string, text?: string, name?: string, input?: unknown, json?: string, thinking?: string }} Block
 * @typedef {{ blocks: Block[], usage: Record<string, number>, stopReason?: string, error?: string, done: boolean }} Answer
 */

/** @returns {Answer} */
export function emptyAnswer() {
  return { blocks: [], usage: {}, done: false };
}

/**
 * Applies one stream event to `answer` (in place). Unknown events are ignored, as the API
 * asks of its clients.
 *
 * @param {Answer} answer
 * @param {string} type
 * @param {any} data
 * @param {number} base where this message's blocks start in the answer (after a tool call's
 *   result, the next message's blocks follow the earlier ones)
 */
export function applyEvent(answer, type, data, base = 0) {
  switch (type) {
    case 'message_start':
      Object.assign(answer.usage, numbers(data.message?.usage));
      break;
    case 'content_block_start': {
      const block = { ...data.content_block };
      if (block.type === 'tool_use' || block.type === 'server_tool_use') block.json = '';
      answer.blocks[base + data.index] = block;
      break;
    }
    case 'content_block_delta': {
      const block = answer.blocks[base + data.index];
      const delta = data.delta ?? {};
      if (!block) break;
      if (delta.type === 'text_delta') block.text = (block.text ?? '') + delta.text;
      else if (delta.type === 'input_json_delta') block.json = (block.json ?? '') + delta.partial_json;
      else if (delta.type === 'thinking_delta') block.thinking = (block.thinking ?? '') + delta.thinking;
      break;
    }
    case 'content_block_stop': {
      const block = answer.blocks[base + data.index];
      if (block?.json !== undefined) {
        try {
          block.input = block.json === '' ? {} : JSON.parse(block.json);
        } catch {
          block.input = block.json;
        }
      }
      break;
    }
    case 'message_delta':
      if (data.delta?.stop_reason) answer.stopReason = data.delta.stop_reason;
      Object.assign(answer.usage, numbers(data.usage));
      break;
    case 'message_stop':
      answer.done = true;
      break;
    case 'error':
      answer.error = `${data.error?.type ?? 'error'}: ${data.error?.message ?? 'the stream failed'}`;
      answer.done = true;
      break;
  }
}

/** The answer's text: its text blocks, concatenated. */
export function answerText(answer) {
  return answer.blocks
    .filter((block) => block?.type === 'text')
    .map((block) => block.text ?? '')
    .join('');
}

function numbers(usage) {
  const out = {};
  for (const [key, value] of Object.entries(usage ?? {})) if (typeof value === 'number') out[key] = value;
  return out;
}

/** Usage summed: `a` plus `b`, field by field. */
export function addUsage(a = {}, b = {}) {
  const sum = { ...a };
  for (const [key, value] of Object.entries(b)) sum[key] = (sum[key] ?? 0) + value;
  return sum;
}
