import { figuresOf } from './figures.js';
import { MARKER, renderMarkdown } from './markdown.js';

/**
 * The conversation's elements: one per turn, `data-role="user"` or `data-role="assistant"`.
 * An assistant turn holds its answer (markdown, tool calls folded), then a line of figures.
 */

/**
 * @param {import('./store.js').UserTurn} turn
 * @returns {HTMLElement}
 */
export function userElement(turn) {
  const element = document.createElement('article');
  element.className = 'turn';
  element.dataset.role = 'user';
  element.setAttribute('aria-label', 'You');
  element.textContent = turn.text;
  return element;
}

/**
 * @param {{ onRegenerate: () => void }} actions
 * @returns {HTMLElement}
 */
export function assistantElement(actions) {
  const element = document.createElement('article');
  element.className = 'turn';
  element.dataset.role = 'assistant';
  element.setAttribute('aria-label', 'Assistant');
  const body = document.createElement('div');
  body.className = 'body';
  const meta = document.createElement('div');
  meta.className = 'meta';
  const regenerate = document.createElement('button');
  regenerate.type = 'button';
  regenerate.className = 'regenerate';
  regenerate.textContent = 'Regenerate';
  regenerate.addEventListener('click', actions.onRegenerate);
  element.append(body, meta);
  element.regenerate = regenerate;
  return element;
}

/**
 * Brings an assistant element up to date with its turn.
 *
 * @param {HTMLElement} element
 * @param {import('./store.js').AssistantTurn} turn
 * @param {boolean} isLast whether it may be regenerated
 */
export function updateAssistant(element, turn, isLast) {
  const streaming = turn.state === 'sending' || turn.state === 'streaming';
  element.dataset.state = turn.state;
  element.setAttribute('aria-busy', String(streaming));
  renderBlocks(element.querySelector('.body'), turn);
  const meta = element.querySelector('.meta');
  const parts = [];
  if (turn.route) parts.push(span('route', `Route: ${turn.route}`));
  parts.push(span('model', turn.mode === 'routed' ? '/streaming_chat' : turn.model));
  for (const figure of figuresOf(turn)) parts.push(span(figure.name, figure.text));
  const resumes = (turn.attempts ?? []).filter((attempt) => attempt.kind !== 'initial');
  if (resumes.length > 0) {
    parts.push(
      span(
        'resumes',
        `gateway resumed the upstream ×${resumes.length} (${resumes.map(describe).join(', ')})`,
      ),
    );
  }
  const note = stateNote(turn);
  if (note) parts.push(span(turn.state === 'error' ? 'state state-error' : 'state', note));
  if (isLast && !streaming) parts.push(element.regenerate);
  meta.replaceChildren(...parts);
}

function renderBlocks(body, turn) {
  const answer = turn.answer;
  const markers = [...(turn.markers ?? [])].sort((a, b) => a - b);
  const label = (index) =>
    `The gateway resumed the upstream here (${describe(turn.attempts?.filter((a) => a.kind !== 'initial')[index])})`;
  const children = [];
  let offset = 0;
  for (const block of answer.blocks) {
    if (!block) continue;
    if (block.type === 'text') {
      const text = block.text ?? '';
      const div = document.createElement('div');
      div.className = 'text';
      renderMarkdown(div, withMarkers(text, offset, markers), label);
      offset += text.length;
      children.push(div);
    } else if (block.type === 'tool_use' || block.type === 'server_tool_use') {
      children.push(
        folded(`Tool call: ${block.name}`, JSON.stringify(block.input ?? block.json ?? {}, null, 2)),
      );
    } else if (block.type === 'thinking') {
      children.push(folded('Thinking', block.thinking ?? ''));
    } else if (block.type.endsWith('tool_result')) {
      const content =
        typeof block.content === 'string' ? block.content : JSON.stringify(block.content, null, 2);
      children.push(folded(block.is_error ? 'Tool error' : 'Tool result', content));
    }
  }
  if (children.length === 0 && (turn.state === 'sending' || turn.state === 'streaming')) {
    const waiting = document.createElement('p');
    waiting.className = 'waiting';
    waiting.textContent = '…';
    children.push(waiting);
  }
  body.replaceChildren(...children);
}

/** `text` (which starts at `offset` in the answer) with MARKER at the answer offsets in `markers`. */
function withMarkers(text, offset, markers) {
  let out = '';
  let at = 0;
  for (const marker of markers) {
    const local = marker - offset;
    if (local < at || local > text.length) continue;
    out += text.slice(at, local) + MARKER;
    at = local;
  }
  return out + text.slice(at);
}

function folded(summary, content) {
  const details = document.createElement('details');
  details.className = 'block';
  const title = document.createElement('summary');
  title.textContent = summary;
  const pre = document.createElement('pre');
  const code = document.createElement('code');
  code.textContent = content;
  pre.append(code);
  details.append(title, pre);
  return details;
}

function stateNote(turn) {
  if (turn.note) return turn.note;
  switch (turn.state) {
    case 'stopped':
      return 'Stopped';
    case 'error':
      return turn.error ?? turn.answer.error ?? 'Failed';
    case 'done':
      return turn.answer.error ? turn.answer.error : undefined;
    default:
      return undefined;
  }
}

function describe(attempt) {
  if (!attempt) return 'resume';
  return attempt.reason ? `${attempt.kind} after ${attempt.reason}` : attempt.kind;
}

function span(name, text) {
  const element = document.createElement('span');
  element.dataset.figure = name;
  element.className = name;
  element.textContent = text;
  return element;
}
