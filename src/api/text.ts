// Control characters in text from outside (a metadata service's values, a webhook's answer): the one
// definition, for the checks that refuse a value carrying them and the clean-ups that make text safe
// for a log line or a person. Here in api/ so that the agent and the controller share it.

// C0 controls and DEL: never part of a label, a tag or a line of text a person reads.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;
// eslint-disable-next-line no-control-regex
const CONTROL_RUNS = /[\u0000-\u001f\u007f]+/g;
// eslint-disable-next-line no-control-regex
const CONTROL_EACH = /[\u0000-\u001f\u007f]/g;

export function hasControlCharacters(text: string): boolean {
  return CONTROL.test(text);
}

/** Each run of control characters as one space, trimmed: text for one line. */
export function flattenControlCharacters(text: string): string {
  return text.replace(CONTROL_RUNS, ' ').trim();
}

/** Each control character as `?`: a name quoted in a warning, its length kept. */
export function maskControlCharacters(text: string): string {
  return text.replace(CONTROL_EACH, '?');
}
