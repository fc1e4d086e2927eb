import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

const COOKIE = 'pythia_console_session';
const MAX_SESSIONS = 1000;

/** Addresses only this machine reaches: the console may run there without a token. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

function sameSecret(given: string, expected: string): boolean {
  // Hashes have equal lengths: timingSafeEqual compares them without leaking the token's length.
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

export type Authenticated = 'open' | 'bearer' | 'session' | false;

/**
 * Who may use the console. Without a token (loopback only) everyone who reaches the port; with one,
 * `Authorization: Bearer <token>` (scripts) or the session cookie the login form sets (browsers).
 * State-changing requests from a browser also need the CSRF token embedded in the page.
 */
export class ConsoleAuth {
  readonly csrf = randomBytes(24).toString('base64url');
  private readonly sessions = new Set<string>();

  constructor(private readonly token: string | undefined) {}

  get required(): boolean {
    return this.token !== undefined;
  }

  check(request: IncomingMessage): Authenticated {
    if (this.token === undefined) return 'open';
    const header = request.headers.authorization;
    if (header?.startsWith('Bearer ') && sameSecret(header.slice(7).trim(), this.token)) return 'bearer';
    const session = cookie(request, COOKIE);
    if (session && this.sessions.has(session)) return 'session';
    return false;
  }

  /** A new session when the token is right (the cookie to set), else undefined. */
  login(given: string): string | undefined {
    if (this.token === undefined || !sameSecret(given, this.token)) return undefined;
    if (this.sessions.size >= MAX_SESSIONS) this.sessions.delete(this.sessions.values().next().value as string);
    const session = randomBytes(24).toString('base64url');
    this.sessions.add(session);
    return `${COOKIE}=${session}; HttpOnly; SameSite=Strict; Path=/`;
  }

  logout(request: IncomingMessage): string {
    const session = cookie(request, COOKIE);
    if (session) this.sessions.delete(session);
    return `${COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`;
  }

  /** A POST from the page carries the CSRF token; one authenticated by a bearer token needs none (no cookie is involved). */
  csrfOk(request: IncomingMessage, how: Authenticated): boolean {
    if (how === 'bearer') return true;
    const given = request.headers['x-csrf-token'];
    return typeof given === 'string' && sameSecret(given, this.csrf);
  }
}

function cookie(request: IncomingMessage, name: string): string | undefined {
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) return value.join('=');
  }
  return undefined;
}

/**
 * A Host header naming something else than this server means DNS rebinding (a hostile page's name
 * pointed at 127.0.0.1): refused. An Origin, when sent, must be this server too.
 */
export function sameOrigin(request: IncomingMessage, allowedHosts: ReadonlySet<string> | undefined): boolean {
  const host = request.headers.host?.toLowerCase();
  if (!host || (allowedHosts && !allowedHosts.has(host))) return false;
  const origin = request.headers.origin;
  if (origin === undefined) return true;
  try {
    return new URL(origin).host.toLowerCase() === host;
  } catch {
    return false;
  }
}
