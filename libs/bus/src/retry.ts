export interface RetryOptions {
  /** wait before the first retry; doubled each time up to maxDelayMs */
  firstDelayMs: number;
  maxDelayMs: number;
  /** give up (throwing the last error) once the next wait would end past this */
  giveUpAfterMs: number;
  /** errors worth another try; any other is thrown at once (default: all) */
  isRetryable?: (err: unknown) => boolean;
  /** stop retrying early (e.g. the process is stopping, the connection closed) */
  shouldStop?: () => boolean;
  /** told of each failure about to be retried */
  onRetry?: (err: unknown, delayMs: number) => void;
}

/** Runs `op` until it succeeds, retrying the failures `isRetryable` accepts with exponential backoff. */
export async function retryWithBackoff<T>(op: () => Promise<T>, opts: RetryOptions): Promise<T> {
  const deadline = Date.now() + opts.giveUpAfterMs;
  for (let delay = opts.firstDelayMs; ; delay = Math.min(delay * 2, opts.maxDelayMs)) {
    try {
      return await op();
    } catch (err) {
      if (opts.shouldStop?.() || !(opts.isRetryable?.(err) ?? true) || Date.now() + delay > deadline) throw err;
      opts.onRetry?.(err, delay);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}
