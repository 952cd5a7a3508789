"""The lesson a browser is in (?lesson=ID): its config in the form, its locked and hidden controls, its
instructions on top, and the teacher's tools to save one from the form.

Locks here are a courtesy (a disabled widget); the registry refuses a run that breaks one whatever the
browser sends (playground/lessons.py, Lesson.check_run)."""
from __future__ import annotations

import streamlit as st

from playground.config import RunConfig
from playground.errors import PlaygroundError
from playground.lessons import CONTROLS, GOALS, Lesson
from playground.train import REGISTRY
from ui.run_form import FIELDS, apply_config, build_config
from ui.state import who


def current_lesson() -> Lesson | None:
    """The lesson of ?lesson=ID, kept in the session and in the address (as ?me= is). A new one puts
    its config into the form once; an unknown id is dropped with a message."""
    s = st.session_state
    url = st.query_params.get("lesson")
    if url and url != s.get("lesson_id"):
        lesson = REGISTRY.lesson(url)
        if lesson is None:
            s.lesson_error = f"There is no lesson '{url}' on this server: ask your teacher for the link again."
            del st.query_params["lesson"]
        else:
            s.lesson_id = url
            apply_config(RunConfig.from_dict(lesson.config))
    lesson_id = s.get("lesson_id")
    if not lesson_id:
        return None
    lesson = REGISTRY.lesson(lesson_id)
    if lesson is None:                               # deleted meanwhile
        s.lesson_id = None
        return None
    if st.query_params.get("lesson") != lesson_id:
        st.query_params["lesson"] = lesson_id
    return lesson


def leave() -> None:
    st.session_state.lesson_id = None
    st.query_params.pop("lesson", None)


def _control_of(key: str) -> str | None:
    """The lesson control that a form widget belongs to (by the config path the widget writes)."""
    field = next((f for k, f in FIELDS.items() if k == key or (isinstance(k, tuple) and key in k)), None)
    if field is None:
        return None
    for control, (_, paths) in CONTROLS.items():
        if any(field.path[:len(p)] == p for p in paths):
            return control
    return None


def locked(key: str, lesson: Lesson | None) -> bool:
    return lesson is not None and _control_of(key) in lesson.fixed()


def hidden(key: str, lesson: Lesson | None) -> bool:
    return lesson is not None and _control_of(key) in lesson.hidden


def control(widget, label: str, *args, key: str, lesson: Lesson | None, **kwargs):
    """Draw a form widget as the lesson allows: not at all (hidden: its value stays the lesson's),
    disabled (locked), or as it is."""
    if hidden(key, lesson):
        return st.session_state.get(key)
    kwargs["disabled"] = kwargs.get("disabled", False) or locked(key, lesson)
    return widget(label, *args, key=key, **kwargs)


def lesson_header(lesson: Lesson) -> None:
    """On top of Build & Train: the lesson's title, instructions and rules, and the way out."""
    with st.container(border=True):
        a, b = st.columns([5, 1], vertical_alignment="top")
        a.markdown(f"#### :material/school: {lesson.title}")
        b.button("Leave the lesson", icon=":material/logout:", on_click=leave, width="stretch")
        if lesson.instructions:
            st.markdown(lesson.instructions)
        if rules := lesson.rules():
            st.caption(" · ".join(rules) + ". The server refuses a run that breaks a rule.")
        if who().teacher:
            st.caption(f"Link for the class: `?lesson={lesson.id}` after this server's address "
                       f"(the class board shows their runs).")


def lesson_error() -> None:
    if msg := st.session_state.pop("lesson_error", None):
        st.warning(msg, icon=":material/school:")


def _save(lesson_id: str | None) -> None:
    s = st.session_state
    s.pop("lesson_save_error", None)
    goal = None if s.lesson_goal_metric == "none" else {"metric": s.lesson_goal_metric,
                                                         "target": float(s.lesson_goal_target)}
    budget = {k: (int(s[f"lesson_{k}"]) or None) for k in ("max_epochs", "max_params", "max_runs")}
    try:
        lesson = Lesson.from_dict({"title": s.lesson_title, "instructions": s.lesson_instructions,
                                   "config": build_config().to_dict(), "locked": s.lesson_locked,
                                   "hidden": s.lesson_hidden, "goal": goal, **budget}, lesson_id)
        REGISTRY.save_lesson(lesson, who())
    except PlaygroundError as e:
        s.lesson_save_error = str(e)
        return
    s.lesson_saved = lesson.id
    s.lesson_id = lesson.id                       # the teacher sees it as the class will
    st.query_params["lesson"] = lesson.id


def save_lesson_panel(lesson: Lesson | None) -> None:
    """The teacher's: save the form as a lesson (a new one, or this lesson's new version)."""
    if not who().teacher:
        return
    setdefaults()
    s = st.session_state
    with st.expander("Teacher: save this form as a lesson", icon=":material/school:",
                     expanded=bool(s.get("lesson_save_error"))):
        if lesson is not None and s.get("lesson_form_for") != lesson.id:     # editing: start from the lesson
            s.lesson_form_for = lesson.id
            s.lesson_title, s.lesson_instructions = lesson.title, lesson.instructions
            s.lesson_locked, s.lesson_hidden = list(lesson.locked), list(lesson.hidden)
            for k in ("max_epochs", "max_params", "max_runs"):
                s[f"lesson_{k}"] = getattr(lesson, k) or 0
            s.lesson_goal_metric = lesson.goal.metric if lesson.goal else "none"
            s.lesson_goal_target = lesson.goal.target if lesson.goal else 0.9
        st.text_input("Title", key="lesson_title", placeholder="e.g. Make the spiral learn with 2 hidden layers")
        st.text_area("Instructions (Markdown)", key="lesson_instructions", height=100)
        names = {k: v[0] for k, v in CONTROLS.items()}
        st.multiselect("Locked (shown, not editable)", list(CONTROLS), key="lesson_locked", format_func=names.get)
        st.multiselect("Hidden", list(CONTROLS), key="lesson_hidden", format_func=names.get)
        a, b, c = st.columns(3)
        a.number_input("Max epochs (0: none)", min_value=0, step=10, key="lesson_max_epochs")
        b.number_input("Max parameters (0: none)", min_value=0, step=100, key="lesson_max_params")
        c.number_input("Runs per student (0: any)", min_value=0, step=1, key="lesson_max_runs")
        a, b = st.columns(2)
        a.selectbox("Goal", ["none", *GOALS], key="lesson_goal_metric",
                    format_func=lambda m: "no goal" if m == "none" else GOALS[m][0])
        b.number_input("Goal value", key="lesson_goal_target", step=0.01, format="%g",
                       disabled=s.get("lesson_goal_metric", "none") == "none")
        st.caption("The lesson starts from the form as it is now: data, network and every setting.")
        a, b = st.columns(2)
        a.button("Save as a new lesson", icon=":material/save:", on_click=_save, args=(None,), type="primary",
                 width="stretch")
        if lesson is not None and not lesson.shipped:
            b.button(f"Save over '{lesson.title}'", icon=":material/edit:", on_click=_save, args=(lesson.id,),
                     width="stretch")
        if err := s.get("lesson_save_error"):
            st.error(err)
        if s.get("lesson_saved"):
            st.success(f"Saved. The class opens it with `?lesson={s.lesson_saved}` after this server's address.")


def setdefaults() -> None:
    s = st.session_state
    for key, value in (("lesson_title", ""), ("lesson_instructions", ""), ("lesson_locked", []),
                       ("lesson_hidden", []), ("lesson_max_epochs", 0), ("lesson_max_params", 0),
                       ("lesson_max_runs", 0), ("lesson_goal_metric", "none"), ("lesson_goal_target", 0.9)):
        s.setdefault(key, value)
