/**
 * The page's own tools, offered to the model when "Tools" is on in the settings, and run in
 * the browser when it calls them: a calculator and a clock. Small on purpose: they show a
 * tool call and its result folded in the answer, on any model that calls tools (the
 * simulated one calls a tool whose name the prompt mentions).
 */

export const PAGE_TOOLS = [
  {
    name: 'calculator',
    description: 'Evaluates an arithmetic expression: numbers, + - * / and parentheses.',
    input_schema: {
      type: 'object',
      properties: { expression: { type: 'string', description: 'For example "(2 + 3) * 4"' } },
      required: ['expression'],
    },
  },
  {
    name: 'current_time',
    description: "The current date and time in the reader's browser, ISO 8601 and its time zone.",
    input_schema: { type: 'object', properties: {} },
  },
];

/**
 * Runs the tool a `tool_use` block names on its input.
 *
 * @returns {{ content: string, is_error?: boolean }}
 */
export function runTool(name, input) {
  try {
    if (name === 'calculator') return { content: formatNumber(evaluate(String(input?.expression ?? ''))) };
    if (name === 'current_time') {
      const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
      return { content: `${new Date().toISOString()} (${zone})` };
    }
    return { content: `There is no tool called ${name} on this page.`, is_error: true };
  } catch (error) {
    return { content: error.message, is_error: true };
  }
}

function formatNumber(value) {
  return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(15)));
}

/** Arithmetic by recursive descent: the page's CSP forbids eval, and so would good sense. */
export function evaluate(expression) {
  const tokens = expression.match(/\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|[-+*/()]|\S/g) ?? [];
  let at = 0;
  const peek = () => tokens[at];
  const take = () => tokens[at++];
  const sum = () => {
    let value = product();
    while (peek() === '+' || peek() === '-') value = take() === '+' ? value + product() : value - product();
    return value;
  };
  const product = () => {
    let value = unary();
    while (peek() === '*' || peek() === '/') {
      const op = take();
      const right = unary();
      if (op === '/' && right === 0) throw new Error('Division by zero.');
      value = op === '*' ? value * right : value / right;
    }
    return value;
  };
  const unary = () => {
    if (peek() === '-') {
      take();
      return -unary();
    }
    if (peek() === '+') {
      take();
      return unary();
    }
    return atom();
  };
  const atom = () => {
    const token = take();
    if (token === '(') {
      const value = sum();
      if (take() !== ')') throw new Error('A parenthesis is not closed.');
      return value;
    }
    const value = Number(token);
    if (token === undefined || !Number.isFinite(value)) {
      throw new Error(`Not an arithmetic expression: ${expression}`);
    }
    return value;
  };
  const value = sum();
  if (at < tokens.length) throw new Error(`Not an arithmetic expression: ${expression}`);
  return value;
}
