// Types of the API answers: derived from src/api-types.gen.ts, which `npm run api-types` (run by
// `npm run build`, `dev` and `typecheck`) generates from web/openapi.json, the server's OpenAPI
// document. A front end that reads a field the API does not send fails to compile.
import type { components } from './api-types.gen';

type Schemas = components['schemas'];

export type Issue = Schemas['Issue'];
export type ErrorDetail = Schemas['ErrorDetail'];
export type ErrorAnswer = Schemas['ErrorAnswer'];
export type Info = Schemas['Info'];

export type ScenarioSummary = Schemas['ScenarioRow'];
export type ScenarioCard = Schemas['ScenarioCard'];
export type Defect = Schemas['Defect'];
export type Expectation = Schemas['Expectation'];
export type ParameterInfo = Schemas['Parameter'];
export type SiteProfile = Schemas['SiteRow'];
export type ScenarioSpec = Schemas['ScenarioSpec'];

/** A spec as JSON (docs/spec.md); its exact shape is the JSON Schema's (GET /api/spec/schema). */
export type Spec = Record<string, unknown>;

/** A JSON Schema node (the subset the forms understand): the spec's schema, not an API shape. */
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
  /** The spec schema's own extension: what a form needs of each IOD (builder/schema.py). */
  'x-iods'?: Record<string, IodInfo>;
  /** The transfer syntaxes a spec may name (builder/schema.py). */
  'x-transfer-syntaxes'?: Record<string, { title: string; uid: string; aliases: string[]; lossy: boolean }>;
}

export interface IodInfo {
  title: string;
  /** its name, aliases and SOP Class UID: what a spec's `iod` may say */
  names: string[];
  /** a derived object (SR, SEG, GSPS, KOS, AI capture): it takes `references` and `content` */
  derived: boolean;
  content_fields: string[];
}

export type ValidateResult = Schemas['Validation'];
export type ImportResult = Schemas['Imported'];
export type ExportResult = Schemas['Exported'];
export type DictionaryEntry = Schemas['DictionaryEntry'];

export type Job = Schemas['JobState'];
export type JobEvent = Schemas['JobEvent'];
/** What POST /api/generate, /api/generate-spec and /api/runs answer (202). */
export type JobAnswer = Schemas['JobAnswer'];
export type GeneratedDataset = Schemas['GeneratedDataset'];

export type Dataset = Schemas['DatasetRow'];
export type TreeNode = Schemas['TreeNode'];
/** What a dataset's manifest says about one file: patient, study, role, view, laterality. */
export type ImageLabel = Schemas['ImageLabel'];
export type HeaderElement = Schemas['HeaderElement'];
export type HeaderPreview = Schemas['Header'];

export type Target = Schemas['TargetRow'];
export type TargetsAnswer = Schemas['TargetList'];
export type RunCounts = Schemas['RunSummary']['counts'];
export type RunSummary = Schemas['RunSummary'];
/** A run job's result: the run summary, where it went, and the run's id. */
export type RunResult = Schemas['RunResult'];
export type PastRun = Schemas['PastRun'];
export type ScenarioReport = Schemas['ScenarioReport'];
export type RunReport = Schemas['RunReport'];

// the guided wizard (issue 16, need 4)
export type SpecPreview = Schemas['SpecPreview'];
export type PreviewInstance = Schemas['PreviewInstance'];
export type Folders = Schemas['Folders'];
/** A job without its events (GET /api/jobs): what a reloaded Runs page reattaches to. */
export type JobRow = Schemas['JobRow'];
/** A run without its records (GET /api/runs/{id}/overview). */
export type RunOverview = Schemas['RunOverview'];
export type RunScenarioRow = Schemas['RunScenarioRow'];
/** One scenario of a run, record by record (GET /api/runs/{id}/scenarios/{name}). */
export type ScenarioRecords = Schemas['ScenarioRecords'];
export type InstanceRecord = Schemas['InstanceRecord'];
export type StudyRecord = Schemas['StudyReport'];
