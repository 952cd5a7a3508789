"""Compare: race optimizers, learning rates, batch sizes... side by side from the same start."""
import streamlit as st

from playground.compare import compare_configs, config_diff
from playground.config import RunConfig
from playground.errors import PlaygroundError
from playground.seeds import MAX_SEEDS, seed_configs
from playground.train import REGISTRY
from ui.compare import ORDER, PRESETS, frame_to_variants, live_compare, variant_editor, variants_to_frame
from ui.run_form import build_config
from ui.state import keep, may_act, who

st.title("Compare")
st.caption("Race 2 to 6 variants of one run, live: what differs is only what you change.")
REGISTRY.warm(5, together=True)   # a worker process per variant, started before the user presses Race


def load(preset: str, race: bool = False) -> None:
    p = PRESETS[preset]
    s = st.session_state
    s.cmp_base, s.cmp_title, s.cmp_about = p["base"], p["title"], p["about"]
    s.cmp_df = variants_to_frame(p["variants"])
    s.cmp_seeds = int(p.get("seeds", 1))
    s.cmp_ver = s.get("cmp_ver", 0) + 1                 # a fresh editor for the new table
    if race:
        start(frame_to_variants(s.cmp_df))


def start(variants: list[dict]) -> None:
    """Race the variants, once per seed where the seeds ask for more than one (a race per seed, queued for
    the training slots as one Start)."""
    s = st.session_state
    s.cmp_error = None
    seeds = int(s.get("cmp_seeds", 1))
    try:
        configs = compare_configs({"base": s.cmp_base, "variants": variants, "seeds": seeds})
        if seeds == 1:
            s.cmp_groups = [REGISTRY.start_group(configs, owner=who())]
        else:
            s.cmp_groups = REGISTRY.start_series(seed_configs(configs, seeds), owner=who())
        s.cmp_names = [c.name for c in configs]
        s.cmp_group = s.cmp_groups[0]
    except PlaygroundError as e:
        s.cmp_error = str(e)


def base_from_build() -> None:
    s = st.session_state
    try:
        base = build_config().to_dict()
    except PlaygroundError as e:
        s.cmp_error = f"Build & Train's run cannot be a base: {e}"
        return
    base.pop("name")
    s.cmp_base, s.cmp_title, s.cmp_about = base, "Your run from Build & Train", "Edit the variants below."
    s.cmp_error = None


if "cmp_base" not in st.session_state:
    load("optimizers")
keep({"cmp_seeds": 1})                   # a number input forgets its value on pages that do not draw it

st.markdown("**Presets** (one click: load and race)")
cols = st.columns(len(ORDER))
for col, name in zip(cols, ORDER):
    col.button(PRESETS[name]["title"], key=f"preset_{name}", on_click=load, args=(name, True), width="stretch",
               icon=":material/play_arrow:")

s = st.session_state
st.header(s.cmp_title)
st.caption(s.cmp_about)
with st.expander("Base run", icon=":material/tune:"):
    b = s.cmp_base
    o = b.get("optim", {})
    st.markdown(f"data **{b['data']['name']}** · {len(b['layers'])} layers "
                f"({', '.join(layer['type'] for layer in b['layers'])}) · optimizer **{o.get('name', 'adam')}** lr "
                f"**{o.get('lr', 0.01):g}** · batch **{b.get('batch_size', 32)}** · **{b.get('epochs', 20)}** epochs "
                f"· seed **{b.get('seed', 0)}**")
    st.button("Use the data and network from Build & Train as the base", on_click=base_from_build,
              icon=":material/input:")

edited = variant_editor(s.cmp_df, key=f"cmp_editor_{s.get('cmp_ver', 0)}")
with st.expander("What each variant changes from the base", icon=":material/difference:"):
    try:
        base = RunConfig.from_dict(s.cmp_base).to_dict()
        for c in compare_configs({"base": s.cmp_base, "variants": frame_to_variants(edited),
                                  "seeds": int(s.get("cmp_seeds", 1))}):
            changes = [f"{r['what']}: {'–' if r['a'] is None else r['a']} → {'–' if r['b'] is None else r['b']}"
                       for r in config_diff(base, c.to_dict())]
            st.markdown(f"**{c.name}**: " + ("; ".join(f"`{x}`" for x in changes) if changes else "the base as it is"))
    except PlaygroundError as e:
        st.caption(str(e))
st.info(f"Every variant starts from the **same initial weights** and sees the **same data in the same order** "
        f"(seed {s.cmp_base.get('seed', 0)}), so the curves differ only by what a row changes. Empty cells keep "
        f"the base's value. Variants train at once, one process each, sharing this machine's cores: compare "
        f"wall-clock time between variants, not with a solo run.", icon=":material/balance:")
a, b2, c2, _ = st.columns([1, 1, 1.3, 2.7], vertical_alignment="bottom")
c2.number_input("Seeds", 1, MAX_SEEDS, key="cmp_seeds",
                help="Train every variant once per seed (the base's seed, +1, ...). For one seed all variants start "
                     "from the same weights and see the same data in the same order, so each seed pairs them: the "
                     "table then says whether a difference is larger than what the seed alone does. 1: one race.")
if a.button("Race", type="primary", icon=":material/flag:", width="stretch"):
    s.cmp_df = edited
    start(frame_to_variants(edited))
groups = s.get("cmp_groups") or ([s.cmp_group] if s.get("cmp_group") else [])
running = [r for gid in groups for r in REGISTRY.group(gid) if r is not None and r.alive and may_act(r)]
b2.button("Stop all", icon=":material/stop:", disabled=not running, width="stretch",
          on_click=lambda: [REGISTRY.stop(r.id, who()) for r in running])
if s.get("cmp_error"):
    st.error(s.cmp_error)
live_compare(groups, s.get("cmp_names"))
