"""Optimizer race: the same torch.optim optimizers from one start on 2-D surfaces, step by step."""
import streamlit as st

from playground.config import OptimConfig
from playground.errors import PlaygroundError
from playground.surfaces import MAX_STEPS, RACERS, SURFACES, grid, label_configs, make_surface, race
from playground.train.optim import LABELS, RULES
from playground.viz.surface import loss_figure, race_figure

CONDITIONS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]


@st.cache_data(max_entries=64, show_spinner=False)
def cached_race(name: str, condition: float, configs: tuple, start: tuple, steps: int) -> dict:
    """configs: ((name, lr, momentum), ...) in line-up order."""
    cfgs = label_configs([OptimConfig(name=o, lr=lr, momentum=mom) for o, lr, mom in configs])
    return race(make_surface(name, condition), cfgs, start, steps)


@st.cache_data(max_entries=32, show_spinner=False)
def cached_grid(name: str, condition: float):
    return grid(make_surface(name, condition), 120)


def to_end() -> None:
    st.session_state.race_to_end = True


def move(delta: int, last: int) -> None:
    st.session_state.race_step = min(max(st.session_state.race_step + delta, 0), last)


st.title("Optimizer race")
st.caption("PyTorch's own optimizers race from one shared start on 2-D functions you can see whole: "
           "watch how each one moves, step by step.")

c = st.columns([1.3, 1.1, 0.7, 3], vertical_alignment="bottom")
name = c[0].selectbox("Surface", list(SURFACES), key="race_surface", format_func=lambda n: SURFACES[n].title,
                      on_change=to_end)
condition = 50.0
if name == "quadratic":
    condition = float(c[1].select_slider("Condition number κ", CONDITIONS, value=50, key="race_condition",
                                         help="ratio of the steepest to the flattest curvature"))
surface = make_surface(name, condition)
steps = c[2].number_input("Steps", 1, MAX_STEPS, surface.steps, step=10, key=f"race_steps_{name}", on_change=to_end)
chosen = c[3].multiselect("Optimizers", list(LABELS), default=list(RACERS), key="race_opts", format_func=LABELS.get)
st.caption(surface.about)

(x0, x1), (y0, y1) = surface.x_range, surface.y_range
c = st.columns(2)
start = (c[0].slider("Start x (the shared starting point)", x0, x1, surface.start[0], step=(x1 - x0) / 200,
                     key=f"race_x0_{name}"),
         c[1].slider("Start y", y0, y1, surface.start[1], step=(y1 - y0) / 320, key=f"race_y0_{name}"))

if not chosen:
    st.info("Pick at least one optimizer to race.")
    st.stop()
configs = []
for col, opt in zip(st.columns(len(chosen)), chosen):
    lr_default = surface.lrs[opt]
    lr = col.number_input(f"{LABELS[opt]}: learning rate", value=lr_default, step=lr_default / 10, format="%g",
                          key=f"race_lr_{name}_{opt}")
    mom = 0.9
    if opt in ("momentum", "nesterov"):
        mom = col.number_input("momentum", value=0.9, step=0.05, format="%g", key=f"race_mom_{name}_{opt}")
    configs.append((opt, float(lr), float(mom)))

try:
    results = cached_race(name, condition, tuple(configs), (float(start[0]), float(start[1])), int(steps))
except PlaygroundError as e:
    st.error(f"{e}", icon=":material/error:")
    st.stop()

last = max(len(r["xy"]) for r in results.values()) - 1
if st.session_state.pop("race_to_end", False) or st.session_state.get("race_step", last + 1) > last:
    st.session_state.race_step = last
step = 0
if last > 0:              # else every path left the plot on its first step: there is no step to move to
    c = st.columns([0.35, 0.35, 0.35, 0.35, 6], vertical_alignment="bottom")
    c[0].button("", icon=":material/first_page:", on_click=move, args=(-last, last), help="first step",
                key="race_first")
    c[1].button("", icon=":material/navigate_before:", on_click=move, args=(-1, last), help="one step back",
                key="race_prev")
    c[2].button("", icon=":material/navigate_next:", on_click=move, args=(1, last), help="one step on",
                key="race_next")
    c[3].button("", icon=":material/last_page:", on_click=move, args=(last, last), help="last step", key="race_last")
    step = c[4].slider("Step", 0, last, key="race_step")

left, right = st.columns([1.7, 1], gap="medium")
with left:
    fig = race_figure(cached_grid(name, condition), results, step, surface.minima, revision=name)
    st.plotly_chart(fig, width="stretch", key="race_contour", config={"displayModeBar": False})
with right:
    st.plotly_chart(loss_figure(results, step), width="stretch", key="race_loss", config={"displayModeBar": False})
st.caption(f"**What to look for:** {surface.look_for} ▶ Play animates the paths; the step slider and "
           "buttons above move both plots.")
for label, r in results.items():
    if r["diverged"]:
        st.warning(f"{label} left the plot (diverged) at step {r['diverged']}: lower its learning rate.",
                   icon=":material/warning:")
st.markdown("PyTorch's update rules (g: the gradient, w: the point)  \n"
            + "  \n".join(f"**{LABELS[o]}** · `{RULES[o]}`" for o in chosen))
