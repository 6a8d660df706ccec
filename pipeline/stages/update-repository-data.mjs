// Stage 2 — update-repository-data
//
// Adds repository metadata (stars, last commit, license, default branch, archived flag,
// open issues) to every module of website/data/modules.stage.1.json and writes
// website/data/modules.stage.2.json.
//
// The metadata comes from fixtures/catalogue/repository-api.json, an offline snapshot that
// stands in for the repository host APIs. Every record used is also kept in the cache
// website/data/gitHubData.json (keyed by module id), which is read back on the next run:
// a module that drops out of the snapshot keeps its last known data, marked as cached.
//
// GITHUB_TOKEN (optional) is acknowledged but never printed or written; this offline stage
// makes no requests with it.
//
// Run from the repository root: node pipeline/stages/update-repository-data.mjs

import fs from "node:fs";
import path from "node:path";

import { failer, stableJson, writeFileAtomic, isObject } from "./stage-helpers.mjs";

const STAGE = "update-repository-data";
const fail = failer(STAGE);
const INPUT = "website/data/modules.stage.1.json";
const SNAPSHOT = "fixtures/catalogue/repository-api.json";
const CACHE = "website/data/gitHubData.json";
const OUTPUT = "website/data/modules.stage.2.json";

const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

function readJson(file, { optional = false } = {}) {
  let text;
  try {
    text = fs.readFileSync(file, "utf8").replace(/^\uFEFF/, "");
  } catch (error) {
    if (error.code === "ENOENT") {
      if (optional) return undefined;
      fail(`cannot read ${file}: file not found`);
    }
    fail(`cannot read ${file}: ${error.code || error.message}`);
  }
  try {
    return JSON.parse(text);
  } catch {
    if (optional) {
      console.error(`${STAGE}: warning: ${file} is not valid JSON; starting with an empty cache`);
      return undefined;
    }
    fail(`cannot read ${file}: not valid JSON`);
  }
}

const isCount = (value) => Number.isInteger(value) && value >= 0;
const isDateTime = (value) => typeof value === "string" && ISO_DATE_TIME.test(value) && !Number.isNaN(Date.parse(value));

function loadModules() {
  const data = readJson(INPUT);
  if (!isObject(data) || !Array.isArray(data.modules)) fail(`cannot read ${INPUT}: no "modules" list`);
  data.modules.forEach((module, index) => {
    for (const field of ["name", "id", "url"]) {
      if (!isObject(module) || typeof module[field] !== "string") fail(`cannot read ${INPUT}: modules[${index}] has no "${field}"`);
    }
    if (!Array.isArray(module.issues)) fail(`cannot read ${INPUT}: modules[${index}] has no "issues" list`);
  });
  return data.modules;
}

// One host record, reduced to the fields we publish; a field of the wrong type becomes null.
function normalizeRecord(raw) {
  if (!isObject(raw)) return null;
  return {
    stars: isCount(raw.stars) ? raw.stars : null,
    lastCommit: isDateTime(raw.lastCommit) ? raw.lastCommit : null,
    license: typeof raw.license === "string" && raw.license.trim() ? raw.license.trim() : null,
    defaultBranch: typeof raw.defaultBranch === "string" && raw.defaultBranch ? raw.defaultBranch : null,
    archived: raw.archived === true,
    openIssues: isCount(raw.openIssues) ? raw.openIssues : null,
  };
}

// Snapshot keys may be full URLs or owner/name; both are matched without regard to case.
function repositoryKey(text) {
  return text.toLowerCase().replace(/\.git$/, "").replace(/\/+$/, "");
}

function loadSnapshot() {
  const data = readJson(SNAPSHOT);
  if (!isObject(data) || !isObject(data.repositories)) fail(`cannot read ${SNAPSHOT}: no "repositories" object`);
  if (!isDateTime(data.takenAt)) fail(`cannot read ${SNAPSHOT}: "takenAt" must be an ISO date-time`);
  const records = new Map();
  for (const [key, raw] of Object.entries(data.repositories)) {
    const record = normalizeRecord(raw);
    if (record) records.set(repositoryKey(key), record);
    else console.error(`${STAGE}: warning: ${SNAPSHOT}: the record for "${key}" is not an object; ignored`);
  }
  return { takenAt: data.takenAt, records };
}

// The cache is optional: missing or damaged means "start empty", never a failed stage.
function loadCache() {
  const data = readJson(CACHE, { optional: true });
  const entries = new Map();
  if (data === undefined) return entries;
  if (!isObject(data) || !isObject(data.repositories)) {
    console.error(`${STAGE}: warning: ${CACHE} has no "repositories" object; starting with an empty cache`);
    return entries;
  }
  for (const [id, entry] of Object.entries(data.repositories)) {
    const record = isObject(entry) ? normalizeRecord(entry.repository) : null;
    if (!record || typeof entry.url !== "string" || !isDateTime(entry.asOf)) {
      console.error(`${STAGE}: warning: ${CACHE}: dropping the malformed entry "${id}"`);
      continue;
    }
    entries.set(id, { url: entry.url, asOf: entry.asOf, repository: record });
  }
  return entries;
}

if (process.env.GITHUB_TOKEN) {
  console.log(`${STAGE}: GITHUB_TOKEN is set: using an API token (this offline stage sends no requests)`);
}

const modules = loadModules();
const snapshot = loadSnapshot();
const cache = loadCache();
const cachedBefore = cache.size;

let fromSnapshot = 0;
let fromCache = 0;
let withoutData = 0;
const enriched = modules.map((module) => {
  const record = snapshot.records.get(repositoryKey(module.url)) || snapshot.records.get(repositoryKey(module.id));
  if (record) {
    fromSnapshot += 1;
    cache.set(module.id, { url: module.url, asOf: snapshot.takenAt, repository: record });
    return { ...module, repository: record };
  }
  const cached = cache.get(module.id);
  if (cached) {
    fromCache += 1;
    return {
      ...module,
      repository: cached.repository,
      issues: [...module.issues, `repository-data-cached: not in the repository API snapshot; using cached data as of ${cached.asOf}`],
    };
  }
  withoutData += 1;
  return {
    ...module,
    repository: null,
    issues: [...module.issues, "repository-data-missing: not in the repository API snapshot and not in the cache; no stars, license or activity data"],
  };
});

const cacheObject = Object.fromEntries([...cache.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
writeFileAtomic(CACHE, stableJson({ repositories: cacheObject }));
writeFileAtomic(OUTPUT, stableJson({ repositoryDataAsOf: snapshot.takenAt, modules: enriched }));

console.log(`${STAGE}: ${modules.length} modules; repository snapshot taken at ${snapshot.takenAt} (${snapshot.records.size} records)`);
console.log(`${STAGE}: ${fromSnapshot} from the snapshot, ${fromCache} from the cache, ${withoutData} without repository data`);
console.log(`${STAGE}: cache ${CACHE}: ${cache.size} entries (${cachedBefore} read at start)`);
console.log(`${STAGE}: wrote ${OUTPUT}`);
