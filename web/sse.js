/**
 * Server-sent events from a fetch response body, as the HTML standard parses them: lines end
 * in CRLF, LF or CR; `id:`, `event:` and `data:` fields; a blank line dispatches. A read of the
 * body that fails (the connection dropped) throws from the iterator; an event cut short by the
 * end of the body is not dispatched, as in a browser's EventSource.
 *
 * @param {ReadableStream<Uint8Array>} body
 * @returns {AsyncGenerator<{ id: string | undefined, event: string, data: string }>}
 */
export async function* readSse(body) {
  const decoder = new TextDecoder();
  const reader = body.getReader();
  const fields = { id: undefined, event: '', data: [] };
  let buffer = '';
  try {
    for (;;) {
      const { done, value } = await reader.read();
      buffer += done ? decoder.decode() : decoder.decode(value, { stream: true });
      for (;;) {
        const end = lineEnd(buffer, done);
        if (end === undefined) break;
        const line = buffer.slice(0, end.at);
        buffer = buffer.slice(end.at + end.length);
        const event = takeLine(fields, line);
        if (event) yield event;
      }
      if (done) return;
    }
  } finally {
    reader.releaseLock();
  }
}

/** Applies one line to the event being read; returns the event when the line dispatches it. */
function takeLine(fields, line) {
  if (line === '') {
    const event =
      fields.data.length > 0 || fields.event
        ? { id: fields.id, event: fields.event || 'message', data: fields.data.join('\n') }
        : undefined;
    fields.id = undefined;
    fields.event = '';
    fields.data = [];
    return event;
  }
  if (line.startsWith(':')) return undefined;
  const colon = line.indexOf(':');
  const field = colon < 0 ? line : line.slice(0, colon);
  let value = colon < 0 ? '' : line.slice(colon + 1);
  if (value.startsWith(' ')) value = value.slice(1);
  if (field === 'data') fields.data.push(value);
  else if (field === 'event') fields.event = value;
  else if (field === 'id') fields.id = value;
  return undefined;
}

/**
 * The first line end in `text`: where it is and how long (CRLF is one end of two characters).
 * A CR last in what has arrived may be the first half of a CRLF, so it waits for more, unless
 * the body has ended (`final`).
 */
function lineEnd(text, final) {
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\n') return { at: i, length: 1 };
    if (c === '\r') {
      if (i === text.length - 1) return final ? { at: i, length: 1 } : undefined;
      return { at: i, length: text[i + 1] === '\n' ? 2 : 1 };
    }
  }
  return undefined;
}
