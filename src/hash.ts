// A stable 32-bit string hash that every node computes alike (affinity keys, placement tie-breaks); importable anywhere.

/**
 * A 32-bit string hash: FNV-1a over the UTF-16 code units, then murmur3's finalizer so that keys
 * differing in one character land far apart. Every node must agree on it: changing it moves keys.
 */
export function hash32(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}
