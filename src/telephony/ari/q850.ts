// Pure mapping from what Asterisk says about a call that never connected (a Q.850 hang-up
// cause, a Dial `dialstatus`) to the port's DialFailure. The dial status, when there is one,
// is Asterisk's own summary and wins over the cause.

import type { DialFailure } from '../port';

/** Q.850 cause codes the adapter reasons about (ChannelDestroyed `cause`). */
export const Q850 = {
  unallocatedNumber: 1,
  noRouteToDestination: 3,
  normalClearing: 16,
  userBusy: 17,
  noUserResponding: 18,
  noAnswer: 19,
  subscriberAbsent: 20,
  callRejected: 21,
  destinationOutOfOrder: 27,
  invalidNumberFormat: 28,
  noCircuitAvailable: 34,
  networkOutOfOrder: 38,
  temporaryFailure: 41,
  switchingEquipmentCongestion: 42,
  requestedChannelUnavailable: 44,
  resourceUnavailable: 47,
} as const;

const BY_CAUSE: ReadonlyMap<number, DialFailure> = new Map<number, DialFailure>([
  [Q850.userBusy, 'busy'],
  [Q850.noUserResponding, 'no-answer'],
  [Q850.noAnswer, 'no-answer'],
  [Q850.callRejected, 'rejected'],
  [Q850.unallocatedNumber, 'unreachable'],
  [2, 'unreachable'], // no route to specified transit network
  [Q850.noRouteToDestination, 'unreachable'],
  [Q850.subscriberAbsent, 'unreachable'],
  [22, 'unreachable'], // number changed
  [Q850.destinationOutOfOrder, 'unreachable'],
  [Q850.invalidNumberFormat, 'unreachable'],
  [Q850.networkOutOfOrder, 'unreachable'],
  [Q850.noCircuitAvailable, 'congestion'],
  [Q850.temporaryFailure, 'congestion'],
  [Q850.switchingEquipmentCongestion, 'congestion'],
  [Q850.requestedChannelUnavailable, 'congestion'],
  [Q850.resourceUnavailable, 'congestion'],
]);

/** The failure a Q.850 cause means for a call that was never answered. */
export function failureFromCause(cause: number | undefined): DialFailure {
  if (cause === undefined) return 'failed';
  return BY_CAUSE.get(cause) ?? 'failed';
}

/** The failure a Dial event's `dialstatus` means, or undefined when it decides nothing. */
export function failureFromDialStatus(status: string | undefined): DialFailure | undefined {
  switch (status) {
    case 'BUSY':
      return 'busy';
    case 'NOANSWER':
      return 'no-answer';
    case 'CONGESTION':
      return 'congestion';
    case 'CHANUNAVAIL':
      return 'unreachable';
    default:
      // RINGING, PROGRESS, ANSWER, CANCEL (we hung up) and '' say nothing about a failure.
      return undefined;
  }
}

/** A failure for a call that ended before it was answered: the dial status first, then the cause. */
export function dialFailure(
  cause: number | undefined,
  dialStatus: string | undefined,
): DialFailure {
  return failureFromDialStatus(dialStatus) ?? failureFromCause(cause);
}

/** Asterisk's AMDSTATUS as carried in StasisStart args. */
export type AmdStatus = 'HUMAN' | 'MACHINE' | 'NOTSURE' | 'HANGUP';

export function parseAmdStatus(s: string | undefined): AmdStatus | undefined {
  return s === 'HUMAN' || s === 'MACHINE' || s === 'NOTSURE' || s === 'HANGUP' ? s : undefined;
}
