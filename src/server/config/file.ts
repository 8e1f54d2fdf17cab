import { readFileSync } from 'node:fs';
import { ConfigError } from './errors.ts';

/** The configuration file's JSON; a ConfigError naming the file when it cannot be read or parsed. */
export function readConfigFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason =
      code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'a directory' : (error as Error).message;
    throw new ConfigError(`${path}: cannot read the configuration file (${reason})`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`${path}: invalid JSON: ${jsonErrorText((error as Error).message, text)}`);
  }
}

/** V8's message, with the line and column added when it gives only a position. */
function jsonErrorText(message: string, text: string): string {
  const position = /at position (\d+)/.exec(message)?.[1];
  if (position === undefined || /line \d+/.test(message)) return message;
  const before = text.slice(0, Number(position));
  const line = before.split('\n').length;
  const column = Number(position) - before.lastIndexOf('\n');
  return `${message} (line ${line} column ${column})`;
}
