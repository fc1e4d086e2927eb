// Test handler: a body with crash: true kills its own process (as an OOM or a native crash would);
// anything else succeeds with {id}.
export default async function crash(message) {
  const body = message.body ?? {};
  if (body.crash) process.kill(process.pid, 'SIGKILL');
  return { id: body.id };
}
