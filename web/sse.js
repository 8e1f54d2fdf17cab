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
  let buffer = '';
  let id;
  let event = '';
  let data = [];
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      for (;;) {
        const end = lineEnd(buffer);
        if (end === undefined) break;
        const line = buffer.slice(0, end.at);
        buffer = buffer.slice(end.at + end.length);
        if (line === '') {
          if (data.length > 0 || event) yield { id, event: event || 'message', data: data.join('\n') };
          id = undefined;
          event = '';
          data = [];
          continue;
        }
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? '' : line.slice(colon + 1);
        if (value.startsWith(' ')) value = value.slice(1);
        if (field === 'data') data.push(value);
        else if (field === 'event') event = value;
        else if (field === 'id') id = value;
      }
    }
  } finally {
    reader.releaseLock();
  }
}

/** The first line end in `text`: where it is and how long (CRLF is one end of two characters). */
function lineEnd(text) {
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\n') return { at: i, length: 1 };
    if (c === '\r') {
      // A CR at the end of what has arrived may be the first half of a CRLF: wait for more.
      if (i === text.length - 1) return undefined;
      return { at: i, length: text[i + 1] === '\n' ? 2 : 1 };
    }
  }
  return undefined;
}
