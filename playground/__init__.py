"""Training Playground's engine, importable without Streamlit; importing it starts no process or thread.

Packages, each importing only those before it: config (a run's dataclass config), data (the data
sets), models (layer specs -> modules, shapes, presets, initialisation, the memory budget), store
(runs, metrics and weight snapshots on disk), train (a run checked once, the Trainer, where runs
train, the registry, frozen models), then inspect (views as arrays), export, viz (figure builders),
compare, and the headless CLI (__main__).
"""
__version__ = "0.1.0"
