import type { RegistryStatus } from './types';

/** Self-preservation in plain words, as one sentence and a severity. */
export function selfPreservationWords(r: RegistryStatus): { level: 'ok' | 'warn' | 'info'; title: string; text: string } {
  const counts = `${r.renews_last_minute} renewals in the last minute; ${r.renews_threshold} needed, ${r.expected_renews_per_minute} expected from ${r.instances} instance${r.instances === 1 ? '' : 's'}.`;
  if (!r.self_preservation_enabled) {
    return {
      level: 'info',
      title: 'Self-preservation is off',
      text: `An instance that stops sending heartbeats is removed as soon as its lease expires. ${counts}`,
    };
  }
  if (r.self_preservation_active) {
    return {
      level: 'warn',
      title: 'Self-preservation is active: expired instances are being kept',
      text: `Fewer heartbeats arrived than the threshold, which looks more like a network problem than many services stopping at once, so the registry keeps every instance, even ones that may be gone, until renewals recover. Calls may reach dead instances meanwhile. ${counts}`,
    };
  }
  if (r.renews_last_minute < r.renews_threshold) {
    return {
      level: 'info',
      title: 'Renewals are below the threshold',
      text: `Fewer heartbeats arrived in the last minute than self-preservation asks for (normal for a minute after a start or after instances left). Self-preservation has not engaged: an instance that stops sending heartbeats is still removed when its lease expires. ${counts}`,
    };
  }
  return {
    level: 'ok',
    title: 'Registry healthy',
    text: `Heartbeats arrive as expected; an instance that stops sending them is removed when its lease expires. ${counts}`,
  };
}
