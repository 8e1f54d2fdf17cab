/**
 * What survives a reload: the conversation (and any answer in flight: its stream id, resume
 * token and how far it was read) in local storage; the API key in session storage only, so
 * it goes when the tab does and is never in a URL.
 */

const CONVERSATION = 'sluice.chat.conversation';
const KEY = 'sluice.chat.key';

/**
 * @typedef {{ role: 'user', text: string }} UserTurn
 * @typedef {{
 *   role: 'assistant',
 *   answer: import('./answer.js').Answer,
 *   model: string,
 *   mode: 'messages' | 'routed',
 *   tools?: boolean,
 *   base?: number,
 *   usageDone?: Record<string, number>,
 *   state: 'sending' | 'streaming' | 'done' | 'stopped' | 'error',
 *   stream?: import('./api.js').StreamRef,
 *   position: number,
 *   route?: string,
 *   pricing?: Record<string, number> | null,
 *   sentAt: number,
 *   firstTokenAt?: number,
 *   endAt?: number,
 *   attempts?: { kind: string, at: number, reason?: string, after?: number }[],
 *   markers?: number[],
 *   error?: string,
 * }} AssistantTurn
 * @typedef {{ system: string, model: string, maxTokens: number, tools?: boolean, turns: (UserTurn | AssistantTurn)[] }} Conversation
 */

/** @returns {Conversation} */
export function loadConversation() {
  try {
    const saved = JSON.parse(localStorage.getItem(CONVERSATION) ?? 'null');
    if (saved && Array.isArray(saved.turns)) return saved;
  } catch {
    // A damaged entry: start afresh rather than fail to load the page.
  }
  return { system: '', model: '', maxTokens: 1024, turns: [] };
}

/** @param {Conversation} conversation */
export function saveConversation(conversation) {
  localStorage.setItem(CONVERSATION, JSON.stringify(conversation));
}

export function loadKey() {
  return sessionStorage.getItem(KEY) ?? '';
}

export function saveKey(key) {
  if (key) sessionStorage.setItem(KEY, key);
  else sessionStorage.removeItem(KEY);
}

const KEY_REQUIRED = 'sluice.chat.key-required';

/**
 * Whether this tab has seen the gateway ask for a key: then the page asks for one without
 * first calling the gateway without it (each such call counts as a failed key attempt).
 */
export function keyRequired() {
  return sessionStorage.getItem(KEY_REQUIRED) === 'yes';
}

export function rememberKeyRequired() {
  sessionStorage.setItem(KEY_REQUIRED, 'yes');
}
