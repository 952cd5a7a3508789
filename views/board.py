"""Class board: every student's runs in one lesson, live: a table, a leaderboard and their curves on one
chart; open any of them read-only. The teacher always sees it; the class only if the lesson opens it."""
import streamlit as st

from playground.lessons import BOARD
from playground.train import REGISTRY
from ui.board import LARGE_CSS, board, may_see
from ui.state import who

if goto := st.session_state.pop("board_goto", None):     # "Open the run": its callback chose the page
    st.switch_page(goto)
st.title("Class board")
st.caption("Every run started in a lesson, as the class trains: who is where, who reached the goal first, and "
           "all the curves on one chart.")
lessons = {x.id: x for x in REGISTRY.lessons()}
if not lessons:
    st.info("No lessons on this server yet: the teacher makes one on Build & Train or imports one on Lessons.")
    st.stop()
s = st.session_state
if s.get("board_lesson") not in lessons:
    s.board_lesson = s.get("lesson_id") if s.get("lesson_id") in lessons else next(iter(lessons))
lesson = lessons[st.selectbox("Lesson", list(lessons), key="board_lesson", format_func=lambda i: lessons[i].title)]
person = who()
if not may_see(lesson, person):              # decided here, on the server: nothing of a hidden board is sent
    st.info("The teacher has not opened this lesson's board to the class.", icon=":material/visibility_off:")
    st.stop()
large = bool(s.get("large_type"))            # the sidebar's Large type: on the board, bigger still and stacked
if large:
    st.html(LARGE_CSS)
if person.teacher:
    st.caption(f"Who sees this board: {BOARD[lesson.board]} (set it on the Lessons page).")
board(lesson, person, large)
