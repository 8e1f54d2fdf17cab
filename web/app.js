import { answerText, emptyAnswer } from './answer.js';
import { Gateway, GatewayError } from './api.js';
import { readAnswer } from './reader.js';
import { answerToolCalls, messagesRequest, pendingToolCalls } from './request.js';
import {
  keyRequired,
  loadConversation,
  loadKey,
  rememberKeyRequired,
  saveConversation,
  saveKey,
} from './store.js';
import { assistantElement, updateAssistant, userElement } from './view.js';

/** The model picker's entry for `/streaming_chat`, whose router picks the route and model. */
const ROUTED = '/streaming_chat';

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

let saveTimer;
/**
 * Saves the conversation within 100 ms, once for however many events came meanwhile. Any
 * save holds an answer with the id of the last event applied to it, so an older one still
 * resumes exactly: it only reads a little more again.
 */
function saveSoon() {
  if (saveTimer !== undefined) return;
  saveTimer = setTimeout(() => {
    saveTimer = undefined;
    saveConversation(conversation);
  }, 100);
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
  const request = routed ? previous.text : messagesRequest(conversation, turn);
  conversation.turns.push(turn);
  saveConversation(conversation);
  ui.conversation.append(elementOf(turn));
  refresh(turn);
  for (const element of elements.values()) element.querySelector('.regenerate')?.remove();
  run(turn, (signal) =>
    routed ? gateway.startRouted(request, signal) : gateway.startMessages(request, signal),
  );
}

/** Text arrived: the first time is the time to first token; each time is kept for resume markers. */
function arrived(turn, event) {
  const now = Date.now();
  turn.firstTokenAt ??= now;
  const list = arrivals.get(turn) ?? [];
  arrivals.set(turn, list);
  list.push({ at: now, length: answerText(turn.answer).length, event });
}

/**
 * Generates an answer to its end: from `start` (a new request) or from where it was left (a
 * reload), through each model call it takes (one more after each round of the page's tools).
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
      await readAnswer({
        gateway,
        turn,
        first: response,
        signal: controller.signal,
        onProgress: () => {
          saveSoon();
          scheduleRefresh(turn);
        },
        onText: (event) => arrived(turn, event),
      });
      if (controller.signal.aborted) return;
      const calls = pendingToolCalls(turn);
      if (calls.length === 0) break;
      // The model asked for the page's tools: answer them, and ask the model again.
      const request = answerToolCalls(conversation, turn, calls);
      saveConversation(conversation);
      scheduleRefresh(turn);
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
    // Exact where the gateway says after which event it happened; else by the clocks.
    const exact = Number.isInteger(attempt.after) && list.some((arrival) => arrival.event !== undefined);
    const before = exact
      ? list.filter((arrival) => arrival.event !== undefined && arrival.event <= attempt.after).at(-1)
      : list.filter((arrival) => arrival.at <= attempt.at - skew).at(-1);
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

// Leaving (a reload, a closed tab): what has arrived is saved, not just what the last save held.
window.addEventListener('pagehide', () => saveConversation(conversation));

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
    arrivals.set(last, [{ at: Date.now(), length: answerText(last.answer).length, event: last.position }]);
    run(last);
  } else {
    last.state = 'error';
    last.error = 'The page was closed before the gateway answered: regenerate to ask again.';
    saveConversation(conversation);
    refresh(last);
  }
}
ui.message.focus();
