export { waitFor } from '../../src/testing/wait-for.ts';

/**
 * A plain pause. Only for waits that are themselves the thing under test (an idle period in which nothing may
 * happen, a producer's pacing); to wait until something has happened, use waitFor on what shows it.
 */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
