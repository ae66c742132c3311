import { readFileSync } from "node:fs";
import path from "node:path";
import { NATS_USERS, type NatsUser } from "@gently/protocol";
import { REPO_ROOT } from "@gently/supervisor";

/** Whether a NATS subject matches a permission pattern ('*' one token, '>' one or more). */
export function subjectMatches(pattern: string, subject: string): boolean {
  const p = pattern.split(".");
  const s = subject.split(".");
  for (let i = 0; i < p.length; i++) {
    if (p[i] === ">") return s.length > i;
    if (i >= s.length) return false;
    if (p[i] !== "*" && p[i] !== s[i]) return false;
  }
  return p.length === s.length;
}

/** One account's publish permissions: what it may publish unless a deny pattern matches too. */
export interface PublishPermissions {
  allow: string[];
  deny: string[];
}

/**
 * The publish permissions of nats.conf, read from the file the system runs
 * with, so the suite sends each request under an account nats.conf really
 * lets call it and follows any change to the file.
 */
export function publishPermissions(file = path.join(REPO_ROOT, "nats.conf")): Map<NatsUser, PublishPermissions> {
  const text = readFileSync(file, "utf8")
    .split("\n")
    .map((line) => line.replace(/#.*$/, ""))
    .join("\n");
  const lists = new Map<NatsUser, PublishPermissions>();
  const userBlocks = text.split(/\{\s*user:\s*/).slice(1);
  const patterns = (list: string | undefined) => (list === undefined ? [] : [...list.matchAll(/"([^"]+)"/g)].map((m) => m[1]!));
  for (const block of userBlocks) {
    const user = /^([\w-]+)/.exec(block)?.[1];
    const publish = /publish:\s*\{([\s\S]*?)\}\s*subscribe:/.exec(block)?.[1];
    if (!user || publish === undefined || !(NATS_USERS as readonly string[]).includes(user)) continue;
    lists.set(user as NatsUser, {
      allow: patterns(/allow:\s*\[([\s\S]*?)\]/.exec(publish)?.[1]),
      deny: patterns(/deny:\s*\[([\s\S]*?)\]/.exec(publish)?.[1]),
    });
  }
  return lists;
}

/** Whether nats.conf lets an account publish on a subject. */
export function mayPublish(permissions: PublishPermissions | undefined, subject: string): boolean {
  if (!permissions) return false;
  return permissions.allow.some((p) => subjectMatches(p, subject)) && !permissions.deny.some((p) => subjectMatches(p, subject));
}

/** Outside callers first (the copilot), then the services in the system's order: the least-privileged account that may call. */
const PREFERENCE: NatsUser[] = ["copilot", "plan-runner", "hardware", ...NATS_USERS.filter((u) => !["copilot", "plan-runner", "hardware"].includes(u))];

/** The account a request on this subject is sent under, or null when nats.conf lets no account publish it. */
export function callerOf(subject: string, lists = publishPermissions()): NatsUser | null {
  for (const user of PREFERENCE) {
    if (mayPublish(lists.get(user), subject)) return user;
  }
  return null;
}
