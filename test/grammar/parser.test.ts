// The Peggy grammar on its own (the project's one NaCl parser): lexical rules, value forms,
// statements, condition precedence, offsets, and syntax errors (with Peggy's error location).

import t from 'tap';
import { parse, type SkippedPiece } from '../../grammar/parser.js';
import type { CondNode, ItemNode, StmtNode, Value } from '../../grammar/ast.js';

function value(src: string): Value {
  const [item] = parse(`x: ${src}`);
  if (item.kind !== 'assign') throw new Error('not an assignment');
  return item.value;
}

function body(src: string): StmtNode[] {
  const [item] = parse(`Filter::IP f { ${src} }`);
  if (item.kind !== 'function') throw new Error('not a function');
  return item.body;
}

function cond(src: string): CondNode {
  const [s] = body(`if (${src}) { accept }`);
  if (s.kind !== 'if') throw new Error('not an if');
  return s.cond;
}

/** Compact rendering of a condition tree: (and a b), (or ...), (not x), cmp text. */
function shape(c: CondNode): string {
  switch (c.kind) {
    case 'and': case 'or': return `(${c.kind} ${c.items.map(shape).join(' ')})`;
    case 'not': return `(not ${shape(c.c)})`;
    case 'cmp': return `${c.left.kind === 'name' ? c.left.name : c.left.kind}${c.op}`;
    case 'value': return 'v';
  }
}

function syntaxError(src: string): { line: number; column: number; found: string | null } {
  try {
    parse(src);
  } catch (e) {
    const err = e as { location: { start: { line: number; column: number } }; found: string | null };
    return { line: err.location.start.line, column: err.location.start.column, found: err.found };
  }
  throw new Error(`parsed: ${src}`);
}

t.test('whitespace and comments anywhere', async (t) => {
  const v = value('10 . 0 /* c */ . 0 # x\n . 1');
  t.match(v, { kind: 'ip', addr: 0x0a000001 });
  t.equal(parse('').length, 0, 'empty file');
  t.equal(parse('# only\n// comments\n/* and\nmore */').length, 0);
  const items = parse('a: 1 b: 2 Iface e { index: 0 }');
  t.same(items.map((i) => i.kind), ['assign', 'assign', 'typed'], 'one line');
  t.same(parse('42').map((i) => i.kind), ['int'], 'bare integer item');
});

t.test('comments break strings', async (t) => {
  t.match(syntaxError('Filter::IP f { log("a # b") accept }'), { line: 1 });
  t.match(syntaxError('Filter::IP f { log("a // b") accept }'), { line: 1 });
  t.match(syntaxError('Filter::IP f { log("a /* b */") accept }'), { line: 1 });
  t.match(value('"a b\\n: c, d/e"'), { kind: 'string', value: 'a b\n: c, d/e' });
});

t.test('value forms', async (t) => {
  t.match(value('80'), { kind: 'int', value: 80 });
  t.match(value('(-10)'), { kind: 'int', value: -10 });
  t.match(value('1.5'), { kind: 'dec', value: 1.5 });
  t.match(value('( - 1.5 )'), { kind: 'dec', value: -1.5 });
  t.match(value('10.0.0.0/24'), { kind: 'cidr', base: { kind: 'ip', addr: 0x0a000000 }, prefix: 24 });
  t.match(value('10.0.0.300'), { kind: 'ip', addr: -1 }, 'a part over 255 is left to the checker');
  t.match(value('10 - 20'), { kind: 'range', from: { kind: 'int', value: 10 }, to: { kind: 'int', value: 20 } });
  t.match(value('10-20'), { kind: 'range' });
  t.match(value('1.0.0.1-1.0.0.9'), { kind: 'range', from: { kind: 'ip' }, to: { kind: 'ip' } });
  t.match(value('true'), { kind: 'bool', value: true });
  t.match(value('false'), { kind: 'bool', value: false });
  t.match(value('True'), { kind: 'name', name: 'True' }, 'True is a name');
  t.match(value('a.b-c.e4-3-1'), { kind: 'name', name: 'a.b-c.e4-3-1' });
  t.match(value('a . /* c */ b'), { kind: 'name', name: 'a.b' }, 'whitespace and comments around dots are not part of a name');
  t.match(value('[1, x, [2]]'), { kind: 'list', items: [{ kind: 'int' }, { kind: 'name' }, { kind: 'list' }] });
  t.match(value('{ a: 1, b: { c: 2 } }'), { kind: 'object', pairs: [{ key: 'a' }, { key: 'b', value: { kind: 'object' } }] });
  syntaxError('x: [1, 2,]');
  syntaxError('x: []');
  syntaxError('x: {}');
  syntaxError('x: 1.2.3');
});

t.test('identifiers and reserved words', async (t) => {
  t.match(parse('echo-request_x: 1')[0], { kind: 'assign', path: ['echo-request_x'] });
  for (const w of ['if', 'else', 'and', 'or', 'not', 'in', 'IN', 'true', 'false']) {
    syntaxError(`${w}: 1`);
  }
  t.match(parse('AND: 1')[0], { kind: 'assign', path: ['AND'] }, 'upper-case AND is a plain name');
  syntaxError('_x: 1');
});

t.test('items', async (t) => {
  const items = parse('Iface eth0 dhcp\neth0.index: 0\nNAT::TCP n { dnat(1) }\nFilter::IP { accept }');
  t.match(items[0], { kind: 'typed', type: 'Iface', name: 'eth0', value: { kind: 'name', name: 'dhcp' } });
  t.match(items[1], { kind: 'assign', path: ['eth0', 'index'], pathAt: 16, pathEnd: 26 });
  t.match(items[2], { kind: 'function', type: 'NAT', subtype: 'TCP', name: 'n' });
  t.match(items[3], { kind: 'function', name: null });
});

t.test('statements: actions, calls, nesting, if/else', async (t) => {
  const b = body('accept accept() drop() g g() log("x", ip.saddr) dnat(1.2.3.4, 80) Filter::TCP { accept } if (a) { b } else { c }');
  t.match(b[0], { kind: 'action', name: 'accept', args: null });
  t.match(b[1], { kind: 'action', name: 'accept', args: [] });
  t.match(b[3], { kind: 'action', name: 'g', args: null });
  t.match(b[4], { kind: 'action', name: 'g', args: [] });
  t.match(b[5], { kind: 'action', name: 'log', args: [{ kind: 'string' }, { kind: 'name', name: 'ip.saddr' }] });
  t.match(b[6], { kind: 'action', name: 'dnat', args: [{ kind: 'ip' }, { kind: 'int', value: 80 }] });
  t.match(b[7], { kind: 'function', type: 'Filter', subtype: 'TCP', name: null });
  t.match(b[8], { kind: 'if', then: [{ name: 'b' }], else: [{ name: 'c' }] });
  syntaxError('Filter::IP f { if (a) { } }');
  syntaxError('Filter::IP f { if (a) { b } else if (c) { d } }');
  syntaxError('Filter::IP f { }');
});

t.test('condition precedence: not > and > or', async (t) => {
  t.equal(shape(cond('a == 1 or b == 2 and c == 3')), '(or a== (and b== c==))');
  t.equal(shape(cond('a == 1 || b == 2 && !c == 3')), '(or a== (and b== (not c==)))');
  t.equal(shape(cond('not a in b and (c != 1 or d < 2)')), '(and (not ain) (or c!= d<))');
  t.equal(shape(cond('x')), 'v');
  for (const op of ['==', '!=', '<', '>', '<=', '>=', 'in', 'IN']) {
    t.match(cond(`a ${op} b`), { kind: 'cmp', op: op === 'IN' ? 'in' : op });
  }
  syntaxError('Filter::IP f { if (a NOT b) { c } }');
  syntaxError('Filter::IP f { if (a & b) { c } }');
  syntaxError('Filter::IP f { if (a = b) { c } }');
});

t.test('long chains are flat, not deep', async (t) => {
  const n = 20000;
  const c = cond(Array.from({ length: n }, (_, i) => `a == ${i}`).join(' or '));
  t.match(c, { kind: 'or' });
  t.equal((c as CondNode & { kind: 'or' }).items.length, n);
  t.equal(body('accept '.repeat(n)).length, n);
});

t.test('offsets', async (t) => {
  const src = '\n  Filter::IP f {\n    if (ip.ttl > 1) { drop }\n  }';
  const [item] = parse(src) as ItemNode[];
  t.match(item, { kind: 'function', at: 3, typeAt: 3, subtypeAt: 11, nameAt: 14, bodyAt: 16, end: src.length });
  const s = (item as ItemNode & { kind: 'function' }).body[0];
  const ifAt = src.indexOf('if');
  t.match(s, { kind: 'if', at: ifAt, headEnd: ifAt + 'if (ip.ttl > 1)'.length, end: src.indexOf('}') + 1 });
  if (s.kind === 'if') {
    t.match(s.cond, { kind: 'cmp', opAt: src.indexOf('>') });
    t.match(s.then[0], { kind: 'action', name: 'drop', at: src.indexOf('drop'), end: src.indexOf('drop') + 4 });
  }
  t.notOk(JSON.stringify(item).includes('line'), 'no line/column objects in the AST');
  t.match(syntaxError('x: 1\ny: ;'), { line: 2, column: 4, found: ';' });
});

t.test('recovery mode notes each bad statement and item and goes on', async (t) => {
  const src = 'Filter::IP f {\n  if (ip.ttl >) { drop }\n  dorp(\n  accept\n}\nIface e { index 0 }\nx: 1\n';
  const errors: SkippedPiece[] = [];
  parse(src, { recover: true, errors });
  t.same(errors.map((e) => e.rule), ['Stmt', 'Stmt', 'Item']);
  t.equal(errors[0].at, src.indexOf('if ('));
  t.equal(errors[2].at, src.indexOf('Iface'));
  t.throws(() => parse(src), 'without recover the first error stops the parse');
});

t.test('diagnostic start rules', async (t) => {
  t.equal(parse('if (x', { startRule: 'Token' }) as unknown as string, 'if');
  t.equal(parse('== 3', { startRule: 'Token' }) as unknown as string, '==');
  t.equal(parse('in', { startRule: 'Reserved' }) as unknown as string, 'in');
  t.throws(() => parse('inx', { startRule: 'Reserved' }));
  t.same(parse('a { "}" # }\n { } }', { startRule: 'Braces' }) as unknown as number[], [2, 13, -16, -18]);
});
