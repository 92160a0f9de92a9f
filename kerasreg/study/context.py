"""What a recipe's ``measure(ctx)`` is handed: seeds, splits, selection, outputs.

Seeds.  ``ctx.seeds`` are ``n`` seeds derived from the base seed ``--seed``
by ``derive_seeds``: seed ``i`` is a hash of ``(base, i)``
(``numpy.random.SeedSequence``), so every base seed gives a different,
well-mixed set, and the first 5 seeds of a full run are those of the quick
run with the same base.

Splits.  ``ctx.split(...)`` cuts an embedded dataset into disjoint train,
validation and test sets.  Selection code (``ctx.select``) is handed
validation scores only; the test split is for the final evaluation of what
was selected.  Under ``poison_test`` (``KERASREG_STUDY_POISON_TEST=1``, used
by the tests) every test split is replaced by noise: a recipe whose
selection never reads the test split selects exactly the same choices.
"""

import os

import numpy as np

from kerasreg._validation import check_int

__all__ = ["Context", "Split", "derive_seeds"]

_MAX_SEED = 2**31 - 1


def derive_seeds(base, n):
    """``n`` seeds in ``[0, 2**31 - 1)`` derived from the base seed ``base``.

    Seed ``i`` depends only on ``(base, i)``: a prefix of a longer list is the
    shorter list.
    """
    base = check_int("base", base, low=0, high=_MAX_SEED)
    n = check_int("n", n, low=1)
    return [int(np.random.SeedSequence(base, spawn_key=(i,)).generate_state(1)[0]) % _MAX_SEED
            for i in range(n)]


class Split:
    """Disjoint train / validation / test arrays of one dataset.

    Attributes:
        train, validation, test: ``(x, y)`` numpy pairs.
        seed: the seed that drew the split (and, for synthetic sets, the data).
        num_classes: number of classes (``None`` for regression).
        input_shape: shape of one example.
        poisoned: whether ``test`` was replaced by noise (``poison_test``).
    """

    def __init__(self, train, validation, test, *, seed, num_classes, input_shape, poisoned=False):
        self.train, self.validation, self.test = train, validation, test
        self.seed = seed
        self.num_classes = num_classes
        self.input_shape = input_shape
        self.poisoned = poisoned

    @property
    def sizes(self):
        return {"train": len(self.train[0]), "validation": len(self.validation[0]), "test": len(self.test[0])}

    def __repr__(self):
        return f"Split(seed={self.seed}, sizes={self.sizes}, poisoned={self.poisoned})"


def _count(arg, value, n):
    """A split size given as a count (int) or a fraction of ``n`` (float in (0, 1))."""
    if isinstance(value, float):
        if not 0.0 < value < 1.0:
            raise ValueError(f"`{arg}` must be a count >= 1 or a fraction in (0, 1), got {value!r}.")
        return max(1, int(round(value * n)))
    return check_int(arg, value, low=1, high=n)


def _stratified_order(y, rng):
    """A permutation whose every prefix holds the classes in about their overall proportions.

    Each example gets the key ``(rank within its class + u) / class size``
    (rank from a random permutation, ``u ~ U[0, 1)``); sorting by the key
    interleaves the classes.
    """
    order = rng.permutation(len(y))
    key = np.empty(len(y))
    for c in np.unique(y):
        members = order[y[order] == c]
        key[members] = (np.arange(len(members)) + rng.random(len(members))) / len(members)
    return np.argsort(key, kind="stable")


def _png(pixels):
    """PNG bytes of a 2-D uint8 grey-scale image (filter 0 on every row, zlib-compressed)."""
    import struct
    import zlib

    height, width = pixels.shape

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + row.tobytes() for row in np.ascontiguousarray(pixels, dtype=np.uint8))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grey, no interlace
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


class Context:
    """The run of one study: built by ``kerasreg.study.run``, handed to ``measure``.

    Attributes:
        seeds: list of ``n`` ints, derived from ``args.seed``; quantities are
            returned one value per seed, in this order.
        quick: bool, ``--quick``.
        args: the ``argparse.Namespace`` of the command line.
        dir: the run folder ``<out>/<study name>``.
        verbose: bool.
    """

    def __init__(self, study, args, run_dir, seeds, poison_test=False):
        self.study = study
        self.args = args
        self.dir = run_dir
        self.seeds = list(seeds)
        self.quick = bool(getattr(args, "quick", False))
        self.verbose = bool(getattr(args, "verbose", False))
        self.poison_test = bool(poison_test)
        self.tables, self.notes, self.figures = [], [], []
        self.selections = {}  # variant -> {"grid": [...], "chosen": [per seed], "scores": [per seed]}
        self.settings = {}

    # -- sizes ------------------------------------------------------------
    @property
    def n_seeds(self):
        return len(self.seeds)

    def epochs(self, quick, full):
        """``--epochs`` if given, else ``quick`` in quick mode and ``full`` otherwise."""
        given = getattr(self.args, "epochs", None)
        value = given if given is not None else (quick if self.quick else full)
        return check_int("epochs", value, low=1)

    def setting(self, name, value):
        """Record a setting of the design (training size, optimizer, ...) in metrics.json and the report."""
        self.settings[str(name)] = value
        return value

    # -- per seed ---------------------------------------------------------
    def per_seed(self, fn):
        """``fn(seed) -> {quantity: float}`` for every seed, stacked into ``{quantity: array (n,)}``.

        With ``--verbose`` each seed's quantities are printed as they come.
        """
        rows = []
        for seed in self.seeds:
            row = fn(seed)
            if not isinstance(row, dict):
                raise TypeError(f"`fn` must return a dict {{quantity: float}}, got {type(row).__name__} "
                                f"for seed {seed}.")
            if self.verbose:
                print(f"  seed {seed}: " + ", ".join(f"{k} {float(v):.3g}" for k, v in row.items()), flush=True)
            rows.append(row)
        keys = list(rows[0])
        for seed, row in zip(self.seeds, rows):
            if list(row) != keys:
                raise ValueError(f"`fn` returned quantities {sorted(row)} for seed {seed} but "
                                 f"{sorted(keys)} for seed {self.seeds[0]}; every seed must return the same ones.")
        return {k: np.array([float(row[k]) for row in rows]) for k in keys}

    # -- data -------------------------------------------------------------
    def split(self, name="digits", *, seed=None, n_train=None, validation=0.2, test=0.2,
              flatten=False, stratify=True):
        """Disjoint train / validation / test arrays of an embedded dataset.

        Args:
            name: an embedded dataset (``kerasreg.data.embedded``: ``"digits"``,
                ``"noisy_sine"``, ``"moons"``, ``"circles"``, ``"blobs"``);
                ``--dataset`` is the recipe's to pass on.
            seed: the seed that draws the split (and a synthetic set's data).
                Pass one of ``ctx.seeds`` for a split that varies with the
                seed (every variant of that seed gets the same split); ``None``
                gives the one split of the base seed, shared by all seeds.
            n_train: training examples (int), default all that remain.
            validation, test: sizes, as counts (int) or fractions (float in
                (0, 1)) of the whole dataset.  Test and validation are cut
                first, so a smaller ``n_train`` does not change them.
            flatten: images as flat vectors.
            stratify: classification: every part holds the classes in about
                their overall proportions.

        Returns:
            A ``Split``.
        """
        from kerasreg.data.embedded import EMBEDDED, make_embedded

        if name not in EMBEDDED:
            raise ValueError(f"`name` must be an embedded dataset ({', '.join(EMBEDDED)}), got {name!r}.")
        seed = int(getattr(self.args, "seed", 0)) if seed is None else check_int("seed", seed, low=0)
        x, y, names, task, _ = make_embedded(name, seed)
        n = len(x)
        n_test, n_val = _count("test", test, n), _count("validation", validation, n)
        rest = n - n_test - n_val
        n_train = rest if n_train is None else check_int("n_train", n_train, low=1)
        if n_train > rest:
            raise ValueError(f"`n_train` must be at most {rest} ({name!r} has {n} examples, {n_test} for test "
                             f"and {n_val} for validation), got {n_train}.")
        rng = np.random.default_rng(seed)
        classification = task == "classification"
        order = _stratified_order(y, rng) if (stratify and classification) else rng.permutation(n)
        te, va, tr = order[:n_test], order[n_test:n_test + n_val], order[n_test + n_val:n_test + n_val + n_train]
        if flatten:
            x = x.reshape(n, -1)
        x_test, y_test = x[te], y[te]
        if self.poison_test:
            # Noise of the same shape, range and label set: any score computed on it is unrelated to the task.
            noise = np.random.default_rng([seed, 7]).random(x_test.shape)
            x_test = (x.min() + noise * (x.max() - x.min())).astype(x.dtype)
            if classification:
                y_test = np.random.default_rng([seed, 8]).integers(0, len(names), len(y_test)).astype(y.dtype)
            else:
                y_test = np.random.default_rng([seed, 8]).permutation(y_test)
        return Split((x[tr], y[tr]), (x[va], y[va]), (x_test, y_test), seed=seed,
                     num_classes=len(names) if classification else None, input_shape=tuple(x.shape[1:]),
                     poisoned=self.poison_test)

    # -- selection --------------------------------------------------------
    def select(self, variant, grid, scores, *, seed=None, higher_is_better=False):
        """Choose from ``grid`` by validation scores; record the choice for the report.

        Args:
            variant: name under which the choice is reported.
            grid: the candidates (strengths, epochs, ...), a sequence.
            scores: validation scores, shape ``(len(grid),)`` for one seed
                (then give ``seed``) or ``(n_seeds, len(grid))`` for all seeds
                in ``ctx.seeds`` order.  Never test scores.
            seed: the seed of a 1-D ``scores``.
            higher_is_better: pick the highest score (accuracy) instead of
                the lowest (loss).  Non-finite scores are never picked.

        Returns:
            The index into ``grid`` chosen (int) for one seed, or an int
            array of shape ``(n_seeds,)``.
        """
        grid = list(grid)
        if not grid:
            raise ValueError("`grid` must hold at least one candidate, got an empty sequence.")
        s = np.asarray(scores, dtype="float64")
        one = s.ndim == 1
        if one:
            if seed is None or seed not in self.seeds:
                raise ValueError(f"1-D `scores` need `seed`, one of ctx.seeds {self.seeds}; got seed={seed!r}.")
            s = s[None]
        elif seed is not None:
            raise ValueError("`seed` applies to 1-D `scores` (one seed) only; 2-D scores cover every seed.")
        if s.ndim != 2 or s.shape[1] != len(grid) or (not one and s.shape[0] != self.n_seeds):
            want = f"({len(grid)},) or ({self.n_seeds}, {len(grid)})"
            raise ValueError(f"`scores` must have shape {want} (seeds x grid), got {np.shape(scores)}.")
        ranked = np.where(np.isfinite(s), -s if higher_is_better else s, np.inf)
        if np.any(np.all(np.isinf(ranked), axis=1)):
            raise ValueError(f"`scores` of {variant!r}: no finite score for some seed; nothing to select.")
        chosen = np.argmin(ranked, axis=1)
        record = self.selections.setdefault(
            variant, {"grid": grid, "chosen": [None] * self.n_seeds, "scores": [None] * self.n_seeds})
        if record["grid"] != grid:
            raise ValueError(f"variant {variant!r} was selected from grid {record['grid']} before, now {grid}.")
        rows = [self.seeds.index(seed)] if one else range(self.n_seeds)
        for r, k, row in zip(rows, chosen, s):
            record["chosen"][r] = grid[int(k)]
            record["scores"][r] = [float(v) for v in row]
        return int(chosen[0]) if one else chosen.astype(int)

    # -- outputs ----------------------------------------------------------
    def tensorboard(self, variant, seed=None):
        """The TensorBoard log folder of a variant (and seed): ``<dir>/tb/<variant>[/seed_<seed>]``."""
        parts = [self.dir, "tb", str(variant)] + ([] if seed is None else [f"seed_{int(seed)}"])
        path = os.path.join(*parts)
        os.makedirs(path, exist_ok=True)
        return path

    def log_history(self, variant, seed, history, hparams=None, step_scale=1):
        """Write per-epoch curves ``{tag: sequence}`` to the variant's TensorBoard folder.

        For histories that did not come from Keras' ``fit`` (many copies
        trained at once): ``history[tag][k]`` is written at step
        ``(k + 1) * step_scale``.  ``hparams`` ({name: str|bool|number})
        adds the run to TensorBoard's HParams dashboard.
        """
        from kerasreg.callbacks._summary import SummaryWriter

        writer = SummaryWriter(self.tensorboard(variant, seed))
        # Eager scalars: a few hundred values cost milliseconds, where a traced writer costs a trace per run.
        series = {tag: np.asarray(values, dtype="float64").ravel() for tag, values in history.items()}
        for k in range(max((len(v) for v in series.values()), default=0)):
            writer.scalars({tag: v[k] for tag, v in series.items() if k < len(v)}, step=(k + 1) * int(step_scale))
        if hparams:
            from tensorboard.plugins.hparams import api as hp

            with writer.writer.as_default():
                hp.hparams({k: (float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v)
                            for k, v in hparams.items()}, trial_id=f"{variant}/seed_{seed}")
            writer.writer.flush()
        # Close the scalars' event file (``writer.writer`` would open a second, TensorFlow-made one).
        writer.close()

    def log_histograms(self, variant, seed, arrays, step=0):
        """Write ``{tag: array}`` as TensorBoard histograms (30 buckets) at ``step`` in the variant's folder."""
        from kerasreg.callbacks._summary import SummaryWriter

        writer = SummaryWriter(self.tensorboard(variant, seed))
        writer.histograms(arrays, step=step)
        writer.close()

    def log_images(self, variant, seed, tag, images, step=0, description=""):
        """Write grey-scale images ``(n, height, width)`` with values in [0, 1] as one TensorBoard image summary.

        The images are PNG-encoded here (no TensorFlow needed) and stored as
        the image plugin's summary (TensorBoard's Images tab, one card, a
        slider over the images).
        """
        from kerasreg.callbacks._summary import SummaryWriter
        from tensorboard.compat.proto import summary_pb2
        from tensorboard.plugins.image import metadata
        from tensorboard.util import tensor_util

        images = np.asarray(images, dtype="float64")
        if images.ndim != 3:
            raise ValueError(f"`images` must have shape (n, height, width), got {images.shape}.")
        pixels = np.round(np.clip(images, 0.0, 1.0) * 255).astype(np.uint8)
        # The image plugin's tensor form: [width, height, png_0, png_1, ...] as strings.
        encoded = [str(pixels.shape[2]).encode(), str(pixels.shape[1]).encode()] + [_png(p) for p in pixels]
        summary = summary_pb2.Summary()
        summary.value.add(tag=tag, tensor=tensor_util.make_tensor_proto(encoded, dtype="string"),
                          metadata=metadata.create_summary_metadata(display_name=tag, description=description))
        writer = SummaryWriter(self.tensorboard(variant, seed))
        writer.summary(summary, step)
        writer.close()

    def figure(self, filename, fig, caption=""):
        """Save a matplotlib figure into the run folder and the report."""
        import matplotlib.pyplot as plt

        path = os.path.join(self.dir, filename)
        fig.savefig(path, dpi=110, bbox_inches="tight")
        plt.close(fig)
        self.figures.append((filename, caption))
        return path

    def table(self, title, header, rows):
        """A table for the report; a cell may be per-seed values (written mean ± CI (n))."""
        self.tables.append((str(title), [str(h) for h in header], [list(r) for r in rows]))

    def note(self, text):
        """A paragraph for the report."""
        self.notes.append(str(text))
