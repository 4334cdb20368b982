"""The request templates (``qbsync/qbxml_templates/``), compiled once into plans of output lines.

The templates are written in Jinja2's syntax, in a small fixed vocabulary:

* ``{{ q.el("Tag", x.Field) }}`` prints ``<Tag>value</Tag>`` (one per item of a repeated field),
  ``q.ref`` a reference on one line (``<CustomerRef><ListID>..</ListID></CustomerRef>``, then FullName),
  ``q.address`` an address on one line (Addr1-Addr5, City, State, PostalCode, Country, Note) and
  ``q.attr("name", rq.name)`` `` name="value"`` on the request's own tag; an absent field prints nothing;
* ``{% for vN in x.Field or [] %}`` repeats its lines for each record of a repeated aggregate, and
  ``{% with vN = x.Field %}{% if vN %}`` prints an optional aggregate's lines when it has fields;
* ``rq`` is the request's record (its attributes and its own fields), ``d`` the ``<XxxAdd>`` / ``<XxxMod>``
  body's (the request's again when it has none); block tags stand on lines of their own.

Jinja2 parses a template (with ``trim_blocks`` and ``lstrip_blocks``: block tags take no room);
``compile_plan`` turns it into a plan of lines, checked against the schema, and ``Plan.render`` walks that
plan over cleaned records: one dict look-up per field a template knows, where rendering through Jinja2 cost
a helper call, a context look-up and an escape for each. The text is what Jinja2 would print, without its
blank lines (those of absent fields). A template outside the vocabulary is refused when first compiled.

Records arrive cleaned (``render.py``): leaf values as escaped text, aggregates as dicts, repeated fields as
lists. ``Plan.render`` also reports the fields a record has that the template does not print (they would be
lost).
"""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from jinja2 import Environment, PackageLoader, nodes

from qbsync.qbxml.fields import KNOWN_VERSIONS, Kind, catalog

TEMPLATE_SUFFIX = ".xml.j2"
ADDRESS_FIELDS = (
    "Addr1", "Addr2", "Addr3", "Addr4", "Addr5", "City", "State", "PostalCode", "Country", "Note",
)
REF_FIELDS = ("ListID", "FullName")

# A cleaned record: by field name, a leaf's escaped text, a nested record, or a list of either (a repeated
# field). Typed loosely: the plans print what the schema put there.
Fields = dict[str, Any]

# The templates' parser, with the whitespace rules they are written for.
_environment = Environment(  # noqa: S701 - only parses; values are escaped as they are cleaned
    loader=PackageLoader("qbsync", "qbxml_templates"), trim_blocks=True, lstrip_blocks=True, auto_reload=False
)


@functools.cache
def template_names() -> frozenset[str]:
    """The request types there is a template for (names without "Rq")."""
    return frozenset(
        name.removesuffix(TEMPLATE_SUFFIX)
        for name in _environment.list_templates()
        if name.endswith(TEMPLATE_SUFFIX) and not name.startswith("_")
    )


@functools.cache
def _allowed(schema_path: str) -> frozenset[str]:
    """Every name a template may read at ``schema_path``, in any known version (templates serve them all)."""
    names: set[str] = set()
    for version in KNOWN_VERSIONS:
        cat = catalog(version)
        found = cat.field_at(schema_path)
        if found is not None:
            names.update(cat.children(found))
            names.update(cat.attributes(found))
    return frozenset(names)


class _Reads:
    """What a template sends of one record: the names it prints and, per aggregate among them, the same."""

    __slots__ = ("names", "nested")

    def __init__(self, names: Sequence[str] = ()) -> None:
        self.names: set[str] = set(names)
        self.nested: dict[str, _Reads] = {}

    def nest(self, name: str, fixed: Sequence[str] = ()) -> _Reads:
        self.names.add(name)
        return self.nested.setdefault(name, _Reads(fixed))

    def lost(self, fields: Fields, path: str, into: list[str]) -> None:
        """Add the paths of ``fields`` the template does not print to ``into`` (they would be lost)."""
        if fields.keys() <= self.names:
            return
        into.extend(f"{path}/{name}" for name in fields if name not in self.names)


# Env: the records a template's variables stand for, with their paths (for error messages).
_Env = dict[str, tuple[Fields, str]]


def _el(open_tag: str, close_tag: str, value: str | list[str]) -> str:
    if type(value) is str:
        return f"{open_tag}{value}{close_tag}"
    return "".join(f"{open_tag}{item}{close_tag}" for item in value)  # a repeated element: one per item


def _group(tag: str, names: Sequence[str], record: Fields) -> str:
    """A reference or an address, on one line: ``<Tag><ListID>..</ListID></Tag>``."""
    if len(record) == 1:  # most references: one name (a name the template lacks is refused anyway)
        ((name, value),) = record.items()
        return f"<{tag}><{name}>{value}</{name}></{tag}>"
    get = record.get
    inner = "".join(f"<{name}>{get(name)}</{name}>" for name in names if get(name) is not None)
    return f"<{tag}>{inner}</{tag}>"


_EL, _REF, _ADDRESS, _ATTR = "el", "ref", "address", "attr"
_GROUP_FIELDS = {_REF: REF_FIELDS, _ADDRESS: ADDRESS_FIELDS}


@dataclass(frozen=True)
class _Slot:
    """One helper call, ``q.<helper>("<tag>", <var>.<name>)``; ``reads`` for a reference or an address."""

    helper: str
    tag: str
    var: str
    name: str
    reads: _Reads | None

    def text(self, env: _Env, lost: list[str]) -> str:
        fields, path = env[self.var]
        value = fields.get(self.name)
        if value is None:
            return ""
        if self.helper == _ATTR:
            return f' {self.tag}="{value}"'
        if self.helper == _EL:
            return _el(f"<{self.tag}>", f"</{self.tag}>", value)
        if not value:
            return ""
        assert self.reads is not None
        self.reads.lost(value, f"{path}/{self.name}", lost)
        return _group(self.tag, _GROUP_FIELDS[self.helper], value)


class _Op(ABC):
    """One step of a plan: appends the lines it prints."""

    @abstractmethod
    def emit(self, env: _Env, lines: list[str], lost: list[str]) -> None: ...


# A line of a run: (field name, or None for a literal line; indentation; helper; open tag, a group's tag or
# the literal line; close tag; a group's field names; a group's reads)
_RunEntry = tuple[str | None, str, str, str, str, Sequence[str], "_Reads | None"]


class _Run(_Op):
    """Consecutive lines that each hold literal text or one field of the same record (most of a template):
    one loop with a dict look-up per field, whether the data has it or not."""

    def __init__(self, var: str | None) -> None:
        self.var = var  # None while the run holds literal lines only
        self.entries: list[_RunEntry] = []

    def emit(self, env: _Env, lines: list[str], lost: list[str]) -> None:
        fields, path = env[self.var] if self.var is not None else ({}, "")
        get = fields.get
        append = lines.append
        for name, prefix, helper, open_tag, close_tag, group, reads in self.entries:
            if name is None:
                append(open_tag)
                continue
            value = get(name)
            if value is None:
                continue  # absent: most fields a template knows
            if helper is _EL:
                if type(value) is str:
                    append(f"{prefix}{open_tag}{value}{close_tag}")
                elif value:
                    append(prefix + _el(open_tag, close_tag, value))
            elif value:  # a reference or an address with something in it
                assert reads is not None
                if not value.keys() <= reads.names:
                    reads.lost(value, f"{path}/{name}", lost)
                append(prefix + _group(open_tag, group, value))


class _Line(_Op):
    """Any other line: literal text and fields mixed (the request's own tag with its attributes)."""

    def __init__(self, parts: list[str | _Slot]) -> None:
        self.parts = parts

    def emit(self, env: _Env, lines: list[str], lost: list[str]) -> None:
        text = "".join([part if isinstance(part, str) else part.text(env, lost) for part in self.parts])
        if text.strip():
            lines.append(text)


class _Block(_Op):
    """``{% for item in x.Field or [] %}`` or ``{% with item = x.Field %}{% if item %}``, and its lines."""

    def __init__(self, var: str, name: str, item: str, repeated: bool, reads: _Reads,
                 body: list[_Op]) -> None:
        self.var, self.name, self.item, self.repeated, self.reads, self.body = (
            var, name, item, repeated, reads, body)

    def emit(self, env: _Env, lines: list[str], lost: list[str]) -> None:
        fields, path = env[self.var]
        value = fields.get(self.name)
        if not value:
            return
        outer = env.get(self.item)
        for index, record in enumerate(value if self.repeated else [value]):
            record_path = f"{path}/{self.name}[{index}]" if self.repeated else f"{path}/{self.name}"
            self.reads.lost(record, record_path, lost)
            env[self.item] = (record, record_path)
            for op in self.body:
                op.emit(env, lines, lost)
        if outer is not None:  # Jinja's scoping: the name means the outer record again after the block
            env[self.item] = outer


def _run_entry(indent: str, slot: _Slot) -> _RunEntry:
    if slot.helper == _EL:
        return slot.name, indent, _EL, f"<{slot.tag}>", f"</{slot.tag}>", (), None
    return slot.name, indent, slot.helper, slot.tag, "", _GROUP_FIELDS[slot.helper], slot.reads


class TemplateError(Exception):
    """A request template outside the vocabulary the plans know (see the module doc)."""


@dataclass(frozen=True)
class _Scope:
    """At compile time: what a template variable stands for."""

    reads: _Reads
    schema_path: str  # "SalesReceiptAdd/SalesReceiptLineAdd"


class _Compiler:
    """Turns one parsed template into a plan (see the module doc), checking it against the schema."""

    def __init__(self, template: str, version: str) -> None:
        self.template = template
        self.version = version

    def fail(self, problem: str) -> TemplateError:
        return TemplateError(f"{self.template}: {problem}")

    def field(self, scope: _Scope, name: str, kind: str) -> None:
        """Check ``name`` exists at the scope and suits the helper or block using it."""
        if name not in _allowed(scope.schema_path):
            raise self.fail(f"{scope.schema_path} has no field {name!r} in any qbXML version")
        found = catalog(self.version).field_at(f"{scope.schema_path}/{name}")
        if found is None or kind == _ATTR:
            return
        aggregate = found.kind == Kind.AGGREGATE
        fits = {
            _EL: not aggregate, _REF: aggregate and not found.repeated,
            _ADDRESS: aggregate and not found.repeated,
            "for": aggregate and found.repeated, "with": aggregate and not found.repeated,
        }[kind]
        if not fits:
            raise self.fail(f"{kind} cannot print {scope.schema_path}/{name}")

    def getattr_of(self, node: nodes.Node, scopes: dict[str, _Scope]) -> tuple[str, str]:
        if not (isinstance(node, nodes.Getattr) and isinstance(node.node, nodes.Name)
                and node.node.name in scopes):
            raise self.fail(f"expected a field of a record, found {node!r}")
        return node.node.name, node.attr

    def slot(self, node: nodes.Node, scopes: dict[str, _Scope]) -> _Slot:
        if not (isinstance(node, nodes.Call) and isinstance(node.node, nodes.Getattr)
                and isinstance(node.node.node, nodes.Name) and node.node.node.name == "q"
                and node.node.attr in (_EL, _REF, _ADDRESS, _ATTR) and len(node.args) == 2
                and isinstance(node.args[0], nodes.Const) and isinstance(node.args[0].value, str)
                and not (node.kwargs or node.dyn_args or node.dyn_kwargs)):
            raise self.fail(f'expected q.el/ref/address/attr("Tag", record.Field), found {node!r}')
        helper, tag = node.node.attr, node.args[0].value
        var, name = self.getattr_of(node.args[1], scopes)
        scope = scopes[var]
        self.field(scope, name, helper)
        reads = None
        if helper in _GROUP_FIELDS:
            reads = scope.reads.nest(name, _GROUP_FIELDS[helper])
            for inner in _GROUP_FIELDS[helper]:  # each printed once, as text (see _group)
                self.field(_Scope(reads, f"{scope.schema_path}/{name}"), inner, _EL)
                found = catalog(self.version).field_at(f"{scope.schema_path}/{name}/{inner}")
                if found is not None and found.repeated:
                    raise self.fail(f"{helper} cannot print the repeated {scope.schema_path}/{name}/{inner}")
        else:
            scope.reads.names.add(name)
        return _Slot(helper, tag, var, name, reads)

    def body(self, body: list[nodes.Node], scopes: dict[str, _Scope], last: bool = False) -> list[_Op]:
        """The ops of a template or block body; its text must end a line before a block or the body ends."""
        ops: list[_Op] = []
        line: list[str | _Slot] = [""]

        def end_line() -> None:
            parts = [part for part in line if part != ""]
            line[:] = [""]
            if not any(isinstance(part, _Slot) for part in parts):
                text = "".join(str(part) for part in parts)
                if text.strip():  # Jinja's blank lines are dropped
                    run_of(None).entries.append((None, "", "", text, "", (), None))
                return
            # The usual line: indentation and one field (of a run); anything else is printed part by part.
            indent, field = parts if len(parts) == 2 else ("", parts[0]) if len(parts) == 1 else ("x", None)
            if (isinstance(indent, str) and not indent.strip() and isinstance(field, _Slot)
                    and field.helper != _ATTR):
                run_of(field.var).entries.append(_run_entry(indent, field))
            else:
                ops.append(_Line(parts))

        def run_of(var: str | None) -> _Run:
            last_op = ops[-1] if ops else None
            if isinstance(last_op, _Run) and (var is None or last_op.var in (None, var)):
                last_op.var = last_op.var or var
                return last_op
            run = _Run(var)
            ops.append(run)
            return run

        def block_starts() -> None:
            if any(part != "" for part in line):
                raise self.fail("a block tag shares its line with output; give it a line of its own")

        for node in body:
            if isinstance(node, nodes.Output):
                for child in node.nodes:
                    if isinstance(child, nodes.TemplateData):
                        first, *rest = child.data.split("\n")
                        line.append(first)
                        for text in rest:
                            end_line()
                            line.append(text)
                    else:
                        line.append(self.slot(child, scopes))
            elif isinstance(node, nodes.For):
                block_starts()
                if not (isinstance(node.target, nodes.Name) and isinstance(node.iter, nodes.Or)
                        and isinstance(node.iter.right, nodes.List) and not node.iter.right.items
                        and not node.else_ and node.test is None and not node.recursive):
                    raise self.fail("expected {% for vN in record.Field or [] %}")
                ops.append(self.block(node.iter.left, node.target.name, True, node.body, scopes))
            elif isinstance(node, nodes.With):
                block_starts()
                inner = node.body[0] if len(node.body) == 1 else None
                if not (len(node.targets) == 1 and isinstance(node.targets[0], nodes.Name)
                        and isinstance(inner, nodes.If) and isinstance(inner.test, nodes.Name)
                        and inner.test.name == node.targets[0].name and not inner.elif_
                        and not inner.else_):
                    raise self.fail("expected {% with vN = record.Field %}{% if vN %}")
                ops.append(self.block(node.values[0], node.targets[0].name, False, inner.body, scopes))
            else:
                raise self.fail(f"unexpected {type(node).__name__}")
        if last:
            end_line()
        elif any(part != "" for part in line):
            raise self.fail("a block's last line runs into its end tag; end it with a line break")
        return ops

    def block(self, source: nodes.Node, item: str, repeated: bool, body: list[nodes.Node],
              scopes: dict[str, _Scope]) -> _Block:
        var, name = self.getattr_of(source, scopes)
        scope = scopes[var]
        self.field(scope, name, "for" if repeated else "with")
        reads = scope.reads.nest(name)
        inner = _Scope(reads, f"{scope.schema_path}/{name}")
        return _Block(var, name, item, repeated, reads, self.body(body, {**scopes, item: inner}))


@dataclass(frozen=True)
class Plan:
    """A compiled template: what it prints of the request (``rq``) and of its body (``d``), and its ops."""

    rq: _Reads
    body: _Reads
    ops: list[_Op]

    def render(self, rq: Fields, rq_path: str, body: Fields | None, body_path: str) -> tuple[str, list[str]]:
        """The request's text, and the paths of the fields given that the template does not print.

        ``body`` is None for a request without a body (``d`` is then the request's record).
        """
        lost: list[str] = []
        self.rq.lost(rq, rq_path, lost)
        if body is None:
            env: _Env = {"rq": (rq, rq_path), "d": (rq, rq_path)}
        else:
            self.body.lost(body, body_path, lost)
            env = {"rq": (rq, rq_path), "d": (body, body_path)}
        lines: list[str] = []
        for op in self.ops:
            op.emit(env, lines, lost)
        return "\n".join(lines), lost


@functools.lru_cache(maxsize=512)
def _parsed(name: str) -> nodes.Template:
    source, filename, _ = _environment.loader.get_source(  # type: ignore[union-attr]
        _environment, f"{name}{TEMPLATE_SUFFIX}")
    return _environment.parse(source, name, filename)


def compile_plan(name: str, version: str, has_body: bool) -> Plan:
    """The plan of ``name``'s template ("CustomerAdd") for ``version``; ``has_body`` when the request's
    fields sit in a ``<CustomerAdd>`` body. Raises ``TemplateError`` for a template outside the vocabulary."""
    rq = _Scope(_Reads(), f"{name}Rq")
    body = _Scope(_Reads(), name) if has_body else rq
    compiler = _Compiler(f"{name}{TEMPLATE_SUFFIX}", version)
    ops = compiler.body(_parsed(name).body, {"rq": rq, "d": body}, last=True)
    return Plan(rq.reads, body.reads, ops)
