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
import torch.nn.functional as F

from playground.config import RunConfig
from playground.data import Dataset, load_dataset
from playground.device import resolve_device
from playground.errors import ConfigError, PlaygroundError
from playground.models.build import build_model
from playground.models.init import apply_init
from playground.models.layers import Dropout
from playground.train.history import History
from playground.train.optim import make_optimizer, make_scheduler

log = logging.getLogger(__name__)
EVAL_BATCH = 1024
GRID = 70                       # decision-boundary grid resolution for 2-D data
BLOWUP = 100.0                  # a loss above BLOWUP x max(first loss, 1), or NaN/inf, is divergence
BOUNDARY_EVERY = 0.25           # seconds between decision-boundary grids (and one at the end)
WEIGHTS_EVERY = 1.0             # seconds between weight snapshots at epoch ends (and one at the end)


def check_device(config: RunConfig) -> torch.device:
    """The device the config asks for, if present and fit for its settings (raises otherwise)."""
    device = resolve_device(config.device)
    if config.amp and device.type != "cuda":
        raise ConfigError(f"amp: mixed precision runs on CUDA only, and this run's device is "
                          f"{device.type}; switch mixed precision off")
    return device


def check(config: RunConfig, data: Dataset | None = None):
    """Validate config against its data: (dataset, rows). Raises PlaygroundError with the fix."""
    data, _, rows = _checked_model(config, data)
    return data, rows


def _checked_model(config: RunConfig, data: Dataset | None):
    """check(), also returning the model it built (default init) so prepare() need not build twice."""
    config.validate()
    data = data if data is not None else load_dataset(config.data, config.seed)
    if len(data.X_train) < 2 or len(data.X_val) < 1:
        raise ConfigError(f"data: {len(data.X_train)} training / {len(data.X_val)} validation samples are too few; "
                          f"lower the validation share or use more samples")
    model, rows = build_model(config.layers, data.input_shape, data.num_classes)
    if config.batch_size == 1 and any(l["type"] == "BatchNorm" for l in config.layers):
        raise ConfigError("batch_size: BatchNorm needs at least 2 samples per batch to compute batch statistics; "
                          "set batch_size to 2 or more, or remove the BatchNorm layers")
    return data, model, rows


class Run:
    """Train one RunConfig. `start()` trains in a daemon thread; `run()` trains in the caller's."""

    def __init__(self, config: RunConfig, run_id: str | None = None, publish_every: float = 0.1,
                 history: History | None = None):
        self.config = config
        self.id = run_id or uuid.uuid4().hex[:8]
        self.name = config.name or f"{config.data.name} · {config.optim.name} · lr {config.optim.lr:g}"
        self.history = history or History()
        self.owner: str | None = None          # who started it (a browser's token), for pickers and Stop
        self.publish_every = publish_every
        self.device: torch.device | None = None
        self.data: Dataset | None = None
        self.model: torch.nn.Module | None = None
        self.rows = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._weights_lock = threading.Lock()
        self._weights: dict | None = None     # CPU copy of the weights at the last epoch end
        self._blowup: float | None = None      # loss threshold for divergence, set from the first loss

    # ----------------------------------------------------------------- lifecycle
    def prepare(self, data: Dataset | None = None) -> None:
        """Resolve the device, load data (unless given), build and initialise the model.
        Raises PlaygroundError."""
        cfg = self.config
        self.data, model, self.rows = _checked_model(cfg, data)
        self.device = check_device(cfg)
        apply_init(model, cfg.init, torch.Generator().manual_seed(cfg.seed))
        self.model = model.to(self.device)
        self._dropout_gen = torch.Generator(self.device).manual_seed(cfg.seed + 2)
        for m in self.model.modules():
            if isinstance(m, Dropout):
                m.generator = self._dropout_gen
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
        try:
            self.run()
        except PlaygroundError as e:
            self.history.update(status="failed", message=str(e))
        except Exception as e:  # a worker thread must always leave a status the page can show
            log.exception("run %s crashed", self.id)
            self.history.update(status="failed", message=f"internal error ({type(e).__name__}: {e}); "
                                                         f"see the server log for the traceback")

    # ----------------------------------------------------------------- training
    def _train(self) -> None:
        cfg, dev, model, opt = self.config, self.device, self.model, self.optimizer
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

        hist = self.history
        hist.update(status="running", progress={"epochs": epochs, "steps": epochs * steps_per_epoch})
        t_start = time.perf_counter()
        next_pub = t_start                                          # publish the very first step at once
        next_weights = t_start
        step, samples = 0, 0
        pending: list[torch.Tensor] = []                            # detached losses since last publish
        model.train()
        for epoch in range(1, epochs + 1):
            perm = torch.randperm(len(X), generator=order)[:n].to(dev)   # same order as without BatchNorm
            loss_sum = torch.zeros((), device=dev)
            correct = torch.zeros((), dtype=torch.long, device=dev)
            for i in range(0, n, bs):
                idx = perm[i:i + bs]
                xb, yb = X[idx], y[idx]                             # (B, ...) and (B,)
                with autocast():
                    logits = model(xb)                              # (B, classes)
                    loss = F.cross_entropy(logits, yb)
                opt.zero_grad(set_to_none=True)
                if scaler is not None:
                    scaler.scale(loss).backward()
                    scaler.step(opt)
                    scaler.update()
                else:
                    loss.backward()
                    opt.step()
                if sched is not None:
                    sched.step()
                loss = loss.detach()
                pending.append(loss)
                loss_sum += loss
                correct += (logits.detach().argmax(1) == yb).sum()
                step += 1
                samples += len(idx)
                if self._stop.is_set():
                    break
                if time.perf_counter() >= next_pub:
                    if not self._publish(pending, step, samples, epoch, t_start):
                        return
                    pending = []
                    next_pub = time.perf_counter() + self.publish_every
            last = epoch == epochs or self._stop.is_set()
            if not self._publish(pending, step, samples, epoch, t_start, boundary=last):
                return
            pending = []
            steps_done = step - (epoch - 1) * steps_per_epoch
            val_loss, val_acc = self.evaluate(self.data.X_val, self.data.y_val)
            record = {"epoch": epoch, "train_loss": loss_sum.item() / max(steps_done, 1),
                      "train_acc": correct.item() / max(min(n, steps_done * bs), 1),
                      "val_loss": val_loss, "val_acc": val_acc, "lr": opt.param_groups[0]["lr"],
                      "time_s": time.perf_counter() - t_start, "samples": samples, "step": step}
            hist.add_epoch(record)
            if last or time.perf_counter() >= next_weights:
                self._keep_weights()
                next_weights = time.perf_counter() + WEIGHTS_EVERY
            if not math.isfinite(val_loss):
                self._diverged(step, epoch, f"the validation loss reached {val_loss:.3g}")
                return
            if self._stop.is_set():
                hist.update(status="stopped", message=f"stopped by the user in epoch {epoch} (step {step})")
                return
        hist.update(status="finished", message=f"finished {epochs} epochs in {time.perf_counter() - t_start:.1f} s")

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
        if self.data.kind == "points" and (boundary or self.history.boundary is None
                                           or time.time() - self.history.boundary["at"] > BOUNDARY_EVERY):
            fields["boundary"] = self.decision_grid()
        self.history.update(**fields)
        self.history.add_mark((step, samples, elapsed, self.optimizer.param_groups[0]["lr"]))
        if bad is not None:
            self._diverged(first + bad, epoch, what)
            return False
        return True

    def _diverged(self, step: int, epoch: int, what: str) -> None:
        lr = self.config.optim.lr
        self.history.update(status="diverged", diverged_at=step, message=(
            f"Diverged: {what} at step {step} (epoch {epoch}), so training stopped "
            f"(the limit is NaN/inf or {BLOWUP:g}x the starting loss). "
            f"The learning rate {lr:g} is probably too high for {self.config.optim.name}: try {lr / 10:g}"
            f"{' or add BatchNorm' if self.config.init == 'normal' else ''}."))

    def _keep_weights(self) -> None:
        state = {k: v.detach().to("cpu", copy=True) for k, v in self.model.state_dict().items()}
        with self._weights_lock:
            self._weights = state

    def weights(self) -> dict | None:
        """CPU copy of the state dict at a recent epoch end (at most WEIGHTS_EVERY s old while training,
        the final one after), for inspectors; None before the first epoch ends."""
        with self._weights_lock:
            return self._weights

    # ----------------------------------------------------------------- evaluation
    @torch.no_grad()
    def evaluate(self, X: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
        """(mean cross-entropy, accuracy) of the current model on X, y, in eval mode."""
        model, was_training = self.model, self.model.training
        model.eval()
        loss, correct = 0.0, 0
        for i in range(0, len(X), EVAL_BATCH):
            xb, yb = X[i:i + EVAL_BATCH].to(self.device), y[i:i + EVAL_BATCH].to(self.device)
            logits = model(xb).float()
            loss += F.cross_entropy(logits, yb, reduction="sum").item()
            correct += (logits.argmax(1) == yb).sum().item()
        model.train(was_training)
        return loss / len(X), correct / len(X)

    @torch.no_grad()
    def decision_grid(self) -> dict:
        """P(class 1) on a GRID x GRID lattice covering the 2-D data: {"xs", "ys", "p", "at"}."""
        X = torch.cat([self.data.X_train, self.data.X_val])
        lo, hi = X.min(0).values, X.max(0).values
        pad = (hi - lo) * 0.08
        xs = torch.linspace(float(lo[0] - pad[0]), float(hi[0] + pad[0]), GRID)
        ys = torch.linspace(float(lo[1] - pad[1]), float(hi[1] + pad[1]), GRID)
        gx, gy = torch.meshgrid(xs, ys, indexing="xy")                 # (GRID, GRID): rows follow y
        pts = torch.stack([gx.reshape(-1), gy.reshape(-1)], 1).to(self.device)
        model, was_training = self.model, self.model.training
        model.eval()
        probs = torch.softmax(model(pts).float(), 1)[:, 1].reshape(GRID, GRID).cpu()
        model.train(was_training)
        return {"xs": xs.tolist(), "ys": ys.tolist(), "p": probs.nan_to_num(0.5).tolist(), "at": time.time()}

    # ----------------------------------------------------------------- summary
    def result(self) -> dict:
        """The summary the CLI prints last: status, epochs, losses, accuracy, samples/s."""
        snap = self.history.snapshot()
        last = snap["epochs"][-1] if snap["epochs"] else {}
        return {"status": snap["status"], "message": snap["message"], "epochs": len(snap["epochs"]),
                "train_loss": last.get("train_loss"), "train_accuracy": last.get("train_acc"),
                "val_loss": last.get("val_loss"), "val_accuracy": last.get("val_acc"),
                "samples_per_s": round(snap["progress"]["samples_per_s"], 1),
                "steps": snap["progress"]["step"], "time_s": round(snap["progress"]["elapsed_s"], 3),
                "diverged_at": snap["diverged_at"]}
