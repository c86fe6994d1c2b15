"""The house's sizes (STYLE.md): no function over 60 lines outside the migrations, no module
over 500, in the code that ships (transient/, backends/, plugins/). Read with ast, nothing is
imported. A function that grows past it is split into named parts; a module, into two ideas."""

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[2]
MAX_FUNCTION, MAX_MODULE = 60, 500
FILES = sorted(p for top in ("transient", "backends", "plugins") for p in (ROOT / top).rglob("*.py"))


def _functions(tree):
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            # From its first decorator to its last line: what a reader has to take in at once.
            start = min([node.lineno] + [d.lineno for d in node.decorator_list])
            yield node.name, node.lineno, node.end_lineno - start + 1


def test_the_files_are_found():
    assert len(FILES) > 100 and (ROOT / "transient" / "runtime" / "__init__.py") in FILES


def test_no_function_is_over_60_lines_outside_the_migrations():
    long = [
        "%s:%d %s (%d lines)" % (path.relative_to(ROOT), line, name, length)
        for path in FILES
        if "migrations" not in path.parts
        for name, line, length in _functions(ast.parse(path.read_text(), str(path)))
        if length > MAX_FUNCTION
    ]
    assert not long, "split these into named parts:\n" + "\n".join(long)


def test_no_module_is_over_500_lines():
    big = [
        "%s (%d lines)" % (path.relative_to(ROOT), n)
        for path in FILES
        if (n := len(path.read_text().splitlines())) > MAX_MODULE
    ]
    assert not big, "a module this long holds two ideas:\n" + "\n".join(big)


def test_a_function_is_measured_from_its_decorator_to_its_last_line():
    body = "\n".join("    x = %d" % i for i in range(61))
    (name, _, length), *_ = _functions(ast.parse("@decorated\ndef f():\n%s\n" % body))
    assert (name, length) == ("f", 63)
