// The handler of pipelines/python-tasks.yml. message.body, message.headers and message.id are what the
// Python producer sent (its envelope's body, headers and message_id); the result goes out in the
// same envelope for Python consumers.
export default async function handle(message, context) {
  context.logger.info({ task: message.id, headers: message.headers }, 'task');
  return { task: message.id, headers: message.headers, body: message.body };
}
