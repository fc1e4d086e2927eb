/** Pause before try `tries + 1` of a failed Redis command: 100 ms more per failure, at most 2 s. */
export function redisRetryDelay(tries: number): number {
  return Math.min(100 * tries, 2000);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs a Redis command until it succeeds, pausing redisRetryDelay(tries) between tries, so a Redis
 * outage delays the work instead of losing it. After each failure `onFailure(error, tries)` decides:
 * true tries again, false gives up and rethrows that error (a caller that must stop, e.g. at shutdown).
 */
export async function retryForever<T>(
  command: () => Promise<T>,
  onFailure: (error: unknown, tries: number) => boolean,
  wait: (ms: number) => Promise<void> = sleep,
): Promise<T> {
  for (let tries = 1; ; tries++) {
    try {
      return await command();
    } catch (error) {
      if (!onFailure(error, tries)) throw error;
      await wait(redisRetryDelay(tries));
    }
  }
}
