// Example pub/sub handler in plain JavaScript: the body is text (message.format: text).
export default async function notify(message) {
  return `sent: ${message.body}`;
}
