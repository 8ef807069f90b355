// A host whose restore does realistic work, for the resume case: an agent that keeps its context
// as an immutable history (a persistent list: full chunks are frozen and shared between
// versions, each append copies only the last chunk) and counts tokens and cost. Like real
// agents, it compacts its context when it grows past a budget, so its state is bounded by the
// budget, not by the log.

const CHUNK = 32;
/** Context budget in estimated tokens (4 characters each), as an agent's compaction trigger. */
const CONTEXT_BUDGET_TOKENS = 150_000;

/** An immutable list: `append` returns a new list sharing every full chunk with the old one. */
export class PersistentList {
  constructor(chunks = [], tail = [], length = 0) {
    this.chunks = chunks;
    this.tail = tail;
    this.length = length;
    Object.freeze(this);
  }
  append(item) {
    const tail = [...this.tail, item];
    if (tail.length < CHUNK)
      return new PersistentList(this.chunks, Object.freeze(tail), this.length + 1);
    return new PersistentList(
      Object.freeze([...this.chunks, Object.freeze(tail)]),
      Object.freeze([]),
      this.length + 1,
    );
  }
  toArray() {
    return [...this.chunks.flat(), ...this.tail];
  }
  static from(items) {
    let list = new PersistentList();
    for (const item of items) list = list.append(item);
    return list;
  }
}

/** Estimated tokens of a message or prompt: its text characters / 4, walking every part. */
function estimateTokens(value) {
  if (typeof value === 'string') return Math.ceil(value.length / 4);
  if (Array.isArray(value)) return value.reduce((sum, part) => sum + estimateTokens(part), 0);
  if (value && typeof value === 'object') {
    let sum = 0;
    for (const key in value) sum += estimateTokens(value[key]);
    return sum;
  }
  return 0;
}

export class AgentHost {
  constructor() {
    this.reset();
  }
  reset() {
    this.history = new PersistentList();
    this.contextTokens = 0;
    this.usage = { input: 0, output: 0, cacheRead: 0, costUsd: 0 };
    this.turns = 0;
    this.toolCalls = 0;
    this.compactions = 0;
  }

  #push(message) {
    const tokens = estimateTokens(message.content);
    this.history = this.history.append({ message, tokens });
    this.contextTokens += tokens;
    if (this.contextTokens > CONTEXT_BUDGET_TOKENS) this.#compact();
  }

  /** Keeps the newest half of the budget; the rest becomes one summary message. */
  #compact() {
    const entries = this.history.toArray();
    let kept = 0;
    let from = entries.length;
    while (from > 0 && kept + entries[from - 1].tokens <= CONTEXT_BUDGET_TOKENS / 2) {
      from--;
      kept += entries[from].tokens;
    }
    const summary = {
      message: {
        role: 'system',
        content: `summary of ${from} earlier messages (compaction ${this.compactions + 1})`,
      },
      tokens: 10,
    };
    this.history = PersistentList.from([summary, ...entries.slice(from)]);
    this.contextTokens = kept + summary.tokens;
    this.compactions++;
  }

  /** The core's `restore`: one record re-applied. */
  restoreRecord = (record) => {
    switch (record.type) {
      case 'context.append_message':
        for (const part of record.message.content ?? [])
          if (part.type === 'tool_call') this.toolCalls++;
        this.#push(record.message);
        break;
      case 'turn.prompt':
        this.turns++;
        this.#push({ role: 'user', content: record.content });
        break;
      case 'usage.record':
        this.usage = {
          input: this.usage.input + record.input_tokens,
          output: this.usage.output + record.output_tokens,
          cacheRead: this.usage.cacheRead + record.cache_read_tokens,
          costUsd: this.usage.costUsd + record.cost_usd,
        };
        break;
    }
  };

  /** The snapshot's `take`: a plain value the host will not mutate (every part is immutable). */
  take = () => ({
    history: this.history.toArray(),
    contextTokens: this.contextTokens,
    usage: this.usage,
    turns: this.turns,
    toolCalls: this.toolCalls,
    compactions: this.compactions,
  });

  /** The snapshot's `restore`: the state replaced at once. */
  restoreState = (state) => {
    this.history = PersistentList.from(state.history);
    this.contextTokens = state.contextTokens;
    this.usage = state.usage;
    this.turns = state.turns;
    this.toolCalls = state.toolCalls;
    this.compactions = state.compactions;
  };

  /** A digest that a full replay and a snapshot resume must agree on. */
  digest() {
    const last = this.history.tail.at(-1) ?? this.history.chunks.at(-1)?.at(-1);
    return [
      this.history.length,
      this.contextTokens,
      this.usage.input,
      this.usage.output,
      this.usage.costUsd.toFixed(4),
      this.turns,
      this.toolCalls,
      this.compactions,
      last?.message?.id ?? last?.message?.role,
    ].join('/');
  }
}
