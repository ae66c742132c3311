import { customAlphabet } from "nanoid";
import { z } from "zod";

// URL- and filename-safe alphabet without '-' or '_' so a uid can never look like a path or a flag.
const UID_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const UID_LENGTH = 21;
const generate = customAlphabet(UID_ALPHABET, UID_LENGTH);

export const UID_PATTERN = /^[0-9A-Za-z]{21}$/;

/** A data item's or a run's identity: 21 alphanumeric characters (nanoid, ~125 bits). */
export const Uid = z
  .string()
  .regex(UID_PATTERN, "must be a 21-character alphanumeric uid")
  .brand<"Uid">();
export type Uid = z.infer<typeof Uid>;

export function newUid(): Uid {
  return generate() as Uid;
}

export function isUid(value: unknown): value is Uid {
  return typeof value === "string" && UID_PATTERN.test(value);
}
