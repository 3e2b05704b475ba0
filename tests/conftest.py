"""Shared test helpers. `ast_eval` is the tests' own arithmetic: Python's parser plus exact Fractions,
independent of r1mini's expression code (r1mini.tasks.parse_expr / evaluate) that it checks."""

import ast
import operator
from fractions import Fraction

OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}


def ast_eval(text: str) -> Fraction:
    """Exact value of + - * / integer arithmetic, by Python's own parser (our generated text only)."""

    def walk(node):
        if isinstance(node, ast.Constant) and type(node.value) is int:
            return Fraction(node.value)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -walk(node.operand)
        if isinstance(node, ast.BinOp) and type(node.op) in OPS:
            return OPS[type(node.op)](walk(node.left), walk(node.right))
        raise ValueError(f"not arithmetic: {ast.dump(node)}")

    return walk(ast.parse(text, mode="eval").body)
