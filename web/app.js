import { addUsage, answerText, applyEvent, emptyAnswer } from './answer.js';
import { Gateway, GatewayError } from './api.js';
import { readSse } from './sse.js';
import {
  keyRequired,
  loadConversation,
  loadKey,
  rememberKeyRequired,
  saveConversation,
  saveKey,
} from './store.js';
import { PAGE_TOOLS, runTool } from './tools.js';
import { assistantElement, updateAssistant, userElement } from './view.js';

/** The model picker's entry for `/streaming_chat`, whose router picks the route and model. */
const ROUTED = '/streaming_chat';
/** Waits between reconnection attempts while the gateway cannot be reached. */
const RETRY_DELAYS_MS = [250, 500, 1000, 2000, 4000];

const $ = (id) => document.getElementById(id);
const ui = {
  model: $('model'),
  system: $('system'),
  maxTokens: $('max-tokens'),
  tools: $('tools'),
  settings: $('settings'),
  settingsToggle: $('settings-toggle'),
  newChat: $('new-chat'),
  keyPanel: $('key-panel'),
  keyForm: $('key-form'),
  key: $('api-key'),
  keyMessage: $('key-message'),
  conversation: $('conversation'),
  empty: $('empty'),
  composer: $('composer'),
  message: $('message'),
  send: $('send'),
  stop: $('stop'),
  status: $('status'),
};

let key = loadKey();
const gateway = new Gateway(() => key);
const conversation = loadConversation();
/** @type {Map<string, { id: string, pricing: Record<string, number> | null }>} */
const models = new Map();
/** The answer being generated: its turn and the controller that stops reading it. */
let active;
const elements = new Map();
/** When each part of an answer arrived (in this page's life only): to place resume markers. */
const arrivals = new Map();

// --- Rendering -------------------------------------------------------------------------

function renderAll() {
  ui.conversation.replaceChildren();
  elements.clear();
  if (conversation.turns.length === 0) ui.conversation.append(ui.empty);
  for (const turn of conversation.turns) ui.conversation.append(elementOf(turn));
  for (const turn of conversation.turns) if (turn.role === 'assistant') refresh(turn);
}

function elementOf(turn) {
  let element = elements.get(turn);
  if (element) return element;
  element = turn.role === 'user' ? userElement(turn) : assistantElement({ onRegenerate: regenerate });
  elements.set(turn, element);
  return element;
}

function refresh(turn) {
  const element = elements.get(turn);
  if (element) updateAssistant(element, turn, turn === conversation.turns.at(-1));
}

let frame;
/** Redraws the answer in flight at most once a frame, however fast its events come. */
function scheduleRefresh(turn) {
  if (frame !== undefined) return;
  frame = requestAnimationFrame(() => {
    frame = undefined;
    refresh(turn);
  });
}

function setBusy(busy) {
  ui.send.disabled = busy;
  ui.stop.disabled = !busy;
}

function announce(text) {
  ui.status.textContent = text;
}

// --- Models and key --------------------------------------------------------------------

async function loadModels() {
  if (!key && keyRequired()) {
    askForKey('This gateway requires an API key (401): enter one to chat.');
    return;
  }
  try {
    const list = await gateway.models();
    models.clear();
    for (const entry of list) models.set(entry.id, { id: entry.id, pricing: entry.pricing ?? null });
    ui.keyPanel.hidden = !key;
    ui.keyMessage.textContent = '';
  } catch (error) {
    if (error instanceof GatewayError && error.status === 401) {
      rememberKeyRequired();
      askForKey(
        key
          ? `The gateway refused this API key (401): ${error.message}`
          : 'This gateway requires an API key (401): enter one to chat.',
      );
      return;
    }
    announce(`Models could not be listed: ${error.message}`);
    return;
  }
  const options = [...models.keys()].map((id) => new Option(id, id));
  options.push(new Option('Routed (/streaming_chat)', ROUTED));
  ui.model.replaceChildren(...options);
  const wanted = conversation.model;
  ui.model.value = wanted && (models.has(wanted) || wanted === ROUTED) ? wanted : (options[0]?.value ?? '');
}

function askForKey(message) {
  ui.keyPanel.hidden = false;
  ui.keyMessage.textContent = message;
  ui.key.focus();
}

// --- Sending, streaming, resuming -------------------------------------------------------

function send(text) {
  if (active || !text.trim()) return;
  conversation.turns.push({ role: 'user', text });
  ui.empty.remove();
  ui.conversation.append(elementOf(conversation.turns.at(-1)));
  ask();
}

function regenerate() {
  if (active) return;
  const last = conversation.turns.at(-1);
  if (last?.role !== 'assistant') return;
  conversation.turns.pop();
  elements.get(last)?.remove();
  ask();
}

/** Starts an answer to the conversation so far. */
function ask() {
  const model = ui.model.value;
  const routed = model === ROUTED;
  const previous = conversation.turns.at(-1);
  /** @type {import('./store.js').AssistantTurn} */
  const turn = {
    role: 'assistant',
    answer: emptyAnswer(),
    model,
    mode: routed ? 'routed' : 'messages',
    tools: !routed && conversation.tools === true,
    state: 'sending',
    base: 0,
    position: 0,
    pricing: models.get(model)?.pricing ?? null,
    sentAt: Date.now(),
  };
  const request = routed ? previous.text : messagesRequest(turn);
  conversation.turns.push(turn);
  saveConversation(conversation);
  ui.conversation.append(elementOf(turn));
  refresh(turn);
  for (const element of elements.values()) element.querySelector('.regenerate')?.remove();
  run(turn, (signal) =>
    routed ? gateway.startRouted(request, signal) : gateway.startMessages(request, signal),
  );
}

/**
 * The Messages request for `current`: the conversation before it (earlier answers by their
 * text), then `current`'s own model calls so far (tool calls and their results), and the
 * page's tools if it may use them.
 */
function messagesRequest(current) {
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
function pendingToolCalls(turn) {
  if (!turn.tools || turn.answer.stopReason !== 'tool_use' || turn.answer.error) return [];
  return turn.answer.blocks.slice(turn.base ?? 0).filter((block) => block?.type === 'tool_use');
}

/** Runs the tools called, adds their results to the answer, and readies it for the next model call. */
function answerToolCalls(turn, calls) {
  for (const call of calls) {
    const result = runTool(call.name, call.input);
    turn.answer.blocks.push({ type: 'tool_result', tool_use_id: call.id, ...result });
  }
  const request = messagesRequest(turn);
  turn.usageDone = addUsage(turn.usageDone, turn.answer.usage);
  turn.answer.usage = {};
  turn.answer.done = false;
  turn.answer.stopReason = undefined;
  turn.base = turn.answer.blocks.length;
  turn.position = 0;
  turn.stream = undefined;
  turn.state = 'sending';
  saveConversation(conversation);
  scheduleRefresh(turn);
  return request;
}

/**
 * Reads an answer to its end: from `start` (a new request) or from where it was left (a
 * reload), reconnecting through `GET /v1/streams/{id}` after the stream's last event (or byte
 * of text) received whenever the connection drops, until the answer is complete.
 */
async function run(turn, start) {
  const controller = new AbortController();
  active = { turn, controller };
  setBusy(true);
  announce('Answering…');
  try {
    let starter = start;
    for (;;) {
      let response;
      if (starter) {
        response = await starter(controller.signal);
        turn.stream = {
          id: response.headers.get('sluice-stream-id'),
          token: response.headers.get('sluice-resume-token'),
          wire: turn.mode === 'routed' ? 'text' : 'sse',
        };
        turn.route = response.headers.get('sluice-route') ?? undefined;
        turn.state = 'streaming';
        saveConversation(conversation);
      }
      await follow(turn, response, controller.signal);
      if (controller.signal.aborted) return;
      const calls = pendingToolCalls(turn);
      if (calls.length === 0) break;
      // The model asked for the page's tools: answer them, and ask the model again.
      const request = answerToolCalls(turn, calls);
      starter = (signal) => gateway.startMessages(request, signal);
    }
    turn.state = turn.answer.error ? 'error' : 'done';
    turn.endAt = Date.now();
    announce(turn.answer.error ? `The answer failed: ${turn.answer.error}` : 'Answer complete.');
    await readStatus(turn);
  } catch (error) {
    if (controller.signal.aborted) return;
    turn.state = 'error';
    turn.endAt = Date.now();
    turn.error = errorText(error);
    announce(turn.error);
    if (error instanceof GatewayError && error.status === 401) {
      rememberKeyRequired();
      askForKey(turn.error);
    }
  } finally {
    turn.note = undefined;
    if (active?.turn === turn) {
      active = undefined;
      setBusy(false);
    }
    saveConversation(conversation);
    refresh(turn);
  }
}

async function follow(turn, first, signal) {
  let response = first;
  let failures = 0;
  for (;;) {
    if (response) {
      try {
        await consume(turn, response, signal);
      } catch (error) {
        if (signal.aborted) return;
        if (!(error instanceof TypeError)) throw error;
        // A read that failed: the connection dropped. Take the stream up where it was.
      }
      if (turn.answer.done || signal.aborted) return;
      response = undefined;
    }
    turn.note = failures > 0 ? 'Connection lost: reconnecting…' : undefined;
    scheduleRefresh(turn);
    try {
      response = await gateway.resume(turn.stream, turn.position, signal);
      if (response === null) {
        // 204: nothing after what was read, and the stream is over.
        turn.answer.done = true;
        return;
      }
      failures = 0;
      turn.note = undefined;
    } catch (error) {
      if (signal.aborted) return;
      if (error instanceof GatewayError) throw error;
      turn.note = 'Connection lost: reconnecting…';
      scheduleRefresh(turn);
      await waitForNetwork(RETRY_DELAYS_MS[Math.min(failures, RETRY_DELAYS_MS.length - 1)], signal);
      failures++;
    }
  }
}

async function consume(turn, response, signal) {
  if (turn.stream.wire === 'text') return consumeText(turn, response, signal);
  for await (const event of readSse(response.body)) {
    const id = Number(event.id);
    // The stream's ids are contiguous from 1: one already applied is never applied twice.
    if (Number.isInteger(id) && id > 0 && id <= turn.position) continue;
    if (event.event !== 'ping') {
      applyEvent(turn.answer, event.event, JSON.parse(event.data), turn.base ?? 0);
      if (event.event === 'content_block_delta') arrived(turn);
    }
    if (Number.isInteger(id) && id > 0) turn.position = id;
    saveConversation(conversation);
    scheduleRefresh(turn);
  }
}

async function consumeText(turn, response) {
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  if (turn.answer.blocks.length === 0) turn.answer.blocks.push({ type: 'text', text: '' });
  const block = turn.answer.blocks[0];
  const reader = response.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      const text = decoder.decode(value, { stream: true });
      if (!text) continue;
      block.text += text;
      // Bytes of whole characters only: a resume asks for what follows them.
      turn.position += encoder.encode(text).length;
      arrived(turn);
      saveConversation(conversation);
      scheduleRefresh(turn);
    }
  } finally {
    reader.releaseLock();
  }
  turn.answer.done = true;
}

function arrived(turn) {
  const now = Date.now();
  turn.firstTokenAt ??= now;
  const list = arrivals.get(turn) ?? [];
  arrivals.set(turn, list);
  list.push({ at: now, length: answerText(turn.answer).length });
}

/** Waits `ms`, or less if the browser says it is back online; rejects when aborted. */
function waitForNetwork(ms, signal) {
  return new Promise((resolve, reject) => {
    const done = () => {
      clearTimeout(timer);
      window.removeEventListener('online', done);
      signal.removeEventListener('abort', abort);
      resolve();
    };
    const abort = () => {
      done();
      reject(signal.reason);
    };
    const timer = setTimeout(done, ms);
    window.addEventListener('online', done);
    signal.addEventListener('abort', abort);
  });
}

/**
 * The stream's status once it is over: where the gateway had to resume the upstream (its
 * attempts), and the usage when the stream's events did not carry it (a routed answer).
 */
async function readStatus(turn) {
  try {
    const status = await gateway.status(turn.stream);
    turn.attempts = status.attempts ?? [];
    if (status.usage && turn.answer.usage.output_tokens === undefined)
      Object.assign(turn.answer.usage, status.usage);
    turn.markers = markersOf(turn, status);
  } catch {
    // The figures stay without the status: nothing the reader needs to act on.
  }
}

/** Where in the text each resume happened, from when it happened and when the text arrived. */
function markersOf(turn, status) {
  const list = arrivals.get(turn);
  const resumes = turn.attempts.filter((attempt) => attempt.kind !== 'initial');
  if (!list || resumes.length === 0) return [];
  // The gateway's clock against the page's: the stream was created about when it was asked for.
  const skew = Date.parse(status.created) - turn.sentAt;
  return resumes.map((attempt) => {
    const before = list.filter((arrival) => arrival.at <= attempt.at - skew).at(-1);
    return before?.length ?? 0;
  });
}

function errorText(error) {
  if (error instanceof GatewayError) {
    if (error.status === 401)
      return `The gateway refused the request: it needs a valid API key (401). ${error.message}`;
    return `${error.type} (${error.status}): ${error.message}`;
  }
  return error.message;
}

async function stop() {
  if (!active) return;
  const { turn, controller } = active;
  active = undefined;
  // The gateway first, so the generation stops there too (not just this page's reading of it).
  if (turn.stream) await gateway.cancel(turn.stream).catch(() => {});
  controller.abort();
  turn.state = 'stopped';
  turn.endAt = Date.now();
  turn.note = undefined;
  setBusy(false);
  saveConversation(conversation);
  refresh(turn);
  announce('Stopped.');
  ui.message.focus();
}

// --- Wiring ------------------------------------------------------------------------------

ui.composer.addEventListener('submit', (event) => {
  event.preventDefault();
  const text = ui.message.value;
  if (active || !text.trim()) return;
  ui.message.value = '';
  send(text);
});
ui.message.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    ui.composer.requestSubmit();
  }
});
document.addEventListener('keydown', (event) => {
  if (event.key === 'Escape' && active) {
    event.preventDefault();
    stop();
  }
});
ui.stop.addEventListener('click', () => stop());
ui.settingsToggle.addEventListener('click', () => {
  ui.settings.hidden = !ui.settings.hidden;
  ui.settingsToggle.setAttribute('aria-expanded', String(!ui.settings.hidden));
});
ui.system.addEventListener('change', () => {
  conversation.system = ui.system.value;
  saveConversation(conversation);
});
ui.maxTokens.addEventListener('change', () => {
  conversation.maxTokens = Math.max(1, Number(ui.maxTokens.value) || 1024);
  saveConversation(conversation);
});
ui.tools.addEventListener('change', () => {
  conversation.tools = ui.tools.checked;
  saveConversation(conversation);
});
ui.model.addEventListener('change', () => {
  conversation.model = ui.model.value;
  saveConversation(conversation);
});
ui.newChat.addEventListener('click', async () => {
  await stop();
  conversation.turns = [];
  saveConversation(conversation);
  renderAll();
  announce('New chat.');
  ui.message.focus();
});
ui.keyForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  key = ui.key.value.trim();
  saveKey(key);
  ui.key.value = '';
  ui.keyMessage.textContent = '';
  await loadModels();
  if (!ui.keyPanel.hidden && !ui.keyMessage.textContent)
    ui.keyMessage.textContent = 'Key saved for this tab.';
  ui.message.focus();
});

ui.system.value = conversation.system;
ui.maxTokens.value = String(conversation.maxTokens || 1024);
ui.tools.checked = conversation.tools === true;
if (ui.settings.hidden && conversation.system) ui.settings.hidden = false;
renderAll();
await loadModels();
// An answer that was in flight when the page went away: take it up where it was read to.
const last = conversation.turns.at(-1);
if (last?.role === 'assistant' && (last.state === 'streaming' || last.state === 'sending')) {
  if (last.stream) {
    // What had arrived before the reload, as of now: a resume marker after it goes after this text.
    arrivals.set(last, [{ at: Date.now(), length: answerText(last.answer).length }]);
    run(last);
  } else {
    last.state = 'error';
    last.error = 'The page was closed before the gateway answered: regenerate to ask again.';
    saveConversation(conversation);
    refresh(last);
  }
}
ui.message.focus();
