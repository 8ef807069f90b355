import type { AgentRecordEnvelope } from '@agent-records/types';

const WIDTH = 100;

/** One short line describing a record's payload, for `cat` and `tail`. */
export function summarizeRecord(record: AgentRecordEnvelope): string {
  const r = record as AgentRecordEnvelope & Record<string, unknown>;
  switch (record.type) {
    case 'metadata':
      return `protocol ${String(r.protocol_version)}, created ${formatTime(r.created_at)}`;
    case 'turn.prompt':
    case 'turn.steer':
      return clip(contentText(r.content));
    case 'context.append_message': {
      const message = (r.message ?? {}) as Record<string, unknown>;
      return clip(`${String(message.role ?? '?')}: ${contentText(message.content)}`);
    }
    case 'usage.record':
      return `${String(r.model ?? '?')}: ${String(r.input_tokens ?? '?')} in, ${String(r.output_tokens ?? '?')} out`;
    case 'tools.register_user_tool':
      return `tool ${String((r.tool as { name?: unknown })?.name ?? '?')}`;
    default: {
      const { type: _type, time: _time, ...payload } = r;
      return clip(JSON.stringify(payload));
    }
  }
}

function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return JSON.stringify(content ?? '');
  return content
    .map((part) => {
      const p = part as Record<string, unknown>;
      if (p.type === 'text') return String(p.text);
      if (p.type === 'tool_call') return `[call ${String(p.name)}]`;
      if (p.type === 'tool_result') return `[result ${String(p.tool_call_id)}]`;
      return `[${String(p.type)}]`;
    })
    .join(' ');
}

function clip(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > WIDTH ? `${flat.slice(0, WIDTH - 1)}…` : flat;
}

/**
 * ISO time for an epoch-ms value; the raw number for a finite time a `Date` cannot show (beyond
 * ±8.64e15 ms, which a log may hold); `-` for anything else.
 */
export function formatTime(value: unknown): string {
  if (typeof value !== 'number' || !Number.isFinite(value)) return '-';
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? `${value} (epoch ms)` : date.toISOString();
}
