/** Any value that survives `JSON.stringify` / `JSON.parse` unchanged. */
export type JsonValue =
  | string
  | number
  | boolean
  | null
  | JsonValue[]
  | { [key: string]: JsonValue };

/** What every record has: a string `type`, and the epoch-ms `time` the core stamps if unset. */
export interface AgentRecordEnvelope {
  type: string;
  /** Epoch milliseconds. Stamped by the core when the caller did not set it. */
  time?: number;
}

// ---- Structural payload parts (no dependency on any model SDK) ----

export interface TextPart {
  type: 'text';
  text: string;
}
export interface ImagePart {
  type: 'image';
  /** A `data:<mime>;base64,` URI or a URL. */
  source: string;
  mime_type?: string;
}
export interface FilePart {
  type: 'file';
  source: string;
  mime_type?: string;
  name?: string;
}
export interface ToolCallPart {
  type: 'tool_call';
  id: string;
  name: string;
  input: JsonValue;
}
export interface ToolResultPart {
  type: 'tool_result';
  tool_call_id: string;
  content: string | Array<TextPart | ImagePart | FilePart>;
  is_error?: boolean;
}
export type ContentPart = TextPart | ImagePart | FilePart | ToolCallPart | ToolResultPart;

export interface AgentMessage {
  id?: string;
  role: 'system' | 'user' | 'assistant' | 'tool';
  content: string | ContentPart[];
  /** The model that produced an assistant message. */
  model?: string;
}

export interface ToolDefinition {
  name: string;
  description?: string;
  /** A JSON Schema for the tool's input. */
  input_schema?: { [key: string]: JsonValue };
}

/** A record's content: what the user typed or attached. */
export type PromptContent = string | ContentPart[];

// ---- The standard catalog ----

/**
 * Maps each record type to its payload (the record minus `type` and `time`). Hosts add their
 * own record types by declaration merging:
 *
 * ```ts
 * declare module '@agent-records/types' {
 *   interface AgentRecordEvents {
 *     'sandbox.start': { image: string };
 *   }
 * }
 * ```
 *
 * or pass their own map as the type parameter of {@link AgentRecord}.
 */
export interface AgentRecordEvents {
  /** First record of a log, and of each later segment. Written by the core, never a backend. */
  metadata: { protocol_version: string; created_at: number };
  /** This session was forked from another one. */
  forked: { parent_session_id: string; parent_record_count?: number };
  'turn.prompt': { turn_id: string; content: PromptContent };
  'turn.steer': { turn_id: string; content: PromptContent };
  'turn.cancel': { turn_id: string; reason?: string };
  'config.update': { changes: { [key: string]: JsonValue } };
  'permission.set_mode': { mode: string };
  'permission.record_approval_result': {
    tool_call_id: string;
    tool_name: string;
    approved: boolean;
    scope?: 'once' | 'session' | 'always';
    reason?: string;
  };
  'usage.record': {
    model: string;
    input_tokens: number;
    output_tokens: number;
    cache_read_tokens?: number;
    cache_write_tokens?: number;
    cost_usd?: number;
  };
  'full_compaction.begin': { compaction_id: string; reason?: string };
  'full_compaction.cancel': { compaction_id: string; reason?: string };
  'full_compaction.complete': { compaction_id: string; summary: string; replaced_messages: number };
  'micro_compaction.apply': { message_ids: string[]; replacement: string };
  'plan_mode.enter': { reason?: string };
  'plan_mode.cancel': { reason?: string };
  'plan_mode.exit': { plan?: string };
  'context.append_message': { message: AgentMessage };
  'context.append_loop_event': { event: string; data?: JsonValue };
  'context.clear': { reason?: string };
  'context.apply_compaction': { summary: string; replaced_messages: number };
  'context.undo': { messages: number };
  'tools.register_user_tool': { tool: ToolDefinition };
  'tools.unregister_user_tool': { name: string };
  'tools.set_active_tools': { names: string[] };
  'tools.update_store': { tool: string; state: JsonValue };
  'goal.create': { goal_id: string; description: string };
  'goal.update': {
    goal_id: string;
    description?: string;
    status?: 'active' | 'done' | 'abandoned';
  };
  'goal.clear': { goal_id?: string };
  /** Observability: persisted for inspection, never restored. */
  'llm.request': {
    request_id: string;
    model: string;
    message_count?: number;
    params?: { [key: string]: JsonValue };
  };
  /** Observability: persisted for inspection, never restored. */
  'llm.tools_snapshot': { request_id?: string; tools: ToolDefinition[] };
  /** Observability: persisted for inspection, never restored. */
  'mcp.tools_discovered': { server: string; tools: ToolDefinition[] };
}

/** The record types in a catalog (string keys only). */
export type AgentRecordType<Events extends object = AgentRecordEvents> = keyof Events & string;

/** One record of the given type: `{ type, time?, ...payload }`. */
export type AgentRecordOf<
  Type extends AgentRecordType<Events>,
  Events extends object = AgentRecordEvents,
> = { type: Type; time?: number } & Events[Type];

/** The discriminated union of every record in a catalog; narrows on `type`. */
export type AgentRecord<Events extends object = AgentRecordEvents> = {
  [Type in AgentRecordType<Events>]: AgentRecordOf<Type, Events>;
}[AgentRecordType<Events>];

/** The metadata record that opens a log and each later segment. */
export type MetadataRecord = AgentRecordOf<'metadata'>;

/** Record types persisted for observability and skipped by restore. */
export const OBSERVABILITY_RECORD_TYPES: readonly string[] = Object.freeze([
  'llm.request',
  'llm.tools_snapshot',
  'mcp.tools_discovered',
]);

/** True when `record` is a metadata record with a string `protocol_version`. */
export function isMetadataRecord(record: unknown): record is MetadataRecord {
  return (
    typeof record === 'object' &&
    record !== null &&
    (record as { type?: unknown }).type === 'metadata' &&
    typeof (record as { protocol_version?: unknown }).protocol_version === 'string'
  );
}

/** True for the observability record types, which are stored but never restored. */
export function isObservabilityRecord(record: AgentRecordEnvelope): boolean {
  return OBSERVABILITY_RECORD_TYPES.includes(record.type);
}
