"""The ``kerasreg`` command: list and run the lecture's recipes.

    kerasreg list
    kerasreg run NAME [--quick] [--epochs N] [--dataset NAME] [--seed S] [--out DIR]
    kerasreg run all [--quick] [--seed S] [--out DIR]

``kerasreg run all`` runs every recipe, each in its own process (as if run
alone), and prints a table: recipe, seconds, whether every claim held.

``kerasreg run NAME`` runs ``recipes/NAME.py`` exactly as
``python recipes/NAME.py`` does (the library never imports recipes; it runs
the file).  Recipes are found in ``$KERASREG_RECIPES``, else ``./recipes``,
else the ``recipes/`` folder beside the installed package (a source checkout).
"""

import argparse
import ast
import json
import os
import runpy
import subprocess
import sys
import time


def recipes_dir():
    candidates = [
        os.environ.get("KERASREG_RECIPES"),
        os.path.join(os.path.dirname(os.path.abspath(__file__)), "recipes"),  # shipped in the package
    ]
    for c in candidates:
        if c and os.path.isdir(c):
            return c
    raise SystemExit(
        "kerasreg: no recipes/ folder found. Run from a kerasreg checkout or set KERASREG_RECIPES."
    )


def available():
    """``{name: first line of its docstring}`` for every recipe file."""
    d = recipes_dir()
    out = {}
    for fn in sorted(os.listdir(d)):
        if fn.endswith(".py") and not fn.startswith("_"):
            with open(os.path.join(d, fn)) as f:
                doc = ast.get_docstring(ast.parse(f.read())) or ""
            out[fn[:-3]] = doc.strip().splitlines()[0] if doc.strip() else ""
    return out


def run_all(rest):
    """Run every recipe in a fresh process with the same options; 0 if every claim held."""
    parser = argparse.ArgumentParser(prog="kerasreg run all")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs")
    args = parser.parse_args(rest)
    rows, failed = [], []
    for name in available():
        path = os.path.join(recipes_dir(), name + ".py")  # python recipes/NAME.py == kerasreg run NAME
        cmd = [sys.executable, path, "--seed", str(args.seed), "--out", args.out]
        if args.quick:
            cmd.append("--quick")
        start = time.time()
        code = subprocess.call(cmd)
        seconds = time.time() - start
        metrics = os.path.join(args.out, name, "metrics.json")
        held = False
        if code == 0 and os.path.exists(metrics):
            with open(metrics) as f:
                held = bool(json.load(f)["held"])
        rows.append((name, seconds, held))
        if not held:
            failed.append(name)
    total = sum(r[1] for r in rows)
    print(f"\n{'recipe':<24} {'seconds':>8}  claims")
    for name, seconds, held in rows:
        print(f"{name:<24} {seconds:8.1f}  {'held' if held else 'DID NOT HOLD'}")
    print(f"{'total':<24} {total:8.1f}  {len(rows) - len(failed)}/{len(rows)} held")
    return 1 if failed else 0


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="kerasreg", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list the recipes")
    run = sub.add_parser("run", help="run a recipe", add_help=False)
    run.add_argument("name")
    if not argv:
        parser.print_help()
        return 2
    if argv[0] == "run" and len(argv) >= 2 and argv[1] == "all":
        return run_all(argv[2:])
    if argv[0] == "run" and len(argv) >= 2 and not argv[1].startswith("-"):
        name, rest = argv[1], argv[2:]
        recipes = available()
        if name not in recipes:
            raise SystemExit(f"kerasreg: unknown recipe {name!r}; known: {', '.join(recipes)}")
        path = os.path.join(recipes_dir(), name + ".py")
        sys.argv = [path, *rest]
        runpy.run_path(path, run_name="__main__")
        return 0
    args = parser.parse_args(argv)
    if args.command == "list":
        for name, doc in available().items():
            print(f"{name:<24} {doc}")
        return 0
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
