"""How the request templates are compiled: Jinja2, minus the per-call indirection they never need.

Jinja2 turns ``{{ q.el("Name", d.Name) }}`` into
``escape(finalize(context.call(environment.getattr(q, "el"), "Name", environment.getattr(d, "Name"))))``:
four wrapper calls around the one that does the work, for every field a template knows, present or not.
That generality serves templates that call context-aware functions or read dict keys as attributes; ours
only call the ``q`` helpers (plain functions that return escaped ``Markup``) and read attributes of
``Record`` objects and of ``q``. For exactly those shapes this code generator writes plain Python:

* ``q.helper(args)`` becomes a direct call, and as an output its result is written as it is (the helpers
  escape what they print; ``escape`` and ``finalize`` would hand their Markup back unchanged);
* ``record.Field`` becomes plain attribute access (``Record.__getattr__`` answers None for an absent field
  and raises for a name the schema does not have, as before, only without Jinja's item-lookup fallback).

Everything else (template data, ``{% for %}``, ``{% with %}``, ``{% if %}``, other expressions) compiles as
Jinja2 always does, so the rendered text is the same byte for byte.
"""

from __future__ import annotations

import keyword
from typing import Any

from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame

#: The template global holding the helpers (``render._Markup``).
HELPERS = "q"


def _is_helper_call(node: nodes.Node) -> bool:
    """``q.name(positional args)``: a helper call that can be written as a plain Python call."""
    return (
        isinstance(node, nodes.Call)
        and isinstance(node.node, nodes.Getattr)
        and isinstance(node.node.node, nodes.Name)
        and node.node.node.name == HELPERS
        and not (node.kwargs or node.dyn_args or node.dyn_kwargs)
    )


class RequestCodeGenerator(CodeGenerator):
    """Jinja2's code generator with direct helper calls and plain attribute access (see the module doc)."""

    def visit_Call(self, node: nodes.Call, frame: Frame, forward_caller: bool = False) -> None:
        if forward_caller or not _is_helper_call(node):
            super().visit_Call(node, frame, forward_caller)
            return
        self.visit(node.node, frame)
        self.write("(")
        for index, arg in enumerate(node.args):
            if index:
                self.write(", ")
            self.visit(arg, frame)
        self.write(")")

    def visit_Getattr(self, node: nodes.Getattr, frame: Frame) -> None:
        if keyword.iskeyword(node.attr) or not node.attr.isidentifier():
            super().visit_Getattr(node, frame)
            return
        self.write("(")
        self.visit(node.node, frame)
        self.write(f").{node.attr}")

    def _output_child_pre(self, node: nodes.Expr, frame: Frame, finalize: Any) -> None:
        if not _is_helper_call(node):
            super()._output_child_pre(node, frame, finalize)

    def _output_child_post(self, node: nodes.Expr, frame: Frame, finalize: Any) -> None:
        if not _is_helper_call(node):
            super()._output_child_post(node, frame, finalize)
