// Test command handler (per message): echoes the id of the body and the headers it received on stdin.
let input = '';
process.stdin.setEncoding('utf8');
for await (const chunk of process.stdin) input += chunk;
const { body, headers } = JSON.parse(input);
process.stdout.write(JSON.stringify({ id: body.id, headers }) + '\n');
