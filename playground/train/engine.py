"""One run: prepare data, model and optimizer from a RunConfig, then train, recording metrics.

The hot loop does per step only what a bare PyTorch loop does, plus appending the detached loss to
a list and reading the clock; syncs (.tolist()), NaN checks, locks and the decision-boundary grid
happen at most every `publish_every` seconds and at epoch ends.
"""
from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
import uuid

import torch

from playground.config import RunConfig
from playground.data import Dataset, load_dataset
from playground.data.augment import make_augment
from playground.device import resolve_device
from playground.errors import ConfigError, PlaygroundError
from playground.models.budget import check_budget
from playground.models.build import build_model
from playground.models.init import apply_init
from playground.models.blocks import Latent
from playground.models.layers import Dropout
from playground.train.tasks import LONG_NAMES, Task, make_task
from playground.train.history import History
from playground.train.probe import Probe
from playground.store import policy
from playground.train.advice import divergence_advice
from playground.train.optim import make_optimizer, make_scheduler

log = logging.getLogger(__name__)
EVAL_BATCH = 1024
GRID = 70                       # decision-boundary grid resolution for 2-D data
BLOWUP = 100.0                  # a loss above BLOWUP x max(first loss, 1), or NaN/inf, is divergence
BOUNDARY_EVERY = 0.25           # seconds between decision-boundary grids (and one at the end)
CHECKPOINT_EVERY = 2.0          # seconds between checkpoints at epoch ends (and one where a run ends)


def check_device(config: RunConfig) -> torch.device:
    """The device the config asks for, if present and fit for its settings (raises otherwise)."""
    device = resolve_device(config.device)
    if config.amp and device.type != "cuda":
        raise ConfigError(f"amp: mixed precision runs on CUDA only, and this run's device is "
                          f"{device.type}; switch mixed precision off")
    return device


def check(config: RunConfig, data: Dataset | None = None):
    """Validate config against its data and this machine's memory: (dataset, rows). Raises
    PlaygroundError with the fix. Builds the network on the meta device: nothing is allocated."""
    data, _, _, rows = _checked_model(config, data, device="meta")
    return data, rows


def checked_rows(config: RunConfig, data: Dataset, device: str | None = "meta"):
    """(task, model, rows): the network built for data (on the meta device: nothing allocated) and
    checked against what its task needs at the end. Raises PlaygroundError with the fix."""
    task = make_task(config, data)
    model, rows = build_model(config.layers, data.input_shape, None, device=device, vocab=data.vocab)
    task.check_output(rows)
    return task, model, rows


def _checked_model(config: RunConfig, data: Dataset | None, device: str | None = None):
    """check(), also returning the task and the model it built (default init), so prepare() need not
    build twice: (data, task, model, rows). The network is checked on the meta device before the
    memory budget, and built for real only after it."""
    config.validate()
    data = data if data is not None else load_dataset(config.data, config.seed)
    if len(data.X_train) < 1 or len(data.X_val) < 1:
        raise ConfigError(f"data: {len(data.X_train)} training / {len(data.X_val)} validation samples are too few; "
                          f"lower the validation share or use more samples")
    task, model, rows = checked_rows(config, data)
    check_budget(config, data.input_shape, None, len(data.X_train), n_val=len(data.X_val), vocab=data.vocab)
    if device != "meta":
        model, rows = build_model(config.layers, data.input_shape, None, device=device, vocab=data.vocab)
    if config.batch_size == 1 and any(l["type"] == "BatchNorm" for l in config.layers):
        raise ConfigError("batch_size: BatchNorm needs at least 2 samples per batch to compute batch statistics; "
                          "set batch_size to 2 or more, or remove the BatchNorm layers")
    return data, task, model, rows


def default_name(config: RunConfig) -> str:
    return f"{config.data.name} · {config.optim.name} · lr {config.optim.lr:g}"


def _cpu_copy(obj):
    """A deep copy of a (nested) state dict with every tensor copied to the CPU."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu", copy=True)
    if isinstance(obj, dict):
        return {k: _cpu_copy(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_cpu_copy(v) for v in obj)
    return obj


# Schedules planned over the run's total length: resuming with another total re-plans them.
TOTAL_DEPENDENT = ("cosine", "onecycle")


def _check_resumable(cfg: RunConfig, ckpt: dict) -> None:
    p = ckpt["position"]
    if p.get("batch_size", cfg.batch_size) != cfg.batch_size or p.get("schedule", cfg.schedule.name) != cfg.schedule.name:
        raise ConfigError("resume: the checkpoint was taken with another batch size or schedule; only the number "
                          "of epochs may change when a run resumes")
    if cfg.epochs < p["epoch"] - (1 if p["pos"] == 0 else 0):
        raise ConfigError(f"resume: the run has already trained {p['epoch'] - 1} epochs; "
                          f"give a total of at least {p['epoch'] - (1 if p['pos'] == 0 else 0)} epochs")


def _restore_optimizer(ckpt: dict, opt, sched, new_sched, cfg: RunConfig, hist: History):
    """Load the optimizer (and scheduler) state of a checkpoint; returns the scheduler to use.

    The scheduler is built before the optimizer state is loaded, because building one sets the
    learning rate to its first value. A schedule planned over the total length (cosine, one-cycle)
    whose total changed (train N more epochs) is re-planned: a fresh one stepped to the current step.
    """
    p = ckpt["position"]
    opt.load_state_dict(ckpt["optimizer"])
    if sched is None:
        return None
    if cfg.schedule.name in TOTAL_DEPENDENT and p["epochs_total"] != cfg.epochs:
        import warnings

        for g in opt.param_groups:              # back to the base rate: cosine's steps are relative
            g["lr"] = g.get("initial_lr", g["lr"])
        sched = new_sched()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")                 # "lr_scheduler.step() before optimizer.step()"
            for _ in range(p["step"]):
                sched.step()
        hist.update(note=f"the {cfg.schedule.name} schedule was re-planned over {cfg.epochs} epochs when the run "
                         f"was extended (it had been planned over {p['epochs_total']})")
        return sched
    if ckpt.get("scheduler") is not None:
        sched.load_state_dict(ckpt["scheduler"])
    return sched


CURVE_POINTS = 200              # 1-D inputs: points on the fitted curve


@torch.no_grad()
def decision_grid(model: torch.nn.Module, data: Dataset, device, task: Task) -> dict | None:
    """What the model predicts over the input space of low-dimensional data, for the live picture.

    2-D inputs: a GRID x GRID lattice covering the data, {"xs", "ys", "p", "at"}; p is P(class 1) for
    classification, the prediction for regression. 1-D inputs: {"xs", "pred", "at"} on CURVE_POINTS
    points (the task's grid_values of the outputs). None for a task with no such picture (an autoencoder
    of 2-D points)."""
    if not task.pictured:
        return None
    X = torch.cat([data.X_train, data.X_val])
    lo, hi = X.min(0).values, X.max(0).values
    pad = (hi - lo) * 0.08
    was_training = model.training
    model.eval()
    try:
        if X.shape[1] == 1:
            xs = torch.linspace(float(lo[0] - pad[0]), float(hi[0] + pad[0]), CURVE_POINTS)
            pred = task.grid_values(model(xs[:, None].to(device)).float()).cpu()
            return {"xs": xs.tolist(), "pred": pred.nan_to_num(0.0).tolist(), "at": time.time()}
        xs = torch.linspace(float(lo[0] - pad[0]), float(hi[0] + pad[0]), GRID)
        ys = torch.linspace(float(lo[1] - pad[1]), float(hi[1] + pad[1]), GRID)
        gx, gy = torch.meshgrid(xs, ys, indexing="xy")                 # (GRID, GRID): rows follow y
        pts = torch.stack([gx.reshape(-1), gy.reshape(-1)], 1).to(device)
        p = task.grid_values(model(pts).float()).reshape(GRID, GRID).cpu()
    finally:
        model.train(was_training)
    return {"xs": xs.tolist(), "ys": ys.tolist(), "p": p.nan_to_num(0.5).tolist(), "at": time.time()}


class _EarlyStop:
    """Early stopping on the validation loss: remembers the best epoch's weights (a CPU copy)."""

    def __init__(self, patience: int):
        self.patience, self.best, self.best_epoch, self.best_state = patience, math.inf, 0, None

    def update(self, epoch: int, val_loss: float, model: torch.nn.Module) -> bool:
        """Record an epoch's validation loss; True when the run should stop."""
        if val_loss < self.best:
            self.best, self.best_epoch, self.best_state = val_loss, epoch, _cpu_copy(model.state_dict())
            return False
        return epoch - self.best_epoch >= self.patience

    def state(self) -> dict:
        return {"best": self.best, "best_epoch": self.best_epoch, "best_state": self.best_state}

    def load(self, state: dict) -> None:
        self.best, self.best_epoch, self.best_state = state["best"], state["best_epoch"], state["best_state"]



def reported(history: History, train, log_name: str = "the server log") -> None:
    """train(); however it ends, the history says so: a PlaygroundError's message, or an internal
    error (logged with its traceback) named for the page. Whatever trains a run elsewhere (a
    thread, a worker process, a Ray actor) must always leave a status the page can show."""
    try:
        train()
    except PlaygroundError as e:
        history.update(status="failed", message=str(e))
    except Exception as e:
        log.exception("a run crashed")
        history.update(status="failed", message=f"internal error ({type(e).__name__}: {e}); "
                                                 f"see {log_name} for the traceback")


class Run:
    """Train one RunConfig. `start()` trains in a daemon thread; `run()` trains in the caller's.

    A run can resume from a checkpoint (see `checkpoint` in _train): prepare(checkpoint=...) and the
    loop continues at the exact step it was taken, with the same numbers as if it never stopped.
    """

    def __init__(self, config: RunConfig, run_id: str | None = None, publish_every: float = 0.1,
                 history: History | None = None, snapshot_budget: int = policy.BUDGET):
        self.config = config
        self.id = run_id or uuid.uuid4().hex[:8]
        self.name = config.name or default_name(config)
        self.history = history or History()
        self.publish_every = publish_every
        self.snapshot_budget = snapshot_budget
        self.device: torch.device | None = None
        self.data: Dataset | None = None
        self.model: torch.nn.Module | None = None
        self.rows = None
        self._stop = threading.Event()
        self.steps = 0                         # steps taken so far (what a Stop is measured against)
        self._thread: threading.Thread | None = None
        self._blowup: float | None = None      # loss threshold for divergence, set from the first loss
        self._resume: dict | None = None       # the checkpoint to continue from, if any

    # ----------------------------------------------------------------- lifecycle
    def prepare(self, data: Dataset | None = None, checkpoint: dict | None = None) -> None:
        """Resolve the device, load data (unless given), build and initialise the model, or load
        it from checkpoint. Raises PlaygroundError."""
        cfg = self.config
        self.data, self.task, model, self.rows = _checked_model(cfg, data)
        self.device = check_device(cfg)
        apply_init(model, cfg.init, torch.Generator().manual_seed(cfg.seed))
        self._dropout_gen = torch.Generator(self.device).manual_seed(cfg.seed + 2)
        if checkpoint is not None:
            _check_resumable(cfg, checkpoint)
            model.load_state_dict(checkpoint["model"])
            self._dropout_gen.set_state(checkpoint["rng"]["dropout"])
            self._blowup = checkpoint["position"]["blowup"]
            self._resume = checkpoint
        self.model = model.to(self.device)
        for m in self.model.modules():
            if isinstance(m, (Dropout, Latent)):
                m.generator = self._dropout_gen
        self.task.prepare(self.model, self.device)
        self.optimizer = make_optimizer(cfg.optim, self.model.parameters())

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run_guarded, name=f"run-{self.id}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Ask the loop to stop after the current step; returns at once."""
        self._stop.set()

    def join(self, timeout: float | None = None) -> bool:
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def run(self) -> dict:
        """Prepare (if needed) and train in this thread; returns `result()`."""
        torch.set_num_threads(self.config.threads)
        if self.model is None:
            self.prepare()
        self._train()
        return self.result()

    def _run_guarded(self) -> None:
        reported(self.history, self.run)


    # ----------------------------------------------------------------- training
    def _train(self) -> None:
        cfg, dev, model, opt, task = self.config, self.device, self.model, self.optimizer, self.task
        X, y = self.data.X_train.to(dev), self.data.y_train.to(dev)
        n, bs, epochs = len(X), cfg.batch_size, cfg.epochs
        if n % bs == 1 and any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules()):
            n -= 1                    # a last batch of one sample has no batch statistics: drop that sample
        steps_per_epoch = math.ceil(n / bs)
        order = torch.Generator().manual_seed(cfg.seed + 1)         # data order, independent of init
        amp_dtype = None
        if cfg.amp:
            amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        scaler = torch.amp.GradScaler("cuda") if amp_dtype == torch.float16 else None
        sched = make_scheduler(cfg.schedule, opt, steps_per_epoch, epochs)
        autocast = (lambda: torch.autocast("cuda", dtype=amp_dtype)) if amp_dtype else contextlib.nullcontext
        snap_at = set(policy.plan(epochs, self.snapshot_budget))
        l1, clip = cfg.l1, cfg.clip_norm
        l1_params = [p for p in model.parameters() if p.dim() > 1] if l1 else []   # weights, not biases
        params = list(model.parameters())
        early = _EarlyStop(cfg.patience) if cfg.patience else None
        augment = make_augment(cfg.data.augment, cfg.seed, self.data)   # per-sample, seeded by (seed, step); or None
        self._probe = probe = Probe(model, [l["type"] for l in cfg.layers], X, y, task, cfg.seed) if cfg.stats else None
        probe_at = snap_at | {epochs}                               # epochs whose last step the probe sees

        hist = self.history
        resume, first_epoch, pos = self._resume, 1, 0
        step, samples, elapsed0 = 0, 0, 0.0
        if resume is not None:
            p = resume["position"]
            first_epoch, pos, step, samples, elapsed0 = p["epoch"], p["pos"], p["step"], p["samples"], p["elapsed"]
            sched = _restore_optimizer(resume, opt, sched, lambda: make_scheduler(cfg.schedule, opt, steps_per_epoch,
                                                                                 epochs), cfg, hist)
            if scaler is not None and resume.get("scaler"):
                scaler.load_state_dict(resume["scaler"])
            order.set_state(resume["rng"]["order"])
            if early is not None and resume.get("early"):
                early.load(resume["early"])
            self._resume = None
        elif 0 in snap_at:
            self._snapshot(0, 0, False)                             # the initial weights
        hist.update(status="running", progress={"epochs": epochs, "steps": epochs * steps_per_epoch})
        t_start = time.perf_counter() - elapsed0
        next_pub = time.perf_counter()                              # publish the very first step at once
        next_ckpt = time.perf_counter() + CHECKPOINT_EVERY
        pending: list[torch.Tensor] = []                            # detached losses since last publish
        model.train()
        for epoch in range(first_epoch, epochs + 1):
            epoch_order = order.get_state()                         # to redraw this epoch's order on resume
            perm = torch.randperm(len(X), generator=order)[:n].to(dev)   # same order as without BatchNorm
            loss_sum = torch.zeros((), device=dev)
            sums = 0                                                # the task's detached per-step sums
            if resume is not None and epoch == first_epoch and pos:
                loss_sum += resume["acc"]["loss_sum"].to(dev)
                sums = resume["acc"].get("sums", resume["acc"].get("correct")).to(dev)
            start_i, pos, nxt = pos, 0, n
            for i in range(start_i, n, bs):
                idx = perm[i:i + bs]
                xb, yb = X[idx], y[idx]                             # (B, ...) and (B, ...)
                xt = xb
                if augment is not None:                             # training batches only: (B, C, H, W) twice,
                    xt, xb = augment.pair(xb, step)                 # transformed, and + noise/erasing (the input)
                target = task.target(xt, yb)                        # an autoencoder's target: xt, without the noise
                with autocast():
                    out = model(xb)                                 # (B, ...) what the task scores
                    loss = task.loss(out, target, model)
                    total = loss + l1 * sum(p.abs().sum() for p in l1_params) if l1 else loss
                opt.zero_grad(set_to_none=True)
                before = probe.before_step() if probe is not None and i + bs >= n and epoch in probe_at else None
                if scaler is not None:
                    scaler.scale(total).backward()
                    if clip:
                        scaler.unscale_(opt)
                        torch.nn.utils.clip_grad_norm_(params, clip)
                    scaler.step(opt)
                    scaler.update()
                else:
                    total.backward()
                    if clip:
                        torch.nn.utils.clip_grad_norm_(params, clip)
                    opt.step()
                if before is not None:
                    probe.after_step(before)                        # the update ratio of the epoch's last step
                if sched is not None:
                    sched.step()
                loss = loss.detach()                                # the task's loss, without the L1 term
                pending.append(loss)
                loss_sum += loss
                sums = sums + task.step_sums(out, target, loss)
                step += 1
                self.steps = step
                samples += len(idx)
                if self._stop.is_set():
                    nxt = i + bs
                    break
                if time.perf_counter() >= next_pub:
                    if not self._publish(pending, step, samples, epoch, t_start):
                        return
                    pending = []
                    next_pub = time.perf_counter() + self.publish_every
            completed = nxt >= n
            stopping = self._stop.is_set()
            last = epoch == epochs or stopping
            if not self._publish(pending, step, samples, epoch, t_start, boundary=last):
                return
            pending = []
            steps_done = step - (epoch - 1) * steps_per_epoch
            val = self.evaluate(self.data.X_val, self.data.y_val)
            val_loss = val["loss"]
            sums_t = sums if isinstance(sums, torch.Tensor) else torch.zeros(())
            record = {"epoch": epoch, "train_loss": loss_sum.item() / max(steps_done, 1),
                      **{f"train_{k}": v for k, v in task.train_metrics(
                          sums_t, steps_done, min(n, steps_done * bs)).items()},
                      **{f"val_{k}": v for k, v in val.items()}, "lr": opt.param_groups[0]["lr"],
                      "time_s": time.perf_counter() - t_start, "samples": samples, "step": step}
            if not completed:
                record["partial"] = True
            stop_early = early is not None and completed and math.isfinite(val_loss) and early.update(
                epoch, val_loss, model)
            if stop_early:                                          # the record says where the weights came from
                record["restored_epoch"] = early.best_epoch
            hist.add_epoch(record)
            if not math.isfinite(val_loss):
                self._diverged(step, epoch, f"the validation loss reached {val_loss:.3g}")
                return
            if stop_early:
                model.load_state_dict(early.best_state)
                if probe is not None:
                    probe.ratios = None                             # that step's update is not these weights'
                last = True
                if self.data.kind in ("points", "curve"):
                    hist.update(boundary=self.decision_grid())
            if completed and epoch in snap_at and not stop_early:
                self._snapshot(epoch, step, False)
            elif last:                                              # the final weights, wherever it ended
                self._snapshot(epoch, step, not completed)
            if last or time.perf_counter() >= next_ckpt:
                t0 = time.perf_counter()
                if completed:                                       # resume at the next epoch's start
                    at = dict(epoch=epoch + 1, pos=0, order_state=order.get_state(),
                              loss_sum=torch.zeros(()), sums=torch.zeros(()))
                else:                                               # resume inside this epoch
                    at = dict(epoch=epoch, pos=nxt, order_state=epoch_order, loss_sum=loss_sum, sums=sums_t)
                ckpt = self.checkpoint(step=step, samples=samples, elapsed=time.perf_counter() - t_start,
                                       sched=sched, scaler=scaler, **at)
                if early is not None:
                    ckpt["early"] = early.state()
                hist.add_checkpoint(ckpt)
                cost = time.perf_counter() - t0                     # keep checkpoints under ~5% of the time
                next_ckpt = time.perf_counter() + max(CHECKPOINT_EVERY, 20 * cost)
            if stopping:
                where = f"in epoch {epoch} (step {step})" if not completed else f"after epoch {epoch} (step {step})"
                hist.update(status="stopped", message=f"stopped by the user {where}")
                return
            if stop_early:
                b = early.best_epoch
                hist.update(status="finished", message=(
                    f"stopped early after epoch {epoch}: the validation loss had not improved for {early.patience} "
                    f"epochs; the weights were restored to epoch {b}'s (validation loss {early.best:.4g})"))
                return
        hist.update(status="finished", message=f"finished {epochs} epoch{'' if epochs == 1 else 's'} in "
                                                  f"{time.perf_counter() - t_start:.1f} s")

    def checkpoint(self, epoch: int, pos: int, order_state: torch.Tensor, loss_sum: torch.Tensor,
                   sums: torch.Tensor, step: int, samples: int, elapsed: float, sched=None, scaler=None) -> dict:
        """Everything a resume needs, as CPU copies: model, optimizer, scheduler and scaler states, the
        data-order generator's state at the start of the epoch in progress and the position in it,
        the dropout generator, the epoch's running sums, and the counters."""
        return {
            "model": _cpu_copy(self.model.state_dict()),
            "optimizer": _cpu_copy(self.optimizer.state_dict()),
            "scheduler": sched.state_dict() if sched is not None else None,
            "scaler": scaler.state_dict() if scaler is not None else None,
            "rng": {"order": order_state.clone(), "dropout": self._dropout_gen.get_state().clone()},
            "acc": {"loss_sum": loss_sum.detach().to("cpu", copy=True),
                    "sums": sums.detach().to("cpu", copy=True)},
            "position": {"epoch": epoch, "pos": pos, "step": step, "samples": samples, "elapsed": elapsed,
                         "blowup": self._blowup, "epochs_total": self.config.epochs,
                         "schedule": self.config.schedule.name, "batch_size": self.config.batch_size},
        }

    def _snapshot(self, epoch: int, step: int, partial: bool) -> None:
        self.history.add_snapshot(epoch, step, partial, _cpu_copy(self.model.state_dict()))
        if getattr(self, "_probe", None) is not None:
            if partial:
                self._probe.ratios = None                           # a Stop: the last step was not planned for
            self.history.add_stats(self._probe.measure(epoch, step, self._dropout_gen))

    def _publish(self, pending, step, samples, epoch, t_start, boundary=False) -> bool:
        """Sync pending losses to the history; False (and status 'diverged') on a NaN/inf loss."""
        first = step - len(pending) + 1
        losses = torch.stack(pending).float().tolist() if pending else []
        if losses and self._blowup is None:
            self._blowup = BLOWUP * max(losses[0], 1.0)
        bad = next((k for k, v in enumerate(losses) if not v <= self._blowup), None)   # NaN fails <=
        if bad is not None:
            what = f"the training loss reached {losses[bad]:.3g}"
            losses = losses[:bad]
        self.history.add_steps(first, losses)
        elapsed = time.perf_counter() - t_start
        total = self.history.progress["steps"]
        rate = samples / elapsed if elapsed > 0 else 0.0
        eta = elapsed * (total - step) / step if step else None
        fields = {"progress": {"epoch": epoch, "step": step, "samples": samples, "samples_per_s": rate,
                               "elapsed_s": elapsed, "eta_s": eta}}
        if self.data.kind in ("points", "curve") and (boundary or self.history.boundary is None
                                           or time.time() - self.history.boundary["at"] > BOUNDARY_EVERY):
            fields["boundary"] = self.decision_grid()
        self.history.update(**fields)
        self.history.add_mark((step, samples, elapsed, self.optimizer.param_groups[0]["lr"]))
        if bad is not None:
            self._diverged(first + bad, epoch, what)
            return False
        return True

    def _diverged(self, step: int, epoch: int, what: str) -> None:
        self.history.update(status="diverged", diverged_at=step, message=(
            f"Diverged: {what} at step {step} (epoch {epoch}), so training stopped "
            f"(the limit is NaN/inf or {BLOWUP:g}x the starting loss). {divergence_advice(self.config)}"))

    def weights(self) -> dict | None:
        """CPU copy of the state dict at the latest snapshot or checkpoint (the final weights once the
        run has ended), for inspectors; None before the run has started."""
        return self.history.weights()

    # ----------------------------------------------------------------- evaluation
    def evaluate(self, X: torch.Tensor, y: torch.Tensor) -> dict:
        """{"loss", and the task's metrics} of the current model on X, y, in eval mode."""
        return self.task.evaluate(self.model, X, y, self.device)

    def decision_grid(self) -> dict:
        return decision_grid(self.model, self.data, self.device, self.task)

    # ----------------------------------------------------------------- summary
    def result(self) -> dict:
        """The summary the CLI prints last: status, epochs, losses, accuracy, samples/s."""
        return result_of(self.history.snapshot(), getattr(self, "task", None))


def result_of(snap: dict, task: Task | None) -> dict:
    """A run's summary from its history's snapshot(): status, epochs, losses, accuracy, samples/s."""
    last = snap["epochs"][-1] if snap["epochs"] else {}
    out = {"status": snap["status"], "message": snap["message"], "epochs": len(snap["epochs"]),
           "task": task.name if task is not None else None,
           "train_loss": last.get("train_loss"), "train_accuracy": last.get("train_acc"),
           "val_loss": last.get("val_loss"), "val_accuracy": last.get("val_acc")}
    for key, value in last.items():                     # the task's metrics: val_r2, val_token_accuracy, ...
        split, _, metric = key.partition("_")
        if split in ("train", "val") and metric not in ("loss", "acc", "epoch"):
            out[f"{split}_{LONG_NAMES.get(metric, metric)}"] = value
    out.update({"samples_per_s": round(snap["progress"]["samples_per_s"], 1),
                "steps": snap["progress"]["step"], "time_s": round(snap["progress"]["elapsed_s"], 3),
                "diverged_at": snap["diverged_at"]})
    if "restored_epoch" in last:
        out["stopped_early_at"], out["restored_epoch"] = last["epoch"], last["restored_epoch"]
    return out
