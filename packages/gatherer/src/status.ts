/** Slot status rules of segment_gatherer v0.20.0 (spec §3.5). */

export enum Status {
  NOT_READY = 'SLOT_NOT_READY',
  NONCRITICAL_NOT_READY = 'SLOT_NONCRITICAL_NOT_READY',
  READY = 'SLOT_READY',
  READY_BUT_WAIT_FOR_MORE = 'SLOT_READY_BUT_WAIT_FOR_MORE',
  OBSOLETE_TIMEOUT = 'SLOT_OBSOLETE_TIMEOUT',
}

/** The per-pattern file sets of a slot. */
export interface SlotPattern {
  isCriticalSet: boolean;
  critical: Set<string>;
  wanted: Set<string>;
  all: Set<string>;
  received: Set<string>;
  /** uid → seconds after slot creation, for files that came after all critical ones (logging only). */
  delayed: Map<string, number>;
  /** One-shot premature-publish counter; -1 when disabled or used. */
  filesTillPrematurePublish: number;
}

/** The wanted ∪ critical masks of a pattern. */
export function wantedAndCritical(p: SlotPattern): Set<string> {
  const s = new Set(p.wanted);
  for (const m of p.critical) s.add(m);
  return s;
}

/**
 * One pattern's status. Like Python's get_status this consumes the premature-publish counter
 * when it fires.
 */
export function patternStatus(p: SlotPattern): Status {
  let status = p.isCriticalSet ? Status.NOT_READY : Status.NONCRITICAL_NOT_READY;
  // |(wanted ∪ critical) ∩ received| and whether wanted ∪ critical ⊆ received, without building the union.
  // forEach, not for-of: no iterator result per mask in the interpreter.
  let n = 0;
  let all = true;
  p.wanted.forEach((m) => {
    if (p.received.has(m)) n++;
    else all = false;
  });
  p.critical.forEach((m) => {
    if (p.wanted.has(m)) return;
    if (p.received.has(m)) n++;
    else all = false;
  });
  if (n === p.filesTillPrematurePublish) {
    p.filesTillPrematurePublish = -1;
    status = Status.READY_BUT_WAIT_FOR_MORE;
  }
  if (all) status = Status.READY;
  return status;
}

/**
 * The combined status of a slot, exactly as Python's get_collection_status.
 * `statuses` is in pattern order; `hasReceived(name)` tells whether a pattern received any file.
 */
export function collectionStatus(statuses: Array<[string, Status]>, timedOut: boolean, hasReceived: (name: string) => boolean): Status {
  if (statuses.length === 0) return Status.NOT_READY;
  const values = statuses.map((e) => e[1]);
  const has = (s: Status): boolean => values.includes(s);
  if (values.every((v) => v === Status.READY)) return Status.READY;
  if (timedOut) {
    if (has(Status.NONCRITICAL_NOT_READY) && (has(Status.READY) || has(Status.READY_BUT_WAIT_FOR_MORE))) return Status.READY;
    if (has(Status.READY_BUT_WAIT_FOR_MORE) && !has(Status.NOT_READY)) return Status.READY;
    if (values.every((v) => v === Status.NONCRITICAL_NOT_READY)) {
      for (const [name] of statuses) if (hasReceived(name)) return Status.READY;
      return Status.OBSOLETE_TIMEOUT;
    }
    return Status.OBSOLETE_TIMEOUT;
  }
  if (has(Status.NOT_READY)) return Status.NOT_READY;
  if (has(Status.NONCRITICAL_NOT_READY)) return Status.NONCRITICAL_NOT_READY;
  if (has(Status.READY_BUT_WAIT_FOR_MORE)) return Status.READY_BUT_WAIT_FOR_MORE;
  // Unreachable with the five statuses (OBSOLETE is never a pattern status); Python returns None.
  return Status.NOT_READY;
}
