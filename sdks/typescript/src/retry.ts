/** Retries of 429 and 503: after `Retry-After` when the gateway sends it, else with
 * exponential backoff; never longer than `maxWait` seconds (a longer `Retry-After` is
 * thrown at once, for the caller to decide). */
export class RetryPolicy {
  constructor(
    readonly maxRetries = 3,
    readonly maxWait = 60,
    readonly baseDelay = 0.5,
  ) {}

  /** Seconds to wait before attempt `attempt + 1`, or null to give up. */
  delay(status: number, retryAfter: number | null, attempt: number): number | null {
    if ((status !== 429 && status !== 503) || attempt >= this.maxRetries) return null;
    const wait = retryAfter ?? this.baseDelay * 2 ** attempt;
    return wait <= this.maxWait ? wait : null;
  }
}
