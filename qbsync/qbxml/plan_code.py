"""A request template's plan compiled into one Python function that cleans and prints a request in one pass.

``Plan.render`` walks a plan op by op over records that ``render._record`` cleaned first: two walks of the
data, a dict of cleaned text built per aggregate, and an interpreted step per line. ``compile_renderer``
writes the plan out once as straight Python instead (one ``if`` per field the template prints, the tags
already in the string constants, literal lines merged), which reads ``data`` itself and cleans each value
where it prints it.

The compiled function is a fast path, not a second implementation: it takes the usual data (plain dicts,
lists, and leaf values) and raises ``Fallback`` (or whatever a cleaner raises) for anything else: a field
the template does not print or the version does not have, a value a cleaner refuses, a tuple or a single
record where a list is expected. ``render_request`` then renders through the plan, the reference, which
raises its errors in ``data``'s order with their places. The bytes are the plan's: see
``tests/qbxml/test_compiled_plans.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from qbsync.qbxml.fields import Catalog, Field
from qbsync.qbxml.template_plan import _ATTR, _EL, Plan, _Block, _Line, _Op, _Run, _Slot

# Renders a request from its ``data`` and its escaped attributes (requestID, iterator...).
Renderer = Callable[[Mapping[str, object], Mapping[str, str]], str]

# Leaf values a formatter takes as they are (a str may be "", which is sent as an empty element).
_FORMATTED_TYPES = frozenset({int, bool, float, Decimal, date, datetime})

_LINE_BREAK = "\n"  # (an f-string expression takes no backslash before Python 3.12)


class Fallback(Exception):  # not an error: the reference path renders (or refuses) the request
    """The compiled function does not handle this data; render it through the plan."""


@dataclass(frozen=True)
class LeafCleaning:
    """How compiled code cleans one leaf field (``render`` works it out from the schema)."""

    exact: Callable[[object], str]  # the plan path's cleaning of one value; raises for what it refuses
    plain: Callable[[str], object] | None = None  # text, identifiers: a str it accepts is sent as it is...
    fits: int | None = None  # ... when it is at most this long (None: any length)
    formatter: Callable[[object], str] | None = None  # amounts, dates...: takes a non-str leaf directly
    choices: Mapping[str, str] | None = None  # an enum: each allowed value, escaped


@dataclass(frozen=True)
class _Record:
    """At compile time: the record a template variable stands for."""

    var: str  # the local holding the record's dict
    field: Field  # its aggregate in the schema
    readable: frozenset[str]  # the names this variable reads from the dict (the others are never there)


class _Writer:
    """Writes the compiled function's source, with its constants passed in by name."""

    def __init__(self, catalog: Catalog, leaf: Callable[[Field], LeafCleaning]) -> None:
        self.catalog = catalog
        self.leaf = leaf
        self.lines: list[str] = []
        self.constants: dict[str, object] = {}
        self.names: dict[int, str] = {}  # by id() of the constant
        self.pending: list[str] = []  # literal output lines not yet appended
        self.depth = 0

    def constant(self, value: object) -> str:
        """The name the source uses for ``value`` (one name per object)."""
        name = self.names.get(id(value))
        if name is None:
            name = self.names[id(value)] = f"k{len(self.constants)}"
            self.constants[name] = value  # held here: the id stays this object's
        return name

    def code(self, indent: int, text: str) -> None:
        self.lines.append("    " * indent + text)

    def literal(self, text: str) -> None:
        self.pending.append(text)

    def flush(self, indent: int) -> None:
        """Append the pending literal lines, as one string (the output is joined with line breaks)."""
        if self.pending:
            self.code(indent, f"append({_LINE_BREAK.join(self.pending)!r})")
            self.pending = []

    def only_known(self, indent: int, record: str, allowed: str) -> None:
        """Code that refuses a record with a field this path does not print, unless it is None (cleaning
        leaves those out, whatever their names)."""
        nones = self.constant(_nones)
        self.code(indent, f"if not {record}.keys() <= {allowed} and not {nones}({record}, {allowed}): "
                           "raise fallback")

    def allowed(self, record: _Record, reads: Iterable[str]) -> frozenset[str]:
        return frozenset(reads) & record.readable

    def cleaned(self, indent: int, value: str, field: Field) -> None:
        """Code that replaces ``value`` (a local, not None) by its cleaned, escaped text."""
        leaf = self.leaf(field)
        exact = self.constant(leaf.exact)
        if leaf.plain is not None:
            plain = self.constant(leaf.plain)
            too_long = f" or len({value}) > {leaf.fits}" if leaf.fits is not None else ""
            self.code(indent, f"if type({value}) is not str{too_long} or not {plain}({value}): "
                              f"{value} = {exact}({value})")
        elif leaf.formatter is not None:
            formatter, types = self.constant(leaf.formatter), self.constant(_FORMATTED_TYPES)
            self.code(indent, f"{value} = {formatter}({value}) if type({value}) in {types} "
                              f"else {exact}({value})")
        elif leaf.choices is not None:
            choices = self.constant(leaf.choices)
            self.code(indent, f"{value} = ({choices}.get({value}) if type({value}) is str else None) "
                              f"or {exact}({value})")
        else:
            self.code(indent, f"{value} = {exact}({value})")

    def child(self, record: _Record, name: str) -> Field:
        found = self.catalog.children(record.field).get(name)
        if found is None:
            raise Fallback(f"{record.field.name} has no {name}")
        return found

    def ops(self, ops: list[_Op], records: dict[str, _Record], attributes: frozenset[str],
            indent: int) -> None:
        for op in ops:
            if isinstance(op, _Run):
                self.run(op, records, indent)
            elif isinstance(op, _Line):
                self.line(op, records, attributes, indent)
            elif isinstance(op, _Block):
                self.block(op, records, attributes, indent)
            else:
                raise Fallback(f"unknown op {op!r}")

    def run(self, run: _Run, records: dict[str, _Record], indent: int) -> None:
        record = records[run.var] if run.var is not None else None
        for name, prefix, helper, open_tag, close_tag, group, reads in run.entries:
            if name is None:
                self.literal(open_tag)
                continue
            assert record is not None
            if name not in record.readable:
                continue  # never in the data this path takes
            field = self.child(record, name)
            value = f"v{self.depth}"
            self.flush(indent)
            self.code(indent, f"{value} = {record.var}.get({name!r})")
            self.code(indent, f"if {value} is not None:")
            if helper == _EL and not field.repeated:
                self.cleaned(indent + 1, value, field)
                self.code(indent + 1, f"append({prefix + open_tag!r} + {value} + {close_tag!r})")
            elif helper == _EL:
                listed, item = self.constant(_listed), f"i{self.depth}"
                self.code(indent + 1, f"if type({value}) is not list: {value} = {listed}({value})")
                self.code(indent + 1, f"if {value}:")
                self.code(indent + 2, "items = []")
                self.code(indent + 2, f"for {item} in {value}:")
                self.cleaned(indent + 3, item, field)
                self.code(indent + 3, f"items.append({item})")
                self.code(indent + 2, f"append({prefix + open_tag!r} + {close_tag + open_tag!r}.join(items) "
                                      f"+ {close_tag!r})")
            else:
                assert reads is not None
                if reads.names != set(group):
                    raise Fallback(f"{name} is read as a group and otherwise")
                inner = _Record(value, field, frozenset(self.catalog.children(field)))
                allowed = self.constant(self.allowed(inner, group))
                self.code(indent + 1, f"if type({value}) is not dict: raise fallback")
                self.only_known(indent + 1, value, allowed)
                self.code(indent + 1, "text = ''")
                part = f"p{self.depth}"
                for inner_name in group:
                    if inner_name not in inner.readable:
                        continue
                    self.code(indent + 1, f"{part} = {value}.get({inner_name!r})")
                    self.code(indent + 1, f"if {part} is not None:")
                    self.cleaned(indent + 2, part, self.child(inner, inner_name))
                    self.code(indent + 2, f"text += {f'<{inner_name}>'!r} + {part} + {f'</{inner_name}>'!r}")
                self.code(indent + 1, f"if text: append({f'{prefix}<{open_tag}>'!r} + text + "
                                      f"{f'</{open_tag}>'!r})")

    def line(self, line: _Line, records: dict[str, _Record], attributes: frozenset[str], indent: int) -> None:
        """The request's own tag: literal text and its attributes (from ``attrs``, escaped already)."""
        parts: list[str] = []
        for part in line.parts:
            if isinstance(part, str):
                parts.append(repr(part))
                continue
            if not (isinstance(part, _Slot) and part.helper == _ATTR and part.name in attributes
                    and records[part.var].var == "data"):
                raise Fallback(f"a line prints {part!r}")
            parts.append(f"((' {part.tag}=\"' + a + '\"') if (a := attrs.get({part.name!r})) is not None "
                         "else '')")
        self.flush(indent)
        self.code(indent, f"text = {' + '.join(parts) or repr('')}")
        literal = "".join(part for part in line.parts if isinstance(part, str))
        self.code(indent, "append(text)" if literal.strip() else "if text.strip(): append(text)")

    def block(self, block: _Block, records: dict[str, _Record], attributes: frozenset[str],
              indent: int) -> None:
        record = records[block.var]
        if block.name not in record.readable:
            return
        field = self.child(record, block.name)
        self.depth += 1
        value, item = f"v{self.depth}", f"r{self.depth}"
        inner = _Record(item, field, frozenset(self.catalog.children(field)))
        allowed = self.constant(self.allowed(inner, block.reads.names))
        self.flush(indent)
        self.code(indent, f"{value} = {record.var}.get({block.name!r})")
        self.code(indent, f"if {value} is not None:")
        if block.repeated:
            self.code(indent + 1, f"if type({value}) is not list: raise fallback")
            self.code(indent + 1, f"for {item} in {value}:")
        else:
            self.code(indent + 1, f"for {item} in ({value},):")
        self.code(indent + 2, f"if type({item}) is not dict: raise fallback")
        self.only_known(indent + 2, item, allowed)
        if not block.repeated:
            filled = self.constant(_filled)
            self.code(indent + 2, f"if not {filled}({item}): break")
        self.ops(block.body, {**records, block.item: inner}, attributes,
                 indent + 2)
        self.flush(indent + 2)
        self.depth -= 1


def _nones(record: Mapping[str, object], allowed: frozenset[str]) -> bool:
    """Whether the fields of ``record`` outside ``allowed`` are all None (left out)."""
    return all(record[name] is None for name in record.keys() - allowed)


def _listed(value: object) -> list[object]:
    """A repeated field's items, as cleaning takes them: a tuple's, or a single value alone."""
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _filled(record: Mapping[str, object]) -> bool:
    """Whether an optional aggregate has a field to print (its None fields are left out)."""
    return any(value is not None for value in record.values())


def compile_renderer(
    plan: Plan, catalog: Catalog, rq: Field, body: Field | None, attributes: frozenset[str],
    rq_keys: frozenset[str], leaf: Callable[[Field], LeafCleaning],
) -> Renderer | None:
    """``plan`` as one function of ``(data, attrs)``, for ``rq`` (``body``: its ``<XxxAdd>`` aggregate, or
    None) in ``catalog``'s version; ``rq_keys`` are the names of ``data`` that go on the request (as
    ``render._shape`` routes them). None when the plan holds something the compiler does not know (the plan
    then renders every request of the type)."""
    writer = _Writer(catalog, leaf)
    rq_names = frozenset(catalog.children(rq)) - attributes
    if body is None:
        records = {"rq": _Record("data", rq, rq_names), "d": _Record("data", rq, rq_names)}
    else:
        rq_names -= {body.name}
        body_names = frozenset(catalog.children(body)) - rq_keys
        records = {"rq": _Record("data", rq, rq_names), "d": _Record("data", body, body_names)}
    printed = plan.rq.names & attributes  # the attributes the template prints
    top = (writer.allowed(records["rq"], plan.rq.names) | writer.allowed(records["d"], plan.body.names)
           | printed)
    writer.code(1, f"if type(data) is not dict or not attrs.keys() <= {writer.constant(printed)}: "
                   "raise fallback")
    writer.only_known(1, "data", writer.constant(top))
    writer.code(1, "out = []")
    writer.code(1, "append = out.append")
    try:
        writer.ops(plan.ops, records, attributes, 1)
    except Fallback:
        return None
    writer.flush(1)
    writer.code(1, "return '\\n'.join(out)")
    names = ", ".join(["fallback", *writer.constants])
    source = "\n".join([
        f"def make({names}):", "    def renderer(data, attrs):", *("    " + line for line in writer.lines),
        "    return renderer",
    ])
    namespace: dict[str, object] = {}
    # The source holds only the template's tag names (checked against the schema) as string literals and
    # the names of the constants passed in: data never becomes code.
    exec(compile(source, f"<{rq.name} plan>", "exec"), namespace)  # noqa: S102
    make = namespace["make"]
    assert callable(make)
    renderer: Renderer = make(Fallback, *writer.constants.values())
    return renderer
