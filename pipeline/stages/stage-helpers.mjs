// Helpers shared by the bundled Node stages (Node 20 standard library only).
//
// The graph declares this file as an input artifact (`node-stage-helpers`) of every
// Node stage: a module a stage imports is not on its command line, so without that
// declaration a change here would not make the stages run again.

import fs from "node:fs";
import path from "node:path";

/** A fail(message) for one stage: one line on stderr, exit 1. */
export function failer(stage) {
  return (message) => {
    console.error(`${stage}: ${message}`);
    process.exit(1);
  };
}

export function stableJson(value) {
  const sortKeys = (item) => {
    if (Array.isArray(item)) return item.map(sortKeys);
    if (item && typeof item === "object") {
      return Object.fromEntries(Object.keys(item).sort().map((key) => [key, sortKeys(item[key])]));
    }
    return item;
  };
  return `${JSON.stringify(sortKeys(value), null, 2)}\n`;
}

export function writeFileAtomic(file, text) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const temporary = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(temporary, text, "utf8");
  fs.renameSync(temporary, file);
}

export const isObject = (value) => value !== null && typeof value === "object" && !Array.isArray(value);
