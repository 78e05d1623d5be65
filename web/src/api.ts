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

/** One issue as a line: `path: message (did you mean x?)`. */
export function issueLine(i: Issue, withPath = true): string {
  return `${withPath && i.path ? `${i.path}: ` : ''}${i.message}${i.suggestion ? ` (did you mean ${i.suggestion}?)` : ''}`;
}

const norm = (text: string) => text.replace(/\s+/g, ' ').trim().toLowerCase();

/**
 * What an error says, each thing once: the server's message repeats its issues (a 400 names
 * the field: message `output: X`, issue `{path: output, message: X}`; a library error's issue
 * is its message), and issues shown next to their fields (`shownFields`) are not repeated.
 * `message` is null when the issues (listed or shown at their fields) already say it.
 */
export function errorParts(err: unknown, shownFields: string[] = []): { message: string | null; issues: Issue[] } {
  if (!(err instanceof ApiError)) return { message: err instanceof Error ? err.message : String(err), issues: [] };
  const seen = new Set<string>();
  const all = err.issues.filter((i) => {
    const key = norm(issueLine(i));
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  const atField = (i: Issue) =>
    shownFields.some((f) => i.path === f || i.path.startsWith(`${f}.`) || i.path.startsWith(`${f}[`));
  const m = norm(err.message);
  const visible = all.filter((i) => !atField(i));
  const said = new Set(all.flatMap((i) => [norm(i.message), norm(issueLine(i)), norm(issueLine(i, false))]));
  if (all.length > 0 && (said.has(m) || m === norm(all.map((i) => issueLine(i)).join('; '))))
    return { message: null, issues: visible };
  return { message: err.message, issues: visible.filter((i) => !m.includes(norm(i.message))) };
}

/** Describe any thrown value in one line, each part once. */
export function errorMessage(err: unknown): string {
  const { message, issues } = errorParts(err);
  return [...(message ? [message] : []), ...issues.map((i) => issueLine(i))].join('; ');
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

/** The server's limit on one request body (docs/web.md, `MAX_BODY`): a bigger one is refused (413). */
export const MAX_BODY = 16 * 1024 * 1024;

/**
 * The largest document dicomfab reads (`MAX_BYTES` of src/dicomfab/studyspec/documents.py, the
 * bounded reader behind `dicomfab generate` and the import API alike; a spec of 100,000 instances
 * is well under 1 MiB). tests/web/test_import_limit.py keeps the two equal.
 */
export const MAX_IMPORT = 8 * 1024 * 1024;

/** Refuses, before reading or sending it, a file the server would refuse (over MAX_IMPORT). */
export function checkUploadSize(file: { name: string; size: number }): void {
  if (file.size > MAX_IMPORT) {
    throw new ApiError(
      `${file.name} is ${formatBytes(file.size)}: dicomfab reads specs of at most ${formatBytes(MAX_IMPORT)} ` +
        '(the command line too). A spec this large lists what `count:` and inherited defaults can say in a few lines.',
      413,
    );
  }
}

/**
 * POST a JSON body with upload progress (XMLHttpRequest: fetch cannot report it) and cancel
 * (`signal`: rejects with an AbortError); the answer and errors as `api` gives them.
 */
export function postWithProgress<T>(
  path: string,
  body: unknown,
  onProgress: (sent: number, total: number) => void,
  signal?: AbortSignal,
): Promise<T> {
  const json = JSON.stringify(body);
  const size = new Blob([json]).size;
  if (size > MAX_BODY) {
    return Promise.reject(
      new ApiError(`The request is ${formatBytes(size)}: the server takes at most ${formatBytes(MAX_BODY)}.`, 413),
    );
  }
  return new Promise<T>((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    const aborted = () => reject(new DOMException('The upload was cancelled', 'AbortError'));
    if (signal?.aborted) return aborted();
    signal?.addEventListener('abort', () => xhr.abort(), { once: true });
    xhr.open('POST', path);
    xhr.setRequestHeader('Content-Type', 'application/json');
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.upload.onprogress = (e) => onProgress(e.loaded, e.lengthComputable ? e.total : size);
    xhr.onabort = aborted;
    xhr.onerror = () =>
      reject(new ApiError('Cannot reach the dicomfab server. Is `dicomfab ui` still running?', 0));
    xhr.onload = () => {
      const res = new Response(xhr.responseText, {
        status: xhr.status,
        statusText: xhr.statusText,
        headers: { 'content-type': xhr.getResponseHeader('content-type') || '' },
      });
      if (xhr.status === 401) unauthorizedHandler?.();
      if (!res.ok) {
        toError(res).then(reject, reject);
        return;
      }
      res.json().then((v) => resolve(v as T), reject);
    };
    onProgress(0, size);
    xhr.send(json);
  });
}
