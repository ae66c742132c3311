const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeJson(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

/** Parses a body; an empty body reads as `{}` so parameterless requests need no payload. */
export function decodeJson(data: Uint8Array): unknown {
  if (data.length === 0) return {};
  return JSON.parse(decoder.decode(data));
}
