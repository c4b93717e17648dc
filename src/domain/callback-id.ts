// Callback ids: `<node>-<UUID version 7>`. The UUID starts with the creation time in ms, so new
// rows land at the end of every index keyed by id instead of on a random page of it (a random
// UUID dirtied one more page per index per booking), and keeps 74 random bits so that ids
// cannot be guessed.

/** A version 7 UUID for instant `ms` built from 10 random bytes. */
export function uuidV7(ms: number, random: Uint8Array): string {
  if (random.length < 10) throw new Error('uuidV7 needs 10 random bytes');
  const time = Math.max(0, Math.floor(ms)).toString(16).padStart(12, '0').slice(-12);
  const hex = Buffer.from(random.buffer, random.byteOffset, 10).toString('hex');
  const variant = ((parseInt(hex.slice(3, 4), 16) & 0x3) | 0x8).toString(16);
  return (
    `${time.slice(0, 8)}-${time.slice(8, 12)}-7${hex.slice(0, 3)}-` +
    `${variant}${hex.slice(4, 7)}-${hex.slice(8, 20)}`
  );
}
