import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import type { Progress } from "@modelcontextprotocol/sdk/types.js";
import { decode } from "jpeg-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type GentlyClient } from "@gently/client";
import { REPO_ROOT } from "@gently/supervisor";
import { startTestSystem, waitFor, type TestSystem } from "@gently/testing";

type Content = { type: "text"; text: string } | { type: "image"; data: string; mimeType: string };

describe("gently mcp (the SDK's own client spawning the CLI over stdio, real system)", () => {
  let system: TestSystem;
  let mcp: Client;
  let gently: GentlyClient;

  beforeAll(async () => {
    system = await startTestSystem({ services: ["hardware", "writer", "plan-runner", "indexer"] });
    const account = { GENTLY_NATS_URL: system.nats.url, GENTLY_STORAGE: system.storage, GENTLY_NATS_USER: "copilot", GENTLY_NATS_PASSWORD: system.credentials.copilot };
    mcp = new Client({ name: "gently-test-agent", version: "1.0.0" });
    await mcp.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: [path.join(REPO_ROOT, "libs/cli/bin/gently.js"), "mcp"],
        env: { PATH: process.env.PATH ?? "", ...account },
        stderr: "pipe",
      }),
    );
    gently = await connect({ url: system.nats.url, user: "copilot", pass: system.credentials.copilot });
  }, 120_000);
  afterAll(async () => {
    await mcp?.close();
    await gently?.close();
    await system?.stop();
  });

  it("lists one tool per allow-listed plan with the plan's JSON Schema, the copilot's names and show_image", async () => {
    const { tools } = await mcp.listTools();
    const byName = new Map(tools.map((t) => [t.name, t]));
    const plans = await gently.tools();
    for (const plan of plans) expect(byName.get(plan.name)?.inputSchema, plan.name).toEqual(plan.input_schema);
    for (const name of ["move", "acquire", "snap", "detect_image", "calibrate", "detect", "show_image"]) expect(byName.has(name), name).toBe(true);
  });

  it("acquire_volume: progress notifications, then uid and path and the volume as a JPEG of at most 800 px", async () => {
    const progress: Progress[] = [];
    const result = await mcp.callTool({ name: "acquire_volume", arguments: { num_slices: 6, exposure_ms: 1 } }, undefined, {
      onprogress: (p) => progress.push(p),
      timeout: 120_000,
    });
    const content = result.content as Content[];
    expect(result.isError).toBe(false);
    const summary = JSON.parse((content[0] as { text: string }).text);
    expect(summary.status).toBe("success");
    expect(summary.volumes[0]).toMatchObject({ dtype: "uint16", shape: [6, expect.any(Number), expect.any(Number)] });
    expect(summary.volumes[0].path).toContain(summary.volumes[0].uid);
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.at(-1)!.progress).toBe(progress.at(-1)!.total);
    const image = content.find((c) => c.type === "image") as { data: string; mimeType: string };
    expect(image.mimeType).toBe("image/jpeg");
    const jpeg = decode(Buffer.from(image.data, "base64"), { useTArray: true });
    expect(Math.max(jpeg.width, jpeg.height)).toBeLessThanOrEqual(800);

    // the volume is offered as a resource, readable as the same kind of JPEG
    await waitFor(async () => (await mcp.listResources()).resources.some((r) => r.uri === `gently://volumes/${summary.volumes[0].uid}`), 15_000, "the volume among the resources");
    const read = await mcp.readResource({ uri: `gently://volumes/${summary.volumes[0].uid}` });
    const blob = read.contents.find((c) => c.mimeType === "image/jpeg") as { blob: string };
    expect(decode(Buffer.from(blob.blob, "base64"), { useTArray: true }).width).toBeLessThanOrEqual(800);
  });

  it("refuses an out-of-limit move as a tool error naming the limit; nothing moves", async () => {
    const result = await mcp.callTool({ name: "move", arguments: { x: 999_999, y: 0 } });
    expect(result.isError).toBe(true);
    const body = JSON.parse((result.content as Content[])[0].type === "text" ? ((result.content as Content[])[0] as { text: string }).text : "{}");
    expect(body.error.code).toBe("limit_violation");
    expect(body.error.message).toMatch(/999999/);
  });

  it("cancelling a timelapse aborts its run and leaves the lasers off", async () => {
    const cancel = new AbortController();
    let progressed = false;
    const call = mcp.callTool({ name: "timelapse_volume", arguments: { num_timepoints: 1000, interval_s: 0.5, num_slices: 5, exposure_ms: 1 } }, undefined, {
      signal: cancel.signal,
      onprogress: () => {
        progressed = true;
      },
      timeout: 120_000,
    });
    const settled = call.catch((err: Error) => err);
    await waitFor(() => progressed, 60_000, "the timelapse to report progress");
    cancel.abort("enough");
    expect(await settled).toBeInstanceOf(Error);
    await waitFor(async () => (await gently.history({ limit: 5 })).some((r) => r.plan === "timelapse_volume"), 30_000, "the timelapse to end");
    const run = (await gently.history({ limit: 5 })).find((r) => r.plan === "timelapse_volume")!;
    expect(run.exit_status).toBe("abort");
    expect(run.reason).toMatch(/cancelled by the MCP client/);
    expect(run.volume_uids.length).toBeLessThan(1000);
    const illumination = await mcp.callTool({ name: "get_illumination", arguments: {} });
    expect(JSON.parse(((illumination.content as Content[])[0] as { text: string }).text).result.laser_config).toBe("ALL OFF");
  });

  it("show_image: a slice of a volume, channel and size as asked; bad options refused naming the field", async () => {
    const [volume] = (await gently.history({ limit: 20 })).filter((r) => r.plan === "acquire_volume").flatMap((r) => r.volume_uids);
    const shown = await mcp.callTool({ name: "show_image", arguments: { uid: volume, view: "slice", z: 2, max_px: 200 } });
    const image = (shown.content as Content[]).find((c) => c.type === "image") as { data: string };
    const jpeg = decode(Buffer.from(image.data, "base64"), { useTArray: true });
    expect(Math.max(jpeg.width, jpeg.height)).toBe(200);
    const bad = await mcp.callTool({ name: "show_image", arguments: { uid: volume, max_px: 5 } });
    expect(bad.isError).toBe(true);
    expect(JSON.parse(((bad.content as Content[])[0] as { text: string }).text).error.field).toBe("max_px");
  });
});
