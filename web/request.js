import { addUsage, answerText } from './answer.js';
import { PAGE_TOOLS, runTool } from './tools.js';

/**
 * What the page asks the model: the Messages request for an answer, and the next one after
 * the page has run the tools the model called.
 */

/**
 * The Messages request for `current`: the conversation before it (earlier answers by their
 * text), then `current`'s own model calls so far (tool calls and their results), and the
 * page's tools if it may use them.
 */
export function messagesRequest(conversation, current) {
  const messages = [];
  for (const turn of conversation.turns) {
    if (turn === current) break;
    if (turn.role === 'user') messages.push({ role: 'user', content: turn.text });
    else if (turn.mode === 'messages') {
      const text = answerText(turn.answer).trimEnd();
      if (text) messages.push({ role: 'assistant', content: text });
    }
  }
  for (const block of current.answer.blocks) {
    const content = apiBlock(block);
    if (!content) continue;
    const role = block.type === 'tool_result' ? 'user' : 'assistant';
    if (messages.at(-1)?.role === role && Array.isArray(messages.at(-1).content))
      messages.at(-1).content.push(content);
    else messages.push({ role, content: [content] });
  }
  const request = { model: current.model, max_tokens: conversation.maxTokens || 1024, messages };
  if (conversation.system.trim()) request.system = conversation.system;
  if (current.tools) request.tools = PAGE_TOOLS;
  return request;
}

/** A block of the answer as the Messages API takes it back; undefined for what it does not. */
function apiBlock(block) {
  switch (block?.type) {
    case 'text':
      return block.text ? { type: 'text', text: block.text } : undefined;
    case 'tool_use':
      return { type: 'tool_use', id: block.id, name: block.name, input: block.input ?? {} };
    case 'tool_result':
      return {
        type: 'tool_result',
        tool_use_id: block.tool_use_id,
        content: block.content,
        is_error: block.is_error,
      };
    default:
      return undefined;
  }
}

/** The tool calls the last model call ended with, when the page is to answer them. */
export function pendingToolCalls(turn) {
  if (!turn.tools || turn.answer.stopReason !== 'tool_use' || turn.answer.error) return [];
  return turn.answer.blocks.slice(turn.base ?? 0).filter((block) => block?.type === 'tool_use');
}

/**
 * Runs the tools called, adds their results to the answer, readies the answer for the next
 * model call (its blocks after these, its usage so far set aside), and returns that call's request.
 */
export function answerToolCalls(conversation, turn, calls) {
  for (const call of calls) {
    const result = runTool(call.name, call.input);
    turn.answer.blocks.push({ type: 'tool_result', tool_use_id: call.id, ...result });
  }
  const request = messagesRequest(conversation, turn);
  turn.usageDone = addUsage(turn.usageDone, turn.answer.usage);
  turn.answer.usage = {};
  turn.answer.done = false;
  turn.answer.stopReason = undefined;
  turn.base = turn.answer.blocks.length;
  turn.position = 0;
  turn.stream = undefined;
  turn.state = 'sending';
  return request;
}
