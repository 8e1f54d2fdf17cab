import { Marked } from './vendor/marked.esm.js';

/**
 * Model output as markdown, made safe to show: raw HTML in it is rendered as text (marked
 * has no switch for that, so its `html` renderer escapes), and what marked produces passes an
 * allowlist of elements and attributes before it reaches the page. The page's CSP blocks
 * inline script anyway; this keeps the markup itself inert.
 */
const marked = new Marked({
  gfm: true,
  async: false,
  renderer: {
    html({ text }) {
      return escapeHtml(text);
    },
  },
});

/** A character no model text is expected to hold: where a resume marker goes. */
export const MARKER = '\uE000';

const ALLOWED = {
  A: ['href', 'title'],
  BLOCKQUOTE: [],
  BR: [],
  CODE: ['class'],
  DEL: [],
  EM: [],
  H1: [],
  H2: [],
  H3: [],
  H4: [],
  H5: [],
  H6: [],
  HR: [],
  IMG: ['src', 'alt', 'title'],
  INPUT: ['type', 'checked', 'disabled'],
  LI: [],
  OL: ['start'],
  P: [],
  PRE: [],
  STRONG: [],
  TABLE: [],
  TBODY: [],
  TD: ['align'],
  TH: ['align'],
  THEAD: [],
  TR: [],
  UL: [],
};

/**
 * Renders `text` as markdown into `target` (replacing what it held), with a copy button on
 * each code block and a resume marker at each MARKER character.
 *
 * @param {HTMLElement} target
 * @param {string} text
 * @param {(index: number) => string} markerLabel what marker number `index` says
 */
export function renderMarkdown(target, text, markerLabel) {
  const template = document.createElement('template');
  template.innerHTML = marked.parse(text);
  sanitize(template.content);
  placeMarkers(template.content, markerLabel);
  for (const pre of template.content.querySelectorAll('pre')) pre.append(copyButton(pre));
  target.replaceChildren(template.content);
}

function sanitize(root) {
  for (const element of [...root.querySelectorAll('*')]) {
    const allowed = ALLOWED[element.tagName];
    if (!allowed) {
      element.replaceWith(document.createTextNode(element.textContent ?? ''));
      continue;
    }
    for (const attribute of [...element.attributes]) {
      if (!allowed.includes(attribute.name)) element.removeAttribute(attribute.name);
    }
    if (element.tagName === 'A') {
      const href = element.getAttribute('href') ?? '';
      if (!/^(https?:|mailto:|#)/i.test(href)) element.removeAttribute('href');
      element.setAttribute('rel', 'noopener noreferrer');
    }
    if (element.tagName === 'IMG' && !/^data:image\//i.test(element.getAttribute('src') ?? '')) {
      // Only images inside the text itself: a URL would load from elsewhere (and CSP forbids it).
      element.replaceWith(document.createTextNode(element.getAttribute('alt') ?? ''));
    }
    if (element.tagName === 'INPUT' && element.getAttribute('type') !== 'checkbox') element.remove();
  }
}

function placeMarkers(root, markerLabel) {
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const found = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (node.data.includes(MARKER)) found.push(node);
  }
  let index = 0;
  for (const node of found) {
    const parts = node.data.split(MARKER);
    const replacement = [];
    parts.forEach((part, i) => {
      if (i > 0) {
        const mark = document.createElement('span');
        mark.className = 'resumed';
        mark.setAttribute('role', 'img');
        mark.setAttribute('aria-label', markerLabel(index));
        mark.title = markerLabel(index);
        index++;
        replacement.push(mark);
      }
      if (part) replacement.push(document.createTextNode(part));
    });
    node.replaceWith(...replacement);
  }
}

function copyButton(pre) {
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'copy';
  button.textContent = 'Copy';
  button.setAttribute('aria-label', 'Copy code');
  button.addEventListener('click', async () => {
    // marked ends a block's code with a line break the fence did not hold.
    const code = (pre.querySelector('code')?.textContent ?? '').replace(/\n$/, '');
    try {
      await navigator.clipboard.writeText(code);
      button.textContent = 'Copied';
    } catch {
      button.textContent = 'Copy failed';
    }
  });
  return button;
}

export function escapeHtml(text) {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
