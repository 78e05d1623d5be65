// Typed fetch wrapper; errors become ApiError with the backend's message and its issues
// ({path, message, suggestion}). No token here: the link printed by `dicomfab ui` set an HttpOnly
// cookie that the browser sends with every same-origin request (fetch, <img>, <a>, EventSource),
// so URLs never carry the token and page scripts never see it.
import type { ErrorAnswer, Issue } from './types';

let unauthorizedHandler: (() => void) | null = null;

export function onUnauthorized(handler: (() => void) | null): void {
  unauthorizedHandler = handler;
}

export class ApiError extends Error {
  status: number;
  issues: Issue[];
  constructor(message: string, status: number, issues: Issue[] = []) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.issues = issues;
  }
}

/** Describe any thrown value in one line. */
export function errorMessage(err: unknown): string {
  if (err instanceof ApiError) {
    const extra = err.issues.length
      ? ': ' + err.issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ')
      : '';
    return err.message + extra;
  }
  if (err instanceof Error) return err.message;
  return String(err);
}

export type Query = Record<string, string | number | boolean | null | undefined | string[]>;

export function buildUrl(path: string, query?: Query): string {
  const params = new URLSearchParams();
  if (query) {
    for (const [k, v] of Object.entries(query)) {
      if (v === null || v === undefined) continue;
      if (Array.isArray(v)) v.forEach((item) => params.append(k, item));
      else params.append(k, String(v));
    }
  }
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

async function toError(res: Response): Promise<ApiError> {
  let message = `${res.status} ${res.statusText || 'error'}`;
  let issues: Issue[] = [];
  try {
    const text = await res.text();
    try {
      // every error the server sends (docs/web.md): {detail: {message, issues}}
      const { detail } = JSON.parse(text) as ErrorAnswer;
      message = detail.message;
      issues = detail.issues;
    } catch {
      if (text.trim()) message = `${message}: ${text.trim().slice(0, 300)}`;
    }
  } catch {
    /* keep the status line */
  }
  return new ApiError(message, res.status, issues);
}

export interface RequestOptions {
  method?: string;
  body?: unknown;
  query?: Query;
  signal?: AbortSignal;
}

export async function api<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  let body: string | undefined;
  if (options.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(options.body);
  }
  let res: Response;
  try {
    res = await fetch(buildUrl(path, options.query), {
      method: options.method ?? (body !== undefined ? 'POST' : 'GET'),
      headers,
      body,
      signal: options.signal,
      credentials: 'same-origin',
    });
  } catch (err) {
    if (err instanceof DOMException && err.name === 'AbortError') throw err;
    throw new ApiError(`Cannot reach the dicomfab server (${errorMessage(err)}). Is \`dicomfab ui\` still running?`, 0);
  }
  if (res.status === 401) {
    unauthorizedHandler?.();
    throw await toError(res);
  }
  if (!res.ok) throw await toError(res);
  if (res.status === 204) return undefined as T;
  const type = res.headers.get('content-type') || '';
  if (type.includes('json')) return (await res.json()) as T;
  return (await res.text()) as unknown as T;
}

export const get = <T>(path: string, query?: Query, signal?: AbortSignal) => api<T>(path, { query, signal });
export const post = <T>(path: string, body: unknown) => api<T>(path, { method: 'POST', body });

export function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined || Number.isNaN(n)) return '';
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}
