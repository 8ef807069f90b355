// Realistic agent records: mostly ~300-byte messages, tool calls and usage, with a 20 KB tool
// output every 500 records. Deterministic, so every implementation writes the same bytes.

const WORDS =
  'the agent reads the file then edits the function and runs the tests again before it answers'.split(
    ' ',
  );

function sentence(seed, words) {
  let text = '';
  for (let i = 0; i < words; i++) text += `${WORDS[(seed * 7 + i * 13) % WORDS.length]} `;
  return text.trimEnd();
}

/** @param {number} i */
export function makeRecord(i) {
  const time = 1_700_000_000_000 + i * 37;
  if (i % 500 === 499) {
    return {
      type: 'context.append_message',
      time,
      message: {
        role: 'tool',
        content: [
          { type: 'tool_result', tool_call_id: `call_${i - 1}`, content: 'x'.repeat(20_000) },
        ],
      },
    };
  }
  switch (i % 4) {
    case 0:
      return {
        type: 'context.append_message',
        time,
        message: {
          id: `msg_${i}`,
          role: 'assistant',
          content: [{ type: 'text', text: sentence(i, 28) }],
        },
      };
    case 1:
      return {
        type: 'context.append_message',
        time,
        message: {
          id: `msg_${i}`,
          role: 'assistant',
          content: [
            { type: 'text', text: sentence(i, 8) },
            {
              type: 'tool_call',
              id: `call_${i}`,
              name: 'edit_file',
              input: { path: `src/module_${i % 97}.ts`, line: i % 400 },
            },
          ],
        },
      };
    case 2:
      return {
        type: 'usage.record',
        time,
        model: 'model-large-2026',
        input_tokens: 1200 + i,
        output_tokens: 300 + (i % 800),
        cache_read_tokens: 9000,
        cost_usd: 0.0123,
      };
    default:
      return { type: 'turn.prompt', time, turn_id: `turn_${i}`, content: sentence(i, 30) };
  }
}

/** @param {number} count */
export function makeRecords(count) {
  return Array.from({ length: count }, (_, i) => makeRecord(i));
}
