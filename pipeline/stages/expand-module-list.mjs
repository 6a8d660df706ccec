// Stage 4 — expand-module-list
//
// For every cloned module (website/data/modules.stage.3.json, modules/<name>/) reads
// package.json and the README and adds:
//   keywords  package.json keywords, or words taken from the description when it has none
//   license   package.json license, else the license the repository host reports, else null
//   images    screenshots referenced by the README, copied to website/images/ as
//             <ModuleName>---<file>
// and writes website/data/modules.stage.4.json. A missing or unreadable package.json and a
// README image that is not in the repository become issues, never a failed stage.
//
// website/images/ is deleted and recreated on every run, so it only holds current images.
//
// Run from the repository root: node pipeline/stages/expand-module-list.mjs

import fs from "node:fs";
import path from "node:path";

import { failer, stableJson, writeFileAtomic, isObject } from "./stage-helpers.mjs";

const STAGE = "expand-module-list";
const fail = failer(STAGE);
const INPUT = "website/data/modules.stage.3.json";
const CLONES = "modules";
const IMAGES = "website/images";
const OUTPUT = "website/data/modules.stage.4.json";

const IMAGE_EXTENSIONS = new Set([".gif", ".jpeg", ".jpg", ".png", ".svg", ".webp"]);
const MAX_DERIVED_KEYWORDS = 5;
// Words that say nothing about what a module does.
const STOP_WORDS = new Set([
  "about", "after", "also", "based", "below", "bottom", "each", "every", "from", "have", "into",
  "magicmirror", "mirror", "module", "more", "nearby", "other", "over", "shows", "show", "single",
  "some", "that", "their", "them", "then", "there", "these", "this", "through", "time", "under",
  "until", "which", "while", "will", "with", "your", "you",
]);

function readJson(file) {
  let text;
  try {
    text = fs.readFileSync(file, "utf8").replace(/^\uFEFF/, "");
  } catch (error) {
    if (error.code === "ENOENT") fail(`cannot read ${file}: file not found`);
    fail(`cannot read ${file}: ${error.code || error.message}`);
  }
  try {
    return JSON.parse(text);
  } catch {
    fail(`cannot read ${file}: not valid JSON`);
  }
}

const isFile = (file) => {
  try {
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
};

function loadModules() {
  const data = readJson(INPUT);
  if (!isObject(data) || !Array.isArray(data.modules)) fail(`cannot read ${INPUT}: no "modules" list`);
  data.modules.forEach((module, index) => {
    for (const field of ["name", "description"]) {
      if (!isObject(module) || typeof module[field] !== "string") fail(`cannot read ${INPUT}: modules[${index}] has no "${field}"`);
    }
    if (!Array.isArray(module.issues)) fail(`cannot read ${INPUT}: modules[${index}] has no "issues" list`);
  });
  return data;
}

// "line L, column C" for the position V8 reports in a JSON syntax error, when it reports one.
function syntaxErrorPlace(text, error) {
  const match = String(error.message).match(/position (\d+)/);
  if (!match) return "";
  const before = text.slice(0, Number(match[1]));
  const line = before.split("\n").length;
  const column = before.length - before.lastIndexOf("\n");
  return ` (line ${line}, column ${column})`;
}

// { pkg } when package.json is a readable object, else { issue }.
function readPackageJson(moduleDir) {
  const file = path.join(moduleDir, "package.json");
  if (!isFile(file)) return { issue: "package-json-missing: no package.json in the repository" };
  const text = fs.readFileSync(file, "utf8").replace(/^\uFEFF/, "");
  let pkg;
  try {
    pkg = JSON.parse(text);
  } catch (error) {
    return { issue: `package-json-invalid: package.json is not valid JSON${syntaxErrorPlace(text, error)}` };
  }
  if (!isObject(pkg)) return { issue: "package-json-invalid: package.json does not hold a JSON object" };
  return { pkg };
}

const uniqueSorted = (words) => [...new Set(words)].sort();

function keywordsFor(pkg, description) {
  if (pkg && Array.isArray(pkg.keywords)) {
    const given = pkg.keywords
      .filter((word) => typeof word === "string")
      .map((word) => word.normalize("NFC").trim().toLowerCase().replace(/\s+/g, " "))
      .filter(Boolean);
    if (given.length) return { keywords: uniqueSorted(given), derived: false };
  }
  const words = description.normalize("NFC").toLowerCase().match(/[\p{L}\p{N}]+(?:-[\p{L}\p{N}]+)*/gu) || [];
  const picked = [];
  for (const word of words) {
    if (word.length >= 4 && !STOP_WORDS.has(word) && !picked.includes(word)) picked.push(word);
    if (picked.length === MAX_DERIVED_KEYWORDS) break;
  }
  return { keywords: uniqueSorted(picked), derived: true };
}

function licenseFor(pkg, repository) {
  if (pkg) {
    if (typeof pkg.license === "string" && pkg.license.trim()) return pkg.license.trim();
    // The old object form: "license": { "type": "MIT", "url": "..." }
    if (isObject(pkg.license) && typeof pkg.license.type === "string" && pkg.license.type.trim()) return pkg.license.type.trim();
  }
  if (isObject(repository) && typeof repository.license === "string") return repository.license;
  return null;
}

function findReadme(moduleDir) {
  let names;
  try {
    names = fs.readdirSync(moduleDir).sort();
  } catch {
    return null;
  }
  const preferred = ["readme.md", "readme.markdown", "readme"];
  for (const wanted of preferred) {
    const name = names.find((candidate) => candidate.toLowerCase() === wanted);
    if (name && isFile(path.join(moduleDir, name))) return path.join(moduleDir, name);
  }
  return null;
}

// Local image paths referenced by a README, in order of appearance, without duplicates.
function imageReferences(markdown) {
  const found = [];
  const patterns = [
    /!\[[^\]]*\]\(\s*<?([^\s<>()]+)>?(?:\s+["'][^"']*["'])?\s*\)/g,
    /<img\b[^>]*?\bsrc\s*=\s*["']([^"']+)["']/gi,
  ];
  for (const pattern of patterns) {
    for (const match of markdown.matchAll(pattern)) found.push({ at: match.index, target: match[1] });
  }
  found.sort((a, b) => a.at - b.at);
  const references = [];
  for (const { target } of found) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith("//") || target.startsWith("#")) continue;
    let reference = target.split(/[?#]/)[0];
    try {
      reference = decodeURIComponent(reference);
    } catch {
      // keep it as written
    }
    reference = reference.replace(/^\.?\//, "");
    if (reference && !references.includes(reference)) references.push(reference);
  }
  return references;
}

function copyImages(module, moduleDir, readmeFile, issues) {
  const images = [];
  if (!readmeFile) return images;
  const usedNames = new Set();
  for (const reference of imageReferences(fs.readFileSync(readmeFile, "utf8"))) {
    const extension = path.extname(reference).toLowerCase();
    if (!IMAGE_EXTENSIONS.has(extension)) continue;
    const source = path.resolve(moduleDir, reference);
    const relative = path.relative(path.resolve(moduleDir), source);
    if (relative.startsWith("..") || path.isAbsolute(relative)) {
      issues.push(`image-outside-repository: README image "${reference}" points outside the repository`);
      continue;
    }
    if (!isFile(source) || fs.lstatSync(source).isSymbolicLink()) {
      issues.push(`image-missing: README references "${reference}", which is not in the repository`);
      continue;
    }
    // <ModuleName>---<file>; two images with the same file name keep their folders apart.
    let fileName = `${module.name}---${path.basename(relative)}`;
    if (usedNames.has(fileName)) fileName = `${module.name}---${relative.split(path.sep).join("-")}`;
    usedNames.add(fileName);
    fs.copyFileSync(source, path.join(IMAGES, fileName));
    images.push(fileName);
  }
  return images;
}

const data = loadModules();
if (!fs.existsSync(CLONES) || !fs.statSync(CLONES).isDirectory()) fail(`cannot read ${CLONES}/: directory not found`);

fs.rmSync(IMAGES, { recursive: true, force: true });
fs.mkdirSync(IMAGES, { recursive: true });

const counts = { packageRead: 0, packageMissing: 0, packageInvalid: 0, images: 0, imageIssues: 0, derivedKeywords: 0 };
const modules = data.modules.map((module) => {
  const moduleDir = path.join(CLONES, module.name);
  const issues = [...module.issues];
  if (!fs.existsSync(moduleDir)) {
    issues.push(`clone-missing: ${moduleDir}/ is not there although the module was cloned`);
    return { ...module, keywords: keywordsFor(null, module.description).keywords, license: licenseFor(null, module.repository), images: [], issues };
  }
  const { pkg, issue } = readPackageJson(moduleDir);
  if (issue) {
    issues.push(issue);
    if (issue.startsWith("package-json-missing")) counts.packageMissing += 1;
    else counts.packageInvalid += 1;
  } else {
    counts.packageRead += 1;
  }
  const { keywords, derived } = keywordsFor(pkg, module.description);
  if (derived) counts.derivedKeywords += 1;
  const before = issues.length;
  const images = copyImages(module, moduleDir, findReadme(moduleDir), issues);
  counts.images += images.length;
  counts.imageIssues += issues.length - before;
  return { ...module, keywords, license: licenseFor(pkg, module.repository), images, issues };
});

writeFileAtomic(OUTPUT, stableJson({ ...data, modules }));

console.log(`${STAGE}: ${modules.length} modules; package.json read for ${counts.packageRead}, missing for ${counts.packageMissing}, invalid for ${counts.packageInvalid}`);
console.log(`${STAGE}: keywords derived from the description for ${counts.derivedKeywords} modules`);
console.log(`${STAGE}: ${counts.images} images copied to ${IMAGES}/, ${counts.imageIssues} image references broken`);
console.log(`${STAGE}: wrote ${OUTPUT}`);
