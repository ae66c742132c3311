import type { DataItem } from "@gently/protocol";

export interface FieldDifference {
  /** dotted path, e.g. "created" or "metadata.dropped_frames" */
  field: string;
  /** rows in which it differs */
  items: number;
  /** one of them, to look at */
  example_uid: string;
}

export interface IndexComparison {
  /** uids only the first index has */
  only_before: string[];
  /** uids only the second index has */
  only_after: string[];
  /** fields that differ among the rows both have, most frequent first */
  fields: FieldDifference[];
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Flattens an item into dotted leaves; arrays and scalars are leaves, compared as JSON. */
function leaves(value: unknown, prefix: string, out: Map<string, string>): void {
  if (isPlainObject(value) && (prefix === "" || prefix.startsWith("metadata"))) {
    for (const [k, v] of Object.entries(value)) leaves(v, prefix ? `${prefix}.${k}` : k, out);
    return;
  }
  out.set(prefix, JSON.stringify(value ?? null));
}

/** Row-by-row, field-by-field comparison of two indexes' contents. */
export function compareItems(before: DataItem[], after: DataItem[]): IndexComparison {
  const afterByUid = new Map(after.map((i) => [i.uid as string, i]));
  const beforeUids = new Set(before.map((i) => i.uid as string));
  const counts = new Map<string, FieldDifference>();
  for (const b of before) {
    const a = afterByUid.get(b.uid);
    if (!a) continue;
    const lb = new Map<string, string>();
    const la = new Map<string, string>();
    leaves(b, "", lb);
    leaves(a, "", la);
    for (const field of new Set([...lb.keys(), ...la.keys()])) {
      if ((lb.get(field) ?? "null") === (la.get(field) ?? "null")) continue;
      const d = counts.get(field) ?? { field, items: 0, example_uid: b.uid };
      d.items++;
      counts.set(field, d);
    }
  }
  return {
    only_before: before.filter((i) => !afterByUid.has(i.uid)).map((i) => i.uid),
    only_after: after.filter((i) => !beforeUids.has(i.uid)).map((i) => i.uid),
    fields: [...counts.values()].sort((x, y) => y.items - x.items || x.field.localeCompare(y.field)),
  };
}
