/** Words the simulated model skips when it looks for a topic or a value in a prompt. */
export const STOPWORDS = new Set(
  (
    'a an and are as at be but by can could did do does for from had has have how i if in into is it its ' +
    'me my of on or please say so tell than that the their them then there these this those to use using ' +
    'was we were what when where which who why will with would you your about just give show write call ' +
    'find get tool tools answer question'
  ).split(' '),
);

/** `text` with the characters a regular expression treats specially escaped. */
export function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Where `word` first occurs in `text` as a whole word (in any script, any case), or -1. */
export function wordIndex(text: string, word: string): number {
  return text.search(new RegExp(`(?<![\\p{L}\\p{N}_])${escapeRegExp(word)}(?![\\p{L}\\p{N}_])`, 'iu'));
}
