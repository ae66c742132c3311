/** A configuration mistake: restarting the process cannot fix it (its exit code tells the supervisor so). */
export class FatalConfigError extends Error {
  override readonly name = "FatalConfigError";
}
