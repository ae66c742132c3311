import type { GentlyClient } from "@gently/client";
import { GentlyError } from "@gently/protocol";

/** The CLI's client; an unreachable NATS is "unavailable" (exit 3), not a crash. */
export async function connectClient(): Promise<GentlyClient> {
  // loaded when a command connects: `gently --help` and flag errors stay fast
  const { connect, defaultNatsUrl } = await import("@gently/client");
  try {
    return await connect({ name: "gently-cli" });
  } catch (err) {
    throw new GentlyError("unavailable", `NATS at ${defaultNatsUrl()} is not reachable: ${(err as Error).message}`);
  }
}

/** Runs fn with a connected client and always closes it. */
export async function withClient<T>(fn: (client: GentlyClient) => Promise<T>): Promise<T> {
  const client = await connectClient();
  try {
    return await fn(client);
  } finally {
    await client.close().catch(() => undefined);
  }
}
