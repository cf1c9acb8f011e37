"""Objectives written as text, for the command line and study specs: the algebra of terms as Python writes it,
`unit('blocks.5:3') - 50 * diversity() + 0.01 * tv()`, read without `eval`: only registered terms called with
literal arguments, numbers, `+`, `-` and `*`. A term registered with `register` (in any file) is usable at once
from the facade, `invert maximize --objective`, and a maximize spec's `objectives`.
"""
from __future__ import annotations

import ast
from typing import Any, Callable

from ..errors import SettingError
from .algebra import Objective
from .terms import alpha_norm, bn_statistics, channel, diversity, tv, unit

TERMS: dict[str, Callable[..., Objective]] = {
    "unit": unit, "channel": channel, "diversity": diversity, "tv": tv, "alpha_norm": alpha_norm,
    "bn_statistics": bn_statistics,
}


def register(name: str) -> Callable[[Callable[..., Objective]], Callable[..., Objective]]:
    """Decorator: make a function (or Objective class) that builds a term callable as `name(...)` in objectives
    written as text."""
    def add(factory: Callable[..., Objective]) -> Callable[..., Objective]:
        TERMS[name] = factory
        return factory
    return add


def parse(text: str) -> Objective:
    """The objective `text` writes; a SettingError naming `objective` and what is wrong with it otherwise."""
    try:
        tree = ast.parse(str(text).strip(), mode="eval")
    except SyntaxError:
        raise SettingError("objective", f"{text!r} is not an expression; write terms such as "
                                        "unit('blocks.5:3') - 50 * diversity()") from None
    built = _build(tree.body, text)
    if not isinstance(built, Objective):
        raise SettingError("objective", f"{text!r} names no term; known terms: {', '.join(TERMS)}")
    return built


def _build(node: ast.AST, text: str) -> Any:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return float(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _build(node.operand, text)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub, ast.Mult)):
        left, right = _build(node.left, text), _build(node.right, text)
        if isinstance(node.op, ast.Mult) and isinstance(left, Objective) and isinstance(right, Objective):
            raise SettingError("objective", f"{text!r}: terms are scaled by numbers, not multiplied together")
        if not isinstance(node.op, ast.Mult) and not (isinstance(left, Objective) and isinstance(right, Objective)):
            raise SettingError("objective", f"{text!r}: a number alone cannot be added to a term")
        return {ast.Add: lambda: left + right, ast.Sub: lambda: left - right,
                ast.Mult: lambda: left * right}[type(node.op)]()
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        if node.func.id not in TERMS:
            raise SettingError("objective", f"{text!r}: no term {node.func.id!r}; known: {', '.join(TERMS)}")
        try:
            args = [ast.literal_eval(a) for a in node.args]
            kwargs = {k.arg: ast.literal_eval(k.value) for k in node.keywords}
        except ValueError:
            raise SettingError("objective", f"{text!r}: give {node.func.id}(…) literal arguments (texts, numbers, "
                                            "lists)") from None
        try:
            return TERMS[node.func.id](*args, **kwargs)
        except (TypeError, ValueError) as error:  # a term's own check of its arguments (SettingError included)
            raise SettingError("objective", f"{text!r}: {node.func.id}(…): {error}") from None
    raise SettingError("objective", f"{text!r}: only terms, numbers, +, - and * are read")
