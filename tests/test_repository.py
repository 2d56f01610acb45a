"""Repository-level contracts: the README's commands, CI, and the layering of packages."""

import ast
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```bash\n(.*?)```", text, re.S)
    assert block, "README must open with a bash block holding the two commands"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_readme_opens_with_exactly_two_commands():
    text = (ROOT / "README.md").read_text()
    first_block = text.index("```bash")
    assert text[:first_block].count("\n") <= 2, "the commands must open the README"
    commands = _readme_commands()
    assert len(commands) == 2
    assert "rnn-derive build" in commands[0]
    assert "pytest" in commands[1]


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert _readme_commands()[1].replace(" -q ", " ").replace("-q ", "") in ci.replace(
        " -q ", " "
    ).replace("-q ", "")


def _imports(package: str) -> set[str]:
    found = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
    return found


def test_rnn_num_knows_nothing_of_sympy():
    assert not _imports("rnn_num") & {"sympy", "symengine", "rnn_sym", "derivations"}


def test_model_specification_is_plain_data():
    # Both implementations of a model read rnn_spec, so it may depend on neither.
    allowed = {"__future__", "dataclasses", "collections"}
    assert _imports("rnn_spec") <= allowed, _imports("rnn_spec") - allowed


def test_engine_never_imports_content_or_cli():
    assert not _imports("rnn_sym") & {"derivations", "rnn_derive", "rnn_check", "rnn_num"}


def test_no_eval_of_text_in_packages():
    pattern = re.compile(r"\b(eval|exec|sympify|parse_expr)\(")
    for package in ("rnn_spec", "rnn_num", "rnn_sym", "rnn_check", "derivations", "rnn_derive"):
        for path in (ROOT / package).rglob("*.py"):
            for number, line in enumerate(path.read_text().splitlines(), 1):
                code = line.split("#", 1)[0]
                assert not pattern.search(code), f"{path}:{number}: {line.strip()}"


def test_readme_python_example_runs(tmp_path):
    import subprocess
    import sys

    text = (ROOT / "README.md").read_text()
    example = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    script = tmp_path / "example.py"
    script.write_text(example)
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert "CORRECT" in done.stdout
