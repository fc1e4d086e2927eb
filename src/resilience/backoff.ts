export interface BackoffPolicy {
  retry_delay_ms: number;
  retry_backoff: number;
  retry_max_delay_ms: number;
  retry_jitter: number;
}

/**
 * Delay before the retry that follows failed attempt `attempt` (1-based):
 * retry_delay_ms × retry_backoff^(attempt−1), capped at retry_max_delay_ms, then varied by ± retry_jitter.
 */
export function retryDelay(policy: BackoffPolicy, attempt: number, random: () => number = Math.random): number {
  const base = Math.min(policy.retry_delay_ms * policy.retry_backoff ** Math.max(0, attempt - 1), policy.retry_max_delay_ms);
  const spread = base * policy.retry_jitter * (2 * random() - 1);
  return Math.max(0, Math.round(base + spread));
}
