"""Build & Train's "Your own table": upload a CSV/TSV (or pick one uploaded before), see its columns,
choose what to predict and from what, and read the data card before training.

The file is read by playground.data.uploads (nothing in it is executed) and kept in the run store
under its content hash: the run's config names that id (data.upload), so the run survives restarts
and resumes on the same bytes. Widget keys upload, target, target_task, missing and features are
config fields (run_form.FIELDS); features_pick is the input columns' multiselect (every column but
the target ticked means data.features = [], "all").
"""
from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import streamlit as st

from playground.data import samples, uploads
from playground.errors import PlaygroundError
from playground.lessons import Lesson
from ui.lesson import control, locked
from ui.state import me

CONFIG_MB = 1               # a run config or a lesson file: a few kB; their upload widgets refuse more


@functools.lru_cache(maxsize=8)
def table_of(sid: str) -> uploads.Table:
    """A stored set's table, read once per server (a set's bytes never change: its id is their hash)."""
    meta = uploads.set_record(sid)
    return uploads.read_table(uploads.set_bytes(sid), meta["filename"])


def table_uploaded() -> None:
    """Keep the uploaded file as a set and point the form at it; a file that is not a table is said."""
    s = st.session_state
    s.pop("table_error", None)
    f = s.get("table_file")
    if f is None:
        return
    try:
        raw = f.getvalue()
        if s.data_name == "upload_images":
            progress = st.progress(0.0, text=f"reading {f.name}")
            uploads.read_images(raw, f.name, s.image_size, s.colour,
                                progress=lambda k, n: progress.progress(k / n, text=f"{k:,} of {n:,} images"))
            progress.empty()
            meta = uploads.save_set(raw, f.name, me(), kind="images")
            s.upload = meta["id"]
            fit_network()
            return
        table = uploads.read_table(raw, f.name)
        meta = uploads.save_set(raw, f.name, me())
    except PlaygroundError as e:
        s.table_error = str(e)
        return
    use_set(meta["id"], table)


def use_set(sid: str, table: uploads.Table | None = None) -> None:
    """The form on set sid: its last column as the target (the usual place), every other as an input."""
    s = st.session_state
    table = table or table_of(sid)
    s.upload, s.target, s.target_task, s.features, s.missing = sid, table.columns[-1].name, "", [], "drop"
    s.pop("features_pick", None)
    fit_network()


def use_sample() -> None:
    """Upload the sample file of the form's kind (assets/), as a user uploading it would."""
    s = st.session_state
    images = s.data_name == "upload_images"
    name = samples.SHAPES_ZIP if images else samples.FRUIT
    meta = uploads.save_set(samples.sample(name), name, me(), kind="images" if images else "table")
    s.pop("table_error", None)
    if images:
        s.upload = meta["id"]
        fit_network()
    else:
        use_set(meta["id"])


def pick_set() -> None:
    s = st.session_state
    if sid := s.get("my_set"):
        if s.data_name == "upload_images":
            s.upload = sid
            fit_network()
        else:
            use_set(sid)


def fit_network() -> None:
    """Load the form's preset again with as many outputs as the target needs, unless the user has
    edited the network (then a mismatch is said under it, as for any data set)."""
    from ui.run_form import load_preset

    s = st.session_state
    if not s.get("net_edited") and s.get("preset"):
        load_preset()


def target_changed() -> None:
    s = st.session_state
    s.target_task = ""
    s.pop("features_pick", None)
    fit_network()


def features_picked() -> None:
    s = st.session_state
    others = [c.name for c in table_of(s.upload).columns if c.name != s.target]
    pick = s.get("features_pick") or []
    s.features = [] if set(pick) == set(others) else [c for c in others if c in pick]


def upload_or_pick(lesson: Lesson | None, kind: str) -> bool:
    """The uploader and the browser's earlier sets of this kind ("table" or "images"); True once the
    form names a set of that kind."""
    s = st.session_state
    fixed = locked("upload", lesson)
    size = min(uploads.limits()["UPLOAD_MB"], st.get_option("server.maxUploadSize"))
    if kind == "table":
        st.file_uploader(f"Your table: CSV or TSV, a header row of names, up to {size} MB", max_upload_size=size,
                         type=["csv", "tsv", "txt"], key="table_file", on_change=table_uploaded, disabled=fixed,
                         help="Nothing in the file is run: it is read as text. It is kept on this server under its "
                              "content, so runs on it survive restarts")
    else:
        st.file_uploader(f"Your images: a .zip with one folder per class, up to {size} MB", max_upload_size=size,
                         type=["zip"], key="table_file", on_change=table_uploaded, disabled=fixed,
                         help="Each folder's name is a class. The zip is read in memory, never unpacked onto the "
                              "server; files that are not images are skipped and named")
    if err := s.get("table_error"):
        st.error(err, icon=":material/upload_file:")
    mine = {m["id"]: m for m in uploads.list_sets(me()) if m["kind"] == kind}
    if s.get("upload"):
        try:                                        # a set from a shared config or a run: shown, not listed as mine
            meta = uploads.set_record(s.upload)
            if meta["kind"] == kind:
                mine.setdefault(s.upload, meta)
            else:
                s.upload = ""                       # the other kind's set, from before the data set changed
        except PlaygroundError:
            pass
    if len(mine) > 1 or (mine and not s.get("upload")):
        st.selectbox("Or one you uploaded before", list(mine), key="my_set", index=None, on_change=pick_set,
                     format_func=lambda i: f"{mine[i]['filename']} ({mine[i]['bytes']:,} bytes)", disabled=fixed,
                     placeholder="choose one…")
    if not s.get("upload"):
        st.info("Upload a table to train on it: one row per example, one column per measurement, and the column "
                "to predict (text labels or numbers)." if kind == "table" else
                "Upload a zip of images to train on them: one folder per class (e.g. cats/ and dogs/), a few dozen "
                "images each at least.", icon=":material/upload_file:")
        st.button("No file at hand? Try the sample: 300 fruit measured (weight, size, colour, sweetness)"
                  if kind == "table" else "No zip at hand? Try the sample: 160 drawn shapes in 4 class folders",
                  key="try_sample", on_click=use_sample, disabled=fixed, icon=":material/science:",
                  help=f"The playground's own {samples.FRUIT if kind == 'table' else samples.SHAPES_ZIP} "
                       f"(in assets/), uploaded for you")
        return False
    return True


def own_images(lesson: Lesson | None) -> None:
    if upload_or_pick(lesson, "images"):
        control(st.select_slider, "Image size (pixels a side)", [16, 28, 32, 48, 64], key="image_size",
                lesson=lesson, help="Each image is cropped to its centre square and resized to this")
        control(st.toggle, "Colour", key="colour", lesson=lesson, help="Off: grey (one channel), as MNIST")


def image_card(data) -> None:
    """The card of your images as they will train: per class counts, a few of each class, what was skipped."""
    classes = data.class_names
    counts = (np.bincount(data.y_train.numpy(), minlength=len(classes))
              + np.bincount(data.y_val.numpy(), minlength=len(classes)))
    with st.expander("Data card: look at your data first", expanded=True, icon=":material/fact_check:"):
        st.bar_chart(pd.DataFrame({"class": classes, "images": counts}), x="class", y="images", height=160,
                     horizontal=True)
        if counts.min() * 3 < counts.max():
            st.warning(f"imbalanced: '{classes[int(counts.argmin())]}' has {int(counts.min())} images, "
                       f"'{classes[int(counts.argmax())]}' {int(counts.max())}", icon=":material/balance:")
        y = data.y_train.numpy()
        for k, name in enumerate(classes[:12]):
            idx = np.flatnonzero(y == k)[:6]
            if len(idx):
                imgs = data.X_train[idx].numpy().transpose(0, 2, 3, 1)
                st.caption(f"**{name}** ({counts[k]:,})")
                st.image([np.clip(i if i.shape[2] == 3 else i[:, :, 0], 0, 1) for i in imgs], width=40,
                         alt=[f"a training image of class {name}"] * len(imgs))
        skipped = data.meta.get("skipped", [])
        st.caption(" · ".join(data.meta.get("notes", [])) or "every file read")
        if skipped:
            st.caption("Skipped: " + "; ".join(skipped[:20]) + (" …" if len(skipped) > 20 else ""))


def own_points(lesson: Lesson | None) -> None:
    """Draw a set on the plane, in a large dialog: a click on the chart adds a point of the chosen
    class; undo, clear, then train on them (kept in the store like an upload). A set a run or a link
    named is shown and can be drawn on further."""
    s = st.session_state
    if s.get("upload") and _kind(s.upload) != "points":
        s.upload = ""                               # another kind's set, from before the data set changed
    if "drawn" not in s:
        s.drawn = []
        if s.get("upload"):
            X, y = uploads.read_points(uploads.set_bytes(s.upload))
            s.drawn = [[float(a), float(b), int(c)] for (a, b), c in zip(X, y)]
    counts = [sum(p[2] == c for p in s.drawn) for c in (0, 1)]
    st.button("Draw points", icon=":material/draw:", key="draw_open", width="stretch",
              disabled=locked("upload", lesson))
    if s.get("draw_open"):
        draw_dialog()
    if err := s.get("table_error"):
        st.error(err)
    if not s.get("upload"):
        st.info("Draw at least 10 points of both classes (Draw points), then press Use them.",
                icon=":material/touch_app:")
    elif uploads.points_csv(s.drawn) != _set_bytes_or_none(s.upload):
        st.caption(f":material/edit: {counts[0]} orange, {counts[1]} blue drawn; the run trains on the points last "
                   f"used: press Use them in Draw points to train on these")


@st.dialog("Draw your points", width="large")
def draw_dialog() -> None:
    from playground.viz.draw import draw_spec

    s = st.session_state
    cls = st.radio("Class of the next point", [0, 1], format_func=lambda c: uploads.DRAW_CLASSES[c],
                   key="draw_class", horizontal=True)
    event = st.vega_lite_chart(draw_spec(s.drawn, height=460), on_select="rerun", selection_mode=["spot"],
                               key=f"draw_{s.get('draw_gen', 0)}")
    got = ((event or {}).get("selection") or {}).get("spot") or []
    if got and isinstance(got[0], dict) and got[0].get("sx") is not None:
        s.drawn.append([float(got[0]["sx"]), float(got[0]["sy"]), int(cls)])
        s["draw_gen"] = s.get("draw_gen", 0) + 1    # a new chart: the same spot can be clicked again
        st.rerun(scope="fragment")
    counts = [sum(p[2] == c for p in s.drawn) for c in (0, 1)]
    st.caption(f"{counts[0]} orange, {counts[1]} blue: click an empty spot to add a point of the class above")
    a, b, c = st.columns(3)
    if a.button("Undo", icon=":material/undo:", disabled=not s.drawn, width="stretch"):
        s.drawn.pop()
        s["draw_gen"] = s.get("draw_gen", 0) + 1
        st.rerun(scope="fragment")
    if b.button("Clear", icon=":material/delete_sweep:", disabled=not s.drawn, width="stretch"):
        s.drawn.clear()
        s["draw_gen"] = s.get("draw_gen", 0) + 1
        st.rerun(scope="fragment")
    if c.button("Use them", icon=":material/check:", type="primary", width="stretch",
                disabled=min(counts) < 1 or len(s.drawn) < 10,
                help="Train on these points (at least 10, of both classes): they are kept like an upload"):
        use_drawn()
        st.rerun()


def _kind(sid: str) -> str | None:
    try:
        return uploads.set_record(sid)["kind"]
    except PlaygroundError:
        return None


def _set_bytes_or_none(sid: str) -> bytes | None:
    try:
        return uploads.set_bytes(sid)
    except PlaygroundError:
        return None


def use_drawn() -> None:
    s = st.session_state
    s.pop("table_error", None)
    try:
        raw = uploads.points_csv(s.drawn)
        uploads.read_points(raw)
        s.upload = uploads.save_set(raw, f"drawn points ({len(s.drawn)})", me(), kind="points")["id"]
    except PlaygroundError as e:
        s.table_error = str(e)
        return
    fit_network()


def own_table(lesson: Lesson | None) -> None:
    """The upload, the choices and the columns; the data card is card(), drawn once the set loads."""
    s = st.session_state
    if not upload_or_pick(lesson, "table"):
        return
    try:
        table = table_of(s.upload)
    except PlaygroundError as e:
        st.error(str(e))
        return
    names = [c.name for c in table.columns]
    st.caption(f":material/table_view: **{table.filename}** · {table.rows:,} rows · {len(names)} columns"
               + (" · " + "; ".join(table.notes) if table.notes else ""))
    if s.get("target") not in names:
        s.target = names[-1]
    control(st.selectbox, "Column to predict", names, key="target", lesson=lesson, on_change=target_changed)
    proposed = table.propose_task(s.target)
    control(st.radio, "Predict it as", ["", "classification", "regression"], key="target_task", lesson=lesson,
            horizontal=True, format_func=lambda t: f"auto ({'classes' if proposed == 'classification' else 'numbers'})"
            if t == "" else {"classification": "classes", "regression": "numbers"}[t],
            help="Text, or a few distinct whole numbers, are classes; other numbers are predicted as numbers "
                 "(regression)")
    others = [n for n in names if n != s.target]
    if "features_pick" not in s:
        s.features_pick = [n for n in others if not s.features or n in s.features]
    st.multiselect("Input columns", others, key="features_pick", on_change=features_picked,
                   disabled=locked("target", lesson), help="Untick a column the network must not see (an id, or "
                                                            "the answer in disguise)")
    control(st.radio, "Missing values", ["drop", "mean"], key="missing", lesson=lesson, horizontal=True,
            format_func=lambda m: {"drop": "drop those rows", "mean": "fill with the column's training mean"}[m])
    with st.expander("Columns and first rows", icon=":material/view_column:"):
        st.dataframe(pd.DataFrame(uploads.columns_info(table)), hide_index=True, width="stretch")
        st.dataframe(pd.DataFrame({c.name: c.values[:8] for c in table.columns}), hide_index=True, width="stretch")


@functools.lru_cache(maxsize=16)
def card_of(sid: str, target: str, task: str, features: tuple, missing: str) -> dict:
    """A set's card for these choices, computed once (Build & Train reruns at every widget change)."""
    return uploads.card(uploads.table_set(table_of(sid), target, task, list(features), missing))


def card(data) -> None:
    """The data card of the set as it will train: per class counts (imbalance called out) or the
    target's range, each input's range, duplicates, and what reading it did."""
    s = st.session_state
    try:
        c = card_of(s.upload, s.target, s.target_task, tuple(s.features), s.missing)
    except PlaygroundError:
        return                                      # the loader said it already
    with st.expander("Data card: look at your data first", expanded=True, icon=":material/fact_check:"):
        if "classes" in c:
            counts = pd.DataFrame({"class": list(c["classes"]), "rows": list(c["classes"].values())})
            st.bar_chart(counts, x="class", y="rows", height=160, horizontal=True)
            if "imbalance" in c:
                st.warning(c["imbalance"], icon=":material/balance:")
        else:
            lo, hi = c["target_range"]
            st.caption(f"target **{s.target}** from {lo:,.4g} to {hi:,.4g}")
        st.dataframe(pd.DataFrame(c["features"]).round(4), hide_index=True, width="stretch", height=180)
        st.caption(f"{c['rows']:,} rows used · {c['inputs']} inputs · "
                   + (f"**{c['duplicates']} duplicate rows** (the same inputs and target: the split may put "
                      f"copies on both sides)" if c["duplicates"] else "no duplicate rows")
                   + (" · " + "; ".join(c["notes"]) if c["notes"] else ""))
