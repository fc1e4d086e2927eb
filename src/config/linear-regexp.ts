import { RE2JS } from 're2js';

/**
 * The regular-expression engine for message schemas (ajv's `code.regExp`). Message bodies come from
 * producers, and JavaScript's backtracking engine takes exponential time on patterns such as
 * ^(a+)+$ (35 s for a 31-character body, with the event loop blocked). RE2JS matches in linear time,
 * in pure JavaScript. Patterns it cannot run in linear time (backreferences, lookaround) fail to
 * compile, so `validate` rejects the schema and says why.
 */
export function linearRegExp(pattern: string, flags: string): { test: (text: string) => boolean; toString: () => string } {
  const compiled = RE2JS.compile(pattern, flags.includes('i') ? RE2JS.CASE_INSENSITIVE : 0);
  // toString: ajv keys its cache of compiled patterns by it.
  return { test: (text: string) => compiled.matcher(text).find(), toString: () => `/${pattern}/${flags}` };
}
// ajv asks for the code of the engine only when it generates standalone validation code, which Pythia never does.
linearRegExp.code = 'require("re2js")';
