"""The ``kerasreg`` command: list and run the lecture's recipes.

    kerasreg list
    kerasreg run NAME [--quick] [--seed S] [--seeds N] [--epochs N] [--dataset NAME]
                      [--strategy {mirrored,multi_worker}] [--out DIR] [--verbose]
    kerasreg run all  [--quick] [--seed S] [--seeds N] [--out DIR] [--verbose]

A recipe is a module ``kerasreg/recipes/NAME.py`` with ``main(args)`` (see
``kerasreg.study``); ``args`` is the validated ``argparse.Namespace`` and
``main`` returns the exit code, 0 or 1.
``kerasreg run NAME ...`` and ``python -m kerasreg.recipes.NAME ...`` are the
same run.  ``run all`` runs every recipe, each in its own process, with a
progress bar, then prints a table of seconds and claims.

Options.  Always accepted: ``--quick``, ``--seed`` (the base seed, an int in
[0, 2**31 - 1]), ``--seeds`` (number of seeds, >= 2), ``--out`` and
``--verbose``.  ``--epochs`` (>= 1), ``--dataset`` (an embedded dataset of
``kerasreg.data``, a folder of class sub-folders, or a tensorflow-datasets
name) and ``--strategy`` are accepted only by the recipes that honour them: a
recipe lists them in its module-level ``SUPPORTS`` tuple, and any other is
rejected (exit 2), never silently ignored; a recipe without ``SUPPORTS``
honours none of them.

Exit codes: 0 every claim held; 1 a claim did not hold; 2 usage error (bad
option, unknown recipe, option the recipe does not honour); 3 the recipe
stopped with an error.

Speed and quiet.  This module imports only the standard library at module
level: ``--help`` and ``list`` read the recipes' docstrings and ``SUPPORTS``
with ``ast``, without importing them (or Keras, or TensorFlow).  The console
script enters through ``_kerasreg_cli`` (a top-level module), which loads
this file without importing the ``kerasreg`` package, whose ``__init__``
imports Keras (about 6 s with TensorFlow).  Unless ``--verbose``,
TensorFlow's C++ logging is silenced (``TF_CPP_MIN_LOG_LEVEL=3``, and the
lines absl writes to stderr before its logging starts are dropped while
TensorFlow is imported).
"""

import argparse
import ast
import importlib
import importlib.util
import os
import re
import subprocess
import sys
import time
import traceback

__all__ = ["main", "available", "recipe_info", "recipes_dir"]

OPTIONAL = ("epochs", "dataset", "strategy")  # options a recipe must list in SUPPORTS
STRATEGIES = ("mirrored", "multi_worker")
SEED_MAX = 2**31 - 1
EXIT_HELD, EXIT_NOT_HELD, EXIT_USAGE, EXIT_ERROR = 0, 1, 2, 3


# -- finding recipes (no imports) --------------------------------------------------------------

def recipes_dir():
    """The folder of recipe modules: ``$KERASREG_RECIPES`` if set, else ``kerasreg/recipes``."""
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "recipes")
    return os.environ.get("KERASREG_RECIPES") or here


class RecipeInfo:
    """What ``ast`` reads from a recipe's source: summary and the optional options it honours."""

    def __init__(self, name, path):
        self.name, self.path = name, path
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read(), filename=path)
        doc = (ast.get_docstring(tree) or "").strip()
        self.summary = doc.splitlines()[0] if doc else ""
        self.supports = _literal_supports(tree, path)


def _literal_supports(tree, path):
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "SUPPORTS" for t in node.targets):
            try:
                value = ast.literal_eval(node.value)
            except ValueError:
                raise SystemExit(f"kerasreg: {path}: SUPPORTS must be a literal tuple of option names") from None
            bad = [v for v in value if v not in OPTIONAL]
            if bad:
                raise SystemExit(f"kerasreg: {path}: SUPPORTS names unknown options {bad}; "
                                 f"valid: {', '.join(OPTIONAL)}")
            return tuple(value)
    return ()


def recipe_info():
    """``{name: RecipeInfo}`` for every recipe module, sorted by name."""
    d = recipes_dir()
    if not os.path.isdir(d):
        raise SystemExit(f"kerasreg: the recipes folder {d!r} does not exist (KERASREG_RECIPES?)")
    return {fn[:-3]: RecipeInfo(fn[:-3], os.path.join(d, fn))
            for fn in sorted(os.listdir(d)) if fn.endswith(".py") and not fn.startswith("_")}


def available():
    """``{name: first line of its docstring}`` for every recipe."""
    return {name: info.summary for name, info in recipe_info().items()}


# -- the parser ----------------------------------------------------------------------------------

def _int_in(name, low, high=None):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be an integer, got {text!r}") from None
        if value < low or (high is not None and value > high):
            rng = f"in [{low}, {high}]" if high is not None else f">= {low}"
            raise argparse.ArgumentTypeError(f"{name} must be an integer {rng}, got {value}")
        return value
    return parse


def _parser():
    parser = argparse.ArgumentParser(
        prog="kerasreg", description="List and run the lecture's recipes (claims measured over seeds).",
        epilog="Exit codes: 0 every claim held, 1 a claim did not hold, 2 usage error, 3 the recipe failed.")
    sub = parser.add_subparsers(dest="command", metavar="{list,run}")
    sub.required = True
    sub.add_parser("list", help="list the recipes, with the options each honours",
                   description="List the recipes: name, optional options honoured, summary.")
    run = sub.add_parser(
        "run", help="run one recipe, or all",
        description="Run one recipe (NAME) or every recipe (all), writing <out>/NAME/metrics.json and "
                    "report.md. --epochs, --dataset and --strategy are accepted only by recipes that "
                    "honour them (see `kerasreg list`).",
        epilog="Exit codes: 0 every claim held, 1 a claim did not hold, 2 usage error, 3 the recipe failed.")
    run.add_argument("name", metavar="NAME|all", help="a recipe name (`kerasreg list`) or `all`")
    run.add_argument("--quick", action="store_true", help="small, fast settings (tests, make demo)")
    run.add_argument("--seed", type=_int_in("--seed", 0, SEED_MAX), default=0,
                     help=f"base seed, an integer in [0, {SEED_MAX}] (default 0)")
    run.add_argument("--seeds", type=_int_in("--seeds", 2), default=None,
                     help="number of seeds, >= 2 (default: the recipe's, fewer with --quick)")
    run.add_argument("--epochs", type=_int_in("--epochs", 1), default=None,
                     help="number of epochs, >= 1 (only recipes that honour it)")
    run.add_argument("--dataset", default=None,
                     help="dataset: an embedded name (digits, noisy_sine, moons, circles, blobs), a folder "
                          "of class sub-folders, or a tensorflow-datasets name (only recipes that honour it)")
    run.add_argument("--strategy", choices=STRATEGIES, default=None,
                     help="tf.distribute strategy (only recipes that honour it)")
    run.add_argument("--out", default="runs", help="folder for results (default: runs)")
    run.add_argument("--verbose", action="store_true",
                     help="Keras progress and TensorFlow's own logging")
    return parser


def _usage_error(message):
    print(f"kerasreg: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def main(argv=None):
    """Run the command line ``argv`` (default ``sys.argv[1:]``); return the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help (0) or a usage error (2)
        return e.code if isinstance(e.code, int) else EXIT_USAGE
    if args.command == "list":
        return _list()
    return _run_all(args) if args.name == "all" else _run_one(args)


def _list():
    infos = recipe_info()
    width = max([len(n) for n in infos] + [6])
    print(f"{'recipe':<{width}}  {'options':<24}  summary")
    for name, info in infos.items():
        opts = ",".join(info.supports) or "-"
        print(f"{name:<{width}}  {opts:<24}  {info.summary}")
    return EXIT_HELD


def _check_options(info, args):
    """The message for the first option ``info`` does not honour, or ``None``."""
    for option in OPTIONAL:
        if getattr(args, option) is not None and option not in info.supports:
            honoured = ", ".join("--" + o for o in info.supports) or "none"
            return (f"recipe {info.name!r} does not honour --{option} (its optional options: {honoured}); "
                    f"remove --{option}")
    return None


# -- run one recipe, in this process ------------------------------------------------------------

_ABSL_PRELUDE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|[IWEF]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ [\w./-]+:\d+\] .*)$")


def quiet_tensorflow(verbose=False):
    """Import TensorFlow (if installed) without its C++ start-up logging, unless ``verbose``.

    Sets ``TF_CPP_MIN_LOG_LEVEL=3`` (no C++ info, warning or error lines, such
    as "failed call to cuInit") and, while TensorFlow is imported, sends file
    descriptor 2 to a temporary file; the lines absl writes there before its
    logging is initialized ("Could not find cuda drivers ...") are dropped and
    every other line is written back to stderr.  Must run before TensorFlow
    is first imported to have any effect.
    """
    # TensorFlow is imported even on JAX when installed: Keras' own set_random_seed imports it
    # (kerasreg.stacked calls that per copy), so its start-up lines would come later anyway.
    # On JAX, jax too: its platforms start (and XLA logs the same lines) on first use.
    modules = [m for m in ("tensorflow", "jax") if m not in sys.modules and importlib.util.find_spec(m) is not None
               and (m == "tensorflow" or os.environ.get("KERAS_BACKEND") == "jax")]
    if verbose or not modules:
        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    import tempfile

    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            for module in modules:
                imported = importlib.import_module(module)
                if module == "jax":
                    imported.devices()
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            kept = [line for line in tmp.read().decode("utf-8", "replace").splitlines()
                    if line.strip() and not _ABSL_PRELUDE.match(line)]
            if kept:
                print("\n".join(kept), file=sys.stderr)
    try:
        import absl.logging

        absl.logging.set_verbosity(absl.logging.ERROR)
    except ImportError:
        pass
    # TensorFlow's Python warnings (e.g. tf.vectorized_map's "Using a while_loop for converting
    # Bitcast", once per traced random op in kerasreg.stacked): shown with --verbose only.
    import logging

    logging.getLogger("tensorflow").setLevel(logging.ERROR)


def check_dataset(name):
    """The message if ``name`` is not a dataset ``kerasreg.data.load`` knows, else ``None``."""
    from kerasreg.data.embedded import EMBEDDED

    if name in EMBEDDED or os.path.isdir(name):
        return None
    try:
        import tensorflow_datasets as tfds

        known = name.split(":")[0].split("/")[0] in tfds.list_builders()
    except ImportError:
        known = False
    if known:
        return None
    return (f"--dataset {name!r} is not an embedded dataset ({', '.join(EMBEDDED)}), a folder, "
            "or a tensorflow-datasets name")


def _load_recipe(info):
    if os.path.dirname(info.path) == os.path.join(os.path.dirname(os.path.abspath(__file__)), "recipes"):
        return importlib.import_module(f"kerasreg.recipes.{info.name}")
    spec = importlib.util.spec_from_file_location(f"_kerasreg_recipe_{info.name}", info.path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run_one(args):
    infos = recipe_info()
    if args.name not in infos:
        return _usage_error(f"unknown recipe {args.name!r}; known: {', '.join(infos)} (or `all`)")
    info = infos[args.name]
    message = _check_options(info, args)
    if message:
        return _usage_error(message)
    quiet_tensorflow(args.verbose)
    if args.dataset is not None:
        message = check_dataset(args.dataset)
        if message:
            return _usage_error(message)
    try:
        code = _load_recipe(info).main(args)
    except KeyboardInterrupt:
        raise
    except Exception:  # noqa: BLE001 -- report the recipe's failure as exit 3, not as "claim did not hold"
        traceback.print_exc()
        print(f"kerasreg: recipe {info.name!r} stopped with an error (exit {EXIT_ERROR})", file=sys.stderr)
        return EXIT_ERROR
    if code not in (EXIT_HELD, EXIT_NOT_HELD):
        print(f"kerasreg: recipe {info.name!r} returned {code!r}, not 0 or 1", file=sys.stderr)
        return EXIT_ERROR
    return code


# -- run all, each in its own process ------------------------------------------------------------

def _child_command(name, args):
    cmd = [sys.executable, "-m", "_kerasreg_cli", "run", name, "--seed", str(args.seed), "--out", args.out]
    if args.quick:
        cmd.append("--quick")
    if args.seeds is not None:
        cmd += ["--seeds", str(args.seeds)]
    if args.verbose:
        cmd.append("--verbose")
    return cmd


def _bar(done, total, width=24):
    filled = int(round(width * done / total)) if total else width
    return "[" + "#" * filled + "." * (width - filled) + f"] {done}/{total}"


def _run_all(args):
    for option in OPTIONAL:
        if getattr(args, option) is not None:
            return _usage_error(f"`run all` takes no --{option}: recipes honour different options; "
                                f"run the recipes that honour it one by one (`kerasreg list`)")
    infos = recipe_info()
    tty = sys.stdout.isatty()
    logs = os.path.join(args.out, "logs")
    os.makedirs(logs, exist_ok=True)
    rows = []
    total_start = time.time()
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    # The child finds _kerasreg_cli even from a checkout that is not installed.
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if os.path.exists(os.path.join(root, "_kerasreg_cli.py")):
        env["PYTHONPATH"] = os.pathsep.join([root] + [p for p in [env.get("PYTHONPATH")] if p])
    for i, (name, info) in enumerate(infos.items()):
        log_path = os.path.join(logs, f"{name}.log")
        start = time.time()
        with open(log_path, "w") as log:
            out = None if args.verbose else log
            proc = subprocess.Popen(_child_command(name, args), stdout=out, stderr=subprocess.STDOUT if out else None,
                                    env=env)
            while proc.poll() is None:
                if tty:
                    print(f"\r{_bar(i, len(infos))} {name} {time.time() - start:6.1f} s ", end="", flush=True)
                time.sleep(0.5)
        seconds = time.time() - start
        code = proc.returncode
        result = {EXIT_HELD: "held", EXIT_NOT_HELD: "DID NOT HOLD"}.get(code, f"error (exit {code})")
        rows.append((name, seconds, code, result))
        line = f"{_bar(i + 1, len(infos))} {name:<24} {seconds:7.1f} s  {result}"
        print(("\r" + line + " " * 8) if tty else line, flush=True)
        if code not in (EXIT_HELD, EXIT_NOT_HELD) and not args.verbose:
            with open(log_path) as f:
                tail = f.read().splitlines()[-15:]
            print("    " + "\n    ".join(tail), flush=True)
    total = time.time() - total_start
    held = sum(1 for r in rows if r[2] == EXIT_HELD)
    print(f"\n{'recipe':<24} {'seconds':>8}  claims")
    for name, seconds, _, result in rows:
        print(f"{name:<24} {seconds:8.1f}  {result}")
    print(f"{'total':<24} {total:8.1f}  {held}/{len(rows)} held")
    print(f"logs: {logs}")
    return EXIT_HELD if held == len(rows) else EXIT_NOT_HELD


if __name__ == "__main__":
    sys.exit(main())
