// Types of the API answers (docs/web.md).

export interface Issue {
  path: string;
  message: string;
  suggestion?: string | null;
}

export interface ErrorDetail {
  message: string;
  issues?: Issue[];
}

export interface Info {
  version: string;
  roots: string[];
  output: string;
  runs_dir: string;
  config: string | null;
}

export interface ScenarioSummary {
  name: string;
  title: string;
  category: string;
  tags: string[];
  expected: string[];
  description: string;
  why?: string;
  aliases: string[];
}

export interface Defect {
  at: string;
  what: string;
  tags?: Record<string, unknown>;
  remove_tags?: string[];
  permissive?: boolean;
  readable?: boolean;
  [key: string]: unknown;
}

export interface Expectation {
  default: string;
  study_default?: string;
  studies?: Record<string, string>;
  instances?: Record<string, string>;
  note?: string | null;
}

export interface ParameterInfo {
  default: unknown;
  description?: string;
}

export interface ScenarioCard {
  name: string;
  title: string;
  category: string;
  tags: string[];
  description: string;
  why: string;
  sources: string[];
  aliases: string[];
  parameters: Record<string, ParameterInfo>;
  base: string | null;
  defects: Defect[];
  expect: Expectation;
  network: unknown;
}

export interface SiteProfile {
  name: string;
  description?: string;
  patient_name?: string;
  birth_date?: string;
  patient_id?: string;
  [key: string]: unknown;
}

/** A spec as JSON (docs/spec.md); its exact shape is the JSON Schema's. */
export type Spec = Record<string, unknown>;

/** A JSON Schema node (the subset the forms understand). */
export interface JsonSchema {
  $ref?: string;
  $defs?: Record<string, JsonSchema>;
  type?: string | string[];
  title?: string;
  description?: string;
  default?: unknown;
  enum?: unknown[];
  const?: unknown;
  examples?: unknown[];
  format?: string;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  properties?: Record<string, JsonSchema>;
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  required?: string[];
}

export interface ValidateResult {
  ok: boolean;
  issues: Issue[];
  summary: { patients: number; studies: number; series: number; instances: number } | null;
}

export interface ImportResult {
  spec: Spec;
  notes: string[];
}

export interface DictionaryEntry {
  keyword: string;
  tag: string;
  vr: string;
  vm: string;
  name: string;
}

export type JobState = 'running' | 'done' | 'failed';

export interface JobEvent {
  event?: string;
  type?: string;
  stage?: string;
  done?: number;
  total?: number | null;
  summary?: string;
  [key: string]: unknown;
}

export interface Job {
  id: string;
  kind: 'generate' | 'run';
  state: JobState;
  stage: string | null;
  done: number | null;
  total: number | null;
  events: JobEvent[];
  result: unknown;
  error: string | null;
}

export interface GeneratedDataset {
  name: string;
  path: string;
  files: number;
  bytes: number;
}

export interface Dataset {
  name: string;
  path: string;
  scenario: string | null;
  patients: number;
  studies: number;
  instances: number;
  bytes: number;
}

export interface TreeNode {
  name: string;
  path: string;
  kind: 'dir' | 'file';
  size: number | null;
  children?: TreeNode[];
}

export interface HeaderElement {
  tag: string;
  keyword: string;
  vr: string;
  value: string;
  depth: number;
}

export interface HeaderPreview {
  path: string;
  elements: HeaderElement[];
}

export interface Target {
  name: string;
  description?: string;
  ingest?: string;
  verify?: string[];
  [key: string]: unknown;
}

export interface TargetsAnswer {
  config: string | null;
  targets: Target[];
}

export interface RunCounts {
  instances?: number;
  passed?: number;
  failed?: number;
  not_checked?: number;
  present?: number;
  absent?: number;
  mismatches?: number;
  studies?: number;
  studies_failed?: number;
  studies_not_checked?: number;
  [key: string]: number | undefined;
}

export interface RunSummary {
  id?: string;
  run_id?: string;
  run_dir?: string;
  report_dir?: string;
  target?: string;
  exit_code?: number;
  stages?: Record<string, number>;
  reports?: string[];
  passed: boolean;
  error: string | null;
  scenarios: number;
  scenarios_passed?: number;
  scenarios_failed: number;
  counts?: RunCounts;
}

export interface PastRun {
  id: string;
  path: string;
  started: string | null;
  target: string | null;
  passed: boolean | null;
  scenarios: number | null;
  scenarios_failed: number | null;
  error: string | null;
}

export interface ScenarioReport {
  name: string;
  dataset?: string;
  scenario?: string | null;
  category?: string | null;
  passed: boolean;
  counts: RunCounts;
  failures: string[];
  not_checked: string[];
  overrides?: Record<string, string>;
}

export interface RunReport {
  format?: number;
  kind?: string;
  run?: Record<string, unknown>;
  summary: RunSummary;
  scenarios: ScenarioReport[];
}
