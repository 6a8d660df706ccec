// Stage 1 — create-module-list
//
// Reads the community wiki page (fixtures/catalogue/modules.md), where modules are listed
// in Markdown tables grouped under category headings, and writes the normalized module
// list to website/data/modules.stage.1.json.
//
// Run from the repository root: node pipeline/stages/create-module-list.mjs

import fs from "node:fs";
import path from "node:path";

import { failer, stableJson, writeFileAtomic } from "./stage-helpers.mjs";

const STAGE = "create-module-list";
const fail = failer(STAGE);
const WIKI_PAGE = "fixtures/catalogue/modules.md";
const OUTPUT = "website/data/modules.stage.1.json";

// A module name becomes a folder name (modules/<name>/) later on, so it must be a plain one.
const MODULE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const NAME_LINK = /^\[([^\]]+)\]\(\s*<?([^\s<>()]+)>?(?:\s+"[^"]*")?\s*\)$/;
const SEPARATOR_CELL = /^:?-{3,}:?$/;

function readText(file) {
  try {
    return fs.readFileSync(file, "utf8").replace(/^\uFEFF/, "");
  } catch (error) {
    if (error.code === "ENOENT") fail(`cannot read ${file}: file not found`);
    fail(`cannot read ${file}: ${error.code || error.message}`);
  }
}

// JSON with object keys sorted at every level, so equal data always gives equal bytes.
// Write next to the target, then rename: a reader never sees a half-written file.
// Split one table row into cells; `\|` is a literal pipe inside a cell.
function splitRow(line) {
  let text = line.trim();
  if (text.startsWith("|")) text = text.slice(1);
  if (text.endsWith("|") && !text.endsWith("\\|")) text = text.slice(0, -1);
  const cells = [];
  let current = "";
  for (let i = 0; i < text.length; i += 1) {
    if (text[i] === "\\" && text[i + 1] === "|") {
      current += "|";
      i += 1;
    } else if (text[i] === "|") {
      cells.push(current.trim());
      current = "";
    } else {
      current += text[i];
    }
  }
  cells.push(current.trim());
  return cells;
}

// Inline Markdown to plain text: links keep their text, emphasis and code marks go.
function plainText(markdown) {
  return markdown
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1")
    .replace(/(\*\*|__|`)/g, "")
    .replace(/\\([\\`*_{}[\]()#+\-.!|])/g, "$1")
    .replace(/\s+/g, " ")
    .trim();
}

// https://host/owner/name(.git)(/) -> { url: "https://host/owner/name", id: "owner/name" }
function parseRepositoryUrl(text) {
  let url;
  try {
    url = new URL(text);
  } catch {
    return null;
  }
  if (url.protocol !== "https:" || url.search || url.hash) return null;
  const segments = url.pathname.split("/").filter(Boolean);
  if (segments.length < 2) return null;
  segments[segments.length - 1] = segments[segments.length - 1].replace(/\.git$/, "");
  const id = segments.join("/");
  return { url: `https://${url.host.toLowerCase()}/${id}`, id };
}

function columnIndexes(headerCells) {
  const wanted = {
    name: ["name", "module", "module name"],
    maintainer: ["author", "maintainer", "authors"],
    description: ["description"],
  };
  const indexes = {};
  headerCells.forEach((cell, index) => {
    const label = plainText(cell).toLowerCase();
    for (const [column, labels] of Object.entries(wanted)) {
      if (labels.includes(label) && indexes[column] === undefined) indexes[column] = index;
    }
  });
  return Object.keys(wanted).every((column) => indexes[column] !== undefined) ? indexes : null;
}

function parseWikiPage(text) {
  const lines = text.split(/\r?\n/);
  const modules = [];
  const warnings = [];
  let category = null;
  let fence = null;
  let i = 0;

  while (i < lines.length) {
    const line = lines[i];
    const fenceMatch = line.match(/^\s*(```|~~~)/);
    if (fenceMatch) {
      if (fence === null) fence = fenceMatch[1];
      else if (fence === fenceMatch[1]) fence = null;
      i += 1;
      continue;
    }
    if (fence !== null) {
      i += 1;
      continue;
    }
    const heading = line.match(/^(#{1,6})\s+(.*?)\s*#*\s*$/);
    if (heading) {
      // The page title (level 1) is not a category; any deeper heading is.
      category = heading[1].length === 1 ? null : plainText(heading[2]);
      i += 1;
      continue;
    }
    if (!line.trim().startsWith("|")) {
      i += 1;
      continue;
    }

    // A table: consecutive lines starting with a pipe.
    const start = i;
    const block = [];
    while (i < lines.length && lines[i].trim().startsWith("|")) {
      block.push(lines[i]);
      i += 1;
    }
    const where = `${WIKI_PAGE}:${start + 1}`;
    if (block.length < 2 || !splitRow(block[1]).every((cell) => SEPARATOR_CELL.test(cell))) {
      warnings.push(`${where}: not a table (no separator row); ignored`);
      continue;
    }
    const columns = columnIndexes(splitRow(block[0]));
    if (!columns) {
      warnings.push(`${where}: table without name, author and description columns; ignored`);
      continue;
    }
    const tableCategory = category || "Uncategorized";
    block.slice(2).forEach((row, offset) => {
      const rowWhere = `${WIKI_PAGE}:${start + 3 + offset}`;
      const cells = splitRow(row);
      const link = (cells[columns.name] || "").match(NAME_LINK);
      if (!link) {
        warnings.push(`${rowWhere}: the name is not a link to a repository; row skipped`);
        return;
      }
      const name = plainText(link[1]);
      if (!MODULE_NAME.test(name)) {
        warnings.push(`${rowWhere}: "${name}" cannot be used as a folder name; row skipped`);
        return;
      }
      const repository = parseRepositoryUrl(link[2]);
      if (!repository) {
        warnings.push(`${rowWhere}: "${link[2]}" is not an https://host/owner/name URL; row skipped`);
        return;
      }
      modules.push({
        name,
        url: repository.url,
        id: repository.id,
        maintainer: plainText(cells[columns.maintainer] || ""),
        description: plainText(cells[columns.description] || ""),
        category: tableCategory,
        issues: [],
      });
    });
  }
  return { modules, warnings };
}

// Names are folder names: two rows with the same name (ignoring case) cannot both be cloned.
function dropDuplicates(modules, warnings) {
  const seen = new Map();
  const kept = [];
  for (const module of modules) {
    const key = module.name.toLowerCase();
    if (seen.has(key)) {
      warnings.push(`"${module.name}" (${module.url}) is listed again after ${seen.get(key)}; the later row is skipped`);
      continue;
    }
    seen.set(key, module.url);
    kept.push(module);
  }
  return kept;
}

// Plain code-unit comparison: independent of the machine's locale.
function compareModules(a, b) {
  const keys = [[a.name.toLowerCase(), b.name.toLowerCase()], [a.name, b.name], [a.id, b.id]];
  for (const [left, right] of keys) {
    if (left < right) return -1;
    if (left > right) return 1;
  }
  return 0;
}

const { modules: parsed, warnings } = parseWikiPage(readText(WIKI_PAGE));
const modules = dropDuplicates(parsed, warnings).sort(compareModules);
for (const warning of warnings) console.error(`${STAGE}: warning: ${warning}`);
if (modules.length === 0) fail(`no module rows found in ${WIKI_PAGE}; has the page layout changed?`);

writeFileAtomic(OUTPUT, stableJson({ modules }));

const usedCategories = [...new Set(modules.map((module) => module.category))].sort();
console.log(`${STAGE}: read ${WIKI_PAGE}: ${modules.length} modules in ${usedCategories.length} categories`);
for (const name of usedCategories) {
  console.log(`${STAGE}:   ${name}: ${modules.filter((module) => module.category === name).length}`);
}
if (warnings.length) console.log(`${STAGE}: ${warnings.length} rows or tables skipped (see the warnings on stderr)`);
console.log(`${STAGE}: wrote ${OUTPUT}`);
