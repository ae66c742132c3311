import { describe, expect, it } from "vitest";
import { z } from "zod";
import { GentlyError } from "./errors";

function refusal(schema: z.ZodType, input: unknown, prefix = ""): GentlyError {
  const parsed = schema.safeParse(input);
  if (parsed.success) throw new Error("expected a refusal");
  return GentlyError.fromZod(parsed.error, prefix, input);
}

describe("GentlyError.fromZod", () => {
  const Params = z.strictObject({
    num_slices: z.number().int().min(1).max(2000),
    state: z.enum(["Open", "Closed"]).optional(),
    name: z.string().min(2).optional(),
    custom: z.number().refine((v) => v !== 13, "13 brings bad luck").optional(),
  });

  it("names the field, the kind expected and the value given", () => {
    const err = refusal(Params, { num_slices: "many" }, "params");
    expect(err.code).toBe("invalid_request");
    expect(err.field).toBe("params.num_slices");
    expect(err.message).toBe('params.num_slices: expected number, got "many"');
  });

  it("names the limit and the value given for numbers out of range", () => {
    expect(refusal(Params, { num_slices: 0 }).message).toBe("num_slices: must be >= 1, got 0");
    expect(refusal(Params, { num_slices: 5000 }).message).toBe("num_slices: must be <= 2000, got 5000");
    expect(refusal(Params, { num_slices: 2.5 }).message).toBe("num_slices: expected int, got 2.5");
  });

  it("lists the allowed values, unknown fields, required fields and lengths", () => {
    expect(refusal(Params, { num_slices: 1, state: "Ajar" }).message).toBe('state: must be one of "Open", "Closed", got "Ajar"');
    expect(refusal(Params, { num_slices: 1, colour: "red" }).message).toBe("unknown field colour");
    expect(refusal(Params, {}).message).toBe("num_slices: required (number)");
    expect(refusal(Params, { num_slices: 1, name: "x" }).message).toBe("name: must have >= 2 characters, got 1");
  });

  it("shows objects and arrays by their kind only, however deep they nest", () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(refusal(Params, { num_slices: deep }).message).toBe("num_slices: expected number, got an array of 1");
    expect(refusal(Params, { num_slices: { a: 1 } }).message).toBe("num_slices: expected number, got an object");
    expect(refusal(Params, { num_slices: "x".repeat(500) }).message).toMatch(/^num_slices: expected number, got "x{50,}\.\.\.$/);
  });

  it("keeps a schema's own message as written", () => {
    expect(refusal(Params, { num_slices: 1, custom: 13 }).message).toBe("custom: 13 brings bad luck");
  });

  it("lists every issue in details when there are several", () => {
    const err = refusal(Params, { num_slices: 0, state: "Ajar" });
    expect((err.details as { issues: unknown[] }).issues).toHaveLength(2);
  });
});
