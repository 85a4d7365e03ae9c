"""Datasets: seeded synthetic ones, scikit-learn's bundled real ones, and uploaded CSVs.

One registry, ``DATASETS``, feeds the app, the CLI and the tests. A
:class:`DataConfig` (frozen, hashable) names a dataset with its parameters, the
test fraction, standardization and the seed; :func:`prepare` turns it into a
:class:`Split` of numpy arrays: a seeded train/test split, then features (and a
regression target) standardized with statistics of the training rows only, so
nothing about the test rows leaks into training.

Real datasets are the ones scikit-learn ships inside its package
(``sklearn.datasets.load_*``): nothing is downloaded at run time.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from sklearn.preprocessing import StandardScaler

from ..params import ConfigError, HasParams, HParam, freeze, lookup

REGRESSION, CLASSIFICATION = "regression", "classification"
MAX_SAMPLES = 10_000  # synthetic datasets
# Uploaded files: enough for a classroom dataset, small enough to train in seconds.
MAX_CSV_BYTES = 5_000_000
MAX_CSV_ROWS = 10_000
MAX_CSV_COLUMNS = 101  # 100 features and a target
MAX_CLASSES = 20
# Every seed (data, split, shuffling, initial weights, gradient noise): what numpy,
# scikit-learn (random_state) and torch.Generator all accept.
MAX_SEED = 2**32 - 1


@dataclass(frozen=True, eq=False)
class Data:
    """Features ``X`` (n, d) float64 and targets ``y``: float64 for regression,
    class indices (int64) into ``classes`` for classification."""

    X: np.ndarray
    y: np.ndarray
    task: str
    feature_names: tuple[str, ...]
    target_name: str = "y"
    classes: tuple[str, ...] = ()

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def kind(self) -> str:
        """``regression``, ``binary`` or ``multiclass``: what a model and a loss must suit."""
        if self.task == REGRESSION:
            return REGRESSION
        return "binary" if self.n_classes == 2 else "multiclass"


@dataclass(frozen=True)
class DatasetSpec(HasParams):
    id: str
    name: str
    source: str  # "synthetic", "real" or "upload"
    task: str  # regression or classification ("" for an upload: the file decides)
    summary: str
    make: Callable[..., Data] | None  # make(seed, **params); None for an upload
    params: tuple[HParam, ...] = ()

    def check(self, values: Mapping[str, Any]) -> str | None:
        for spec in self.params:
            # Widget ranges double as validity here: these are our generators, not torch's.
            v = values[spec.name]
            if spec.low is not None and v < spec.low or spec.high is not None and v > spec.high:
                return f"{spec.name} must be between {spec.low:g} and {spec.high:g}, got {v:g}"
        return None


def _n(default: int = 300) -> HParam:
    return HParam("n_samples", default, "int", help="number of points (train + test)", low=10, high=MAX_SAMPLES)


def _noise(default: float, help: str = "std of the Gaussian noise added to each point") -> HParam:
    return HParam("noise", default, "float", help=help, low=0.0, high=5.0)


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _classes(n: int) -> tuple[str, ...]:
    return tuple(str(k) for k in range(n))


def make_linear(seed: int, n_samples: int, noise: float, slope: float, intercept: float) -> Data:
    rng = _rng(seed)
    x = rng.uniform(0.0, 5.0, n_samples)
    y = slope * x + intercept + noise * rng.standard_normal(n_samples)
    return Data(x[:, None], y, REGRESSION, ("x",), "y")


def make_moons(seed: int, n_samples: int, noise: float) -> Data:
    X, y = _sklearn_datasets().make_moons(n_samples, noise=noise, random_state=seed)
    return Data(X, y.astype(np.int64), CLASSIFICATION, ("x₁", "x₂"), "class", _classes(2))


def make_circles(seed: int, n_samples: int, noise: float, factor: float) -> Data:
    X, y = _sklearn_datasets().make_circles(n_samples, noise=noise, factor=factor, random_state=seed)
    return Data(X, y.astype(np.int64), CLASSIFICATION, ("x₁", "x₂"), "class", _classes(2))


def make_spiral(seed: int, n_samples: int, noise: float, classes: int) -> Data:
    # CS231n's spiral: arm k turns through 4 radians, its angle jittered by ``noise``.
    rng = _rng(seed)
    per = np.full(classes, n_samples // classes)
    per[: n_samples % classes] += 1
    X, y = [], []
    for k, m in enumerate(per):
        r = np.linspace(0.05, 1.0, m)
        t = np.linspace(4.0 * k, 4.0 * (k + 1), m) + noise * rng.standard_normal(m)
        X.append(np.stack([r * np.sin(t), r * np.cos(t)], 1))
        y.append(np.full(m, k))
    return Data(np.concatenate(X), np.concatenate(y).astype(np.int64), CLASSIFICATION, ("x₁", "x₂"), "class",
                _classes(classes))


def make_xor(seed: int, n_samples: int, noise: float) -> Data:
    rng = _rng(seed)
    X = rng.uniform(-1.0, 1.0, (n_samples, 2))
    y = ((X[:, 0] > 0) ^ (X[:, 1] > 0)).astype(np.int64)
    return Data(X + noise * rng.standard_normal(X.shape), y, CLASSIFICATION, ("x₁", "x₂"), "class", _classes(2))


def make_blobs(seed: int, n_samples: int, noise: float, centers: int) -> Data:
    # Centres evenly round a circle of radius 2.5: two blobs lie either side of
    # the origin, so a line through it (logistic regression without bias) splits them.
    angles = 2 * np.pi * np.arange(centers) / centers
    where = 2.5 * np.stack([np.cos(angles), np.sin(angles)], 1)
    X, y = _sklearn_datasets().make_blobs(n_samples, centers=where, cluster_std=noise, random_state=seed)
    return Data(X, y.astype(np.int64), CLASSIFICATION, ("x₁", "x₂"), "class", _classes(centers))


def _sklearn_datasets():
    # scikit-learn takes a second to import: only a command that loads data pays for it.
    from sklearn import datasets

    return datasets


def _bunch(loader: str, task: str) -> Callable[..., Data]:
    """One of the datasets scikit-learn ships in its package (``load_digits``, ...)."""

    def make(seed: int) -> Data:
        bunch = getattr(_sklearn_datasets(), loader)()
        names = tuple(str(n) for n in getattr(bunch, "feature_names", [f"x{i}" for i in range(bunch.data.shape[1])]))
        if task == REGRESSION:
            return Data(bunch.data.astype(np.float64), bunch.target.astype(np.float64), task, names, "target")
        classes = tuple(str(c) for c in bunch.target_names)
        return Data(bunch.data.astype(np.float64), bunch.target.astype(np.int64), task, names, "class", classes)

    return make


DATASETS: dict[str, DatasetSpec] = {
    d.id: d
    for d in [
        DatasetSpec(
            "linear", "Linear (1 feature)", "synthetic", REGRESSION,
            "y = slope·x + intercept + noise. With a weight and a bias, the loss is a bowl over two "
            "parameters you can see whole.",
            make_linear,
            (_n(100), _noise(1.0, "std of the noise added to y"),
             HParam("slope", 2.0, "float", help="true slope", low=-10.0, high=10.0),
             HParam("intercept", 1.0, "float", help="true intercept", low=-10.0, high=10.0)),
        ),
        DatasetSpec("moons", "Two moons", "synthetic", CLASSIFICATION,
                    "Two interleaved half-circles: no straight line separates them.", make_moons,
                    (_n(), _noise(0.2))),
        DatasetSpec("circles", "Circles", "synthetic", CLASSIFICATION,
                    "A ring around a disc: the boundary must close on itself.", make_circles,
                    (_n(), _noise(0.1), HParam("factor", 0.5, "float", help="inner radius / outer radius",
                                               low=0.05, high=0.95))),
        DatasetSpec("spiral", "Spiral", "synthetic", CLASSIFICATION,
                    "Interleaved spiral arms: hard for a small network, a classic test of depth.", make_spiral,
                    (_n(), _noise(0.2, "std of the jitter of each point's angle (radians)"),
                     HParam("classes", 3, "int", help="number of arms", low=2, high=6))),
        DatasetSpec("xor", "XOR", "synthetic", CLASSIFICATION,
                    "Opposite quadrants share a class: linear models fail, one hidden layer suffices.", make_xor,
                    (_n(), _noise(0.1))),
        DatasetSpec("blobs", "Gaussian blobs", "synthetic", CLASSIFICATION,
                    "Round clusters: linearly separable when they are tight (small noise).", make_blobs,
                    (_n(200), _noise(0.8, "std of each blob"),
                     HParam("centers", 2, "int", help="number of blobs (classes)", low=2, high=8))),
        DatasetSpec("digits", "Digits (8×8 images)", "real", CLASSIFICATION,
                    "1,797 handwritten digits, 8×8 pixels, ten classes: a small MNIST.",
                    _bunch("load_digits", CLASSIFICATION)),
        DatasetSpec("iris", "Iris", "real", CLASSIFICATION,
                    "150 flowers, 4 measurements, 3 species; one species is linearly separable.",
                    _bunch("load_iris", CLASSIFICATION)),
        DatasetSpec("breast_cancer", "Breast cancer", "real", CLASSIFICATION,
                    "569 tumours, 30 features, malignant or benign: binary classification.",
                    _bunch("load_breast_cancer", CLASSIFICATION)),
        DatasetSpec("diabetes", "Diabetes", "real", REGRESSION,
                    "442 patients, 10 features, disease progression after one year: regression.",
                    _bunch("load_diabetes", REGRESSION)),
        DatasetSpec("csv", "Upload a CSV", "upload", "",
                    "Your own numeric table: one row per example, a header row, a target column.", None),
    ]
}


def get(dataset_id: str) -> DatasetSpec:
    return lookup(DATASETS, dataset_id, "dataset")


# -- uploaded CSV ---------------------------------------------------------------

TASKS = ("auto", REGRESSION, CLASSIFICATION)


def read_csv(text: str):
    """The file as a table of strings, or ConfigError naming what is wrong with it."""
    import pandas as pd

    size = len(text.encode("utf-8", "replace"))
    if size > MAX_CSV_BYTES:
        raise ConfigError(f"the file is {_size(size)}; the limit is {_size(MAX_CSV_BYTES)}")
    if not text.strip():
        raise ConfigError("the file is empty")
    try:
        # Strings in, so that we, not pandas' guessing, say which cell is wrong.
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, skipinitialspace=True,
                            nrows=MAX_CSV_ROWS + 1)
    except pd.errors.EmptyDataError:
        raise ConfigError("the file has no header row or no data") from None
    except (pd.errors.ParserError, ValueError, UnicodeError) as exc:
        raise ConfigError(f"cannot read the CSV: {str(exc).strip().splitlines()[-1]}") from None
    if len(frame) > MAX_CSV_ROWS:
        raise ConfigError(f"the file has more than {MAX_CSV_ROWS:,} rows; use a sample of it")
    if frame.shape[1] > MAX_CSV_COLUMNS:
        raise ConfigError(f"the file has {frame.shape[1]} columns; the limit is {MAX_CSV_COLUMNS}")
    if frame.shape[1] < 2:
        raise ConfigError("the file needs at least two comma-separated columns: one or more features and a target")
    if len(frame) < 4:
        raise ConfigError(f"the file has {len(frame)} data row(s); at least 4 are needed")
    unnamed = [i + 1 for i, c in enumerate(frame.columns) if str(c).startswith("Unnamed:")]
    if unnamed:
        raise ConfigError(f"column {unnamed[0]} has no name in the header row")
    return frame


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n / 1e3:.1f} kB"


def csv_columns(text: str) -> list[str]:
    return [str(c) for c in read_csv(text).columns]


def _where(row: int) -> str:
    # Rows as a spreadsheet numbers them: the header is row 1.
    return f"row {row + 2}"


def _numeric(frame, column: str) -> np.ndarray:
    values = frame[column].str.strip()
    empty = np.flatnonzero((values == "").to_numpy())
    if empty.size:
        raise ConfigError(f"column {column!r}, {_where(int(empty[0]))}: missing value")
    out = np.empty(len(values))
    for i, text in enumerate(values):
        try:
            out[i] = float(text)
        except ValueError:
            raise ConfigError(f"column {column!r}, {_where(i)}: {text[:40]!r} is not a number") from None
        if not math.isfinite(out[i]):
            raise ConfigError(f"column {column!r}, {_where(i)}: {text[:40]!r} is not a finite number")
    return out


def _feature(frame, column: str) -> np.ndarray:
    try:
        return _numeric(frame, column)
    except ConfigError as exc:
        raise ConfigError(f"{exc}; a feature must be numeric: leave the column out") from None


def text_columns(text: str) -> list[str]:
    """The columns that hold something other than numbers (names, dates, categories):
    they cannot be features, and the page offers to leave them out."""
    frame = read_csv(text)
    out = []
    for column in frame.columns:
        try:
            _numeric(frame, str(column))
        except ConfigError:
            out.append(str(column))
    return out


def csv_data(text: str, target: str = "", task: str = "auto", drop: tuple[str, ...] = ()) -> Data:
    """An uploaded table as Data: every feature column numeric, the target numeric
    (regression) or any labels (classification). ``target`` "" is the last column;
    the columns in ``drop`` are left out."""
    if task not in TASKS:
        raise ConfigError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
    frame = read_csv(text)
    columns = [str(c) for c in frame.columns]
    target = target or columns[-1]
    if target not in columns:
        raise ConfigError(f"no column {target!r} in the file; its columns are: {', '.join(columns)}")
    if unknown := [c for c in drop if c not in columns]:
        raise ConfigError(f"no column {unknown[0]!r} to leave out; the file's columns are: {', '.join(columns)}")
    features = [c for c in columns if c != target and c not in drop]
    if not features:
        raise ConfigError(f"no feature column left besides the target {target!r}: keep at least one")
    X = np.stack([_feature(frame, c) for c in features], 1)
    raw = frame[target].str.strip()
    empty = np.flatnonzero((raw == "").to_numpy())
    if empty.size:
        raise ConfigError(f"column {target!r}, {_where(int(empty[0]))}: missing target value")
    numbers = None
    try:
        numbers = _numeric(frame, target)
    except ConfigError as exc:
        if task == REGRESSION:
            raise ConfigError(f"{exc} (a regression target must be numeric)") from None
    if task == "auto":
        whole = numbers is None or (np.all(numbers == np.round(numbers)) and len(np.unique(numbers)) <= MAX_CLASSES)
        task = CLASSIFICATION if whole else REGRESSION
    if task == REGRESSION:
        if np.ptp(numbers) == 0:
            raise ConfigError(f"the target column {target!r} is constant ({numbers[0]:g}): nothing to learn")
        return Data(X, numbers, REGRESSION, tuple(features), target)
    labels = raw.to_numpy() if numbers is None else numbers
    classes, y = np.unique(labels, return_inverse=True)
    if len(classes) < 2:
        raise ConfigError(f"the target column {target!r} has only one class ({classes[0]}); "
                          "classification needs at least two")
    if len(classes) > MAX_CLASSES:
        raise ConfigError(f"the target column {target!r} has {len(classes)} classes; the limit is {MAX_CLASSES} "
                          "(is it a regression target?)")
    names = tuple(f"{c:g}" if isinstance(c, float) else str(c) for c in classes)
    return Data(X, y.astype(np.int64), CLASSIFICATION, tuple(features), target, names)


# -- config, split, standardization ---------------------------------------------


@dataclass(frozen=True)
class DataConfig:
    """Which data, and how it is split. Hashable: it keys caches and links."""

    dataset: str = "moons"
    params: Any = ()
    test_fraction: float = 0.25
    standardize: bool = True
    seed: int = 0
    csv: str = field(default="", repr=False)  # an uploaded file's text
    target: str = ""  # the uploaded file's target column ("" = the last)
    task: str = "auto"  # the uploaded file's task
    drop: tuple[str, ...] = ()  # the uploaded file's columns left out

    def __post_init__(self):
        spec = get(self.dataset)
        object.__setattr__(self, "params", freeze(spec.resolve(dict(freeze(self.params)))))
        if not (isinstance(self.test_fraction, int | float) and 0.0 <= self.test_fraction <= 0.5):
            raise ConfigError(f"test fraction must be between 0 and 0.5, got {self.test_fraction!r}")
        if spec.source == "upload" and not self.csv:
            raise ConfigError("no file uploaded yet")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed <= MAX_SEED:
            raise ConfigError(f"data seed must be a whole number from 0 to {MAX_SEED:,}, got {self.seed!r}")

    @property
    def spec(self) -> DatasetSpec:
        return get(self.dataset)

    def to_dict(self) -> dict[str, Any]:
        out = {"dataset": self.dataset, "params": dict(self.params), "test_fraction": self.test_fraction,
               "standardize": self.standardize, "seed": self.seed}
        if self.dataset == "csv":
            out.update(csv=self.csv, target=self.target, task=self.task, drop=list(self.drop))
        return out


@dataclass(frozen=True, eq=False)
class Split:
    """Train and test arrays, standardized as the config asks."""

    data: Data  # the raw data, before splitting
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    x_scaler: StandardScaler | None
    y_scaler: StandardScaler | None

    @property
    def task(self) -> str:
        return self.data.task

    @property
    def n_features(self) -> int:
        return self.X_train.shape[1]


def load(config: DataConfig) -> Data:
    spec = config.spec
    if spec.source == "upload":
        return csv_data(config.csv, config.target, config.task, config.drop)
    return spec.make(config.seed, **dict(config.params))


@lru_cache(maxsize=16)
def prepare(config: DataConfig) -> Split:
    """Load, split (stratified for classes) and standardize with training statistics."""
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    data = load(config)
    n = len(data.y)
    idx = np.arange(n)
    if config.test_fraction > 0:
        n_test = math.ceil(config.test_fraction * n)
        if n - n_test < 2:
            raise ConfigError(f"{n} rows leave too few for training after a {config.test_fraction:g} test split")
        stratify = data.y if data.task == CLASSIFICATION else None
        try:
            train, test = train_test_split(idx, test_size=n_test, random_state=config.seed, stratify=stratify)
        except ValueError:  # a class too rare to stratify: split without
            train, test = train_test_split(idx, test_size=n_test, random_state=config.seed)
        train, test = np.sort(train), np.sort(test)
    else:
        train, test = idx, idx[:0]
    X_train, X_test = data.X[train], data.X[test]
    y_train, y_test = data.y[train], data.y[test]
    if data.task == CLASSIFICATION and len(np.unique(y_train)) < 2:
        raise ConfigError("the training rows hold only one class; use more data or a smaller test fraction")
    x_scaler = y_scaler = None
    if config.standardize:
        with np.errstate(over="ignore", invalid="ignore"):  # said below, naming the column
            x_scaler = StandardScaler().fit(X_train)
            X_train, X_test = x_scaler.transform(X_train), _transform(x_scaler, X_test)
            if data.task == REGRESSION:
                y_scaler = StandardScaler().fit(y_train[:, None])
                y_train = y_scaler.transform(y_train[:, None])[:, 0]
                y_test = _transform(y_scaler, y_test[:, None])[:, 0]
    _check_finite(data, X_train, X_test, y_train, y_test, config.standardize)
    arrays = [np.ascontiguousarray(a) for a in (X_train, y_train, X_test, y_test)]
    for a in arrays:
        a.setflags(write=False)  # shared through the cache
    return Split(data, *arrays, x_scaler, y_scaler)


def _check_finite(data: Data, X_train, X_test, y_train, y_test, standardized: bool) -> None:
    """Refuse values that overflowed (a column of 1e308s has no finite mean or spread), naming the column."""
    columns = [(name, X_train[:, j], X_test[:, j]) for j, name in enumerate(data.feature_names)]
    if data.task == REGRESSION:
        columns.append((data.target_name, y_train, y_test))
    for name, train, test in columns:
        if not (np.isfinite(train).all() and np.isfinite(test).all()):
            how = "standardising" if standardized else "reading"
            raise ConfigError(f"column {name!r} is not finite after {how} it: its values are too large "
                              "(their mean or spread overflows); rescale that column")


def _transform(scaler: StandardScaler, X: np.ndarray) -> np.ndarray:
    return scaler.transform(X) if len(X) else X.astype(np.float64)
