// Test handler: echoes what a stream entry looks like to a handler.
export default async function fields(message) {
  return { body: message.body, fields: message.fields };
}
