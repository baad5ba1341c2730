"""The runtime's own code never goes through dispatch that user code can reach.

An action can replace `%ArrayIteratorPrototype%.next`, `Array.prototype.push`, the global `JSON`
or plant a getter on `Object.prototype`. The runtime (runtime_js/*.js, concatenated into one
function body) keeps captured copies of the built-ins it needs (00_primordials.js) and must use
only those once user code may have run, i.e. anywhere inside a function. This test parses every
runtime file (vendored npm code in runtime_js/vendor/ is library code for actions and exempt;
runtime_js/lazy/ files are compiled on first use, so all of their code counts as inside a
function) and refuses, inside functions:

- the iterator protocol: array destructuring, spread into arrays or calls, `for...of`,
  `yield*`; and `for...in` (it walks planted enumerable keys of the prototype chain);
- a method call whose name is a method of a built-in prototype (`s.charCodeAt(i)`,
  `list.push(x)`, `p.then(f)`, `fn.call(...)`, `it.next()`), unless its receiver is one of the
  runtime's own frozen-prototype maps (`new SafeMap()`) or a private field (`this.#x`);
- a call through a global built-in (`Object.keys(o)`, `JSON.stringify(v)`, `new Uint8Array(n)`,
  `parseInt(s)`) that the runtime does not shadow with its own name.

A line marked `// lint-allow: why` (or the line after such a comment) is exempt, for where a
spec makes the runtime iterate the caller's own iterable (a WebIDL sequence argument).

The names of the built-in methods come from V8 itself (the isolate the tests run on), so a
method V8 adds is covered without editing this file.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import orjson
import pytest
import tree_sitter
import tree_sitter_javascript

from sandbox.driver import Isolate

RUNTIME = Path(__file__).resolve().parent.parent / "runtime_js"

FUNCTIONS = {"function_declaration", "function_expression", "function", "arrow_function", "method_definition",
             "generator_function_declaration", "generator_function", "field_definition",
             "class_static_block"}

# receivers that are the runtime's own SafeMap-like objects: allowed to use get/set/has/delete/keys
OWN_MAP_CLASSES = ("SafeMap",)
MAP_METHODS = {"get", "set", "has", "delete", "keys", "values", "entries", "add", "clear"}

_BUILTIN_NAMES = r"""
(() => {
  const protos = [Object.prototype, Array.prototype, String.prototype, Function.prototype, Number.prototype,
    Boolean.prototype, Symbol.prototype, BigInt.prototype, Promise.prototype, RegExp.prototype, Date.prototype,
    Error.prototype, Map.prototype, Set.prototype, WeakMap.prototype, WeakSet.prototype, ArrayBuffer.prototype,
    SharedArrayBuffer.prototype, DataView.prototype, Object.getPrototypeOf(Uint8Array.prototype),
    Object.getPrototypeOf(Object.getPrototypeOf([][Symbol.iterator]())), Object.getPrototypeOf([][Symbol.iterator]()),
    Object.getPrototypeOf(function* () {}).prototype];
  const methods = new Set();
  for (const p of protos) for (const k of Object.getOwnPropertyNames(p)) {
    const d = Object.getOwnPropertyDescriptor(p, k);
    if (typeof d.value === "function" && k !== "constructor") methods.add(k);
  }
  const globals = Object.getOwnPropertyNames(globalThis).filter((k) => /^[A-Za-z]/.test(k));
  return JSON.stringify({ methods: [...methods], globals });
})()
"""


@lru_cache(maxsize=1)
def builtin_names() -> tuple[frozenset[str], frozenset[str]]:
    loop = asyncio.new_event_loop()
    isolate = Isolate(loop, lambda text: None)
    try:
        names = orjson.loads(isolate.call_sync(_BUILTIN_NAMES))
    finally:
        isolate.close()
        loop.close()
    globals_ = set(names["globals"]) | {"globalThis", "Iterator", "Intl", "WebAssembly", "Atomics"}
    return frozenset(names["methods"]), frozenset(globals_)


@lru_cache(maxsize=1)
def _parser() -> tree_sitter.Parser:
    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_javascript.language()))


def runtime_files() -> list[Path]:
    return sorted(RUNTIME.glob("*.js"))


def _walk(node: tree_sitter.Node):
    yield node
    for child in node.children:
        yield from _walk(child)


def _inside_function(node: tree_sitter.Node) -> bool:
    parent = node.parent
    while parent is not None:
        if parent.type in FUNCTIONS:
            return True
        parent = parent.parent
    return False


def _text(node: tree_sitter.Node | None) -> str:
    return node.text.decode("utf-8") if node is not None and node.text is not None else ""


def runtime_declarations(trees: list[tree_sitter.Tree]) -> tuple[set[str], set[str]]:
    """Names the runtime declares at the top level of its files (they shadow the globals), and
    names bound to one of its own map objects (`const timers = new SafeMap()`,
    `ioWaiters: new SafeMap()`)."""
    declared: set[str] = set()
    own_maps: set[str] = set()
    for tree in trees:
        for node in _walk(tree.root_node):
            if node.type in ("function_declaration", "class_declaration", "generator_function_declaration"):
                if not _inside_function(node):
                    declared.add(_text(node.child_by_field_name("name")))
            elif node.type == "variable_declarator":
                name = node.child_by_field_name("name")
                if name is not None and name.type == "identifier" and not _inside_function(node):
                    declared.add(_text(name))
                value = node.child_by_field_name("value")
                if name is not None and value is not None and value.type == "new_expression" \
                        and _text(value.child_by_field_name("constructor")) in OWN_MAP_CLASSES:
                    own_maps.add(_text(name))
                if name is not None and value is not None and value.type == "member_expression":
                    prop = value.child_by_field_name("property")
                    if prop is not None and prop.type == "private_property_identifier":
                        own_maps.add(_text(name))  # `const c = this.#c`: the runtime's own object
            elif node.type == "pair":
                value = node.child_by_field_name("value")
                if value is not None and value.type == "new_expression" \
                        and _text(value.child_by_field_name("constructor")) in OWN_MAP_CLASSES:
                    own_maps.add(_text(node.child_by_field_name("key")))
    return declared, own_maps


@dataclass(frozen=True)
class Finding:
    file: str
    line: int
    what: str
    code: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.what}: {self.code}"


def lint(sources: dict[str, bytes]) -> list[Finding]:
    """Findings over runtime files given as {file name: source}, linted together (one runtime)."""
    methods, globals_ = builtin_names()
    trees = {name: _parser().parse(src) for name, src in sources.items()}
    declared, own_maps = runtime_declarations(list(trees.values()))
    findings: list[Finding] = []
    for name, tree in trees.items():
        lines = sources[name].decode("utf-8").split("\n")
        for node in _walk(tree.root_node):
            if not _inside_function(node) or _waived(lines, node.start_point[0]):
                continue

            def report(what: str, at: tree_sitter.Node = node) -> None:
                line = _text(at).split("\n", 1)[0][:100]
                findings.append(Finding(name, at.start_point[0] + 1, what, line))

            kind = node.type
            if kind == "array_pattern":
                report("array destructuring (uses the array iterator)")
            elif kind == "spread_element" and node.parent is not None and node.parent.type in ("array", "arguments"):
                report("spread (uses the iterator protocol)")
            elif kind == "for_in_statement":
                operator = _text(node.child_by_field_name("operator"))
                report("for...of (uses the iterator protocol)" if operator == "of"
                       else "for...in (walks keys planted on the prototype chain)")
            elif kind == "yield_expression" and any(_text(c) == "*" for c in node.children):
                report("yield* (uses the iterator protocol)")
            elif kind == "call_expression":
                callee = node.child_by_field_name("function")
                if callee is None:
                    continue
                if callee.type == "member_expression":
                    receiver = callee.child_by_field_name("object")
                    prop = callee.child_by_field_name("property")
                    method = _text(prop)
                    if prop is not None and prop.type == "private_property_identifier":
                        continue
                    if receiver is not None and receiver.type == "identifier" and _text(receiver) in globals_ \
                            and _text(receiver) not in declared:
                        report(f"call through the global {_text(receiver)} (use a captured copy)")
                        continue
                    if method in methods:
                        if method in MAP_METHODS and _own_map(receiver, own_maps):
                            continue
                        if receiver is not None and receiver.type == "this" and method in _class_methods(node):
                            continue  # the runtime class's own method
                        report(f"'{method}' called through the prototype of a value (use a captured copy)")
                elif callee.type == "identifier" and _text(callee) in globals_ and _text(callee) not in declared:
                    report(f"call of the global {_text(callee)} (use a captured copy)")
            elif kind == "new_expression":
                ctor = node.child_by_field_name("constructor")
                if ctor is not None and ctor.type == "identifier" and _text(ctor) in globals_ \
                        and _text(ctor) not in declared:
                    report(f"new through the global {_text(ctor)} (use a captured constructor)")
    return findings


WAIVER = "lint-allow:"


def _waived(lines: list[str], row: int) -> bool:
    """A line (or the line above it) that says `// lint-allow: why` is exempt: for the few places
    where the spec makes the runtime use the caller's own protocol (a WebIDL sequence argument
    is iterated with the caller's iterator)."""
    return WAIVER in lines[row] or (row > 0 and WAIVER in lines[row - 1])


def _class_methods(node: tree_sitter.Node) -> set[str]:
    parent = node.parent
    while parent is not None and parent.type != "class_body":
        parent = parent.parent
    if parent is None:
        return set()
    return {_text(c.child_by_field_name("name")) for c in parent.children if c.type == "method_definition"}


def _own_map(receiver: tree_sitter.Node | None, own_maps: set[str]) -> bool:
    if receiver is None:
        return False
    if receiver.type == "member_expression":
        prop = receiver.child_by_field_name("property")
        return prop is not None and (prop.type == "private_property_identifier" or _text(prop) in own_maps)
    return receiver.type == "identifier" and _text(receiver) in own_maps


def test_the_runtime_never_uses_dispatch_that_user_code_can_reach():
    findings = lint({path.name: path.read_bytes() for path in runtime_files()})
    assert not findings, "user-reachable dispatch on the runtime's own paths:\n" + "\n".join(map(str, findings))


@pytest.mark.parametrize("path", sorted((RUNTIME / "lazy").glob("*.js")), ids=lambda p: p.name)
def test_lazily_compiled_runtime_code_is_linted_as_a_function_body(path):
    """runtime_js/lazy/ files are compiled on first use, after user code may have run: all of
    their code, top level included, is linted as code inside a function."""
    findings = lint({path.name: b"function lazy(rt) {\n" + path.read_bytes() + b"\n}\n"})
    assert not findings, "user-reachable dispatch in lazily compiled runtime code:\n" + "\n".join(map(str, findings))


# The lint itself: each thing it must refuse, and what it must let through.
REFUSED = [
    ("const [id, kind, payload] = msg.jobs[i];", "array destructuring"),
    ("for (const job of jobs) run(job);", "for...of"),
    ("for (const key in object) run(key);", "for...in"),
    ("run(...args);", "spread"),
    ("const copy = [...list];", "spread"),
    ("return s.charCodeAt(i);", "'charCodeAt'"),
    ("list.push(x);", "'push'"),
    ("promise.then(f);", "'then'"),
    ("fn.call(undefined, 1);", "'call'"),
    ("iterator.next();", "'next'"),
    ("return Object.keys(o);", "global Object"),
    ("return JSON.stringify(v);", "global JSON"),
    ("return new Uint8Array(4);", "global Uint8Array"),
    ("return parseInt(s, 10);", "global parseInt"),
]
ALLOWED = [
    "const { a, b } = own;",                       # object destructuring: no iterator
    "return ArrayPrototypePush(list, x);",         # captured
    "return StringPrototypeCharCodeAt(s, i);",
    "return timers.get(id);",                      # the runtime's own SafeMap
    "return host.ioWaiters.get(id);",
    "return this.#c.add(x);",                      # private field of a runtime class
    "return function inner(...args) { return ReflectApply(f, undefined, args); };",  # rest, not spread
    "return new Uint8ArrayCtor(4);",
    "return atob(s);",                             # the runtime's own atob shadows the global
    "const c = this.#c; return c.add(x);",         # a local taken from a private field
    "for (const pair of init) run(pair); // lint-allow: a WebIDL sequence is the caller's iterable",
]
CONTEXT = b"const timers = new SafeMap(); const host = { ioWaiters: new SafeMap() };\nfunction atob(s) { return s; }\n"


@pytest.mark.parametrize(("code", "what"), REFUSED)
def test_the_lint_refuses(code: str, what: str):
    findings = lint({"probe.js": CONTEXT + b"function probe() { " + code.encode() + b" }\n"})
    assert findings and what in findings[0].what, findings


@pytest.mark.parametrize("code", ALLOWED)
def test_the_lint_allows(code: str):
    source = CONTEXT + b"class Probe { #c = null; probe(own, list, x, s, i, id, f) { " + code.encode() + b" } }\n"
    assert lint({"probe.js": source}) == []


def test_load_time_code_may_use_the_builtins_it_captures():
    assert lint({"probe.js": b"const ArrayPrototypePush = Function.prototype.call.bind(Array.prototype.push);\n"
                             b"const names = Object.keys(globalThis);\n"}) == []
