/**
 * NATS accounts of the system: one user per service plus the copilot, each
 * with least-privilege permissions defined in nats.conf. Passwords never live
 * in files of the repo or the image: nats.conf reads them from the
 * environment variable passwordEnvVar(user).
 */
export const NATS_USERS = ["hardware", "writer", "plan-runner", "indexer", "sam", "viz", "copilot"] as const;
export type NatsUser = (typeof NATS_USERS)[number];

/** GENTLY_PW_<USER>, e.g. GENTLY_PW_PLAN_RUNNER. */
export function passwordEnvVar(user: string): string {
  return `GENTLY_PW_${user.toUpperCase().replace(/[^A-Z0-9]/g, "_")}`;
}

/**
 * Each user's private inbox prefix: replies to a user's requests go only
 * there, and nats.conf lets no other user subscribe to it.
 */
export function inboxPrefixFor(user: string): string {
  return `_INBOX.${user}`;
}
