/**
 * Sets `record[name] = value` as an own, enumerable property, whatever the name. A plain assignment
 * to `__proto__` would change the record's prototype (or be ignored for a string), so a stream field
 * or header named `__proto__` would silently vanish from `message.fields`, `message.headers` and a
 * body built from the fields.
 */
export function setOwnField(record: Record<string, string>, name: string, value: string): void {
  if (name === '__proto__') Object.defineProperty(record, name, { value, enumerable: true, writable: true, configurable: true });
  else record[name] = value;
}
