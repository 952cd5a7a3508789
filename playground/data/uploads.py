"""Your own table: a CSV or TSV file read into a data set, safely, with a message for every way a file
can be wrong; and the folder of the run store that keeps uploaded sets, each under its content hash.

Reading never executes anything: the bytes are decoded as text (UTF-8, else Latin-1), split by Python's
csv module, and each column is parsed as numbers or kept as text. Nothing is unpickled or evaluated.

A table becomes a set in two steps: read_table() (the file as columns, with its notes: the encoding,
a decimal comma, values dropped as missing), then table_set() (the user's choices: the target column,
classification or regression, which columns are inputs, and what to do with missing values), which
one-hot encodes text inputs and says what it did. The split, filling missing values with the training
split's mean, and standardising happen in the loader (load_upload), with the training split's
statistics only.
"""
from __future__ import annotations

import csv
import functools
import hashlib
import io
import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from playground.errors import DataError

MISSING_WORDS = {"", "na", "n/a", "nan", "null", "none", "?", "-", "missing"}
MAX_ONE_HOT = 50                  # a text input with more distinct values looks like an identifier
MAX_CLASSES_AS_INTEGERS = 20      # a target of whole numbers with at most this many values: classes
DELIMITERS = ",;\t|"
NAMES = {",": "commas", ";": "semicolons", "\t": "tabs", "|": "bars"}


def limit(name: str, default: int) -> int:
    """A limit from the environment (PLAYGROUND_<name>), else its default."""
    raw = os.environ.get(f"PLAYGROUND_{name}", "")
    try:
        return int(raw) if raw.strip() else default
    except ValueError:
        raise DataError(f"PLAYGROUND_{name}: must be a whole number, got '{raw}'") from None


def limits() -> dict:
    """The limits on uploaded sets, read at each use (each with the environment variable that changes it)."""
    # UPLOAD_MB: Streamlit's server refuses uploads past server.maxUploadSize (50 in .streamlit/config.toml):
    # raise both together
    return {"UPLOAD_MB": limit("UPLOAD_MB", 50), "MAX_ROWS": limit("MAX_ROWS", 200_000),
            "MAX_COLUMNS": limit("MAX_COLUMNS", 500), "MAX_CLASSES": limit("MAX_CLASSES", 100),
            "MAX_DATA_MB": limit("MAX_DATA_MB", 500), "MAX_IMAGES": limit("MAX_IMAGES", 20_000),
            "MAX_UNZIPPED_MB": limit("MAX_UNZIPPED_MB", 500), "MAX_PIXELS": limit("MAX_PIXELS", 40_000_000)}


@dataclass
class Column:
    name: str
    values: np.ndarray            # float64 (numbers, NaN where missing) or object (text, None where missing)
    numeric: bool
    missing: int
    how: str = ""                 # numbers: "", "thousands separators" or "decimal commas" (as written)

    @property
    def distinct(self) -> int:
        v = self.values[~np.isnan(self.values)] if self.numeric else [x for x in self.values if x is not None]
        return len(np.unique(v)) if len(v) else 0


@dataclass
class Table:
    """A file read as columns, each numbers or text; notes: what reading it decided, in words."""
    filename: str
    columns: list[Column]
    notes: list[str] = field(default_factory=list)
    sep: str = ","                # what separates the values

    @property
    def rows(self) -> int:
        return len(self.columns[0].values) if self.columns else 0

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise DataError(f"data.target: no column '{name}' in {self.filename}; its columns are "
                        f"{', '.join(c.name for c in self.columns)}")

    def propose_task(self, target: str) -> str:
        """Classes for text or a few distinct whole numbers, regression for other numbers."""
        c = self.column(target)
        if not c.numeric:
            return "classification"
        v = c.values[~np.isnan(c.values)]
        whole = bool(len(v)) and bool(np.all(v == np.round(v)))
        return "classification" if whole and len(np.unique(v)) <= MAX_CLASSES_AS_INTEGERS else "regression"


def _decode(raw: bytes, filename: str) -> tuple[str, list[str]]:
    if not raw.strip():
        raise DataError(f"{filename} is empty: upload a table with a header row and at least two rows of values")
    head = raw[:8192]
    if b"\x00" in head or head.startswith((b"PK\x03\x04", b"\x89PNG", b"\xff\xd8", b"GIF8", b"%PDF", b"\xd0\xcf")):
        raise DataError(f"{filename} is not a text table (it holds binary data: a spreadsheet, an archive or an "
                        f"image?). Save it as CSV from your spreadsheet program (File > Save as > CSV) and upload that")
    try:
        return raw.decode("utf-8-sig"), []
    except UnicodeDecodeError:
        return raw.decode("latin-1"), ["read as Latin-1 text (it is not UTF-8)"]


def _delimiter(text: str, filename: str) -> str:
    if filename.lower().endswith(".tsv"):
        return "\t"
    first = text.split("\n", 1)[0]
    counts = {d: first.count(d) for d in DELIMITERS}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


_DECIMAL_COMMA = re.compile(r"^[+-]?(\d{1,3}(\.\d{3})+|\d+)(,\d+)?$")
_THOUSANDS_COMMA = re.compile(r"^[+-]?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?$")


def _numbers(cells: list[str], sep: str) -> tuple[np.ndarray | None, str]:
    """The cells as float64 (NaN where missing), or None if they are text; and how they were read.
    "1,500" is ambiguous: a thousands separator, except in a file separated by semicolons (where
    the comma is the decimal mark, as in much of Europe)."""
    try:                                           # plain numbers throughout: parsed in C (100,000s of cells)
        return np.asarray(cells, dtype=str).astype(np.float64), ""
    except ValueError:
        pass
    text = [c.strip() for c in cells]
    missing = np.array([t.lower() in MISSING_WORDS for t in text])
    if missing.all():
        return np.full(len(cells), np.nan), ""
    try:
        plain = np.where(missing, "nan", np.asarray(text, dtype=str)).astype(np.float64)
        return plain, ""
    except ValueError:
        pass
    present = [c for c, m in zip(cells, missing) if not m]
    out = np.empty(len(cells))
    forms = [(_THOUSANDS_COMMA, lambda s: s.replace(",", ""), "thousands separators"),
             (_DECIMAL_COMMA, lambda s: s.replace(".", "").replace(",", "."), "decimal commas")]
    for pattern, fix, how in (forms[::-1] if sep == ";" else forms):
        if all(pattern.match(c.strip()) for c in present):
            for i, c in enumerate(cells):
                s = c.strip()
                out[i] = np.nan if s.lower() in MISSING_WORDS else float(fix(s))
            return out, how
    return None, ""


def _check_size(raw: bytes, filename: str, lim: dict) -> None:
    if len(raw) > lim["UPLOAD_MB"] * 2**20:
        raise DataError(f"{filename} is {len(raw) / 2**20:.1f} MB; uploads may be {lim['UPLOAD_MB']} MB at most "
                        f"(PLAYGROUND_UPLOAD_MB)")


def read_table(raw: bytes, filename: str = "table.csv") -> Table:
    """A CSV/TSV file's bytes as a Table: a header row of names, then rows of values separated by
    commas, semicolons, tabs or bars (whichever the header has most of). DataError, naming the line
    and the fix, for a file that is not such a table."""
    lim = limits()
    _check_size(raw, filename, lim)
    text, notes = _decode(raw, filename)
    sep = _delimiter(text, filename)
    rows = [r for r in csv.reader(io.StringIO(text), delimiter=sep) if any(c.strip() for c in r)]
    header, body = rows[0], rows[1:]
    names = [h.strip() or f"column {i + 1}" for i, h in enumerate(header)]
    if len(names) < 2:
        raise DataError(f"{filename} has one column ('{names[0]}'): a table needs input columns and a target "
                        f"column, separated by commas, semicolons or tabs")
    if len(names) > lim["MAX_COLUMNS"]:
        raise DataError(f"{filename} has {len(names):,} columns; at most {lim['MAX_COLUMNS']:,} "
                        f"(PLAYGROUND_MAX_COLUMNS)")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise DataError(f"{filename}: the header names {', '.join(repr(d) for d in dupes)} more than once; give "
                        f"every column its own name")
    if not body:
        raise DataError(f"{filename} has a header row but no rows of values")
    if len(body) > lim["MAX_ROWS"]:
        raise DataError(f"{filename} has {len(body):,} rows; at most {lim['MAX_ROWS']:,} (PLAYGROUND_MAX_ROWS)")
    for i, r in enumerate(body):
        if len(r) != len(names):
            line = _line_of(text, sep, i + 1)
            raise DataError(f"{filename}, line {line}: {len(r)} value{'s' if len(r) != 1 else ''}, but the header "
                            f"has {len(names)} names (values are separated by {NAMES[sep]}; a value that holds "
                            f"one must be in double quotes)")
    columns = []
    for j, name in enumerate(names):
        cells = [r[j] for r in body]
        values, how = _numbers(cells, sep)
        if values is not None:
            bad = ~np.isfinite(values) & ~np.isnan(values)
            if bad.any():
                notes.append(f"'{name}': {int(bad.sum())} infinite value{'s' if bad.sum() > 1 else ''} read as "
                             f"missing")
                values[bad] = np.nan
            if how:
                notes.append(f"'{name}': numbers with {how}")
            columns.append(Column(name, values, True, int(np.isnan(values).sum()), how))
        else:
            texts = np.array([None if c.strip().lower() in MISSING_WORDS else c.strip() for c in cells], object)
            columns.append(Column(name, texts, False, int(sum(t is None for t in texts))))
    if sep != ",":
        notes.append(f"values separated by {NAMES[sep]}")
    return Table(filename, columns, notes, sep)


def _line_of(text: str, sep: str, index: int) -> int:
    """The file's line number of the index-th non-empty record (0: the header), for messages."""
    reader = csv.reader(io.StringIO(text), delimiter=sep)
    seen = -1
    for r in reader:
        if any(c.strip() for c in r):
            seen += 1
            if seen == index:
                return reader.line_num
    return index + 1


@dataclass
class TableSet:
    """A table made ready to train: inputs (NaN where missing, filled after the split), targets, names."""
    X: np.ndarray                 # (N, F) float32
    y: np.ndarray                 # classification: (N,) int64; regression: (N,) float32
    feature_names: list[str]
    class_names: list[str]        # classification: the target's values; regression: []
    task: str
    notes: list[str]


def table_set(table: Table, target: str, task: str = "", features: list | tuple = (),
              missing: str = "drop") -> TableSet:
    """The user's choices applied: `target` column, task ("" proposes one), input `features` (empty:
    every other column), `missing` values ("drop": rows with any dropped; "mean": inputs filled with
    the training split's mean by the loader). Text inputs are one-hot encoded."""
    if not target:
        raise DataError(f"data.target: say which column of {table.filename} to predict (one of "
                        f"{', '.join(c.name for c in table.columns)})")
    tcol = table.column(target)
    task = task or table.propose_task(target)
    if task not in ("classification", "regression"):
        raise DataError(f"data.target_task: 'classification', 'regression' or '' (proposed from the target), "
                        f"got '{task}'")
    if missing not in ("drop", "mean"):
        raise DataError(f"data.missing: 'drop' (rows with a missing value) or 'mean' (the column's training mean), "
                        f"got '{missing}'")
    names = [c.name for c in table.columns]
    unknown = [f for f in features if f not in names]
    if unknown:
        raise DataError(f"data.features: no column {', '.join(repr(u) for u in unknown)} in {table.filename}")
    inputs = [c for c in table.columns if c.name != target and (not features or c.name in features)]
    if not inputs:
        raise DataError(f"data.features: no input column left besides the target '{target}'; tick at least one")
    notes = []
    keep = ~_is_missing(tcol)
    if (~keep).any():
        notes.append(f"{int((~keep).sum())} row(s) without a target value dropped")
    if missing == "drop":
        holes = np.zeros(table.rows, bool)
        for c in inputs:
            holes |= _is_missing(c)
        if (holes & keep).any():
            notes.append(f"{int((holes & keep).sum())} row(s) with a missing input value dropped")
        keep &= ~holes
    else:
        filled = sum(int((_is_missing(c) & keep).sum()) for c in inputs)
        if filled:
            notes.append(f"{filled} missing input value(s) filled with their column's training mean")
    if keep.sum() < 10:
        raise DataError(f"{table.filename}: {int(keep.sum())} usable rows (with a target"
                        f"{' and every input' if missing == 'drop' else ''}); a set needs at least 10")
    cols, feature_names, texts = [], [], []
    for c in inputs:
        if c.numeric:
            cols.append(c.values[keep])
            feature_names.append(c.name)
            continue
        cats = sorted({v for v in c.values[keep] if v is not None})
        if len(cats) > MAX_ONE_HOT:
            raise DataError(f"data.features: the text column '{c.name}' has {len(cats):,} different values (it looks "
                            f"like a name or an identifier); untick it, or code it as numbers")
        v = c.values[keep]
        for cat in cats:
            cols.append((v == cat).astype(np.float64))
            feature_names.append(f"{c.name}={cat}")
        texts.append((c.name, len(cats)))
    if texts:
        notes.append(f"{len(texts)} text column(s) one-hot encoded into {sum(k for _, k in texts)} inputs ("
                     + ", ".join(f"{n}: {k}" for n, k in texts) + ")")
    X = np.stack(cols, 1).astype(np.float32)
    t = tcol.values[keep]
    if task == "regression":
        if not tcol.numeric:
            raise DataError(f"data.target_task: regression needs numbers, and '{target}' holds text (e.g. "
                            f"'{next(v for v in t if v is not None)}'); predict it as classes (classification)")
        return TableSet(X, t.astype(np.float32), feature_names, [], task, notes)
    values = [_label(v) for v in t]
    classes = sorted(set(values), key=_class_order)
    lim = limits()["MAX_CLASSES"]
    if len(classes) < 2:
        raise DataError(f"data.target: '{target}' has one value ('{classes[0]}') in every row: there is nothing to "
                        f"tell apart; pick another target column")
    if len(classes) > lim:
        raise DataError(f"data.target: '{target}' has {len(classes):,} different values, more classes than "
                        f"{lim} (PLAYGROUND_MAX_CLASSES); if they are measurements, predict them as numbers "
                        f"(regression)")
    index = {c: i for i, c in enumerate(classes)}
    y = np.array([index[v] for v in values], np.int64)
    return TableSet(X, y, feature_names, classes, task, notes)


def _is_missing(c: Column) -> np.ndarray:
    return np.isnan(c.values) if c.numeric else np.array([v is None for v in c.values])


def _label(v) -> str:
    """A target value as its class's name: text as it is, a number as written shortest ("3", "2.5")."""
    if isinstance(v, float):
        v = float(v)                                    # numpy's float64 reprs as np.float64(2.5)
        return str(int(v)) if v.is_integer() else repr(v)
    return str(v)


def _class_order(name: str):
    try:
        return (0, float(name), "")
    except ValueError:
        return (1, 0.0, name)


def columns_info(table: Table) -> list[dict]:
    """Each column: name, type (number or text), missing values, distinct values, and an example."""
    out = []
    for c in table.columns:
        present = c.values[~_is_missing(c)]
        example = "" if not len(present) else (f"{present[0]:g}" if c.numeric else str(present[0]))
        out.append({"column": c.name, "type": "number" if c.numeric else "text", "missing": c.missing,
                    "distinct": c.distinct, "example": example})
    return out


def card(ts: TableSet) -> dict:
    """What to look at before training: rows, per class counts (imbalance called out) or the target's
    range, each input's range, and duplicate rows."""
    out: dict = {"rows": len(ts.X), "inputs": len(ts.feature_names), "task": ts.task, "notes": list(ts.notes)}
    if ts.task == "classification":
        counts = np.bincount(ts.y, minlength=len(ts.class_names))
        out["classes"] = {n: int(k) for n, k in zip(ts.class_names, counts)}
        if counts.min() * 3 < counts.max():
            small = ts.class_names[int(counts.argmin())]
            out["imbalance"] = (f"imbalanced: '{small}' has {int(counts.min())} rows, "
                                f"'{ts.class_names[int(counts.argmax())]}' {int(counts.max())}; accuracy alone "
                                f"flatters a network that ignores '{small}' (try class weights)")
    else:
        out["target_range"] = [float(ts.y.min()), float(ts.y.max())]
    with np.errstate(all="ignore"):
        out["features"] = [{"input": n, "min": float(np.nanmin(ts.X[:, j])), "max": float(np.nanmax(ts.X[:, j])),
                            "mean": float(np.nanmean(ts.X[:, j]))} for j, n in enumerate(ts.feature_names)]
    both = np.concatenate([ts.X, ts.y.reshape(len(ts.y), -1).astype(np.float32)], 1)
    out["duplicates"] = int(len(both) - len(np.unique(np.nan_to_num(both, nan=np.inf), axis=0)))
    return out


# ---------------------------------------------------------------------------------- images
IMAGE_TYPES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
ARCHIVES = (".zip", ".tar", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".rar")
MAX_RATIO = 200                    # a member that inflates more than this (zip bombs do 1000x) is refused


@dataclass
class ImageSet:
    """Images read from a zip of class folders: X (N, C, size, size) float32 in [0, 1], labels, what was skipped."""
    X: np.ndarray
    y: np.ndarray
    class_names: list[str]
    skipped: list[str]                 # "name: why", for the message
    notes: list[str]


def read_images(raw: bytes, filename: str = "images.zip", size: int = 28, colour: bool = False,
                progress=None) -> ImageSet:
    """A .zip with one folder per class (the folder's name is the class) -> an ImageSet, each image
    centre-cropped to a square and resized to size x size, grey or colour (GIF: its first frame).
    Members are read in memory, never extracted: a name like ../../x writes nothing. Symlinks, nested
    archives, files that are not images or cannot be decoded, and files outside a class folder are
    skipped and named; DataError when nothing (or one class) is left, or for a zip bomb, before it is
    inflated. progress(done, total): called as images decode."""
    import zipfile

    lim = limits()
    _check_size(raw, filename, lim)
    if not 8 <= size <= 128:
        raise DataError(f"data.image_size: from 8 to 128 pixels a side, got {size}")
    try:
        z = zipfile.ZipFile(io.BytesIO(raw))
        infos = z.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        raise DataError(f"{filename} is not a zip archive: put one folder per class (e.g. cats/, dogs/) in a zip "
                        f"and upload that") from None
    total = sum(i.file_size for i in infos)
    if total > lim["MAX_UNZIPPED_MB"] * 2**20:
        raise DataError(f"{filename} would unpack to {total / 2**20:,.0f} MB; at most {lim['MAX_UNZIPPED_MB']} MB "
                        f"(PLAYGROUND_MAX_UNZIPPED_MB)")
    files = [i for i in infos if not i.is_dir() and not _hidden(i.filename)]
    if len(files) > lim["MAX_IMAGES"]:
        raise DataError(f"{filename} holds {len(files):,} files; at most {lim['MAX_IMAGES']:,} images "
                        f"(PLAYGROUND_MAX_IMAGES)")
    for i in files:
        if i.compress_size and i.file_size / i.compress_size > MAX_RATIO and i.file_size > 2**20:
            ratio = i.file_size / i.compress_size
            shown = "".join(ch for ch in i.filename if ch.isprintable())[:120]
            raise DataError(f"{filename}: '{shown}' would inflate {ratio:,.0f} times (to "
                            f"{i.file_size / 2**20:,.0f} MB): refused, as a zip bomb would be")
    parts = [[p for p in re.split(r"[\\/]", i.filename) if p not in ("", ".")] for i in files]
    # one folder around the class folders (a zipped folder): every file inside it, some a level deeper
    strip = 1 if len({p[0] for p in parts}) == 1 and all(len(p) > 1 for p in parts) and any(
        len(p) > 2 for p in parts) else 0
    skipped, chosen = [], []
    for i, p in zip(files, parts):
        name = "/".join(p)
        if (i.external_attr >> 16) & 0o170000 == 0o120000:
            skipped.append(f"{name}: a symbolic link")
        elif name.lower().endswith(ARCHIVES):
            skipped.append(f"{name}: an archive inside the archive")
        elif ".." in p or i.filename.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", i.filename):
            skipped.append(f"{name}: a path that leaves the archive")
        elif len(p) - strip < 2:
            skipped.append(f"{name}: not inside a class folder")
        elif not name.lower().endswith(IMAGE_TYPES):
            skipped.append(f"{name}: not an image (PNG, JPEG, BMP, GIF, WebP)")
        else:
            chosen.append((functools.partial(_member, z, i), p[strip], name))
    return _decode_images(chosen, skipped, filename, size, colour, progress, lim)


def _member(z, info) -> bytes:
    with z.open(info) as f:
        data = f.read(info.file_size + 1)
    if len(data) > info.file_size:
        raise ValueError("larger than its header says")
    return data


def read_image_folder(path: str | Path, size: int = 28, colour: bool = False, progress=None) -> ImageSet:
    """A folder on this machine with one folder per class, read as read_images reads a zip (files in
    name order; symbolic links and hidden files are not followed)."""
    lim = limits()
    root = Path(path).expanduser()
    if not root.is_dir():
        raise DataError(f"data.path: no folder '{path}'")
    if not 8 <= size <= 128:
        raise DataError(f"data.image_size: from 8 to 128 pixels a side, got {size}")
    skipped, chosen = [], []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and not (Path(dirpath) / d).is_symlink())
        for fname in sorted(filenames):
            file = Path(dirpath) / fname
            parts = file.relative_to(root).parts
            name = "/".join(parts)
            if _hidden(name):
                continue
            if file.is_symlink():
                skipped.append(f"{name}: a symbolic link")
            elif len(parts) < 2:
                skipped.append(f"{name}: not inside a class folder")
            elif not name.lower().endswith(IMAGE_TYPES):
                skipped.append(f"{name}: not an image (PNG, JPEG, BMP, GIF, WebP)")
            else:
                chosen.append((file.read_bytes, parts[0], name))
            if len(chosen) > lim["MAX_IMAGES"]:
                raise DataError(f"{path} holds more than {lim['MAX_IMAGES']:,} images (PLAYGROUND_MAX_IMAGES)")
    return _decode_images(chosen, skipped, root.name, size, colour, progress, lim)


def _decode_images(chosen: list, skipped: list, filename: str, size: int, colour: bool, progress, lim) -> ImageSet:
    """chosen: (read() -> bytes, class, name) per image file -> the ImageSet, undecodable files skipped."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    images, labels, modes, sizes = [], [], set(), set()
    old = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = lim["MAX_PIXELS"]          # Pillow's decompression bomb guard, at our limit
    try:
        for k, (read, cls, name) in enumerate(chosen):
            try:
                img = Image.open(io.BytesIO(read()))
                img.seek(0)
                modes.add(img.mode)
                sizes.add(img.size)
                img = ImageOps.exif_transpose(img).convert("RGB" if colour else "L")
                img = ImageOps.fit(img, (size, size), Image.Resampling.BILINEAR)
            except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError,
                    EOFError) as e:
                why = "too many pixels" if isinstance(e, Image.DecompressionBombError) else "cannot be decoded"
                skipped.append(f"{name}: {why}")
                continue
            a = np.asarray(img, np.float32) / 255
            images.append(a[None] if a.ndim == 2 else a.transpose(2, 0, 1))
            labels.append(cls)
            if progress is not None and k % 50 == 0:
                progress(k + 1, len(chosen))
    finally:
        Image.MAX_IMAGE_PIXELS = old
    classes = sorted(set(labels))
    if not images:
        raise DataError(f"{filename}: no image could be read ({len(skipped)} file(s) skipped"
                        + (f", e.g. {skipped[0]}" if skipped else "") + "); put PNG or JPEG files in one folder per "
                        "class")
    if len(classes) < 2:
        raise DataError(f"{filename}: every image is in one class folder ('{classes[0]}'): a classifier needs two "
                        f"or more, one folder per class")
    if len(classes) > lim["MAX_CLASSES"]:
        raise DataError(f"{filename}: {len(classes)} class folders; at most {lim['MAX_CLASSES']} "
                        f"(PLAYGROUND_MAX_CLASSES)")
    index = {c: j for j, c in enumerate(classes)}
    notes = []
    if len(sizes) > 1 or len(modes) > 1:
        notes.append(f"{len(sizes)} image sizes and {len(modes)} colour modes: each cropped to a square and resized "
                     f"to {size}x{size} {'colour' if colour else 'grey'}")
    if skipped:
        notes.append(f"{len(skipped)} file(s) skipped")
    return ImageSet(np.stack(images), np.array([index[c] for c in labels], np.int64), classes, skipped, notes)


def _hidden(name: str) -> bool:
    """macOS's __MACOSX/ and dotfiles (.DS_Store): not the user's images, not worth a word."""
    return "__MACOSX" in name or any(part.startswith(".") and part not in (".", "..")
                                     for part in re.split(r"[\\/]", name))


def image_card(s: ImageSet) -> dict:
    counts = np.bincount(s.y, minlength=len(s.class_names))
    out = {"images": len(s.y), "classes": {n: int(k) for n, k in zip(s.class_names, counts)},
           "skipped": s.skipped, "notes": s.notes}
    if counts.min() * 3 < counts.max():
        out["imbalance"] = (f"imbalanced: '{s.class_names[int(counts.argmin())]}' has {int(counts.min())} images, "
                            f"'{s.class_names[int(counts.argmax())]}' {int(counts.max())}")
    flat = s.X.reshape(len(s.X), -1)
    out["duplicates"] = int(len(flat) - len(np.unique(np.round(flat, 3), axis=0)))
    return out


# ---------------------------------------------------------------------------------- points drawn by hand
DRAW_CLASSES = ["orange", "blue"]       # class 0, class 1: the decision boundary's colours
DRAW_RANGE = (-1.0, 1.0)                # the plane a student draws on (the 2-D toys' own range)


def points_csv(points: list) -> bytes:
    """Drawn points [x, y, class index] as the CSV kept in the store (x, y to 4 decimals)."""
    return ("x,y,class\n" + "".join(f"{float(x):.4f},{float(y):.4f},{int(c)}\n" for x, y, c in points)).encode()


def read_points(raw: bytes, filename: str = "drawn points") -> tuple[np.ndarray, np.ndarray]:
    """A drawn set's (X (N, 2) float32, y (N,) int64); DataError if it cannot train a classifier."""
    t = read_table(raw, filename)
    try:
        x, y, c = (t.column(n).values for n in ("x", "y", "class"))
    except DataError:
        raise DataError(f"{filename}: a drawn set has the columns x, y and class") from None
    if len(x) < 10 or len(np.unique(c)) < 2:
        raise DataError(f"{filename}: {len(x)} point(s) of {len(np.unique(c))} class(es); draw at least 10 points "
                        f"of both classes")
    return np.stack([x, y], 1).astype(np.float32), c.astype(np.int64)


def load_drawn(cfg, seed: int):
    import torch

    from playground.data import Dataset, split

    meta = set_record(cfg.upload)
    if meta["kind"] != "points":
        raise DataError(f"data.upload: set {cfg.upload} ({meta['filename']}) holds no drawn points")
    X, y = read_points(set_bytes(cfg.upload), meta["filename"])
    Xtr, ytr, Xva, yva = split(torch.from_numpy(X), torch.from_numpy(y), cfg.val_fraction, seed)
    return Dataset("drawn", "points", Xtr, ytr, Xva, yva, list(DRAW_CLASSES), {"source": meta["filename"]})


# ---------------------------------------------------------------------------------- kept in the store
def sets_home() -> Path:
    """Where uploaded sets live: <the run store's folder>/datasets (PLAYGROUND_HOME, as the store)."""
    from playground.config import store_home

    return store_home() / "datasets"


SET_ID = re.compile(r"^[0-9a-f]{16}$")


def set_id(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()[:16]


def save_set(raw: bytes, filename: str, owner: str | None, home: Path | None = None, kind: str = "table") -> dict:
    """Keep an uploaded file as a set (one per content: the same bytes again are the same set, and
    `owner` is added to its owners). Returns its record: id, file name, kind, bytes, owners."""
    home = home or sets_home()
    sid = set_id(raw)
    folder = home / sid
    meta_path = folder / "set.json"
    if meta_path.exists():
        meta = json.loads(meta_path.read_text())
    else:
        lim = limits()["MAX_DATA_MB"]
        used = sum(p.stat().st_size for p in home.glob("*/source")) if home.exists() else 0
        if used + len(raw) > lim * 2**20:
            raise DataError(f"the uploaded sets take {used / 2**20:.0f} MB, and this one would pass the limit of "
                            f"{lim} MB (PLAYGROUND_MAX_DATA_MB): delete sets you no longer use")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "source").write_bytes(raw)
        meta = {"id": sid, "filename": _safe_name(filename), "kind": kind, "bytes": len(raw),
                "created_at": time.time(), "owners": []}
    if owner not in meta["owners"]:
        meta["owners"].append(owner)
    tmp = folder / "set.json.tmp"
    tmp.write_text(json.dumps(meta, indent=1))
    os.replace(tmp, meta_path)
    return meta


def _safe_name(filename: str) -> str:
    """A file name to show: its last part, printable, at most 80 characters."""
    name = re.split(r"[\\/]", filename or "")[-1]
    return "".join(ch for ch in name if ch.isprintable())[:80] or "upload"


def set_record(sid: str, home: Path | None = None) -> dict:
    if not SET_ID.match(sid or ""):
        raise DataError(f"data.upload: '{sid}' is not a data set id (16 hex digits, as `python -m playground data "
                        f"list` shows)")
    path = (home or sets_home()) / sid / "set.json"
    if not path.exists():
        raise DataError(f"data.upload: no uploaded set '{sid}' on this server (it was deleted, or uploaded to "
                        f"another server): upload the file again")
    return json.loads(path.read_text())


def set_bytes(sid: str, home: Path | None = None) -> bytes:
    set_record(sid, home)
    return ((home or sets_home()) / sid / "source").read_bytes()


def list_sets(owner: str | None = None, home: Path | None = None) -> list[dict]:
    """The uploaded sets, newest first: every one, or those `owner` uploaded."""
    home = home or sets_home()
    out = [json.loads(p.read_text()) for p in home.glob("*/set.json")] if home.exists() else []
    return sorted((m for m in out if owner is None or owner in m["owners"]), key=lambda m: -m["created_at"])


def delete_set(sid: str, used_by: list[str], owner: str | None = None, home: Path | None = None) -> bool:
    """Forget `owner`'s upload of the set (None: everyone's), and delete the set once no one has it.
    used_by: the names of the runs that train on it; refused (DataError) while there are any. True if
    the files are gone."""
    meta = set_record(sid, home)
    if used_by:
        raise DataError(f"data set {sid} ({meta['filename']}) is used by {len(used_by)} run(s): "
                        f"{', '.join(used_by[:10])}{' …' if len(used_by) > 10 else ''}; delete them first")
    folder = (home or sets_home()) / sid
    meta["owners"] = [] if owner is None else [o for o in meta["owners"] if o != owner]
    if meta["owners"]:
        (folder / "set.json").write_text(json.dumps(meta, indent=1))
        return False
    for p in folder.iterdir():
        p.unlink()
    folder.rmdir()
    return True


# ---------------------------------------------------------------------------------- the loaders
ALLOW_PATHS = False      # data.path (a file on this machine): the CLI allows it; the app never does


def load_table_cfg(cfg, seed: int, raw: bytes, filename: str, name: str):
    """A Dataset from a table's bytes and the config's choices (target, task, features, missing)."""
    import torch

    from playground.data import Dataset, split_indices
    from playground.data.tabular import standardize

    ts = table_set(read_table(raw, filename), cfg.target, cfg.target_task, cfg.features, cfg.missing)
    train, val = split_indices(len(ts.X), cfg.val_fraction, seed, cfg.max_train)
    X = torch.from_numpy(ts.X)
    Xtr, Xva = X[train].contiguous(), X[val].contiguous()
    holes = torch.isnan(Xtr)
    if holes.any() or torch.isnan(Xva).any():           # data.missing "mean": the training split's column means
        mean = torch.nanmean(Xtr, 0)
        mean = torch.where(torch.isnan(mean), torch.zeros_like(mean), mean)
        Xtr = torch.where(holes, mean.expand_as(Xtr), Xtr)
        Xva = torch.where(torch.isnan(Xva), mean.expand_as(Xva), Xva)
    meta = {"feature_names": ts.feature_names, "source": filename, "notes": ts.notes}
    if cfg.standardize:
        Xtr, Xva = standardize(Xtr, Xva, meta)
    if ts.task == "regression":
        y = torch.from_numpy(ts.y).unsqueeze(1)
        return Dataset(name, "table", Xtr, y[train].contiguous(), Xva, y[val].contiguous(), [], meta,
                       task="regression", target_names=[cfg.target])
    y = torch.from_numpy(ts.y)
    return Dataset(name, "table", Xtr, y[train].contiguous(), Xva, y[val].contiguous(), ts.class_names, meta)


def load_upload(cfg, seed: int):
    meta = set_record(cfg.upload)
    if meta["kind"] != "table":
        raise DataError(f"data.upload: set {cfg.upload} ({meta['filename']}) holds images: pick 'Your own images' "
                        f"(data.name: upload_images)")
    return load_table_cfg(cfg, seed, set_bytes(cfg.upload), meta["filename"], "upload")


def load_upload_images(cfg, seed: int):
    import torch

    from playground.data.images import from_arrays

    meta = set_record(cfg.upload)
    if meta["kind"] != "images":
        raise DataError(f"data.upload: set {cfg.upload} ({meta['filename']}) is a table: pick 'Your own table' "
                        f"(data.name: upload)")
    s = read_images(set_bytes(cfg.upload), meta["filename"], cfg.image_size, cfg.colour)
    data = from_arrays("upload_images", torch.from_numpy(s.X), torch.from_numpy(s.y), cfg, seed, s.class_names,
                        {"source": meta["filename"], "notes": s.notes, "skipped": s.skipped})
    return data


def path_stamp(cfg) -> tuple:
    """data.path's file, checked: allowed here (the command line), and there; (path, size, mtime)."""
    if not ALLOW_PATHS:
        raise DataError("data.path: a file on the server is read from the command line only; in the app, upload "
                        "the file on Build & Train (Data set: Your own table)")
    path = Path(cfg.path).expanduser()
    if not path.is_file():
        raise DataError(f"data.path: no file '{cfg.path}'")
    st = path.stat()
    return str(path.resolve()), st.st_size, st.st_mtime_ns


def folder_stamp(cfg) -> tuple:
    """data.path's folder, checked: allowed here (the command line), and there; its files' (name, size,
    mtime), so a changed folder is read anew."""
    if not ALLOW_PATHS:
        raise DataError("data.path: a folder on the server is read from the command line only; in the app, upload "
                        "a zip of it on Build & Train (Data set: Your own images)")
    root = Path(cfg.path).expanduser()
    if not root.is_dir():
        raise DataError(f"data.path: no folder '{cfg.path}'")
    files = sorted((str(p.relative_to(root)), p.stat().st_size, p.stat().st_mtime_ns)
                   for p in root.rglob("*") if p.is_file() and not p.is_symlink())
    return str(root.resolve()), hashlib.sha256(repr(files).encode()).hexdigest()


def load_folder(cfg, seed: int):
    import torch

    from playground.data.images import from_arrays

    root = Path(folder_stamp(cfg)[0])
    s = read_image_folder(root, cfg.image_size, cfg.colour)
    return from_arrays("folder", torch.from_numpy(s.X), torch.from_numpy(s.y), cfg, seed, s.class_names,
                       {"source": root.name, "notes": s.notes, "skipped": s.skipped})


def load_csv(cfg, seed: int):
    path = Path(path_stamp(cfg)[0])
    return load_table_cfg(cfg, seed, path.read_bytes(), path.name, "csv")
