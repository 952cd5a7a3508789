"""The data part of a standalone script for your own data: the table, zip of images or drawn points a
run trained on, read by the script from the file itself, the way playground/data/uploads.py reads it.

A table's reading is decided once, from the whole file (which character separates the values, which
columns hold numbers and how they are written, the one-hot values of a text column, the classes);
those decisions are written into the script as constants, and the script applies them row by row.
A zip's images are decoded with Pillow as the playground decodes them. Drawn points are few, and are
written into the script itself. tests/unit/test_export_own.py checks each against load_dataset.
"""
from __future__ import annotations

import functools
from pathlib import Path
from string import Template

from playground.config import DataConfig
from playground.data import uploads
from playground.errors import DataError

OWN_KINDS = {"upload": "table", "csv": "table", "upload_images": "images", "folder": "images", "drawn": "points"}


def source(d: DataConfig) -> tuple[bytes, str, str]:
    """(the file's bytes, the name the script reads it by, what the name is in words)."""
    return _source(_key(d))


def _key(d: DataConfig) -> tuple:
    """What names the file's content: an uploaded set's id (its bytes' hash), or a path and its stamp
    (a file or folder read anew when it changes). One export asks for the file several times: it is
    read, parsed or decoded once (one entry kept: a set of images can take hundreds of MB)."""
    if d.name == "csv":
        return d.name, uploads.path_stamp(d)
    if d.name == "folder":
        return d.name, uploads.folder_stamp(d)
    uploads.set_record(d.upload)                      # still on this server: a deleted set is said, not cached
    return d.name, (d.upload, str(uploads.sets_home()))


@functools.lru_cache(maxsize=1)
def _source(key: tuple) -> tuple[bytes, str, str]:
    name, what = key
    if name in ("csv", "folder"):
        path = Path(what[0])
        words = f"the {'file' if name == 'csv' else 'folder'} {path} on the machine that trained the run"
        return (path.read_bytes() if name == "csv" else b""), str(path), words
    sid = what[0]
    meta = uploads.set_record(sid)
    want = {"upload": "table", "upload_images": "images", "drawn": "points"}[name]
    if meta["kind"] != want:
        raise DataError(f"data.upload: set {sid} ({meta['filename']}) holds {meta['kind']}, not {want}")
    return uploads.set_bytes(sid), meta["filename"], f"{meta['filename']}, uploaded as set {sid}"


def table_of(d: DataConfig):
    """(Table, TableSet) of a run's own table, as the engine reads it."""
    return _table(_key(d), d.target, d.target_task, tuple(d.features), d.missing)


@functools.lru_cache(maxsize=1)
def _table(key: tuple, target: str, task: str, features: tuple, missing: str):
    raw, name, _ = _source(key)
    table = uploads.read_table(raw, Path(name).name)
    return table, uploads.table_set(table, target, task, list(features), missing)


def own_shape(d: DataConfig) -> tuple[tuple, int, str, str]:
    """(input shape, outputs, kind, task) of a run's own data, read from its file."""
    kind = OWN_KINDS[d.name]
    if kind == "table":
        _, ts = table_of(d)
        return (ts.X.shape[1],), len(ts.class_names) or 1, "table", ts.task
    if kind == "points":
        return (2,), 2, "points", "classification"
    s = images_of(d)
    return tuple(s.X.shape[1:]), len(s.class_names), "image", "classification"


def images_of(d: DataConfig) -> uploads.ImageSet:
    return _images(_key(d), d.image_size, d.colour)


@functools.lru_cache(maxsize=1)
def _images(key: tuple, size: int, colour: bool) -> uploads.ImageSet:
    raw, name, _ = _source(key)
    if key[0] == "folder":
        return uploads.read_image_folder(name, size, colour)
    return uploads.read_images(raw, name, size, colour)


def own_file_note(d: DataConfig) -> str:
    """The header's word on the file the script reads ("" where it reads none)."""
    if OWN_KINDS.get(d.name) not in ("table", "images"):
        return ""
    name = Path(source(d)[1])
    if d.name == "folder":
        return f"It reads your own folder {name} (DATA_DIR below: change it if the folder is elsewhere)."
    where = f"at {name}" if d.name == "csv" else f"as {name.name} in the folder you run it from"
    return f"It reads your own file {where} (DATA_FILE below: change it if the file is elsewhere)."


def own_summary(d: DataConfig) -> str:
    return source(d)[2]


# ----------------------------------------------------------------------------- templates
READ_TABLE = '''
def read_table():
    """DATA_FILE as columns of text cells, by header name: UTF-8 (Latin-1 where it is not), values
    separated by DELIMITER, empty rows skipped."""
    raw = Path(DATA_FILE).read_bytes()
    if hashlib.sha256(raw).hexdigest()[:16] != SET_ID:
        print(f"warning: {DATA_FILE} is not the file the playground trained on; the numbers will differ",
              file=sys.stderr)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    rows = [r for r in csv.reader(io.StringIO(text), delimiter=DELIMITER) if any(c.strip() for c in r)]
    names = [h.strip() or f"column {i + 1}" for i, h in enumerate(rows[0])]
    return {name: [r[j] for r in rows[1:]] for j, name in enumerate(names)}


def value(cell, how):
    """A cell as text (how "text") or a number ("number", or one written with "thousands separators"
    or "decimal commas"); None where it is missing (a word of MISSING_WORDS, or an infinite number)."""
    s = cell.strip()
    if s.lower() in MISSING_WORDS:
        return None
    if how == "text":
        return s
    if how == "thousands separators":
        s = s.replace(",", "")
    elif how == "decimal commas":
        s = s.replace(".", "").replace(",", ".")
    v = float(s)
    return v if math.isfinite(v) else None
'''

LOAD_TABLE = '''
def load_data():
    """Your table: the rows with a target value$drop; INPUTS as (N, $features) float32 inputs (a text
    column one-hot, an input per value), the target as $targets. Split as above$fill$inputs."""
    cells = read_table()
    target = [value(c, TARGET_HOW) for c in cells[TARGET]]
    columns = {name: [value(c, how) for c in cells[name]] for name, how, _ in INPUTS}
    rows = [i for i, t in enumerate(target) if t is not None$keep]
    features = []
    for name, how, values in INPUTS:
        column = columns[name]
        if how == "text":
            features += [[1.0 if column[i] == v else 0.0 for i in rows] for v in values]
        else:
            features.append([math.nan if column[i] is None else column[i] for i in rows])
    X = torch.from_numpy(np.array(features, np.float64).T.astype(np.float32))
    $target_line
    X_train, y_train, X_val, y_val = split(X, y)$fill_lines$scale
    return X_train, y_train, X_val, y_val
'''

CLASS_OF = '''
def class_name(t):
    """A target value as its class's name: text as it is, a number as written shortest ("3", "2.5")."""
    if isinstance(t, float):
        return str(int(t)) if t.is_integer() else repr(t)
    return t
'''

FILL = '''
    mean = torch.nanmean(X_train, 0)                    # a missing input: its column's training mean
    mean = torch.where(torch.isnan(mean), torch.zeros_like(mean), mean)
    X_train = torch.where(torch.isnan(X_train), mean.expand_as(X_train), X_train)
    X_val = torch.where(torch.isnan(X_val), mean.expand_as(X_val), X_val)'''

ZIP_FILES = '''
def hidden(name):
    """macOS's __MACOSX/ and dotfiles (.DS_Store): not images of yours."""
    return "__MACOSX" in name or any(p.startswith(".") and p not in (".", "..") for p in re.split(r"[\\\\/]", name))


def image_files():
    """(read() -> bytes, class) of each image of DATA_FILE, a zip with one folder per class, in the zip's order:
    files outside a class folder, links and files that are not images left out."""
    raw = Path(DATA_FILE).read_bytes()
    if hashlib.sha256(raw).hexdigest()[:16] != SET_ID:
        print(f"warning: {DATA_FILE} is not the file the playground trained on; the numbers will differ",
              file=sys.stderr)
    archive = zipfile.ZipFile(io.BytesIO(raw))
    files = [i for i in archive.infolist() if not i.is_dir() and not hidden(i.filename)]
    parts = [[p for p in re.split(r"[\\\\/]", i.filename) if p not in ("", ".")] for i in files]
    # one folder around the class folders (a zipped folder): every file inside it, some a level deeper
    strip = 1 if len({p[0] for p in parts}) == 1 and all(len(p) > 1 for p in parts) and any(
        len(p) > 2 for p in parts) else 0
    for info, p in zip(files, parts):
        link = (info.external_attr >> 16) & 0o170000 == 0o120000
        outside = ".." in p or info.filename.startswith(("/", "\\\\")) or re.match(r"^[A-Za-z]:", info.filename)
        if not (link or outside or len(p) - strip < 2 or not p[-1].lower().endswith(IMAGE_TYPES)):
            yield (lambda info=info: archive.read(info)), p[strip]
'''

FOLDER_FILES = '''
def image_files():
    """(read() -> bytes, class) of each image in DATA_DIR/<class>/, in name order: hidden files, links and
    files that are not images left out."""
    for folder, subfolders, names in os.walk(DATA_DIR):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith(".")
                               and not os.path.islink(os.path.join(folder, d)))
        for name in sorted(names):
            path = Path(folder) / name
            parts = path.relative_to(DATA_DIR).parts
            hidden = "__MACOSX" in "/".join(parts) or any(p.startswith(".") for p in parts)
            if not (hidden or path.is_symlink() or len(parts) < 2 or not name.lower().endswith(IMAGE_TYPES)):
                yield path.read_bytes, parts[0]
'''

DECODE_IMAGES = '''
def load_data():
    """Your images: each centre-cropped to a square and resized to IMAGE_SIZE x IMAGE_SIZE, $mode, in [0, 1]:
    (N, $channels, IMAGE_SIZE, IMAGE_SIZE), labels (N,) in CLASSES' order (a class is its folder's name).
    A file that cannot be decoded is skipped. Split as above."""
    images, labels = [], []
    for read, label in image_files():
        try:
            img = Image.open(io.BytesIO(read()))
            img.seek(0)                                 # a GIF: its first frame
            img = ImageOps.exif_transpose(img).convert("$convert")
            img = ImageOps.fit(img, (IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BILINEAR)
        except (OSError, SyntaxError, ValueError, EOFError):
            continue                                    # cannot be decoded: skipped
        a = np.asarray(img, np.float32) / 255
        images.append($layout
        labels.append(label)
    X = torch.from_numpy(np.stack(images))
    y = torch.tensor([CLASSES.index(c) for c in labels], dtype=torch.int64)
    return split(X, y)
'''

POINTS = '''
def load_data():
    """Your $n drawn points: POINTS (x, y, class) as inputs (N, 2) and labels (N,) in {0: orange, 1: blue},
    split as above."""
    P = np.array(POINTS, np.float64)
    X = torch.from_numpy(P[:, :2].astype(np.float32))
    y = torch.from_numpy(P[:, 2].astype(np.int64))
    return split(X, y)
'''


def own_code(d: DataConfig, scale: bool) -> tuple[list, list[str], str]:
    """(constants, helpers, load_data source) of the script's data section for a run's own data."""
    kind = OWN_KINDS[d.name]
    raw, name, words = source(d)
    set_id = uploads.set_id(raw)
    if kind == "points":
        X, y = uploads.read_points(raw, name)
        points = [[float(a), float(b), int(c)] for (a, b), c in zip(X.tolist(), y.tolist())]
        return [], [f"POINTS = {points!r}"], Template(POINTS).substitute(n=len(points))
    file_consts = [("DATA_FILE", Path(name).name if d.name != "csv" else name, f"your file: {words}"),
                   ("SET_ID", set_id, "its SHA-256's first 16 hex digits: a warning if the file differs")]
    if d.name == "folder":
        file_consts = [("DATA_DIR", name, f"your images: {words}")]
    if kind == "images":
        s = images_of(d)
        consts = file_consts + [
            ("IMAGE_SIZE", d.image_size, "pixels a side"),
            ("IMAGE_TYPES", uploads.IMAGE_TYPES, "the files read as images (a GIF: its first frame)"),
            ("CLASSES", s.class_names, "the class folders, in the order of the network's outputs")]
        files = FOLDER_FILES if d.name == "folder" else ZIP_FILES
        code = files.strip("\n") + "\n\n\n" + Template(DECODE_IMAGES).substitute(
            mode="colour (RGB)" if d.colour else "grey", channels=3 if d.colour else 1,
            convert="RGB" if d.colour else "L",
            layout="a.transpose(2, 0, 1))           # (H, W, 3) -> (3, H, W)" if d.colour else
                   "a[None])                          # (H, W) -> (1, H, W)")
        return consts, [], code
    table, ts = table_of(d)
    inputs = [c for c in table.columns if c.name != d.target and (not d.features or c.name in d.features)]
    spec, names = [], list(ts.feature_names)            # in the inputs' order: a number's name, a text's name=value
    for c in inputs:
        if c.numeric:
            spec.append((c.name, c.how or "number", []))
            names.pop(0)
            continue
        values = []
        while names and names[0].startswith(c.name + "="):
            values.append(names.pop(0)[len(c.name) + 1:])
        spec.append((c.name, "text", values))
    tcol = table.column(d.target)
    regression = ts.task == "regression"
    consts = file_consts + [
        ("DELIMITER", table.sep, "what separates the values"),
        ("MISSING_WORDS", tuple(sorted(uploads.MISSING_WORDS)), "cells read as missing (lower case)"),
        ("TARGET", d.target, "the column to predict"),
        ("TARGET_HOW", (tcol.how or "number") if tcol.numeric else "text", "how its cells are written"),
        ("INPUTS", spec, "(column, how it is written, a text column's values: one input each)")]
    if not regression:
        consts.append(("CLASSES", ts.class_names, "the target's values, in the order of the network's outputs"))
    consts.append(("MISSING", d.missing, "a missing input value: 'drop' its row, or 'mean' of the training split"))
    helpers = [READ_TABLE] + ([] if regression else [CLASS_OF])
    target_line = ("y = torch.tensor([[target[i]] for i in rows], dtype=torch.float32)" if regression else
                   "y = torch.tensor([CLASSES.index(class_name(target[i])) for i in rows], dtype=torch.int64)")
    drop = d.missing == "drop"
    code = Template(LOAD_TABLE).substitute(
        drop=" and every input" if drop else "", features=ts.X.shape[1],
        targets="(N, 1) float32 numbers" if regression else "(N,) class indices into CLASSES",
        keep="\n            and all(column[i] is not None for column in columns.values())" if drop else "",
        target_line=target_line,
        fill="; a missing input gets its column's training mean" if not drop else "",
        fill_lines=FILL if not drop else "",
        inputs="; inputs standardised with the training split's statistics" if scale else "",
        scale="\n    X_train, X_val = standardize(X_train, X_val)" if scale else "")
    return consts, helpers, code
