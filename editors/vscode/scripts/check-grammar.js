#!/usr/bin/env node
// Checks syntaxes/cnn.tmLanguage.json without dependencies: the JSON and its top-level keys, every
// include, every regex (compiled by JavaScript's RegExp, and free of Oniguruma-only syntax), and
// the scopes a small TextMate tokenizer gives to lines of the repository's .cnn files.
// Exits with status 1 and a list of problems when anything fails.
'use strict';

const fs = require('fs');
const path = require('path');

const extensionDir = path.resolve(__dirname, '..');
const repoRoot = path.resolve(extensionDir, '..', '..');
const grammarPath = path.join(extensionDir, 'syntaxes', 'cnn.tmLanguage.json');

const problems = [];
const fail = (message) => problems.push(message);

// The built-in layers the grammar must highlight (BUILTIN_NAMES in crates/cnn-check/src/ops.rs).
const LAYERS = [
  'conv', 'depthwise', 'pointwise', 'maxpool', 'avgpool', 'global_avgpool', 'global_maxpool',
  'adaptive_avgpool', 'blurpool', 'relu', 'relu6', 'leaky_relu', 'sigmoid', 'tanh', 'identity',
  'batchnorm', 'dropout', 'flatten', 'dense', 'softmax', 'add', 'concat',
];
const KEYWORDS = ['model', 'block', 'input', 'output', 'from', 'seq'];

// ---------------------------------------------------------------------------------------------
// 1. The JSON and its shape.

let grammar;
try {
  grammar = JSON.parse(fs.readFileSync(grammarPath, 'utf8'));
} catch (error) {
  console.error(`check-grammar: cannot read ${grammarPath}: ${error.message}`);
  process.exit(1);
}

for (const [key, type] of [['name', 'string'], ['scopeName', 'string'], ['patterns', 'array'], ['repository', 'object']]) {
  const value = grammar[key];
  const actual = Array.isArray(value) ? 'array' : typeof value;
  if (actual !== type) {
    fail(`top-level \`${key}\` should be a ${type}, is ${value === undefined ? 'missing' : actual}`);
  }
}
if (grammar.scopeName !== 'source.cnn') {
  fail(`scopeName is ${JSON.stringify(grammar.scopeName)}, package.json says "source.cnn"`);
}
const manifest = JSON.parse(fs.readFileSync(path.join(extensionDir, 'package.json'), 'utf8'));
const contributed = (manifest.contributes.grammars || []).find((g) => g.language === 'cnn');
if (!contributed || path.resolve(extensionDir, contributed.path) !== grammarPath) {
  fail('package.json does not contribute syntaxes/cnn.tmLanguage.json for the `cnn` language');
} else if (contributed.scopeName !== grammar.scopeName) {
  fail(`package.json's scopeName ${contributed.scopeName} differs from the grammar's ${grammar.scopeName}`);
}
if (problems.length > 0) {
  report();
}

// ---------------------------------------------------------------------------------------------
// 2. Every rule: known keys, includes that resolve, regexes that compile the same everywhere.

// Oniguruma accepts these, JavaScript does not (or reads them differently); VS Code runs
// Oniguruma, this script and the guarantee of portable regexes run JavaScript.
const ONIGURUMA_ONLY = [
  [/\\[GAzZhHKRXy]/, 'an Oniguruma-only escape (\\G \\A \\z \\Z \\h \\H \\K \\R \\X \\y)'],
  [/\(\?[imx-]+[):]/, 'an inline option group such as (?i) or (?x)'],
  [/\(\?>/, 'an atomic group (?>...)'],
  [/\(\?~/, 'an absent operator (?~...)'],
  [/[*+?}][+]/, 'a possessive quantifier'],
  [/\\p\{\^/, 'a negated property \\p{^...}'],
  [/\[\[:/, 'a POSIX bracket [[:alpha:]]'],
  [/\\[1-9]/, 'a back-reference (end patterns may refer to begin captures in TextMate, not here)'],
];

const compiled = new Map();
function compile(source, where) {
  if (compiled.has(source)) {
    return compiled.get(source);
  }
  let regex = null;
  if (typeof source !== 'string') {
    fail(`${where}: the regex is not a string`);
  } else {
    for (const [pattern, what] of ONIGURUMA_ONLY) {
      if (pattern.test(source)) {
        fail(`${where}: ${JSON.stringify(source)} uses ${what}`);
      }
    }
    try {
      // `u` makes JavaScript reject unknown escapes instead of reading them as letters;
      // `d` gives capture positions; `g` lets the tokenizer search from a column.
      regex = new RegExp(source, 'dgu');
    } catch (error) {
      fail(`${where}: ${JSON.stringify(source)} does not compile: ${error.message}`);
    }
  }
  compiled.set(source, regex);
  return regex;
}

const RULE_KEYS = new Set([
  'name', 'contentName', 'match', 'begin', 'end', 'while', 'captures', 'beginCaptures',
  'endCaptures', 'whileCaptures', 'patterns', 'include', 'comment', 'applyEndPatternLast',
  'repository', 'disabled',
]);
const SCOPE = /^[a-z0-9-]+(\.[a-z0-9-]+)*\.cnn$/;
let regexCount = 0;

function checkRule(rule, where) {
  if (rule === null || typeof rule !== 'object' || Array.isArray(rule)) {
    fail(`${where}: a rule must be an object`);
    return;
  }
  for (const key of Object.keys(rule)) {
    if (!RULE_KEYS.has(key)) {
      fail(`${where}: unknown key \`${key}\``);
    }
  }
  for (const key of ['name', 'contentName']) {
    if (rule[key] !== undefined && !SCOPE.test(rule[key])) {
      fail(`${where}: scope ${JSON.stringify(rule[key])} should be lower-case words ending in .cnn`);
    }
  }
  if (rule.include !== undefined) {
    if (rule.include.startsWith('#')) {
      if (!Object.prototype.hasOwnProperty.call(grammar.repository, rule.include.slice(1))) {
        fail(`${where}: include ${rule.include} names no repository entry`);
      }
    } else if (rule.include !== '$self' && rule.include !== '$base') {
      fail(`${where}: include ${JSON.stringify(rule.include)} refers to another grammar`);
    }
  }
  if (rule.match !== undefined && (rule.begin !== undefined || rule.end !== undefined)) {
    fail(`${where}: a rule has either \`match\` or \`begin\`/\`end\``);
  }
  if ((rule.begin === undefined) !== (rule.end === undefined && rule.while === undefined)) {
    fail(`${where}: \`begin\` needs \`end\` (or \`while\`) and the other way round`);
  }
  for (const key of ['match', 'begin', 'end', 'while']) {
    if (rule[key] !== undefined) {
      regexCount += 1;
      const regex = compile(rule[key], `${where}.${key}`);
      if (regex && key !== 'end' && new RegExp(regex.source, 'u').test('')) {
        fail(`${where}.${key} can match the empty string, which stalls a tokenizer`);
      }
    }
  }
  for (const key of ['captures', 'beginCaptures', 'endCaptures', 'whileCaptures']) {
    if (rule[key] === undefined) {
      continue;
    }
    const groups = rule[key === 'captures' ? 'match' : key.replace('Captures', '')] ?? rule.match ?? rule.begin;
    const regex = compile(groups, `${where}.${key}`);
    const groupCount = regex ? new RegExp(`${regex.source}|`, 'u').exec('').length - 1 : Infinity;
    for (const [index, capture] of Object.entries(rule[key])) {
      if (!/^\d+$/.test(index) || Number(index) > groupCount) {
        fail(`${where}.${key}: capture ${index} does not exist in the regex (${groupCount} groups)`);
      }
      checkRule(capture, `${where}.${key}.${index}`);
    }
  }
  (rule.patterns || []).forEach((child, i) => checkRule(child, `${where}.patterns[${i}]`));
}

grammar.patterns.forEach((rule, i) => checkRule(rule, `patterns[${i}]`));
for (const [name, rule] of Object.entries(grammar.repository)) {
  checkRule(rule, `repository.${name}`);
}
if (problems.length > 0) {
  report();
}

// ---------------------------------------------------------------------------------------------
// 3. A small TextMate tokenizer: the rules above, applied the way VS Code applies them.
// At each column every candidate regex is searched from that column; the earliest match wins,
// ties go to the rule listed first, and an open rule's `end` comes before its patterns.

const rootRule = { patterns: grammar.patterns };

/** The match/begin rules reachable from `patterns`, includes expanded, in order. */
function candidates(patterns, seen = new Set()) {
  const out = [];
  for (const rule of patterns || []) {
    if (rule.include !== undefined) {
      const target = rule.include.startsWith('#') ? grammar.repository[rule.include.slice(1)] : rootRule;
      if (!seen.has(target)) {
        seen.add(target);
        out.push(...candidates(target.match || target.begin ? [target] : target.patterns, seen));
        seen.delete(target);
      }
    } else if (rule.match !== undefined || rule.begin !== undefined) {
      out.push(rule);
    } else {
      out.push(...candidates(rule.patterns, seen));
    }
  }
  return out;
}

function search(source, line, column) {
  const regex = compiled.get(source);
  regex.lastIndex = column;
  return regex.exec(line);
}

/**
 * Tokenizes one line. `stack` holds the open begin/end rules (innermost last) and is updated.
 * Returns the scopes of every character.
 */
function tokenizeLine(line, stack) {
  const scopes = new Array(line.length);
  const stackScopes = () => ['source.cnn', ...stack.flatMap((r) => [r.name, r.contentName].filter(Boolean))];
  const paint = (from, to, names) => {
    for (let i = from; i < to; i += 1) {
      scopes[i] = names;
    }
  };
  const paintCaptures = (match, captures, base) => {
    if (!captures) {
      return;
    }
    for (const [index, capture] of Object.entries(captures)) {
      const span = match.indices[Number(index)];
      if (span && capture.name) {
        paint(span[0], span[1], [...base, capture.name]);
      }
    }
  };

  let column = 0;
  let steps = 0;
  // The end of the line is a column too: an open rule's `$` ends there.
  while (column <= line.length) {
    steps += 1;
    if (steps > 4 * line.length + 100) {
      throw new Error(`the tokenizer does not advance at column ${column} of ${JSON.stringify(line)}`);
    }
    const open = stack[stack.length - 1];
    const rules = candidates(open ? open.patterns : rootRule.patterns);
    let best = null;
    if (open) {
      const m = search(open.end, line, column);
      if (m) {
        best = { rule: open, match: m, kind: 'end' };
      }
    }
    for (const rule of rules) {
      const m = search(rule.match ?? rule.begin, line, column);
      if (m && (best === null || m.index < best.match.index)) {
        best = { rule, match: m, kind: rule.match !== undefined ? 'match' : 'begin' };
      }
    }
    if (best === null) {
      paint(column, line.length, stackScopes());
      break;
    }
    const { rule, match, kind } = best;
    const start = match.index;
    const end = start + match[0].length;
    if (end === start && kind !== 'end') {
      // The checks above reject rules that match the empty string; this catches the rest.
      throw new Error(`an empty match of ${JSON.stringify(rule.match ?? rule.begin)} at column ${start} of ${JSON.stringify(line)}`);
    }
    paint(column, start, stackScopes());
    if (kind === 'end') {
      // `$` closes line comments with an empty match at the end of the line.
      stack.pop();
      const base = rule.name ? [...stackScopes(), rule.name] : stackScopes();
      paint(start, end, base);
      paintCaptures(match, rule.endCaptures || rule.captures, base);
    } else {
      const base = rule.name ? [...stackScopes(), rule.name] : stackScopes();
      paint(start, end, base);
      paintCaptures(match, kind === 'begin' ? rule.beginCaptures || rule.captures : rule.captures, base);
      if (kind === 'begin') {
        stack.push(rule);
      }
    }
    column = end;
  }
  return scopes;
}

/** Tokenizes a whole text; returns per line `{ text, scopes }` and the stack left open. */
function tokenize(text) {
  const stack = [];
  const lines = text.split(/\r?\n/).map((lineText) => ({ text: lineText, scopes: tokenizeLine(lineText, stack) }));
  return { lines, open: stack.map((r) => r.name || r.begin) };
}

const hasScope = (names, prefix) => (names || []).some((s) => s === prefix || s.startsWith(`${prefix}.`));
const describe = (names) => (names || ['(nothing)']).slice(1).join(' ') || 'source.cnn only';

// ---------------------------------------------------------------------------------------------
// 4. Expectations: lines from the repository's .cnn files, and a few written here for the
// constructs no example uses. Each says which scope the nth occurrence of a word must have.

const readRepoFile = (relative) => {
  const file = path.join(repoRoot, relative);
  if (!fs.existsSync(file)) {
    fail(`${relative} is missing: this script checks the grammar against the repository's examples`);
    return null;
  }
  return fs.readFileSync(file, 'utf8');
};

// [file, the line (a substring of it), the word, its occurrence in that line (0-based), scope]
const EXPECTATIONS = [
  ['examples/lenet5.cnn', 'model lenet5 {', 'model', 0, 'keyword.other'],
  ['examples/lenet5.cnn', 'model lenet5 {', 'lenet5', 0, 'entity.name.type'],
  ['examples/lenet5.cnn', 'input image: [N, 1, 28, 28]', 'input', 0, 'keyword.other'],
  ['examples/lenet5.cnn', 'input image: [N, 1, 28, 28]', 'image', 0, 'entity.name.variable'],
  ['examples/lenet5.cnn', 'input image: [N, 1, 28, 28]', 'N', 0, 'variable.other.dimension'],
  ['examples/lenet5.cnn', 'input image: [N, 1, 28, 28]', '28', 1, 'constant.numeric.integer'],
  ['examples/lenet5.cnn', 'conv1 = conv(6, 5, padding=2)', 'conv1', 0, 'entity.name.variable.layer'],
  ['examples/lenet5.cnn', 'conv1 = conv(6, 5, padding=2)', 'conv', 1, 'support.function.layer'],
  ['examples/lenet5.cnn', 'conv1 = conv(6, 5, padding=2)', '6', 0, 'constant.numeric.integer'],
  ['examples/lenet5.cnn', 'conv1 = conv(6, 5, padding=2)', 'padding', 0, 'variable.parameter'],
  ['examples/lenet5.cnn', 'conv1 = conv(6, 5, padding=2)', '//', 0, 'comment.line.double-slash'],
  ['examples/lenet5.cnn', '  relu', 'relu', 0, 'support.function.layer'],
  ['examples/lenet5.cnn', 'maxpool(2)', 'maxpool', 0, 'support.function.layer'],
  ['examples/lenet5.cnn', 'flatten  ', 'flatten', 0, 'support.function.layer'],
  ['examples/lenet5.cnn', 'fc1 = dense(120, in=400)', 'in', 0, 'variable.parameter'],
  ['examples/lenet5.cnn', 'fc1 = dense(120, in=400)', 'dense', 0, 'support.function.layer'],
  ['examples/lenet5.cnn', 'softmax', 'softmax', 0, 'support.function.layer'],
  ['examples/lenet5.cnn', '// LeNet-5, the PyTorch variant', 'LeNet', 0, 'comment.line.double-slash'],
  ['examples/googlenet.cnn', 'block basic_conv(out, kernel, stride = 1, padding = 0) {', 'block', 0, 'keyword.other'],
  ['examples/googlenet.cnn', 'block basic_conv(out, kernel, stride = 1, padding = 0) {', 'basic_conv', 0, 'entity.name.function.block'],
  ['examples/googlenet.cnn', 'block basic_conv(out, kernel, stride = 1, padding = 0) {', 'out', 0, 'variable.parameter'],
  ['examples/googlenet.cnn', 'block basic_conv(out, kernel, stride = 1, padding = 0) {', 'stride', 0, 'variable.parameter'],
  ['examples/googlenet.cnn', 'block basic_conv(out, kernel, stride = 1, padding = 0) {', '1', 0, 'constant.numeric.integer'],
  ['examples/googlenet.cnn', 'conv = conv(out, kernel, stride=stride, padding=padding, bias=false)', 'conv', 0, 'entity.name.variable.layer'],
  ['examples/googlenet.cnn', 'conv = conv(out, kernel, stride=stride, padding=padding, bias=false)', 'conv', 1, 'support.function.layer'],
  ['examples/googlenet.cnn', 'conv = conv(out, kernel, stride=stride, padding=padding, bias=false)', 'stride', 1, 'variable.other'],
  ['examples/googlenet.cnn', 'conv = conv(out, kernel, stride=stride, padding=padding, bias=false)', 'false', 0, 'constant.language.boolean'],
  ['examples/googlenet.cnn', 'bn   = batchnorm(eps=0.001)', '0.001', 0, 'constant.numeric.decimal'],
  ['examples/googlenet.cnn', 'block inception(ch1x1, ch3x3red', 'ch1x1', 0, 'variable.parameter'],
  ['examples/googlenet.cnn', 'branch2 = from in seq {', 'branch2', 0, 'entity.name.variable.layer'],
  ['examples/googlenet.cnn', 'branch2 = from in seq {', 'from', 0, 'keyword.other'],
  ['examples/googlenet.cnn', 'branch2 = from in seq {', 'in', 0, 'variable.language.in'],
  ['examples/googlenet.cnn', 'branch2 = from in seq {', 'seq', 0, 'keyword.other'],
  ['examples/googlenet.cnn', 'maxpool(3, stride=1, padding=1, ceil=true)', 'true', 0, 'constant.language.boolean'],
  ['examples/googlenet.cnn', 'concat(branch1, branch2, branch3, branch4)', 'concat', 0, 'support.function.layer'],
  ['examples/googlenet.cnn', 'concat(branch1, branch2, branch3, branch4)', 'branch3', 0, 'variable.other'],
  ['examples/googlenet.cnn', 'inception3a = inception(64,', 'inception', 1, 'entity.name.function.call'],
  ['examples/googlenet.cnn', 'avgpool = adaptive_avgpool(1)', 'avgpool', 0, 'entity.name.variable.layer'],
  ['examples/googlenet.cnn', 'avgpool = adaptive_avgpool(1)', 'adaptive_avgpool', 0, 'support.function.layer'],
  ['examples/mobilenet_v2.cnn', 'global_avgpool', 'global_avgpool', 0, 'support.function.layer'],
  ['examples/squeezenet1_1.cnn', '@allow(W0001)', 'allow', 0, 'entity.name.function.decorator'],
  ['examples/squeezenet1_1.cnn', '@allow(W0001)', 'W0001', 0, 'constant.other.diagnostic-code'],
  ['examples/squeezenet1_1.cnn', 'expand3x3            = from squeeze_activation', 'expand3x3', 0, 'entity.name.variable.layer'],
  ['examples/squeezenet1_1.cnn', 'expand3x3            = from squeeze_activation', 'squeeze_activation', 0, 'variable.other.tensor'],
  ['examples/resnet18.cnn', 'add(', 'add', 0, 'support.function.layer'],
  ['examples/mobilenet_v2.cnn', 'relu6', 'relu6', 0, 'support.function.layer'],
  ['examples/mobilenet_v2.cnn', 'depthwise(', 'depthwise', 0, 'support.function.layer'],
  ['examples/mobilenet_v2.cnn', 'dropout(', 'dropout', 0, 'support.function.layer'],
  ['examples/errors/E0101_kernel_larger_than_input.cnn', '//~ E0101', '//~', 0, 'comment.line.double-slash.annotation'],
  ['examples/errors/E0101_kernel_larger_than_input.cnn', '//~ E0101', 'E0101', 0, 'constant.other.diagnostic-code'],
  ['examples/errors/E0101_kernel_larger_than_input.cnn', 'conv(8, 9)', 'conv', 0, 'support.function.layer'],
  ['examples/errors/W0007_unknown_allow_code.cnn', '@allow(W0030)', 'W0030', 0, 'constant.other.diagnostic-code'],
  ['tests/ui/window_variants.cnn', 'conv(4, 3x5', '3', 0, 'constant.numeric.integer'],
  ['tests/ui/window_variants.cnn', 'conv(4, 3x5', 'x', 1, 'keyword.operator.pair'],
  ['tests/ui/window_variants.cnn', 'conv(4, 3x5', '5', 0, 'constant.numeric.integer'],
  ['tests/ui/window_variants.cnn', 'conv(4, 3x5', 'x', 0, 'variable.other.tensor'],
  ['tests/ui/window_variants.cnn', 'conv(4, 3x5', 'shape', 0, 'keyword.other.annotation'],
  ['tests/ui/expressions.cnn', 'f = conv(c, k x k, padding=c / 2) * 1', 'k', 0, 'variable.other'],
  ['tests/ui/expressions.cnn', 'f = conv(c, k x k, padding=c / 2) * 1', 'x', 0, 'keyword.operator.pair'],
  ['tests/ui/expressions.cnn', 'f = conv(c, k x k, padding=c / 2) * 1', '/', 0, 'keyword.operator.arithmetic'],
  ['tests/ui/expressions.cnn', 'f = conv(c, k x k, padding=c / 2) * 1', '*', 0, 'keyword.operator.arithmetic'],
];

// Constructs the repository's files do not show (or not on a line of their own).
const SNIPPETS = [
  ['/* a /* nested */ still a comment */ relu', 'still', 0, 'comment.block'],
  ['/* a /* nested */ still a comment */ relu', 'relu', 0, 'support.function.layer'],
  ['conv(64, 3, padding=same)', 'same', 0, 'constant.language.padding'],
  ['conv(64, 3, padding=valid)', 'valid', 0, 'constant.language.padding'],
  ['batchnorm(eps=1e-5)', '1e-5', 0, 'constant.numeric.decimal'],
  ['dropout(p=2.5E3)', '2.5E3', 0, 'constant.numeric.decimal'],
  ['0 = conv(8, 3)', '0', 0, 'entity.name.variable.layer'],
  ['maxpool(3×3)', '×', 0, 'keyword.operator.pair'],
  ['conv(8, 1 x 7)', '7', 0, 'constant.numeric.integer'],
  ['conv(8, 1 x 7)', 'x', 0, 'keyword.operator.pair'],
  ['y = from x conv(8, 3)', 'x', 0, 'variable.other.tensor'],
  ['models = relu', 'models', 0, 'entity.name.variable.layer'],
  ['seq_x = relu', 'seq_x', 0, 'entity.name.variable.layer'],
  ['output logits, features', 'output', 0, 'keyword.other'],
  ['layer1 = basic(64) * 2', 'basic', 0, 'entity.name.function.call'],
  ['layer1 = basic(64) * 2', '2', 0, 'constant.numeric.integer'],
  ['add(in)', 'in', 0, 'variable.language.in'],
  ['//~ shape [1, 1, 3, 3]', 'shape', 0, 'keyword.other.annotation'],
  ['@allow(W0003, W0006) model m {', 'W0006', 0, 'constant.other.diagnostic-code'],
  ['@allow(W0003, W0006) model m {', 'm', 1, 'entity.name.type'],
  ...LAYERS.map((layer) => [`x = ${layer}`, layer, 0, 'support.function.layer']),
  ...LAYERS.map((layer) => [`${layer}(1)`, layer, 0, 'support.function.layer']),
  ...KEYWORDS.map((keyword) => [`${keyword} `, keyword, 0, 'keyword.other']),
];

/** The column of the nth (0-based) occurrence of `word` in `text`, as a plain substring. */
function nthIndex(text, word, occurrence) {
  let index = text.indexOf(word);
  for (let seen = 0; index >= 0 && seen < occurrence; seen += 1) {
    index = text.indexOf(word, index + word.length);
  }
  return index;
}

function expect(label, tokenizedLine, word, occurrence, scope) {
  const column = nthIndex(tokenizedLine.text, word, occurrence);
  if (column < 0) {
    fail(`${label}: no occurrence ${occurrence} of \`${word}\` in ${JSON.stringify(tokenizedLine.text.trim())}`);
    return false;
  }
  const names = tokenizedLine.scopes[column];
  if (!hasScope(names, scope)) {
    fail(`${label}: \`${word}\` in ${JSON.stringify(tokenizedLine.text.trim())} is ${describe(names)}, expected ${scope}`);
    return false;
  }
  return true;
}

const cache = new Map();
function tokenizedFile(relative) {
  if (!cache.has(relative)) {
    const text = readRepoFile(relative);
    cache.set(relative, text === null ? null : tokenize(text));
  }
  return cache.get(relative);
}

let passed = 0;
for (const [file, lineText, word, occurrence, scope] of EXPECTATIONS) {
  const tokens = tokenizedFile(file);
  if (tokens === null) {
    continue;
  }
  // The first line containing the text; a comment line only when the text is a comment.
  const line = tokens.lines.find(
    (l) => l.text.includes(lineText) && (lineText.startsWith('//') || !l.text.trimStart().startsWith('//')),
  );
  if (!line) {
    fail(`${file}: no line contains ${JSON.stringify(lineText)}`);
    continue;
  }
  passed += expect(file, line, word, occurrence, scope) ? 1 : 0;
}
for (const [text, word, occurrence, scope] of SNIPPETS) {
  const tokens = tokenize(text);
  passed += expect('sample', tokens.lines[0], word, occurrence, scope) ? 1 : 0;
}

// ---------------------------------------------------------------------------------------------
// 5. Every .cnn file of the repository tokenizes; in the ones that parse, nothing stays open at
// the end, and every keyword and built-in layer outside comments gets its scope.

function cnnFiles(dir) {
  const absolute = path.join(repoRoot, dir);
  if (!fs.existsSync(absolute)) {
    return [];
  }
  return fs.readdirSync(absolute)
    .filter((name) => name.endsWith('.cnn'))
    .sort()
    .map((name) => path.join(dir, name));
}
const validFiles = [...cnnFiles('examples'), ...cnnFiles('examples/bench')];
const otherFiles = [...cnnFiles('examples/errors'), ...cnnFiles('tests/ui')];
if (validFiles.length === 0) {
  fail('found no .cnn files in examples/');
}
let linesSeen = 0;
for (const file of [...validFiles, ...otherFiles]) {
  let tokens;
  try {
    tokens = tokenizedFile(file);
  } catch (error) {
    fail(`${file}: ${error.message}`);
    continue;
  }
  if (tokens === null) {
    continue;
  }
  linesSeen += tokens.lines.length;
  if (!validFiles.includes(file)) {
    continue;
  }
  if (tokens.open.length > 0) {
    fail(`${file}: still open at the end of the file: ${tokens.open.join(', ')}`);
  }
  tokens.lines.forEach((line, i) => {
    for (const match of line.text.matchAll(/\b[A-Za-z_]\w*\b/g)) {
      const names = line.scopes[match.index];
      if (hasScope(names, 'comment')) {
        continue;
      }
      const word = match[0];
      if (KEYWORDS.includes(word) && !hasScope(names, 'keyword.other')) {
        fail(`${file}:${i + 1}: keyword \`${word}\` is ${describe(names)}`);
      }
      // A layer name is a layer unless it names a statement, a tensor or an argument.
      const isName = /^\s*=(?!=)/.test(line.text.slice(match.index + word.length))
        || /\bfrom\s+$/.test(line.text.slice(0, match.index))
        || hasScope(names, 'meta.arguments')
        || hasScope(names, 'meta.block.parameters');
      if (LAYERS.includes(word) && !isName && !hasScope(names, 'support.function.layer')) {
        fail(`${file}:${i + 1}: layer \`${word}\` is ${describe(names)}`);
      }
    }
  });
}

// The layer list above against the compiler's, when the source is there to compare with.
const opsSource = path.join(repoRoot, 'crates', 'cnn-check', 'src', 'ops.rs');
if (fs.existsSync(opsSource)) {
  const list = /BUILTIN_NAMES: &\[&str\] = &\[([^\]]*)\]/.exec(fs.readFileSync(opsSource, 'utf8'));
  if (list) {
    const builtins = [...list[1].matchAll(/"([a-z0-9_]+)"/g)].map((m) => m[1]);
    const missing = builtins.filter((name) => !LAYERS.includes(name));
    const extra = LAYERS.filter((name) => !builtins.includes(name));
    if (missing.length > 0 || extra.length > 0) {
      fail(`the grammar's layers differ from BUILTIN_NAMES in ops.rs: missing [${missing}], extra [${extra}]`);
    }
  }
}

report();

function report() {
  if (problems.length > 0) {
    console.error(`check-grammar: ${problems.length} problem(s) in ${path.relative(process.cwd(), grammarPath)}:`);
    for (const problem of problems) {
      console.error(`  - ${problem}`);
    }
    process.exit(1);
  }
  console.log(
    `check-grammar: ok: ${regexCount} regexes compile, ${passed} scope expectations hold, ` +
      `${linesSeen} lines of ${validFiles.length + otherFiles.length} .cnn files tokenize`,
  );
  process.exit(0);
}
