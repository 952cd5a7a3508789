"""Image augmentation on the fly: random transforms of each training batch, per sample, seeded.

torchvision.transforms.v2 draws one set of random parameters per call, so a batch (B, C, H, W)
passed whole gets the same rotation for every image; a loop of v2 transforms over the samples gives
each its own, but costs far more than the step it feeds. Measured here (2 busy cores, 1 thread,
MNIST CNN of examples/mnist_cnn.yaml, batch 64): a v2 loop over the 64 samples takes 53 ms per batch
for rotate + shift + noise and 160 ms for all seven, against ~20 ms for the whole training step, so
it would make an epoch 3-8x longer. So this module draws per-sample parameters with its own
torch.Generator and applies them to the whole batch at once (1.2 ms and 4.2 ms per batch; the
engine went from ~2,700-3,500 to ~2,100 training samples/s), keeping torchvision's transforms,
names and semantics:

    flip    RandomHorizontalFlip(p=s)                       a per-sample mask
    crop    RandomResizedCrop((H, W), scale=(1 - s, 1))     \\
    shift   RandomAffine(0, translate=(s, s))  (whole px)    > one affine matrix per sample and one
    rotate  RandomRotation(s)                               /  F.grid_sample (bilinear, zero fill)
    jitter  ColorJitter(brightness=s, contrast=s, saturation=s (colour only))   per-sample factors
    noise   GaussianNoise(sigma=s, clip=True)
    erase   RandomErasing(p=s, scale=(0.02, 0.33), ratio=(0.3, 3.3), value=0)   per-sample masks

applied in that order. Departures from torchvision, all in how parameters are drawn, none in what a
transform does with them: rotation and crop resample bilinearly (RandomRotation's default is
nearest); a crop box may sit between pixels, one that would not fit is clamped to the image
(torchvision redraws up to 10 times, then crops the centre), and its edge pixels blend with the
pixels just outside it (torchvision's resize repeats the box's edge); ColorJitter's random order of
brightness / contrast / saturation is fixed to that order and hue is left out; an erased box that
would not fit is clamped (torchvision redraws). Values are clamped to the data's range, [0, 1] for
every image set here, as torchvision clamps float images to [0, 1].

Reproducible: the parameters of step k come from a generator seeded with (run seed, k) on the
batch's device, so a run resumed from a checkpoint draws the same batches as one that never
stopped, and the engine's other generators (data order, dropout) and the global RNG are untouched.

For reconstruction (autoencoders) `pair` splits the result: the target is the batch after the
transforms that make a new, valid image (flip, crop, shift, rotate, jitter); the input is that plus
the corruptions (noise, erasing). With noise or erasing on, an autoencoder becomes a denoising one.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from playground.config import AUGMENTS
from playground.errors import ConfigError

ORDER = ("flip", "crop", "shift", "rotate", "jitter", "noise", "erase")   # the order they apply in
GEOMETRIC = ("crop", "shift", "rotate")
ERASE_SCALE, ERASE_RATIO = (0.02, 0.33), (0.3, 3.3)                         # RandomErasing's defaults
CROP_RATIO = (3 / 4, 4 / 3)                                                 # RandomResizedCrop's default
GREY = (0.2989, 0.587, 0.114)               # torchvision's rgb_to_grayscale weights
SALT = 0x5EED_A06                           # keeps the augmentation stream apart from seed, seed+1, seed+2
assert set(ORDER) == set(AUGMENTS)


def step_seed(seed: int, step: int) -> int:
    """The seed of step `step`'s parameters: (run seed, step) mixed by splitmix64, below 2**63. Mixed,
    not just packed: the CPU generator (mt19937) keeps only the lowest 32 bits of a seed."""
    z = (((seed & 0xFFFF_FFFF) << 32 | (step & 0xFFFF_FFFF)) ^ SALT) + 0x9E37_79B9_7F4A_7C15
    z = ((z ^ (z >> 30)) * 0xBF58_476D_1CE4_E5B9) & 0xFFFF_FFFF_FFFF_FFFF
    z = ((z ^ (z >> 27)) * 0x94D0_49BB_1331_11EB) & 0xFFFF_FFFF_FFFF_FFFF
    return (z ^ (z >> 31)) >> 1


def value_range(X: torch.Tensor) -> tuple[float, float]:
    """The range augmented values are clamped to: [0, 1], widened to the data's own if larger."""
    return min(0.0, float(X.min())), max(1.0, float(X.max()))


class Augment:
    """The transforms of one spec ({name: strength}, see playground.config.AUGMENTS), seeded by the
    run's seed. Strength 0 (or an empty spec) is off; an Augment with nothing on is falsy."""

    def __init__(self, spec: dict, seed: int, bounds: tuple[float, float] = (0.0, 1.0)):
        unknown = sorted(set(spec) - set(ORDER))
        if unknown:
            raise ConfigError(f"data.augment: unknown transform '{unknown[0]}'; pick from {', '.join(ORDER)}")
        self.spec = {k: float(spec[k]) for k in ORDER if spec.get(k)}
        self.seed, self.lo, self.hi = seed, float(bounds[0]), float(bounds[1])
        self._gens: dict = {}

    def __bool__(self) -> bool:
        return bool(self.spec)

    def generator(self, step: int, device) -> torch.Generator:
        device = torch.device(device)
        g = self._gens.get(device)
        if g is None:
            g = self._gens[device] = torch.Generator(device)
        return g.manual_seed(step_seed(self.seed, step))

    def __call__(self, x: torch.Tensor, step: int) -> torch.Tensor:
        """(B, C, H, W) -> (B, C, H, W): every transform of the spec, parameters drawn per sample."""
        return self.pair(x, step)[1]

    def pair(self, x: torch.Tensor, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(clean, input), both (B, C, H, W): clean has the transforms that make a new valid image,
        input adds the corruptions (noise, erasing); the same tensor when there are none."""
        if not self.spec:
            return x, x
        g, s = self.generator(step, x.device), self.spec
        B, C, H, W = x.shape
        dev = x.device
        u = lambda *shape: torch.rand(*shape, generator=g, device=dev)      # noqa: E731 uniform [0, 1)
        if "flip" in s:
            x = hflip(x, u(B) < s["flip"])
        if any(k in s for k in GEOMETRIC):
            m = torch.eye(3, device=dev).expand(B, 3, 3)
            if "crop" in s:
                area = (1 - s["crop"]) + s["crop"] * u(B)                     # share of the area kept
                log_r = math.log(CROP_RATIO[0]) + math.log(CROP_RATIO[1] / CROP_RATIO[0]) * u(B)
                w = torch.sqrt(area * H * W * torch.exp(log_r)).clamp(max=W)    # (B,) box size in pixels
                h = torch.sqrt(area * H * W / torch.exp(log_r)).clamp(max=H)
                cx, cy = (u(B) - 0.5) * (W - w), (u(B) - 0.5) * (H - h)        # box centre, from the image's
                m = m @ crop_matrices(cx, cy, w, h, H, W)
            if "shift" in s:
                tx = ((u(B) * 2 - 1) * s["shift"] * W).round()                 # whole pixels, as RandomAffine
                ty = ((u(B) * 2 - 1) * s["shift"] * H).round()
                m = m @ shift_matrices(tx, ty)
            if "rotate" in s:
                m = m @ rotation_matrices((u(B) * 2 - 1) * s["rotate"])
            x = warp(x, m)
        if "jitter" in s:
            lo_f = max(0.0, 1 - s["jitter"])
            f = lambda: lo_f + (1 + s["jitter"] - lo_f) * u(B)                 # noqa: E731 ColorJitter's range
            x = adjust_brightness(x, f(), self.lo, self.hi)
            x = adjust_contrast(x, f(), self.lo, self.hi)
            if C == 3:
                x = adjust_saturation(x, f(), self.lo, self.hi)
        clean = x
        if "noise" in s:
            x = (x + s["noise"] * torch.randn(x.shape, generator=g, device=dev)).clamp(self.lo, self.hi)
        if "erase" in s:
            x = erase(x, u(B) < s["erase"], u(B), u(B), u(B), u(B))
        return clean, x


# ----------------------------------------------------------------------------- per-sample operations
def hflip(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W), mask (B,) bool -> the masked images mirrored left to right."""
    return torch.where(mask[:, None, None, None], x.flip(-1), x)


def rotation_matrices(degrees: torch.Tensor) -> torch.Tensor:
    """(B,) angles -> (B, 3, 3) maps from an output pixel to the input pixel it shows, in pixel
    coordinates about the centre (x right, y down): torchvision's rotate, counter-clockwise."""
    a = torch.deg2rad(degrees)
    c, s = torch.cos(a), torch.sin(a)
    o, z = torch.ones_like(a), torch.zeros_like(a)
    return torch.stack([c, -s, z, s, c, z, z, z, o], 1).reshape(-1, 3, 3)


def shift_matrices(tx: torch.Tensor, ty: torch.Tensor) -> torch.Tensor:
    """(B,) shifts in pixels (right, down) -> (B, 3, 3): the content moves by (tx, ty)."""
    o, z = torch.ones_like(tx), torch.zeros_like(tx)
    return torch.stack([o, z, -tx, z, o, -ty, z, z, o], 1).reshape(-1, 3, 3)


def crop_matrices(cx, cy, w, h, H: int, W: int) -> torch.Tensor:
    """(B,) boxes (centre from the image's centre, size, in pixels) -> (B, 3, 3): the box resized to
    the whole H x W image (RandomResizedCrop)."""
    z, o = torch.zeros_like(w), torch.ones_like(w)
    return torch.stack([w / W, z, cx, z, h / H, cy, z, z, o], 1).reshape(-1, 3, 3)


def warp(x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W), (B, 3, 3) pixel maps (output -> input, about the centre) -> (B, C, H, W),
    bilinear, zero outside the input."""
    B, C, H, W = x.shape
    scale = torch.tensor([W / 2, H / 2], device=x.device, dtype=m.dtype)
    theta = torch.empty(B, 2, 3, device=x.device, dtype=m.dtype)        # the same map in [-1, 1] coordinates
    theta[:, :, :2] = m[:, :2, :2] * scale[None, None, :] / scale[None, :, None]
    theta[:, :, 2] = m[:, :2, 2] / scale
    theta = theta.to(x.dtype)
    xs = (torch.arange(W, device=x.device, dtype=x.dtype) * 2 + 1) / W - 1      # (W,) pixel centres in [-1, 1]
    ys = (torch.arange(H, device=x.device, dtype=x.dtype) * 2 + 1) / H - 1
    t = theta[:, :, :, None, None]                                      # (B, 2, 3, 1, 1)
    grid = t[:, :, 0] * xs + t[:, :, 1] * ys[:, None] + t[:, :, 2]      # (B, 2, H, W): F.affine_grid's, 3x faster
    grid = grid.permute(0, 2, 3, 1)                                     # (B, H, W, 2)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def rotate(x: torch.Tensor, degrees: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W), (B,) angles -> each image turned counter-clockwise by its angle."""
    return warp(x, rotation_matrices(degrees.to(x.device, torch.float32)))


def grey(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, 1, H, W): torchvision's grayscale for RGB, the mean of the channels else."""
    if x.shape[1] == 3:
        w = torch.tensor(GREY, device=x.device, dtype=x.dtype)
        return (x * w[None, :, None, None]).sum(1, keepdim=True)
    return x.mean(1, keepdim=True)


def adjust_brightness(x, factor, lo=0.0, hi=1.0):
    """(B, C, H, W) x (B,) factors, clamped: torchvision's adjust_brightness per image."""
    return (x * factor[:, None, None, None]).clamp(lo, hi)


def adjust_contrast(x, factor, lo=0.0, hi=1.0):
    """Blend each image with the mean of its grey version: torchvision's adjust_contrast per image."""
    f = factor[:, None, None, None]
    return (f * x + (1 - f) * grey(x).mean((1, 2, 3), keepdim=True)).clamp(lo, hi)


def adjust_saturation(x, factor, lo=0.0, hi=1.0):
    """Blend each RGB image with its grey version: torchvision's adjust_saturation per image."""
    f = factor[:, None, None, None]
    return (f * x + (1 - f) * grey(x)).clamp(lo, hi)


def erase(x, apply, u_area, u_ratio, u_top, u_left, value: float = 0.0):
    """RandomErasing per image: where apply (B,), a box of a share of the area from ERASE_SCALE and an
    aspect ratio from ERASE_RATIO (from the uniforms u_*, each (B,)) is set to value."""
    B, C, H, W = x.shape
    area = (ERASE_SCALE[0] + (ERASE_SCALE[1] - ERASE_SCALE[0]) * u_area) * H * W
    r = torch.exp(math.log(ERASE_RATIO[0]) + math.log(ERASE_RATIO[1] / ERASE_RATIO[0]) * u_ratio)
    h = torch.sqrt(area * r).round().clamp(1, H)
    w = torch.sqrt(area / r).round().clamp(1, W)
    top = (u_top * (H - h + 1)).floor()
    left = (u_left * (W - w + 1)).floor()
    rows = torch.arange(H, device=x.device)[None, :]                    # (1, H)
    cols = torch.arange(W, device=x.device)[None, :]
    in_r = (rows >= top[:, None]) & (rows < (top + h)[:, None])         # (B, H)
    in_c = (cols >= left[:, None]) & (cols < (left + w)[:, None])       # (B, W)
    mask = (in_r[:, :, None] & in_c[:, None, :] & apply[:, None, None])[:, None]     # (B, 1, H, W)
    return x.masked_fill(mask, value)


# ----------------------------------------------------------------------------- engine and page
def make_augment(spec: dict, seed: int, data) -> Augment | None:
    """The run's Augment for its data set, or None when the spec has nothing on. Raises ConfigError
    for a spec on a data set that is not images."""
    if not any((spec or {}).values()):
        return None
    if data.kind != "image" or data.X_train.dim() != 4:
        raise ConfigError(f"data.augment: augmentation transforms images, and '{data.name}' holds {data.kind} "
                          f"data; remove data.augment, or pick an image set (e.g. mnist_subset)")
    return Augment(spec, seed, value_range(data.X_train))


def preview(data, spec: dict, seed: int, draw: int = 0, n: int = 16, label: int | None = None):
    """n training images (of class `label` only, if given) and their augmented versions, for the
    page: (originals, augmented) (n, C, H, W) on the CPU, and the labels (n,). `draw` picks another
    sample of images and parameters. Raises ConfigError as make_augment does."""
    aug = make_augment(spec, seed, data) or Augment({}, seed)
    pool = torch.arange(len(data.y_train)) if label is None else torch.nonzero(data.y_train == label).flatten()
    g = torch.Generator().manual_seed(step_seed(seed, draw) ^ 1)
    idx = pool[torch.randperm(len(pool), generator=g)[:n]]
    x = data.X_train[idx]
    return x, aug(x, draw), data.y_train[idx]
