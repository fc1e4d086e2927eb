/**
 * `${VAR}`, `${VAR:-default}` and `${VAR:?message}` inside any string scalar, applied after YAML
 * parsing so that a value can never inject YAML structure. `$${` escapes a literal `${`.
 */
export interface InterpolationProblem {
  path: (string | number)[];
  message: string;
}

export interface InterpolationResult {
  data: unknown;
  /** Paths of scalars that contained at least one substitution: only these are coerced to the schema's types. */
  substituted: (string | number)[][];
  problems: InterpolationProblem[];
}

const REFERENCE = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*)|(:?\?)([^}]*))?\}|\$\{([^}]*)\}?/g;

export function interpolate(data: unknown, env: NodeJS.ProcessEnv): InterpolationResult {
  const substituted: (string | number)[][] = [];
  const problems: InterpolationProblem[] = [];

  const visit = (value: unknown, path: (string | number)[]): unknown => {
    if (typeof value === 'string') {
      if (!value.includes('${')) return value;
      let changed = false;
      const out = value.replace(
        REFERENCE,
        (
          match,
          name: string | undefined,
          dashOp: string | undefined,
          fallback: string | undefined,
          qOp: string | undefined,
          qMessage: string | undefined,
          bad: string | undefined,
        ) => {
          if (match === '$${') return '${';
          if (name === undefined) {
            const why = !match.endsWith('}')
              ? 'it has no closing }'
              : bad === ''
                ? 'the name is empty'
                : /^[A-Za-z_][A-Za-z0-9_]*[:=+]/.test(bad ?? '')
                  ? 'only :-default or :?message may follow the name'
                  : `"${bad}" is not a variable name (letters, digits and _, not starting with a digit)`;
            problems.push({
              path,
              message: `malformed variable reference "${match}": ${why}; write \${NAME}, \${NAME:-default} or \${NAME:?message} (or $\${ for a literal \${)`,
            });
            return match;
          }
          changed = true;
          const current = env[name];
          const unsetOrEmpty = current === undefined || current === '';
          if (dashOp !== undefined) {
            const useDefault = dashOp === ':-' ? unsetOrEmpty : current === undefined;
            return useDefault ? (fallback ?? '') : (current ?? '');
          }
          if (qOp !== undefined) {
            const missing = qOp === ':?' ? unsetOrEmpty : current === undefined;
            if (missing) {
              problems.push({ path, message: `environment variable ${name} is not set: ${qMessage || 'it is required'}` });
              return '';
            }
            return current ?? '';
          }
          if (current === undefined) {
            problems.push({
              path,
              message: `environment variable ${name} is not set and has no default: set it, or write \${${name}:-default}`,
            });
            return '';
          }
          return current;
        },
      );
      if (changed) substituted.push(path);
      return out;
    }
    if (Array.isArray(value)) return value.map((item, i) => visit(item, [...path, i]));
    if (value !== null && typeof value === 'object') {
      const result: Record<string, unknown> = {};
      for (const [key, item] of Object.entries(value)) result[key] = visit(item, [...path, key]);
      return result;
    }
    return value;
  };

  return { data: visit(data, []), substituted, problems };
}
