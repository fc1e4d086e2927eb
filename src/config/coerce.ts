/**
 * Values that came from the environment are always strings; turn them into the type the schema
 * expects at that place ("10" → 10 for an integer field). Literal YAML values are never coerced:
 * `port: "6379"` written in quotes is a mistake worth reporting.
 */
type SchemaNode = {
  type?: string | string[];
  properties?: Record<string, SchemaNode>;
  additionalProperties?: SchemaNode | boolean;
  items?: SchemaNode;
};

export function schemaAt(root: SchemaNode, path: readonly (string | number)[]): SchemaNode | undefined {
  let node: SchemaNode | undefined = root;
  for (const seg of path) {
    if (!node) return undefined;
    if (typeof seg === 'number') node = node.items;
    else node = node.properties?.[seg] ?? (typeof node.additionalProperties === 'object' ? node.additionalProperties : undefined);
  }
  return node;
}

export function coerceScalar(value: string, schema: SchemaNode | undefined): unknown {
  const types = schema?.type === undefined ? [] : Array.isArray(schema.type) ? schema.type : [schema.type];
  if (types.includes('string') || types.length === 0) return value;
  const trimmed = value.trim();
  if (types.includes('integer') && /^[-+]?\d+$/.test(trimmed)) return Number(trimmed);
  if (types.includes('number') && trimmed !== '' && Number.isFinite(Number(trimmed))) return Number(trimmed);
  if (types.includes('boolean')) {
    if (/^(true|yes|on|1)$/i.test(trimmed)) return true;
    if (/^(false|no|off|0)$/i.test(trimmed)) return false;
  }
  if ((types.includes('array') || types.includes('object')) && /^[[{]/.test(trimmed)) {
    try {
      return JSON.parse(trimmed) as unknown;
    } catch {
      return value;
    }
  }
  return value;
}

export function coerceSubstituted(data: unknown, paths: readonly (string | number)[][], schema: SchemaNode): void {
  for (const path of paths) {
    if (path.length === 0) continue;
    let parent: unknown = data;
    for (const seg of path.slice(0, -1)) parent = (parent as Record<string | number, unknown>)[seg];
    const last = path[path.length - 1] as string | number;
    const container = parent as Record<string | number, unknown>;
    const value = container[last];
    if (typeof value === 'string') container[last] = coerceScalar(value, schemaAt(schema, path));
  }
}
