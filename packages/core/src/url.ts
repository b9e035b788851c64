import { configurationError } from './errors';

export interface HostPort {
  readonly host: string;
  readonly port: number | undefined;
}

/** A broker URL taken apart. `password` is kept out of `toString()` and every message. */
export interface ParsedUrl {
  /** Lower-case scheme without the colon, e.g. "kafka", "amqps", "sqs+http". */
  readonly scheme: string;
  readonly hosts: readonly HostPort[];
  readonly username: string | undefined;
  readonly password: string | undefined;
  /** Path without the leading slash, decoded ("" when absent). */
  readonly path: string;
  readonly params: Readonly<Record<string, string>>;
  /** The URL with the password replaced by "***". */
  readonly redacted: string;
}

const SCHEME = /^([a-z][a-z0-9+.-]*):\/\//i;

/**
 * Parses `scheme://[user[:password]@]host[:port][,host[:port]...][/path][?k=v&...]`.
 * Several comma-separated hosts are allowed (Kafka bootstrap lists). Throws a configuration error
 * listing every problem; the password never appears in it.
 */
export function parseUrl(url: string): ParsedUrl {
  const problems: string[] = [];
  if (typeof url !== 'string' || url.trim() === '') throw configurationError('URL', ['the URL is empty']);
  const m = SCHEME.exec(url.trim());
  if (!m) throw configurationError('URL', [`"${redactUrl(url)}" has no scheme (expected e.g. memory://, kafka://host:9092)`]);
  const scheme = m[1]!.toLowerCase();
  let rest = url.trim().slice(m[0].length);

  let query = '';
  const q = rest.indexOf('?');
  if (q >= 0) { query = rest.slice(q + 1); rest = rest.slice(0, q); }
  let path = '';
  const slash = rest.indexOf('/');
  if (slash >= 0) { path = rest.slice(slash + 1); rest = rest.slice(0, slash); }

  let username: string | undefined;
  let password: string | undefined;
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    const userinfo = rest.slice(0, at);
    rest = rest.slice(at + 1);
    const colon = userinfo.indexOf(':');
    username = safeDecode(colon >= 0 ? userinfo.slice(0, colon) : userinfo, 'user name', problems);
    password = colon >= 0 ? safeDecode(userinfo.slice(colon + 1), 'password', problems, true) : undefined;
  }

  const hosts: HostPort[] = [];
  if (rest !== '') {
    for (const part of rest.split(',')) {
      const hp = parseHostPort(part, problems);
      if (hp) hosts.push(hp);
    }
  }

  const params: Record<string, string> = {};
  if (query) {
    for (const [k, v] of new URLSearchParams(query)) {
      if (k in params) problems.push(`query parameter "${k}" is given twice`);
      params[k] = v;
    }
  }
  const redacted = redactUrl(url.trim());
  if (problems.length) throw configurationError(`URL ${redacted}`, problems);
  return { scheme, hosts, username, password, path: safeDecode(path, 'path', problems), params, redacted };
}

function safeDecode(s: string, what: string, problems: string[], secret = false): string {
  try {
    return decodeURIComponent(s);
  } catch {
    problems.push(secret ? `the ${what} is not valid percent-encoding` : `the ${what} "${s}" is not valid percent-encoding`);
    return s;
  }
}

function parseHostPort(part: string, problems: string[]): HostPort | undefined {
  if (part === '') { problems.push('empty host in the host list'); return undefined; }
  let host: string;
  let portText: string | undefined;
  if (part.startsWith('[')) {
    const end = part.indexOf(']');
    if (end < 0) { problems.push(`host "${part}" has an unclosed IPv6 bracket`); return undefined; }
    host = part.slice(1, end);
    const after = part.slice(end + 1);
    if (after.startsWith(':')) portText = after.slice(1);
    else if (after !== '') { problems.push(`unexpected "${after}" after host "${host}"`); return undefined; }
  } else {
    const colon = part.lastIndexOf(':');
    host = colon >= 0 ? part.slice(0, colon) : part;
    portText = colon >= 0 ? part.slice(colon + 1) : undefined;
  }
  if (!/^[A-Za-z0-9._:%-]+$/.test(host)) { problems.push(`host "${host}" is not a valid host name`); return undefined; }
  let port: number | undefined;
  if (portText !== undefined) {
    port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      problems.push(`port "${portText}" of host "${host}" is not a number from 1 to 65535`);
      return undefined;
    }
  }
  return { host, port };
}

/** Replaces the password in a URL (and any `password`, `secret` or `token` query value) with "***". */
export function redactUrl(url: string): string {
  return String(url)
    .replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@?#]*):[^@/?#]*@/i, '$1:***@')
    .replace(/([?&](?:password|secret|token|secretAccessKey|sessionToken)=)[^&#]*/gi, '$1***');
}

/** Formats hosts back to "host:port,host:port", with `defaultPort` where none was given. */
export function formatHosts(hosts: readonly HostPort[], defaultPort: number): string[] {
  return hosts.map((h) => `${h.host.includes(':') ? `[${h.host}]` : h.host}:${h.port ?? defaultPort}`);
}
