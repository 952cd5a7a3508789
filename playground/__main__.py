"""Headless CLI: python -m playground {train,check,compare,bench,datasets} ...

train CONFIG   trains the run the config (JSON or YAML) describes; a progress line per epoch, then
               one JSON object as the last line of stdout.
check CONFIG   prints the layer / shape / parameter table, or the error and its fix.
compare CONFIG races a base run's variants at once; one JSON object per variant as the last lines.
bench          measures the engine against a bare PyTorch loop (prints figures; not a test).
datasets       lists the data sets.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

from playground.errors import PlaygroundError


def _load(args):
    from playground.config import RunConfig, read_mapping

    from playground.errors import ConfigError

    d = read_mapping(args.config)
    if not isinstance(d, dict):
        raise ConfigError(f"config file '{args.config}' must hold a mapping of fields (data, layers, optim, ...), "
                          f"not a {type(d).__name__}; see examples/")
    overrides = {"epochs": args.epochs, "device": args.device, "seed": args.seed}
    d = dict(d)
    d.update({k: v for k, v in overrides.items() if v is not None})
    return RunConfig.from_dict(d)


def cmd_check(args) -> int:
    from playground.models.build import shape_text
    from playground.train import check

    cfg = _load(args)
    data, rows = check(cfg)
    print(f"data: {cfg.data.name}  input {shape_text(data.input_shape)}  {data.num_classes} classes  "
          f"{len(data.X_train)} train / {len(data.X_val)} validation")
    print(f"{'#':>3}  {'layer':<10} {'arguments':<50} {'output':<18} {'params':>9}")
    for r in rows:
        print(f"{r.index:>3}  {r.type:<10} {r.args:<50} {shape_text(r.out_shape):<18} {r.params:>9,}")
    print(f"total parameters: {sum(r.params for r in rows):,}")
    return 0


def cmd_train(args) -> int:
    from playground.device import describe
    from playground.train import Run

    cfg = _load(args)
    run = Run(cfg, publish_every=0.5)
    run.prepare()
    print(f"training {run.name} on {describe(run.device)}: {len(run.data.X_train)} samples, "
          f"{cfg.epochs} epochs, batch {cfg.batch_size}", flush=True)
    run.start()
    shown = 0
    try:
        while run.alive or shown < len(run.history.epochs):
            epochs = run.history.snapshot()["epochs"]
            for e in epochs[shown:]:
                print(f"epoch {e['epoch']:>3}/{cfg.epochs}  train loss {e['train_loss']:.4f}  acc {e['train_acc']:.3f}  "
                      f"val loss {e['val_loss']:.4f}  acc {e['val_acc']:.3f}  lr {e['lr']:.3g}  "
                      f"{e['time_s']:.1f} s", flush=True)
            shown = len(epochs)
            time.sleep(0.05)
    except KeyboardInterrupt:
        run.stop()
        run.join()
    result = run.result()
    if result["status"] in ("diverged", "failed"):
        print(result["message"], file=sys.stderr)
    print(json.dumps(result), flush=True)
    return 0 if result["status"] in ("finished", "stopped") else 1


def cmd_compare(args) -> int:
    from playground.compare import load_compare
    from playground.train.registry import Registry

    configs = load_compare(args.config)
    if args.epochs is not None:
        for c in configs:
            c.epochs = args.epochs
            c.validate()
    reg = Registry(max_active=len(configs), processes=True)
    print(f"racing {len(configs)} variants at once (same seed {configs[0].seed}: same initial weights, "
          f"same data order): {', '.join(c.name for c in configs)}", flush=True)
    gid = reg.start_group(configs, publish_every=0.5)
    runs = reg.group(gid)
    try:
        pending = list(runs)
        while pending:
            for run in [r for r in pending if r.join(0.05)]:
                res = run.result()
                print(f"{run.name}: {res['status']} after {res['epochs']} epochs, val loss "
                      f"{res['val_loss'] if res['val_loss'] is None else round(res['val_loss'], 4)}, val acc "
                      f"{res['val_accuracy'] if res['val_accuracy'] is None else round(res['val_accuracy'], 4)}",
                      flush=True)
                pending.remove(run)
    except KeyboardInterrupt:
        for run in runs:
            run.stop()
        for run in runs:
            run.join()
    finally:
        reg.pool.close()
    for run in runs:
        print(json.dumps({"name": run.name, **run.result()}), flush=True)
    return 0 if all(r.result()["status"] in ("finished", "stopped", "diverged") for r in runs) else 1


def cmd_datasets(args) -> int:
    from playground.data import DATASETS

    for name, spec in DATASETS.items():
        print(f"{name:<14} {spec.kind:<7} {'offline' if spec.offline else 'files/online':<13} {spec.about}")
    return 0


def cmd_bench(args) -> int:
    from playground.train import bench

    bench.main(quick=args.quick)
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m playground", description="Training Playground, headless.")
    sub = p.add_subparsers(dest="cmd", required=True)
    for name, fn, text in [("train", cmd_train, "train the run a config file describes"),
                           ("check", cmd_check, "print the layer/shape/parameter table of a config")]:
        s = sub.add_parser(name, help=text)
        s.add_argument("config", help="path to a .json or .yaml run config (see examples/)")
        s.add_argument("--epochs", type=int, help="override the config's epochs")
        s.add_argument("--device", help="override the config's device (auto, cpu, cuda, mps)")
        s.add_argument("--seed", type=int, help="override the config's seed")
        s.set_defaults(fn=fn)
    s = sub.add_parser("compare", help="race the variants of a compare config side by side")
    s.add_argument("config", help="path to a compare config: base + variants (see examples/compare/)")
    s.add_argument("--epochs", type=int, help="override every variant's epochs")
    s.set_defaults(fn=cmd_compare)
    s = sub.add_parser("bench", help="engine vs bare PyTorch loop, concurrency, busy neighbour")
    s.add_argument("--quick", action="store_true", help="shorter runs (noisier figures)")
    s.set_defaults(fn=cmd_bench)
    sub.add_parser("datasets", help="list the data sets").set_defaults(fn=cmd_datasets)
    args = p.parse_args(argv)
    try:
        return args.fn(args)
    except PlaygroundError as e:
        print(f"error: {e}", file=sys.stderr)
        if args.cmd in ("train", "compare"):
            print(json.dumps({"status": "failed", "message": str(e)}))
        return 2


if __name__ == "__main__":
    sys.exit(main())
