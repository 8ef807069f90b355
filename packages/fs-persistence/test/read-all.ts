/** Every record `read()` yields, in order: what a replay would see. */
export async function readAll<R>(persistence: { read(): AsyncIterable<R> }): Promise<R[]> {
  const out: R[] = [];
  for await (const record of persistence.read()) out.push(record);
  return out;
}
