import path from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "@gently/supervisor";
import { spawnTs } from "@gently/testing";

/**
 * The 5-minute version of `npm run soak` (the README's goal is 8 hours): the
 * whole system on the simulator with faults at random times must lose no
 * volume, never leave a laser on, and end with every service up. Memory is
 * reported, not judged, at this length.
 */
describe("soak, 5 minutes", () => {
  it("images three embryos in turn through a service kill and a nats-server kill: nothing lost, lasers never left on, every service up", async () => {
    const soak = spawnTs(path.join(REPO_ROOT, "tests/soak/soak.ts"), {}, ["--minutes", "5", "--interval-s", "20", "--report-every-s", "60", "--json"]);
    const { code } = await soak.exited;
    const output = soak.lines.join("\n");
    const summaryLine = soak.lines.find((l) => l.startsWith("soak summary "));
    expect(summaryLine, output.slice(-4000)).toBeDefined();
    const summary = JSON.parse(summaryLine!.slice("soak summary ".length));
    console.log(soak.lines.slice(soak.lines.findIndex((l) => l.includes("── soak result ──"))).join("\n"));

    expect(summary.lost, "volumes lost").toBe(0);
    expect(summary.lasers_left_on, "lasers left on").toEqual([]);
    expect(summary.every_service_up).toBe(true);
    expect(summary.faults, "a service kill and a nats-server kill").toHaveLength(2);
    expect(summary.volumes_written, "volumes written").toBeGreaterThanOrEqual(15);
    expect(summary.volumes_indexed).toBe(summary.volumes_written);
    expect(summary.viewer_events, "the viewer's event stream saw the run").toBeGreaterThan(0);
    // a report every minute: process table, consumers, volumes
    expect(soak.lines.filter((l) => l.startsWith("── soak at ")).length).toBeGreaterThanOrEqual(4);
    expect(output).toMatch(/JetStream consumers: GENTLY_DATA \d+, GENTLY_RUNS \d+; durable indexer: pending \d+/);
    expect(code).toBe(0);
  }, 480_000);
});
