"""Lessons: every lesson on this server, opened in Build & Train; the teacher's tools to import, export,
delete them and to choose who sees each one's class board. Every teacher action goes through the
registry, which refuses anyone but the teacher whatever the browser sends."""

import streamlit as st

from playground.errors import PlaygroundError
from playground.lessons import BOARD, Lesson, lesson_from_file
from playground.train import REGISTRY
from ui.own_data import CONFIG_MB
from ui.state import me, who


def imported() -> None:
    """The uploaded lesson file into the store (its id kept if it has one): safe YAML or JSON only."""
    s = st.session_state
    s.pop("lesson_import_error", None)
    file = s.get("lesson_upload")
    if file is None:
        return
    try:
        lesson = lesson_from_file(file.getvalue(), file.name)
        REGISTRY.save_lesson(lesson, who())
    except PlaygroundError as e:
        s.lesson_import_error = str(e)
        return
    s.lesson_imported = lesson.title


def deleted(lesson_id: str) -> None:
    try:
        REGISTRY.delete_lesson(lesson_id, who())
    except PlaygroundError as e:
        st.session_state.lesson_error = (lesson_id, str(e))


def board_changed(lesson: Lesson) -> None:
    lesson.board = st.session_state[f"board_{lesson.id}"]
    try:
        REGISTRY.save_lesson(lesson, who())
    except PlaygroundError as e:
        st.session_state.lesson_error = (lesson.id, str(e))


def teacher_tools(lesson: Lesson) -> None:
    a, b, c = st.columns([1, 1, 2], vertical_alignment="bottom")
    a.download_button("Export", lesson.to_json(), file_name=f"{lesson.id}.json", mime="application/json",
                      icon=":material/download:", key=f"export_{lesson.id}", on_click="ignore", width="stretch")
    with b.popover("Delete", icon=":material/delete:", width="stretch"):
        st.caption("A shipped lesson is a file of examples/lessons and stays." if lesson.shipped else
                   f"Delete '{lesson.title}'? Runs started in it are kept; its link stops working.")
        st.button("Delete the lesson", key=f"delete_{lesson.id}", on_click=deleted, args=(lesson.id,), type="primary")
    st.session_state[f"board_{lesson.id}"] = lesson.board
    c.selectbox("Who sees the class board", list(BOARD), key=f"board_{lesson.id}", format_func=BOARD.get,
                on_change=board_changed, args=(lesson,),
                help="on a shipped lesson, a change keeps the teacher's copy under the same id")


st.title("Lessons")
st.caption("What a teacher hands the class in one link: open a lesson to train in it on Build & Train, with its "
           "instructions on top and its rules kept by the server.")
teacher = who().teacher
if teacher:
    with st.expander("Teacher: import a lesson file", icon=":material/upload_file:"):
        st.file_uploader(f"A lesson (.json or .yaml, up to {CONFIG_MB} MB), e.g. one exported here or from "
                         f"examples/lessons", max_upload_size=CONFIG_MB,
                         type=["json", "yaml", "yml"], key="lesson_upload", on_change=imported)
        if err := st.session_state.get("lesson_import_error"):
            st.error(err)
        elif title := st.session_state.pop("lesson_imported", None):
            st.success(f"Imported '{title}'.")
    st.caption("To make a lesson, set up Build & Train as the class should start, then use its teacher panel.")

opened = None
for lesson in REGISTRY.lessons():
    with st.container(border=True):
        a, b = st.columns([5, 1], vertical_alignment="top")
        a.markdown(f"#### {lesson.title}")
        a.caption(("shipped with the playground" if lesson.shipped else "the teacher's") +
                  f" · link: `?lesson={lesson.id}` after this server's address")
        if rules := lesson.rules():
            a.caption(" · ".join(rules))
        if b.button("Open", key=f"open_{lesson.id}", icon=":material/school:", type="primary", width="stretch"):
            opened = lesson.id
        if teacher:
            if b.button("Edit in Build & Train", key=f"edit_{lesson.id}", width="stretch",
                        help="the teacher's panel there saves it as a new lesson, or over this one"):
                opened = lesson.id
            teacher_tools(lesson)
        if err := st.session_state.get("lesson_error"):
            if err[0] == lesson.id:
                st.error(err[1])
st.session_state.pop("lesson_error", None)
if opened is not None:
    st.switch_page("views/build_train.py", query_params={"me": me(), "lesson": opened})
