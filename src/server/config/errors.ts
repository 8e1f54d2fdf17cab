/** A configuration the gateway refuses to start with, and how its problems are listed. */

/** A configuration the gateway refuses to start with. A startup error, not an API error. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  /** Each problem as `path.to.field: what was expected`. */
  readonly issues: readonly string[];

  constructor(message: string, issues: readonly string[] = []) {
    super(message);
    this.issues = issues;
  }
}

const MAX_LISTED_ISSUES = 5;

export function invalidConfig(source: string, issues: readonly string[]): ConfigError {
  const listed = issues.slice(0, MAX_LISTED_ISSUES).map((issue) => `  ${issue}`);
  if (issues.length > MAX_LISTED_ISSUES) listed.push(`  …and ${issues.length - MAX_LISTED_ISSUES} more`);
  return new ConfigError(`${source}: invalid configuration\n${listed.join('\n')}`, issues);
}
