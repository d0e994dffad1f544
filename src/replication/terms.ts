/**
 * Durable terms of replicated entities: each node keeps, per entity, the highest term it has seen
 * and the term history of its own log (which term wrote which range of sequence numbers), in a
 * side record of the same journal, so that a restarted node still fences older terms and a log
 * that diverged from the newest one is recognised.
 *
 * @module
 */
import type { EventJournal } from "../persistence/journal.ts";

/**
 * The term history of one copy of an entity's log, shipped with `ReplicateEvents`:
 * `[term, firstSequenceNr]` pairs in increasing order; the events from `firstSequenceNr` up to
 * the next pair's were written under `term`. Pairs past a log's highest sequence number mean
 * nothing (they may be written ahead of the events).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { TermHistory } from "@casty/casty/sharding";
 * // Events 1-9 written under term 1, from 10 on under term 3 (after two promotions).
 * const history: TermHistory = [[1, 1], [3, 10]];
 * assert.equal(history.length, 2);
 * ```
 */
export type TermHistory = ReadonlyArray<readonly [term: number, from: number]>;

/** What a node keeps durably per replicated entity. */
export interface TermRecord {
  /** The highest term this node has seen for the entity; older terms are refused. */
  term: number;
  /** The terms of this node's log. */
  history: TermHistory;
  /**
   * The longest log a promoter adopted (its newest copy's length when it took its term), as told
   * by the promoters: every event up to it may have been acknowledged, so no later promoter may
   * start the entity from a shorter log. 0 when none was told.
   */
  floor: number;
}

/** The journal entity id of the side record of `entityId` (its "snapshot" holds the record). */
export function termRecordId(entityId: string): string {
  return `__casty_term__/${entityId}`;
}

/**
 * Reads the term record of `entityId` from `journal` (term 0 and no history when none).
 *
 * @param journal The node's journal.
 * @param entityId The entity.
 * @returns The record.
 */
export async function loadTermRecord(journal: EventJournal, entityId: string): Promise<TermRecord> {
  const snapshot = await journal.loadSnapshot(termRecordId(entityId));
  const state = snapshot?.state as Partial<TermRecord> | undefined;
  if (state === undefined || typeof state.term !== "number" || !Array.isArray(state.history)) {
    return { term: 0, history: [], floor: 0 };
  }
  return {
    term: state.term,
    history: state.history.map(([t, from]) => [t, from] as const),
    floor: typeof state.floor === "number" ? state.floor : 0,
  };
}

/**
 * Writes the term record of `entityId` durably, before anything that depends on it.
 *
 * @param journal The node's journal.
 * @param entityId The entity.
 * @param record The record.
 * @param now Wall-clock milliseconds for the record's timestamp.
 */
export function saveTermRecord(
  journal: EventJournal,
  entityId: string,
  record: TermRecord,
  now: number,
): Promise<void> {
  return journal.saveSnapshot(termRecordId(entityId), {
    sequenceNr: record.term,
    state: {
      term: record.term,
      history: record.history.map(([t, from]) => [t, from]),
      floor: record.floor,
    },
    timestamp: now,
  });
}

/**
 * The term under which sequence number `seq` was written (0: before any recorded term).
 *
 * @param history The log's term history.
 * @param seq The sequence number.
 * @returns Its term.
 */
export function termAt(history: TermHistory, seq: number): number {
  let term = 0;
  for (let i = 0; i < history.length; i++) {
    if (history[i][1] > seq) break;
    term = history[i][0];
  }
  return term;
}

/**
 * The history of a log whose events up to `keep` are described by `own` and whose events from
 * `keep + 1` on were written as `source` describes them.
 *
 * @param own The history of the kept prefix.
 * @param keep The last kept sequence number.
 * @param source The history of the log the rest comes from.
 * @returns The merged history, without repeated terms.
 */
export function spliceHistory(own: TermHistory, keep: number, source: TermHistory): TermHistory {
  const out: Array<readonly [number, number]> = own.filter(([, from]) => from <= keep);
  const push = (t: number, from: number) => {
    if (out.length > 0 && out[out.length - 1][0] === t) return;
    out.push([t, from]);
  };
  push(termAt(source, keep + 1), keep + 1);
  for (const [t, from] of source) if (from > keep + 1) push(t, from);
  return out;
}

/**
 * Whether a log (`history`, highest `seq`) is a prefix of another (`other`, highest
 * `otherSeq`): the same term at its last sequence number means the same events up to it, since
 * one term has one writer.
 *
 * @param history The log's history.
 * @param seq Its highest sequence number.
 * @param other The other log's history.
 * @param otherSeq Its highest sequence number.
 * @returns Whether every event of the log is in the other.
 */
export function isPrefixOf(
  history: TermHistory,
  seq: number,
  other: TermHistory,
  otherSeq: number,
): boolean {
  return seq === 0 || (seq <= otherSeq && termAt(history, seq) === termAt(other, seq));
}

/**
 * The length of the longest common prefix of two logs (`history` up to `seq`, `other` up to
 * `otherSeq`): the highest sequence number up to which both logs were written under the same
 * terms. One term has one writer, so the same term at a sequence number means the same event
 * there (and the same events before it); the first sequence number where the terms differ is
 * where the logs diverge.
 *
 * @param history One log's history.
 * @param seq Its highest sequence number.
 * @param other The other log's history.
 * @param otherSeq Its highest sequence number.
 * @returns The last sequence number of the common prefix (0: none).
 */
export function commonPrefix(
  history: TermHistory,
  seq: number,
  other: TermHistory,
  otherSeq: number,
): number {
  const limit = Math.min(seq, otherSeq);
  // Terms only change at the pairs' first sequence numbers: compare one point per stretch.
  const starts = [...new Set([1, ...history.map(([, f]) => f), ...other.map(([, f]) => f)])]
    .filter((f) => f >= 1 && f <= limit)
    .sort((a, b) => a - b);
  for (const from of starts) {
    if (termAt(history, from) !== termAt(other, from)) return from - 1;
  }
  return limit;
}

/**
 * Whether two histories are equal.
 *
 * @param a One.
 * @param b The other.
 * @returns Whether they hold the same pairs.
 */
export function sameHistory(a: TermHistory, b: TermHistory): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    if (a[i][0] !== b[i][0] || a[i][1] !== b[i][1]) return false;
  }
  return true;
}

const KEYS = new WeakMap<TermHistory, string>();

/**
 * A compact text form of a history (`"1:1,3:10"`), as batches ship it: two histories are equal
 * exactly when their keys are. Cached per history object.
 *
 * @param history The history.
 * @returns Its key.
 */
export function historyKey(history: TermHistory): string {
  let key = KEYS.get(history);
  if (key === undefined) {
    key = history.map(([t, from]) => `${t}:${from}`).join(",");
    KEYS.set(history, key);
  }
  return key;
}

const PAIR = /^(\d+):(\d+)$/;

/**
 * The history that {@linkcode historyKey} made `key` from.
 *
 * @param key A key.
 * @returns The history, or `undefined` when `key` is malformed.
 */
export function parseHistoryKey(key: string): TermHistory | undefined {
  if (key === "") return [];
  const out: Array<readonly [number, number]> = [];
  for (const part of key.split(",")) {
    const m = PAIR.exec(part);
    if (m === null) return undefined;
    out.push([Number(m[1]), Number(m[2])]);
  }
  KEYS.set(out, key);
  return out;
}
