/** Redis Cluster key placement, computed locally (no server needed): used to check a pipeline's keys before they reach a cluster. */

/** What Redis hashes for a key: the hash tag when there is a non-empty one, else the whole key. */
export function hashTag(key: string): string {
  const open = key.indexOf('{');
  if (open === -1) return key;
  const close = key.indexOf('}', open + 1);
  if (close === -1 || close === open + 1) return key;
  return key.slice(open + 1, close);
}

/** The Redis Cluster slot of a key: CRC16 (XMODEM) of its hash tag, mod 16384. */
export function keySlot(key: string): number {
  const bytes = Buffer.from(hashTag(key), 'utf8');
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16384;
}
